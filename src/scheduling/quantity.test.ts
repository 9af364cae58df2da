import { describe, expect, it } from 'vitest';

import { PlacementError } from '../util/errors.js';
import {
  compareQuantity,
  milliValue,
  parseQuantity,
  QuantityError,
  quantityFromJSON,
  roundUpToMilli,
  value,
  type QuantityErrorReason,
} from './quantity.js';

const KI = 2n ** 10n;
const MI = 2n ** 20n;
const GI = 2n ** 30n;
const TI = 2n ** 40n;
const PI = 2n ** 50n;
const EI = 2n ** 60n;
/** Nano-units per unit. */
const UNIT = 10n ** 9n;
const INT64_MAX = 2n ** 63n - 1n;

describe('parseQuantity', () => {
  it.each([
    // binary SI
    { name: 'Ki is 2^10', input: '1Ki', nanos: KI * UNIT },
    { name: 'Mi is 2^20', input: '1Mi', nanos: MI * UNIT },
    { name: 'Gi is 2^30', input: '1Gi', nanos: GI * UNIT },
    { name: 'Ti is 2^40', input: '1Ti', nanos: TI * UNIT },
    { name: 'Pi is 2^50', input: '1Pi', nanos: PI * UNIT },
    { name: 'Ei is 2^60', input: '1Ei', nanos: EI * UNIT },
    { name: '100Mi is 104857600 bytes', input: '100Mi', nanos: 104857600n * UNIT },
    { name: '8Gi is more than 8G', input: '8Gi', nanos: 8589934592n * UNIT },
    // decimal SI
    { name: 'n is 10^-9', input: '1n', nanos: 1n },
    { name: 'u is 10^-6', input: '1u', nanos: 10n ** 3n },
    { name: 'm is 10^-3', input: '1m', nanos: 10n ** 6n },
    { name: 'no suffix is a plain number', input: '1', nanos: UNIT },
    { name: 'k is 10^3', input: '1k', nanos: 10n ** 12n },
    { name: 'M is 10^6', input: '1M', nanos: 10n ** 15n },
    { name: 'G is 10^9', input: '8G', nanos: 8n * 10n ** 18n },
    { name: 'T is 10^12', input: '1T', nanos: 10n ** 21n },
    { name: 'P is 10^15', input: '1P', nanos: 10n ** 24n },
    { name: 'E alone is the exa suffix, 10^18', input: '1E', nanos: 10n ** 27n },
    { name: 'millicores are thousandths', input: '1500m', nanos: 1_500_000_000n },
    // decimal exponents
    { name: 'a lowercase exponent', input: '1e3', nanos: 1000n * UNIT },
    { name: 'an uppercase exponent', input: '1E6', nanos: 10n ** 6n * UNIT },
    { name: '1e9 is a billion', input: '1e9', nanos: 10n ** 9n * UNIT },
    { name: 'a negative exponent', input: '1E-2', nanos: 10n ** 7n },
    { name: 'an exponent with a plus sign', input: '1.3E+6', nanos: 1_300_000n * UNIT },
    { name: 'a fraction with an exponent', input: '1.2e3', nanos: 1200n * UNIT },
    { name: 'a zero exponent', input: '12e0', nanos: 12n * UNIT },
    { name: 'a fraction scaled down by an exponent', input: '0.5e-1', nanos: 50_000_000n },
    { name: 'a nano-sized exponent', input: '1e-9', nanos: 1n },
    { name: 'an exponent with leading zeros', input: '1e003', nanos: 1000n * UNIT },
    // fractions
    { name: '7.5Gi is 8053063680 bytes', input: '7.5Gi', nanos: 8053063680n * UNIT },
    { name: '1.5 is one and a half', input: '1.5', nanos: 1_500_000_000n },
    { name: '1.25 keeps both digits', input: '1.25', nanos: 1_250_000_000n },
    { name: '0.1 is a tenth', input: '0.1', nanos: 100_000_000n },
    { name: 'a fraction without integer digits', input: '.5', nanos: 500_000_000n },
    { name: 'a trailing dot', input: '5.', nanos: 5n * UNIT },
    { name: 'a trailing dot before a suffix', input: '1.G', nanos: 10n ** 18n },
    { name: 'a fraction of Ki', input: '100.035Ki', nanos: 102_435_840_000_000n },
    { name: 'half a Mi', input: '0.5Mi', nanos: 524288n * UNIT },
    { name: 'a fraction of a kilo', input: '.0001k', nanos: 100_000_000n },
    // signs and zeros
    { name: 'leading zeros are ignored', input: '007', nanos: 7n * UNIT },
    { name: 'an explicit plus sign', input: '+1', nanos: UNIT },
    { name: 'a negative number', input: '-1', nanos: -UNIT },
    { name: 'a negative binary fraction', input: '-1.5Gi', nanos: -1610612736n * UNIT },
    { name: 'a signed fraction without integer digits', input: '+.5', nanos: 500_000_000n },
    { name: 'zero', input: '0', nanos: 0n },
    { name: 'negative zero is zero', input: '-0', nanos: 0n },
    { name: 'zero with a suffix', input: '0Ei', nanos: 0n },
    { name: 'zero written as a tiny fraction', input: '0.0e-20', nanos: 0n },
    // rounding up to 1n
    { name: 'a tenth of a nano rounds up to 1n', input: '0.1n', nanos: 1n },
    { name: 'a fraction of a nano above a whole one rounds up', input: '3.001n', nanos: 4n },
    { name: 'ten decimal places round up', input: '1.0000000001', nanos: UNIT + 1n },
    { name: 'half a nano written as an exponent rounds up', input: '0.5e-9', nanos: 1n },
    { name: 'a tiny binary fraction rounds up to 2n', input: '0.000000000001Ki', nanos: 2n },
    { name: 'many decimal places round up', input: '0.00000012345', nanos: 124n },
    { name: 'a negative fraction of a nano rounds away from zero', input: '-0.1n', nanos: -1n },
    { name: 'a very small exponent rounds up to 1n', input: '1e-2000000000', nanos: 1n },
    // large values
    { name: 'the largest int64 without suffix', input: '9223372036854775807', nanos: INT64_MAX * UNIT },
    { name: '7Ei is below the binary cap', input: '7Ei', nanos: 7n * EI * UNIT },
    { name: '8Ei is capped at 2^63-1', input: '8Ei', nanos: INT64_MAX * UNIT },
    { name: '9Ei is capped at 2^63-1', input: '9Ei', nanos: INT64_MAX * UNIT },
    { name: 'a huge Ki count is capped at 2^63-1', input: '9223372036854775807Ki', nanos: INT64_MAX * UNIT },
    { name: 'the binary cap applies to negatives too', input: '-9Ei', nanos: -INT64_MAX * UNIT },
    { name: 'decimal quantities are not capped', input: '12E', nanos: 12n * 10n ** 27n },
    { name: 'a decimal past int64 stays exact', input: '9223372036854775808', nanos: (INT64_MAX + 1n) * UNIT },
    { name: 'the largest accepted decimal magnitude', input: '9e999', nanos: 9n * 10n ** 1008n },
    // numbers without digits read as zero on Kubernetes' fast path
    { name: 'a lone plus sign is zero', input: '+', nanos: 0n },
    { name: 'a lone minus sign is zero', input: '-', nanos: 0n },
    { name: 'a lone dot is zero', input: '.', nanos: 0n },
    { name: 'a signed lone dot is zero', input: '-.', nanos: 0n },
    { name: 'Mi without a number is zero', input: 'Mi', nanos: 0n },
    { name: 'Ti without a number is zero', input: 'Ti', nanos: 0n },
    { name: 'n without a number is zero', input: 'n', nanos: 0n },
    { name: 'an exponent without a number is zero', input: 'e3', nanos: 0n },
  ])('$name ($input)', ({ input, nanos }) => {
    expect(parseQuantity(input).nanos).toBe(nanos);
  });

  it.each<{ name: string; input: string; reason: QuantityErrorReason }>([
    { name: 'the empty string', input: '', reason: 'Format' },
    { name: 'a leading space', input: ' 1', reason: 'Format' },
    { name: 'a trailing space', input: '1 ', reason: 'Format' },
    { name: 'a space before the suffix', input: '1 Mi', reason: 'Format' },
    { name: 'two decimal points', input: '1.2.3', reason: 'Format' },
    { name: 'a dot after the suffix', input: '1.1.M', reason: 'Format' },
    { name: 'a sign in the middle', input: '1+1.0M', reason: 'Format' },
    { name: 'NaN', input: 'NaN', reason: 'Format' },
    { name: 'Infinity', input: 'Infinity', reason: 'Format' },
    { name: 'a word', input: 'aoeu', reason: 'Format' },
    { name: 'hexadecimal', input: '0x10', reason: 'Format' },
    { name: 'a byte unit', input: '1KB', reason: 'Format' },
    { name: 'a binary byte unit', input: '1MiB', reason: 'Format' },
    { name: 'a letter outside the suffix alphabet', input: '0.1am', reason: 'Format' },
    { name: 'a fractional exponent', input: '1e1.5', reason: 'Format' },
    { name: 'an exponent followed by a suffix', input: '1e3Mi', reason: 'Format' },
    { name: 'digits outside ASCII', input: '١', reason: 'Format' },
    { name: 'a thousands separator', input: '1,000', reason: 'Format' },
    { name: 'a lowercase binary suffix', input: '1mi', reason: 'Suffix' },
    { name: 'a lowercase k with i', input: '1ki', reason: 'Suffix' },
    { name: 'an uppercase K', input: '1K', reason: 'Suffix' },
    { name: 'a lone i', input: '1i', reason: 'Suffix' },
    { name: 'a fraction with a lone i', input: '.5i', reason: 'Suffix' },
    { name: 'a lowercase e without exponent', input: '1e', reason: 'Suffix' },
    { name: 'an exponent sign without digits', input: '-3.01e-', reason: 'Suffix' },
    { name: 'a doubled exponent letter', input: '1ee5', reason: 'Suffix' },
    { name: 'a suffix followed by digits', input: '1Ki5', reason: 'Suffix' },
    { name: 'a double sign', input: '--1', reason: 'Suffix' },
    { name: 'a trailing sign', input: '1-', reason: 'Suffix' },
    { name: 'an exponent beyond int64', input: '1e99999999999999999999', reason: 'Suffix' },
    { name: 'Pi without a number', input: 'Pi', reason: 'Numeric' },
    { name: 'Ei without a number', input: 'Ei', reason: 'Numeric' },
    { name: 'a lone dot with Ei', input: '.Ei', reason: 'Numeric' },
    { name: 'an exponent below 10^-9 without a number', input: 'e-10', reason: 'Numeric' },
    { name: 'a decimal of 10^1000', input: '1e1000', reason: 'Range' },
    { name: 'many digits reaching 10^1000', input: `1${'0'.repeat(1000)}`, reason: 'Range' },
    { name: 'an exponent beyond 32 bits', input: '1e2147483648', reason: 'Range' },
    { name: 'a negative exponent beyond 32 bits', input: '1e-2147483648', reason: 'Range' },
    { name: 'an exponent that wraps with the fraction digits', input: '1.5e2147483647', reason: 'Range' },
  ])('rejects $name ($input)', ({ input, reason }) => {
    let error: unknown;
    try {
      parseQuantity(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(QuantityError);
    expect(error).toBeInstanceOf(PlacementError);
    expect((error as QuantityError).reason).toBe(reason);
    expect((error as QuantityError).input).toBe(input);
    expect((error as QuantityError).message).toContain(JSON.stringify(input));
  });

  it('names the field path and the input in the message', () => {
    expect(() => parseQuantity('1.2.3', 'spec.containers[0].resources.requests.cpu')).toThrow(
      'spec.containers[0].resources.requests.cpu: invalid value "1.2.3": ' +
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    );
  });

  it('lists the supported suffixes when the suffix is unknown', () => {
    expect(() => parseQuantity('1mi')).toThrow(
      `invalid value "1mi": unable to parse quantity's suffix "mi" ` +
        '(supported: Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, "", k, M, G, T, P, E, or e/E followed by an integer)',
    );
  });

  it('carries the problem as a field error', () => {
    const error = new QuantityError('x', 'spec.overhead.cpu', 'Format', 'bad');
    expect(error.field).toEqual({ type: 'Invalid', path: 'spec.overhead.cpu', detail: 'invalid value "x": bad' });
    expect(error.about('node "n1"').message).toBe('node "n1": spec.overhead.cpu: invalid value "x": bad');
  });
});

describe('milliValue and value', () => {
  it.each([
    { name: '1500m cpu is 1500 millicores and rounds up to 2 units', input: '1500m', milli: 1500n, units: 2n },
    { name: '0.1 is 100m', input: '0.1', milli: 100n, units: 1n },
    { name: '1n rounds up to 1m and to 1', input: '1n', milli: 1n, units: 1n },
    { name: 'a whole unit', input: '1', milli: 1000n, units: 1n },
    { name: 'zero', input: '0', milli: 0n, units: 0n },
    { name: '1u rounds up to 1m', input: '1u', milli: 1n, units: 1n },
    { name: 'just under a milli rounds up to 1m', input: '999999n', milli: 1n, units: 1n },
    { name: 'just over a milli rounds up to 2m', input: '1000001n', milli: 2n, units: 1n },
    { name: '1.5 is 1500m and rounds up to 2', input: '1.5', milli: 1500n, units: 2n },
    { name: '100Mi in bytes', input: '100Mi', milli: 104857600000n, units: 104857600n },
    { name: '7.5Gi in bytes', input: '7.5Gi', milli: 8053063680000n, units: 8053063680n },
    { name: '8G in bytes', input: '8G', milli: 8n * 10n ** 12n, units: 8n * 10n ** 9n },
    { name: 'a fraction of a byte rounds up', input: '100.035Ki', milli: 102435840n, units: 102436n },
    { name: '1Ei in milli-units is exact beyond int64', input: '1Ei', milli: EI * 1000n, units: EI },
    { name: 'a negative fraction rounds away from zero', input: '-1.5', milli: -1500n, units: -2n },
    { name: 'a negative sub-milli value rounds away from zero', input: '-1.5m', milli: -2n, units: -1n },
  ])('$name', ({ input, milli, units }) => {
    const q = parseQuantity(input);
    expect(milliValue(q)).toBe(milli);
    expect(value(q)).toBe(units);
  });
});

describe('roundUpToMilli', () => {
  it.each([
    { name: '1n rounds up to 1m', input: '1n', want: '1m' },
    { name: '1500m stays as it is', input: '1500m', want: '1500m' },
    { name: 'half a milli rounds up', input: '0.0005', want: '1m' },
    { name: 'a negative nano rounds away from zero', input: '-1n', want: '-1m' },
    { name: 'a whole number stays as it is', input: '7.5Gi', want: '7.5Gi' },
  ])('$name', ({ input, want }) => {
    expect(roundUpToMilli(parseQuantity(input))).toEqual(parseQuantity(want));
  });
});

describe('compareQuantity', () => {
  it.each([
    { name: '8G is less than 8Gi', a: '8G', b: '8Gi', want: -1 },
    { name: '1Gi equals 1024Mi', a: '1Gi', b: '1024Mi', want: 0 },
    { name: '1000m equals 1', a: '1000m', b: '1', want: 0 },
    { name: '0.1 equals 100m', a: '0.1', b: '100m', want: 0 },
    { name: '1e3 equals 1k', a: '1e3', b: '1k', want: 0 },
    { name: '10000T is more than 100Gi', a: '10000T', b: '100Gi', want: 1 },
    { name: '1Ki is more than 1k', a: '1Ki', b: '1k', want: 1 },
    { name: '100m is more than 50m', a: '100m', b: '50m', want: 1 },
    { name: '1n is more than zero', a: '1n', b: '0', want: 1 },
    { name: '-1 is less than zero', a: '-1', b: '0', want: -1 },
    { name: 'plus zero equals minus zero', a: '+0', b: '-0', want: 0 },
    { name: '8Ei and 9Ei are both capped and equal', a: '8Ei', b: '9Ei', want: 0 },
    { name: 'a decimal beyond the binary cap is larger', a: '10E', b: '9Ei', want: 1 },
  ])('$name', ({ a, b, want }) => {
    expect(compareQuantity(parseQuantity(a), parseQuantity(b))).toBe(want);
    expect(compareQuantity(parseQuantity(b), parseQuantity(a))).toBe(want === 0 ? 0 : -want);
  });
});

describe('quantityFromJSON', () => {
  it('a string read again gives the same value; an invalid one throws each time, with the path it is read at', () => {
    const first = quantityFromJSON('768Mi');
    expect(quantityFromJSON('768Mi')).toEqual(first);
    expect(quantityFromJSON(' 768Mi ')).toEqual(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => quantityFromJSON('1.2.3', 'a.cpu')).toThrow('a.cpu');
    expect(() => quantityFromJSON('1.2.3', 'b.cpu')).toThrow('b.cpu');
  });

  it.each<{ name: string; json: unknown; want: string }>([
    { name: 'a string is parsed', json: '2Gi', want: '2Gi' },
    { name: 'surrounding spaces are trimmed', json: ' 1 ', want: '1' },
    { name: 'tabs and newlines are trimmed', json: '\t2Gi\n', want: '2Gi' },
    { name: 'Go trims U+0085', json: '\u00851', want: '1' },
    { name: 'a JSON number is read from its text', json: 0.5, want: '500m' },
    { name: 'a large JSON number', json: 1e21, want: '1e21' },
    { name: 'a negative JSON number', json: -2, want: '-2' },
    { name: 'null is zero', json: null, want: '0' },
  ])('$name', ({ json, want }) => {
    expect(quantityFromJSON(json)).toEqual(parseQuantity(want));
  });

  it.each<{ name: string; json: unknown; message: string }>([
    { name: 'a boolean', json: true, message: 'x: invalid value "true": must be a quantity string' },
    { name: 'an object', json: { cpu: 1 }, message: 'x: invalid value "{\\"cpu\\":1}": must be a quantity string' },
    { name: 'undefined', json: undefined, message: 'x: invalid value "undefined": must be a quantity string' },
    { name: 'a byte order mark, which Go does not trim', json: '\uFEFF1', message: 'x: invalid value "\uFEFF1"' },
    { name: 'an invalid padded string, reported untrimmed', json: ' 1x ', message: 'x: invalid value " 1x "' },
  ])('rejects $name', ({ json, message }) => {
    expect(() => quantityFromJSON(json, 'x')).toThrow(message);
  });
});
