import type {
  V1Affinity,
  V1Container,
  V1NodeAffinity,
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1Pod,
  V1PodAffinityTerm,
  V1PodSpec,
  V1Toleration,
  V1TopologySpreadConstraint,
  V1Volume,
} from '@kubernetes/client-node';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';

import { mergeContainers, type ContainerInjection } from './containers.js';
import { sameJson } from '../../util/json.js';
import fc from 'fast-check';
import { appendMissing, mergeById } from './lists.js';
import { mergePlacement, MAX_NODE_SELECTOR_TERMS, type Conflict, type Placement } from './index.js';
import { mergeNodeAffinity } from './node-affinity.js';
import { mergeNodeSelector } from './node-selector.js';
import { mergePodAffinity } from './pod-affinity.js';
import { newReport, type MergeReport } from './report.js';
import { mergeTolerations } from './tolerations.js';
import { mergeTopologySpread } from './topology-spread.js';
import { deepFreeze } from '../../util/json.js';

// ---- helpers -----------------------------------------------------------------------------------------------------

const asJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

interface Merged {
  readonly spec: V1PodSpec;
  readonly report: MergeReport;
  /** The JSON Patch from the original pod to the merged one, as the webhook would send it. */
  readonly ops: Operation[];
}

/**
 * Runs `merge` on a clone of a pod with `spec` (the original is frozen: a merge that edits it throws), diffs with
 * fast-json-patch, and checks that the patch, applied with validation to the original as decoded from JSON, gives
 * exactly the merged pod.
 */
function mergeInto(spec: V1PodSpec, merge: (spec: V1PodSpec, report: MergeReport) => void): Merged {
  const original: V1Pod = deepFreeze({ metadata: { name: 'p' }, spec: structuredClone(spec) });
  const mutated = structuredClone(original);
  const mutatedSpec = mutated.spec as V1PodSpec;
  const report = newReport();
  merge(mutatedSpec, report);
  const ops = fastJsonPatch.compare(original, mutated);
  const patched = fastJsonPatch.applyPatch(asJson(original), asJson(ops), true, false).newDocument;
  expect(patched).toStrictEqual(asJson(mutated));
  return { spec: mutatedSpec, report, ops };
}

const base = (fields: Partial<V1PodSpec> = {}): V1PodSpec => ({ containers: [{ name: 'app' }], ...fields });

const expr = (key: string, operator: string, ...values: string[]): V1NodeSelectorRequirement =>
  values.length === 0 ? { key, operator } : { key, operator, values };
const term = (...matchExpressions: V1NodeSelectorRequirement[]): V1NodeSelectorTerm => ({ matchExpressions });
const required = (...nodeSelectorTerms: V1NodeSelectorTerm[]): V1NodeAffinity => ({
  requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms },
});
const withRequired = (nodeSelectorTerms: V1NodeSelectorTerm[]): Partial<V1PodSpec> => ({
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } },
});
const requiredTermsOf = (spec: V1PodSpec) => spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;

const LIFECYCLE = 'node.kubernetes.io/lifecycle';
const ODD_KEY = 'a~b/c';

// ---- equal.ts ------------------------------------------------------------------------------------------------------

describe('sameJson', () => {
  it.each([
    { name: 'equal primitives are the same', a: 'x', b: 'x', want: true },
    { name: 'different primitives differ', a: 1, b: '1', want: false },
    { name: 'key order does not matter', a: { a: 1, b: 2 }, b: { b: 2, a: 1 }, want: true },
    { name: 'array order matters', a: [1, 2], b: [2, 1], want: false },
    { name: 'a property set to undefined equals an absent one', a: { a: 1, b: undefined }, b: { a: 1 }, want: true },
    { name: 'null is not the same as absent', a: { a: null }, b: {}, want: false },
    { name: 'an array is not an object with index keys', a: ['x'], b: { 0: 'x' }, want: false },
    { name: 'nested objects are compared deeply', a: { a: [{ b: 'c' }] }, b: { a: [{ b: 'd' }] }, want: false },
    { name: 'null equals null', a: null, b: null, want: true },
    { name: 'null is not an empty object', a: null, b: {}, want: false },
  ])('$name', ({ a, b, want }) => {
    expect(sameJson(a, b)).toBe(want);
    expect(sameJson(b, a)).toBe(want);
  });

  it('appendMissing appends the missing items themselves (those of a rule are frozen), once each, and counts them', () => {
    const item = { k: 'b' };
    const list = [{ k: 'a' }];
    expect(appendMissing(list, [{ k: 'a' }, item, { k: 'b' }])).toBe(1);
    expect(list).toStrictEqual([{ k: 'a' }, { k: 'b' }]);
    expect(list[1]).toBe(item);
  });
});

