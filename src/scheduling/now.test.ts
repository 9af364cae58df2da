import type { V1Pod, V1PodAffinityTerm, V1TopologySpreadConstraint } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeNode, makePod, type NodeBuilder, type PodBuilder } from '../../test/support/builders.js';
import { podConstraints } from './feasibility.js';
import { NodeIndex } from './node-index.js';
import { evaluateNow, podAwareConstraints, type NowVerdict } from './now.js';
import { PodIndex, PodReader } from './pods.js';
import type { Labels } from './types.js';

const ZONE = 'topology.kubernetes.io/zone';
const HOST = 'kubernetes.io/hostname';

const node = (name: string, zone?: string): NodeBuilder => {
  const b = makeNode(name).label(HOST, name).allocatable({ cpu: '4', memory: '8Gi', pods: '10' });
  return zone === undefined ? b : b.label(ZONE, zone);
};
const placed = (name: string, nodeName: string, labels: Record<string, string>, extra: Partial<V1Pod['spec']> = {}, ns = 'default'): V1Pod => {
  let b: PodBuilder = makePod(name).ns(ns);
  for (const [k, v] of Object.entries(labels)) b = b.label(k, v);
  return b.spec({ nodeName, ...extra }).obj();
};
const anti = (labels: Record<string, string>, topologyKey = HOST, extra: Partial<V1PodAffinityTerm> = {}): V1PodAffinityTerm => ({
  labelSelector: { matchLabels: labels },
  topologyKey,
  ...extra,
});
const withAnti = (...terms: V1PodAffinityTerm[]) => ({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } } });
const withAffinity = (...terms: V1PodAffinityTerm[]) => ({ affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: terms } } });
const spread = (c: Partial<V1TopologySpreadConstraint> & { labels: Record<string, string> }): Partial<V1Pod['spec']> => ({
  topologySpreadConstraints: [
    {
      maxSkew: 1,
      topologyKey: ZONE,
      whenUnsatisfiable: 'DoNotSchedule',
      labelSelector: { matchLabels: c.labels },
      ...c,
      labels: undefined,
    } as unknown as V1TopologySpreadConstraint,
  ],
});

function judge(incoming: V1Pod, nodes: NodeBuilder[], existing: V1Pod[], nsLabels: Record<string, Labels> = {}): NowVerdict {
  const index = new NodeIndex(nodes.map((n) => n.obj()));
  const pods = new PodIndex();
  const reader = new PodReader();
  for (const p of existing) {
    const r = reader.read(p);
    if (r) pods.upsert(r);
  }
  const ns = incoming.metadata?.namespace ?? 'default';
  return evaluateNow(podConstraints(incoming), podAwareConstraints(incoming, ns), index, { index: pods, namespaceLabels: (n) => nsLabels[n] ?? {} });
}
const summary = (v: NowVerdict) => (v.kind === 'no-fit' ? v.message : v.kind);

