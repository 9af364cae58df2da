import type { V1Taint, V1Toleration } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { formatFieldError, type FieldError } from '../util/errors.js';
import {
  CONDITION_TAINT_KEYS,
  findUntoleratedTaint,
  sameToleration,
  tolerates,
  UNSCHEDULABLE_TAINT,
  validateTaint,
  validateTaints,
  validateToleration,
} from './taints.js';

const summary = (errors: readonly FieldError[]): string[] => errors.map((e) => `${e.type} ${e.path}`);

/** A taint in kubectl's notation: `key=value:Effect` or `key:Effect`. */
function taint(spec: string): V1Taint {
  const match = /^([^=:]+)(?:=([^:]*))?:(.+)$/.exec(spec);
  if (match === null) throw new Error(`not a taint: ${spec}`);
  const [, key = '', value, effect = ''] = match;
  return value === undefined ? { key, effect } : { key, value, effect };
}

/** Tolerations are written as objects: every field is optional and the defaults are part of what is tested. */
const tol = (t: V1Toleration): V1Toleration => t;

describe('tolerates', () => {
  it.each<{ name: string; toleration: V1Toleration; taint: V1Taint; want: boolean }>([
    // Equal
    {
      name: 'Equal tolerates a taint with the same key, value and effect',
      toleration: tol({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }),
      taint: taint('dedicated=gpu:NoSchedule'),
      want: true,
    },
    {
      name: 'Equal does not tolerate another value',
      toleration: tol({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }),
      taint: taint('dedicated=batch:NoSchedule'),
      want: false,
    },
    {
      name: 'a missing operator means Equal',
      toleration: tol({ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }),
      taint: taint('dedicated=gpu:NoSchedule'),
      want: true,
    },
    {
      name: 'a missing operator compares values like Equal',
      toleration: tol({ key: 'dedicated', value: 'gpu' }),
      taint: taint('dedicated=batch:NoSchedule'),
      want: false,
    },
    {
      name: 'Equal without a value tolerates a taint without a value',
      toleration: tol({ key: 'maintenance', operator: 'Equal', effect: 'NoExecute' }),
      taint: taint('maintenance:NoExecute'),
      want: true,
    },
    {
      name: 'an empty value equals a missing taint value',
      toleration: tol({ key: 'maintenance', value: '' }),
      taint: taint('maintenance:NoSchedule'),
      want: true,
    },
    {
      name: 'Equal without a value does not tolerate a taint with a value',
      toleration: tol({ key: 'dedicated', operator: 'Equal' }),
      taint: taint('dedicated=gpu:NoSchedule'),
      want: false,
    },
    {
      name: 'Equal does not tolerate another key',
      toleration: tol({ key: 'dedicated', operator: 'Equal', value: 'gpu' }),
      taint: taint('reserved=gpu:NoSchedule'),
      want: false,
    },
    // Exists
    {
      name: 'Exists ignores the taint value',
      toleration: tol({ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }),
      taint: taint('dedicated=anything:NoSchedule'),
      want: true,
    },
    {
      name: 'Exists does not tolerate another key',
      toleration: tol({ key: 'dedicated', operator: 'Exists' }),
      taint: taint('reserved=x:NoSchedule'),
      want: false,
    },
    {
      name: 'Exists with a key and no effect tolerates that key with any effect',
      toleration: tol({ key: 'node.kubernetes.io/not-ready', operator: 'Exists' }),
      taint: taint('node.kubernetes.io/not-ready:NoExecute'),
      want: true,
    },
    {
      name: 'an empty key with Exists tolerates every taint',
      toleration: tol({ operator: 'Exists' }),
      taint: taint('anything=at-all:NoExecute'),
      want: true,
    },
    {
      name: 'an empty key with Exists tolerates a taint without a value',
      toleration: tol({ key: '', operator: 'Exists', effect: '' }),
      taint: taint('node.kubernetes.io/unschedulable:NoSchedule'),
      want: true,
    },
    {
      name: 'an empty key with Exists and an effect tolerates every taint with that effect',
      toleration: tol({ operator: 'Exists', effect: 'NoSchedule' }),
      taint: taint('dedicated=gpu:NoSchedule'),
      want: true,
    },
    {
      name: 'an empty key with Exists and an effect does not tolerate another effect',
      toleration: tol({ operator: 'Exists', effect: 'NoSchedule' }),
      taint: taint('dedicated=gpu:NoExecute'),
      want: false,
    },
    // Effects
    {
      name: 'an empty effect matches every effect',
      toleration: tol({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: '' }),
      taint: taint('dedicated=gpu:PreferNoSchedule'),
      want: true,
    },
    {
      name: 'a toleration for NoSchedule does not tolerate a NoExecute taint',
      toleration: tol({ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }),
      taint: taint('dedicated=gpu:NoExecute'),
      want: false,
    },
    {
      name: 'a toleration for NoExecute does not tolerate a NoSchedule taint',
      toleration: tol({ key: 'dedicated', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }),
      taint: taint('dedicated=gpu:NoSchedule'),
      want: false,
    },
    // What validation would reject, matched as the scheduler matches it
    {
      name: 'an empty key with Equal tolerates every taint without a value',
      toleration: tol({ operator: 'Equal' }),
      taint: taint('maintenance:NoSchedule'),
      want: true,
    },
    {
      name: 'an empty key with Equal does not tolerate a taint with a value',
      toleration: tol({}),
      taint: taint('dedicated=gpu:NoSchedule'),
      want: false,
    },
    {
      name: 'operators are case-sensitive',
      toleration: tol({ key: 'dedicated', operator: 'exists' }),
      taint: taint('dedicated=gpu:NoSchedule'),
      want: false,
    },
    {
      name: 'an unsupported operator tolerates nothing',
      toleration: tol({ key: 'version', operator: 'Gt', value: '1' }),
      taint: taint('version=2:NoSchedule'),
      want: false,
    },
  ])('$name', ({ toleration, taint: t, want }) => {
    expect(tolerates(toleration, t)).toBe(want);
  });
});

