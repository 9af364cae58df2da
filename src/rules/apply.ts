/**
 * Applying the rules to one pod: the mutation both the webhook and `check` perform.
 *
 * Rules apply in document order, each seeing the pod as the previous ones left it. A conflict (the pod already
 * sets a field differently) is resolved by the rule's `onConflict`: `keep` leaves the pod's value and warns,
 * `override` replaces it and warns, `reject` denies the pod, `skip` applies nothing of that rule and warns. The
 * input pod is never modified: the result is a mutated copy (sharing what no rule touches), and the caller diffs the
 * two to build the patch.
 *
 * Before the rules, the in-tree plugins the document opts into (`settings.compat`, see `compat/index.ts`) mutate the
 * pod or refuse it, as they come before the webhooks in the API server's admission chain.
 */
import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { mergePlacement, type Conflict } from './merge/index.js';
import type { Labels } from '../scheduling/types.js';
import type { CompiledRule, RuleSet } from './compile.js';
import { admitCompat, type NamespaceAnnotations } from '../compat/index.js';
import { matchingRules, skipReason } from './select.js';

export const APPLIED_RULES_ANNOTATION = 'placement-webhook/applied-rules';

interface MutationBase {
  /**
   * The pod after the rules: the input itself when no rule applied (or the pod was refused or left alone), else a
   * new object that shares every part the rules did not touch with the input (see `writableSpec`).
   */
  readonly pod: V1Pod;
  /** Names of the rules that matched the pod, in document order. */
  readonly appliedRules: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * What the rules did to a pod: applied (possibly nothing), refused (`onConflict: reject`, or a rule that cannot be
 * applied), or left alone altogether (excluded namespace, mirror pod, no spec, already bound).
 */
export type Mutation =
  | (MutationBase & { readonly kind: 'mutated'; readonly denial?: undefined; readonly skipped?: undefined })
  | (MutationBase & { readonly kind: 'denied'; readonly denial: string; readonly skipped?: undefined })
  | (MutationBase & { readonly kind: 'skipped'; readonly skipped: string; readonly denial?: undefined });

function conflictWarning(rule: CompiledRule, c: Conflict): string {
  const pod = c.existing === undefined ? '' : ` ${c.existing}`;
  const wanted = c.wanted === undefined ? '' : ` ${c.wanted}`;
  return rule.onConflict === 'override'
    ? `rule ${rule.name}: replaced the pod's ${c.subject}${pod}${wanted ? ` with${wanted}` : ''}`
    : `rule ${rule.name}: kept the pod's ${c.subject}${pod}${wanted ? ` (the rule sets${wanted})` : ' (the rule sets another value)'}`;
}

const conflictList = (conflicts: readonly Conflict[]): string =>
  conflicts
    .map((c) => (c.existing === undefined ? `${c.subject} differs` : `${c.subject} has ${c.existing}, the rule requires ${c.wanted}`))
    .join('; ');

function conflictDenial(rule: CompiledRule, conflicts: readonly Conflict[]): string {
  return `rule ${rule.name} (onConflict: reject): the pod's ${conflictList(conflicts)}`;
}

const skipWarning = (rule: CompiledRule, conflicts: readonly Conflict[]): string =>
  `rule ${rule.name} (onConflict: skip): not applied: the pod's ${conflictList(conflicts)}`;

/** The applied-rules annotation value: rules recorded earlier (a re-invocation) and now, in document order. */
function appliedRulesValue(pod: V1Pod, ruleSet: RuleSet, applied: readonly string[]): string {
  const previous = (pod.metadata?.annotations?.[APPLIED_RULES_ANNOTATION] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const names = new Set([...previous, ...applied]);
  const rank = (n: string) => ruleSet.order.get(n) ?? Number.MAX_SAFE_INTEGER;
  return [...names].sort((a, b) => rank(a) - rank(b)).join(',');
}

/**
 * A copy of `spec` that the merges may edit: they assign new values to `nodeSelector`, `tolerations`,
 * `topologySpreadConstraints`, `volumes` and to the `env`, `envFrom` and `volumeMounts` of each container, and edit
 * `affinity` in place. So the spec and each container are copied shallowly, `affinity` deeply when a rule to apply
 * injects affinity (`writesAffinity`); every other part (volumes' sources, resources, unknown fields) is shared with
 * the input, untouched.
 */
function writableSpec(spec: V1PodSpec, writesAffinity: boolean): V1PodSpec {
  const copy: V1PodSpec = { ...spec };
  // Only the affinity merges edit in place, and only when a rule injects affinity: else it stays shared.
  if (writesAffinity && spec.affinity != null) copy.affinity = structuredClone(spec.affinity);
  if (Array.isArray(spec.containers)) copy.containers = spec.containers.map((c) => ({ ...c }));
  if (Array.isArray(spec.initContainers)) copy.initContainers = spec.initContainers.map((c) => ({ ...c }));
  return copy;
}

/**
 * Applies the plugins of `settings.compat` and then the rules that match `pod`. `afterEach`, when given, sees the
 * spec after each rule merged (for callers that need to know which rule changed what, e.g. the one after which no
 * node matches any more). `namespaceAnnotations` are the namespace's (undefined: not known), for `settings.compat`.
 */
export function mutatePod(
  pod: V1Pod,
  ruleSet: RuleSet,
  namespace: string,
  namespaceLabels: Labels,
  afterEach?: (rule: CompiledRule, spec: Readonly<V1PodSpec>) => void,
  namespaceAnnotations?: NamespaceAnnotations,
): Mutation {
  const base = { pod, appliedRules: [], warnings: [] };
  const result = (over: Partial<MutationBase> = {}): Mutation => ({ ...base, ...over, kind: 'mutated' });
  const skip = (why: string): Mutation => ({ ...base, kind: 'skipped', skipped: why });
  const deny = (why: string, warnings: readonly string[]): Mutation => ({ ...base, warnings, kind: 'denied', denial: why });
  const skipped = skipReason(pod, namespace, ruleSet);
  if (skipped) return skip(skipped);
  if (!pod.spec) return skip('the pod has no spec');

  // Bound pods get the plugins' changes only (see below); the others, the rules that match too.
  const rules = pod.spec.nodeName ? [] : matchingRules(ruleSet, pod, namespace, namespaceLabels);
  // Only what the merges may change in place is copied (see `writableSpec`); the rest is shared, unchanged, so the
  // patch can only ever touch what the plugins and the rules inject.
  const mutated: V1Pod = {
    ...pod,
    metadata: { ...pod.metadata },
    spec: writableSpec(
      pod.spec,
      rules.some((r) => r.placement.affinity != null),
    ),
  };
  let spec = mutated.spec as NonNullable<V1Pod['spec']>;
  const warnings: string[] = [];
  // The plugins spare no pod: bound pods and DaemonSet pods get their changes too.
  const compat = admitCompat(pod, namespace, namespaceAnnotations, ruleSet.compat);
  if (compat.kind === 'refused') return deny(compat.message, []);
  warnings.push(...compat.warnings);
  let compatChanged = false;
  if (compat.nodeSelector) {
    spec.nodeSelector = { ...compat.nodeSelector };
    compatChanged = true;
  }
  if (compat.tolerations) {
    spec.tolerations = compat.tolerations.map((t) => ({ ...t }));
    compatChanged = true;
  }
  const compatOnly = (): Mutation => (compatChanged ? result({ pod: mutated, warnings }) : result({ warnings }));

  // Already bound: the kubelet would reject the pod if injected placement did not match its node.
  if (pod.spec.nodeName) return compatChanged ? compatOnly() : { ...skip(`already bound to node ${pod.spec.nodeName}`), warnings };

  if (rules.length === 0) return compatOnly();

  const appliedRules: string[] = [];
  for (const rule of rules) {
    // A rule that may be skipped merges into a copy, kept only when nothing conflicts.
    const skippable = rule.onConflict === 'skip';
    const target = skippable ? writableSpec(spec, rule.placement.affinity != null) : spec;
    const report = mergePlacement(target, rule.placement, rule.onConflict === 'override');
    const failure = report.failures[0];
    if (failure !== undefined) return deny(`rule ${rule.name} cannot be applied: ${failure}`, warnings);
    if (report.conflicts.length > 0 && rule.onConflict === 'reject') return deny(conflictDenial(rule, report.conflicts), warnings);
    if (skippable && report.conflicts.length > 0) {
      warnings.push(skipWarning(rule, report.conflicts));
      continue;
    }
    if (skippable) spec = mutated.spec = target;
    else warnings.push(...report.conflicts.map((c) => conflictWarning(rule, c)));
    appliedRules.push(rule.name);
    afterEach?.(rule, spec);
  }
  if (appliedRules.length === 0) return compatOnly();

  const value = appliedRulesValue(pod, ruleSet, appliedRules);
  const metadata = (mutated.metadata ??= {});
  if (metadata.annotations?.[APPLIED_RULES_ANNOTATION] !== value) {
    metadata.annotations = { ...(metadata.annotations ?? {}), [APPLIED_RULES_ANNOTATION]: value };
  }
  return result({ pod: mutated, appliedRules, warnings });
}
