/**
 * Properties of the pod mutation, over small random pods, rules and nodes (labels from a small alphabet, so that
 * keys and values collide often):
 *
 * (a) idempotence: mutating the output again gives the same pod and an empty patch;
 * (b) required placement: the mutated pod admits a node iff the original pod admits it AND every applied rule does
 *     (its nodeSelector and its required terms), judged by a naive evaluator written here from the Kubernetes
 *     semantics, not by the production matcher (which is cross-checked against it);
 * (c) tolerations never duplicate, and existing ones are never modified or removed;
 * (d) the JSON Patch applied to the original (as the API server holds it) gives exactly the mutated pod.
 */
import type { V1NodeSelectorRequirement, V1NodeSelectorTerm, V1Pod, V1Toleration } from '@kubernetes/client-node';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';

import { rulesDoc } from '../../test/support/builders.js';
import { formatFieldError } from '../util/errors.js';
import { nodeAffinityConstraints } from '../scheduling/feasibility.js';
import { sameToleration, validateToleration } from '../scheduling/taints.js';
import { mutatePod } from './apply.js';
import { compileRules, type RuleSet } from './compile.js';
import type { Static } from '@sinclair/typebox';
import type { NodeSelectorTerm, OnConflict, Rule } from './schema.js';
import { withNameLabel } from './select.js';
import { deepFreeze } from '../util/json.js';
import { diff } from '../admission/response.js';

const NUM_RUNS = 300;

// ---- arbitraries ---------------------------------------------------------------------------------------------------

/** Keys a rule may use (valid label keys). */
const RULE_KEYS = ['a', 'b', 'zone', 'gen', 'node.kubernetes.io/lifecycle'] as const;
/** Keys on pods and nodes: also one a rule could never use, with `~` and `/` to escape in patches. */
const POD_KEYS = [...RULE_KEYS, 'a~b/c'] as const;
const VALUES = ['1', '2', '5', 'x'] as const;
const INTEGERS = ['1', '2', '5'] as const;
const NODE_NAMES = ['n1', 'n2', 'n3'] as const;

const ruleKey = fc.constantFrom(...RULE_KEYS);
const value = fc.constantFrom(...VALUES);
const nodeName = fc.constantFrom(...NODE_NAMES);

/** A requirement the API server accepts. */
const validExpression = (key: fc.Arbitrary<string>): fc.Arbitrary<V1NodeSelectorRequirement> =>
  fc.oneof(
    fc.record({ key, operator: fc.constantFrom('In', 'NotIn'), values: fc.uniqueArray(value, { minLength: 1, maxLength: 2 }) }),
    fc.record({ key, operator: fc.constantFrom('Exists', 'DoesNotExist') }),
    fc.record({ key, operator: fc.constantFrom('Gt', 'Lt'), values: fc.constantFrom(...INTEGERS).map((v) => [v]) }),
  );

/** On pods also requirements the scheduler cannot parse (the whole term then matches nothing). */
const podExpression: fc.Arbitrary<V1NodeSelectorRequirement> = fc.oneof(
  { weight: 6, arbitrary: validExpression(fc.constantFrom(...POD_KEYS).filter((k) => k !== 'a~b/c')) },
  { weight: 1, arbitrary: fc.record({ key: ruleKey, operator: fc.constantFrom('Gt', 'Lt'), values: fc.constant<string[]>(['x']) }) },
  { weight: 1, arbitrary: fc.record({ key: ruleKey, operator: fc.constant('In'), values: fc.constant<string[]>([]) }) },
);

const nameField: fc.Arbitrary<V1NodeSelectorRequirement> = fc.record({
  key: fc.constant('metadata.name'),
  operator: fc.constantFrom('In', 'NotIn'),
  values: nodeName.map((n) => [n]),
});

const term = (expression: fc.Arbitrary<V1NodeSelectorRequirement>, minRequirements: number): fc.Arbitrary<V1NodeSelectorTerm> =>
  fc
    .record({ matchExpressions: fc.array(expression, { maxLength: 3 }), matchFields: fc.array(nameField, { maxLength: 1 }) }, { requiredKeys: [] })
    .filter((t) => (t.matchExpressions?.length ?? 0) + (t.matchFields?.length ?? 0) >= minRequirements);

/** The shapes a pod's `spec.affinity` can have on the way to required terms: absent, null, empty, or 0–4 terms. */
const podAffinity: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constant({}),
  fc.constant({ nodeAffinity: null }),
  fc.constant({ nodeAffinity: {} }),
  fc.constant({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: null } }),
  fc.constant({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} } }),
  fc
    .array(term(podExpression, 0), { maxLength: 4 })
    .map((nodeSelectorTerms) => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } })),
);