describe('mergeById', () => {
  /** The definition: each wanted entry against the first entry of its identity in the list so far. */
  function reference(list: readonly { n: string; v: number }[], wanted: readonly { n: string; v: number }[], override: boolean) {
    const out = [...list];
    const conflicts: string[] = [];
    for (const w of wanted) {
      const i = out.findIndex((x) => x.n === w.n);
      if (i === -1) out.push(w);
      else if (out[i]?.v !== w.v) {
        conflicts.push(w.n);
        if (override) out[i] = w;
      }
    }
    return { out, conflicts };
  }
  const entry = fc.record({ n: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'), v: fc.integer({ min: 0, max: 2 }) });

  it('gives what the definition gives, for short lists (scanned) and long ones (mapped)', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), fc.array(entry, { maxLength: 12 }), fc.boolean(), (list, wanted, override) => {
        const report = newReport();
        const got = mergeById(
          list,
          wanted,
          (x) => x.n,
          (k) => k,
          override,
          report,
        );
        const want = reference(list, wanted, override);
        expect(got ?? list).toStrictEqual(want.out);
        expect(report.conflicts.map((c) => c.subject)).toStrictEqual(want.conflicts);
        if (got === undefined) expect(want.out).toStrictEqual(list);
      }),
      { numRuns: 500 },
    );
  });
});

// ---- nodeSelector ------------------------------------------------------------------------------------------------

describe('mergeNodeSelector', () => {
  it.each<{
    name: string;
    pod: Partial<V1PodSpec>;
    wanted: Record<string, string> | undefined;
    override?: boolean;
    want: Record<string, string> | null | undefined;
    ops: Operation[];
    conflicts?: Conflict[];
  }>([
    {
      name: 'a pod without nodeSelector gets the whole map at /spec/nodeSelector',
      pod: {},
      wanted: { [LIFECYCLE]: 'spot' },
      want: { [LIFECYCLE]: 'spot' },
      ops: [{ op: 'add', path: '/spec/nodeSelector', value: { [LIFECYCLE]: 'spot' } }],
    },
    {
      name: 'a pod with nodeSelector null has it replaced by the map',
      pod: { nodeSelector: null as unknown as undefined },
      wanted: { [LIFECYCLE]: 'spot' },
      want: { [LIFECYCLE]: 'spot' },
      ops: [{ op: 'replace', path: '/spec/nodeSelector', value: { [LIFECYCLE]: 'spot' } }],
    },
    {
      name: 'a pod with an empty nodeSelector gets the key added, its slash escaped as ~1',
      pod: { nodeSelector: {} },
      wanted: { [LIFECYCLE]: 'spot' },
      want: { [LIFECYCLE]: 'spot' },
      ops: [{ op: 'add', path: '/spec/nodeSelector/node.kubernetes.io~1lifecycle', value: 'spot' }],
    },
    {
      name: 'a pod key with ~ and / is kept and a missing key is added beside it',
      pod: { nodeSelector: { [ODD_KEY]: 'x' } },
      wanted: { [LIFECYCLE]: 'spot' },
      want: { [ODD_KEY]: 'x', [LIFECYCLE]: 'spot' },
      ops: [{ op: 'add', path: '/spec/nodeSelector/node.kubernetes.io~1lifecycle', value: 'spot' }],
    },
    {
      name: 'a key with ~ and / is escaped as ~0 and ~1 in the added path',
      pod: { nodeSelector: { [LIFECYCLE]: 'spot' } },
      wanted: { [ODD_KEY]: 'y' },
      want: { [LIFECYCLE]: 'spot', [ODD_KEY]: 'y' },
      ops: [{ op: 'add', path: '/spec/nodeSelector/a~0b~1c', value: 'y' }],
    },
    {
      name: 'a conflicting key with ~ and / is replaced at its escaped path under override',
      pod: { nodeSelector: { [ODD_KEY]: 'old' } },
      wanted: { [ODD_KEY]: 'new' },
      override: true,
      want: { [ODD_KEY]: 'new' },
      ops: [{ op: 'replace', path: '/spec/nodeSelector/a~0b~1c', value: 'new' }],
      conflicts: [{ subject: 'nodeSelector', existing: `${ODD_KEY}=old`, wanted: `${ODD_KEY}=new` }],
    },
    {
      name: 'the same key with the same value changes nothing',
      pod: { nodeSelector: { [LIFECYCLE]: 'spot' } },
      wanted: { [LIFECYCLE]: 'spot' },
      want: { [LIFECYCLE]: 'spot' },
      ops: [],
    },
    {
      name: 'a different value is a conflict and the pod keeps its value without override',
      pod: { nodeSelector: { [LIFECYCLE]: 'on-demand' } },
      wanted: { [LIFECYCLE]: 'spot' },
      want: { [LIFECYCLE]: 'on-demand' },
      ops: [],
      conflicts: [{ subject: 'nodeSelector', existing: `${LIFECYCLE}=on-demand`, wanted: `${LIFECYCLE}=spot` }],
    },
    {
      name: 'a different value is a conflict and replaced with override',
      pod: { nodeSelector: { [LIFECYCLE]: 'on-demand' } },
      wanted: { [LIFECYCLE]: 'spot' },
      override: true,
      want: { [LIFECYCLE]: 'spot' },
      ops: [{ op: 'replace', path: '/spec/nodeSelector/node.kubernetes.io~1lifecycle', value: 'spot' }],
      conflicts: [{ subject: 'nodeSelector', existing: `${LIFECYCLE}=on-demand`, wanted: `${LIFECYCLE}=spot` }],
    },
    {
      name: 'several keys: missing ones added, equal ones left, conflicting ones reported',
      pod: { nodeSelector: { zone: 'a', disk: 'hdd' } },
      wanted: { zone: 'a', disk: 'ssd', [LIFECYCLE]: 'spot' },
      want: { zone: 'a', disk: 'hdd', [LIFECYCLE]: 'spot' },
      ops: [{ op: 'add', path: '/spec/nodeSelector/node.kubernetes.io~1lifecycle', value: 'spot' }],
      conflicts: [{ subject: 'nodeSelector', existing: 'disk=hdd', wanted: 'disk=ssd' }],
    },
    {
      name: 'keys named like Object.prototype members are ordinary keys',
      pod: { nodeSelector: { toString: 'x' } },
      wanted: { constructor: 'y', toString: 'x' },
      want: { toString: 'x', constructor: 'y' },
      ops: [{ op: 'add', path: '/spec/nodeSelector/constructor', value: 'y' }],
    },
    {
      name: 'no wanted nodeSelector leaves an absent one absent',
      pod: {},
      wanted: undefined,
      want: undefined,
      ops: [],
    },
    {
      name: 'an empty wanted nodeSelector leaves a null one null',
      pod: { nodeSelector: null as unknown as undefined },
      wanted: {},
      want: null,
      ops: [],
    },
  ])('$name', ({ pod, wanted, override = false, want, ops, conflicts = [] }) => {
    const got = mergeInto(base(pod), (spec, report) => mergeNodeSelector(spec, wanted, override, report));
    expect(got.spec.nodeSelector).toStrictEqual(want);
    expect(got.ops).toStrictEqual(ops);
    expect(got.report).toStrictEqual({ conflicts, failures: [] });
  });
});

