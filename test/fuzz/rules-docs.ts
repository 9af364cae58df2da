/**
 * Rules documents for the fuzz suite: valid ones made of the rules' vocabulary, the same corrupted at random paths
 * (type swaps, unknown fields, deletions), written as YAML or JSON text, then perhaps broken as text (syntax noise,
 * anchors and aliases, tags, more documents), and documents built to cost far more than their size (alias bombs,
 * deep nesting, long keys, over the size limit).
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { billionLaughs, deeplyNested, sharedAnchorRules } from '../support/yaml-bombs.js';
import { API_VERSION, KIND, ON_CONFLICT, VALIDATION_MODES } from '../../src/rules/schema.js';
import { TAINT_EFFECTS } from '../../src/scheduling/taints.js';
import { applyEdits, edits, targetPaths, type Edit, type EditSpace } from './edits.js';
import { FIXTURE_RULES_TEXTS } from './fixtures.js';
import { cloneJson, depthOf, serialize } from './json.js';
import { affinity, envFrom, envVar, labels, labelSelector, toleration, topologySpreadConstraint, volume, volumeMount } from './placement.js';
import { nested, valueOfAnyType } from './values.js';

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
const partial = <T extends Record<string, unknown>>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
  fc.record(model, { requiredKeys: [] }) as fc.Arbitrary<Partial<T>>;

const ruleName = fc.oneof(
  pick(['spot', 'gpu', 'r0', 'r-1', 'payments-dedicated', 'a', 'batch-spot']),
  fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/),
);

const match = partial({
  namespaces: fc.uniqueArray(pick(['default', 'streaming', 'payments', 'batch', 'ml', 'monitoring', 'unknown-ns']), { maxLength: 3 }),
  namespaceSelector: labelSelector(true),
  podSelector: labelSelector(true),
  includeDaemonSetPods: fc.boolean(),
});

const INJECT_FIELDS = {
  nodeSelector: labels(true, 3),
  tolerations: fc.array(toleration(true), { maxLength: 3 }),
  affinity: affinity(true),
  topologySpreadConstraints: fc.uniqueArray(topologySpreadConstraint(true), {
    maxLength: 2,
    selector: (c) => `${c.topologyKey} ${c.whenUnsatisfiable}`,
  }),
  env: fc.uniqueArray(envVar(true), { maxLength: 3, selector: (e) => e.name }),
  envFrom: fc.uniqueArray(envFrom(), { maxLength: 2, selector: (e) => JSON.stringify(e.configMapRef?.name ?? e.secretRef?.name) }),
  volumeMounts: fc.uniqueArray(volumeMount(), { maxLength: 2, selector: (m) => m.mountPath }),
  volumes: fc.uniqueArray(volume(), { maxLength: 2, selector: (v) => v.name }),
} as const;

/** What a rule injects: one to three of the fields a rule may inject (or none). */
const inject = fc
  .uniqueArray(fc.constantFrom(...(Object.keys(INJECT_FIELDS) as (keyof typeof INJECT_FIELDS)[])), { maxLength: 3 })
  .chain((fields) => fc.record(Object.fromEntries(fields.map((f) => [f, INJECT_FIELDS[f] as fc.Arbitrary<unknown>]))));

const rule = fc.record(
  { name: ruleName, description: fc.string({ maxLength: 20 }), match, inject, onConflict: pick(ON_CONFLICT) },
  { requiredKeys: ['name', 'inject'] },
);

const nodeTemplate = fc.record(
  {
    name: pick(['gpu-large', 'spot-pool', 'arm']),
    labels: labels(true),
    taints: fc.array(
      fc.record(
        { key: pick(['spot', 'nvidia.com/gpu', 'dedicated']), value: pick(['true', 'present']), effect: pick(TAINT_EFFECTS) },
        { requiredKeys: ['key', 'effect'] },
      ),
      {
        maxLength: 2,
      },
    ),
    allocatable: fc.dictionary(
      pick(['cpu', 'memory', 'pods', 'nvidia.com/gpu']),
      fc.oneof(pick(['4', '16Gi', '110', '1', '500m']), fc.integer({ min: 0, max: 64 })),
      {
        maxKeys: 3,
        noNullPrototype: true,
      },
    ),
  },
  { requiredKeys: ['name'] },
);

const settings = partial({
  excludedNamespaces: fc.constantFrom(
    ['kube-system', 'kube-node-lease'],
    ['kube-system', 'kube-node-lease', 'placement-webhook'],
    ['kube-system'],
    [],
  ),
  validation: partial({ mode: pick(VALIDATION_MODES), nodeTemplates: fc.array(nodeTemplate, { maxLength: 2 }) }),
});

