/**
 * Values that do not belong where they are put: every JSON type, numbers a double cannot hold, quantities that
 * are not quantities, odd keys, and values that are huge (long strings, many items) or deep (nesting past the
 * limit of 100 levels).
 */
import fc from 'fast-check';
import { cloneJson, raw } from './json.js';

/** Number literals written as they are into the JSON text: `1e999` parses as Infinity, `-0` as -0. */
export const rawNumber: fc.Arbitrary<string> = fc
  .constantFrom('1e999', '-1e999', '1e-999', '123456789012345678901234567890', '-0', '1.0', '1E2', '0.0000000000000000000000001', '-1e308')
  .map(raw);

export const number: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.integer({ min: -3, max: 130 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1.5, -1, 0.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 5e-324, 1e21, 101, 65536, 2 ** 31),
  rawNumber,
);

/** Strings a quantity parser must refuse or read exactly (`resource.Quantity`). */
export const QUANTITY_STRINGS = [
  '1',
  '0',
  '-1',
  '100m',
  '1.5',
  '1.5.5',
  'abc',
  '1e999',
  '1e9',
  '7.5Gi',
  '8G',
  '8Gi',
  '1Ki',
  '',
  ' ',
  '1 Gi',
  '0.0001m',
  '999999999999999999999999999999',
  '1e-9',
  '+1',
  '1E3',
  'Infinity',
  'NaN',
  '0x10',
  '1m1',
  '12345678901234567890Gi',
  '-0.5',
  '1Pi',
  '1Ei',
  '999Ei',
  '.5',
  '5.',
  '1n',
  '1u',
  '1k',
  '1e',
  'e3',
  '--1',
  '1..5',
  '1Mi ',
  '１',
  '0.000000001',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '1e18',
  '1e19Ki',
] as const;

export const quantityString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...QUANTITY_STRINGS) },
  { weight: 1, arbitrary: fc.stringMatching(/^[-+]?[0-9]{0,25}(\.[0-9]{0,12})?([eE][-+]?[0-9]{1,4}|[mkMGTPE]i?|[nu])?$/) },
);

export const quantity: fc.Arbitrary<unknown> = fc.oneof({ weight: 3, arbitrary: quantityString }, { weight: 1, arbitrary: number });

/** Keys that need care: escaped in JSON pointers, prototype names, unicode, empty, long. `__proto__` is not here. */
export const ODD_KEYS = [
  'a~b/c',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'prototype',
  '__defineGetter__',
  '',
  ' ',
  'ünïcødé',
  '日本/ラベル',
  'a/b/c',
  '~0',
  '~1',
  '/',
  '~',
  '~01',
  'a.b',
  '-',
  '0',
  '1',
  'kubernetes.io/hostname',
  'app',
  'placement-webhook/applied-rules',
  'kubernetes.io/config.mirror',
  '\n',
  'x\u0000y',
  '😀',
  'length',
  'then',
] as const;

export const oddKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ODD_KEYS) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constant('k'.repeat(300)) },
);

export const string: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: quantityString },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_KEYS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('CREATE', 'Pod', 'In', 'Exists', 'NoSchedule', 'DoNotSchedule', 'true', 'null', 'default-scheduler') },
);

export const scalar: fc.Arbitrary<unknown> = fc.oneof(string, number, fc.boolean(), fc.constant(null));

/** `depth` levels of arrays and objects around `leaf` (built in a loop: any depth). */
export function nested(depth: number, leaf: unknown, objects: boolean): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = objects && i % 2 === 0 ? { a: v } : [v];
  return v;
}

/** Values nested from a few levels to well past the limit of 100, most often near it. */
export const deep: fc.Arbitrary<unknown> = fc
  .tuple(fc.oneof(fc.integer({ min: 85, max: 105 }), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1000, max: 1500 })), scalar, fc.boolean())
  .map(([depth, leaf, objects]) => nested(depth, leaf, objects));

/** Long strings: mostly a few kilobytes, now and then up to a hundred. */
export const longString: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1000, max: 10_000 }) }, { weight: 1, arbitrary: fc.integer({ min: 20_000, max: 100_000 }) }),
    fc.constantFrom('x', 'é', '😀', '~/', '\\"'),
  )
  .map(([n, s]) => s.repeat(Math.ceil(n / s.length)));

/** Long strings, many items, many keys. */
export const huge: fc.Arbitrary<unknown> = fc.oneof(
  longString,
  fc
    .tuple(
      fc.integer({ min: 100, max: 3000 }),
      fc.constantFrom<unknown>({}, { name: 'e', value: 'v' }, 'x', 1, null, [], { key: 'k', operator: 'Exists' }),
    )
    .map(([n, item]) => Array.from({ length: n }, () => cloneJson(item))),
  fc.integer({ min: 100, max: 3000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]))),
);

/**
 * A value of any type: small nearly always, deep or huge now and then. With `manyItems: false`, huge means long
 * strings only (see `RULES_SPACE`).
 */
export const valueOfAnyType = (manyItems: boolean): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 40, arbitrary: scalar },
    { weight: 10, arbitrary: fc.constantFrom<unknown>({}, [], [{}], [null], [[]], { '': '' }, [''], [1], { a: null }) },
    { weight: 12, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 8, arbitrary: fc.dictionary(oddKey, scalar, { maxKeys: 4, noNullPrototype: true }) },
    { weight: 8, arbitrary: fc.array(fc.oneof(scalar, fc.dictionary(oddKey, scalar, { maxKeys: 3, noNullPrototype: true })), { maxLength: 4 }) },
    { weight: 2, arbitrary: deep },
    { weight: 1, arbitrary: manyItems ? huge : longString },
  );

export const anyValue: fc.Arbitrary<unknown> = valueOfAnyType(true);