const labelMap = (keys: readonly string[], maxKeys: number) => fc.dictionary(fc.constantFrom(...keys), value, { maxKeys, noNullPrototype: true });

const podNodeSelector: fc.Arbitrary<unknown> = fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant({}), labelMap(POD_KEYS, 3));

/** Any toleration, with every way of writing the defaults (missing, empty, null). */
const anyToleration: fc.Arbitrary<V1Toleration> = fc.record(
  {
    key: fc.constantFrom('', 'spot', 'gpu'),
    operator: fc.constantFrom('', 'Equal', 'Exists'),
    value: fc.constantFrom('', 'true'),
    effect: fc.constantFrom('', 'NoSchedule', 'NoExecute'),
    tolerationSeconds: fc.constantFrom(null as unknown as number, 30),
  },
  { requiredKeys: [] },
);

/** Tolerations a rule may carry: the schema's (no empty operator, no null) and the API server's rules. */
const ruleToleration = anyToleration.filter((t) => t.operator !== '' && t.tolerationSeconds !== null && validateToleration(t, '').length === 0);

const podTolerations: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constant([]),
  fc.uniqueArray(anyToleration, { maxLength: 4, comparator: sameToleration }),
);

interface PodShape {
  readonly app: string;
  readonly nodeSelector: unknown;
  readonly affinity: unknown;
  readonly tolerations: unknown;
}

const podShape: fc.Arbitrary<PodShape> = fc.record({
  app: fc.constantFrom('web', 'db'),
  nodeSelector: podNodeSelector,
  affinity: podAffinity,
  tolerations: podTolerations,
});

/** The pod as the API server sends it: JSON, with no property set to `undefined`. */
function buildPod(shape: PodShape): V1Pod {
  return JSON.parse(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default', labels: { app: shape.app } },
      spec: {
        containers: [{ name: 'app' }],
        nodeSelector: shape.nodeSelector,
        affinity: shape.affinity,
        tolerations: shape.tolerations,
      },
    }),
  ) as V1Pod;
}

interface RuleShape {
  readonly nodeSelector: Record<string, string> | undefined;
  readonly terms: V1NodeSelectorTerm[] | undefined;
  readonly preferred: V1NodeSelectorTerm[] | undefined;
  readonly tolerations: V1Toleration[] | undefined;
  readonly onlyApp: string | undefined;
  readonly onConflict: OnConflict;
}

/** Sometimes repeats the first item: nothing forbids a rule from listing a term twice. */
const withRepeat = <T>(items: fc.Arbitrary<T[]>): fc.Arbitrary<T[]> =>
  fc.tuple(items, fc.boolean()).map(([xs, repeat]) => (repeat && xs[0] !== undefined ? [...xs, structuredClone(xs[0])] : xs));

