/**
 * InterPodAffinity, the scheduler's last filter: required pod affinity and anti-affinity of the incoming pod, and the
 * required anti-affinity of the pods already placed, after `pkg/scheduler/framework/plugins/interpodaffinity`
 * (`filtering.go`: `PreFilter`, `satisfyPodAffinity`, `satisfyPodAntiAffinity`, `satisfyExistingPodsAntiAffinity`;
 * `plugin.go`; the `AffinityTerm` of `framework/types.go`).
 *
 * - A term matches a pod when the pod's namespace is in the term's namespaces, or its namespace's labels match the
 *   term's `namespaceSelector` (the two are ORed), and its labels match the term's `labelSelector`. Empty
 *   `namespaces` and no `namespaceSelector` mean the term owner's namespace; `namespaceSelector: {}` means all.
 *   A nil `labelSelector` matches no pod. (`matchLabelKeys`/`mismatchLabelKeys` the API server merges into the
 *   selector at creation: a validating webhook sees them merged; see `withMatchLabelKeys` for templates.)
 * - Pre-computed once per pod ("PreFilter"), over pods on nodes that exist:
 *   - affinity counts: pods matching **all** the incoming pod's affinity terms, per term's topology domain;
 *   - anti-affinity counts: pods matching **each** incoming anti-affinity term, per domain;
 *   - existing anti-affinity: domains of pods whose own required anti-affinity term matches the incoming pod.
 * - Per node, in this order: affinity (a node lacking any term's topology key fails; a node whose domain holds no
 *   matching pod fails — unless no pod anywhere matches all the terms and the pod matches them itself: the first
 *   of a self-affine group may go to any node that has every key), anti-affinity (a node in a domain holding a
 *   matching pod fails; a node without the key passes), existing pods' anti-affinity (a node sharing a label
 *   `key=value` with the domain of such a pod fails).
 * - Affinity failures cannot be resolved by preemption; anti-affinity failures can (lower-priority pods in the way).
 */
import type { V1Pod, V1PodAffinityTerm } from '@kubernetes/client-node';
import type { NodeIndex } from './node-index.js';
import { candidateGroups, compilePodSelector, EVERYTHING, NOTHING, selectorMatches, type PodSelector } from './pod-selectors.js';
import type { PlacedPod, PodIndex } from './pods.js';
import { REASON_EXISTING_ANTI_AFFINITY, REASON_POD_AFFINITY, REASON_POD_ANTI_AFFINITY } from './reasons.js';
import type { Labels, PlacementNode } from './types.js';

export interface AffinityTerm {
  readonly namespaces: ReadonlySet<string>;
  readonly namespaceSelector: PodSelector;
  readonly selector: PodSelector;
  readonly topologyKey: string;
}

/** Namespace labels by name (a namespace not known has none). */
export type NamespaceLabels = (namespace: string) => Labels;

/** A term of a pod of `namespace`; undefined when its selectors do not parse. */
export function compileAffinityTerm(term: V1PodAffinityTerm, namespace: string): AffinityTerm | undefined {
  const selector = compilePodSelector(term.labelSelector);
  const namespaceSelector = term.namespaceSelector == null ? NOTHING : compilePodSelector(term.namespaceSelector);
  if (selector === undefined || namespaceSelector === undefined) return undefined;
  const listed = term.namespaces ?? [];
  const namespaces = new Set(listed.length === 0 && term.namespaceSelector == null ? [namespace] : listed);
  return { namespaces, namespaceSelector, selector, topologyKey: term.topologyKey ?? '' };
}

export function termMatchesPod(t: AffinityTerm, pod: { namespace: string; labels: Labels }, nsLabels: NamespaceLabels): boolean {
  const inNamespace =
    t.namespaces.has(pod.namespace) || (t.namespaceSelector.kind !== 'nothing' && selectorMatches(t.namespaceSelector, nsLabels(pod.namespace)));
  return inNamespace && selectorMatches(t.selector, pod.labels);
}

