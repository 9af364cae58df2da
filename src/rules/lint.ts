/**
 * What the API server (and common sense) would reject in a structurally valid rules document: label syntax,
 * operator/value combinations, duplicate names, selectors that can never match. Every problem is reported, each
 * with its field path. Warnings are for documents that work but probably not as meant (two rules that may both
 * apply to a pod and contradict each other).
 */
import type { V1LabelSelector, V1PodAffinityTerm } from '@kubernetes/client-node';
import { child, fieldError, type FieldError } from '../errors.js';
import { validateLabelKey, validateLabels, validateLabelSelector } from '../scheduling/labels.js';
import {
  validateNodeFieldSelectorRequirement,
  validateNodeSelectorRequirement,
  validateNodeSelectorTerms,
} from '../scheduling/node-affinity.js';
import { parseQuantity, QuantityError } from '../scheduling/quantity.js';
import { validateTaint, validateToleration } from '../scheduling/taints.js';
import type { Inject, Match, NodeTemplate, Rule, RulesDocument } from './schema.js';

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

function lintPodAffinityTerm(term: V1PodAffinityTerm, path: string): FieldError[] {
  const errors: FieldError[] = [];
  if (term.topologyKey === '') errors.push(fieldError.required(child(path, 'topologyKey'), 'can not be empty'));
  else errors.push(...validateLabelKey(term.topologyKey, child(path, 'topologyKey')));
  errors.push(...validateLabelSelector(term.labelSelector, child(path, 'labelSelector')));
  errors.push(...validateLabelSelector(term.namespaceSelector, child(path, 'namespaceSelector')));
  (term.namespaces ?? []).forEach((ns, i) => errors.push(...validateDnsLabel(ns, child(child(path, 'namespaces'), i))));
  return errors;
}

