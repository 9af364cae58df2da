import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { makeNode, makePod, ruleSet } from '../../test/support/builders.js';
import { MIRROR_POD_ANNOTATION } from '../rules/select.js';
import type { Finding } from './findings.js';
import { describeChange, UnknownNodeError, whatIf, type Change } from './whatif.js';

const NO_RULES = ruleSet([]);
const HOST = 'kubernetes.io/hostname';

const node = (name: string, cpu = '4') => makeNode(name).label(HOST, name).allocatable({ cpu, memory: '8Gi', pods: '110' });
const running = (pod: V1Pod, on: string, created = '2026-12-01T00:00:00Z'): V1Pod => ({
  ...pod,
  metadata: { ...pod.metadata, creationTimestamp: created as unknown as Date },
  spec: { ...pod.spec, containers: pod.spec?.containers ?? [], nodeName: on },
  status: { phase: 'Running' },
});
const replica = (name: string, cpu = '500m') =>
  makePod(name)
    .label('app', 'web')
    .label('pod-template-hash', 'h1')
    .ownedBy('ReplicaSet', 'web-h1')
    .container('app', { image: 'x', resources: { requests: { cpu } } });
const pdb = (spec: Record<string, unknown>) => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: { name: 'web', namespace: 'default' },
  spec: { selector: { matchLabels: { app: 'web' } }, ...spec },
});

interface Case {
  name: string;
  nodes: V1Node[];
  pods: V1Pod[];
  changes: Change[];
  pdbs?: unknown[];
  want: Partial<Finding>[];
}

const webRef = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', name });

