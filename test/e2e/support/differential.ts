/**
 * What the differential tests against the real 1.20 kube-scheduler share: a seedable random source, one pod left to
 * the scheduler at a time, and the scheduler's `0/N nodes are available: …` message read back as reason counts in
 * our words, so that it can be compared with our verdict's counts.
 *
 * Wording: 1.20 says what current schedulers (and we) say in other words, and adds one reason:
 *   "node(s) had taint {k: v}, that the pod didn't tolerate"  → "node(s) had untolerated taint {k: v}"
 *   "node(s) didn't match Pod's node affinity"                → "node(s) didn't match Pod's node affinity/selector"
 *   "node(s) didn't match node selector"                      → "node(s) didn't match Pod's node affinity/selector"
 *   "node(s) didn't match the requested hostname"             → "node(s) didn't match the requested node name"
 *   "node(s) didn't match pod affinity/anti-affinity"         → dropped: 1.20's InterPodAffinity gives it beside the
 *      specific reason on every node it rejects (`filtering.go` `Filter`), so its count must be the sum of the three
 *      specific ones — checked, and a mismatch is reported as a problem of the message.
 * Every other reason is the same string in both.
 */
import type { V1Pod } from '@kubernetes/client-node';
import {
  REASON_EXISTING_ANTI_AFFINITY,
  REASON_NODE_AFFINITY,
  REASON_NODE_NAME,
  REASON_POD_AFFINITY,
  REASON_POD_ANTI_AFFINITY,
  untoleratedTaintReason,
} from '../../../src/scheduling/reasons.js';
import type { ControlPlane } from './controlplane.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type Random = ReturnType<typeof prng>;

/** mulberry32: small, seedable, good enough to spread cases. */
export function prng(seed: number) {
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
  /** An integer in [lo, hi]. */
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return { next, pick, chance, some, int };
}

