/**
 * PodPreset objects (`settings.k8s.io/v1alpha1`, removed in 1.20) as placement rules, and the plugin's own semantics
 * as an oracle for them.
 *
 * Followed: `kubernetes/kubernetes` release-1.19 `plugin/pkg/admission/podpreset/admission.go` — `Admit`,
 * `filterPodPresets`, `safeToApplyPodPresetsOnPod`, `mergeEnv`, `mergeEnvFrom`, `mergeVolumeMounts`, `mergeVolumes`,
 * `applyPodPresetsOnPod`:
 * - pods on CREATE only; mirror pods and pods annotated `podpreset.admission.kubernetes.io/exclude: "true"` are left
 *   alone; the presets of the pod's namespace whose `selector` matches the pod's labels apply (`{}` matches all);
 * - `env` (by name), `volumeMounts` (by name, and by mountPath) go into every container and initContainer, `envFrom`
 *   is appended to each of them (never a conflict, not even a duplicate), `volumes` (by name) into the pod; an entry
 *   identical to one present is not added again;
 * - an entry with the name (or mount path) of a present one and other content is a conflict, and then **nothing** of
 *   any matching preset is applied (the pod is admitted unchanged, with an event);
 * - the pod is annotated `podpreset.admission.kubernetes.io/podpreset-<name>: <resourceVersion>`.
 *
 * One preset becomes one rule: `match.namespaces: [its namespace]`, `match.podSelector: its selector`,
 * `includeDaemonSetPods: true` (PodPreset spared no pod), `inject` its four lists, `onConflict: skip` (the rule
 * applies nothing when any of its injections conflicts with the pod), and a pod-annotation match that honours the
 * exclude annotation. Where the two still differ is listed in docs/compat.md.
 */
import type { V1Container, V1EnvFromSource, V1EnvVar, V1LabelSelector, V1Pod, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { compileLabelSelector } from '../scheduling/labels.js';
import { isObject, sameJson } from '../util/json.js';
import type { Rule } from '../rules/schema.js';

export const PODPRESET_API_VERSION = 'settings.k8s.io/v1alpha1';
export const PODPRESET_KIND = 'PodPreset';
export const EXCLUDE_ANNOTATION = 'podpreset.admission.kubernetes.io/exclude';
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

export interface PodPreset {
  readonly name: string;
  readonly namespace: string;
  /** True when the object named no namespace (`default` is assumed). */
  readonly namespaceAssumed: boolean;
  readonly selector: V1LabelSelector;
  readonly env: readonly V1EnvVar[];
  readonly envFrom: readonly V1EnvFromSource[];
  readonly volumes: readonly V1Volume[];
  readonly volumeMounts: readonly V1VolumeMount[];
}

export type ReadResult = { readonly ok: true; readonly preset: PodPreset } | { readonly ok: false; readonly error: string };

const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** A PodPreset object as read from a file, checked for what the conversion relies on. */
export function readPodPreset(o: unknown): ReadResult {
  if (!isObject(o)) return { ok: false, error: 'not an object' };
  if (o['kind'] !== PODPRESET_KIND) return { ok: false, error: `kind ${JSON.stringify(o['kind'])} is not ${PODPRESET_KIND}` };
  if (typeof o['apiVersion'] === 'string' && !o['apiVersion'].startsWith('settings.k8s.io/')) {
    return { ok: false, error: `apiVersion ${JSON.stringify(o['apiVersion'])} is not ${PODPRESET_API_VERSION}` };
  }
  const metadata = isObject(o['metadata']) ? o['metadata'] : {};
  const name = metadata['name'];
  if (typeof name !== 'string' || name === '') return { ok: false, error: 'metadata.name: required value' };
  const namespace = typeof metadata['namespace'] === 'string' && metadata['namespace'] !== '' ? metadata['namespace'] : undefined;
  const spec = isObject(o['spec']) ? o['spec'] : {};
  if (spec['selector'] !== undefined && spec['selector'] !== null && !isObject(spec['selector']))
    return { ok: false, error: 'spec.selector: not a label selector' };
  for (const field of ['env', 'envFrom', 'volumes', 'volumeMounts']) {
    if (spec[field] != null && !Array.isArray(spec[field])) return { ok: false, error: `spec.${field}: not a list` };
  }
  return {
    ok: true,
    preset: {
      name,
      namespace: namespace ?? 'default',
      namespaceAssumed: namespace === undefined,
      selector: isObject(spec['selector']) ? spec['selector'] : {},
      env: list(spec['env']),
      envFrom: list(spec['envFrom']),
      volumes: list(spec['volumes']),
      volumeMounts: list(spec['volumeMounts']),
    },
  };
}

const DNS_LABEL_MAX = 63;

/** A DNS-1123 label from `parts`, at most 63 characters, unique among `taken` (which it joins). */
export function ruleName(parts: readonly string[], taken: Set<string>): string {
  const base =
    parts
      .join('-')
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/-+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, DNS_LABEL_MAX)
      .replace(/-$/, '') || 'rule';
  let name = base;
  for (let i = 2; taken.has(name); i++) {
    const suffix = `-${i}`;
    name = `${base.slice(0, DNS_LABEL_MAX - suffix.length).replace(/-$/, '')}${suffix}`;
  }
  taken.add(name);
  return name;
}

