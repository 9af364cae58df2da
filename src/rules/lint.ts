/**
 * What the API server (and common sense) would reject in a structurally valid rules document: label syntax,
 * operator/value combinations, duplicate names, selectors that can never match. Every problem is reported, each
 * with its field path. Warnings are for documents that work but probably not as meant (two rules that may both
 * apply to a pod and contradict each other).
 */
import type { V1LabelSelector, V1PodAffinityTerm, V1Toleration } from '@kubernetes/client-node';
import {
  CLUSTER_DEFAULT_KEY as POD_NODE_SELECTOR_DEFAULT_KEY,
  configProblems as podNodeSelectorConfigProblems,
  type PodNodeSelectorConfig,
} from '../compat/pod-node-selector.js';
import { child, fieldError, type FieldError } from '../util/errors.js';
import { validateLabelKey, validateLabels, validateLabelSelector } from '../scheduling/labels.js';
import {
  validateNodeFieldSelectorRequirement,
  validateNodeSelectorRequirement,
  validateNodeSelectorTerm,
  validateNodeSelectorTerms,
} from '../scheduling/node-affinity.js';
import { parseQuantity, QuantityError } from '../scheduling/quantity.js';
import { validateTaint, validateToleration } from '../scheduling/taints.js';
import {
  DEFAULT_EXCLUDED_NAMESPACES,
  VOLUME_SOURCES,
  type Compat,
  type Inject,
  type Match,
  type NodeTemplate,
  type Rule,
  type RulesDocument,
} from './schema.js';
import { isObject } from '../util/json.js';

export interface LintResult {
  readonly errors: FieldError[];
  readonly warnings: FieldError[];
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function validateDnsLabel(value: string, path: string): FieldError[] {
  if (value.length > 63) return [fieldError.invalid(path, value, 'must be no more than 63 characters')];
  if (!DNS1123_LABEL.test(value)) {
    return [
      fieldError.invalid(
        path,
        value,
        "a DNS-1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
      ),
    ];
  }
  return [];
}

/** Reports the second and later items that share a key, at their own paths. */
function duplicates<T>(items: readonly T[], key: (item: T) => string, path: (i: number) => string): FieldError[] {
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  items.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) errors.push(fieldError.duplicate(path(i), k));
    seen.add(k);
  });
  return errors;
}

function lintPodAffinityTerm(term: V1PodAffinityTerm, path: string, sound: Sound): FieldError[] {
  const errors: FieldError[] = [];
  const topologyKey = child(path, 'topologyKey');
  if (sound(topologyKey)) {
    if (term.topologyKey === '') errors.push(fieldError.required(topologyKey, 'can not be empty'));
    else errors.push(...validateLabelKey(term.topologyKey, topologyKey));
  }
  for (const s of ['labelSelector', 'namespaceSelector'] as const) {
    if (sound(child(path, s))) errors.push(...validateLabelSelector(term[s], child(path, s)));
  }
  for (const { item: ns, i } of soundItems(term.namespaces, (i) => child(child(path, 'namespaces'), i), sound)) {
    errors.push(...validateDnsLabel(ns, child(child(path, 'namespaces'), i)));
  }
  return errors;
}

/** `items` with their indexes, where the item at `path(i)` is sound. */
const soundItems = <T>(items: readonly T[] | undefined, path: (i: number) => string, sound: Sound) =>
  (Array.isArray(items) ? items : []).map((item: T, i) => ({ item, i })).filter(({ i }) => sound(path(i)));

