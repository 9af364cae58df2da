/**
 * Drift from the rules: a pod a rule matches that lacks what the rule injects — created before the rule, or while
 * the webhook was unavailable (`failurePolicy: Ignore` let it through unmutated).
 *
 * The pod is judged as if it were created now: `mutatePod` (the webhook's own mutation) on a copy without
 * `spec.nodeName` (the webhook skips bound pods, but the pod's controller creates unbound ones). What that mutation
 * would change is the drift, and its JSON patch is reported. A patch that only records the applied-rules annotation
 * is not drift: the pod has what the rules inject (written by hand, or a rule renamed). A rule `onConflict: reject`
 * that would refuse the pod now is a `rule-denial`: the next pod its controller creates is refused.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Operation } from 'fast-json-patch';
import { diff } from '../admission/response.js';
import { APPLIED_RULES_ANNOTATION, mutatePod } from '../rules/apply.js';
import type { RuleSet } from '../rules/compile.js';
import type { Labels } from '../scheduling/types.js';
import { sameJson } from '../util/json.js';
import type { Finding, ObjectRef } from './findings.js';

/** Kinds `kubectl rollout restart` takes. */
const ROLLED_OUT = ['Deployment', 'StatefulSet', 'DaemonSet'];

const isAnnotationOp = (op: Operation) => op.path === '/metadata/annotations' || op.path.startsWith('/metadata/annotations/');

/** `/spec/containers/0/env/-` → `containers[].env`; `/spec/nodeSelector/disktype` → `nodeSelector`. */
function fieldOf(path: string): string {
  const [, root, field, , sub] = path.split('/');
  if (root !== 'spec') return root ?? path;
  if ((field === 'containers' || field === 'initContainers') && sub) return `${field}[].${sub}`;
  return field ?? path;
}

/** The pod its controller creates now (its template as a pod), for telling a value the template sets from a stale one. */
export interface TemplateCheck {
  readonly pod: V1Pod;
  readonly ruleSet: RuleSet;
  readonly namespace: string;
  readonly labels: Labels;
}

/** `rule NAME: kept the pod's …` — `mutatePod`'s warning for a conflict resolved by `onConflict: keep`. */
const KEPT = /^rule (\S+): kept the pod's /;

/**
 * A pod whose value for what a rule injects came from an earlier version of that rule (its applied-rules annotation
 * names the rule, and the rule now sets another value, which `onConflict: keep` leaves alone on this pod): the
 * webhook would not patch it, but the pods its controller creates now get the rule's new value. Drift, without a
 * patch — said only when the owner's template is known and does not set that value itself (a value the template
 * sets, kept by the rule, looks the same on the pod).
 */
function staleFinding(
  pod: V1Pod,
  warnings: readonly string[],
  base: Omit<Finding, 'kind' | 'severity' | 'rule' | 'message'>,
  owner: ObjectRef | undefined,
  template: TemplateCheck | undefined,
): Finding | undefined {
  // A value the pod's own template sets is kept on every pod: only the template tells the two apart.
  if (!template) return undefined;
  const applied = new Set((pod.metadata?.annotations?.[APPLIED_RULES_ANNOTATION] ?? '').split(',').map((r) => r.trim()));
  const fromTemplate = new Set(mutatePod(template.pod, template.ruleSet, template.namespace, template.labels).warnings);
  const stale = warnings.filter((w) => applied.has(KEPT.exec(w)?.[1] ?? '') && !fromTemplate.has(w));
  if (stale.length === 0) return undefined;
  const rules = [...new Set(stale.map((w) => KEPT.exec(w)?.[1] ?? ''))];
  const next = owner ? `the next pods of ${owner.kind} ${owner.name} get what the rule sets now` : 'a pod created now gets what the rule sets now';
  return {
    kind: 'drift',
    severity: 'warn',
    ...base,
    rule: rules.join(','),
    message: `${stale.join('; ')}: the pod's value came from an earlier version of the rule (its ${APPLIED_RULES_ANNOTATION} annotation names it); ${next}`,
  };
}

/** The pod as its controller would create it now: the same pod, not yet bound. */
export function unbound(pod: V1Pod): V1Pod {
  if (!pod.spec || pod.spec.nodeName === undefined) return pod;
  const { nodeName: _, ...spec } = pod.spec;
  return { ...pod, spec };
}

/** The rules whose merge changed the pod (those whose injections it lacks). */
function changingRules(pod: V1Pod, ruleSet: RuleSet, namespace: string, labels: Labels): string[] {
  const names: string[] = [];
  let before = structuredClone(pod.spec);
  mutatePod(pod, ruleSet, namespace, labels, (rule, spec) => {
    if (!sameJson(before, spec)) names.push(rule.name);
    before = structuredClone(spec);
  });
  return names;
}

/** The drift finding of one pod, or undefined when the rules would not change it. */
export function driftFinding(
  pod: V1Pod,
  namespace: string,
  labels: Labels,
  ruleSet: RuleSet,
  object: ObjectRef,
  owner: ObjectRef | undefined,
  template?: V1Pod,
): Finding | undefined {
  const fresh = unbound(pod);
  const mutation = mutatePod(fresh, ruleSet, namespace, labels);
  const base = { namespace, object, ...(owner ? { owner } : {}), ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}) };
  const fix = owner ? `; its next pods would be refused (${owner.kind} ${owner.name})` : '';
  if (mutation.kind === 'skipped') return undefined;
  if (mutation.kind === 'denied') {
    const rule = /^rule (\S+)/.exec(mutation.denial)?.[1] ?? '';
    return {
      kind: 'rule-denial',
      severity: 'fail',
      ...base,
      rule,
      message: `the rules would refuse this pod if it were created now: ${mutation.denial}${fix}`,
    };
  }
  const patch = diff(fresh, mutation.pod);
  if (!patch.some((op) => !isAnnotationOp(op)))
    return staleFinding(pod, mutation.warnings, base, owner, template && { pod: template, ruleSet, namespace, labels });
  const fields = [...new Set(patch.filter((op) => !isAnnotationOp(op)).map((op) => fieldOf(op.path)))];
  const rules = changingRules(fresh, ruleSet, namespace, labels);
  const named = rules.length === 1 ? `rule ${rules[0]}` : `rules ${rules.join(', ')}`;
  const rollout = !owner
    ? '; recreate the pod to fix it'
    : ROLLED_OUT.includes(owner.kind)
      ? `; fix: kubectl rollout restart ${owner.kind.toLowerCase()}/${owner.name} -n ${namespace} (a pod's placement cannot be edited)`
      : `; the next pods of ${owner.kind} ${owner.name} get it`;
  return {
    kind: 'drift',
    severity: 'warn',
    ...base,
    rule: rules.join(','),
    message: `${named} would inject ${fields.join(', ')}, which the pod lacks (created before the rule, or while the webhook was unavailable)${rollout}`,
    patch,
  };
}