/** A rules document in the rules' vocabulary; most pass lint (two rules may still contradict each other). */
export const validRulesDoc = fc.record(
  { apiVersion: fc.constant(API_VERSION), kind: fc.constant(KIND), settings, rules: fc.uniqueArray(rule, { maxLength: 4, selector: (r) => r.name }) },
  { requiredKeys: ['apiVersion', 'kind', 'rules'] },
);

const INJECT_LEAVES = [
  'nodeSelector.pool',
  'tolerations.0.operator',
  'tolerations.0.effect',
  'tolerations.0.tolerationSeconds',
  'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.0.matchExpressions.0.values.0',
  'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.0.matchExpressions.0.operator',
  'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.1.matchFields.0.key',
  'affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.weight',
  'affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.preference.matchExpressions.0.key',
  'affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution.0.topologyKey',
  'affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution.0.labelSelector.matchExpressions.0.values',
  'affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.podAffinityTerm.namespaces.0',
  'affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.weight',
  'topologySpreadConstraints.0.maxSkew',
  'topologySpreadConstraints.0.whenUnsatisfiable',
  'topologySpreadConstraints.0.labelSelector.matchLabels.app',
  'topologySpreadConstraints.1.minDomains',
  'env.0.name',
  'env.0.value',
  'env.0.valueFrom.fieldRef.fieldPath',
  'env.0.valueFrom.resourceFieldRef.divisor',
  'env.1.valueFrom.secretKeyRef.key',
  'envFrom.0.configMapRef.name',
  'envFrom.0.secretRef.optional',
  'envFrom.1.prefix',
  'volumeMounts.0.mountPath',
  'volumeMounts.0.subPathExpr',
  'volumeMounts.0.mountPropagation',
  'volumes.0.name',
  'volumes.0.configMap.name',
  'volumes.0.hostPath.path',
  'volumes.1.emptyDir',
];

const DOC_LEAVES: readonly (string | (string | number)[])[] = [
  'apiVersion',
  'kind',
  'settings.excludedNamespaces.0',
  'settings.validation.mode',
  'settings.validation.nodeTemplates.0.name',
  'settings.validation.nodeTemplates.0.labels.pool',
  'settings.validation.nodeTemplates.0.taints.0.effect',
  'settings.validation.nodeTemplates.0.allocatable.cpu',
  ['settings', 'validation', 'nodeTemplates', 0, 'allocatable', 'nvidia.com/gpu'],
  'rules.0.name',
  'rules.0.description',
  'rules.0.onConflict',
  'rules.0.match.namespaces.0',
  'rules.0.match.namespaceSelector.matchLabels.team',
  'rules.0.match.podSelector.matchExpressions.0.operator',
  'rules.0.match.podSelector.matchExpressions.0.values.0',
  'rules.0.match.includeDaemonSetPods',
  ...INJECT_LEAVES.map((l) => `rules.0.inject.${l}`),
  ...INJECT_LEAVES.filter((_, i) => i % 3 === 0).map((l) => `rules.1.inject.${l}`),
  'rules.3',
];

/**
 * Every part of a rules document is read by the structural check and lint. Lists of thousands of broken items are
 * left to one regression case (`./regressions.test.ts`), so that every run of the suite stays fast.
 */
export const RULES_SPACE: EditSpace = { targets: targetPaths(DOC_LEAVES), reads: () => true, maxCopies: 40 };

export interface RulesDocCase {
  readonly doc: unknown;
  readonly edits: readonly Edit[];
}

export const rulesDocCase: fc.Arbitrary<RulesDocCase> = fc.record({ doc: validRulesDoc, edits: edits(RULES_SPACE, 4, valueOfAnyType(false)) });

/** The document of a case (a fresh value). */
export const buildRulesDoc = (c: RulesDocCase): unknown => applyEdits(cloneJson(c.doc), c.edits, RULES_SPACE);

// ---- as text -------------------------------------------------------------------------------------------------------

export type TextForm = 'block' | 'flow' | 'quoted' | 'json' | 'json-pretty';

/** Deeper than this, documents are written as JSON (the YAML library writes recursively). */
const YAML_WRITE_DEPTH = 300;

/** YAML or JSON text of a document. */
export function writeDoc(doc: unknown, form: TextForm): string {
  switch (depthOf(doc) > YAML_WRITE_DEPTH && form !== 'json-pretty' ? 'json' : form) {
    case 'block':
      return stringify(doc, { lineWidth: 0 });
    case 'flow':
      return stringify(doc, { collectionStyle: 'flow', lineWidth: 40 });
    case 'quoted':
      return stringify(doc, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0 });
    case 'json':
      return serialize(doc);
    case 'json-pretty':
      return JSON.stringify(doc, null, 2);
  }
}

