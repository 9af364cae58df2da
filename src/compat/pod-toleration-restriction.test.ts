/**
 * Cases of kubernetes v1.20 `pkg/util/tolerations/tolerations_test.go` (TestIsSuperset, TestMergeTolerations,
 * TestVerifyAgainstWhitelist), `plugin/pkg/admission/podtolerationrestriction/admission_test.go` and
 * `pkg/apis/core/helper/qos/qos_test.go`, as tables.
 */
import type { V1Toleration } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { makePod } from '../../test/support/builders.js';
import {
  admitTolerations,
  DEFAULT_TOLERATIONS_ANNOTATION,
  isSuperset,
  MEMORY_PRESSURE_TOLERATION,
  mergeTolerations,
  parseTolerationsAnnotation,
  podQos,
  TOLERATIONS_WHITELIST_ANNOTATION,
  validateTolerations,
  verifyAgainstWhitelist,
} from './pod-toleration-restriction.js';

const t = (o: V1Toleration): V1Toleration => o;
const NOT_READY = t({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });

describe('isSuperset', () => {
  it.each([
    { name: 'equal tolerations', ss: t({ key: 'a', operator: 'Equal', value: 'x' }), t: t({ key: 'a', operator: 'Equal', value: 'x' }), want: true },
    {
      name: 'empty key with Exists tolerates every key',
      ss: t({ operator: 'Exists' }),
      t: t({ key: 'a', operator: 'Equal', value: 'x', effect: 'NoSchedule' }),
      want: true,
    },
    { name: 'empty key with Equal is not a wildcard', ss: t({ operator: 'Equal' }), t: t({ key: 'a', operator: 'Equal' }), want: false },
    {
      name: 'Exists on a key covers its values',
      ss: t({ key: 'a', operator: 'Exists' }),
      t: t({ key: 'a', operator: 'Equal', value: 'x' }),
      want: true,
    },
    { name: 'another key', ss: t({ key: 'a', operator: 'Exists' }), t: t({ key: 'b', operator: 'Exists' }), want: false },
    {
      name: 'empty effect covers every effect',
      ss: t({ key: 'a', operator: 'Exists' }),
      t: t({ key: 'a', operator: 'Exists', effect: 'NoExecute' }),
      want: true,
    },
    {
      name: 'a given effect does not cover another',
      ss: t({ key: 'a', operator: 'Exists', effect: 'NoSchedule' }),
      t: t({ key: 'a', operator: 'Exists', effect: 'NoExecute' }),
      want: false,
    },
    {
      name: 'NoExecute with seconds covers shorter seconds',
      ss: t({ key: 'a', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 600 }),
      t: t({ key: 'a', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }),
      want: true,
    },
    {
      name: 'NoExecute with seconds does not cover longer seconds',
      ss: t({ key: 'a', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }),
      t: t({ key: 'a', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 600 }),
      want: false,
    },
    {
      name: 'NoExecute with seconds does not cover forever',
      ss: t({ key: 'a', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }),
      t: t({ key: 'a', operator: 'Exists', effect: 'NoExecute' }),
      want: false,
    },
    {
      name: 'an Equal superset requires an explicit Equal operator on the subset',
      ss: t({ key: 'a', operator: 'Equal', value: 'x' }),
      t: t({ key: 'a', value: 'x', effect: 'NoSchedule' }),
      want: false,
    },
    {
      name: 'an omitted operator is Equal on the superset side',
      ss: t({ key: 'a', value: 'x' }),
      t: t({ key: 'a', operator: 'Equal', value: 'x', effect: 'NoSchedule' }),
      want: true,
    },
    {
      name: 'an Equal superset does not cover Exists',
      ss: t({ key: 'a', operator: 'Equal', value: 'x' }),
      t: t({ key: 'a', operator: 'Exists' }),
      want: false,
    },
  ])('$name', ({ ss, t: sub, want }) => {
    expect(isSuperset(ss, sub)).toBe(want);
  });
});

describe('mergeTolerations (keeps only superseding tolerations)', () => {
  it.each([
    {
      name: 'disjoint lists are concatenated',
      a: [t({ key: 'a', operator: 'Exists' })],
      b: [t({ key: 'b', operator: 'Exists' })],
      want: [t({ key: 'a', operator: 'Exists' }), t({ key: 'b', operator: 'Exists' })],
    },
    {
      name: 'duplicates keep the first',
      a: [t({ key: 'a', operator: 'Exists' })],
      b: [t({ key: 'a', operator: 'Exists' })],
      want: [t({ key: 'a', operator: 'Exists' })],
    },
    {
      name: "a default that tolerates everything drops every one of the pod's tolerations",
      a: [t({ key: 'a', operator: 'Equal', value: 'x' }), NOT_READY],
      b: [t({ operator: 'Exists' })],
      want: [t({ operator: 'Exists' })],
    },
    {
      name: "a pod toleration superseded by a default is dropped, the default kept in the pod's place",
      a: [t({ key: 'a', operator: 'Equal', value: 'x', effect: 'NoSchedule' }), t({ key: 'c', operator: 'Exists' })],
      b: [t({ key: 'a', operator: 'Exists' })],
      want: [t({ key: 'c', operator: 'Exists' }), t({ key: 'a', operator: 'Exists' })],
    },
    {
      name: 'a default superseded by a pod toleration is not added',
      a: [t({ key: 'a', operator: 'Exists' })],
      b: [t({ key: 'a', operator: 'Equal', value: 'x', effect: 'NoSchedule' })],
      want: [t({ key: 'a', operator: 'Exists' })],
    },
    {
      name: 'two values of one key are a union, not a conflict',
      a: [t({ key: 'a', operator: 'Equal', value: 'x' })],
      b: [t({ key: 'a', operator: 'Equal', value: 'y' })],
      want: [t({ key: 'a', operator: 'Equal', value: 'x' }), t({ key: 'a', operator: 'Equal', value: 'y' })],
    },
  ])('$name', ({ a, b, want }) => {
    expect(mergeTolerations(a, b)).toStrictEqual(want);
  });
});