/** The pod-annotation match every converted rule carries: not excluded by `podpreset.admission.kubernetes.io/exclude: "true"`. */
export const NOT_EXCLUDED = Object.freeze({
  matchExpressions: [{ key: EXCLUDE_ANNOTATION, operator: 'NotIn' as const, values: ['true'] }],
});

/** The rule a preset becomes (see the module comment). */
export function presetRule(preset: PodPreset, name: string): Rule {
  const inject: Rule['inject'] = {};
  if (preset.env.length > 0) inject.env = structuredClone(preset.env) as NonNullable<Rule['inject']['env']>;
  if (preset.envFrom.length > 0) inject.envFrom = structuredClone(preset.envFrom) as NonNullable<Rule['inject']['envFrom']>;
  if (preset.volumes.length > 0) inject.volumes = structuredClone(preset.volumes) as NonNullable<Rule['inject']['volumes']>;
  if (preset.volumeMounts.length > 0) inject.volumeMounts = structuredClone(preset.volumeMounts) as NonNullable<Rule['inject']['volumeMounts']>;
  return {
    name,
    description: `PodPreset ${preset.namespace}/${preset.name}`,
    match: {
      namespaces: [preset.namespace],
      podSelector: structuredClone(preset.selector) as NonNullable<NonNullable<Rule['match']>['podSelector']>,
      podAnnotationSelector: structuredClone(NOT_EXCLUDED) as unknown as NonNullable<NonNullable<Rule['match']>['podAnnotationSelector']>,
      includeDaemonSetPods: true,
    },
    inject,
    onConflict: 'skip',
  };
}

// ---- the plugin itself, as an oracle -------------------------------------------------------------------------------

/**
 * `mergeEnv` / `mergeVolumes` / `mergeVolumeMounts`: an added entry is appended when its first key (the name) is new;
 * one that shares any key with a present entry (the preset's own earlier ones included) and differs is a conflict.
 */
function mergeByKeys<T>(current: readonly T[], added: readonly T[], keys: readonly [(x: T) => string, ...((x: T) => string)[]]): T[] | 'conflict' {
  const out = [...current];
  for (const a of added) {
    if (keys.some((key) => out.some((x) => key(x) === key(a) && !sameJson(x, a)))) return 'conflict';
    if (!out.some((x) => keys[0](x) === keys[0](a))) out.push(structuredClone(a));
  }
  return out;
}

const byName = (x: { name: string }) => x.name;
const byPath = (x: V1VolumeMount) => x.mountPath;

/**
 * What the 1.19 PodPreset plugin makes of a pod on CREATE, given every preset of the cluster: the pod unchanged when
 * excluded, matched by none, or in conflict (with the pod or between presets); else with every matching preset merged.
 */
export function applyPodPresets(pod: V1Pod, presets: readonly PodPreset[], namespace: string): { pod: V1Pod; applied: string[]; conflict: boolean } {
  const annotations = pod.metadata?.annotations ?? {};
  const unchanged = { pod, applied: [], conflict: false };
  if (Object.hasOwn(annotations, MIRROR_POD_ANNOTATION) || annotations[EXCLUDE_ANNOTATION] === 'true') return unchanged;
  const labels = pod.metadata?.labels ?? {};
  const matching = presets.filter((p) => p.namespace === namespace && compileLabelSelector(p.selector).matches(labels));
  if (matching.length === 0) return unchanged;
  const out = structuredClone(pod);
  const spec = (out.spec ??= { containers: [] });
  const env = matching.flatMap((p) => p.env);
  const envFrom = matching.flatMap((p) => p.envFrom);
  const mounts = matching.flatMap((p) => p.volumeMounts);
  const volumes = mergeByKeys(
    spec.volumes ?? [],
    matching.flatMap((p) => p.volumes),
    [byName],
  );
  if (volumes === 'conflict') return { ...unchanged, conflict: true };
  const containers: V1Container[] = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  for (const c of containers) {
    const e = mergeByKeys(c.env ?? [], env, [byName]);
    const m = mergeByKeys(c.volumeMounts ?? [], mounts, [byName, byPath]);
    if (e === 'conflict' || m === 'conflict') return { ...unchanged, conflict: true };
    if (e.length > 0) c.env = e;
    if (m.length > 0) c.volumeMounts = m;
    const f = [...(c.envFrom ?? []), ...structuredClone(envFrom)];
    if (f.length > 0) c.envFrom = f;
  }
  if (volumes.length > 0) spec.volumes = volumes;
  return { pod: out, applied: matching.map((p) => p.name), conflict: false };
}