/** A change to YAML text: characters, lines, anchors and aliases, tags, directives, more documents. */
export type TextEdit =
  | { readonly op: 'insert'; readonly at: number; readonly text: string }
  | { readonly op: 'delete'; readonly at: number; readonly length: number }
  | { readonly op: 'line'; readonly line: number; readonly change: 'duplicate' | 'drop' | 'indent' | 'dedent' | 'tab' | 'swap-next' }
  | { readonly op: 'alias'; readonly anchor: number; readonly alias: number; readonly name: string; readonly merge: boolean }
  | { readonly op: 'tag'; readonly line: number; readonly tag: string }
  | { readonly op: 'wrap'; readonly before: string; readonly after: string }
  | { readonly op: 'crlf' };

const NOISE = [
  ':',
  '-',
  '[',
  ']',
  '{',
  '}',
  '&',
  '*',
  '!',
  '|',
  '>',
  '#',
  '"',
  "'",
  '\t',
  '\n',
  ' ',
  '%',
  '@',
  '`',
  '?',
  ',',
  '\u0000',
  '\uFEFF',
  'é',
  ': ',
  '- ',
  '\n  ',
  '&a ',
  '*a',
  '<<: ',
  '!!binary ',
  '"\\u',
  '\\',
];
const TAGS = [
  '!!str',
  '!!int',
  '!!float',
  '!!bool',
  '!!null',
  '!!binary',
  '!!map',
  '!!seq',
  '!!set',
  '!!omap',
  '!!pairs',
  '!!timestamp',
  '!custom',
  '!<tag:yaml.org,2002:str>',
  '!!merge',
];
const WRAPS: readonly [string, string][] = [
  ['%YAML 1.1\n---\n', ''],
  ['%YAML 1.2\n---\n', '\n...\n'],
  ['\uFEFF', ''],
  ['---\n', '\n---\n'],
  ['', '\n---\nfoo: bar\n'],
  ['# comment\n', '\n# trailing'],
  ['%TAG ! tag:example.com,2000:\n---\n', ''],
  ['--- !!map\n', ''],
  ['', '\n...\n---\n...\n'],
];

export const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      text: fc.oneof(pick(NOISE), fc.string({ unit: 'binary', maxLength: 4 })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('line' as const),
      line: fc.nat(),
      change: pick(['duplicate', 'drop', 'indent', 'dedent', 'tab', 'swap-next'] as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('alias' as const),
      anchor: fc.nat(),
      alias: fc.nat(),
      name: pick(['a', 'x1', 'nope']),
      merge: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('tag' as const), line: fc.nat(), tag: pick(TAGS) }) },
  { weight: 1, arbitrary: pick(WRAPS).map(([before, after]) => ({ op: 'wrap' as const, before, after })) },
  { weight: 1, arbitrary: fc.constant({ op: 'crlf' as const }) },
);

/** Lines of the form `  key: value` (value perhaps empty): where anchors, aliases and tags can go. */
const KEY_LINE = /^(\s*(?:- )?[^\s#:][^:]*:)( .*)?$/;

export function applyTextEdits(text: string, changes: readonly TextEdit[]): string {
  let t = text;
  for (const c of changes) {
    const lines = t.split('\n');
    const keyed = lines.map((l, i) => ({ l, i })).filter(({ l }) => KEY_LINE.test(l));
    const keyedAt = (n: number) => (keyed.length === 0 ? undefined : keyed[n % keyed.length]);
    switch (c.op) {
      case 'insert': {
        const at = c.at % (t.length + 1);
        t = t.slice(0, at) + c.text + t.slice(at);
        break;
      }
      case 'delete': {
        const at = c.at % (t.length + 1);
        t = t.slice(0, at) + t.slice(at + c.length);
        break;
      }
      case 'line': {
        if (lines.length === 0) break;
        const i = c.line % lines.length;
        const line = lines[i] as string;
        if (c.change === 'duplicate') lines.splice(i, 0, line);
        else if (c.change === 'drop') lines.splice(i, 1);
        else if (c.change === 'indent') lines[i] = `  ${line}`;
        else if (c.change === 'dedent') lines[i] = line.replace(/^ {1,2}/, '');
        else if (c.change === 'tab') lines[i] = line.replace(/^ +/, '\t');
        else if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1] as string, line];
        t = lines.join('\n');
        break;
      }
      case 'alias': {
        const anchor = keyedAt(c.anchor);
        const alias = keyedAt(c.alias);
        if (!anchor || !alias) break;
        const [, key, value] = KEY_LINE.exec(anchor.l) ?? [];
        lines[anchor.i] = `${key} &${c.name}${value ?? ''}`;
        const [, aliasKey] = KEY_LINE.exec(lines[alias.i] as string) ?? [];
        if (c.merge) {
          const indent = /^\s*/.exec(lines[alias.i] as string)?.[0] ?? '';
          lines.splice(alias.i + 1, 0, `${indent}<<: *${c.name}`);
        } else lines[alias.i] = `${aliasKey} *${c.name}`;
        t = lines.join('\n');
        break;
      }
      case 'tag': {
        const at = keyedAt(c.line);
        if (!at) break;
        const [, key, value] = KEY_LINE.exec(at.l) ?? [];
        lines[at.i] = `${key} ${c.tag}${value ?? ''}`;
        t = lines.join('\n');
        break;
      }
      case 'wrap':
        t = `${c.before}${t}${c.after}`;
        break;
      case 'crlf':
        t = t.replace(/\n/g, '\r\n');
        break;
    }
  }
  return t;
}

