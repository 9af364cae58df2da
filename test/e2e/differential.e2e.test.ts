/**
 * Differential test: our feasibility verdicts against the real kube-scheduler's. Random nodes and pods (seeded, so a
 * failure can be replayed with PLACEMENT_WEBHOOK_DIFF_SEED), each pod created alone and left to the scheduler: bound
 * means feasible, PodScheduled=False/Unschedulable means not. Every disagreement is listed; agreement must be total.
 *
 * Condition taints are left out: the 1.20 scheduler treats them as ordinary taints, while we deliberately treat
 * them as transient (allow with a warning). Messages are not compared: 1.20 runs its filters in another order and
 * words the taint reason differently; the verdict is what must agree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { toPlacementNode } from '../../src/cluster/objects.js';
import { evaluate, podConstraints } from '../../src/scheduling/feasibility.js';
import { NodeIndex } from '../../src/scheduling/node-index.js';
import { startControlPlane, type ControlPlane } from './support/controlplane.js';

const NS = 'diff';
const TRIALS = Number(process.env['PLACEMENT_WEBHOOK_DIFF_TRIALS'] ?? 80);
const SEED = Number(process.env['PLACEMENT_WEBHOOK_DIFF_SEED'] ?? 20261122);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** mulberry32: small, seedable, good enough to spread cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const chance = (p: number) => next() < p;
  const some = <T>(xs: readonly T[], p: number): T[] => xs.filter(() => chance(p));
  return { next, pick, chance, some };
}

const TAINTS = [
  { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
  { key: 'spot', value: 'true', effect: 'NoExecute' },
  { key: 'maintenance', effect: 'NoSchedule' },
  { key: 'soft', value: 'x', effect: 'PreferNoSchedule' },
] as const;

function makeNodes(r: ReturnType<typeof prng>, count: number): V1Node[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `n${i}`;
    const allocatable: Record<string, string> = {
      cpu: r.pick(['1', '2', '4', '1500m']),
      memory: r.pick(['2Gi', '4Gi', '8Gi', '3000M']),
      pods: r.pick(['10', '10', '10', '0']),
      'ephemeral-storage': '20Gi',
    };
    if (r.chance(0.4)) allocatable['example.com/widget'] = r.pick(['1', '2']);
    const labels: Record<string, string> = { 'kubernetes.io/hostname': name, zone: r.pick(['a', 'b', 'c']) };
    if (r.chance(0.7)) labels['disk'] = r.pick(['ssd', 'hdd']);
    if (r.chance(0.7)) labels['size'] = r.pick(['1', '5', '10', 'large']);
    const taints = r.some(TAINTS, 0.25).map((t) => ({ ...t }));
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels },
      spec: { taints, ...(r.chance(0.15) ? { unschedulable: true } : {}) },
      status: { capacity: allocatable, allocatable },
    } as V1Node;
  });
}

function makePod(r: ReturnType<typeof prng>, i: number): V1Pod {
  const nodeSelector: Record<string, string> = {};
  if (r.chance(0.3)) nodeSelector['zone'] = r.pick(['a', 'b', 'c', 'd']);
  if (r.chance(0.2)) nodeSelector['disk'] = r.pick(['ssd', 'hdd']);
  const expression = () =>
    r.pick([
      { key: 'zone', operator: 'In', values: r.some(['a', 'b', 'c'], 0.5).concat(['z']) },
      { key: 'disk', operator: 'NotIn', values: [r.pick(['ssd', 'hdd'])] },
      { key: 'disk', operator: r.pick(['Exists', 'DoesNotExist']) },
      { key: 'size', operator: r.pick(['Gt', 'Lt']), values: [r.pick(['0', '4', '9'])] },
    ]);
  const terms = r.chance(0.4)
    ? Array.from({ length: 1 + Math.floor(r.next() * 2) }, () => ({ matchExpressions: Array.from({ length: 1 + Math.floor(r.next() * 2) }, expression) }))
    : undefined;
  const tolerations = [
    ...r.some(TAINTS, 0.3).map((t) => (r.chance(0.5) ? { key: t.key, operator: 'Exists' } : { key: t.key, operator: 'Equal', value: 'value' in t ? t.value : '', effect: t.effect })),
    ...(r.chance(0.1) ? [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] : []),
    ...(r.chance(0.05) ? [{ operator: 'Exists' }] : []),
  ];
  const requests: Record<string, string> = { cpu: r.pick(['100m', '900m', '1500m', '3']), memory: r.pick(['100Mi', '1Gi', '3Gi', '6Gi']) };
  const limits: Record<string, string> = {};
  if (r.chance(0.25)) {
    const widgets = r.pick(['1', '2']);
    requests['example.com/widget'] = widgets;
    limits['example.com/widget'] = widgets;
  }
  const init = r.chance(0.25) ? [{ name: 'init', image: 'registry.k8s.io/pause:3.2', resources: { requests: { cpu: r.pick(['200m', '2500m']) } } }] : [];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p${i}`, namespace: NS },
    spec: {
      ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
      ...(terms ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } } : {}),
      tolerations,
      ...(init.length > 0 ? { initContainers: init } : {}),
      containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.2', resources: { requests, ...(Object.keys(limits).length > 0 ? { limits } : {}) } }],
      terminationGracePeriodSeconds: 0,
    },
  } as V1Pod;
}

interface PodStatus {
  spec: { nodeName?: string };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

describe('feasibility verdicts against the real kube-scheduler', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane({ withScheduler: true });
    const ns = await cp.kubectl(['create', 'namespace', NS]);
    expect(ns.code, ns.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  async function schedulerVerdict(p: V1Pod): Promise<{ fits: boolean; message?: string }> {
    const created = await cp.api('POST', `/api/v1/namespaces/${NS}/pods`, p);
    if (created.status !== 201) throw new Error(`creating ${p.metadata?.name}: ${created.status} ${created.text}`);
    const name = p.metadata?.name ?? '';
    const deadline = Date.now() + 30_000;
    try {
      for (;;) {
        const got = (await cp.api('GET', `/api/v1/namespaces/${NS}/pods/${name}`)).body as PodStatus;
        if (got.spec.nodeName) return { fits: true };
        const cond = got.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
        if (cond) return { fits: false, ...(cond.message ? { message: cond.message } : {}) };
        if (Date.now() > deadline) throw new Error(`no decision for ${name}:\n${cp.logTail('kube-scheduler')}`);
        await sleep(100);
      }
    } finally {
      await cp.api('DELETE', `/api/v1/namespaces/${NS}/pods/${name}?gracePeriodSeconds=0`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 });
      for (let i = 0; i < 100 && (await cp.api('GET', `/api/v1/namespaces/${NS}/pods/${name}`)).status !== 404; i++) await sleep(100);
    }
  }

  it(
    `agrees on ${TRIALS} random pods over random node sets (seed ${SEED})`,
    async () => {
      const r = prng(SEED);
      const disagreements: string[] = [];
      let fits = 0;
      const rounds = 4;
      for (let round = 0; round < rounds; round++) {
        const nodes = makeNodes(r, 6 + round);
        for (const n of nodes) {
          const res = await cp.api('POST', '/api/v1/nodes', n);
          if (res.status !== 201) throw new Error(`creating node: ${res.status} ${res.text}`);
        }
        await sleep(1500); // the scheduler's node informer
        const index = new NodeIndex(nodes.map(toPlacementNode));
        for (let i = 0; i < TRIALS / rounds; i++) {
          const p = makePod(r, round * 1000 + i);
          const ours = evaluate(podConstraints(p), index);
          const oursFits = ours.kind === 'fits' || ours.kind === 'fits-transient';
          const theirs = await schedulerVerdict(p);
          if (theirs.fits) fits++;
          if (oursFits !== theirs.fits) {
            disagreements.push(
              `round ${round} pod ${p.metadata?.name}: scheduler ${theirs.fits ? 'fits' : `no-fit (${theirs.message})`}, ` +
                `ours ${ours.kind}${ours.kind === 'no-fit' ? ` (${ours.message})` : ''}\n  pod: ${JSON.stringify(p.spec)}\n  nodes: ${JSON.stringify(nodes.map((n) => ({ name: n.metadata?.name, labels: n.metadata?.labels, spec: n.spec, allocatable: n.status?.allocatable })))}`,
            );
          }
        }
        for (const n of nodes) await cp.api('DELETE', `/api/v1/nodes/${n.metadata?.name}`);
        await sleep(1000);
      }
      console.log(`differential: ${TRIALS} pods, ${fits} schedulable, ${TRIALS - fits} not, ${disagreements.length} disagreements (seed ${SEED})`);
      expect(disagreements, disagreements.join('\n\n')).toEqual([]);
      // Both outcomes must be well represented, or the comparison proves little.
      expect(fits).toBeGreaterThan(TRIALS / 5);
      expect(TRIALS - fits).toBeGreaterThan(TRIALS / 5);
    },
    600_000,
  );
});
