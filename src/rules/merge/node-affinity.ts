import type { V1Affinity, V1NodeAffinity, V1NodeSelectorTerm, V1PodSpec, V1PreferredSchedulingTerm } from '@kubernetes/client-node';
import { sameJson } from '../../util/json.js';
import { appendMissing } from './lists.js';
import type { MergeReport } from './report.js';

/** More required node-affinity terms than this after combining a pod's with a rule's is refused. */
export const MAX_NODE_SELECTOR_TERMS = 64;

type Requirement = NonNullable<V1NodeSelectorTerm['matchExpressions']>[number];

const expressions = (t: V1NodeSelectorTerm): Requirement[] => t.matchExpressions ?? [];
const fields = (t: V1NodeSelectorTerm): Requirement[] => t.matchFields ?? [];
const isEmptyTerm = (t: V1NodeSelectorTerm) => expressions(t).length === 0 && fields(t).length === 0;
const includesAll = (have: Requirement[], want: Requirement[]) => want.every((w) => have.some((h) => sameJson(h, w)));

/** `outer` already implies `inner` when it holds every requirement of `inner` (a conjunction with more parts). */
function termImplies(outer: V1NodeSelectorTerm, inner: V1NodeSelectorTerm): boolean {
  return includesAll(expressions(outer), expressions(inner)) && includesAll(fields(outer), fields(inner));
}

/** The term that matches a node iff both `a` and `b` do: requirements concatenated, duplicates dropped. */
function conjoin(a: V1NodeSelectorTerm, b: V1NodeSelectorTerm): V1NodeSelectorTerm {
  const term: V1NodeSelectorTerm = {};
  const exprs = [...expressions(a)];
  appendMissing(exprs, expressions(b));
  const flds = [...fields(a)];
  appendMissing(flds, fields(b));
  if (exprs.length > 0) term.matchExpressions = exprs;
  if (flds.length > 0) term.matchFields = flds;
  return term;
}

const sameTerm = (a: V1NodeSelectorTerm, b: V1NodeSelectorTerm) => termImplies(a, b) && termImplies(b, a);

/**
 * Required node affinity is ANDed with the pod's, never appended to it.
 *
 * Node-selector terms are ORed, so appending a rule's term would *widen* what the pod accepts. Instead the pod's
 * terms T1..Tn and the rule's R1..Rm become every Ti ∧ Rj (requirements concatenated), deduplicated, so the pod
 * then runs on exactly the nodes that both its own constraint and the rule allow. Two refinements keep the result
 * small and the mutation idempotent:
 * - a pod term that already holds every requirement of some Rj already implies the rule, and is kept as it is;
 * - a pod term with no requirements matches no node, and stays so (ANDing cannot make it match anything).
 * With no required node affinity on the pod, the rule's terms are set. A pod whose required node affinity is present
 * but has no terms (an empty or missing list) matches no node (and fails API validation); it is left untouched.
 *
 * Combining stops as soon as the limit is passed: deduplication is quadratic, and a pod may carry thousands of terms.
 */
function mergeRequired(na: V1NodeAffinity, ruleTerms: readonly V1NodeSelectorTerm[], report: MergeReport): void {
  const required = na.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) {
    // Deduplicated like a combination, or a second pass would drop a term the rule lists twice.
    const nodeSelectorTerms: V1NodeSelectorTerm[] = [];
    for (const r of ruleTerms) if (!nodeSelectorTerms.some((t) => sameTerm(t, r))) nodeSelectorTerms.push(r);
    na.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms };
    return;
  }
  const podTerms = required.nodeSelectorTerms;
  if (podTerms == null || podTerms.length === 0) return;
  const keeps = (t: V1NodeSelectorTerm) => isEmptyTerm(t) || ruleTerms.some((r) => termImplies(t, r));
  // Already as narrow as the rule asks: nothing to combine, whatever the number of terms.
  if (podTerms.every(keeps)) return;
  const combined: V1NodeSelectorTerm[] = [];
  const add = (t: V1NodeSelectorTerm): boolean => {
    if (!combined.some((c) => sameTerm(c, t))) combined.push(t);
    return combined.length <= MAX_NODE_SELECTOR_TERMS;
  };
  const withinLimit = podTerms.every((t) => (keeps(t) ? add(t) : ruleTerms.every((r) => add(conjoin(t, r)))));
  if (!withinLimit) {
    report.failures.push(
      `combining the pod's ${podTerms.length} required node-affinity terms with the rule's ${ruleTerms.length} ` +
        `gives more than ${MAX_NODE_SELECTOR_TERMS} terms, the limit`,
    );
    return;
  }
  if (!sameJson(combined, podTerms)) required.nodeSelectorTerms = combined;
}

/** `spec.affinity.nodeAffinity`: required terms ANDed (see above), preferred terms appended when not present. */
export function mergeNodeAffinity(spec: V1PodSpec, wanted: V1NodeAffinity | undefined, report: MergeReport): void {
  const ruleTerms = wanted?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const preferred: readonly V1PreferredSchedulingTerm[] = wanted?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  if (ruleTerms.length === 0 && preferred.length === 0) return;
  const affinity: V1Affinity = (spec.affinity ??= {});
  const na: V1NodeAffinity = (affinity.nodeAffinity ??= {});
  if (ruleTerms.length > 0) mergeRequired(na, ruleTerms, report);
  if (preferred.length > 0) {
    appendMissing((na.preferredDuringSchedulingIgnoredDuringExecution ??= []), preferred);
  }
}