describe('verifyAgainstWhitelist', () => {
  const whitelist = [t({ key: 'a', operator: 'Exists' }), t({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' })];
  it.each([
    { name: 'an empty whitelist allows everything', tolerations: [t({ key: 'z', operator: 'Exists' })], whitelist: [], want: true },
    { name: 'no tolerations always pass', tolerations: [], whitelist, want: true },
    {
      name: 'each toleration covered by some entry',
      tolerations: [t({ key: 'a', operator: 'Equal', value: 'x' }), NOT_READY],
      whitelist,
      want: true,
    },
    {
      name: 'one toleration outside the whitelist',
      tolerations: [t({ key: 'a', operator: 'Exists' }), t({ key: 'b', operator: 'Exists' })],
      whitelist,
      want: false,
    },
  ])('$name', ({ tolerations, whitelist: w, want }) => {
    expect(verifyAgainstWhitelist(tolerations, w)).toBe(want);
  });
});

describe('parseTolerationsAnnotation (extractNSTolerations)', () => {
  const key = DEFAULT_TOLERATIONS_ANNOTATION;
  it.each([
    { name: 'absent: the cluster list applies', annotations: {}, want: undefined },
    { name: '"" is an empty list (opts out of the cluster list)', annotations: { [key]: '' }, want: [] },
    { name: 'null is an empty list', annotations: { [key]: 'null' }, want: [] },
    {
      name: 'a JSON list',
      annotations: { [key]: '[{"key":"a","operator":"Exists","effect":"NoSchedule"}]' },
      want: [{ key: 'a', operator: 'Exists', effect: 'NoSchedule' }],
    },
    {
      name: 'field names match case-insensitively, unknown ones are ignored',
      annotations: { [key]: '[{"Key":"a","OPERATOR":"Exists","colour":"red"}]' },
      want: [{ key: 'a', operator: 'Exists' }],
    },
    { name: 'empty fields are dropped', annotations: { [key]: '[{"key":"a","value":"","effect":""}]' }, want: [{ key: 'a' }] },
  ])('$name', ({ annotations, want }) => {
    expect(parseTolerationsAnnotation(annotations as Record<string, string>, key)).toStrictEqual({ ok: true, value: want });
  });

  it.each([
    { name: 'not JSON', text: '[{' },
    { name: 'an object instead of a list', text: '{"key":"a"}' },
    { name: 'a number where a string belongs', text: '[{"key":1}]' },
    { name: 'a fraction of seconds', text: '[{"key":"a","tolerationSeconds":1.5}]' },
  ])('$name is an error', ({ text }) => {
    expect(parseTolerationsAnnotation({ [key]: text }, key).ok).toBe(false);
  });
});

describe('podQos (GetPodQOS)', () => {
  it.each([
    { name: 'no resources: BestEffort', pod: makePod().obj(), want: 'BestEffort' },
    {
      name: 'zero requests: BestEffort',
      pod: makePod()
        .container('a', { resources: { requests: { cpu: '0', memory: '0' } } })
        .obj(),
      want: 'BestEffort',
    },
    {
      name: 'other resources only: BestEffort',
      pod: makePod()
        .container('a', { resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } } })
        .obj(),
      want: 'BestEffort',
    },
    {
      name: 'a cpu request: Burstable',
      pod: makePod()
        .container('a', { resources: { requests: { cpu: '100m' } } })
        .obj(),
      want: 'Burstable',
    },
    {
      name: 'requests equal to limits in every container: Guaranteed',
      pod: makePod()
        .container('a', { resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1000m', memory: '1Gi' } } })
        .obj(),
      want: 'Guaranteed',
    },
    {
      name: 'an init container without limits makes it Burstable',
      pod: makePod()
        .container('a', { resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } } })
        .initContainer('i', { resources: { requests: { cpu: '1' } } })
        .obj(),
      want: 'Burstable',
    },
    {
      name: 'only an init container with a request: Burstable',
      pod: makePod()
        .initContainer('i', { resources: { requests: { memory: '1Mi' } } })
        .obj(),
      want: 'Burstable',
    },
  ])('$name', ({ pod, want }) => {
    expect(podQos(pod)).toBe(want);
  });
});

describe('admitTolerations (Admit)', () => {
  const burstable = makePod().container('a', { resources: { requests: { cpu: '100m' } } });
  const config = { default: [t({ key: 'cluster', operator: 'Exists' })] };
  it.each([
    {
      name: 'a BestEffort pod without defaults is untouched',
      op: 'CREATE' as const,
      pod: makePod().toleration(NOT_READY).obj(),
      annotations: {},
      cfg: {},
      want: [NOT_READY],
      changed: false,
    },
    {
      name: 'a pod that is not BestEffort gets the memory-pressure toleration',
      op: 'CREATE' as const,
      pod: burstable.obj(),
      annotations: {},
      cfg: {},
      want: [MEMORY_PRESSURE_TOLERATION],
      changed: true,
    },
    {
      name: 'also on UPDATE',
      op: 'UPDATE' as const,
      pod: burstable.obj(),
      annotations: {},
      cfg: {},
      want: [MEMORY_PRESSURE_TOLERATION],
      changed: true,
    },
    {
      name: 'a pod that has it already is unchanged',
      op: 'CREATE' as const,
      pod: makePod()
        .container('a', { resources: { requests: { cpu: '1' } } })
        .toleration({ ...MEMORY_PRESSURE_TOLERATION })
        .obj(),
      annotations: {},
      cfg: {},
      want: [MEMORY_PRESSURE_TOLERATION],
      changed: false,
    },
    {
      name: 'the cluster default without annotation',
      op: 'CREATE' as const,
      pod: makePod().obj(),
      annotations: {},
      cfg: config,
      want: [{ key: 'cluster', operator: 'Exists' }],
      changed: true,
    },
    {
      name: "the namespace's defaults replace the cluster's",
      op: 'CREATE' as const,
      pod: makePod().obj(),
      annotations: { [DEFAULT_TOLERATIONS_ANNOTATION]: '[{"key":"ns","operator":"Exists"}]' },
      cfg: config,
      want: [{ key: 'ns', operator: 'Exists' }],
      changed: true,
    },
    {
      name: 'an annotation set to "" opts out of the cluster default',
      op: 'CREATE' as const,
      pod: makePod().obj(),
      annotations: { [DEFAULT_TOLERATIONS_ANNOTATION]: '' },
      cfg: config,
      want: undefined,
      changed: false,
    },
    {
      name: 'defaults are not added on UPDATE',
      op: 'UPDATE' as const,
      pod: makePod().obj(),
      annotations: {},
      cfg: config,
      want: undefined,
      changed: false,
    },
    {
      name: "a superseding default replaces the pod's toleration (nothing is refused)",
      op: 'CREATE' as const,
      pod: makePod().toleration({ key: 'ns', operator: 'Equal', value: 'x' }).obj(),
      annotations: { [DEFAULT_TOLERATIONS_ANNOTATION]: '[{"key":"ns","operator":"Exists"}]' },
      cfg: {},
      want: [{ key: 'ns', operator: 'Exists' }],
      changed: true,
    },
  ])('$name', ({ op, pod, annotations, cfg, want, changed }) => {
    const got = admitTolerations({ operation: op, pod, namespaceAnnotations: annotations as Record<string, string>, config: cfg });
    expect(got).toStrictEqual({ kind: 'admitted', tolerations: want, changed });
  });

  it('a default annotation that is not a list of tolerations refuses the pod', () => {
    const got = admitTolerations({
      operation: 'CREATE',
      pod: makePod().obj(),
      namespaceAnnotations: { [DEFAULT_TOLERATIONS_ANNOTATION]: 'nope' },
      config: {},
    });
    expect(got.kind).toBe('refused');
  });
});

describe('validateTolerations (Validate)', () => {
  const config = { whitelist: [t({ key: 'cluster', operator: 'Exists' })] };
  const ns = { [TOLERATIONS_WHITELIST_ANNOTATION]: '[{"key":"ns","operator":"Exists"}]' };
  it.each([
    { name: 'no tolerations pass any whitelist', tolerations: undefined, annotations: ns, want: undefined },
    { name: "within the namespace's whitelist", tolerations: [t({ key: 'ns', operator: 'Exists' })], annotations: ns, want: undefined },
    {
      name: "the namespace's whitelist replaces the cluster's",
      tolerations: [t({ key: 'cluster', operator: 'Exists' })],
      annotations: ns,
      want: 'pod tolerations (possibly merged with namespace default tolerations) conflict with its namespace whitelist',
    },
    {
      name: "the cluster's whitelist without annotation",
      tolerations: [t({ key: 'x', operator: 'Exists' })],
      annotations: {},
      want: 'pod tolerations (possibly merged with namespace default tolerations) conflict with its cluster whitelist',
    },
    {
      name: 'an annotation set to "" is an empty whitelist: everything passes',
      tolerations: [t({ key: 'x', operator: 'Exists' })],
      annotations: { [TOLERATIONS_WHITELIST_ANNOTATION]: '' },
      want: undefined,
    },
  ])('$name', ({ tolerations, annotations, want }) => {
    expect(validateTolerations(tolerations, annotations as Record<string, string>, config)).toBe(want);
  });
});
