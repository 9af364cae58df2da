/**
 * Taints and tolerations, after k8s.io/api `core/v1/toleration.go` (`ToleratesTaint`), k8s.io/component-helpers
 * `scheduling/corev1/helpers.go` (`FindMatchingUntoleratedTaint`) and the API server's `ValidateTolerations` and
 * `validateNodeTaints` in `pkg/apis/core/validation`.
 *
 * Only the `Equal` and `Exists` toleration operators are supported; newer API servers can enable `Lt`/`Gt` behind a
 * feature gate, and with the gate off (the default) such a toleration tolerates nothing, as here.
 */
import type { V1Taint, V1Toleration } from '@kubernetes/client-node';

import { child, fieldError, type FieldError } from '../util/errors.js';
import { validateLabelKey, validateLabelValue } from './labels.js';

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];
export const TOLERATION_OPERATORS = ['Equal', 'Exists'] as const;
export type TolerationOperator = (typeof TOLERATION_OPERATORS)[number];

/** The effects that keep a pod off a node; `PreferNoSchedule` only lowers the node's score. */
export const FILTERING_TAINT_EFFECTS: readonly TaintEffect[] = Object.freeze(['NoSchedule', 'NoExecute']);

/**
 * `spec.unschedulable: true` (a cordoned node) as the taint the scheduler treats it as, so that a cordoned node is
 * handled by the ordinary toleration logic instead of a special case.
 */
export const UNSCHEDULABLE_TAINT: Readonly<V1Taint> = Object.freeze({
  key: 'node.kubernetes.io/unschedulable',
  effect: 'NoSchedule',
});

/** Taints the node lifecycle controller adds for node conditions. */
export const CONDITION_TAINT_KEYS: readonly string[] = Object.freeze([
  'node.kubernetes.io/not-ready',
  'node.kubernetes.io/unreachable',
  'node.kubernetes.io/memory-pressure',
  'node.kubernetes.io/disk-pressure',
  'node.kubernetes.io/pid-pressure',
  'node.kubernetes.io/network-unavailable',
]);

const isTaintEffect = (effect: string): effect is TaintEffect => (TAINT_EFFECTS as readonly string[]).includes(effect);

/**
 * `ToleratesTaint`:
 * 1. an empty effect matches every effect, otherwise the effects must be equal;
 * 2. an empty key matches every key, otherwise the keys must be equal;
 * 3. operator `Exists` matches every value; `Equal` (the default when empty) compares values, a missing value being
 *    the empty string; any other operator tolerates nothing.
 *
 * So `{ operator: 'Exists' }` tolerates every taint. An empty key with `Equal` tolerates every taint whose value is
 * empty; the API server rejects that toleration, but it is what the scheduler does with one.
 */
export function tolerates(toleration: V1Toleration, taint: V1Taint): boolean {
  const effect = toleration.effect ?? '';
  if (effect !== '' && effect !== taint.effect) return false;
  const key = toleration.key ?? '';
  if (key !== '' && key !== taint.key) return false;
  switch (toleration.operator ?? '') {
    case '':
    case 'Equal':
      return (toleration.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/**
 * `FindMatchingUntoleratedTaint`: the first taint with one of `effects` that no toleration tolerates, or `undefined`
 * when the pod tolerates them all. The default effects are those the scheduler filters on (`NoSchedule`,
 * `NoExecute`); `PreferNoSchedule` never keeps a pod off a node.
 */
export function findUntoleratedTaint(
  taints: readonly V1Taint[],
  tolerations: readonly V1Toleration[],
  effects: readonly string[] = FILTERING_TAINT_EFFECTS,
): V1Taint | undefined {
  return taints.find((taint) => effects.includes(taint.effect) && !tolerations.some((t) => tolerates(t, taint)));
}

/**
 * The API server's rules for one toleration: a non-empty key is a label key; an empty key requires operator
 * `Exists`; `tolerationSeconds` requires effect `NoExecute`; the operator is `Equal` (or empty) with a valid label
 * value, or `Exists` with no value; a non-empty effect is `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
 */
export function validateToleration(toleration: V1Toleration, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const key = toleration.key ?? '';
  const operator = toleration.operator ?? '';
  const value = toleration.value ?? '';
  const effect = toleration.effect ?? '';
  if (key !== '') errors.push(...validateLabelKey(key, child(path, 'key')));
  if (key === '' && operator !== 'Exists') {
    errors.push(
      fieldError.invalid(
        child(path, 'operator'),
        operator,
        'operator must be Exists when `key` is empty, which means "match all values and all keys"',
      ),
    );
  }
  if (toleration.tolerationSeconds != null && effect !== 'NoExecute') {
    const why = "effect must be 'NoExecute' when `tolerationSeconds` is set";
    errors.push(fieldError.invalid(child(path, 'effect'), effect, why));
  }
  switch (operator) {
    case '':
    case 'Equal':
      errors.push(...validateLabelValue(value, child(path, 'value')));
      break;
    case 'Exists':
      if (value !== '') errors.push(fieldError.forbidden(child(path, 'value'), "must be empty when `operator` is 'Exists'"));
      break;
    default:
      errors.push(fieldError.notSupported(child(path, 'operator'), operator, TOLERATION_OPERATORS));
  }
  if (effect !== '' && !isTaintEffect(effect)) {
    errors.push(fieldError.notSupported(child(path, 'effect'), effect, TAINT_EFFECTS));
  }
  return errors;
}

/** The API server's rules for one node taint: a required label key, a label value, a required supported effect. */
export function validateTaint(taint: V1Taint, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const key = taint.key ?? '';
  const effect = taint.effect ?? '';
  if (key === '') errors.push(fieldError.required(child(path, 'key')));
  else errors.push(...validateLabelKey(key, child(path, 'key')));
  errors.push(...validateLabelValue(taint.value ?? '', child(path, 'value')));
  if (effect === '') errors.push(fieldError.required(child(path, 'effect')));
  else if (!isTaintEffect(effect)) errors.push(fieldError.notSupported(child(path, 'effect'), effect, TAINT_EFFECTS));
  return errors;
}

/** Validates each taint, and that taints are unique by key and effect, as `validateNodeTaints` does. */
export function validateTaints(taints: readonly V1Taint[], path: string): FieldError[] {
  const seen = new Set<string>();
  return taints.flatMap((taint, i) => {
    const errors = validateTaint(taint, child(path, i));
    const identity = JSON.stringify([taint.key, taint.effect]);
    if (seen.has(identity)) {
      errors.push(fieldError.duplicate(child(path, i), `${taint.key}:${taint.effect}`));
    }
    seen.add(identity);
    return errors;
  });
}

/**
 * Whether two tolerations are the same once defaults are applied: a missing (or empty) operator is `Equal`, a
 * missing key, value or effect is the empty string, and a missing `tolerationSeconds` (or `null`) means "forever".
 * Use it to avoid injecting a toleration a pod already has.
 */
export function sameToleration(a: V1Toleration, b: V1Toleration): boolean {
  const operator = (t: V1Toleration): string => (t.operator == null || t.operator === '' ? 'Equal' : t.operator);
  return (
    (a.key ?? '') === (b.key ?? '') &&
    operator(a) === operator(b) &&
    (a.value ?? '') === (b.value ?? '') &&
    (a.effect ?? '') === (b.effect ?? '') &&
    (a.tolerationSeconds ?? undefined) === (b.tolerationSeconds ?? undefined)
  );
}