const cases: Case[] = [
  {
    name: 'drained pods compete for room: the first takes the free cpu, the second stays Pending, and its Deployment loses a replica',
    nodes: [node('n1').v1(), node('n2').v1()],
    pods: [running(replica('web-a', '3').obj(), 'n1', '2026-12-01T00:00:01Z'), running(replica('web-b', '3').obj(), 'n1', '2026-12-01T00:00:02Z')],
    changes: [{ kind: 'drain', node: 'n1' }],
    want: [
      { kind: 'replicas-lost', severity: 'warn', object: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } },
      {
        kind: 'drained',
        severity: 'warn',
        object: webRef('web-b'),
        reschedulable: false,
        rescheduleMessage: '0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.',
      },
      { kind: 'drained', severity: 'info', object: webRef('web-a'), node: 'n1', reschedulable: true, rescheduleNode: 'n2', rule: 'drain n1' },
    ],
  },
  {
    name: 'the queue places higher priority first',
    nodes: [node('n1').v1(), node('n2').v1()],
    pods: [
      running(replica('old', '3').obj(), 'n1', '2026-11-01T00:00:00Z'),
      running(replica('urgent', '3').spec({ priority: 1000 }).obj(), 'n1', '2026-12-01T00:00:00Z'),
    ],
    changes: [{ kind: 'drain', node: 'n1' }],
    want: [
      { kind: 'replicas-lost' },
      { kind: 'drained', object: webRef('old'), reschedulable: false },
      { kind: 'drained', object: webRef('urgent'), reschedulable: true },
    ],
  },
  {
    name: 'a drain leaves DaemonSet and mirror pods where they are',
    nodes: [node('n1').v1(), node('n2').v1()],
    pods: [
      running(makePod('agent').ownedBy('DaemonSet', 'agent').obj(), 'n1'),
      running(makePod('etcd').annotation(MIRROR_POD_ANNOTATION, 'x').obj(), 'n1'),
    ],
    changes: [{ kind: 'drain', node: 'n1' }],
    want: [],
  },
  {
    name: 'a drained pod without a controller is deleted and nothing recreates it',
    nodes: [node('n1').v1(), node('n2').v1()],
    pods: [running(makePod('debug').obj(), 'n1')],
    changes: [{ kind: 'drain', node: 'n1' }],
    want: [{ kind: 'drained', severity: 'warn', reschedulable: false, rescheduleMessage: 'not managed by a controller' }],
  },
  {
    name: 'a budget that allows no disruption stops the drain even when every pod could move',
    nodes: [node('n1').v1(), node('n2').v1()],
    pods: [running(replica('web-a').obj(), 'n1'), running(replica('web-b').obj(), 'n2')],
    changes: [{ kind: 'drain', node: 'n1' }],
    pdbs: [pdb({ minAvailable: 2 })],
    want: [
      { kind: 'pdb', severity: 'fail', rule: 'minAvailable 2', object: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: 'web' } },
      { kind: 'drained', severity: 'info' },
    ],
  },
  {
    name: 'a budget with room for the drain, whose pods all move, is no finding',
    nodes: [node('n1').v1(), node('n2').v1()],
    pods: [running(replica('web-a').obj(), 'n1'), running(replica('web-b').obj(), 'n2')],
    changes: [{ kind: 'drain', node: 'n1' }],
    pdbs: [pdb({ maxUnavailable: 1 })],
    want: [{ kind: 'drained', severity: 'info' }],
  },
  {
    name: 'a budget whose evicted pods cannot come back elsewhere stops the drain',
    nodes: [node('n1').v1(), node('n2', '1').v1()],
    pods: [running(replica('web-a', '3').obj(), 'n1'), running(replica('web-b', '3').obj(), 'n1'), running(replica('web-c', '500m').obj(), 'n2')],
    changes: [{ kind: 'drain', node: 'n1' }],
    pdbs: [pdb({ maxUnavailable: '33%' })],
    want: [{ kind: 'pdb', rule: 'maxUnavailable 33%' }, { kind: 'replicas-lost' }, { kind: 'drained' }, { kind: 'drained' }],
  },
  {
    name: 'a NoExecute taint evicts the pods that do not tolerate it, now or after their tolerationSeconds (whose replacement may land there again)',
    nodes: [node('n1').v1(), node('n2').v1()],
    pods: [
      running(replica('plain').obj(), 'n1'),
      running(replica('patient').toleration({ key: 'maint', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }).obj(), 'n1'),
      running(replica('tolerant').toleration({ key: 'maint', operator: 'Exists' }).obj(), 'n1'),
    ],
    changes: [{ kind: 'taint', node: 'n1', taint: { key: 'maint', effect: 'NoExecute' } }],
    want: [
      {
        kind: 'evicted',
        severity: 'info',
        object: webRef('patient'),
        message: 'taint maint:NoExecute on n1 evicts it after 60 s (its tolerationSeconds); its replacement goes to n1',
      },
      {
        kind: 'evicted',
        severity: 'info',
        object: webRef('plain'),
        message: 'taint maint:NoExecute on n1 evicts it now; its replacement goes to n2',
      },
    ],
  },
  {
    name: "a DaemonSet's pod evicted by a new NoExecute taint is not recreated on that node",
    nodes: [node('n1').v1()],
    pods: [running(makePod('agent').ownedBy('DaemonSet', 'agent').obj(), 'n1')],
    changes: [{ kind: 'taint', node: 'n1', taint: { key: 'maint', effect: 'NoExecute' } }],
    want: [
      { kind: 'replicas-lost', object: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent' } },
      { kind: 'evicted', severity: 'warn', reschedulable: false },
    ],
  },
  {
    name: 'an eviction the cluster already faces is not caused by the change',
    nodes: [node('n1').taint('old', undefined, 'NoExecute').v1(), node('n2').v1()],
    pods: [running(replica('doomed').obj(), 'n1')],
    changes: [{ kind: 'taint', node: 'n1', taint: { key: 'new', effect: 'NoExecute' } }],
    want: [],
  },
  {
    name: "a removed node's pods come back elsewhere; its DaemonSet pods go with it",
    nodes: [node('n1').v1(), node('n2').v1()],
    pods: [running(replica('web-a').obj(), 'n1'), running(makePod('agent').ownedBy('DaemonSet', 'agent').obj(), 'n1')],
    changes: [{ kind: 'remove-node', node: 'n1' }],
    want: [{ kind: 'node-removed', severity: 'info', rescheduleNode: 'n2' }],
  },
  {
    name: 'a displaced pod that no node could ever run after the change fails',
    nodes: [node('n1').label('disk', 'ssd').v1(), node('n2').v1()],
    pods: [running(replica('db').nodeSelector('disk', 'ssd').obj(), 'n1')],
    changes: [{ kind: 'remove-node', node: 'n1' }],
    want: [
      { kind: 'replicas-lost', severity: 'fail' },
      { kind: 'node-removed', severity: 'fail', reschedulable: false },
    ],
  },
  {
    name: 'a relabelled node: the new violation is reported, what was wrong before is not repeated',
    nodes: [node('n1').label('disk', 'ssd').v1(), node('n2').label('disk', 'hdd').v1()],
    pods: [running(makePod('a').nodeSelector('disk', 'ssd').obj(), 'n1'), running(makePod('b').nodeSelector('disk', 'ssd').obj(), 'n2')],
    changes: [{ kind: 'label', node: 'n1', key: 'disk', value: undefined }],
    want: [{ kind: 'node-affinity', severity: 'fail', object: { apiVersion: 'v1', kind: 'Pod', name: 'a' }, reschedulable: false }],
  },
  {
    name: 'new rules: the pods they would now mutate, and only those',
    nodes: [node('n1').label('pool', 'a').v1()],
    pods: [running(makePod('batch').label('tier', 'batch').obj(), 'n1'), running(makePod('web').label('tier', 'web').obj(), 'n1')],
    changes: [
      {
        kind: 'rules-after',
        rules: ruleSet([{ name: 'batch-pool', match: { podSelector: { matchLabels: { tier: 'batch' } } }, inject: { nodeSelector: { pool: 'a' } } }]),
      },
    ],
    want: [{ kind: 'drift', object: { apiVersion: 'v1', kind: 'Pod', name: 'batch' }, rule: 'batch-pool' }],
  },
  {
    name: 'a cordon only adds informational findings',
    nodes: [node('n1').v1(), node('n2').v1()],
    pods: [running(replica('web-a').obj(), 'n1')],
    changes: [{ kind: 'cordon', node: 'n1' }],
    want: [{ kind: 'noschedule-taint', severity: 'info' }],
  },
];