describe('findUntoleratedTaint', () => {
  const gpu = taint('dedicated=gpu:NoSchedule');
  const evict = taint('maintenance:NoExecute');
  const soft = taint('spot=true:PreferNoSchedule');

  it.each<{
    name: string;
    taints: V1Taint[];
    tolerations: V1Toleration[];
    effects?: string[];
    want: V1Taint | undefined;
  }>([
    { name: 'a node without taints accepts any pod', taints: [], tolerations: [], want: undefined },
    { name: 'a PreferNoSchedule taint never keeps a pod off', taints: [soft], tolerations: [], want: undefined },
    { name: 'an untolerated NoSchedule taint is returned', taints: [soft, gpu], tolerations: [], want: gpu },
    { name: 'an untolerated NoExecute taint is returned', taints: [evict], tolerations: [], want: evict },
    {
      name: 'a pod tolerating only NoSchedule is rejected by a NoExecute taint',
      taints: [gpu, evict],
      tolerations: [tol({ operator: 'Exists', effect: 'NoSchedule' })],
      want: evict,
    },
    {
      name: 'the first untolerated taint is returned',
      taints: [gpu, evict],
      tolerations: [],
      want: gpu,
    },
    {
      name: 'a pod tolerating every taint is accepted',
      taints: [gpu, evict, soft],
      tolerations: [
        tol({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }),
        tol({ key: 'maintenance', operator: 'Exists' }),
      ],
      want: undefined,
    },
    {
      name: 'a wildcard toleration accepts every taint',
      taints: [gpu, evict],
      tolerations: [tol({ operator: 'Exists' })],
      want: undefined,
    },
    {
      name: 'a toleration with the wrong value does not help',
      taints: [gpu],
      tolerations: [tol({ key: 'dedicated', value: 'batch', effect: 'NoSchedule' })],
      want: gpu,
    },
    {
      name: 'only the given effects are considered',
      taints: [gpu, evict],
      tolerations: [],
      effects: ['NoExecute'],
      want: evict,
    },
    {
      name: 'PreferNoSchedule is considered when asked for',
      taints: [soft],
      tolerations: [],
      effects: ['PreferNoSchedule'],
      want: soft,
    },
    {
      name: 'a cordoned node rejects a pod without a toleration',
      taints: [UNSCHEDULABLE_TAINT],
      tolerations: [],
      want: UNSCHEDULABLE_TAINT,
    },
    {
      name: 'a pod tolerating the unschedulable taint fits a cordoned node',
      taints: [UNSCHEDULABLE_TAINT],
      tolerations: [tol({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' })],
      want: undefined,
    },
    {
      name: 'a pod tolerating not-ready for NoExecute is still rejected by unreachable',
      taints: [taint('node.kubernetes.io/not-ready:NoExecute'), taint('node.kubernetes.io/unreachable:NoExecute')],
      tolerations: [tol({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 })],
      want: taint('node.kubernetes.io/unreachable:NoExecute'),
    },
  ])('$name', ({ taints, tolerations, effects, want }) => {
    const found = effects === undefined ? findUntoleratedTaint(taints, tolerations) : findUntoleratedTaint(taints, tolerations, effects);
    expect(found).toEqual(want);
    if (want !== undefined) expect(taints).toContain(found);
  });

  it('returns the offending taint itself, not a copy', () => {
    expect(findUntoleratedTaint([soft, gpu], [])).toBe(gpu);
  });
});

describe('well-known taints', () => {
  it('the unschedulable taint is node.kubernetes.io/unschedulable:NoSchedule without a value', () => {
    expect(UNSCHEDULABLE_TAINT).toEqual({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' });
    expect(Object.isFrozen(UNSCHEDULABLE_TAINT)).toBe(true);
  });

  it('the condition taint keys are the node lifecycle controller ones', () => {
    expect(CONDITION_TAINT_KEYS).toEqual([
      'node.kubernetes.io/not-ready',
      'node.kubernetes.io/unreachable',
      'node.kubernetes.io/memory-pressure',
      'node.kubernetes.io/disk-pressure',
      'node.kubernetes.io/pid-pressure',
      'node.kubernetes.io/network-unavailable',
    ]);
  });

  it.each(CONDITION_TAINT_KEYS.map((key) => ({ key })))('$key is a valid taint key', ({ key }) => {
    expect(validateTaint({ key, effect: 'NoSchedule' }, 't')).toEqual([]);
  });
});

describe('validateToleration', () => {
  it.each<{ name: string; toleration: V1Toleration; want: string[] }>([
    {
      name: 'a full Equal toleration is valid',
      toleration: tol({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }),
      want: [],
    },
    { name: 'a key alone is valid (Equal to the empty value)', toleration: tol({ key: 'dedicated' }), want: [] },
    { name: 'Exists with a key is valid', toleration: tol({ key: 'dedicated', operator: 'Exists' }), want: [] },
    { name: 'Exists without a key is valid (tolerates everything)', toleration: tol({ operator: 'Exists' }), want: [] },
    {
      name: 'a prefixed key is valid',
      toleration: tol({ key: 'node.kubernetes.io/lifecycle', operator: 'Equal', value: 'spot' }),
      want: [],
    },
    {
      name: 'tolerationSeconds with NoExecute is valid',
      toleration: tol({
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 300,
      }),
      want: [],
    },
    { name: 'an empty toleration needs operator Exists', toleration: tol({}), want: ['Invalid t.operator'] },
    {
      name: 'an empty key with Equal needs operator Exists',
      toleration: tol({ operator: 'Equal', value: 'x' }),
      want: ['Invalid t.operator'],
    },
    {
      name: 'Exists with a value is forbidden',
      toleration: tol({ key: 'dedicated', operator: 'Exists', value: 'gpu' }),
      want: ['Forbidden t.value'],
    },
    {
      name: 'Exists with an empty key and a value is forbidden',
      toleration: tol({ operator: 'Exists', value: 'gpu' }),
      want: ['Forbidden t.value'],
    },
    {
      name: 'an unsupported operator is reported',
      toleration: tol({ key: 'dedicated', operator: 'Equals', value: 'gpu' }),
      want: ['NotSupported t.operator'],
    },
    {
      name: 'Gt is not a toleration operator',
      toleration: tol({ key: 'version', operator: 'Gt', value: '1' }),
      want: ['NotSupported t.operator'],
    },
    {
      name: 'an unsupported effect is reported',
      toleration: tol({ key: 'dedicated', operator: 'Exists', effect: 'NoExecuted' }),
      want: ['NotSupported t.effect'],
    },
    {
      name: 'tolerationSeconds without an effect needs NoExecute',
      toleration: tol({ key: 'dedicated', operator: 'Exists', tolerationSeconds: 30 }),
      want: ['Invalid t.effect'],
    },
    {
      name: 'tolerationSeconds with NoSchedule needs NoExecute',
      toleration: tol({ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 30 }),
      want: ['Invalid t.effect'],
    },
    {
      name: 'an invalid key is reported',
      toleration: tol({ key: 'a~b/c', operator: 'Exists' }),
      want: ['Invalid t.key'],
    },
    {
      name: 'an invalid value is reported',
      toleration: tol({ key: 'dedicated', value: '-gpu' }),
      want: ['Invalid t.value'],
    },
  ])('$name', ({ toleration, want }) => {
    expect(summary(validateToleration(toleration, 't'))).toEqual(want);
  });

  it('lists the supported operators', () => {
    const errors = validateToleration(tol({ key: 'k', operator: 'Equals' }), 'rules[2].inject.tolerations[0]');
    expect(errors.map(formatFieldError)).toEqual([
      'rules[2].inject.tolerations[0].operator: unsupported value "Equals"; supported values: "Equal", "Exists"',
    ]);
  });
});

describe('validateTaint', () => {
  it.each<{ name: string; taint: V1Taint; want: string[] }>([
    { name: 'a taint with key, value and effect is valid', taint: taint('dedicated=gpu:NoSchedule'), want: [] },
    { name: 'a taint without a value is valid', taint: taint('node.kubernetes.io/unschedulable:NoSchedule'), want: [] },
    { name: 'a PreferNoSchedule taint is valid', taint: taint('spot=true:PreferNoSchedule'), want: [] },
    { name: 'a taint needs a key', taint: { key: '', effect: 'NoSchedule' }, want: ['Required t.key'] },
    { name: 'an invalid key is reported', taint: taint('a~b/c=x:NoSchedule'), want: ['Invalid t.key'] },
    { name: 'an invalid value is reported', taint: taint('dedicated=not valid:NoSchedule'), want: ['Invalid t.value'] },
    { name: 'a taint needs an effect', taint: { key: 'dedicated', effect: '' }, want: ['Required t.effect'] },
    {
      name: 'an unsupported effect is reported',
      taint: taint('dedicated=gpu:NoScheduled'),
      want: ['NotSupported t.effect'],
    },
  ])('$name', ({ taint: t, want }) => {
    expect(summary(validateTaint(t, 't'))).toEqual(want);
  });

  it('finds taints repeated by key and effect', () => {
    const taints = [taint('dedicated=gpu:NoSchedule'), taint('dedicated=gpu:NoExecute'), taint('dedicated=batch:NoSchedule')];
    expect(validateTaints(taints, 'spec.taints').map(formatFieldError)).toEqual(['spec.taints[2]: duplicate value "dedicated:NoSchedule"']);
  });
});

describe('sameToleration', () => {
  it.each<{ name: string; a: V1Toleration; b: V1Toleration; want: boolean }>([
    {
      name: 'identical tolerations are the same',
      a: tol({ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }),
      b: tol({ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }),
      want: true,
    },
    {
      name: 'a missing operator is Equal',
      a: tol({ key: 'k', value: 'v' }),
      b: tol({ key: 'k', operator: 'Equal', value: 'v' }),
      want: true,
    },
    {
      name: 'an empty operator is Equal',
      a: tol({ key: 'k', operator: '', value: 'v' }),
      b: tol({ key: 'k', operator: 'Equal', value: 'v' }),
      want: true,
    },
    {
      name: 'a missing value is the empty value',
      a: tol({ key: 'k', operator: 'Exists' }),
      b: tol({ key: 'k', operator: 'Exists', value: '' }),
      want: true,
    },
    {
      name: 'a missing effect is the empty effect',
      a: tol({ key: 'k', operator: 'Exists' }),
      b: tol({ key: 'k', operator: 'Exists', effect: '' }),
      want: true,
    },
    {
      name: 'a missing key is the empty key',
      a: tol({ operator: 'Exists' }),
      b: tol({ key: '', operator: 'Exists' }),
      want: true,
    },
    {
      name: 'a null tolerationSeconds is a missing one',
      a: tol({ key: 'k', operator: 'Exists', effect: 'NoExecute' }),
      b: JSON.parse('{"key":"k","operator":"Exists","effect":"NoExecute","tolerationSeconds":null}') as V1Toleration,
      want: true,
    },
    { name: 'Exists and Equal differ', a: tol({ key: 'k', operator: 'Exists' }), b: tol({ key: 'k' }), want: false },
    {
      name: 'different effects differ',
      a: tol({ key: 'k', operator: 'Exists', effect: 'NoSchedule' }),
      b: tol({ key: 'k', operator: 'Exists', effect: 'NoExecute' }),
      want: false,
    },
    {
      name: 'an effect differs from no effect',
      a: tol({ key: 'k', operator: 'Exists', effect: 'NoSchedule' }),
      b: tol({ key: 'k', operator: 'Exists' }),
      want: false,
    },
    {
      name: 'different values differ',
      a: tol({ key: 'k', value: 'a' }),
      b: tol({ key: 'k', value: 'b' }),
      want: false,
    },
    {
      name: 'different keys differ',
      a: tol({ key: 'a', operator: 'Exists' }),
      b: tol({ key: 'b', operator: 'Exists' }),
      want: false,
    },
    {
      name: 'tolerationSeconds differs from forever',
      a: tol({ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }),
      b: tol({ key: 'k', operator: 'Exists', effect: 'NoExecute' }),
      want: false,
    },
    {
      name: 'different tolerationSeconds differ',
      a: tol({ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }),
      b: tol({ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }),
      want: false,
    },
    {
      name: 'zero tolerationSeconds differs from forever',
      a: tol({ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 0 }),
      b: tol({ key: 'k', operator: 'Exists', effect: 'NoExecute' }),
      want: false,
    },
  ])('$name', ({ a, b, want }) => {
    expect(sameToleration(a, b)).toBe(want);
    expect(sameToleration(b, a)).toBe(want);
  });
});