describe('evaluateNow: the pod-aware filters', () => {
  it.each<{ name: string; pod: V1Pod; nodes: NodeBuilder[]; pods: V1Pod[]; want: string; nsLabels?: Record<string, Labels> }>([
    // --- InterPodAffinity: anti-affinity
    {
      name: 'required anti-affinity on hostname against a pod on each node: no node',
      pod: placed('web-3', '', { app: 'web' }, withAnti(anti({ app: 'web' }))),
      nodes: [node('n1'), node('n2')],
      pods: [placed('web-1', 'n1', { app: 'web' }), placed('web-2', 'n2', { app: 'web' })],
      want: "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.",
    },
    {
      name: 'required anti-affinity: the node without a matching pod fits',
      pod: placed('web-3', '', { app: 'web' }, withAnti(anti({ app: 'web' }))),
      nodes: [node('n1'), node('n2')],
      pods: [placed('web-1', 'n1', { app: 'web' })],
      want: 'fits',
    },
    {
      name: 'anti-affinity on zone: a matching pod blocks every node of its zone',
      pod: placed('c', '', { app: 'consumer' }, withAnti(anti({ app: 'producer' }, ZONE))),
      nodes: [node('a1', 'a'), node('a2', 'a'), node('b1', 'b')],
      pods: [placed('p', 'a1', { app: 'producer' }), placed('q', 'b1', { app: 'producer' })],
      want: "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.",
    },
    {
      name: 'a node without the topology key never conflicts for anti-affinity',
      pod: placed('c', '', { app: 'consumer' }, withAnti(anti({ app: 'producer' }, ZONE))),
      nodes: [node('a1', 'a'), node('nozone')],
      pods: [placed('p', 'a1', { app: 'producer' }), placed('q', 'nozone', { app: 'producer' })],
      want: 'fits',
    },
    {
      name: "anti-affinity looks at the term's namespaces only (own namespace by default)",
      pod: placed('c', '', { app: 'web' }, withAnti(anti({ app: 'web' })), 'shop'),
      nodes: [node('n1')],
      pods: [placed('w', 'n1', { app: 'web' }, {}, 'other')],
      want: 'fits',
    },
    {
      name: 'namespaces listed in the term are looked at',
      pod: placed('c', '', { app: 'web' }, withAnti(anti({ app: 'web' }, HOST, { namespaces: ['other'] })), 'shop'),
      nodes: [node('n1')],
      pods: [placed('w', 'n1', { app: 'web' }, {}, 'other')],
      want: "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.",
    },
    {
      name: 'a namespaceSelector selects namespaces by their labels (ORed with the list)',
      pod: placed('c', '', { app: 'web' }, withAnti(anti({ app: 'web' }, HOST, { namespaceSelector: { matchLabels: { team: 'a' } } })), 'shop'),
      nodes: [node('n1'), node('n2')],
      pods: [placed('w', 'n1', { app: 'web' }, {}, 'team-a'), placed('x', 'n2', { app: 'web' }, {}, 'shop')],
      nsLabels: { 'team-a': { team: 'a' } },
      want: 'fits', // a namespaceSelector with no namespaces list does not include the pod's own namespace
    },
    {
      name: 'namespaceSelector {} means every namespace',
      pod: placed('c', '', { app: 'web' }, withAnti(anti({ app: 'web' }, HOST, { namespaceSelector: {} })), 'shop'),
      nodes: [node('n1')],
      pods: [placed('w', 'n1', { app: 'web' }, {}, 'elsewhere')],
      want: "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.",
    },
    {
      name: 'a term without a labelSelector matches no pod',
      pod: placed('c', '', { app: 'web' }, withAnti({ topologyKey: HOST })),
      nodes: [node('n1')],
      pods: [placed('w', 'n1', { app: 'web' })],
      want: 'fits',
    },
    // --- InterPodAffinity: existing pods' anti-affinity
    {
      name: "an existing pod's required anti-affinity keeps the incoming pod off its node",
      pod: placed('c', '', { app: 'consumer' }),
      nodes: [node('n1'), node('n2')],
      pods: [
        placed('p1', 'n1', { app: 'producer' }, withAnti(anti({ app: 'consumer' }))),
        placed('p2', 'n2', { app: 'producer' }, withAnti(anti({ app: 'consumer' }))),
      ],
      want: "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules.",
    },
    {
      name: "existing pods' anti-affinity is in their own namespace by default",
      pod: placed('c', '', { app: 'consumer' }, {}, 'other'),
      nodes: [node('n1')],
      pods: [placed('p1', 'n1', { app: 'producer' }, withAnti(anti({ app: 'consumer' })))],
      want: 'fits',
    },
    // --- InterPodAffinity: affinity
    {
      name: 'required affinity: only the domain of a matching pod',
      pod: placed('c', '', { app: 'cache' }, withAffinity(anti({ app: 'db' }, ZONE))),
      nodes: [node('a1', 'a'), node('b1', 'b'), node('b2', 'b')],
      pods: [placed('db', 'a1', { app: 'db' }), placed('x', 'b1', { app: 'other' })],
      want: 'fits',
    },
    {
      name: 'required affinity with a matching pod only in a zone that is full elsewhere: counted under affinity',
      pod: placed('c', '', { app: 'cache' }, withAffinity(anti({ app: 'db' }, ZONE))),
      nodes: [node('a1', 'a').taint('k', 'v', 'NoSchedule'), node('b1', 'b')],
      pods: [placed('db', 'a1', { app: 'db' })],
      want: "0/2 nodes are available: 1 node(s) didn't match pod affinity rules, 1 node(s) had untolerated taint {k: v}.",
    },
    {
      name: 'the first of a self-affine group may go to any node with the key',
      pod: placed('web-0', '', { app: 'web' }, withAffinity(anti({ app: 'web' }, ZONE))),
      nodes: [node('a1', 'a'), node('nozone')],
      pods: [],
      want: 'fits',
    },
    {
      name: 'but not to a node without the key',
      pod: placed('web-0', '', { app: 'web' }, withAffinity(anti({ app: 'web' }, ZONE))),
      nodes: [node('nozone')],
      pods: [],
      want: "0/1 nodes are available: 1 node(s) didn't match pod affinity rules.",
    },
    {
      name: 'affinity to pods that match nothing, not even itself: no node',
      pod: placed('c', '', { app: 'cache' }, withAffinity(anti({ app: 'db' }, ZONE))),
      nodes: [node('a1', 'a')],
      pods: [],
      want: "0/1 nodes are available: 1 node(s) didn't match pod affinity rules.",
    },
    // --- PodTopologySpread
    {
      name: 'spread maxSkew 1 over two zones with 2 and 1 pods: only the lighter zone',
      pod: placed('w', '', { app: 'web' }, spread({ labels: { app: 'web' } })),
      nodes: [node('a1', 'a'), node('b1', 'b')],
      pods: [placed('w1', 'a1', { app: 'web' }), placed('w2', 'a1', { app: 'web' }), placed('w3', 'b1', { app: 'web' })],
      want: 'fits',
    },
    {
      name: 'spread: the heavier zone fails on skew (a cordoned node is still a domain)',
      pod: placed('w', '', { app: 'web' }, spread({ labels: { app: 'web' } })),
      nodes: [node('a1', 'a'), node('b1', 'b').unschedulable()],
      pods: [placed('w1', 'a1', { app: 'web' }), placed('w3', 'b1', { app: 'web' }), placed('w2', 'a1', { app: 'web' })],
      want: "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) were unschedulable.",
    },
    {
      name: 'spread with nodeAffinityPolicy Honor: a nodeSelector leaves one domain, whose count is the minimum',
      pod: placed('w', '', { app: 'web' }, { ...spread({ labels: { app: 'web' } }), nodeSelector: { [ZONE]: 'a' } }),
      nodes: [node('a1', 'a'), node('b1', 'b')],
      pods: [placed('w1', 'a1', { app: 'web' }), placed('w2', 'a1', { app: 'web' })],
      want: 'fits',
    },
    {
      name: 'spread over a label no node has: every node misses the required label',
      pod: placed('w', '', { app: 'web' }, spread({ labels: { app: 'web' }, topologyKey: 'rack' })),
      nodes: [node('a1', 'a'), node('b1', 'b')],
      pods: [],
      want: "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints (missing required label).",
    },
    {
      name: 'pods being deleted do not count for spread',
      pod: placed('w', '', { app: 'web' }, { ...spread({ labels: { app: 'web' } }), nodeSelector: { [ZONE]: 'a' } }),
      nodes: [node('a1', 'a'), node('b1', 'b')],
      pods: [
        {
          ...placed('w1', 'a1', { app: 'web' }),
          metadata: { name: 'w1', namespace: 'default', labels: { app: 'web' }, deletionTimestamp: '2026-01-01T00:00:00Z' as unknown as Date },
        },
      ],
      want: 'fits',
    },
    {
      name: 'minDomains above the domains there are: the global minimum is 0',
      pod: placed('w', '', { app: 'web' }, spread({ labels: { app: 'web' }, minDomains: 3 })),
      nodes: [node('a1', 'a'), node('b1', 'b')],
      pods: [placed('w1', 'a1', { app: 'web' }), placed('w2', 'b1', { app: 'web' })],
      want: "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints.",
    },
    {
      name: 'nodeAffinityPolicy Honor: nodes outside the pod selector are no domains (and their pods do not count)',
      pod: placed('w', '', { app: 'web' }, { ...spread({ labels: { app: 'web' } }), nodeSelector: { pool: 'x' } }),
      nodes: [node('a1', 'a').label('pool', 'x'), node('b1', 'b')],
      pods: [placed('w1', 'a1', { app: 'web' }), placed('w2', 'b1', { app: 'web' })],
      want: 'fits',
    },
    {
      name: 'nodeAffinityPolicy Ignore: they are domains',
      pod: placed('w', '', { app: 'web' }, { ...spread({ labels: { app: 'web' }, nodeAffinityPolicy: 'Ignore' }), nodeSelector: { pool: 'x' } }),
      nodes: [node('a1', 'a').label('pool', 'x'), node('b1', 'b')],
      pods: [placed('w1', 'a1', { app: 'web' })],
      want: "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't match pod topology spread constraints.",
    },
    {
      name: 'nodeTaintsPolicy Honor: a tainted node is no domain',
      pod: placed('w', '', { app: 'web' }, spread({ labels: { app: 'web' }, nodeTaintsPolicy: 'Honor' })),
      nodes: [node('a1', 'a'), node('b1', 'b').taint('k', 'v', 'NoSchedule')],
      pods: [placed('w1', 'a1', { app: 'web' })],
      want: 'fits',
    },
    {
      name: 'nodeTaintsPolicy Ignore (default): the empty tainted zone is the minimum',
      pod: placed('w', '', { app: 'web' }, spread({ labels: { app: 'web' } })),
      nodes: [node('a1', 'a'), node('b1', 'b').taint('k', 'v', 'NoSchedule')],
      pods: [placed('w1', 'a1', { app: 'web' })],
      want: "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) had untolerated taint {k: v}.",
    },
    {
      name: 'matchLabelKeys narrows the selector to the pod’s own value',
      pod: placed('w', '', { app: 'web', rev: '2' }, spread({ labels: { app: 'web' }, matchLabelKeys: ['rev'] })),
      nodes: [node('a1', 'a'), node('b1', 'b')],
      pods: [placed('w1', 'a1', { app: 'web', rev: '1' }), placed('w2', 'a1', { app: 'web', rev: '1' })],
      want: 'fits',
    },
    // --- NodePorts
    {
      name: 'a host port used on the node (0.0.0.0) conflicts',
      pod: makePod('p')
        .container('c', { ports: [{ containerPort: 80, hostPort: 8080 }] })
        .obj(),
      nodes: [node('n1')],
      pods: [
        makePod('q')
          .container('c', { ports: [{ containerPort: 80, hostPort: 8080, hostIP: '10.0.0.1' }] })
          .spec({ nodeName: 'n1' })
          .obj(),
      ],
      want: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
    },
    {
      name: 'two specific addresses do not conflict, nor TCP and UDP',
      pod: makePod('p')
        .container('c', {
          ports: [
            { containerPort: 80, hostPort: 8080, hostIP: '10.0.0.2' },
            { containerPort: 53, hostPort: 53, protocol: 'UDP' },
          ],
        })
        .obj(),
      nodes: [node('n1')],
      pods: [
        makePod('q')
          .container('c', {
            ports: [
              { containerPort: 80, hostPort: 8080, hostIP: '10.0.0.1' },
              { containerPort: 53, hostPort: 53 },
            ],
          })
          .spec({ nodeName: 'n1' })
          .obj(),
      ],
      want: 'fits',
    },
    {
      name: 'a hostNetwork pod holds its container ports',
      pod: makePod('p')
        .container('c', { ports: [{ containerPort: 9100 }] })
        .spec({ hostNetwork: true })
        .obj(),
      nodes: [node('n1')],
      pods: [
        makePod('q')
          .container('c', { ports: [{ containerPort: 9100, hostPort: 9100 }] })
          .spec({ nodeName: 'n1', hostNetwork: true })
          .obj(),
      ],
      want: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
    },
    // --- NodeResourcesFit on free capacity
    {
      name: 'free capacity: a node whose pods use 3 of 4 cpus has no room for 2',
      pod: makePod('p')
        .container('c', { resources: { requests: { cpu: '2' } } })
        .obj(),
      nodes: [node('n1')],
      pods: [
        makePod('q')
          .container('c', { resources: { requests: { cpu: '3' } } })
          .spec({ nodeName: 'n1' })
          .obj(),
      ],
      want: '0/1 nodes are available: 1 Insufficient cpu.',
    },
    {
      name: 'a full node: too many pods',
      pod: makePod('p').obj(),
      nodes: [node('n1').allocatable({ pods: '1' })],
      pods: [makePod('q').spec({ nodeName: 'n1' }).obj()],
      want: '0/1 nodes are available: 1 Too many pods.',
    },
    {
      name: 'finished pods (Succeeded, Failed) take no room',
      pod: makePod('p')
        .container('c', { resources: { requests: { cpu: '2' } } })
        .obj(),
      nodes: [node('n1')],
      pods: [
        {
          ...makePod('q')
            .container('c', { resources: { requests: { cpu: '3' } } })
            .spec({ nodeName: 'n1' })
            .obj(),
          status: { phase: 'Succeeded' },
        },
      ],
      want: 'fits',
    },
    {
      name: 'pods being deleted still take room',
      pod: makePod('p')
        .container('c', { resources: { requests: { cpu: '2' } } })
        .obj(),
      nodes: [node('n1')],
      pods: [
        {
          ...makePod('q')
            .container('c', { resources: { requests: { cpu: '3' } } })
            .spec({ nodeName: 'n1' })
            .obj(),
          metadata: { name: 'q', namespace: 'default', deletionTimestamp: '2026-01-01T00:00:00Z' as unknown as Date },
        },
      ],
      want: '0/1 nodes are available: 1 Insufficient cpu.',
    },
    {
      name: 'pods bound to a node that does not exist are seen by no filter',
      pod: placed('web-3', '', { app: 'web' }, withAnti(anti({ app: 'web' }))),
      nodes: [node('n1')],
      pods: [placed('web-1', 'ghost', { app: 'web' })],
      want: 'fits',
    },
    // --- order
    {
      name: 'each node counts under its first failing filter: ports before resources before spread before affinity',
      pod: placed('w', '', { app: 'web' }, { ...withAnti(anti({ app: 'web' })) }),
      nodes: [node('n1'), node('n2').allocatable({ pods: '1' }), node('n3').unschedulable()],
      pods: [placed('w1', 'n1', { app: 'web' }), placed('w2', 'n2', { app: 'web' })],
      want: "0/3 nodes are available: 1 Too many pods, 1 node(s) didn't match pod anti-affinity rules, 1 node(s) were unschedulable.",
    },
  ])('$name', ({ pod, nodes, pods, want, nsLabels }) => {
    expect(summary(judge(pod, nodes, pods, nsLabels))).toBe(want);
  });

  it('a node without the topology key: its pods count for no domain; in the 1.20 profile, for the domain of the empty value', () => {
    // n0 has zone "", n1 no zone and two matching pods, n2 zone a but cordoned (a domain, not a candidate).
    const nodes = [node('n0', ''), node('n1'), node('n2', 'a').unschedulable()];
    const existing = [placed('w1', 'n1', { app: 'web' }), placed('w2', 'n1', { app: 'web' })];
    const incoming = placed('w', '', { app: 'web' }, spread({ labels: { app: 'web' } }));
    const index = new NodeIndex(nodes.map((n) => n.obj()));
    const pods = new PodIndex();
    const reader = new PodReader();
    for (const p of existing) pods.upsert(reader.read(p)!);
    const view = { index: pods, namespaceLabels: () => ({}) };
    const run = (profile: 'current' | 'v1.20') =>
      summary(evaluateNow(podConstraints(incoming), podAwareConstraints(incoming, 'default'), index, view, profile));
    expect(run('current')).toBe('fits');
    expect(run('v1.20')).toBe(
      "0/3 nodes are available: 1 node(s) didn't match pod topology spread constraints, 1 node(s) didn't match pod topology spread constraints (missing required label), 1 node(s) were unschedulable.",
    );
  });

  it('counts nodes preemption might free: a resolvable failure and lower-priority pods there', () => {
    const existing = [
      makePod('low')
        .container('c', { resources: { requests: { cpu: '3' } } })
        .spec({ nodeName: 'n1', priority: 0 })
        .obj(),
    ];
    const high = makePod('p')
      .container('c', { resources: { requests: { cpu: '2' } } })
      .spec({ priority: 1000 })
      .obj();
    const low = makePod('p')
      .container('c', { resources: { requests: { cpu: '2' } } })
      .spec({ priority: 0 })
      .obj();
    const vHigh = judge(high, [node('n1')], existing);
    const vLow = judge(low, [node('n1')], existing);
    expect(vHigh.kind === 'no-fit' && vHigh.preemptible).toBe(1);
    expect(vLow.kind === 'no-fit' && vLow.preemptible).toBe(0);
  });
});