describe('whatIf', () => {
  it.each(cases)('$name', ({ nodes, pods, changes, pdbs, want }) => {
    const { findings } = whatIf({ nodes, pods, rules: NO_RULES, changes, ...(pdbs ? { pdbs } : {}) });
    expect(findings.map((f) => `${f.kind}/${f.object.name}`)).toHaveLength(want.length);
    want.forEach((w, i) => expect(findings[i]).toMatchObject(w));
  });

  it('covers every what-if finding kind in its table', () => {
    const seen = new Set(cases.flatMap((c) => c.want.map((w) => w.kind)));
    expect((['drained', 'evicted', 'node-removed', 'pdb', 'replicas-lost'] as const).filter((k) => !seen.has(k))).toEqual([]);
  });

  it('drift whose patch the new rules change is new; the same drift before and after is not', () => {
    const rule = (value: string) =>
      ruleSet([{ name: 'pool', match: { podSelector: { matchLabels: { tier: 'batch' } } }, inject: { nodeSelector: { pool: value } } }]);
    const pods = [running(makePod('batch').label('tier', 'batch').obj(), 'n1')];
    const nodes = [node('n1').v1()];
    expect(whatIf({ nodes, pods, rules: rule('a'), changes: [{ kind: 'rules-after', rules: rule('a') }] }).findings).toEqual([]);
    expect(whatIf({ nodes, pods, rules: rule('a'), changes: [{ kind: 'rules-after', rules: rule('b') }] }).findings.map((f) => f.kind)).toEqual([
      'drift',
    ]);
  });

  it('refuses a change to a node the cluster does not have, or a taint it does not carry', () => {
    const nodes = [node('n1').v1()];
    expect(() => whatIf({ nodes, pods: [], rules: NO_RULES, changes: [{ kind: 'drain', node: 'n9' }] })).toThrow(
      new UnknownNodeError('drain n9: no node "n9"'),
    );
    expect(() =>
      whatIf({ nodes, pods: [], rules: NO_RULES, changes: [{ kind: 'taint', node: 'n1', taint: { key: 'x', effect: '' }, remove: true }] }),
    ).toThrow(UnknownNodeError);
  });

  it('never changes its inputs', () => {
    const nodes = [node('n1').v1(), node('n2').v1()];
    const pods = [running(replica('web-a').obj(), 'n1')];
    const copy = structuredClone({ nodes, pods });
    whatIf({
      nodes,
      pods,
      rules: NO_RULES,
      changes: [
        { kind: 'drain', node: 'n1' },
        { kind: 'label', node: 'n2', key: 'x', value: 'y' },
      ],
    });
    expect({ nodes, pods }).toEqual(copy);
  });

  it.each<[Change, string]>([
    [{ kind: 'drain', node: 'n1' }, 'drain n1'],
    [{ kind: 'taint', node: 'n1', taint: { key: 'k', value: 'v', effect: 'NoExecute' } }, 'taint n1 k=v:NoExecute'],
    [{ kind: 'taint', node: 'n1', taint: { key: 'k', effect: '' }, remove: true }, 'remove taint k from n1'],
    [{ kind: 'label', node: 'n1', key: 'k', value: undefined }, 'remove label k from n1'],
    [{ kind: 'remove-node', node: 'n1' }, 'remove node n1'],
  ])('describes %j as "%s"', (change, want) => {
    expect(describeChange(change)).toBe(want);
  });
});