function lintInject(inject: Inject, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const at = (...keys: (string | number)[]) => keys.reduce<string>((p, k) => child(p, k), path);

  if (inject.nodeSelector) errors.push(...validateLabels(inject.nodeSelector, at('nodeSelector')));

  (inject.tolerations ?? []).forEach((t, i) => errors.push(...validateToleration(t, at('tolerations', i))));

  const na = inject.affinity?.nodeAffinity;
  const required = na?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required) {
    const p = at('affinity', 'nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms');
    // Reports an empty list itself ("must have at least one node selector term").
    errors.push(...validateNodeSelectorTerms(required.nodeSelectorTerms, p));
  }
  (na?.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((pref, i) => {
    const p = at('affinity', 'nodeAffinity', 'preferredDuringSchedulingIgnoredDuringExecution', i, 'preference');
    (pref.preference.matchExpressions ?? []).forEach((r, j) =>
      errors.push(...validateNodeSelectorRequirement(r, child(child(p, 'matchExpressions'), j))),
    );
    (pref.preference.matchFields ?? []).forEach((r, j) =>
      errors.push(...validateNodeFieldSelectorRequirement(r, child(child(p, 'matchFields'), j))),
    );
  });

  for (const kind of ['podAffinity', 'podAntiAffinity'] as const) {
    const pa = inject.affinity?.[kind];
    (pa?.requiredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) =>
      errors.push(...lintPodAffinityTerm(t, at('affinity', kind, 'requiredDuringSchedulingIgnoredDuringExecution', i))),
    );
    (pa?.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) =>
      errors.push(
        ...lintPodAffinityTerm(
          t.podAffinityTerm,
          at('affinity', kind, 'preferredDuringSchedulingIgnoredDuringExecution', i, 'podAffinityTerm'),
        ),
      ),
    );
  }

  const spread = inject.topologySpreadConstraints ?? [];
  spread.forEach((c, i) => {
    errors.push(...validateLabelKey(c.topologyKey, at('topologySpreadConstraints', i, 'topologyKey')));
    errors.push(...validateLabelSelector(c.labelSelector, at('topologySpreadConstraints', i, 'labelSelector')));
  });
  errors.push(
    ...duplicates(spread, (c) => `{${c.topologyKey}, ${c.whenUnsatisfiable}}`, (i) => at('topologySpreadConstraints', i)),
  );

  const env = inject.env ?? [];
  env.forEach((e, i) => {
    if (!ENV_VAR_NAME.test(e.name)) {
      errors.push(
        fieldError.invalid(at('env', i, 'name'), e.name, "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"),
      );
    }
    if (e.value !== undefined && e.valueFrom !== undefined) {
      errors.push(fieldError.invalid(at('env', i, 'valueFrom'), '', 'may not be specified when `value` is not empty'));
    }
    if (e.valueFrom !== undefined && Object.keys(e.valueFrom).length !== 1) {
      errors.push(fieldError.invalid(at('env', i, 'valueFrom'), '', 'must specify exactly one of configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef'));
    }
  });
  errors.push(...duplicates(env, (e) => e.name, (i) => at('env', i, 'name')));

  const envFrom = inject.envFrom ?? [];
  envFrom.forEach((e, i) => {
    if ((e.configMapRef ? 1 : 0) + (e.secretRef ? 1 : 0) !== 1) {
      errors.push(fieldError.invalid(at('envFrom', i), '', 'must specify exactly one of configMapRef, secretRef'));
    }
  });
  errors.push(
    ...duplicates(envFrom, (e) => (e.configMapRef ? `configMap:${e.configMapRef.name}` : `secret:${e.secretRef?.name}`), (i) => at('envFrom', i)),
  );

  const mounts = inject.volumeMounts ?? [];
  mounts.forEach((m, i) => {
    if (m.mountPath === '') errors.push(fieldError.required(at('volumeMounts', i, 'mountPath')));
    if (m.subPath !== undefined && m.subPathExpr !== undefined) {
      errors.push(fieldError.invalid(at('volumeMounts', i, 'subPathExpr'), m.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
    }
  });
  errors.push(...duplicates(mounts, (m) => m.mountPath, (i) => at('volumeMounts', i, 'mountPath')));

  const volumes = inject.volumes ?? [];
  volumes.forEach((v, i) => {
    errors.push(...validateDnsLabel(v.name, at('volumes', i, 'name')));
    const sources = Object.keys(v).filter((k) => k !== 'name');
    if (sources.length !== 1) {
      errors.push(fieldError.invalid(at('volumes', i), v.name, `must specify exactly one volume source, found ${sources.length}`));
    }
  });
  errors.push(...duplicates(volumes, (v) => v.name, (i) => at('volumes', i, 'name')));
  return errors;
}

function lintMatch(match: Match | undefined, path: string): FieldError[] {
  if (!match) return [];
  const errors: FieldError[] = [];
  (match.namespaces ?? []).forEach((ns, i) => errors.push(...validateDnsLabel(ns, child(child(path, 'namespaces'), i))));
  errors.push(...validateLabelSelector(match.namespaceSelector, child(path, 'namespaceSelector')));
  errors.push(...validateLabelSelector(match.podSelector, child(path, 'podSelector')));
  return errors;
}

function lintNodeTemplate(t: NodeTemplate, path: string): FieldError[] {
  const errors: FieldError[] = [];
  if (t.name === '') errors.push(fieldError.required(child(path, 'name')));
  if (t.labels) errors.push(...validateLabels(t.labels, child(path, 'labels')));
  (t.taints ?? []).forEach((taint, i) => errors.push(...validateTaint(taint, child(child(path, 'taints'), i))));
  for (const [resource, quantity] of Object.entries(t.allocatable ?? {})) {
    const p = child(child(path, 'allocatable'), resource);
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

/** Lints a document that already passed the schema check. */
/**
 * Which parts of a document may be linted. A document with structural errors is still linted where its structure
 * is sound (each rule, the settings), so that a user sees every error at once, not one batch after another.
 */
export interface LintScope {
  readonly settings: boolean;
  readonly rule: (index: number) => boolean;
}

const EVERYTHING: LintScope = { settings: true, rule: () => true };

/** Lints a document whose structure (within `scope`) passed the schema check. */
export function lintRules(doc: RulesDocument, scope: LintScope = EVERYTHING): LintResult {
  const errors: FieldError[] = [];
  const warnings: FieldError[] = [];

  if (scope.settings) {
    const excluded = doc.settings?.excludedNamespaces;
    const missing = ['kube-system', 'kube-node-lease'].filter((ns) => excluded !== undefined && !excluded.includes(ns));
    if (missing.length > 0) {
      warnings.push({
        type: 'Invalid',
        path: 'settings.excludedNamespaces',
        detail: `replaces the default list and leaves out ${missing.join(', ')}: their pods will be mutated and validated`,
      });
    }
    (excluded ?? []).forEach((ns, i) => errors.push(...validateDnsLabel(ns, `settings.excludedNamespaces[${i}]`)));
    const templates = doc.settings?.validation?.nodeTemplates ?? [];
    templates.forEach((t, i) => errors.push(...lintNodeTemplate(t, `settings.validation.nodeTemplates[${i}]`)));
    errors.push(...duplicates(templates, (t) => t.name, (i) => `settings.validation.nodeTemplates[${i}].name`));
  }

  // Sound rules keep their document index, for the paths.
  const rules = doc.rules.map((rule, i) => ({ rule, i })).filter(({ i }) => scope.rule(i));
  for (const { rule, i } of rules) {
    const path = `rules[${i}]`;
    errors.push(...validateDnsLabel(rule.name, `${path}.name`));
    errors.push(...lintMatch(rule.match, `${path}.match`));
    errors.push(...lintInject(rule.inject, `${path}.inject`));
    const injects = INJECT_FIELDS.some((f) => {
      const v: unknown = rule.inject[f];
      return Array.isArray(v) ? v.length > 0 : v !== undefined && Object.keys(v as object).length > 0;
    });
    if (!injects) warnings.push({ type: 'Invalid', path: `${path}.inject`, detail: 'injects nothing: the rule only records itself in the applied-rules annotation' });
  }
  // Names are compared across every rule that has one, sound or not, so that a duplicate is never found late.
  const named = doc.rules.map((rule, i) => ({ name: (rule as { name?: unknown }).name, i })).filter((r) => typeof r.name === 'string');
  errors.push(...duplicates(named, (r) => r.name as string, (k) => `rules[${named[k]?.i}].name`));
  const contradicting = contradictions(rules);
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
 * Two rules that may apply to the same pod and set one nodeSelector key to different values. Usually a warning
 * (the earlier rule's value stays, and the later rule's onConflict says what happens). An error when the later rule
 * overrides a value that the earlier one guards with `onConflict: reject`: the first pass would admit the pod with
 * the later value, and the API server's re-invocation would then reject it — the mutation would not be idempotent.
 */
function contradictions(rules: readonly { rule: Rule; i: number }[]): LintResult {
  const errors: FieldError[] = [];
  const warnings: FieldError[] = [];
  rules.forEach(({ rule: later, i: j }, n) => {
    for (const { rule: earlier, i } of rules.slice(0, n)) {
      const a = earlier.inject.nodeSelector ?? {};
      const b = later.inject.nodeSelector ?? {};
      const clash = Object.keys(b).filter((k) => Object.hasOwn(a, k) && a[k] !== b[k]);
      if (clash.length === 0 || matchesDisjoint(earlier.match, later.match)) continue;
      const k = clash[0] as string;
      const both = `may apply to the same pods as rules[${i}] (${JSON.stringify(earlier.name)}) but sets ${k}=${b[k]} where that rule sets ${k}=${a[k]}`;
      if (earlier.onConflict === 'reject' && later.onConflict === 'override') {
        errors.push({
          type: 'Forbidden',
          path: `rules[${j}].onConflict`,
          detail: `${both}, and overriding it would make a re-invocation reject the pod (that rule's onConflict is reject)`,
        });
        continue;
      }
      warnings.push({
        type: 'Invalid',
        path: `rules[${j}].inject.nodeSelector`,
        detail: `${both}; the earlier rule wins and this one's onConflict (${later.onConflict ?? 'keep'}) decides`,
      });
    }
  });
  return { errors, warnings };
}
