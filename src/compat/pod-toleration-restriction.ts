/**
 * The PodTolerationRestriction admission plugin's semantics, pure: default tolerations merged into pods on CREATE,
 * a memory-pressure toleration for pods that are not BestEffort, and a whitelist every final pod's tolerations must
 * fit, on CREATE and on UPDATE.
 *
 * Followed: `kubernetes/kubernetes` v1.20 `plugin/pkg/admission/podtolerationrestriction/admission.go` — `Admit`,
 * `Validate`, `extractNSTolerations`; `pkg/util/tolerations/tolerations.go` — `MergeTolerations`,
 * `VerifyAgainstWhitelist`, `isSuperset`; `pkg/apis/core/helper/qos/qos.go` — `GetPodQOS`; and the configuration
 * `apis/podtolerationrestriction/v1alpha1` (`default`, `whitelist`: lists of tolerations).
 *
 * - Annotations `scheduler.alpha.kubernetes.io/defaultTolerations` and `…/tolerationsWhitelist` hold a JSON list of
 *   tolerations. Absent: the cluster's list applies. Present and `""` (or `[]`, or `null`): an empty list, which
 *   opts the namespace out of the cluster's. Not a list of tolerations: an error, and the pod is refused.
 * - On CREATE the namespace's (or the cluster's) defaults are added; on CREATE and UPDATE a pod that is not
 *   BestEffort gets `node.kubernetes.io/memory-pressure:NoSchedule` (Exists). When there is anything to add, the
 *   pod's tolerations and the added ones are merged by `MergeTolerations`: a toleration that another one tolerates a
 *   superset of is dropped — **even one of the pod's own** (a default `{operator: Exists}` leaves only itself).
 *   Nothing is refused for a "conflict": 1.20 has no such check (releases before 1.17 had one).
 * - The whitelist (the namespace's when its annotation is present, else the cluster's) is checked when the pod has
 *   tolerations and the whitelist is not empty: each toleration must be tolerated-a-subset-of by some entry.
 *
 * Tolerations are compared as the plugin compares its internal structs (`apiequality.Semantic.DeepEqual` and
 * `isSuperset`): a missing field is the empty string, so an omitted operator is *not* the same as `Equal` here.
 */
import type { V1Container, V1Pod, V1Toleration } from '@kubernetes/client-node';
import { parseQuantity } from '../scheduling/quantity.js';
import { isObject } from '../util/json.js';

export const DEFAULT_TOLERATIONS_ANNOTATION = 'scheduler.alpha.kubernetes.io/defaultTolerations';
export const TOLERATIONS_WHITELIST_ANNOTATION = 'scheduler.alpha.kubernetes.io/tolerationsWhitelist';

/** Added to every pod that is not BestEffort (`corev1.TaintNodeMemoryPressure`). */
export const MEMORY_PRESSURE_TOLERATION: Readonly<V1Toleration> = Object.freeze({
  key: 'node.kubernetes.io/memory-pressure',
  operator: 'Exists',
  effect: 'NoSchedule',
});

/** The plugin's configuration (`podtolerationrestriction.admission.k8s.io/v1alpha1` `Configuration`). */
export interface PodTolerationRestrictionConfig {
  readonly default?: readonly V1Toleration[] | undefined;
  readonly whitelist?: readonly V1Toleration[] | undefined;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** A toleration as the plugin holds it: every field present, missing strings empty, no seconds as undefined. */
interface Canonical {
  readonly key: string;
  readonly operator: string;
  readonly value: string;
  readonly effect: string;
  readonly tolerationSeconds: number | undefined;
}

const canonical = (t: V1Toleration): Canonical => ({
  key: t.key ?? '',
  operator: t.operator ?? '',
  value: t.value ?? '',
  effect: t.effect ?? '',
  tolerationSeconds: t.tolerationSeconds ?? undefined,
});

/** The toleration as the API server would print it: empty fields omitted. */
function printable(t: Canonical): V1Toleration {
  const out: V1Toleration = {};
  if (t.key !== '') out.key = t.key;
  if (t.operator !== '') out.operator = t.operator;
  if (t.value !== '') out.value = t.value;
  if (t.effect !== '') out.effect = t.effect;
  if (t.tolerationSeconds !== undefined) out.tolerationSeconds = t.tolerationSeconds;
  return out;
}

const FIELDS: Readonly<Record<string, keyof Canonical>> = {
  key: 'key',
  operator: 'operator',
  value: 'value',
  effect: 'effect',
  tolerationseconds: 'tolerationSeconds',
};

/**
 * One toleration decoded as `json.Unmarshal` decodes a `v1.Toleration`: field names matched case-insensitively,
 * unknown fields ignored, `null` leaving a field empty, a wrong type an error.
 */
function decodeToleration(value: unknown, at: string): Parsed<Canonical> {
  if (value === null) return { ok: true, value: canonical({}) };
  if (!isObject(value)) return { ok: false, error: `${at}: not an object` };
  const t: { -readonly [K in keyof Canonical]: Canonical[K] } = canonical({});
  for (const [name, v] of Object.entries(value)) {
    const field = FIELDS[name.toLowerCase()];
    if (field === undefined || v === null) continue;
    if (field === 'tolerationSeconds') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return { ok: false, error: `${at}.${name}: not an integer` };
      t.tolerationSeconds = v;
    } else {
      if (typeof v !== 'string') return { ok: false, error: `${at}.${name}: not a string` };
      t[field] = v;
    }
  }
  return { ok: true, value: t };
}

