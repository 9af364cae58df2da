/**
 * Label selectors as the scheduler reads them in pod affinity terms and topology spread constraints
 * (`metav1.LabelSelectorAsSelector`): unlike the selectors of our rules, a *nil* selector matches no pod, `{}`
 * matches every pod, and a selector that does not parse is an error (for the incoming pod: it cannot be
 * scheduled; for an existing pod's term: the term is ignored).
 *
 * A compiled selector also names one `key=value` it requires, when it has one, so that the pods to look at come from
 * one posting of the pod index instead of a whole namespace.
 */
import type { V1LabelSelector } from '@kubernetes/client-node';
import { requirementMatches, validateLabelSelector } from './labels.js';
import type { LabelGroup, PodIndex } from './pods.js';
import type { Labels } from './types.js';

export type PodSelector =
  | { readonly kind: 'nothing' }
  | { readonly kind: 'everything' }
  | {
      readonly kind: 'match';
      readonly requirements: readonly { readonly key: string; readonly operator: string; readonly values: ReadonlySet<string> }[];
      /** One `key=value` every matching label set has. */
      readonly equality: readonly [string, string] | undefined;
    };

export const NOTHING: PodSelector = Object.freeze({ kind: 'nothing' });
export const EVERYTHING: PodSelector = Object.freeze({ kind: 'everything' });

/** `LabelSelectorAsSelector`; undefined when the selector does not parse. */
export function compilePodSelector(selector: V1LabelSelector | null | undefined): PodSelector | undefined {
  if (selector == null) return NOTHING;
  if (validateLabelSelector(selector, '').length > 0) return undefined;
  const requirements = [
    ...Object.entries(selector.matchLabels ?? {}).map(([key, v]) => ({ key, operator: 'In', values: new Set([v]) })),
    ...(selector.matchExpressions ?? []).map((e) => ({ key: e.key, operator: e.operator, values: new Set(e.values ?? []) })),
  ];
  if (requirements.length === 0) return EVERYTHING;
  const single = requirements.find((r) => r.operator === 'In' && r.values.size === 1);
  return { kind: 'match', requirements, equality: single ? [single.key, [...single.values][0] as string] : undefined };
}

export function selectorMatches(s: PodSelector, labels: Labels): boolean {
  switch (s.kind) {
    case 'nothing':
      return false;
    case 'everything':
      return true;
    case 'match':
      return s.requirements.every((r) => requirementMatches(r, labels));
  }
}

/** `selector.Empty()`: `{}`, which recent schedulers count no existing pods for in topology spread. */
export const isEmptySelector = (s: PodSelector): boolean => s.kind === 'everything';

/** The label groups of `namespace` a selector may match, from one posting when it names a `key=value`. */
export function candidateGroups(index: PodIndex, namespace: string, s: PodSelector): Iterable<LabelGroup> {
  if (s.kind === 'nothing') return [];
  if (s.kind === 'match' && s.equality) return index.groupsWith(namespace, s.equality[0], s.equality[1]) ?? [];
  return index.groupsIn(namespace);
}
