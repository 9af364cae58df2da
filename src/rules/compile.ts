/**
 * Rules are parsed and checked once, then matched against many pods: `compileRules` turns a document into a
 * `RuleSet` whose rules carry ready matchers, or returns every error found (structure first, then semantics).
 */
import type { V1Volume } from '@kubernetes/client-node';
import { InvalidDocumentError, type FieldError } from '../util/errors.js';
import { compileSchema } from '../util/json-schema.js';
import { compileLabelSelector } from '../scheduling/labels.js';
import type { Placement } from './merge/index.js';
import type { Labels } from '../scheduling/types.js';
import { lintRules, soundness } from './lint.js';
import { COMPAT_OFF, type CompatSettings } from '../compat/index.js';
import {
  type Compat,
  DEFAULT_EXCLUDED_NAMESPACES,
  RulesDocument,
  type NodeTemplate,
  type OnConflict,
  type PendingMode,
  type Rule,
  type ValidationMode,
} from './schema.js';
import { deepFreeze } from '../util/json.js';
import { loadYaml, RULES_LIMITS } from '../util/yaml.js';

/** What a rule's match is evaluated against. `namespaceLabels` include `kubernetes.io/metadata.name`. */
export interface MatchSubject {
  readonly namespace: string;
  readonly namespaceLabels: Labels;
  readonly podLabels: Labels;
  /** The pod's annotations, for `match.podAnnotationSelector` (absent: none). */
  readonly podAnnotations?: Labels;
}

export interface CompiledRule {
  /** Position in the document: rules apply in this order. */
  readonly index: number;
  readonly name: string;
  readonly description: string | undefined;
  readonly onConflict: OnConflict;
  readonly includeDaemonSetPods: boolean;
  readonly placement: Placement;
  /** True when every part of the rule's `match` given holds (an omitted part matches all). */
  matches(subject: MatchSubject): boolean;
}

export interface RuleSet {
  readonly rules: readonly CompiledRule[];
  /** Rule name → position in the document. */
  readonly order: ReadonlyMap<string, number>;
  /**
   * The rules that may match a pod of `namespace` with `podLabels`, in document order: a superset of the matching
   * ones, found by index (namespace lists, and one required pod label per rule) instead of trying every rule.
   */
  rulesFor(namespace: string, podLabels: Labels): readonly CompiledRule[];
  readonly excludedNamespaces: ReadonlySet<string>;
  readonly validation: {
    readonly mode: ValidationMode;
    readonly pending: PendingMode;
    readonly nodeTemplates: readonly NodeTemplate[];
  };
  /** The in-tree plugins the document opts into (`settings.compat`); off when absent. */
  readonly compat: CompatSettings;
  /**
   * Lint warnings of the document (the rules work, but perhaps not as meant); from a check in another thread, the
   * first `LISTED_WARNINGS`.
   */
  readonly warnings: readonly FieldError[];
}

/**
 * Warnings are listed (logged on a reload, shown on a rules ConfigMap edit) up to this many per document; the others
 * are counted. A document whose rules overlap pairwise can have tens of thousands (`lint` lists them all).
 */
export const LISTED_WARNINGS = 20;

/**
 * `moreWarnings`: warnings the document has beyond those in `warnings`, when only the first `LISTED_WARNINGS` were
 * kept (a check in another thread sends no more).
 */
export type CompileResult =
  | { readonly ok: true; readonly ruleSet: RuleSet; readonly warnings: readonly FieldError[]; readonly moreWarnings?: number }
  | { readonly ok: false; readonly errors: readonly FieldError[]; readonly warnings: readonly FieldError[]; readonly moreWarnings?: number };

/** The warnings of a result to list, and how many more it has. */
export function listedWarnings(result: RulesVerdict): { readonly listed: readonly FieldError[]; readonly more: number } {
  const listed = result.warnings.slice(0, LISTED_WARNINGS);
  return { listed, more: result.warnings.length - listed.length + (result.moreWarnings ?? 0) };
}

const checkStructure = compileSchema(RulesDocument);

/**
 * One rule of a document `checkRules` found valid, ready to match (its position in the document given). Its
 * injections are frozen: a copy of them, or with `owned` (the caller hands the rule over, e.g. just received from
 * another thread) the rule's own.
 */