// ---- required node affinity ----------------------------------------------------------------------------------------

describe('mergeNodeAffinity: required terms are ANDed', () => {
  const R1 = term(expr('zone', 'In', 'a', 'b'));
  const R2 = term(expr(LIFECYCLE, 'In', 'spot'));
  const T1 = term(expr('disk', 'In', 'ssd'));
  const T2 = term(expr('gpu', 'Exists'));

  it.each<{ name: string; pod: Partial<V1PodSpec>; rule: V1NodeAffinity; want: V1NodeSelectorTerm[] | undefined }>([
    { name: 'a pod without affinity gets the rule terms', pod: {}, rule: required(R1), want: [R1] },
    {
      name: 'a pod with affinity null gets the rule terms',
      pod: { affinity: null as unknown as undefined },
      rule: required(R1, R2),
      want: [R1, R2],
    },
    { name: 'a pod with an empty affinity gets the rule terms', pod: { affinity: {} }, rule: required(R1), want: [R1] },
    {
      name: 'a pod with nodeAffinity null gets the rule terms',
      pod: { affinity: { nodeAffinity: null as unknown as undefined } },
      rule: required(R1),
      want: [R1],
    },
    {
      name: 'a pod with only preferred node affinity gets the rule terms as required',
      pod: {
        affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: T1 }] } },
      },
      rule: required(R1),
      want: [R1],
    },
    {
      name: 'a pod with required null gets the rule terms',
      pod: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: null as unknown as undefined } } },
      rule: required(R1),
      want: [R1],
    },
    {
      name: 'a rule listing a term twice sets it once on a pod without required affinity',
      pod: {},
      rule: required(R1, R2, structuredClone(R1)),
      want: [R1, R2],
    },
    {
      name: 'one pod term and one rule term become their conjunction',
      pod: withRequired([T1]),
      rule: required(R1),
      want: [term(expr('disk', 'In', 'ssd'), expr('zone', 'In', 'a', 'b'))],
    },
    {
      name: 'pod terms T1,T2 and rule terms R1,R2 become T1∧R1, T1∧R2, T2∧R1, T2∧R2 in that order',
      pod: withRequired([T1, T2]),
      rule: required(R1, R2),
      want: [
        term(expr('disk', 'In', 'ssd'), expr('zone', 'In', 'a', 'b')),
        term(expr('disk', 'In', 'ssd'), expr(LIFECYCLE, 'In', 'spot')),
        term(expr('gpu', 'Exists'), expr('zone', 'In', 'a', 'b')),
        term(expr('gpu', 'Exists'), expr(LIFECYCLE, 'In', 'spot')),
      ],
    },
    {
      name: 'a requirement both terms share appears once in the conjunction',
      pod: withRequired([term(expr('disk', 'In', 'ssd'), expr('zone', 'In', 'a', 'b'))]),
      rule: required(term(expr('zone', 'In', 'a', 'b'), expr(LIFECYCLE, 'In', 'spot'))),
      want: [term(expr('disk', 'In', 'ssd'), expr('zone', 'In', 'a', 'b'), expr(LIFECYCLE, 'In', 'spot'))],
    },
    {
      name: 'a pod term that already holds every requirement of a rule term is kept as it is',
      pod: withRequired([term(expr(LIFECYCLE, 'In', 'spot'), expr('disk', 'In', 'ssd')), T2]),
      rule: required(R1, R2),
      want: [
        term(expr(LIFECYCLE, 'In', 'spot'), expr('disk', 'In', 'ssd')),
        term(expr('gpu', 'Exists'), expr('zone', 'In', 'a', 'b')),
        term(expr('gpu', 'Exists'), expr(LIFECYCLE, 'In', 'spot')),
      ],
    },
    {
      name: 'a pod term equal to the rule term changes nothing',
      pod: withRequired([R1]),
      rule: required(R1),
      want: [R1],
    },
    {
      name: 'a requirement with the same operator but other values is not the same requirement',
      pod: withRequired([term(expr('zone', 'In', 'a'))]),
      rule: required(R1),
      want: [term(expr('zone', 'In', 'a'), expr('zone', 'In', 'a', 'b'))],
    },
    {
      name: 'an empty pod term matches nothing and stays as it is',
      pod: withRequired([{}, T1]),
      rule: required(R1),
      want: [{}, term(expr('disk', 'In', 'ssd'), expr('zone', 'In', 'a', 'b'))],
    },
    {
      name: 'a pod term with empty lists is an empty term and stays',
      pod: withRequired([{ matchExpressions: [], matchFields: [] }]),
      rule: required(R1),
      want: [{ matchExpressions: [], matchFields: [] }],
    },
    {
      name: 'an empty list of pod terms matches nothing and is left untouched',
      pod: withRequired([]),
      rule: required(R1),
      want: [],
    },
    {
      name: 'a required affinity without a term list matches nothing and is left untouched',
      pod: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} as never } } },
      rule: required(R1),
      want: undefined,
    },
    {
      name: 'duplicate results are dropped: identical pod terms give one conjunction',
      pod: withRequired([T1, structuredClone(T1)]),
      rule: required(R1),
      want: [term(expr('disk', 'In', 'ssd'), expr('zone', 'In', 'a', 'b'))],
    },
    {
      name: 'terms holding the same requirements in another order are duplicates',
      pod: withRequired([term(expr('a', 'Exists'), expr('b', 'Exists')), term(expr('b', 'Exists'), expr('a', 'Exists'))]),
      rule: required(term(expr('c', 'Exists'))),
      want: [term(expr('a', 'Exists'), expr('b', 'Exists'), expr('c', 'Exists'))],
    },
    {
      name: 'matchFields are concatenated like matchExpressions',
      pod: withRequired([{ matchFields: [expr('metadata.name', 'NotIn', 'n1')] }]),
      rule: required({ matchExpressions: [expr('zone', 'In', 'a')], matchFields: [expr('metadata.name', 'NotIn', 'n2')] }),
      want: [
        {
          matchExpressions: [expr('zone', 'In', 'a')],
          matchFields: [expr('metadata.name', 'NotIn', 'n1'), expr('metadata.name', 'NotIn', 'n2')],
        },
      ],
    },
    {
      name: 'Gt and Lt requirements are carried over unchanged',
      pod: withRequired([term(expr('cpu-gen', 'Gt', '3'))]),
      rule: required(term(expr('cpu-gen', 'Lt', '8'))),
      want: [term(expr('cpu-gen', 'Gt', '3'), expr('cpu-gen', 'Lt', '8'))],
    },
  ])('$name', ({ pod, rule, want }) => {
    const got = mergeInto(base(pod), (spec, report) => mergeNodeAffinity(spec, rule, report));
    expect(requiredTermsOf(got.spec)).toStrictEqual(want);
    expect(got.report).toStrictEqual({ conflicts: [], failures: [] });
  });

  it.each([
    { name: '9 pod terms × 8 rule terms (72) is refused', pod: 9, rule: 8, fails: true },
    { name: '8 pod terms × 8 rule terms (64, the limit) is accepted', pod: 8, rule: 8, fails: false },
    { name: '65 pod terms × 1 rule term is refused', pod: 65, rule: 1, fails: true },
    { name: '5000 pod terms × 1 rule term is refused', pod: 5000, rule: 1, fails: true },
  ])('$name', ({ pod, rule, fails }) => {
    const podTerms = Array.from({ length: pod }, (_, i) => term(expr('p', 'In', `v${i}`)));
    const ruleTerms = Array.from({ length: rule }, (_, i) => term(expr('r', 'In', `v${i}`)));
    const got = mergeInto(base(withRequired(podTerms)), (spec, report) => mergeNodeAffinity(spec, required(...ruleTerms), report));
    if (fails) {
      expect(got.report.failures).toStrictEqual([
        `combining the pod's ${pod} required node-affinity terms with the rule's ${rule} gives more than ${MAX_NODE_SELECTOR_TERMS} terms, the limit`,
      ]);
      expect(requiredTermsOf(got.spec)).toStrictEqual(podTerms);
    } else {
      expect(got.report.failures).toStrictEqual([]);
      expect(requiredTermsOf(got.spec)).toHaveLength(pod * rule);
    }
  });

  it('gives up quickly on a pod with thousands of terms (no quadratic deduplication past the limit)', () => {
    const podTerms = Array.from({ length: 20_000 }, (_, i) => term(expr('p', 'In', `v${i}`)));
    const spec = base(withRequired(podTerms));
    const report = newReport();
    const started = performance.now();
    mergeNodeAffinity(spec, required(term(expr('r', 'Exists'))), report);
    expect(performance.now() - started).toBeLessThan(500);
    expect(report.failures).toHaveLength(1);
  });

  it('frozen rules merge one after the other: what the pod shares with a rule is never edited (it would throw)', () => {
    const rule = deepFreeze(required(R1));
    const spec = base();
    mergeNodeAffinity(spec, rule, newReport());
    expect(requiredTermsOf(spec)?.[0]).toBe(rule.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0]);
    mergeNodeAffinity(spec, deepFreeze(required(R2)), newReport());
    expect(requiredTermsOf(spec)).toStrictEqual([term(expr('zone', 'In', 'a', 'b'), expr(LIFECYCLE, 'In', 'spot'))]);
    expect(Object.isFrozen(requiredTermsOf(spec)?.[0]?.matchExpressions?.[0])).toBe(true);
  });

  it.each([
    { name: 'absent affinity', pod: {}, path: '/spec/affinity' },
    { name: 'affinity null', pod: { affinity: null as unknown as undefined }, path: '/spec/affinity' },
    { name: 'empty affinity', pod: { affinity: {} }, path: '/spec/affinity/nodeAffinity' },
    {
      name: 'empty nodeAffinity',
      pod: { affinity: { nodeAffinity: {} } },
      path: '/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution',
    },
  ])('the patch for $name creates the missing parent at $path', ({ pod, path }) => {
    const got = mergeInto(base(pod), (spec, report) => mergeNodeAffinity(spec, required(R1), report));
    expect(got.ops).toHaveLength(1);
    expect(got.ops[0]?.path).toBe(path);
  });

  it('a rule without node affinity terms creates no empty affinity objects', () => {
    const got = mergeInto(base(), (spec, report) => mergeNodeAffinity(spec, {}, report));
    expect(got.ops).toStrictEqual([]);
    const none = mergeInto(base(), (spec, report) => mergeNodeAffinity(spec, undefined, report));
    expect(none.ops).toStrictEqual([]);
  });
});