describe('whatIf and workloads', () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [{ name: 'a', image: 'x' }],
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: HOST }],
            },
          },
        },
      },
    },
  };

  it('a workload that can place fewer replicas after the change than before is new, though it was short before', () => {
    const nodes = [node('n1').v1(), node('n2').v1()];
    const { findings } = whatIf({
      nodes,
      pods: [],
      rules: NO_RULES,
      workloads: [deployment],
      changes: [{ kind: 'taint', node: 'n2', taint: { key: 'x', effect: 'NoSchedule' } }],
    });
    expect(findings.map((f) => [f.kind, f.message])).toEqual([
      ['replicas', `3 replicas, but at most 1 can be placed (required anti-affinity on ${HOST}; 1 node can run its pods): 2 stay Pending`],
    ]);
  });
});

describe('replicas-lost says which constraint keeps the pods off the open nodes', () => {
  const anti = {
    podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: HOST }] },
  };
  it('after draining a node, a self anti-affine replica has nowhere to go', () => {
    const nodes = [node('n1').v1(), node('n2').v1(), node('n3').taint('gpu', 'true', 'NoSchedule').v1()];
    const pods = [running(replica('web-a').spec({ affinity: anti }).obj(), 'n1'), running(replica('web-b').spec({ affinity: anti }).obj(), 'n2')];
    const lost = whatIf({ nodes, pods, rules: NO_RULES, changes: [{ kind: 'drain', node: 'n1' }] }).findings.find((f) => f.kind === 'replicas-lost');
    expect(lost?.message).toBe(
      "after draining n1, 1 replica of Deployment web cannot be rescheduled (required anti-affinity on kubernetes.io/hostname): 0/3 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 1 node(s) had untolerated taint {gpu: true}, 1 node(s) were unschedulable.",
    );
  });
});