/** The pods of the index a term may match (by namespace, then one posting), each still to be checked. */
function* candidates(t: AffinityTerm, index: PodIndex, nsLabels: NamespaceLabels): IterableIterator<PlacedPod> {
  const namespaces =
    t.namespaceSelector.kind === 'nothing'
      ? t.namespaces
      : new Set([
          ...t.namespaces,
          ...[...index.namespaces()].filter((ns) => t.namespaceSelector === EVERYTHING || selectorMatches(t.namespaceSelector, nsLabels(ns))),
        ]);
  for (const ns of namespaces) {
    for (const group of candidateGroups(index, ns, t.selector)) {
      if (!selectorMatches(t.selector, group.labels)) continue;
      yield* group.pods;
    }
  }
}

/** key → value → count */
type DomainCounts = Map<string, Map<string, number>>;

function bump(counts: DomainCounts, key: string, value: string): void {
  let values = counts.get(key);
  if (!values) {
    values = new Map();
    counts.set(key, values);
  }
  values.set(value, (values.get(value) ?? 0) + 1);
}

const labelOf = (node: PlacementNode, key: string): string | undefined => (Object.hasOwn(node.labels, key) ? node.labels[key] : undefined);

/** The incoming pod's pod-affinity constraints, compiled. */
export interface InterPodConstraints {
  readonly namespace: string;
  readonly labels: Labels;
  readonly affinity: readonly AffinityTerm[];
  readonly antiAffinity: readonly AffinityTerm[];
  /** Why the pod's own terms cannot be read (the scheduler refuses it on every node), or undefined. */
  readonly parseError: string | undefined;
}

/**
 * `matchLabelKeys`/`mismatchLabelKeys` merged into the selector as the API server merges them when it creates the
 * pod (`applyMatchLabelKeysAndMismatchLabelKeys`): each key the pod has adds `key In [its value]` (or `NotIn`); a nil
 * selector stays nil. Merging a selector that already holds them adds the same requirement again: no change.
 */
export function withMatchLabelKeys(term: V1PodAffinityTerm, labels: Labels): V1PodAffinityTerm {
  const match = (term.matchLabelKeys ?? []).filter((k) => Object.hasOwn(labels, k));
  const mismatch = (term.mismatchLabelKeys ?? []).filter((k) => Object.hasOwn(labels, k));
  if (term.labelSelector == null || match.length + mismatch.length === 0) return term;
  const added = [
    ...match.map((key) => ({ key, operator: 'In', values: [labels[key] as string] })),
    ...mismatch.map((key) => ({ key, operator: 'NotIn', values: [labels[key] as string] })),
  ];
  return { ...term, labelSelector: { ...term.labelSelector, matchExpressions: [...(term.labelSelector.matchExpressions ?? []), ...added] } };
}