describe('mergeNodeAffinity: preferred terms are appended when missing', () => {
  const P1 = { weight: 10, preference: term(expr('zone', 'In', 'a')) };
  const P2 = { weight: 50, preference: term(expr('disk', 'In', 'ssd')) };

  it.each<{ name: string; pod: Partial<V1PodSpec>; want: unknown[] }>([
    { name: 'a pod without affinity gets the rule preference', pod: {}, want: [P1] },
    { name: 'a pod with affinity null gets the rule preference', pod: { affinity: null as unknown as undefined }, want: [P1] },
    {
      name: 'a pod with preferred null gets the rule preference',
      pod: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: null as unknown as undefined } } },
      want: [P1],
    },
    {
      name: 'a pod with an empty preferred list gets the rule preference',
      pod: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } } },
      want: [P1],
    },
    {
      name: 'another preference of the pod is kept and the rule one appended after it',
      pod: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [P2] } } },
      want: [P2, P1],
    },
    {
      name: 'an identical preference is not appended again',
      pod: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [P2, P1] } } },
      want: [P2, P1],
    },
    {
      name: 'the same preference with another weight is a different term and is appended',
      pod: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ ...P1, weight: 99 }] } } },
      want: [{ ...P1, weight: 99 }, P1],
    },
  ])('$name', ({ pod, want }) => {
    const got = mergeInto(base(pod), (spec, report) => mergeNodeAffinity(spec, { preferredDuringSchedulingIgnoredDuringExecution: [P1] }, report));
    expect(got.spec.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution).toStrictEqual(want);
    expect(got.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
  });
});

