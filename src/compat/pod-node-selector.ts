/**
 * The PodNodeSelector admission plugin's semantics, pure: a namespace's node selector merged into its pods'
 * `nodeSelector`, refused when they conflict, and checked against a per-namespace whitelist.
 *
 * Followed: `kubernetes/kubernetes` v1.20 `plugin/pkg/admission/podnodeselector/admission.go` — `getNodeSelectorMap`
 * (which selector a namespace has), `Admit` (conflict refusal, then merge), `Validate` (conflict and whitelist, on the
 * final pod), `isSubset`; and `staging/src/k8s.io/apimachinery/pkg/labels/labels.go` — `ConvertSelectorToLabelsMap`,
 * `Conflicts`, `Merge`. The plugin handles pods on CREATE only (`admission.NewHandler(admission.Create)`).
 *
 * - The namespace's selector is its annotation `scheduler.alpha.kubernetes.io/node-selector` when the annotation is
 *   present, whatever its value: `""` is an empty selector, which opts the namespace out of the cluster default.
 *   Without the annotation, the cluster default (`clusterDefaultNodeSelector` of the plugin's configuration) applies.
 * - A selector is `k=v,k2=v2`: split on `,`, each part split on `=` into exactly two parts, key and value trimmed of
 *   spaces and validated as a label key and a label value. Anything else is an error, and the pod is refused.
 * - A pod whose `nodeSelector` has a key of the namespace's selector with another value is refused; otherwise the
 *   namespace's pairs are added (the pod's own pairs stay as they are).
 * - The whitelist of a namespace is the configuration's entry named after the namespace (`k=v,...`): when it is
 *   not empty, every pair of the final pod's `nodeSelector` must be in it, else the pod is refused.
 *
 * Words are the plugin's, so that a refusal reads the same as it did.
 */
import { labelKeyProblems, labelValueProblems } from '../scheduling/labels.js';
import type { Labels } from '../scheduling/types.js';

export const NODE_SELECTOR_ANNOTATION = 'scheduler.alpha.kubernetes.io/node-selector';
/** The configuration's key for the cluster default; every other key names a namespace (its whitelist). */
export const CLUSTER_DEFAULT_KEY = 'clusterDefaultNodeSelector';

export const CONFLICT_MESSAGE = 'pod node label selector conflicts with its namespace node label selector';
export const WHITELIST_MESSAGE = 'pod node label selector labels conflict with its namespace whitelist';

/**
 * What the plugin reads from its configuration file (`podNodeSelectorPluginConfig`): `clusterDefaultNodeSelector`
 * and one whitelist per namespace name, each a `k=v,...` string.
 */
export type PodNodeSelectorConfig = Readonly<Record<string, string>>;

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** `ConvertSelectorToLabelsMap`: `""` is the empty map; each `,`-separated part must be exactly `key=value`. */
export function parseSelectorMap(selector: string): Parsed<Labels> {
  const out: Record<string, string> = {};
  if (selector.length === 0) return { ok: true, value: out };
  for (const part of selector.split(',')) {
    const kv = part.split('=');
    if (kv.length !== 2) return { ok: false, error: `invalid selector: [${kv.join(' ')}]` };
    const key = (kv[0] as string).trim();
    const keyProblems = labelKeyProblems(key);
    if (keyProblems.length > 0) return { ok: false, error: `invalid label key "${key}": ${keyProblems.join('; ')}` };
    const value = (kv[1] as string).trim();
    const valueProblems = labelValueProblems(value);
    if (valueProblems.length > 0) {
      return { ok: false, error: `invalid label value: "${value}": at key: "${key}": ${valueProblems.join('; ')}` };
    }
    out[key] = value;
  }
  return { ok: true, value: out };
}

/** `labels.Conflicts`: some key of both with different values. */
export function conflicts(a: Labels, b: Labels): boolean {
  return Object.keys(a).some((k) => Object.hasOwn(b, k) && b[k] !== a[k]);
}

/**
 * `getNodeSelectorMap`: the namespace's node selector — its annotation when present (even `""`), else the cluster
 * default. An annotation or a default that does not parse is an error (the plugin then refuses the pod).
 */
export function namespaceNodeSelector(annotations: Readonly<Record<string, string>>, config: PodNodeSelectorConfig): Parsed<Labels> {
  if (Object.hasOwn(annotations, NODE_SELECTOR_ANNOTATION)) {
    const parsed = parseSelectorMap(annotations[NODE_SELECTOR_ANNOTATION] as string);
    return parsed.ok ? parsed : { ok: false, error: `namespace annotation ${NODE_SELECTOR_ANNOTATION}: ${parsed.error}` };
  }
  const parsed = parseSelectorMap(Object.hasOwn(config, CLUSTER_DEFAULT_KEY) ? (config[CLUSTER_DEFAULT_KEY] as string) : '');
  return parsed.ok ? parsed : { ok: false, error: `${CLUSTER_DEFAULT_KEY}: ${parsed.error}` };
}

export type NodeSelectorAdmission =
  { readonly kind: 'admitted'; readonly nodeSelector: Labels; readonly changed: boolean } | { readonly kind: 'refused'; readonly message: string };

/**
 * `Admit`: refuses a pod whose `nodeSelector` conflicts with the namespace's selector, else adds the namespace's
 * pairs. `changed` is false when the pod already had every pair (the pod is then left as it is).
 */
export function admitNodeSelector(podNodeSelector: Labels | undefined, namespaceSelector: Labels): NodeSelectorAdmission {
  const pod = podNodeSelector ?? {};
  if (conflicts(namespaceSelector, pod)) return { kind: 'refused', message: CONFLICT_MESSAGE };
  const missing = Object.keys(namespaceSelector).filter((k) => !Object.hasOwn(pod, k));
  if (missing.length === 0) return { kind: 'admitted', nodeSelector: pod, changed: false };
  return { kind: 'admitted', nodeSelector: { ...namespaceSelector, ...pod }, changed: true };
}

/** `isSubset`: every pair of `sub` is in `whitelist`; an empty whitelist allows everything. */
export function withinWhitelist(sub: Labels, whitelist: Labels): boolean {
  if (Object.keys(whitelist).length === 0) return true;
  return Object.entries(sub).every(([k, v]) => Object.hasOwn(whitelist, k) && whitelist[k] === v);
}

/**
 * `Validate`, on the final pod (after every mutation, ours included): no conflict with the namespace's selector, and
 * within the namespace's whitelist. Returns why the pod is refused, or undefined.
 */
export function validateNodeSelector(
  finalNodeSelector: Labels | undefined,
  namespace: string,
  namespaceSelector: Labels,
  config: PodNodeSelectorConfig,
): string | undefined {
  const pod = finalNodeSelector ?? {};
  if (conflicts(namespaceSelector, pod)) return CONFLICT_MESSAGE;
  const whitelist = parseSelectorMap(Object.hasOwn(config, namespace) && namespace !== CLUSTER_DEFAULT_KEY ? (config[namespace] as string) : '');
  if (!whitelist.ok) return `whitelist of namespace ${namespace}: ${whitelist.error}`;
  return withinWhitelist(pod, whitelist.value) ? undefined : WHITELIST_MESSAGE;
}

/** Configuration errors found before any pod is seen (each `k=v,...` string that does not parse), by key. */
export function configProblems(config: PodNodeSelectorConfig): { key: string; error: string }[] {
  return Object.entries(config).flatMap(([key, selector]) => {
    const parsed = parseSelectorMap(selector);
    return parsed.ok ? [] : [{ key, error: parsed.error }];
  });
}