// ---- property: the index against a per-node, per-pod oracle ------------------------------------------------------

/** The scheduler's pod-aware filters written out plainly, node by node and pod by pod: the definition. */
function oracle(
  incoming: {
    ns: string;
    labels: Labels;
    anti: { labels: Labels; key: string }[];
    aff: { labels: Labels; key: string }[];
    spread: { labels: Labels; key: string; maxSkew: number }[];
    cpu: number;
  },
  nodes: { name: string; labels: Labels; cpu: number; pods: number }[],
  pods: { ns: string; labels: Labels; node: string; cpu: number; anti: { labels: Labels; key: string }[] }[],
): string {
  const matches = (sel: Labels, labels: Labels) => Object.entries(sel).every(([k, v]) => labels[k] === v);
  const nodeOf = (name: string) => nodes.find((n) => n.name === name);
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const on = pods.filter((p) => p.node === n.name);
    let why: string | undefined;
    const used = on.reduce((s, p) => s + p.cpu, 0);
    // NodeResourcesFit reports every resource that is short.
    const short = [
      ...(on.length + 1 > n.pods ? ['Too many pods'] : []),
      ...(incoming.cpu > 0 && incoming.cpu > n.cpu - used ? ['Insufficient cpu'] : []),
    ];
    if (short.length > 0) {
      for (const r of short) counts.set(r, (counts.get(r) ?? 0) + 1);
      continue;
    }
    if (!why) {
      for (const c of incoming.spread) {
        if (!(c.key in n.labels)) {
          why = "node(s) didn't match pod topology spread constraints (missing required label)";
          break;
        }
        const domains = new Map<string, number>();
        for (const m of nodes) if (c.key in m.labels && incoming.spread.every((o) => o.key in m.labels)) domains.set(m.labels[c.key] as string, 0);
        for (const p of pods) {
          const pn = nodeOf(p.node);
          if (!pn || p.ns !== incoming.ns || !matches(c.labels, p.labels) || !incoming.spread.every((o) => o.key in pn.labels)) continue;
          const v = pn.labels[c.key] as string;
          if (domains.has(v)) domains.set(v, (domains.get(v) ?? 0) + 1);
        }
        const min = Math.min(...domains.values());
        const self = matches(c.labels, incoming.labels) ? 1 : 0;
        if ((domains.get(n.labels[c.key] as string) ?? 0) + self - min > c.maxSkew) {
          why = "node(s) didn't match pod topology spread constraints";
          break;
        }
      }
    }
    if (!why && incoming.aff.length > 0) {
      const all = pods.filter((p) => nodeOf(p.node) && p.ns === incoming.ns && incoming.aff.every((t) => matches(t.labels, p.labels)));
      let ok = true;
      let exist = true;
      for (const t of incoming.aff) {
        if (!(t.key in n.labels)) ok = false;
        else if (!all.some((p) => nodeOf(p.node)?.labels[t.key] === n.labels[t.key])) exist = false;
      }
      const anyMatch = all.some((p) => incoming.aff.some((t) => t.key in (nodeOf(p.node)?.labels ?? {})));
      if (!ok || (!exist && (anyMatch || !incoming.aff.every((t) => matches(t.labels, incoming.labels)))))
        why = "node(s) didn't match pod affinity rules";
    }
    if (!why) {
      for (const t of incoming.anti) {
        if (!(t.key in n.labels)) continue;
        if (pods.some((p) => p.ns === incoming.ns && matches(t.labels, p.labels) && nodeOf(p.node)?.labels[t.key] === n.labels[t.key]))
          why = "node(s) didn't match pod anti-affinity rules";
      }
    }
    if (!why) {
      for (const p of pods) {
        const pn = nodeOf(p.node);
        if (!pn || p.ns !== incoming.ns) continue;
        for (const t of p.anti)
          if (t.key in pn.labels && matches(t.labels, incoming.labels) && n.labels[t.key] === pn.labels[t.key])
            why = "node(s) didn't satisfy existing pods anti-affinity rules";
      }
    }
    if (!why) return 'fits';
    counts.set(why, (counts.get(why) ?? 0) + 1);
  }
  return `0/${nodes.length} nodes are available: ${[...counts]
    .map(([r, n]) => `${n} ${r}`)
    .sort()
    .join(', ')}.`;
}