// ---- pod affinity and anti-affinity ------------------------------------------------------------------------------

describe('mergePodAffinity', () => {
  const A: V1PodAffinityTerm = { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'cache' } } };
  const B: V1PodAffinityTerm = { topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: { app: 'db' } } };
  const W = { weight: 20, podAffinityTerm: B };

  it.each<{
    name: string;
    kind: 'podAffinity' | 'podAntiAffinity';
    pod: V1Affinity | null | undefined;
    rule: V1Affinity;
    want: V1Affinity | null | undefined;
  }>([
    {
      name: 'a pod without affinity gets required pod affinity',
      kind: 'podAffinity',
      pod: undefined,
      rule: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A] } },
      want: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A] } },
    },
    {
      name: 'a pod with affinity null gets required anti-affinity',
      kind: 'podAntiAffinity',
      pod: null,
      rule: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A] } },
      want: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A] } },
    },
    {
      name: 'a pod with podAffinity null gets preferred pod affinity',
      kind: 'podAffinity',
      pod: { podAffinity: null as unknown as undefined },
      rule: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [W] } },
      want: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [W] } },
    },
    {
      name: 'a pod with empty lists gets both required and preferred anti-affinity',
      kind: 'podAntiAffinity',
      pod: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [], preferredDuringSchedulingIgnoredDuringExecution: [] } },
      rule: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A], preferredDuringSchedulingIgnoredDuringExecution: [W] } },
      want: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A], preferredDuringSchedulingIgnoredDuringExecution: [W] } },
    },
    {
      name: 'a pod term that differs is kept and the rule term appended (pod-affinity terms are ANDed)',
      kind: 'podAffinity',
      pod: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [B] } },
      rule: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A] } },
      want: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [B, A] } },
    },
    {
      name: 'an identical required anti-affinity term is not appended again',
      kind: 'podAntiAffinity',
      pod: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [structuredClone(A)] } },
      rule: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A] } },
      want: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A] } },
    },
    {
      name: 'an identical preferred term is not appended again',
      kind: 'podAffinity',
      pod: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [structuredClone(W)] } },
      rule: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [W] } },
      want: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [W] } },
    },
    {
      name: 'pod affinity of the rule leaves the pod node affinity alone',
      kind: 'podAffinity',
      pod: { nodeAffinity: required(term(expr('zone', 'In', 'a'))) },
      rule: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A] } },
      want: {
        nodeAffinity: required(term(expr('zone', 'In', 'a'))),
        podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [A] },
      },
    },
    {
      name: 'a rule with empty pod-affinity lists creates nothing',
      kind: 'podAffinity',
      pod: undefined,
      rule: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [] }, podAntiAffinity: {} },
      want: undefined,
    },
  ])('$name', ({ pod, rule, want }) => {
    const spec = base(pod === undefined ? {} : { affinity: pod as V1Affinity });
    const got = mergeInto(spec, (s) => mergePodAffinity(s, rule));
    expect(got.spec.affinity).toStrictEqual(want);
  });
});

