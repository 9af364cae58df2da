/**
 * Differential test of the pod-aware filters: would the real 1.20 kube-scheduler bind this pod *now*, given the pods
 * already bound? Our answer is `evaluate` (static) and then `evaluateNow` with the 'v1.20' profile over the nodes and
 * the bound pods; the scheduler's is what it does with the pod: bound, or PodScheduled=False/Unschedulable with its
 * "0/N nodes are available: …" message. Verdicts must agree, and so must the messages, as counts of nodes per reason
 * after the wording map of `./support/differential.ts`.
 *
 * Cases (seeded, PLACEMENT_WEBHOOK_DIFF_POD_SEED; PLACEMENT_WEBHOOK_DIFF_POD_TRIALS cases): each has its own 2–5 nodes
 * labelled `diff-case: c<k>`, and two namespaces of its own, `dp-<k>` and `dp-<k>-x`. The nodes get labels (hostname,
 * zone — sometimes missing or empty —, disk), taints of every effect, cordons, and cpu/memory/pod-count allocatable
 * (through the API: there is no kubelet, no node controller and no TaintNodesByCondition, so they carry no
 * condition taints and the 1.20 scheduler reads no conditions). Pods are then created bound (`spec.nodeName`, never
 * scheduled) in either namespace: labels, cpu/memory requests kept within their node's allocatable and pod count
 * (1.20's fitsRequest differs from current schedulers on over-committed nodes), host ports (hostIP, protocol,
 * hostNetwork), required anti-affinity terms; a few are then deleted with a long grace period (terminating: no
 * kubelet ever finishes them) or marked Succeeded. Then the case's candidates, one at a time: nodeSelector
 * `diff-case: c<k>` (plus, sometimes, more node selection), required pod affinity and anti-affinity on hostname and
 * zone, over their own namespace or others listed in `namespaces`, DoNotSchedule topology spread (1.20 fields
 * only), host ports, requests that may exceed what is free, tolerations.
 *
 * Counts are comparable because both sides judge the same world: nodes and bound pods of every case stay for the
 * whole run, so N in the scheduler's message counts every case's nodes, and our indexes hold exactly those nodes and
 * pods. Another case's node fails one of the candidate's static filters (cordon, taint, or its node selector at the
 * latest), which we count as the scheduler does; another case's pods are in other namespaces, which no term or
 * spread constraint of the candidate names, so they never count for it. A case replayed alone
 * (PLACEMENT_WEBHOOK_DIFF_POD_CASES=k,…) therefore meets the same world on its own nodes.
 *
 * One known difference is kept out of the cases: the scheduler's cache keeps a node's used host ports as a *set*
 * (1.20.2 `pkg/scheduler/framework/types.go:735` `type HostPortInfo map[string]map[ProtocolPort]struct{}`), and
 * removing a pod removes its ports from it (`NodeInfo.RemovePod` → `updateUsedPorts(pod, false)` → `HostPortInfo.Remove`,
 * lines 539/577/639/757). When two pods on one node hold the same address/protocol/port and one of them leaves
 * (deleted, or Succeeded/Failed — a kubelet rejecting the second pod for that port makes it Failed), the scheduler
 * believes the port free while the other pod still holds it, and binds a pod needing it there; we count the port as
 * held ("didn't have free ports"). Bound pods that share a host port are generated, but such a pod never leaves.
 * (An update — a pod becoming terminating — removes and re-adds its ports, `cache.go:447` `updatePod`: no effect.)
 *
 * One pod is pending at a time: each candidate is deleted (and gone) before the next is created, so every candidate
 * of a case sees the same bound pods. The scheduler learns of new nodes and pods through its informers; a case waits
 * a moment after creating them, and a disagreement is tried once more after a longer wait: when the second answer
 * agrees, the first is counted as informer lag (reported, not a disagreement).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  V1Container,
  V1ContainerPort,
  V1LabelSelector,
  V1Node,
  V1Pod,
  V1PodAffinityTerm,
  V1TopologySpreadConstraint,
} from '@kubernetes/client-node';
import { toPlacementNode } from '../../src/scheduling/placement-node.js';
import { evaluate, podConstraints, type Verdict } from '../../src/scheduling/feasibility.js';
import { NodeIndex } from '../../src/scheduling/node-index.js';
import { evaluateNow, podAwareConstraints, type NowVerdict } from '../../src/scheduling/now.js';
import { PodIndex, PodReader } from '../../src/scheduling/pods.js';
import type { Labels } from '../../src/scheduling/types.js';
import { startControlPlane, type ControlPlane } from './support/controlplane.js';
import {
  caseSeed,
  create,
  histogramDifferences,
  prng,
  scheduleAlone,
  schedulerReasons,
  sleep,
  type Random,
  type ReasonHistogram,
} from './support/differential.js';

const TRIALS = Number(process.env['PLACEMENT_WEBHOOK_DIFF_POD_TRIALS'] ?? 150);
const SEED = Number(process.env['PLACEMENT_WEBHOOK_DIFF_POD_SEED'] ?? 20261205);
const ONLY = (process.env['PLACEMENT_WEBHOOK_DIFF_POD_CASES'] ?? '')
  .split(',')
  .filter((s) => s.trim() !== '')
  .map(Number);
const CASES = ONLY.length > 0 ? ONLY : Array.from({ length: TRIALS }, (_, k) => k);
/** After a case's nodes and pods are created, before its first candidate: the scheduler's informers. */
const SETTLE_MS = 150;
/** Before trying a disagreement once more. */
const RETRY_MS = 2000;

