/**
 * Differential test: our feasibility verdicts against the real kube-scheduler's. Random nodes and pods (seeded, so a
 * failure can be replayed with PLACEMENT_WEBHOOK_DIFF_SEED), each pod created alone and left to the scheduler: bound
 * means feasible, PodScheduled=False/Unschedulable means not. Every disagreement is listed; agreement must be total.
 *
 * When neither fits, the messages are compared too, as counts of nodes per reason: the scheduler's "0/N nodes are
 * available: …" read back in our words (`./support/differential.ts` maps 1.20's wording), against the counts of
 * `evaluate` over the round's nodes, which are all the nodes the cluster has (each round deletes its nodes and waits
 * before the next creates its own). With no pods bound anywhere, free capacity is allocatable and the static filters
 * are the whole story, so N and every count must be equal.
 *
 * Condition taints are left out: the 1.20 scheduler treats them as ordinary taints, while we deliberately treat
 * them as transient (allow with a warning).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { toPlacementNode } from '../../src/scheduling/placement-node.js';
import { evaluate, podConstraints } from '../../src/scheduling/feasibility.js';
import { NodeIndex } from '../../src/scheduling/node-index.js';
import { startControlPlane, type ControlPlane } from './support/controlplane.js';
import { histogramDifferences, prng, scheduleAlone, schedulerReasons, sleep, type Random } from './support/differential.js';

const NS = 'diff';
const TRIALS = Number(process.env['PLACEMENT_WEBHOOK_DIFF_TRIALS'] ?? 80);
const SEED = Number(process.env['PLACEMENT_WEBHOOK_DIFF_SEED'] ?? 20261122);
const TAINTS = [
  { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
  { key: 'spot', value: 'true', effect: 'NoExecute' },
  { key: 'maintenance', effect: 'NoSchedule' },
  { key: 'soft', value: 'x', effect: 'PreferNoSchedule' },
] as const;

function makeNodes(r: Random, count: number): V1Node[] {
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
    };
  });
}

function makePod(r: Random, i: number): V1Pod {
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
    ? Array.from({ length: 1 + Math.floor(r.next() * 2) }, () => ({
        matchExpressions: Array.from({ length: 1 + Math.floor(r.next() * 2) }, expression),
      }))
    : undefined;
  const tolerations = [
    ...r
      .some(TAINTS, 0.3)
      .map((t) =>
        r.chance(0.5) ? { key: t.key, operator: 'Exists' } : { key: t.key, operator: 'Equal', value: 'value' in t ? t.value : '', effect: t.effect },
      ),
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
  const init = r.chance(0.25)
    ? [{ name: 'init', image: 'registry.k8s.io/pause:3.2', resources: { requests: { cpu: r.pick(['200m', '2500m']) } } }]
    : [];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p${i}`, namespace: NS },
    spec: {
      ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
      ...(terms ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } } : {}),
      tolerations,
      ...(init.length > 0 ? { initContainers: init } : {}),
      containers: [
        { name: 'main', image: 'registry.k8s.io/pause:3.2', resources: { requests, ...(Object.keys(limits).length > 0 ? { limits } : {}) } },
      ],
      terminationGracePeriodSeconds: 0,
    },
  };
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

  it(`agrees on ${TRIALS} random pods over random node sets (seed ${SEED})`, async () => {
    const r = prng(SEED);
    const disagreements: string[] = [];
    let fits = 0;
    let compared = 0;
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
        const { ours, ...theirs } = await scheduleAlone(cp, p, (created) => evaluate(podConstraints(created), index));
        const oursFits = ours.kind === 'fits' || ours.kind === 'fits-transient';
        if (theirs.fits) fits++;
        const problems: string[] = [];
        if (oursFits !== theirs.fits) {
          problems.push(
            `scheduler ${theirs.fits ? `fits (bound to ${theirs.node})` : `no-fit (${theirs.message})`}, ours ${ours.kind}${ours.kind === 'no-fit' ? ` (${ours.message})` : ''}`,
          );
        } else if (ours.kind === 'no-fit') {
          compared++;
          const read = schedulerReasons(theirs.message ?? '');
          problems.push(...read.problems);
          const diff = read.histogram ? histogramDifferences({ total: ours.totalNodes, counts: ours.reasons.counts }, read.histogram) : [];
          if (diff.length > 0) problems.push(`messages differ: ${diff.join('; ')}\n  scheduler: ${theirs.message}\n  ours:      ${ours.message}`);
        }
        if (problems.length > 0) {
          disagreements.push(
            `round ${round} pod ${p.metadata?.name}: ${problems.join('\n  ')}\n  pod: ${JSON.stringify(p.spec)}\n  nodes: ${JSON.stringify(nodes.map((n) => ({ name: n.metadata?.name, labels: n.metadata?.labels, spec: n.spec, allocatable: n.status?.allocatable })))}`,
          );
        }
      }
      for (const n of nodes) await cp.api('DELETE', `/api/v1/nodes/${n.metadata?.name}`);
      await sleep(1000);
    }
    console.log(
      `differential: ${TRIALS} pods, ${fits} schedulable, ${TRIALS - fits} not (${compared} messages compared), ${disagreements.length} disagreements (seed ${SEED})`,
    );
    expect(disagreements, disagreements.join('\n\n')).toEqual([]);
    // Both outcomes must be well represented, or the comparison proves little.
    expect(fits).toBeGreaterThan(TRIALS / 5);
    expect(TRIALS - fits).toBeGreaterThan(TRIALS / 5);
  }, 600_000);
});
