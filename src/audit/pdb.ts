/**
 * PodDisruptionBudgets and a drain, as `kubectl drain` meets them: it evicts through the eviction API, which refuses
 * an eviction that would leave fewer healthy pods than the budget wants, and retries until the budget allows it — so
 * a drain finishes only when the replacements of the pods it evicted become healthy elsewhere.
 *
 * The budget, after the disruption controller (`pkg/controller/disruption`, `getExpectedPodCount` and
 * `GetScaledValueFromIntOrPercent` rounding up): `expected` is the number of pods the selector matches (the
 * controller takes the owners' scale for percentages and `maxUnavailable`; the matched pods are the same number
 * unless a rollout is under way), `desired` is `minAvailable` (a percentage of `expected`, rounded up) or `expected`
 * minus `maxUnavailable` (rounded up), `healthy` counts the matched pods that are Running and Ready (a pod with no
 * conditions given counts when Running), `allowed = max(0, healthy − desired)`.
 *
 * The drain would never finish (a `fail` finding) when it evicts k of the budget's pods, u of which cannot be placed
 * elsewhere, and: `allowed` is 0 (no eviction is ever granted), or u > `allowed` (the pods lost for good eat the
 * budget), or u = `allowed` with pods left to evict (the last ones wait for a disruption that never comes).
 */
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { compilePodSelector, selectorMatches } from '../scheduling/pod-selectors.js';
import { isObject } from '../util/json.js';
import type { Finding } from './findings.js';

export interface Budget {
  readonly namespace: string;
  readonly name: string;
  /** `minAvailable 2`, `maxUnavailable 25%` */
  readonly rule: string;
  readonly matches: (pod: V1Pod, namespace: string) => boolean;
  readonly desired: (expected: number) => number;
}

const scaled = (v: number | string, total: number): number | undefined => {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
};

/** A PodDisruptionBudget object as a `Budget`, or undefined when it states neither bound or its selector does not parse. */
export function readBudget(o: unknown): Budget | undefined {
  if (!isObject(o) || !isObject(o['metadata']) || !isObject(o['spec'])) return undefined;
  const spec = o['spec'];
  const namespace = typeof o['metadata']['namespace'] === 'string' && o['metadata']['namespace'] !== '' ? o['metadata']['namespace'] : 'default';
  const name = typeof o['metadata']['name'] === 'string' ? o['metadata']['name'] : '';
  const selector = compilePodSelector(spec['selector'] as V1LabelSelector | undefined);
  if (!selector) return undefined;
  const matches = (pod: V1Pod, ns: string) => ns === namespace && selectorMatches(selector, pod.metadata?.labels ?? {});
  const min = spec['minAvailable'];
  const max = spec['maxUnavailable'];
  if (typeof min === 'number' || typeof min === 'string') {
    return { namespace, name, rule: `minAvailable ${min}`, matches, desired: (e) => scaled(min, e) ?? e };
  }
  if (typeof max === 'number' || typeof max === 'string') {
    return { namespace, name, rule: `maxUnavailable ${max}`, matches, desired: (e) => e - (scaled(max, e) ?? 0) };
  }
  return undefined;
}

/** Running, and Ready when conditions are given. */
export function healthy(pod: V1Pod): boolean {
  if (pod.status?.phase !== 'Running') return false;
  const ready = (pod.status.conditions ?? []).find((c) => c.type === 'Ready');
  return ready === undefined || ready.status === 'True';
}

/** What the drain does to one budget's pods. */
export interface BudgetUse {
  /** The budget's pods now (not finished, not being deleted). */
  readonly pods: readonly V1Pod[];
  /** Those the drain evicts. */
  readonly evicted: number;
  /** Those evicted that cannot be placed elsewhere. */
  readonly lost: number;
}

/** The finding of a budget the drain would never get past, or undefined. `what`: the change in words, `draining worker-3`. */
export function budgetFinding(b: Budget, use: BudgetUse, what: string): Finding | undefined {
  if (use.evicted === 0) return undefined;
  const expected = use.pods.length;
  const desired = b.desired(expected);
  const ok = use.pods.filter(healthy).length;
  const allowed = Math.max(0, ok - desired);
  const { evicted, lost } = use;
  const blocked = allowed === 0 || lost > allowed || (lost === allowed && evicted > lost);
  if (!blocked) return undefined;
  const state = `${ok} of ${expected} pods healthy, ${allowed} disruption(s) allowed`;
  const why =
    allowed === 0
      ? 'the budget allows no eviction now'
      : `${lost} of them cannot be placed elsewhere, so the budget never allows the last eviction${evicted === 1 ? '' : 's'}`;
  return {
    kind: 'pdb',
    severity: 'fail',
    namespace: b.namespace,
    object: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: b.name },
    rule: b.rule,
    message: `${what} evicts ${evicted} of its pods (${b.rule}; ${state}): ${why}; kubectl drain would wait forever`,
  };
}