const HOST = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';
const CASE_LABEL = 'diff-case';
const APPS = ['web', 'db', 'cache'] as const;
const TIERS = ['front', 'back'] as const;
const IMAGE = 'registry.k8s.io/pause:3.2';
const TAINTS = [
  { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
  { key: 'spot', value: 'true', effect: 'NoExecute' },
  { key: 'maintenance', effect: 'NoSchedule' },
  { key: 'soft', value: 'x', effect: 'PreferNoSchedule' },
] as const;

interface BoundPod {
  readonly pod: V1Pod;
  /** What happens to it once created: deleted with a long grace period, or its phase set to Succeeded. */
  readonly then?: 'terminating' | 'succeeded';
}

interface Case {
  readonly k: number;
  readonly label: string;
  readonly namespaces: readonly [string, string];
  readonly nodes: readonly V1Node[];
  readonly bound: readonly BoundPod[];
  readonly candidates: readonly V1Pod[];
}

function podLabels(r: Random): Record<string, string> {
  const labels: Record<string, string> = {};
  if (r.chance(0.85)) labels['app'] = r.pick(APPS);
  if (r.chance(0.4)) labels['tier'] = r.pick(TIERS);
  return labels;
}

/** A selector of pods as terms and spread constraints hold them; undefined is a nil selector (matches no pod). */
function podSelector(r: Random, own?: Record<string, string>): V1LabelSelector | undefined {
  const x = r.next();
  if (own?.['app'] !== undefined && x < 0.3) return { matchLabels: { app: own['app'] } };
  if (x < 0.6) return { matchLabels: { app: r.pick(APPS) } };
  if (x < 0.7)
    return { matchExpressions: [{ key: 'app', operator: 'In', values: [r.pick(APPS), r.pick(APPS)].filter((v, i, a) => a.indexOf(v) === i) }] };
  if (x < 0.77) return { matchExpressions: [{ key: 'app', operator: 'NotIn', values: [r.pick(APPS)] }] };
  if (x < 0.86) return { matchExpressions: [{ key: 'tier', operator: r.pick(['Exists', 'DoesNotExist']) }] };
  if (x < 0.93) return { matchLabels: { app: r.pick(APPS), tier: r.pick(TIERS) } };
  if (x < 0.98) return {};
  return undefined;
}

function affinityTerm(r: Random, c: { namespaces: readonly [string, string] }, own?: Record<string, string>): V1PodAffinityTerm {
  const [a, b] = c.namespaces;
  const selector = podSelector(r, own);
  const namespaces = r.pick([undefined, undefined, undefined, [a], [b], [a, b]]);
  return { topologyKey: r.pick([HOST, ZONE]), ...(selector ? { labelSelector: selector } : {}), ...(namespaces ? { namespaces } : {}) };
}

function hostPort(r: Random): V1ContainerPort {
  const ip = r.pick(['', '', '', '127.0.0.1', '10.0.0.1']);
  return { containerPort: 80, hostPort: r.pick([8080, 8080, 9090]), protocol: r.pick(['TCP', 'TCP', 'TCP', 'UDP']), ...(ip ? { hostIP: ip } : {}) };
}

/** The host ports a pod holds, as `ip/protocol/port` after the API server's defaulting (1.20: containers only). */
function heldPorts(pod: V1Pod): string[] {
  return (pod.spec?.containers ?? []).flatMap((c) =>
    (c.ports ?? []).flatMap((p) => {
      const port = p.hostPort ?? (pod.spec?.hostNetwork ? p.containerPort : 0);
      return port > 0 ? [`${p.hostIP || '0.0.0.0'}/${p.protocol ?? 'TCP'}/${port}`] : [];
    }),
  );
}

/** Two pods on one node holding the very same host port (address, protocol and number). */
function sharesHostPort(a: V1Pod, b: V1Pod): boolean {
  if (a.spec?.nodeName !== b.spec?.nodeName) return false;
  const held = new Set(heldPorts(a));
  return heldPorts(b).some((p) => held.has(p));
}

function container(requests: Record<string, string>, ports: V1ContainerPort[]): V1Container {
  return { name: 'main', image: IMAGE, resources: { requests }, ...(ports.length > 0 ? { ports } : {}) };
}

function makeCase(seed: number, k: number): Case {
  const r = prng(caseSeed(seed, k));
  const label = `c${k}`;
  const namespaces = [`dp-${k}`, `dp-${k}-x`] as const;
  const free: { cpu: number; mem: number; pods: number }[] = [];
  const nodes = Array.from({ length: r.int(2, 5) }, (_, i): V1Node => {
    const name = `${label}-n${i}`;
    const cpu = r.pick([1000, 2000, 4000]);
    const mem = r.pick([2048, 4096, 8192]);
    const pods = r.pick([2, 3, 5, 10]);
    free.push({ cpu, mem, pods });
    const allocatable = { cpu: `${cpu / 1000}`, memory: `${mem / 1024}Gi`, pods: `${pods}`, 'ephemeral-storage': '20Gi' };
    const labels: Record<string, string> = { [CASE_LABEL]: label };
    if (r.chance(0.95)) labels[HOST] = name;
    if (r.chance(0.8)) labels[ZONE] = r.chance(0.25) ? '' : r.pick(['a', 'b', 'c']);
    if (r.chance(0.6)) labels['disk'] = r.pick(['ssd', 'hdd']);
    const taints = r.chance(0.12) ? [{ ...r.pick(TAINTS) }] : [];
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels },
      spec: { taints, ...(r.chance(0.08) ? { unschedulable: true } : {}) },
      status: { capacity: allocatable, allocatable },
    };
  });

  const bound: BoundPod[] = [];
  const boundCount = r.int(1, 3 * nodes.length);
  for (let j = 0; j < boundCount; j++) {
    const i = r.int(0, nodes.length - 1);
    const room = free[i] as { cpu: number; mem: number; pods: number };
    if (room.pods === 0) continue;
    room.pods--;
    const requests: Record<string, string> = {};
    const cpu = r.pick([0, 100, 250, 500, 1000]);
    if (cpu > 0 && cpu <= room.cpu) {
      room.cpu -= cpu;
      requests['cpu'] = `${cpu}m`;
    }
    const mem = r.pick([0, 64, 256, 1024]);
    if (mem > 0 && mem <= room.mem) {
      room.mem -= mem;
      requests['memory'] = `${mem}Mi`;
    }
    const hostNetwork = r.chance(0.05);
    const ports = hostNetwork ? [{ containerPort: 8080 }] : r.chance(0.35) ? [hostPort(r)] : [];
    const anti = r.chance(0.25) ? Array.from({ length: r.int(1, 2) }, () => affinityTerm(r, { namespaces })) : [];
    const x = r.next();
    bound.push({
      pod: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `b${j}`, namespace: r.chance(0.7) ? namespaces[0] : namespaces[1], labels: podLabels(r) },
        spec: {
          nodeName: (nodes[i] as V1Node).metadata?.name ?? '',
          ...(hostNetwork ? { hostNetwork } : {}),
          ...(anti.length > 0 ? { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: anti } } } : {}),
          containers: [container(requests, ports)],
          terminationGracePeriodSeconds: 0,
        },
      },
      ...(x < 0.06 ? { then: 'terminating' as const } : x < 0.1 ? { then: 'succeeded' as const } : {}),
    });
  }

  // A pod that leaves while another on its node holds the same host port would free that port in 1.20's view
  // (see the header): such pods stay.
  const kept = bound.map((b) => (b.then === 'succeeded' && bound.some((o) => o !== b && sharesHostPort(o.pod, b.pod)) ? { pod: b.pod } : b));
  bound.splice(0, bound.length, ...kept);

  const candidates = Array.from({ length: r.int(1, 3) }, (_, j): V1Pod => {
    const labels = podLabels(r);
    const nodeSelector: Record<string, string> = { [CASE_LABEL]: label };
    if (r.chance(0.2)) nodeSelector['disk'] = r.pick(['ssd', 'hdd']);
    const nodeAffinity = r.chance(0.12)
      ? {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  r.pick([
                    { key: ZONE, operator: 'In', values: ['a', 'b'] },
                    { key: ZONE, operator: 'NotIn', values: ['c'] },
                    { key: 'disk', operator: 'Exists' },
                  ]),
                ],
              },
            ],
          },
        }
      : undefined;
    const podAffinity = r.chance(0.35) ? Array.from({ length: r.int(1, 2) }, () => affinityTerm(r, { namespaces }, labels)) : [];
    const podAntiAffinity = r.chance(0.35) ? Array.from({ length: r.int(1, 2) }, () => affinityTerm(r, { namespaces }, labels)) : [];
    const spreadKeys = r.chance(0.5) ? r.some([HOST, ZONE], 0.6) : [];
    const spread = spreadKeys.map((topologyKey): V1TopologySpreadConstraint => {
      const selector = podSelector(r, labels);
      return {
        maxSkew: r.pick([1, 1, 2]),
        topologyKey,
        whenUnsatisfiable: r.chance(0.9) ? 'DoNotSchedule' : 'ScheduleAnyway',
        ...(selector ? { labelSelector: selector } : {}),
      };
    });
    const tolerations = [
      ...r.some(TAINTS, 0.2).map((t) => ({ key: t.key, operator: 'Exists' })),
      ...(r.chance(0.05) ? [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] : []),
    ];
    const requests: Record<string, string> = {};
    const cpu = r.pick([undefined, '100m', '500m', '1', '1500m', '3']);
    if (cpu) requests['cpu'] = cpu;
    const mem = r.pick([undefined, '128Mi', '1Gi', '3Gi', '6Gi']);
    if (mem) requests['memory'] = mem;
    const ports = r.chance(0.35) ? [hostPort(r)] : [];
    const affinity = {
      ...(nodeAffinity ? { nodeAffinity } : {}),
      ...(podAffinity.length > 0 ? { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: podAffinity } } : {}),
      ...(podAntiAffinity.length > 0 ? { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: podAntiAffinity } } : {}),
    };
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `p${j}`, namespace: r.chance(0.75) ? namespaces[0] : namespaces[1], labels },
      spec: {
        nodeSelector,
        ...(Object.keys(affinity).length > 0 ? { affinity } : {}),
        ...(spread.length > 0 ? { topologySpreadConstraints: spread } : {}),
        ...(tolerations.length > 0 ? { tolerations } : {}),
        containers: [container(requests, ports)],
        terminationGracePeriodSeconds: 0,
      },
    };
  });
  return { k, label, namespaces, nodes, bound, candidates };
}