export function interPodConstraints(pod: V1Pod, namespace: string): InterPodConstraints {
  const labels = pod.metadata?.labels ?? {};
  const read = (terms: readonly V1PodAffinityTerm[] | undefined) =>
    (terms ?? []).map((t) => compileAffinityTerm(withMatchLabelKeys(t, labels), namespace));
  const affinity = read(pod.spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
  const antiAffinity = read(pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
  const broken = [...affinity, ...antiAffinity].some((t) => t === undefined);
  return {
    namespace,
    labels,
    affinity: affinity.filter((t): t is AffinityTerm => t !== undefined),
    antiAffinity: antiAffinity.filter((t): t is AffinityTerm => t !== undefined),
    parseError: broken ? 'a required pod (anti-)affinity term has a label selector that does not parse' : undefined,
  };
}

export const hasInterPodTerms = (c: InterPodConstraints): boolean => c.affinity.length > 0 || c.antiAffinity.length > 0;

/** What `PreFilter` computes, then read per node. */
export interface InterPodState {
  readonly c: InterPodConstraints;
  readonly affinityCounts: DomainCounts;
  readonly antiAffinityCounts: DomainCounts;
  /** Domains (key → values) of existing pods whose anti-affinity the incoming pod would break. */
  readonly existing: Map<string, Set<string>>;
  /** The pod matches all its own affinity terms (the first of a self-affine group). */
  readonly selfMatchesAll: boolean;
}

/** Existing pods' terms are compiled once per (interned) term list and namespace. */
const compiledExisting = new WeakMap<readonly V1PodAffinityTerm[], Map<string, readonly AffinityTerm[]>>();
function existingTerms(pod: PlacedPod): readonly AffinityTerm[] {
  let byNs = compiledExisting.get(pod.antiAffinity);
  if (!byNs) {
    byNs = new Map();
    compiledExisting.set(pod.antiAffinity, byNs);
  }
  let terms = byNs.get(pod.namespace);
  if (!terms) {
    // A term of an existing pod that does not parse is ignored, as the scheduler ignores it.
    terms = pod.antiAffinity.map((t) => compileAffinityTerm(t, pod.namespace)).filter((t): t is AffinityTerm => t !== undefined);
    byNs.set(pod.namespace, terms);
  }
  return terms;
}

export function interPodPreFilter(c: InterPodConstraints, nodes: NodeIndex, pods: PodIndex, nsLabels: NamespaceLabels): InterPodState {
  const affinityCounts: DomainCounts = new Map();
  const antiAffinityCounts: DomainCounts = new Map();
  const existing = new Map<string, Set<string>>();
  const [first, ...rest] = c.affinity;
  if (first) {
    for (const p of candidates(first, pods, nsLabels)) {
      const node = nodes.get(p.nodeName);
      if (!node || !termMatchesPod(first, p, nsLabels) || !rest.every((t) => termMatchesPod(t, p, nsLabels))) continue;
      for (const t of c.affinity) {
        const v = labelOf(node, t.topologyKey);
        if (v !== undefined) bump(affinityCounts, t.topologyKey, v);
      }
    }
  }
  for (const t of c.antiAffinity) {
    for (const p of candidates(t, pods, nsLabels)) {
      const node = nodes.get(p.nodeName);
      const v = node && labelOf(node, t.topologyKey);
      if (v !== undefined && termMatchesPod(t, p, nsLabels)) bump(antiAffinityCounts, t.topologyKey, v);
    }
  }
  const incoming = { namespace: c.namespace, labels: c.labels };
  for (const p of pods.antiAffinityFor(c.labels)) {
    const node = nodes.get(p.nodeName);
    if (!node) continue;
    for (const t of existingTerms(p)) {
      const v = labelOf(node, t.topologyKey);
      if (v === undefined || !termMatchesPod(t, incoming, nsLabels)) continue;
      let values = existing.get(t.topologyKey);
      if (!values) {
        values = new Set();
        existing.set(t.topologyKey, values);
      }
      values.add(v);
    }
  }
  const selfMatchesAll = c.affinity.length > 0 && c.affinity.every((t) => termMatchesPod(t, incoming, nsLabels));
  return { c, affinityCounts, antiAffinityCounts, existing, selfMatchesAll };
}

/** The reason the node fails InterPodAffinity, or undefined when it passes. */
export function interPodFailure(s: InterPodState, node: PlacementNode): string | undefined {
  if (s.c.parseError) return s.c.parseError;
  if (s.c.affinity.length > 0) {
    let podsExist = true;
    for (const t of s.c.affinity) {
      const v = labelOf(node, t.topologyKey);
      if (v === undefined) return REASON_POD_AFFINITY;
      if ((s.affinityCounts.get(t.topologyKey)?.get(v) ?? 0) <= 0) podsExist = false;
    }
    if (!podsExist && !(s.affinityCounts.size === 0 && s.selfMatchesAll)) return REASON_POD_AFFINITY;
  }
  for (const t of s.c.antiAffinity) {
    const v = labelOf(node, t.topologyKey);
    if (v !== undefined && (s.antiAffinityCounts.get(t.topologyKey)?.get(v) ?? 0) > 0) return REASON_POD_ANTI_AFFINITY;
  }
  for (const [key, values] of s.existing) {
    const v = labelOf(node, key);
    if (v !== undefined && values.has(v)) return REASON_EXISTING_ANTI_AFFINITY;
  }
  return undefined;
}

/** Reasons preemption (evicting lower-priority pods) can never resolve. */
export const interPodUnresolvable = (reason: string): boolean => reason === REASON_POD_AFFINITY;