// ---- tolerations ---------------------------------------------------------------------------------------------------

describe('mergeTolerations', () => {
  const spot: V1Toleration = { key: 'spot', operator: 'Equal', value: 'true', effect: 'NoSchedule' };
  const gpu: V1Toleration = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };

  it.each<{ name: string; pod: V1Toleration[] | null | undefined; rule: V1Toleration[] | undefined; want: V1Toleration[] | null | undefined }>([
    { name: 'a pod without tolerations gets the rule ones', pod: undefined, rule: [spot, gpu], want: [spot, gpu] },
    { name: 'a pod with tolerations null gets the rule ones', pod: null, rule: [spot], want: [spot] },
    { name: 'a pod with an empty list gets the rule ones', pod: [], rule: [spot], want: [spot] },
    { name: 'a pod toleration is kept and a missing one appended after it', pod: [gpu], rule: [spot], want: [gpu, spot] },
    { name: 'an identical toleration is not appended', pod: [spot], rule: [spot], want: [spot] },
    {
      name: 'a missing operator is Equal: the pod one counts as present and is not rewritten',
      pod: [{ key: 'spot', value: 'true', effect: 'NoSchedule' }],
      rule: [spot],
      want: [{ key: 'spot', value: 'true', effect: 'NoSchedule' }],
    },
    {
      name: 'an empty operator is Equal',
      pod: [{ key: 'spot', operator: '', value: 'true', effect: 'NoSchedule' }],
      rule: [spot],
      want: [{ key: 'spot', operator: '', value: 'true', effect: 'NoSchedule' }],
    },
    {
      name: 'a null tolerationSeconds is the same as none',
      pod: [{ ...spot, tolerationSeconds: null as unknown as undefined }],
      rule: [spot],
      want: [{ ...spot, tolerationSeconds: null as unknown as undefined }],
    },
    {
      name: 'a missing value equals an empty value',
      pod: [{ key: 'dedicated', operator: 'Equal', value: '', effect: 'NoSchedule' }],
      rule: [{ key: 'dedicated', effect: 'NoSchedule' }],
      want: [{ key: 'dedicated', operator: 'Equal', value: '', effect: 'NoSchedule' }],
    },
    {
      name: 'another effect is another toleration, and the pod one is not modified',
      pod: [{ ...spot, effect: 'NoExecute' }],
      rule: [spot],
      want: [{ ...spot, effect: 'NoExecute' }, spot],
    },
    {
      name: 'another tolerationSeconds is another toleration',
      pod: [{ key: 'x', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }],
      rule: [{ key: 'x', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }],
      want: [
        { key: 'x', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
        { key: 'x', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 },
      ],
    },
    {
      name: 'a broader pod toleration does not stop the rule one being appended (no implication, only sameness)',
      pod: [{ operator: 'Exists' }],
      rule: [spot],
      want: [{ operator: 'Exists' }, spot],
    },
    {
      name: 'two rule tolerations that are the same after defaults are appended once',
      pod: undefined,
      rule: [
        { key: 'spot', value: 'true' },
        { key: 'spot', operator: 'Equal', value: 'true' },
      ],
      want: [{ key: 'spot', value: 'true' }],
    },
    { name: 'no rule tolerations leaves null alone', pod: null, rule: undefined, want: null },
    { name: 'an empty rule list leaves absent alone', pod: undefined, rule: [], want: undefined },
  ])('$name', ({ pod, rule, want }) => {
    const spec = base(pod === undefined ? {} : { tolerations: pod as V1Toleration[] });
    const got = mergeInto(spec, (s) => mergeTolerations(s, rule));
    expect(got.spec.tolerations).toStrictEqual(want);
    if (Array.isArray(pod) && pod.length > 0) {
      // Existing tolerations are never modified nor removed: the patch only adds at the end.
      expect(got.ops.every((op) => op.op === 'add' && /^\/spec\/tolerations\/\d+$/.test(op.path))).toBe(true);
    }
  });
});

// ---- topology spread -----------------------------------------------------------------------------------------------