const ruleShape = (onConflict: fc.Arbitrary<OnConflict>): fc.Arbitrary<RuleShape> =>
  fc.record({
    nodeSelector: fc.option(labelMap(RULE_KEYS, 2), { nil: undefined }),
    terms: fc.option(withRepeat(fc.array(term(validExpression(ruleKey), 1), { minLength: 1, maxLength: 3 })), { nil: undefined }),
    preferred: fc.option(fc.array(term(validExpression(ruleKey), 1), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    tolerations: fc.option(fc.array(ruleToleration, { maxLength: 3 }), { nil: undefined }),
    onlyApp: fc.option(fc.constantFrom('web', 'db'), { nil: undefined, freq: 4 }),
    onConflict,
  });

type RuleTerm = Static<typeof NodeSelectorTerm>;

function toRule(shape: RuleShape, i: number): Rule {
  const rule: Rule = { name: `rule-${i}`, onConflict: shape.onConflict, inject: {} };
  if (shape.onlyApp !== undefined) rule.match = { podSelector: { matchLabels: { app: shape.onlyApp } } };
  if (shape.nodeSelector !== undefined) rule.inject.nodeSelector = { ...shape.nodeSelector };
  if (shape.tolerations !== undefined) rule.inject.tolerations = shape.tolerations as NonNullable<Rule['inject']['tolerations']>;
  if (shape.terms !== undefined || shape.preferred !== undefined) {
    rule.inject.affinity = { nodeAffinity: {} };
    if (shape.terms !== undefined) {
      rule.inject.affinity.nodeAffinity = { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: shape.terms as RuleTerm[] } };
    }
    if (shape.preferred !== undefined) {
      rule.inject.affinity.nodeAffinity = {
        ...rule.inject.affinity.nodeAffinity,
        preferredDuringSchedulingIgnoredDuringExecution: shape.preferred.map((preference, w) => ({
          weight: w + 1,
          preference: preference as RuleTerm,
        })),
      };
    }
  }
  return JSON.parse(JSON.stringify(rule)) as Rule;
}

/**
 * The rule set of `shapes`. Lint refuses one combination the generator can make (a rule overriding a nodeSelector
 * value that an earlier rule guards with onConflict: reject, which could not be idempotent): such draws are skipped.
 */
function compile(shapes: readonly RuleShape[]): RuleSet {
  const result = compileRules(rulesDoc(shapes.map(toRule)));
  if (!result.ok) {
    fc.pre(!result.errors.every((e) => e.path.endsWith('.onConflict') && e.type === 'Forbidden'));
    throw new Error(`the generator made an invalid rule:\n${result.errors.map(formatFieldError).join('\n')}`);
  }
  return result.ruleSet;
}

const rules = (onConflict: fc.Arbitrary<OnConflict>) => fc.array(ruleShape(onConflict), { minLength: 1, maxLength: 3 });
const anyConflict = fc.constantFrom<OnConflict>('keep', 'override', 'reject');

interface TestNode {
  readonly name: string;
  readonly labels: Record<string, string>;
}
const nodes: fc.Arbitrary<TestNode[]> = fc.array(fc.record({ name: nodeName, labels: labelMap(POD_KEYS, 4) }), {
  minLength: 1,
  maxLength: 6,
});

// ---- helpers -------------------------------------------------------------------------------------------------------

const asJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const mutate = (pod: V1Pod, rs: RuleSet) => mutatePod(pod, rs, 'default', withNameLabel('default', {}));

// ---- the naive evaluator -------------------------------------------------------------------------------------------

const INT = /^[+-]?[0-9]+$/;
const has = (labels: Record<string, string>, key: string) => Object.prototype.hasOwnProperty.call(labels, key);

/** One label requirement on a node: `undefined` when the scheduler cannot parse it. */
function expressionHolds(e: V1NodeSelectorRequirement, labels: Record<string, string>): boolean | undefined {
  const values = e.values ?? [];
  const present = has(labels, e.key);
  const actual = present ? labels[e.key] : undefined;
  if (e.operator === 'In' || e.operator === 'NotIn') {
    if (values.length === 0) return undefined;
    const inSet = present && values.includes(actual as string);
    return e.operator === 'In' ? inSet : !inSet;
  }
  if (e.operator === 'Exists' || e.operator === 'DoesNotExist') {
    if (values.length !== 0) return undefined;
    return e.operator === 'Exists' ? present : !present;
  }
  if (e.operator === 'Gt' || e.operator === 'Lt') {
    const [bound] = values;
    if (values.length !== 1 || bound === undefined || !INT.test(bound)) return undefined;
    if (actual === undefined || !INT.test(actual)) return false;
    return e.operator === 'Gt' ? BigInt(actual) > BigInt(bound) : BigInt(actual) < BigInt(bound);
  }
  return undefined;
}

function fieldHolds(f: V1NodeSelectorRequirement, node: TestNode): boolean | undefined {
  const values = f.values ?? [];
  if ((f.operator !== 'In' && f.operator !== 'NotIn') || values.length !== 1) return undefined;
  const actual = f.key === 'metadata.name' ? node.name : '';
  return f.operator === 'In' ? actual === values[0] : actual !== values[0];
}

/** A term: every requirement holds. An empty term, or one with a requirement that does not parse, matches nothing. */
function termAdmits(t: V1NodeSelectorTerm, node: TestNode): boolean {
  const expressions = t.matchExpressions ?? [];
  const fields = t.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  const results = [...expressions.map((e) => expressionHolds(e, node.labels)), ...fields.map((f) => fieldHolds(f, node))];
  if (results.includes(undefined)) return false;
  return results.every((r) => r === true);
}

/** Terms are ORed; no terms match nothing. */
const termsAdmit = (terms: readonly V1NodeSelectorTerm[], node: TestNode) => terms.some((t) => termAdmits(t, node));

const selectorAdmits = (selector: Record<string, string> | null | undefined, node: TestNode) =>
  Object.entries(selector ?? {}).every(([k, v]) => has(node.labels, k) && node.labels[k] === v);

/** The pod's required placement: nodeSelector AND (if present) required node affinity. */
function podAdmits(pod: V1Pod, node: TestNode): boolean {
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  return selectorAdmits(pod.spec?.nodeSelector, node) && (required == null || termsAdmit(required.nodeSelectorTerms ?? [], node));
}

/**
 * The nodeSelector entries each applied rule actually adds under `onConflict: keep`: a key the pod (or an earlier
 * rule) already has with another value keeps that value, so the rule's entry is not in force.
 */
function enforcedSelectors(pod: V1Pod, applied: readonly RuleShape[]): Record<string, string>[] {
  const current: Record<string, string> = { ...(pod.spec?.nodeSelector ?? {}) };
  return applied.map((rule) => {
    const enforced: Record<string, string> = {};
    for (const [k, v] of Object.entries(rule.nodeSelector ?? {})) {
      if (!has(current, k)) current[k] = v;
      if (current[k] === v) enforced[k] = v;
    }
    return enforced;
  });
}

// ---- properties ----------------------------------------------------------------------------------------------------

describe('mutation properties', () => {
  it('(a) is idempotent: a second pass changes nothing and gives an empty patch', () => {
    fc.assert(
      fc.property(podShape, rules(anyConflict), (shape, ruleShapes) => {
        const rs = compile(ruleShapes);
        const first = mutate(deepFreeze(buildPod(shape)), rs);
        if (first.denial !== undefined) return;
        const again = mutate(deepFreeze(structuredClone(first.pod)), rs);
        expect(again.denial).toBeUndefined();
        expect(asJson(again.pod)).toStrictEqual(asJson(first.pod));
        expect(fastJsonPatch.compare(first.pod, again.pod)).toStrictEqual([]);
        expect(again.appliedRules).toStrictEqual(first.appliedRules);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('(b) the mutated pod admits a node iff the original pod and every applied rule admit it', () => {
    let checked = 0;
    fc.assert(
      fc.property(podShape, rules(fc.constant<OnConflict>('keep')), nodes, (shape, ruleShapes, candidates) => {
        const original = deepFreeze(buildPod(shape));
        const rs = compile(ruleShapes);
        const result = mutate(original, rs);
        if (result.denial !== undefined) return;
        const applied = rs.rules.filter((r) => result.appliedRules.includes(r.name)).map((r) => ruleShapes[r.index] as RuleShape);
        const selectors = enforcedSelectors(original, applied);
        const originalMatcher = nodeAffinityConstraints(original.spec).affinity;
        const mutatedMatcher = nodeAffinityConstraints(result.pod.spec).affinity;
        for (const node of candidates) {
          const rulesAdmit = applied.every(
            (rule, i) => selectorAdmits(selectors[i], node) && (rule.terms === undefined || termsAdmit(rule.terms, node)),
          );
          const want = podAdmits(original, node) && rulesAdmit;
          expect(podAdmits(result.pod, node)).toBe(want);
          // The weaker property, without the nodeSelector bookkeeping: never wider than the pod or any rule's terms.
          if (podAdmits(result.pod, node)) {
            expect(podAdmits(original, node)).toBe(true);
            for (const rule of applied) if (rule.terms !== undefined) expect(termsAdmit(rule.terms, node)).toBe(true);
            if (result.warnings.length === 0) for (const rule of applied) expect(selectorAdmits(rule.nodeSelector, node)).toBe(true);
          }
          // The production matcher agrees with the naive evaluator, before and after.
          expect(originalMatcher.matches(node)).toBe(podAdmits(original, node));
          expect(mutatedMatcher.matches(node)).toBe(podAdmits(result.pod, node));
          checked++;
        }
      }),
      { numRuns: NUM_RUNS },
    );
    expect(checked).toBeGreaterThan(NUM_RUNS);
  });

  it('(c) tolerations never duplicate, and the pod ones stay as they were, in place', () => {
    fc.assert(
      fc.property(podShape, rules(anyConflict), (shape, ruleShapes) => {
        const original = deepFreeze(buildPod(shape));
        const rs = compile(ruleShapes);
        const result = mutate(original, rs);
        const before = original.spec?.tolerations ?? [];
        const after = result.pod.spec?.tolerations ?? [];
        for (let i = 0; i < after.length; i++) {
          for (let j = i + 1; j < after.length; j++) {
            expect(sameToleration(after[i] as V1Toleration, after[j] as V1Toleration)).toBe(false);
          }
        }
        expect(after.slice(0, before.length)).toStrictEqual(before);
        if (result.denial === undefined) {
          const wanted = rs.rules.filter((r) => result.appliedRules.includes(r.name)).flatMap((r) => r.placement.tolerations ?? []);
          for (const t of wanted) expect(after.some((x) => sameToleration(x, t))).toBe(true);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('(d) the patch applied to the original gives the mutated pod', () => {
    fc.assert(
      fc.property(podShape, rules(anyConflict), (shape, ruleShapes) => {
        const original = deepFreeze(buildPod(shape));
        const result = mutate(original, compile(ruleShapes));
        const ops = fastJsonPatch.compare(original, result.pod);
        const patched = fastJsonPatch.applyPatch(asJson(original), asJson(ops), true, false).newDocument;
        expect(patched).toStrictEqual(asJson(result.pod));
        for (const op of ops) expect(op.path).toMatch(/^\/(spec\/|metadata\/annotations)/);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('(e) the patch touches only the fields rules inject, whatever else the pod holds, and applies cleanly', () => {
    /** Where a rule may write: its injections, and the applied-rules annotation. */
    const INJECTED = [
      /^\/spec\/(nodeSelector|affinity|tolerations|topologySpreadConstraints|volumes)(\/|$)/,
      /^\/spec\/(containers|initContainers)\/\d+\/(env|envFrom|volumeMounts)(\/|$)/,
      /^\/metadata\/annotations(\/|$)/,
    ];
    const other = fc.dictionary(fc.constantFrom('x-extra', 'priority', 'dnsPolicy', 'weird~/key'), fc.jsonValue({ maxDepth: 3 }), {
      maxKeys: 3,
      noNullPrototype: true,
    });
    const container = fc.record({
      name: fc.constantFrom('app', 'side'),
      resources: fc.constantFrom(undefined, { requests: { cpu: 1.5, memory: '1Gi' } }, { limits: { cpu: '2' } }),
      env: fc.constantFrom(undefined, [], [{ name: 'MODE', value: 'a' }]),
      extra: other,
    });
    const richPod = fc.record({
      shape: podShape,
      containers: fc.array(container, { minLength: 1, maxLength: 2 }),
      init: fc.array(container, { maxLength: 1 }),
      spec: other,
      meta: other,
    });
    const injection = fc.record({
      env: fc.option(
        fc.constant([
          { name: 'MODE', value: 'b' },
          { name: 'ZONE', value: 'z' },
        ]),
        { nil: undefined },
      ),
      volumeMounts: fc.option(fc.constant([{ name: 'cfg', mountPath: '/etc/cfg' }]), { nil: undefined }),
      volumes: fc.option(fc.constant([{ name: 'cfg', configMap: { name: 'cfg' } }]), { nil: undefined }),
      topologySpreadConstraints: fc.option(
        fc.constant([
          { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' as const, labelSelector: { matchLabels: { app: 'web' } } },
        ]),
        { nil: undefined },
      ),
    });
    let touchedContainers = 0;
    fc.assert(
      fc.property(richPod, rules(anyConflict), fc.array(injection, { maxLength: 2 }), (p, ruleShapes, extras) => {
        const base = buildPod(p.shape);
        const pod = deepFreeze(
          asJson({
            ...base,
            metadata: { ...p.meta, ...base.metadata },
            spec: {
              ...p.spec,
              ...base.spec,
              containers: p.containers.map((c) => ({ ...c.extra, ...c, extra: undefined })),
              ...(p.init.length > 0 ? { initContainers: p.init.map((c) => ({ ...c.extra, ...c, extra: undefined })) } : {}),
            },
          }) as V1Pod,
        );
        const doc = rulesDoc([
          ...ruleShapes.map(toRule),
          ...extras.map((inject, i) => asJson({ name: `inject-${i}`, onConflict: 'keep', inject }) as Rule),
        ]);
        const compiled = compileRules(doc);
        fc.pre(compiled.ok);
        if (!compiled.ok) return;
        const result = mutate(pod, compiled.ruleSet);
        if (result.denial !== undefined) return;
        const ops = diff(pod, result.pod);
        if (ops.some((op) => /^\/spec\/(init)?[cC]ontainers\//.test(op.path))) touchedContainers++;
        for (const op of ops)
          expect(
            INJECTED.some((re) => re.test(op.path)),
            op.path,
          ).toBe(true);
        const patched = fastJsonPatch.applyPatch(asJson(pod), asJson(ops), true, false).newDocument;
        expect(patched).toStrictEqual(asJson(result.pod));
      }),
      { numRuns: NUM_RUNS },
    );
    expect(touchedContainers).toBeGreaterThan(NUM_RUNS / 10);
  });
});