describe('evaluateNow against the oracle', () => {
  const label = fc.constantFrom('web', 'db', 'cache');
  const key = fc.constantFrom(HOST, ZONE, 'rack');
  const term = fc.record({ labels: fc.record({ app: label }), key });
  it('agrees on random nodes, pods and incoming pods', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            zone: fc.constantFrom('a', 'b', 'c', undefined),
            rack: fc.constantFrom('r1', 'r2', undefined),
            cpu: fc.integer({ min: 1, max: 4 }),
            pods: fc.integer({ min: 1, max: 4 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.array(
          fc.record({
            node: fc.nat(7),
            app: label,
            ns: fc.constantFrom('default', 'other'),
            cpu: fc.integer({ min: 0, max: 2 }),
            anti: fc.array(term, { maxLength: 1 }),
          }),
          { maxLength: 10 },
        ),
        fc.record({
          app: label,
          cpu: fc.integer({ min: 0, max: 3 }),
          anti: fc.array(term, { maxLength: 2 }),
          aff: fc.array(term, { maxLength: 2 }),
          spread: fc.array(fc.record({ labels: fc.record({ app: label }), key, maxSkew: fc.integer({ min: 1, max: 2 }) }), { maxLength: 2 }),
        }),
        (nodeShapes, podShapes, inc) => {
          const nodes = nodeShapes.map((n, i) => ({
            name: `n${i}`,
            labels: { [HOST]: `n${i}`, ...(n.zone ? { [ZONE]: n.zone } : {}), ...(n.rack ? { rack: n.rack } : {}) },
            cpu: n.cpu,
            pods: n.pods,
          }));
          const pods = podShapes.map((p) => ({ ns: p.ns, labels: { app: p.app }, node: `n${p.node}`, cpu: p.cpu, anti: p.anti }));
          const dedupKeys = <T extends { key: string }>(xs: T[]) => xs.filter((x, i) => xs.findIndex((y) => y.key === x.key) === i);
          const incoming = { ns: 'default', labels: { app: inc.app }, anti: inc.anti, aff: inc.aff, spread: dedupKeys(inc.spread), cpu: inc.cpu };
          const builders = nodes.map((n) => {
            let b = makeNode(n.name).allocatable({ cpu: String(n.cpu), pods: String(n.pods) });
            for (const [k, v] of Object.entries(n.labels)) b = b.label(k, v);
            return b;
          });
          const v1 = pods.map((p, i) =>
            makePod(`p${i}`)
              .ns(p.ns)
              .label('app', p.labels.app as string)
              .container('c', { resources: { requests: { cpu: String(p.cpu) } } })
              .spec({ nodeName: p.node, ...(p.anti.length > 0 ? withAnti(...p.anti.map((t) => anti(t.labels, t.key))) : {}) })
              .obj(),
          );
          const pod = makePod('incoming')
            .label('app', inc.app)
            .container('c', { resources: { requests: { cpu: String(inc.cpu) } } })
            .spec({
              ...(incoming.anti.length + incoming.aff.length > 0
                ? {
                    affinity: {
                      ...(incoming.anti.length > 0
                        ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: incoming.anti.map((t) => anti(t.labels, t.key)) } }
                        : {}),
                      ...(incoming.aff.length > 0
                        ? { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: incoming.aff.map((t) => anti(t.labels, t.key)) } }
                        : {}),
                    },
                  }
                : {}),
              ...(incoming.spread.length > 0
                ? {
                    topologySpreadConstraints: incoming.spread.map((s) => ({
                      maxSkew: s.maxSkew,
                      topologyKey: s.key,
                      whenUnsatisfiable: 'DoNotSchedule',
                      labelSelector: { matchLabels: s.labels },
                    })),
                  }
                : {}),
            })
            .obj();
          expect(summary(judge(pod, builders, v1))).toBe(oracle(incoming, nodes, pods));
        },
      ),
      { numRuns: 500 },
    );
  });
});