export function compileRule(rule: Rule, index: number, owned = false): CompiledRule {
  const namespaces = rule.match?.namespaces ? new Set(rule.match.namespaces) : undefined;
  // The document's check validated the selectors (lint's `validateLabelSelector`): they are not validated again.
  const namespaceSelector = rule.match?.namespaceSelector ? compileLabelSelector(rule.match.namespaceSelector, true) : undefined;
  const podSelector = rule.match?.podSelector ? compileLabelSelector(rule.match.podSelector, true) : undefined;
  const podAnnotationSelector = rule.match?.podAnnotationSelector ? compileLabelSelector(rule.match.podAnnotationSelector, true) : undefined;
  const inject = deepFreeze(owned ? rule.inject : structuredClone(rule.inject));
  return {
    index,
    name: rule.name,
    description: rule.description,
    onConflict: rule.onConflict ?? 'keep',
    includeDaemonSetPods: rule.match?.includeDaemonSetPods ?? false,
    // Volume sources are passed through as written (their insides are the API server's to validate).
    placement: { ...inject, volumes: inject.volumes as V1Volume[] | undefined },
    matches: (s) =>
      (namespaces?.has(s.namespace) ?? true) &&
      (namespaceSelector?.matches(s.namespaceLabels) ?? true) &&
      (podSelector?.matches(s.podLabels) ?? true) &&
      (podAnnotationSelector?.matches(s.podAnnotations ?? {}) ?? true),
  };
}

/**
 * A rule can only match pods that carry one label its podSelector requires (a `matchLabels` entry, or one of the
 * values of an `In` expression), and pods of its `match.namespaces`. Each rule is filed under one of these (a label
 * when it has one, else its namespaces), and a pod's candidates are the rules filed under its labels and its
 * namespace, plus those that require neither.
 */
class CandidateIndex {
  private readonly everywhere: CompiledRule[] = [];
  private readonly byNamespace = new Map<string, CompiledRule[]>();
  private readonly byLabel = new Map<string, CompiledRule[]>();

  private static file(map: Map<string, CompiledRule[]>, key: string, r: CompiledRule): void {
    const list = map.get(key);
    if (list === undefined) map.set(key, [r]);
    else if (!list.includes(r)) list.push(r);
  }

  add(r: CompiledRule, doc: Rule): void {
    const { match } = doc;
    const [label] = Object.entries(match?.podSelector?.matchLabels ?? {});
    const inExpression = match?.podSelector?.matchExpressions?.find((e) => e.operator === 'In' && (e.values?.length ?? 0) > 0);
    if (label) CandidateIndex.file(this.byLabel, JSON.stringify(label), r);
    else if (inExpression) for (const v of inExpression.values ?? []) CandidateIndex.file(this.byLabel, JSON.stringify([inExpression.key, v]), r);
    else if (match?.namespaces) for (const ns of match.namespaces) CandidateIndex.file(this.byNamespace, ns, r);
    else this.everywhere.push(r);
  }

  /** The lookup (rules filed under a label are checked against the namespace by `matches`, like every other part). */
  lookup(): RuleSet['rulesFor'] {
    const { everywhere, byNamespace, byLabel } = this;
    return (namespace, podLabels) => {
      const out = new Set<CompiledRule>(everywhere);
      for (const r of byNamespace.get(namespace) ?? []) out.add(r);
      for (const [k, v] of Object.entries(podLabels)) for (const r of byLabel.get(JSON.stringify([k, v])) ?? []) out.add(r);
      return [...out].sort((a, b) => a.index - b.index);
    };
  }
}

/**
 * A rule set assembled a rule at a time: each `add` compiles one rule and files it (its name, its candidate keys),
 * so that a caller can spread a big document over many turns of the event loop and `build` is left with the
 * document's settings only.
 */
export class RuleSetBuilder {
  private readonly compiled: CompiledRule[] = [];
  private readonly order = new Map<string, number>();
  private readonly candidates = new CandidateIndex();
  private built = false;

  /** How many rules were added. */
  get size(): number {
    return this.compiled.length;
  }

  /** Compiles `rule` as the next rule of the document (see `compileRule` for `owned`); returns it compiled. */
  add(rule: Rule, owned = false): CompiledRule {
    return this.file(compileRule(rule, this.compiled.length, owned), rule);
  }

  /**
   * Adds as the next rule one that was compiled from `rule` before (for another document, perhaps at another
   * position): its matcher and frozen injections are shared, its position is this document's.
   */
  reuse(compiled: CompiledRule, rule: Rule): CompiledRule {
    const index = this.compiled.length;
    return this.file(compiled.index === index ? compiled : { ...compiled, index }, rule);
  }

  private file(r: CompiledRule, rule: Rule): CompiledRule {
    // A rule set in force never changes.
    if (this.built) throw new Error('RuleSetBuilder: a rule added after build');
    this.compiled.push(r);
    this.order.set(r.name, r.index);
    this.candidates.add(r, rule);
    return r;
  }