describe('mergeTopologySpread', () => {
  const zone: V1TopologySpreadConstraint = {
    maxSkew: 1,
    topologyKey: 'topology.kubernetes.io/zone',
    whenUnsatisfiable: 'DoNotSchedule',
    labelSelector: { matchLabels: { app: 'web' } },
  };
  const host: V1TopologySpreadConstraint = { maxSkew: 2, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway' };

  it.each<{
    name: string;
    pod: V1TopologySpreadConstraint[] | null | undefined;
    override?: boolean;
    want: V1TopologySpreadConstraint[] | null | undefined;
    conflicts?: Conflict[];
  }>([
    { name: 'a pod without constraints gets the rule one', pod: undefined, want: [zone] },
    { name: 'a pod with constraints null gets the rule one', pod: null, want: [zone] },
    { name: 'a pod with an empty list gets the rule one', pod: [], want: [zone] },
    { name: 'a constraint on another key is kept and the rule one appended', pod: [host], want: [host, zone] },
    {
      name: 'the same key with another whenUnsatisfiable is another constraint',
      pod: [{ ...zone, whenUnsatisfiable: 'ScheduleAnyway' }],
      want: [{ ...zone, whenUnsatisfiable: 'ScheduleAnyway' }, zone],
    },
    { name: 'an identical constraint changes nothing', pod: [structuredClone(zone)], want: [zone] },
    {
      name: 'the same key and whenUnsatisfiable with another maxSkew is a conflict; the pod keeps its own',
      pod: [{ ...zone, maxSkew: 3 }],
      want: [{ ...zone, maxSkew: 3 }],
      conflicts: [{ subject: 'topologySpreadConstraint topology.kubernetes.io/zone/DoNotSchedule', existing: 'maxSkew=3', wanted: 'maxSkew=1' }],
    },
    {
      name: 'the same key and whenUnsatisfiable with another selector is a conflict replaced under override',
      pod: [host, { ...zone, labelSelector: { matchLabels: { app: 'api' } } }],
      override: true,
      want: [host, zone],
      conflicts: [{ subject: 'topologySpreadConstraint topology.kubernetes.io/zone/DoNotSchedule', existing: 'maxSkew=1', wanted: 'maxSkew=1' }],
    },
  ])('$name', ({ pod, override = false, want, conflicts = [] }) => {
    const spec = base(pod === undefined ? {} : { topologySpreadConstraints: pod as V1TopologySpreadConstraint[] });
    const got = mergeInto(spec, (s, report) => mergeTopologySpread(s, [zone], override, report));
    expect(got.spec.topologySpreadConstraints).toStrictEqual(want);
    expect(got.report).toStrictEqual({ conflicts, failures: [] });
  });

  it('no rule constraints leaves the pod alone', () => {
    const got = mergeInto(base({ topologySpreadConstraints: null as unknown as undefined }), (s, report) =>
      mergeTopologySpread(s, [], false, report),
    );
    expect(got.ops).toStrictEqual([]);
  });
});

// ---- env, envFrom, volumeMounts, volumes -------------------------------------------------------------------------

describe('mergeContainers', () => {
  const region = { name: 'REGION', value: 'eu-west-1' };
  const cm = { configMapRef: { name: 'defaults' } };
  const cache = { name: 'cache', mountPath: '/cache' };
  const cacheVolume: V1Volume = { name: 'cache', emptyDir: {} };

  const twoContainers = (fields: Partial<V1Container> = {}, init: Partial<V1Container> = {}): V1PodSpec => ({
    initContainers: [{ name: 'init', ...init }],
    containers: [
      { name: 'app', ...fields },
      { name: 'sidecar', ...fields },
    ],
  });

  it.each<{
    name: string;
    spec: V1PodSpec;
    inject: ContainerInjection;
    override?: boolean;
    want: Partial<V1PodSpec>;
    conflicts?: string[];
  }>([
    {
      name: 'env goes into every container and initContainer that has none',
      spec: twoContainers(),
      inject: { env: [region] },
      want: {
        initContainers: [{ name: 'init', env: [region] }],
        containers: [
          { name: 'app', env: [region] },
          { name: 'sidecar', env: [region] },
        ],
      },
    },
    {
      name: 'env null and empty env lists get the variable',
      spec: twoContainers({ env: [] }, { env: null as unknown as undefined }),
      inject: { env: [region] },
      want: {
        initContainers: [{ name: 'init', env: [region] }],
        containers: [
          { name: 'app', env: [region] },
          { name: 'sidecar', env: [region] },
        ],
      },
    },
    {
      name: 'an env var of another name is kept and the rule one appended',
      spec: twoContainers({ env: [{ name: 'A', value: '1' }] }),
      inject: { env: [region] },
      want: {
        initContainers: [{ name: 'init', env: [region] }],
        containers: [
          { name: 'app', env: [{ name: 'A', value: '1' }, region] },
          { name: 'sidecar', env: [{ name: 'A', value: '1' }, region] },
        ],
      },
    },
    {
      name: 'an identical env var changes nothing',
      spec: twoContainers({ env: [region] }, { env: [region] }),
      inject: { env: [region] },
      want: twoContainers({ env: [region] }, { env: [region] }),
    },
    {
      name: 'an env var with the same name and another value is a conflict per container (values not shown)',
      spec: twoContainers({ env: [{ name: 'REGION', value: 'us-east-1' }] }),
      inject: { env: [region] },
      want: {
        initContainers: [{ name: 'init', env: [region] }],
        containers: [
          { name: 'app', env: [{ name: 'REGION', value: 'us-east-1' }] },
          { name: 'sidecar', env: [{ name: 'REGION', value: 'us-east-1' }] },
        ],
      },
      conflicts: ['env REGION in container app', 'env REGION in container sidecar'],
    },
    {
      name: 'an env var from a secret replaced by the rule value under override',
      spec: { containers: [{ name: 'app', env: [{ name: 'REGION', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }] },
      inject: { env: [region] },
      override: true,
      want: { containers: [{ name: 'app', env: [region] }] },
      conflicts: ['env REGION in container app'],
    },
    {
      name: 'envFrom is identified by its source; the same source is left alone',
      spec: { containers: [{ name: 'app', envFrom: [{ configMapRef: { name: 'defaults' } }] }] },
      inject: { envFrom: [cm, { secretRef: { name: 'defaults' } }] },
      want: { containers: [{ name: 'app', envFrom: [cm, { secretRef: { name: 'defaults' } }] }] },
    },
    {
      name: 'envFrom of the same source with another prefix is a conflict',
      spec: { containers: [{ name: 'app', envFrom: [{ ...cm, prefix: 'X_' }] }] },
      inject: { envFrom: [cm] },
      want: { containers: [{ name: 'app', envFrom: [{ ...cm, prefix: 'X_' }] }] },
      conflicts: ['envFrom configMap:defaults in container app'],
    },
    {
      name: 'volumeMounts are identified by mountPath: another path is appended even for the same volume',
      spec: { containers: [{ name: 'app', volumeMounts: [{ name: 'cache', mountPath: '/tmp/cache' }] }] },
      inject: { volumeMounts: [cache] },
      want: { containers: [{ name: 'app', volumeMounts: [{ name: 'cache', mountPath: '/tmp/cache' }, cache] }] },
    },
    {
      name: 'a volumeMount at the same path with other content is a conflict, replaced under override',
      spec: { initContainers: [{ name: 'init', volumeMounts: [{ name: 'other', mountPath: '/cache' }] }], containers: [{ name: 'app' }] },
      inject: { volumeMounts: [cache] },
      override: true,
      want: { initContainers: [{ name: 'init', volumeMounts: [cache] }], containers: [{ name: 'app', volumeMounts: [cache] }] },
      conflicts: ['volumeMount /cache in initContainer init'],
    },
    {
      name: 'volumes go into the pod (absent list)',
      spec: { containers: [{ name: 'app' }] },
      inject: { volumes: [cacheVolume] },
      want: { containers: [{ name: 'app' }], volumes: [cacheVolume] },
    },
    {
      name: 'volumes go into the pod (null list)',
      spec: { containers: [{ name: 'app' }], volumes: null as unknown as undefined },
      inject: { volumes: [cacheVolume] },
      want: { containers: [{ name: 'app' }], volumes: [cacheVolume] },
    },
    {
      name: 'an identical volume changes nothing; one of the same name with another source conflicts',
      spec: { containers: [{ name: 'app' }], volumes: [cacheVolume, { name: 'data', emptyDir: {} }] },
      inject: { volumes: [cacheVolume, { name: 'data', configMap: { name: 'data' } }] },
      want: { containers: [{ name: 'app' }], volumes: [cacheVolume, { name: 'data', emptyDir: {} }] },
      conflicts: ['volume data'],
    },
    {
      name: 'a pod without initContainers only gets the containers changed',
      spec: { containers: [{ name: 'app' }] },
      inject: { env: [region], envFrom: [cm], volumeMounts: [cache], volumes: [cacheVolume] },
      want: { containers: [{ name: 'app', env: [region], envFrom: [cm], volumeMounts: [cache] }], volumes: [cacheVolume] },
    },
  ])('$name', ({ spec, inject, override = false, want, conflicts = [] }) => {
    const got = mergeInto(spec, (s, report) => mergeContainers(s, inject, override, report));
    expect(asJson(got.spec)).toStrictEqual(asJson(want));
    expect(got.report.conflicts.map((c) => c.subject)).toStrictEqual(conflicts);
    // Env values and volume sources may be secrets: they never appear in a conflict.
    expect(got.report.conflicts.every((c) => c.existing === undefined && c.wanted === undefined)).toBe(true);
  });
});

// ---- mergePlacement ------------------------------------------------------------------------------------------------

describe('mergePlacement', () => {
  it('merges every field of a placement and collects the conflicts of all of them', () => {
    const placement: Placement = {
      nodeSelector: { [LIFECYCLE]: 'spot', zone: 'a' },
      tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }],
      affinity: {
        nodeAffinity: required(term(expr('disk', 'In', 'ssd'))),
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }] },
      },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }],
      env: [{ name: 'A', value: '1' }],
      volumes: [{ name: 'v', emptyDir: {} }],
    };
    const got = mergeInto(base({ nodeSelector: { zone: 'b' }, containers: [{ name: 'app', env: [{ name: 'A', value: '2' }] }] }), (spec, report) => {
      const r = mergePlacement(spec, placement, false);
      report.conflicts.push(...r.conflicts);
      report.failures.push(...r.failures);
    });
    expect(asJson(got.spec)).toStrictEqual({
      containers: [{ name: 'app', env: [{ name: 'A', value: '2' }] }],
      nodeSelector: { zone: 'b', [LIFECYCLE]: 'spot' },
      affinity: {
        nodeAffinity: required(term(expr('disk', 'In', 'ssd'))),
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }] },
      },
      tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }],
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }],
      volumes: [{ name: 'v', emptyDir: {} }],
    });
    expect(got.report.conflicts.map((c) => c.subject)).toStrictEqual(['nodeSelector', 'env A in container app']);
  });

  it('an empty placement changes nothing, even on a pod with null fields', () => {
    const spec = base({
      nodeSelector: null as unknown as undefined,
      affinity: null as unknown as undefined,
      tolerations: null as unknown as undefined,
    });
    const got = mergeInto(spec, (s) => mergePlacement(s, {}, true));
    expect(got.ops).toStrictEqual([]);
  });
});