const HEADER = `apiVersion: ${API_VERSION}\nkind: ${KIND}\n`;

/** Texts that cost far more than their size, or sit at a limit. */
export const costlyText: fc.Arbitrary<string> = fc.oneof(
  fc.constant(billionLaughs()),
  fc.integer({ min: 1, max: 6 }).map((levels) => {
    // a smaller laugh: 10^levels nodes, under and over the alias allowance
    let text = `${HEADER}l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n`;
    for (let i = 1; i < levels; i++)
      text += `l${i}: &l${i} [${Array(10)
        .fill(`*l${i - 1}`)
        .join(', ')}]\n`;
    return `${text}rules: []\n`;
  }),
  fc.oneof(fc.integer({ min: 95, max: 105 }), fc.integer({ min: 1, max: 6000 })).map(deeplyNested),
  fc.integer({ min: 1, max: 300 }).map(sharedAnchorRules),
  fc.integer({ min: 90, max: 400 }).map((n) => `${HEADER}rules:\n${Array.from({ length: n }, (_, i) => `${'  '.repeat(i + 1)}- a:`).join('\n')}\n`),
  fc.integer({ min: 90, max: 1500 }).map((n) => `${HEADER}settings: ${'{a: '.repeat(n)}1${'}'.repeat(n)}\nrules: []\n`),
  fc.integer({ min: 1, max: 1500 }).map((n) => `${HEADER}rules: []\nx: ${serialize(nested(n, 1, true))}\n`),
  fc.constantFrom(
    `${HEADER}rules: &r [*r]\n`,
    `${HEADER}a: &a {b: *a}\nrules: []\n`,
    `${HEADER}rules: *undefined\n`,
    `${HEADER}rules: [&a x, *a, *a]\n`,
  ),
  fc.integer({ min: 1000, max: 3000 }).map((n) => `${HEADER}rules:\n  - name: ${'k'.repeat(n)}\n    inject: {}\n  - ? ${'k'.repeat(n)}\n    : v\n`),
  fc
    .integer({ min: 50, max: 200 })
    .map((n) => `${HEADER}rules:\n${Array.from({ length: n }, (_, i) => `  - {name: r${i}, inject: {nodeSelector: {pool: spot}}}`).join('\n')}\n`),
  fc.constant(`${HEADER}rules: []\npad: ${'x'.repeat(4 * 1024 * 1024)}\n`),
  fc.integer({ min: 10_000, max: 40_000 }).map((n) => `${HEADER}rules:\n  - name: long\n    description: "${'é'.repeat(n)}"\n    inject: {}\n`),
  fc.constantFrom(
    '',
    ' ',
    '\n',
    '# only a comment',
    '~',
    'null',
    '[]',
    '{}',
    '123',
    '"text"',
    '---',
    '...',
    '--- |\n  text',
    '\t',
    '\u0000',
    '\uFEFF',
    '&a',
    '*a',
    '!!binary aGVsbG8=',
    '? a',
  ),
);

/** Text of a rules document: a valid one, corrupted as a value, then as text, or a costly one, or a fixture's. */
export const rulesText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .record({
        doc: rulesDocCase,
        form: pick(['block', 'block', 'flow', 'quoted', 'json', 'json-pretty'] as const),
        text: fc.array(textEdit, { maxLength: 3 }),
      })
      .map(({ doc, form, text }) => applyTextEdits(writeDoc(buildRulesDoc(doc), form), text)),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ base: fc.nat({ max: FIXTURE_RULES_TEXTS.length - 1 }), text: fc.array(textEdit, { minLength: 1, maxLength: 4 }) })
      .map(({ base, text }) => applyTextEdits(FIXTURE_RULES_TEXTS[base] as string, text)),
  },
  { weight: 1, arbitrary: costlyText },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).chain((v) => pick(['block', 'json'] as const).map((form) => writeDoc(v, form))) },
);