  /** The rule set of the rules added, in order, with the `settings` of their document (which `checkRules` found valid). */
  build(settings: RulesDocument['settings'], warnings: readonly FieldError[]): RuleSet {
    this.built = true;
    return {
      rules: this.compiled,
      order: this.order,
      rulesFor: this.candidates.lookup(),
      excludedNamespaces: new Set(settings?.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES),
      validation: {
        mode: settings?.validation?.mode ?? 'enforce',
        pending: settings?.validation?.pending ?? 'warn',
        nodeTemplates: deepFreeze(structuredClone(settings?.validation?.nodeTemplates ?? [])),
      },
      compat: compatSettings(settings?.compat),
      warnings,
    };
  }
}

/**
 * What checking a document found: the document, valid and typed, or every error. Plain data (structured-cloneable):
 * the check may run in another thread, the compile (which makes closures) where the rule set is used.
 */
export type CheckResult =
  | { readonly ok: true; readonly doc: RulesDocument; readonly warnings: readonly FieldError[] }
  | { readonly ok: false; readonly errors: readonly FieldError[]; readonly warnings: readonly FieldError[] };

/** What a check tells: valid (with its warnings) or not (with every error). `CheckResult` and `CompileResult` are both. */
export type RulesVerdict =
  | { readonly ok: true; readonly warnings: readonly FieldError[]; readonly moreWarnings?: number }
  | { readonly ok: false; readonly errors: readonly FieldError[]; readonly warnings: readonly FieldError[]; readonly moreWarnings?: number };

/** Checks a rules document given as a parsed value: its structure first, then `lint` (every error in one pass). */
export function checkRules(doc: unknown): CheckResult {
  const structural = checkStructure(doc);
  if (structural.length > 0) {
    // Lint what is sound, so that one pass reports every error.
    const top = doc !== null && typeof doc === 'object' && !Array.isArray(doc);
    const partial = top ? lintRules(doc as RulesDocument, soundness(structural)) : { errors: [], warnings: [] };
    return { ok: false, errors: [...structural, ...partial.errors], warnings: partial.warnings };
  }
  const typed = doc as RulesDocument;
  const { errors, warnings } = lintRules(typed);
  if (errors.length > 0) return { ok: false, errors, warnings };
  return { ok: true, doc: typed, warnings };
}

/** The rule set of a document `checkRules` found valid. */
export function buildRuleSet(typed: RulesDocument, warnings: readonly FieldError[]): RuleSet {
  const builder = new RuleSetBuilder();
  for (const rule of typed.rules) builder.add(rule);
  return builder.build(typed.settings, warnings);
}

/** `settings.compat` as the plugins read it: `true` is an empty configuration, `false` or absent is off. */
function compatSettings(c: Compat | undefined): CompatSettings {
  if (c === undefined) return COMPAT_OFF;
  const on = <T>(v: boolean | T | undefined, empty: T): T | undefined => (v === true ? empty : v === false || v === undefined ? undefined : v);
  const podNodeSelector = on(c.podNodeSelector, {});
  const podTolerationRestriction = on(c.podTolerationRestriction, {});
  return deepFreeze(
    structuredClone({ ...(podNodeSelector ? { podNodeSelector } : {}), ...(podTolerationRestriction ? { podTolerationRestriction } : {}) }),
  );
}

/** The rule set of a `CheckResult`, or its errors. */
export function compileChecked(checked: CheckResult): CompileResult {
  if (!checked.ok) return checked;
  return { ok: true, ruleSet: buildRuleSet(checked.doc, checked.warnings), warnings: checked.warnings };
}

/** Checks and compiles a rules document given as a parsed value. */
export function compileRules(doc: unknown): CompileResult {
  return compileChecked(checkRules(doc));
}

/**
 * Parses YAML (or JSON) text holding one rules document and checks it. Syntax errors are reported with their line
 * and column; duplicate keys, more than one document and documents over the loader's limits (size, nesting, alias
 * expansion) are errors like any other. Never throws.
 */
export function checkRulesText(text: string): CheckResult {
  const loaded = loadYaml(text, RULES_LIMITS);
  if (!loaded.ok) return { ok: false, errors: loaded.errors, warnings: [] };
  const [first] = loaded.values;
  if (first === undefined) {
    return { ok: false, errors: [{ type: 'Required', path: '', detail: 'the rules document is empty' }], warnings: [] };
  }
  return checkRules(first.value);
}

/** `checkRulesText`, then the rule set. Never throws. */
export function parseRules(text: string): CompileResult {
  return compileChecked(checkRulesText(text));
}

/** `parseRules`, throwing `InvalidDocumentError` with every error when the document is invalid. */
export function loadRules(text: string, source: string): RuleSet {
  const result = parseRules(text);
  if (!result.ok) throw new InvalidDocumentError(`rules ${source}`, result.errors);
  return result.ruleSet;
}