/**
 * `extractNSTolerations`: undefined when the annotation is absent (the cluster's list applies), `[]` when it is `""`,
 * else the JSON list it holds.
 */
export function parseTolerationsAnnotation(annotations: Readonly<Record<string, string>>, key: string): Parsed<V1Toleration[] | undefined> {
  if (!Object.hasOwn(annotations, key)) return { ok: true, value: undefined };
  const text = annotations[key] as string;
  if (text.length === 0) return { ok: true, value: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `namespace annotation ${key}: not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (json === null) return { ok: true, value: [] };
  if (!Array.isArray(json)) return { ok: false, error: `namespace annotation ${key}: not a JSON list of tolerations` };
  const out: V1Toleration[] = [];
  for (const [i, item] of json.entries()) {
    const decoded = decodeToleration(item, `[${i}]`);
    if (!decoded.ok) return { ok: false, error: `namespace annotation ${key}: ${decoded.error}` };
    out.push(printable(decoded.value));
  }
  return { ok: true, value: out };
}

function sameCanonical(a: Canonical, b: Canonical): boolean {
  return a.key === b.key && a.operator === b.operator && a.value === b.value && a.effect === b.effect && a.tolerationSeconds === b.tolerationSeconds;
}

/** `isSuperset`: whether `ss` tolerates every taint `t` tolerates. */
export function isSuperset(ssIn: V1Toleration, tIn: V1Toleration): boolean {
  const ss = canonical(ssIn);
  const t = canonical(tIn);
  if (sameCanonical(ss, t)) return true;
  // An empty key with Exists matches every key.
  if (t.key !== ss.key && (ss.key !== '' || ss.operator !== 'Exists')) return false;
  // An empty effect matches every effect.
  if (t.effect !== ss.effect && ss.effect !== '') return false;
  if (ss.effect === 'NoExecute' && ss.tolerationSeconds !== undefined) {
    if (t.tolerationSeconds === undefined || t.tolerationSeconds > ss.tolerationSeconds) return false;
  }
  switch (ss.operator) {
    case 'Equal':
    case '':
      return t.operator === 'Equal' && t.value === ss.value;
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/**
 * `MergeTolerations(first, second)`: the concatenation, without each toleration that an earlier kept one, or a later
 * different one, is a superset of. Equal tolerations keep the first. The items returned are the inputs themselves.
 */
export function mergeTolerations(first: readonly V1Toleration[], second: readonly V1Toleration[]): V1Toleration[] {
  const all = [...first, ...second];
  const merged: V1Toleration[] = [];
  all.forEach((t, i) => {
    if (merged.some((kept) => isSuperset(kept, t))) return;
    const redundant = all.slice(i + 1).some((later) => !sameCanonical(canonical(t), canonical(later)) && isSuperset(later, t));
    if (!redundant) merged.push(t);
  });
  return merged;
}

/** `VerifyAgainstWhitelist`: every toleration is a subset of some whitelist entry (an empty whitelist allows all). */
export function verifyAgainstWhitelist(tolerations: readonly V1Toleration[], whitelist: readonly V1Toleration[]): boolean {
  if (whitelist.length === 0 || tolerations.length === 0) return true;
  return tolerations.every((t) => whitelist.some((w) => isSuperset(w, t)));
}

export type QosClass = 'BestEffort' | 'Burstable' | 'Guaranteed';

/** A quantity above zero; a value that does not parse counts as set (the API server decoded it already). */
function positive(q: unknown): boolean {
  if (typeof q === 'number') return q > 0;
  if (typeof q !== 'string') return false;
  try {
    return parseQuantity(q).nanos > 0n;
  } catch {
    return true;
  }
}

/**
 * `GetPodQOS` (1.20): over containers and initContainers, only cpu and memory above zero count. No such request or
 * limit: BestEffort. Guaranteed when every container has cpu and memory limits and the summed requests equal the
 * summed limits for every resource; else Burstable.
 */
export function podQos(pod: V1Pod): QosClass {
  const containers: V1Container[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  const requests = new Map<string, bigint>();
  const limits = new Map<string, bigint>();
  let guaranteed = true;
  const add = (into: Map<string, bigint>, name: string, q: unknown) => {
    let n: bigint;
    try {
      n = typeof q === 'number' ? BigInt(Math.round(q * 1e9)) : parseQuantity(String(q)).nanos;
    } catch {
      n = 1n;
    }
    into.set(name, (into.get(name) ?? 0n) + n);
  };
  for (const c of containers) {
    const res = isObject(c?.resources) ? c.resources : {};
    const req: Record<string, unknown> = isObject(res.requests) ? res.requests : {};
    const lim: Record<string, unknown> = isObject(res.limits) ? res.limits : {};
    for (const name of ['cpu', 'memory']) if (Object.hasOwn(req, name) && positive(req[name])) add(requests, name, req[name]);
    const found = new Set<string>();
    for (const name of ['cpu', 'memory']) {
      if (Object.hasOwn(lim, name) && positive(lim[name])) {
        found.add(name);
        add(limits, name, lim[name]);
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, r] of requests) {
      if (limits.get(name) !== r) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

export type Operation = 'CREATE' | 'UPDATE';

export interface TolerationInputs {
  readonly operation: Operation;
  readonly pod: V1Pod;
  readonly namespaceAnnotations: Readonly<Record<string, string>>;
  readonly config: PodTolerationRestrictionConfig;
}

export type TolerationAdmission =
  | { readonly kind: 'admitted'; readonly tolerations: readonly V1Toleration[] | undefined; readonly changed: boolean }
  | { readonly kind: 'refused'; readonly message: string };

/**
 * `Admit`'s merge: the pod's tolerations after defaults (CREATE) and the memory-pressure toleration (not BestEffort).
 * `tolerations` is the pod's own list, untouched, when nothing is added (`changed` false).
 */
export function admitTolerations(input: TolerationInputs): TolerationAdmission {
  const own = input.pod.spec?.tolerations ?? undefined;
  const extra: V1Toleration[] = [];
  if (input.operation === 'CREATE') {
    const ns = parseTolerationsAnnotation(input.namespaceAnnotations, DEFAULT_TOLERATIONS_ANNOTATION);
    if (!ns.ok) return { kind: 'refused', message: ns.error };
    extra.push(...(ns.value ?? input.config.default ?? []).map((t) => printable(canonical(t))));
  }
  if (podQos(input.pod) !== 'BestEffort') extra.push({ ...MEMORY_PRESSURE_TOLERATION });
  if (extra.length === 0) return { kind: 'admitted', tolerations: own, changed: false };
  const merged = mergeTolerations(own ?? [], extra);
  const same = own !== undefined && merged.length === own.length && merged.every((t, i) => t === own[i]);
  return same ? { kind: 'admitted', tolerations: own, changed: false } : { kind: 'admitted', tolerations: merged, changed: true };
}

/** The whitelist that applies (the namespace's when annotated, else the cluster's) and its scope, for the message. */
export function whitelistFor(
  annotations: Readonly<Record<string, string>>,
  config: PodTolerationRestrictionConfig,
): Parsed<{ list: readonly V1Toleration[]; scope: 'namespace' | 'cluster' }> {
  const ns = parseTolerationsAnnotation(annotations, TOLERATIONS_WHITELIST_ANNOTATION);
  if (!ns.ok) return ns;
  return ns.value !== undefined
    ? { ok: true, value: { list: ns.value, scope: 'namespace' } }
    : { ok: true, value: { list: config.whitelist ?? [], scope: 'cluster' } };
}

/** `Validate`: why the final tolerations are refused, or undefined. */
export function validateTolerations(
  tolerations: readonly V1Toleration[] | undefined,
  annotations: Readonly<Record<string, string>>,
  config: PodTolerationRestrictionConfig,
): string | undefined {
  if (!tolerations || tolerations.length === 0) return undefined;
  const whitelist = whitelistFor(annotations, config);
  if (!whitelist.ok) return whitelist.error;
  if (verifyAgainstWhitelist(tolerations, whitelist.value.list)) return undefined;
  return `pod tolerations (possibly merged with namespace default tolerations) conflict with its ${whitelist.value.scope} whitelist`;
}