/** The case as text to read and to replay. */
function describeCase(c: Case, candidate: V1Pod): string {
  const spec = candidate.spec;
  const lines = [
    `  replay: PLACEMENT_WEBHOOK_DIFF_POD_SEED=${SEED} PLACEMENT_WEBHOOK_DIFF_POD_CASES=${c.k}`,
    `  candidate ${candidate.metadata?.namespace}/${candidate.metadata?.name} labels ${JSON.stringify(candidate.metadata?.labels ?? {})}: ${JSON.stringify(
      {
        nodeSelector: spec?.nodeSelector,
        affinity: spec?.affinity,
        topologySpreadConstraints: spec?.topologySpreadConstraints,
        tolerations: spec?.tolerations,
        resources: spec?.containers[0]?.resources,
        ports: spec?.containers[0]?.ports,
      },
    )}`,
    '  nodes:',
    ...c.nodes.map(
      (n) =>
        `    ${n.metadata?.name} ${JSON.stringify({ labels: n.metadata?.labels, taints: n.spec?.taints, unschedulable: n.spec?.unschedulable, allocatable: n.status?.allocatable })}`,
    ),
    '  bound pods:',
    ...c.bound.map(
      (b) =>
        `    ${b.pod.metadata?.namespace}/${b.pod.metadata?.name} on ${b.pod.spec?.nodeName}${b.then ? ` (${b.then})` : ''} ${JSON.stringify({
          labels: b.pod.metadata?.labels,
          requests: b.pod.spec?.containers[0]?.resources?.requests,
          ports: b.pod.spec?.containers[0]?.ports,
          hostNetwork: b.pod.spec?.hostNetwork,
          antiAffinity: b.pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
        })}`,
    ),
  ];
  return lines.join('\n');
}

