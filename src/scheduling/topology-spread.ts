/**
 * PodTopologySpread for `whenUnsatisfiable: DoNotSchedule`, after `pkg/scheduler/framework/plugins/podtopologyspread`
 * (`filtering.go`: `calPreFilterState`, `Filter`; `common.go`: `filterTopologySpreadConstraints`,
 * `countPodsMatchSelector`, `matchNodeInclusionPolicies`):
 *
 * - Only the pod's own `DoNotSchedule` constraints (the scheduler's default constraints are `ScheduleAnyway`).
 *   `matchLabelKeys` adds `key In [the pod's value]` to the selector for each key the pod has.
 * - **Eligible nodes** define the domains and hold the counted pods: a node must have every constraint's topology
 *   key; with `nodeAffinityPolicy: Honor` (default) match the pod's nodeSelector and required node affinity; with
 *   `nodeTaintsPolicy: Honor` (default `Ignore`) carry no NoSchedule/NoExecute taint the pod does not tolerate.
 * - **Counted pods**: on eligible nodes, in the pod's namespace, matching the selector, not being deleted. A
 *   selector `{}` counts no existing pod (recent schedulers), though the incoming pod still matches it.
 * - **Filter**: a node without the key fails (`… (missing required label)`, not resolvable by preemption); else with
 *   `matchNum` the count of its domain (0 when not a domain), `self` 1 when the pod matches the selector, and `min`
 *   the smallest count over the domains (0 when there are fewer than `minDomains`), the node fails when
 *   `matchNum + self − min > maxSkew`.
 *
 * The `v1.20` profile reproduces what the 1.20 scheduler does differently, for the differential test against it:
 * pods on nodes outside the pod's node affinity still count when their domain is an eligible one, pods on a node
 * without the key count in the domain of the empty value, `{}` counts every pod, there are no node inclusion policies
 * and no `minDomains`.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { affinityWords, int32, type PodConstraints } from './feasibility.js';
import type { NodeIndex } from './node-index.js';
import { candidateGroups, compilePodSelector, isEmptySelector, selectorMatches, type PodSelector } from './pod-selectors.js';
import type { PodIndex } from './pods.js';
import { REASON_SPREAD, REASON_SPREAD_MISSING_LABEL } from './reasons.js';
import { findUntoleratedTaint } from './taints.js';
import type { Labels, PlacementNode } from './types.js';

/** `whenUnsatisfiable` values: only `DoNotSchedule` filters (`ScheduleAnyway` is a score). */
export const WHEN_UNSATISFIABLE = ['DoNotSchedule', 'ScheduleAnyway'] as const;

/** Which scheduler's semantics: the current one, or 1.20's (the differential test's oracle). */
export type SchedulerProfile = 'current' | 'v1.20';

export interface SpreadConstraint {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly selector: PodSelector;
  readonly minDomains: number;
  readonly honorAffinity: boolean;
  readonly honorTaints: boolean;
}

export interface SpreadConstraints {
  readonly constraints: readonly SpreadConstraint[];
  readonly parseError: string | undefined;
}

/** The pod's DoNotSchedule constraints, compiled. */
export function spreadConstraints(pod: V1Pod): SpreadConstraints {
  const labels = pod.metadata?.labels ?? {};
  const constraints: SpreadConstraint[] = [];
  let parseError: string | undefined;
  for (const c of pod.spec?.topologySpreadConstraints ?? []) {
    if (c.whenUnsatisfiable !== 'DoNotSchedule') continue;
    const keys = (c.matchLabelKeys ?? []).filter((k) => Object.hasOwn(labels, k));
    const selector =
      c.labelSelector == null || keys.length === 0
        ? c.labelSelector
        : {
            ...c.labelSelector,
            matchExpressions: [
              ...(c.labelSelector.matchExpressions ?? []),
              ...keys.map((key) => ({ key, operator: 'In', values: [labels[key] as string] })),
            ],
          };
    const compiled = compilePodSelector(selector);
    if (compiled === undefined) {
      parseError = `topology spread constraint on ${c.topologyKey}: its label selector does not parse`;
      continue;
    }
    constraints.push({
      maxSkew: c.maxSkew,
      topologyKey: c.topologyKey,
      selector: compiled,
      minDomains: c.minDomains ?? 1,
      honorAffinity: (c.nodeAffinityPolicy ?? 'Honor') === 'Honor',
      honorTaints: c.nodeTaintsPolicy === 'Honor',
    });
  }
  return { constraints, parseError };
}

interface Domains {
  /** value → matching pods */
  readonly counts: Map<string, number>;
  readonly size: number;
  readonly min: number;
}

export interface SpreadState {
  readonly constraints: readonly SpreadConstraint[];
  readonly domains: readonly Domains[];
  readonly selfMatch: readonly boolean[];
  readonly parseError: string | undefined;
}