function lintInject(inject: Inject, path: string, sound: Sound): FieldError[] {
  const errors: FieldError[] = [];
  const at = (...keys: (string | number)[]) => keys.reduce<string>((p, k) => child(p, k), path);

  if (inject.nodeSelector && sound(at('nodeSelector'))) errors.push(...validateLabels(inject.nodeSelector, at('nodeSelector')));

  for (const { item, i } of soundItems(inject.tolerations, (i) => at('tolerations', i), sound)) {
    errors.push(...validateToleration(item, at('tolerations', i)));
  }

  const na = inject.affinity?.nodeAffinity;
  const required = na !== undefined && isPlainObject(na) ? na.requiredDuringSchedulingIgnoredDuringExecution : undefined;
  const termsPath = at('affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms');
  if (required !== undefined && isPlainObject(required)) {
    if (sound(termsPath)) {
      // Reports an empty list itself ("must have at least one node selector term").
      errors.push(...validateNodeSelectorTerms(required.nodeSelectorTerms, termsPath));
    } else {
      for (const { item, i } of soundItems(
        Array.isArray(required.nodeSelectorTerms) ? required.nodeSelectorTerms : [],
        (i) => child(termsPath, i),
        sound,
      )) {
        errors.push(...validateNodeSelectorTerm(item, child(termsPath, i)));
      }
    }
  }
  const preferred = na !== undefined && isPlainObject(na) ? na.preferredDuringSchedulingIgnoredDuringExecution : undefined;
  (Array.isArray(preferred) ? preferred : []).forEach((pref, i) => {
    const p = at('affinity', 'nodeAffinity', 'preferredDuringSchedulingIgnoredDuringExecution', i, 'preference');
    if (!isPlainObject(pref) || !isPlainObject(pref.preference)) return;
    const list = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v : []);
    for (const { item, i: j } of soundItems(list(pref.preference.matchExpressions), (j) => child(child(p, 'matchExpressions'), j), sound)) {
      errors.push(...validateNodeSelectorRequirement(item, child(child(p, 'matchExpressions'), j)));
    }
    for (const { item, i: j } of soundItems(list(pref.preference.matchFields), (j) => child(child(p, 'matchFields'), j), sound)) {
      errors.push(...validateNodeFieldSelectorRequirement(item, child(child(p, 'matchFields'), j)));
    }
  });

  for (const kind of ['podAffinity', 'podAntiAffinity'] as const) {
    const pa = inject.affinity?.[kind];
    const base = at('affinity', kind);
    if (pa === undefined || !isPlainObject(pa)) continue;
    const req = child(base, 'requiredDuringSchedulingIgnoredDuringExecution');
    if (Array.isArray(pa.requiredDuringSchedulingIgnoredDuringExecution)) {
      pa.requiredDuringSchedulingIgnoredDuringExecution.forEach((t, i) => {
        if (isPlainObject(t)) errors.push(...lintPodAffinityTerm(t, child(req, i), sound));
      });
    }
    const pref = child(base, 'preferredDuringSchedulingIgnoredDuringExecution');
    if (Array.isArray(pa.preferredDuringSchedulingIgnoredDuringExecution)) {
      pa.preferredDuringSchedulingIgnoredDuringExecution.forEach((t, i) => {
        if (isPlainObject(t) && isPlainObject(t.podAffinityTerm)) {
          errors.push(...lintPodAffinityTerm(t.podAffinityTerm, child(child(pref, i), 'podAffinityTerm'), sound));
        }
      });
    }
  }

  const spreadPath = (i: number) => at('topologySpreadConstraints', i);
  (Array.isArray(inject.topologySpreadConstraints) ? inject.topologySpreadConstraints : []).forEach((c, i) => {
    if (!isPlainObject(c)) return;
    if (sound(child(spreadPath(i), 'topologyKey'))) errors.push(...validateLabelKey(c.topologyKey, child(spreadPath(i), 'topologyKey')));
    if (sound(child(spreadPath(i), 'labelSelector'))) errors.push(...validateLabelSelector(c.labelSelector, child(spreadPath(i), 'labelSelector')));
  });
  const spread = soundItems(inject.topologySpreadConstraints, spreadPath, sound);
  errors.push(
    ...duplicates(
      spread,
      ({ item: c }) => `{${c.topologyKey}, ${c.whenUnsatisfiable}}`,
      (k) => spreadPath((spread[k] as { i: number }).i),
    ),
  );

  const env = Array.isArray(inject.env) ? inject.env.map((item, i) => ({ item, i })).filter(({ item }) => isPlainObject(item)) : [];
  for (const { item: e, i } of env) {
    if (sound(at('env', i, 'name')) && !ENV_VAR_NAME.test(e.name)) {
      errors.push(
        fieldError.invalid(
          at('env', i, 'name'),
          e.name,
          "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
        ),
      );
    }
    if (!sound(at('env', i))) continue;
    if (e.value !== undefined && e.valueFrom !== undefined) {
      errors.push(fieldError.invalid(at('env', i, 'valueFrom'), '', 'may not be specified when `value` is not empty'));
    }
    if (e.valueFrom !== undefined && Object.keys(e.valueFrom).length !== 1) {
      errors.push(
        fieldError.invalid(at('env', i, 'valueFrom'), '', 'must specify exactly one of configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef'),
      );
    }
  }
  const envNamed = env.filter(({ i }) => sound(at('env', i, 'name')));
  errors.push(
    ...duplicates(
      envNamed,
      ({ item }) => item.name,
      (k) => at('env', (envNamed[k] as { i: number }).i, 'name'),
    ),
  );

  const envFrom = soundItems(inject.envFrom, (i) => at('envFrom', i), sound);
  for (const { item: e, i } of envFrom) {
    if ((e.configMapRef ? 1 : 0) + (e.secretRef ? 1 : 0) !== 1) {
      errors.push(fieldError.invalid(at('envFrom', i), '', 'must specify exactly one of configMapRef, secretRef'));
    }
  }
  errors.push(
    ...duplicates(
      envFrom,
      ({ item: e }) => (e.configMapRef ? `configMap:${e.configMapRef.name}` : `secret:${e.secretRef?.name}`),
      (k) => at('envFrom', (envFrom[k] as { i: number }).i),
    ),
  );

  const mounts = Array.isArray(inject.volumeMounts)
    ? inject.volumeMounts.map((item, i) => ({ item, i })).filter(({ item }) => isPlainObject(item))
    : [];
  for (const { item: m, i } of mounts) {
    if (sound(at('volumeMounts', i, 'mountPath')) && m.mountPath === '') errors.push(fieldError.required(at('volumeMounts', i, 'mountPath')));
    if (sound(at('volumeMounts', i)) && m.subPath !== undefined && m.subPathExpr !== undefined) {
      errors.push(fieldError.invalid(at('volumeMounts', i, 'subPathExpr'), m.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
    }
  }
  const mountPaths = mounts.filter(({ i }) => sound(at('volumeMounts', i, 'mountPath')));
  errors.push(
    ...duplicates(
      mountPaths,
      ({ item }) => item.mountPath,
      (k) => at('volumeMounts', (mountPaths[k] as { i: number }).i, 'mountPath'),
    ),
  );

  const volumes = Array.isArray(inject.volumes) ? inject.volumes.map((item, i) => ({ item, i })).filter(({ item }) => isPlainObject(item)) : [];
  for (const { item: v, i } of volumes) {
    if (sound(at('volumes', i, 'name'))) errors.push(...validateDnsLabel(v.name, at('volumes', i, 'name')));
    // Counting sources needs no more than the keys (an unknown one is reported as such by the schema check).
    const sources = Object.keys(v).filter((k) => k !== 'name' && (VOLUME_SOURCES as readonly string[]).includes(k));
    if (sources.length !== 1 && sound(at('volumes', i))) {
      errors.push(fieldError.invalid(at('volumes', i), v.name, `must specify exactly one volume source, found ${sources.length}`));
    }
  }
  const volumeNames = volumes.filter(({ i }) => sound(at('volumes', i, 'name')));
  errors.push(
    ...duplicates(
      volumeNames,
      ({ item }) => item.name,
      (k) => at('volumes', (volumeNames[k] as { i: number }).i, 'name'),
    ),
  );
  return errors;
}

function lintMatch(match: Match | undefined, path: string, sound: Sound): FieldError[] {
  if (match === undefined || !isPlainObject(match)) return [];
  const errors: FieldError[] = [];
  for (const { item: ns, i } of soundItems(match.namespaces, (i) => child(child(path, 'namespaces'), i), sound)) {
    errors.push(...validateDnsLabel(ns, child(child(path, 'namespaces'), i)));
  }
  for (const s of ['namespaceSelector', 'podSelector', 'podAnnotationSelector'] as const) {
    if (sound(child(path, s))) errors.push(...validateLabelSelector(match[s], child(path, s)));
  }
  return errors;
}

/**
 * `settings.compat`: what the plugins would refuse when reading their configuration (PodTolerationRestriction's
 * `ValidateConfiguration`) or a pod (a PodNodeSelector selector that does not parse refuses every pod it applies
 * to), as errors; a PodNodeSelector key that is neither `clusterDefaultNodeSelector` nor a namespace name is never
 * read (a warning).
 */
function lintCompat(compat: Compat, sound: Sound): LintResult {
  const errors: FieldError[] = [];
  const warnings: FieldError[] = [];
  const pns = compat.podNodeSelector;
  if (isPlainObject(pns) && sound('settings.compat.podNodeSelector')) {
    for (const { key, error } of podNodeSelectorConfigProblems(pns as PodNodeSelectorConfig)) {
      errors.push(fieldError.invalid(child('settings.compat.podNodeSelector', key), (pns as PodNodeSelectorConfig)[key], error));
    }
    for (const key of Object.keys(pns as object)) {
      if (key !== POD_NODE_SELECTOR_DEFAULT_KEY && validateDnsLabel(key, '').length > 0) {
        warnings.push({
          type: 'Invalid',
          path: child('settings.compat.podNodeSelector', key),
          detail: `neither ${POD_NODE_SELECTOR_DEFAULT_KEY} nor a namespace name: never read`,
        });
      }
    }
  }
  const ptr = compat.podTolerationRestriction;
  if (isPlainObject(ptr)) {
    for (const list of ['default', 'whitelist'] as const) {
      const path = `settings.compat.podTolerationRestriction.${list}`;
      const items = (ptr as Record<string, unknown>)[list];
      for (const { item, i } of soundItems(Array.isArray(items) ? (items as V1Toleration[]) : undefined, (i) => `${path}[${i}]`, sound)) {
        errors.push(...validateToleration(item, `${path}[${i}]`));
      }
    }
  }
  return { errors, warnings };
}

function lintNodeTemplate(t: NodeTemplate, path: string, sound: Sound): FieldError[] {
  const errors: FieldError[] = [];
  if (sound(child(path, 'name')) && t.name === '') errors.push(fieldError.required(child(path, 'name')));
  if (t.labels && sound(child(path, 'labels'))) errors.push(...validateLabels(t.labels, child(path, 'labels')));
  for (const { item: taint, i } of soundItems(t.taints, (i) => child(child(path, 'taints'), i), sound)) {
    errors.push(...validateTaint(taint, child(child(path, 'taints'), i)));
  }
  for (const [resource, quantity] of Object.entries(t.allocatable !== undefined && isPlainObject(t.allocatable) ? t.allocatable : {})) {
    const p = child(child(path, 'allocatable'), resource);
    if (!sound(p)) continue;
    try {
      parseQuantity(String(quantity), p);
    } catch (e) {
      // A QuantityError carries the field error itself (its message already says "invalid value ...").
      errors.push(e instanceof QuantityError ? e.field : fieldError.invalid(p, quantity, e instanceof Error ? e.message : String(e)));
    }
  }
  return errors;
}

const INJECT_FIELDS = ['nodeSelector', 'tolerations', 'affinity', 'topologySpreadConstraints', 'env', 'envFrom', 'volumeMounts', 'volumes'] as const;

/**
 * `isObject` as a plain boolean, a runtime check only: a structurally broken document holds other types than its
 * static type says, and the check must not narrow the typed document's fields (they may hold anything here).
 */
const isPlainObject = (v: unknown): boolean => isObject(v);

/**
 * Whether the part of the document at a field path may be linted: its structure passed the schema check. A
 * document with structural errors is still linted wherever its structure is sound — field by field, list item by
 * list item — so that a user sees every error at once, not one batch after another.
 */
export type Sound = (path: string) => boolean;

const EVERYWHERE: Sound = () => true;

/**
 * The soundness of a document with these structural errors: a part is sound when no error lies at it or inside it,
 * and no value of the wrong type lies at one of its ancestors. So an unknown field makes the object holding it
 * unsound as a whole (read as a whole, a misspelt `matchExpression` would make an empty term), but not that
 * object's other fields.
 */
export function soundness(structural: readonly FieldError[]): Sound {
  if (structural.length === 0) return EVERYWHERE;
  // Sets of paths, so that a document with thousands of errors is checked in time linear in them.
  const holdingAnError = new Set(structural.flatMap((e) => selfAndAncestors(e.path)));
  const wronglyTyped = new Set(structural.filter((e) => e.detail !== 'unknown field').map((e) => e.path));
  return (path) => !holdingAnError.has(path) && !selfAndAncestors(path).some((p) => wronglyTyped.has(p));
}

/** A field path and every path above it: `a.b[0]` → `a.b[0]`, `a.b`, `a`, `` (the document). */
function selfAndAncestors(path: string): string[] {
  const out = [path];
  for (let i = path.length - 1; i > 0; i--) if (path[i] === '.' || path[i] === '[') out.push(path.slice(0, i));
  if (path !== '') out.push('');
  return out;
}

/** Lints a document; with structural errors, only where `sound` says its structure is sound. */
export function lintRules(doc: RulesDocument, sound: Sound = EVERYWHERE): LintResult {
  const errors: FieldError[] = [];
  const warnings: FieldError[] = [];

  const settings = isPlainObject(doc.settings) ? doc.settings : undefined;
  if (settings) {
    const excluded = sound('settings.excludedNamespaces') ? settings.excludedNamespaces : undefined;
    const missing = DEFAULT_EXCLUDED_NAMESPACES.filter((ns) => Array.isArray(excluded) && !excluded.includes(ns));
    if (missing.length > 0) {
      warnings.push({
        type: 'Invalid',
        path: 'settings.excludedNamespaces',
        detail: `replaces the default list and leaves out ${missing.join(', ')}: their pods will be mutated and validated`,
      });
    }
    for (const { item: ns, i } of soundItems(settings.excludedNamespaces, (i) => `settings.excludedNamespaces[${i}]`, sound)) {
      errors.push(...validateDnsLabel(ns, `settings.excludedNamespaces[${i}]`));
    }
    const validation = isPlainObject(settings.validation) ? settings.validation : undefined;
    const templates = Array.isArray(validation?.nodeTemplates) ? validation.nodeTemplates : [];
    templates.forEach((t, i) => {
      if (isPlainObject(t)) errors.push(...lintNodeTemplate(t, `settings.validation.nodeTemplates[${i}]`, sound));
    });
    if (isPlainObject(settings.compat)) {
      const compat = lintCompat(settings.compat as Compat, sound);
      errors.push(...compat.errors);
      warnings.push(...compat.warnings);
    }
    const named = soundItems(templates, (i) => `settings.validation.nodeTemplates[${i}].name`, sound).filter(({ item }) => isPlainObject(item));
    errors.push(
      ...duplicates(
        named,
        ({ item }) => item.name,
        (k) => `settings.validation.nodeTemplates[${(named[k] as { i: number }).i}].name`,
      ),
    );
  }

  const all = Array.isArray(doc.rules) ? doc.rules.map((rule, i) => ({ rule, i })).filter(({ rule }) => isPlainObject(rule)) : [];
  for (const { rule, i } of all) {
    const path = `rules[${i}]`;
    if (sound(`${path}.name`)) errors.push(...validateDnsLabel(rule.name, `${path}.name`));
    if (sound(`${path}.match`) || isPlainObject(rule.match)) errors.push(...lintMatch(rule.match, `${path}.match`, sound));
    if (isPlainObject(rule.inject)) errors.push(...lintInject(rule.inject, `${path}.inject`, sound));
    if (!sound(`${path}.inject`)) continue;
    const injects = INJECT_FIELDS.some((f) => {
      const v: unknown = rule.inject[f];
      return Array.isArray(v) ? v.length > 0 : v !== undefined && Object.keys(v as object).length > 0;
    });
    if (!injects)
      warnings.push({
        type: 'Invalid',
        path: `${path}.inject`,
        detail: 'injects nothing: the rule only records itself in the applied-rules annotation',
      });
  }
  // Names are compared across every rule that has one, sound or not, so that a duplicate is never found late.
  const named = all.map(({ rule, i }) => ({ name: (rule as { name?: unknown }).name, i })).filter((r) => typeof r.name === 'string');
  errors.push(
    ...duplicates(
      named,
      (r) => r.name as string,
      (k) => `rules[${named[k]?.i}].name`,
    ),
  );
  const comparable = all.filter(({ i }) => sound(`rules[${i}].match`) && sound(`rules[${i}].onConflict`));
  const contradicting = contradictions(comparable, sound);
  errors.push(...contradicting.errors);
  warnings.push(...contradicting.warnings);
  return { errors, warnings };
}

// ---- Static contradictions -----------------------------------------------------------------------------------------

/**
 * Two selectors are certainly disjoint when one requires a label value the other excludes. This looks only at
 * what can be decided without knowing the cluster: matchLabels against matchLabels, In sets, Exists/DoesNotExist.
 */
function selectorsDisjoint(a: V1LabelSelector | undefined, b: V1LabelSelector | undefined): boolean {
  const required = (s: V1LabelSelector | undefined) => {
    // key → the set of values the selector allows (undefined: any value, as long as the label exists)
    const allowed = new Map<string, Set<string> | undefined>();
    const absent = new Set<string>();
    for (const [k, v] of Object.entries(s?.matchLabels ?? {})) allowed.set(k, new Set([v]));
    for (const e of s?.matchExpressions ?? []) {
      if (e.operator === 'In') {
        const prev = allowed.get(e.key);
        const vals = new Set(e.values ?? []);
        allowed.set(e.key, prev ? new Set([...prev].filter((x) => vals.has(x))) : vals);
      } else if (e.operator === 'Exists' && !allowed.has(e.key)) allowed.set(e.key, undefined);
      else if (e.operator === 'DoesNotExist') absent.add(e.key);
    }
    return { allowed, absent };
  };
  const ra = required(a);
  const rb = required(b);
  for (const [k, va] of ra.allowed) {
    if (rb.absent.has(k)) return true;
    const vb = rb.allowed.get(k);
    if (va && vb && ![...va].some((x) => vb.has(x))) return true;
  }
  for (const k of rb.allowed.keys()) if (ra.absent.has(k)) return true;
  return false;
}

function matchesDisjoint(a: Match | undefined, b: Match | undefined): boolean {
  if (a?.namespaces && b?.namespaces && !a.namespaces.some((ns) => b.namespaces?.includes(ns))) return true;
  return selectorsDisjoint(a?.podSelector, b?.podSelector) || selectorsDisjoint(a?.namespaceSelector, b?.namespaceSelector);
}

/**
 * What a rule injects that a later rule can contradict, by the identity the merge uses (see `merge/`): nodeSelector
 * keys, topology spread constraints by topologyKey and whenUnsatisfiable, env by name, envFrom by source,
 * volumeMounts by mountPath, volumes by name. `shown`: how a clash is told (values only for nodeSelector: env values
 * and volume sources can be secrets).
 */
interface Injected {
  readonly id: string;
  readonly field: string;
  /** The value as JSON, to compare. */
  readonly value: string;
  /** The value as a clash shows it ('' where values are not shown). */
  readonly raw: string;
  /** The clash, given the earlier rule's `raw`. */
  readonly shown: (earlier: string) => string;
}

function contradictable(inject: Inject, soundField: (field: string) => boolean): Injected[] {
  const out: Injected[] = [];
  const list = <T>(v: readonly T[] | undefined): readonly T[] => (Array.isArray(v) ? (v as readonly T[]) : []);
  // Lint also reads documents that failed the schema check: a field may hold anything, so nothing is assumed a string.
  const text = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined'));
  const add = (field: string, what: string, value: unknown, raw = '', shown?: (earlier: string) => string) =>
    soundField(field) &&
    out.push({ id: `${field} ${what}`, field, value: JSON.stringify(value) ?? '', raw, shown: shown ?? (() => `sets ${field} ${what} differently`) });
  const selector: Readonly<Record<string, unknown>> = isPlainObject(inject.nodeSelector) ? (inject.nodeSelector as Record<string, unknown>) : {};
  for (const [k, v] of Object.entries(selector)) {
    add('nodeSelector', k, v, text(v), (earlier) => `sets ${k}=${text(v)} where that rule sets ${k}=${earlier}`);
  }
  for (const c of list(inject.topologySpreadConstraints))
    if (isPlainObject(c)) add('topologySpreadConstraints', `${text(c.topologyKey)}/${text(c.whenUnsatisfiable)}`, c);
  for (const e of list(inject.env)) if (isPlainObject(e)) add('env', text(e.name), e);
  for (const e of list(inject.envFrom)) {
    if (!isPlainObject(e)) continue;
    const ref = (r: unknown) => (isPlainObject(r) ? text((r as { name?: unknown }).name) : undefined);
    const cm = ref(e.configMapRef);
    const secret = ref(e.secretRef);
    add('envFrom', cm !== undefined ? `configMap:${cm}` : secret !== undefined ? `secret:${secret}` : 'none:', e);
  }
  for (const m of list(inject.volumeMounts)) if (isPlainObject(m)) add('volumeMounts', text(m.mountPath), m);
  for (const v of list(inject.volumes)) if (isPlainObject(v)) add('volumes', text(v.name), v);
  return out;
}

/**
 * Two rules that may apply to the same pod and inject one field (a nodeSelector key, an env var, a volume, …) with
 * different values. Usually a warning (the earlier rule's value stays, and the later rule's onConflict says what
 * happens). An error when the later rule overrides a value that the earlier one guards with `onConflict: reject`:
 * the first pass would admit the pod with the later value, and the API server's re-invocation would then reject it —
 * the mutation would not be idempotent. Rules are grouped by what they inject, so only rules that inject the same
 * field are compared: linear in the rules for documents whose rules set different things.
 */
function contradictions(rules: readonly { rule: Rule; i: number }[], sound: Sound): LintResult {
  const errors: FieldError[] = [];
  const warnings: FieldError[] = [];
  /** id → the earlier rules that inject it, with their value (JSON). */
  const seen = new Map<string, { rule: Rule; i: number; value: string; raw: string }[]>();
  for (const { rule: later, i: j } of rules) {
    const entries = isPlainObject(later.inject) ? contradictable(later.inject, (field) => sound(`rules[${j}].inject.${field}`)) : [];
    /** One finding per pair of rules (the first field they clash on). */
    const told = new Set<number>();
    for (const e of entries) {
      for (const earlier of seen.get(e.id) ?? []) {
        if (told.has(earlier.i) || earlier.value === e.value || matchesDisjoint(earlier.rule.match, later.match)) continue;
        told.add(earlier.i);
        const both = `may apply to the same pods as rules[${earlier.i}] (${JSON.stringify(earlier.rule.name)}) but ${e.shown(earlier.raw)}`;
        if (earlier.rule.onConflict === 'reject' && later.onConflict === 'override') {
          errors.push({
            type: 'Forbidden',
            path: `rules[${j}].onConflict`,
            detail: `${both}, and overriding it would make a re-invocation reject the pod (that rule's onConflict is reject)`,
          });
          continue;
        }
        warnings.push({
          type: 'Invalid',
          path: `rules[${j}].inject.${e.field}`,
          detail: `${both}; the earlier rule wins and this one's onConflict (${later.onConflict ?? 'keep'}) decides`,
        });
      }
    }
    for (const e of entries) {
      const group = seen.get(e.id);
      const entry = { rule: later, i: j, value: e.value, raw: e.raw };
      if (group) group.push(entry);
      else seen.set(e.id, [entry]);
    }
  }
  return { errors, warnings };
}