interface Ours {
  readonly fixed: Verdict;
  readonly now: NowVerdict;
}

const oursFit = (o: Ours) => (o.fixed.kind === 'fits' || o.fixed.kind === 'fits-transient') && o.now.kind === 'fits';
const oursText = (o: Ours) =>
  oursFit(o)
    ? `fits (${o.now.kind === 'fits' ? o.now.node : ''})`
    : `no-fit (static ${o.fixed.kind === 'no-fit' ? o.fixed.message : o.fixed.kind}; now ${o.now.kind === 'no-fit' ? o.now.message : o.now.kind})`;

/** What does not agree between our answer and the scheduler's; empty when all does. */
function compare(ours: Ours, theirs: { fits: boolean; node?: string; message?: string }): { problems: string[]; histogram?: ReasonHistogram } {
  if (oursFit(ours) !== theirs.fits) {
    return { problems: [`scheduler ${theirs.fits ? `fits (bound to ${theirs.node})` : `no-fit (${theirs.message})`}, ours ${oursText(ours)}`] };
  }
  if (theirs.fits) return { problems: [] };
  const read = schedulerReasons(theirs.message ?? '');
  const problems = [...read.problems];
  if (ours.now.kind !== 'no-fit') {
    problems.push(`the static verdict is no-fit but evaluateNow says ${ours.now.kind}: ${oursText(ours)}`);
  } else if (read.histogram) {
    const diff = histogramDifferences({ total: ours.now.totalNodes, counts: ours.now.reasons.counts }, read.histogram);
    if (diff.length > 0) problems.push(`messages differ: ${diff.join('; ')}\n  scheduler: ${theirs.message}\n  ours:      ${ours.now.message}`);
  }
  return { problems, ...(read.histogram ? { histogram: read.histogram } : {}) };
}