const labelOf = (node: PlacementNode, key: string): string | undefined => (Object.hasOwn(node.labels, key) ? node.labels[key] : undefined);

/** The eligible nodes of a constraint, one 32-bit pattern per word of node ids. */
function eligibleWords(c: PodConstraints, index: NodeIndex, keys: readonly string[], sc: SpreadConstraint, profile: SchedulerProfile): Int32Array {
  const out = new Int32Array(index.words);
  const live = int32(index.live.words);
  const affinity = sc.honorAffinity || profile === 'v1.20' ? affinityWords(c, index) : undefined;
  const keyPostings = keys.map((k) => index.withKey(k));
  if (keyPostings.some((p) => p === undefined)) return out;
  const honorTaints = sc.honorTaints && profile !== 'v1.20';
  const taintOk = new Map<number, boolean>();
  for (let w = 0; w < index.words; w++) {
    let bits = live[w] as number;
    for (const p of keyPostings) bits &= (p as NonNullable<typeof p>).word(w);
    if (bits !== 0 && affinity) bits &= affinity(w);
    if (bits !== 0 && honorTaints) {
      for (let rest = bits; rest !== 0;) {
        const bit = rest & -rest;
        rest ^= bit;
        const part = index.shapeTaints[index.shapeOfNode[(w << 5) + 31 - Math.clz32(bit)] as number] as number;
        let ok = taintOk.get(part);
        if (ok === undefined) {
          ok = findUntoleratedTaint(index.taintPart(part), c.tolerations) === undefined;
          taintOk.set(part, ok);
        }
        if (!ok) bits &= ~bit;
      }
    }
    out[w] = bits;
  }
  return out;
}

const has = (words: Int32Array, id: number) => (((words[id >>> 5] ?? 0) >>> (id & 31)) & 1) === 1;

export function spreadPreFilter(
  c: PodConstraints,
  spread: SpreadConstraints,
  nodes: NodeIndex,
  pods: PodIndex,
  namespace: string,
  labels: Labels,
  profile: SchedulerProfile = 'current',
): SpreadState {
  const keys = [...new Set(spread.constraints.map((s) => s.topologyKey))];
  const domains = spread.constraints.map((sc): Domains => {
    const eligible = eligibleWords(c, nodes, keys, sc, profile);
    const counts = new Map<string, number>();
    for (const [value, posting] of nodes.labelValues(sc.topologyKey)) if (posting.intersects(eligible)) counts.set(value, 0);
    const countEmpty = profile === 'v1.20' || !isEmptySelector(sc.selector);
    if (countEmpty && counts.size > 0) {
      for (const group of candidateGroups(pods, namespace, sc.selector)) {
        if (!selectorMatches(sc.selector, group.labels)) continue;
        for (const p of group.pods) {
          if (p.terminating) continue;
          const id = nodes.idOf(p.nodeName);
          if (id === undefined) continue;
          const node = nodes.node(id) as PlacementNode;
          // 1.20 reads a missing key as "" (`node.Labels[key]` in `calPreFilterState`, 1.20.2 filtering.go), so a
          // keyless node's pods count in the domain of nodes labelled with the empty value; current ones skip it.
          const value = labelOf(node, sc.topologyKey) ?? (profile === 'v1.20' ? '' : undefined);
          if (value === undefined) continue;
          // 1.20 counts every node of an eligible domain; current schedulers only eligible nodes.
          if (profile === 'current' ? !has(eligible, id) : !counts.has(value)) continue;
          counts.set(value, (counts.get(value) ?? 0) + 1);
        }
      }
    }
    let min = Number.MAX_SAFE_INTEGER;
    for (const n of counts.values()) if (n < min) min = n;
    if (profile === 'current' && counts.size < sc.minDomains) min = 0;
    return { counts, size: counts.size, min };
  });
  return {
    constraints: spread.constraints,
    domains,
    selfMatch: spread.constraints.map((sc) => selectorMatches(sc.selector, labels)),
    parseError: spread.parseError,
  };
}

/** The reason the node fails PodTopologySpread, or undefined when it passes. */
export function spreadFailure(s: SpreadState, node: PlacementNode): string | undefined {
  if (s.parseError) return s.parseError;
  for (let i = 0; i < s.constraints.length; i++) {
    const sc = s.constraints[i] as SpreadConstraint;
    const value = labelOf(node, sc.topologyKey);
    if (value === undefined) return REASON_SPREAD_MISSING_LABEL;
    const d = s.domains[i] as Domains;
    if (d.size === 0) continue;
    const matchNum = d.counts.get(value) ?? 0;
    if (matchNum + (s.selfMatch[i] ? 1 : 0) - d.min > sc.maxSkew) return REASON_SPREAD;
  }
  return undefined;
}

export const spreadUnresolvable = (reason: string): boolean => reason === REASON_SPREAD_MISSING_LABEL;