/** The seed of case `k` of a run: each case has its own stream, so that one case can be replayed alone. */
export function caseSeed(seed: number, k: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(k + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

// ---- the scheduler's message ----------------------------------------------------------------------------------------

const V120_AFFINITY_GENERIC = "node(s) didn't match pod affinity/anti-affinity";
const V120_TAINT = /^node\(s\) had taint \{([^:]*): (.*)\}, that the pod didn't tolerate$/s;
const V120_RENAMED = new Map<string, string>([
  ["node(s) didn't match Pod's node affinity", REASON_NODE_AFFINITY],
  ["node(s) didn't match node selector", REASON_NODE_AFFINITY],
  ["node(s) didn't match the requested hostname", REASON_NODE_NAME],
]);
const INTER_POD_SPECIFIC = [REASON_POD_AFFINITY, REASON_POD_ANTI_AFFINITY, REASON_EXISTING_ANTI_AFFINITY];

/** A 1.20 reason in current words. */
export function currentWording(reason: string): string {
  const taint = V120_TAINT.exec(reason);
  if (taint) return untoleratedTaintReason({ key: taint[1] as string, value: taint[2], effect: 'NoSchedule' });
  return V120_RENAMED.get(reason) ?? reason;
}

export interface ReasonHistogram {
  /** N of "0/N nodes are available". */
  readonly total: number;
  readonly counts: ReadonlyMap<string, number>;
}

/**
 * The scheduler's FitError message (`0/N nodes are available: <count> <reason>, ….`, sorted) as counts in our words,
 * with what does not add up in it. Reasons may hold ", " (1.20's taint reason does): entries are split where ", " is
 * followed by a count.
 */
export function schedulerReasons(message: string): { histogram?: ReasonHistogram; problems: string[] } {
  const m = /^0\/(\d+) nodes are available: (.*)\.$/s.exec(message);
  if (!m) return { problems: [`not a FitError message: ${JSON.stringify(message)}`] };
  const counts = new Map<string, number>();
  const problems: string[] = [];
  let generic = 0;
  for (const entry of (m[2] as string).split(/, (?=\d+ )/)) {
    const e = /^(\d+) (.+)$/s.exec(entry);
    if (!e) {
      problems.push(`entry ${JSON.stringify(entry)} has no count`);
      continue;
    }
    const n = Number(e[1]);
    const reason = e[2] as string;
    if (reason === V120_AFFINITY_GENERIC) {
      generic += n;
      continue;
    }
    const ours = currentWording(reason);
    counts.set(ours, (counts.get(ours) ?? 0) + n);
  }
  const specific = INTER_POD_SPECIFIC.reduce((s, r) => s + (counts.get(r) ?? 0), 0);
  if (generic !== specific) problems.push(`"${V120_AFFINITY_GENERIC}" counts ${generic} nodes, the specific inter-pod reasons ${specific}`);
  return { histogram: { total: Number(m[1]), counts }, problems };
}

/** The differences between two histograms, one line each; empty when they are equal. */
export function histogramDifferences(ours: ReasonHistogram, theirs: ReasonHistogram): string[] {
  const out: string[] = [];
  if (ours.total !== theirs.total) out.push(`nodes: ours ${ours.total}, scheduler ${theirs.total}`);
  const reasons = [...new Set([...ours.counts.keys(), ...theirs.counts.keys()])].sort();
  for (const r of reasons) {
    const a = ours.counts.get(r) ?? 0;
    const b = theirs.counts.get(r) ?? 0;
    if (a !== b) out.push(`"${r}": ours ${a}, scheduler ${b}`);
  }
  return out;
}

// ---- one pod, left to the scheduler ---------------------------------------------------------------------------------

export interface SchedulerVerdict {
  /** The pod as the API server stored it (defaulted), which is what our engine judges. */
  readonly created: V1Pod;
  readonly fits: boolean;
  readonly node?: string;
  /** The message of the first PodScheduled=False/Unschedulable condition seen. */
  readonly message?: string;
}

interface PodState {
  spec?: { nodeName?: string };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/**
 * Creates the pod, waits for the scheduler's decision — bound, or PodScheduled=False with reason Unschedulable (the
 * first such condition: the scheduler may retry and rewrite it) — then deletes it and waits until it is gone, so that
 * the next pod meets the same world. `judge` runs on the created pod while the scheduler works.
 */
export async function scheduleAlone<T>(
  cp: ControlPlane,
  pod: V1Pod,
  judge: (created: V1Pod) => T,
  timeoutMs = 30_000,
): Promise<SchedulerVerdict & { ours: T }> {
  const ns = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  const res = await cp.api('POST', `/api/v1/namespaces/${ns}/pods`, pod);
  if (res.status !== 201) throw new Error(`creating pod ${ns}/${name}: ${res.status} ${res.text}`);
  const created = res.body as V1Pod;
  try {
    const ours = judge(created);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = (await cp.api('GET', `/api/v1/namespaces/${ns}/pods/${name}`)).body as PodState;
      const node = got.spec?.nodeName;
      if (node) return { created, fits: true, node, ours };
      const cond = got.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
      if (cond) return { created, fits: false, ...(cond.message ? { message: cond.message } : {}), ours };
      if (Date.now() > deadline) throw new Error(`no scheduling decision for ${ns}/${name} in ${timeoutMs} ms:\n${cp.logTail('kube-scheduler')}`);
      await sleep(25);
    }
  } finally {
    await cp.api('DELETE', `/api/v1/namespaces/${ns}/pods/${name}?gracePeriodSeconds=0`, {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      gracePeriodSeconds: 0,
    });
    for (let i = 0; i < 400 && (await cp.api('GET', `/api/v1/namespaces/${ns}/pods/${name}`)).status !== 404; i++) await sleep(25);
  }
}

/** POSTs an object and returns what the API server stored; throws with the server's answer otherwise. */
export async function create<T>(cp: ControlPlane, urlPath: string, obj: T): Promise<T> {
  const res = await cp.api('POST', urlPath, obj);
  if (res.status !== 201) throw new Error(`POST ${urlPath}: ${res.status} ${res.text}`);
  return res.body as T;
}