describe('pod-aware verdicts against the real kube-scheduler', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane({ withScheduler: true });
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  it(`agrees on ${ONLY.length > 0 ? `cases ${ONLY.join(',')}` : `${TRIALS} random cases`} with bound pods (seed ${SEED})`, async () => {
    const started = Date.now();
    const nodes = new NodeIndex();
    const pods = new PodIndex();
    const reader = new PodReader();
    const nsLabels = new Map<string, Labels>();
    const namespaceLabels = (ns: string): Labels => nsLabels.get(ns) ?? {};
    const disagreements: string[] = [];
    const lag: string[] = [];
    /** Candidates whose scheduler message names a reason, per reason. */
    const seen = new Map<string, number>();
    let candidates = 0;
    let fits = 0;
    let compared = 0;
    /** Candidates the static filters let through and the scheduler does not bind. */
    let heldBack = 0;

    for (const k of CASES) {
      const c = makeCase(SEED, k);
      for (const [i, ns] of c.namespaces.entries()) {
        const labels = { [CASE_LABEL]: c.label, side: i === 0 ? 'own' : 'other' };
        await create(cp, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } });
        nsLabels.set(ns, labels);
      }
      for (const n of c.nodes) nodes.upsert(toPlacementNode(await create(cp, '/api/v1/nodes', n)));
      for (const b of c.bound) {
        const ns = b.pod.metadata?.namespace ?? '';
        const name = b.pod.metadata?.name ?? '';
        let stored = await create(cp, `/api/v1/namespaces/${ns}/pods`, b.pod);
        if (b.then === 'terminating') {
          const res = await cp.api('DELETE', `/api/v1/namespaces/${ns}/pods/${name}`, {
            kind: 'DeleteOptions',
            apiVersion: 'v1',
            gracePeriodSeconds: 3600,
          });
          if (res.status !== 200) throw new Error(`deleting ${ns}/${name} gracefully: ${res.status} ${res.text}`);
          stored = res.body as V1Pod;
          if (!stored.metadata?.deletionTimestamp) throw new Error(`${ns}/${name} is not terminating: ${res.text}`);
        } else if (b.then === 'succeeded') {
          const res = await cp.api(
            'PATCH',
            `/api/v1/namespaces/${ns}/pods/${name}/status`,
            { status: { phase: 'Succeeded' } },
            'application/merge-patch+json',
          );
          if (res.status !== 200) throw new Error(`marking ${ns}/${name} Succeeded: ${res.status} ${res.text}`);
          stored = res.body as V1Pod;
        }
        const placed = reader.read(stored);
        if (placed) pods.upsert(placed);
      }
      await sleep(SETTLE_MS);

      const judge = (created: V1Pod): Ours => {
        const ns = created.metadata?.namespace ?? '';
        const constraints = podConstraints(created);
        return {
          fixed: evaluate(constraints, nodes),
          now: evaluateNow(
            constraints,
            podAwareConstraints(created, ns, created.spec?.priority ?? undefined),
            nodes,
            { index: pods, namespaceLabels },
            'v1.20',
          ),
        };
      };
      for (const p of c.candidates) {
        candidates++;
        let { ours, ...theirs } = await scheduleAlone(cp, p, judge);
        let result = compare(ours, theirs);
        if (result.problems.length > 0) {
          const first = result.problems;
          await sleep(RETRY_MS);
          ({ ours, ...theirs } = await scheduleAlone(cp, p, judge));
          result = compare(ours, theirs);
          if (result.problems.length === 0) lag.push(`case ${c.k} ${p.metadata?.namespace}/${p.metadata?.name}: ${first.join('; ')}; then agreed`);
          else if (result.problems.join('\n') !== first.join('\n')) result.problems.push(`(the first try: ${first.join('; ')})`);
        }
        if (theirs.fits) fits++;
        else if (ours.fixed.kind === 'fits') heldBack++;
        if (!theirs.fits && result.histogram) {
          compared++;
          for (const reason of result.histogram.counts.keys()) seen.set(reason, (seen.get(reason) ?? 0) + 1);
        }
        if (result.problems.length > 0) {
          disagreements.push(
            `case ${c.k} candidate ${p.metadata?.namespace}/${p.metadata?.name}: ${result.problems.join('\n  ')}\n${describeCase(c, p)}`,
          );
        }
      }
    }

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const coverage = [...seen].sort(([a], [b]) => (a < b ? -1 : 1)).map(([reason, n]) => `  ${n} × ${reason}`);
    console.log(
      `differential-pods: ${CASES.length} cases, ${candidates} candidates (${fits} schedulable, ${candidates - fits} not — ${heldBack} of these passing every static filter —, ${compared} messages compared), ` +
        `${candidates - disagreements.length} agreements, ${disagreements.length} disagreements, ${lag.length} retried for informer lag; ` +
        `${nodes.size} nodes, ${pods.size} bound pods; ${seconds} s (seed ${SEED})\nreasons in the scheduler's messages (candidates naming each):\n${coverage.join('\n')}` +
        (lag.length > 0 ? `\ninformer lag:\n  ${lag.join('\n  ')}` : ''),
    );
    expect(disagreements, `${disagreements.length} disagreements (seed ${SEED}):\n\n${disagreements.join('\n\n')}`).toEqual([]);
    if (ONLY.length === 0) {
      // Both outcomes must be well represented, or the comparison proves little.
      expect(fits).toBeGreaterThan(candidates / 5);
      expect(candidates - fits).toBeGreaterThan(candidates / 5);
    }
  }, 1_800_000);
});
