/**
 * Kubernetes resource quantities (`resource.Quantity`, k8s.io/apimachinery `pkg/api/resource/quantity.go` and
 * `suffix.go`), parsed as the API server parses them and held exactly: never as a float.
 *
 * Grammar:
 *
 *   <quantity>        ::= <signedNumber><suffix>
 *   <signedNumber>    ::= <number> | <sign><number>
 *   <sign>            ::= "+" | "-"
 *   <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
 *   <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
 *   <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei               (2^10 … 2^60)
 *   <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E    (10^-9 … 10^18)
 *   <decimalExponent> ::= "e" <integer> | "E" <integer>           (10^integer; a signed 64-bit integer)
 *
 * Suffixes are case-sensitive (`1mi`, `1K` and `1KB` are rejected), nothing may surround the number (`1 Mi`,
 * ` 1`), and `7.5Gi`, `.5`, `5.`, `1.G`, `+1` and `1E-3` are all valid.
 *
 * Kubernetes' scanner is laxer than the grammar in one place, and this module follows the scanner: a number with
 * no digits at all reads as zero, so `+`, `-`, `.`, `Mi` and `e3` parse to 0. Kubernetes only gets away with that on
 * its int64 fast path; when it needs arbitrary precision instead (suffix `Pi` or `Ei`, or a scale below 10^-9 such
 * as `e-10`) the same digitless input fails with "unable to parse numeric part of quantity", and so it does here.
 * The empty string is rejected.
 *
 * Every parsed value is an exact whole number of nano-units (10^-9), because Kubernetes rounds the magnitude up to
 * the next 1n while parsing (`0.1n` and `1.0000000001` round up, `-0.1n` becomes `-1n`), and a binary-SI value is
 * capped at 2^63-1 in magnitude (`8Ei` and `9223372036854775807Ki` are 9223372036854775807).
 *
 * Two deliberate differences, both far outside any real request or capacity: an exponent is rejected when its
 * magnitude plus the number of fraction digits exceeds 2^31-1 (Kubernetes' 32-bit scale arithmetic silently wraps
 * there), and a decimal value of 10^1000 or more is rejected (Kubernetes builds arbitrarily large numbers, which
 * every int64 accessor overflows long before).
 *
 * Errors: every function here that reads a quantity throws {@link QuantityError}, whose message names the offending
 * input (and the field path when one is given) in the `field.Invalid` style used across this project.
 */
import { fieldError, formatFieldError, PlacementError, type FieldError } from '../util/errors.js';

/** A quantity's exact value. */
export interface Quantity {
  /** The value in units of 10^-9; Kubernetes never keeps anything finer. */
  readonly nanos: bigint;
}

/** Why a string is not a quantity, after the error Kubernetes returns (`ErrFormatWrong`, `ErrSuffix`, `ErrNumeric`). */
export type QuantityErrorReason = 'Format' | 'Suffix' | 'Numeric' | 'Range';

/** A value that is not a Kubernetes quantity. */
export class QuantityError extends PlacementError {
  override name = 'QuantityError';
  /** The problem as a field error, to collect into an `InvalidDocumentError` alongside others. */
  readonly field: FieldError;

  constructor(
    /** The offending value as written (a string, or the JSON text of a non-string). */
    readonly input: string,
    /** Field path of the value, e.g. `spec.containers[0].resources.requests.cpu`; empty when there is none. */
    readonly path: string,
    readonly reason: QuantityErrorReason,
    /** What is wrong with it, e.g. `unable to parse quantity's suffix "mi" (...)`. */
    readonly why: string,
    /** What the path is relative to, e.g. `node "worker-1"`; prefixed to the message. */
    readonly subject?: string,
  ) {
    const field = fieldError.invalid(path, input, why);
    super(subject === undefined ? formatFieldError(field) : `${subject}: ${formatFieldError(field)}`);
    this.field = field;
  }

  /** The same error, reported about `subject` (the object the path belongs to). */
  about(subject: string): QuantityError {
    return new QuantityError(this.input, this.path, this.reason, this.why, subject);
  }
}

export const ZERO_QUANTITY: Quantity = Object.freeze({ nanos: 0n });

/** The regular expression Kubernetes quotes in `ErrFormatWrong`. */
const FORMAT_MESSAGE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const NUMERIC_MESSAGE = 'unable to parse numeric part of quantity';
const SUFFIX_HINT = 'supported: Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, "", k, M, G, T, P, E, or e/E followed by an integer';

/** Letters the scanner accepts in a suffix; which combinations mean something is decided afterwards. */
const SUFFIX_LETTERS = 'eEinumkKMGTP';

type Format = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

interface Suffix {
  readonly base: 2 | 10;
  readonly exponent: number;
  readonly format: Format;
}

const SUFFIXES: ReadonlyMap<string, Suffix> = new Map<string, Suffix>([
  ['Ki', { base: 2, exponent: 10, format: 'BinarySI' }],
  ['Mi', { base: 2, exponent: 20, format: 'BinarySI' }],
  ['Gi', { base: 2, exponent: 30, format: 'BinarySI' }],
  ['Ti', { base: 2, exponent: 40, format: 'BinarySI' }],
  ['Pi', { base: 2, exponent: 50, format: 'BinarySI' }],
  ['Ei', { base: 2, exponent: 60, format: 'BinarySI' }],
  ['n', { base: 10, exponent: -9, format: 'DecimalSI' }],
  ['u', { base: 10, exponent: -6, format: 'DecimalSI' }],
  ['m', { base: 10, exponent: -3, format: 'DecimalSI' }],
  ['', { base: 10, exponent: 0, format: 'DecimalSI' }],
  ['k', { base: 10, exponent: 3, format: 'DecimalSI' }],
  ['M', { base: 10, exponent: 6, format: 'DecimalSI' }],
  ['G', { base: 10, exponent: 9, format: 'DecimalSI' }],
  ['T', { base: 10, exponent: 12, format: 'DecimalSI' }],
  ['P', { base: 10, exponent: 15, format: 'DecimalSI' }],
  ['E', { base: 10, exponent: 18, format: 'DecimalSI' }],
]);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MAX = 2n ** 31n - 1n;
/** Nano-units per unit, per milli-unit. */
const NANOS_PER_UNIT = 10n ** 9n;
const NANOS_PER_MILLI = 10n ** 6n;
/** Kubernetes caps binary-SI quantities at the largest int64 (`maxAllowed` in math.go). */
const MAX_BINARY_NANOS = INT64_MAX * NANOS_PER_UNIT;
/** Decimal quantities of 10^MAX_DECIMAL_DIGITS or more are rejected rather than computed. */
const MAX_DECIMAL_DIGITS = 1000;
/** The smallest scale Kubernetes' int64 fast path handles (`Nano`). */
const FAST_PATH_MIN_DECIMAL_EXPONENT = -9;
/** Largest binary exponent for which a one-digit number still takes the int64 fast path (`precision >= 0`). */
const FAST_PATH_MAX_BINARY_EXPONENT = 40;

interface Scanned {
  readonly negative: boolean;
  readonly integer: string;
  readonly fraction: string;
  readonly suffix: string;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** `parseQuantityString` in quantity.go: sign, digits, optional fraction, then suffix letters, sign and digits. */
function scan(s: string): Scanned | undefined {
  const end = s.length;
  let pos = 0;
  let negative = false;
  if (s[pos] === '-') {
    negative = true;
    pos++;
  } else if (s[pos] === '+') {
    pos++;
  }
  const integerStart = pos;
  while (isDigit(s[pos])) pos++;
  const integer = s.slice(integerStart, pos);
  let fraction = '';
  if (s[pos] === '.') {
    pos++;
    const fractionStart = pos;
    while (isDigit(s[pos])) pos++;
    fraction = s.slice(fractionStart, pos);
  }
  const suffixStart = pos;
  while (pos < end && SUFFIX_LETTERS.includes(s.charAt(pos))) pos++;
  if (s[pos] === '+' || s[pos] === '-') pos++;
  while (isDigit(s[pos])) pos++;
  if (pos !== end) return undefined;
  return { negative, integer, fraction, suffix: s.slice(suffixStart) };
}

/** Go's `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits, within int64. */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** `quantitySuffixer.interpret` in suffix.go. */
function interpretSuffix(suffix: string): Suffix | bigint | undefined {
  const known = SUFFIXES.get(suffix);
  if (known !== undefined) return known;
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) return parseInt64(suffix.slice(1));
  return undefined;
}

/** `n / d` rounded away from zero, for `d > 0`. */
function divideAwayFromZero(n: bigint, d: bigint): bigint {
  const q = n / d;
  if (q * d === n) return q;
  return n < 0n ? q - 1n : q + 1n;
}

/** `ceil(n / 10^k)` for `n > 0`, `k > 0`, without building 10^k when the answer is 1. */
function ceilDivPow10(n: bigint, digits: number, k: number): bigint {
  if (k >= digits) return 1n; // n < 10^digits <= 10^k
  return divideAwayFromZero(n, 10n ** BigInt(k));
}

/**
 * Parses a quantity exactly as Kubernetes' `resource.ParseQuantity` does (see the module comment for the grammar,
 * the rounding and the two documented limits). Throws {@link QuantityError} naming `s`, and `path` when given.
 */
export function parseQuantity(s: string, path = ''): Quantity {
  return parse(s, s, path);
}

/** Parses `text`; errors report `input`, the value as the caller received it. */
function parse(text: string, input: string, path: string): Quantity {
  const fail = (reason: QuantityErrorReason, why: string): QuantityError => new QuantityError(input, path, reason, why);

  const scanned = text === '' ? undefined : scan(text);
  if (scanned === undefined) throw fail('Format', FORMAT_MESSAGE);
  const { negative, integer, fraction, suffix } = scanned;

  const interpreted = interpretSuffix(suffix);
  if (interpreted === undefined) {
    throw fail('Suffix', `unable to parse quantity's suffix ${JSON.stringify(suffix)} (${SUFFIX_HINT})`);
  }
  let base: 2 | 10;
  let exponent: number;
  let format: Format;
  if (typeof interpreted === 'bigint') {
    const magnitude = interpreted < 0n ? -interpreted : interpreted;
    if (magnitude + BigInt(fraction.length) > INT32_MAX) {
      throw fail('Range', `exponent ${interpreted} is out of range`);
    }
    [base, exponent, format] = [10, Number(interpreted), 'DecimalExponent'];
  } else {
    ({ base, exponent, format } = interpreted);
  }

  if (integer === '' && fraction === '') {
    // Zero on Kubernetes' int64 fast path; its arbitrary-precision path cannot read a number without digits.
    const fastPath = format === 'BinarySI' ? exponent <= FAST_PATH_MAX_BINARY_EXPONENT : exponent >= FAST_PATH_MIN_DECIMAL_EXPONENT;
    if (!fastPath) throw fail('Numeric', NUMERIC_MESSAGE);
    return ZERO_QUANTITY;
  }

  const significand = (integer + fraction).replace(/^0+/, '');
  if (significand === '') return ZERO_QUANTITY;
  const digits = significand.length;
  const coefficient = BigInt(significand);

  let nanos: bigint;
  if (base === 2) {
    // |value| * 10^9 = coefficient * 2^exponent * 10^(9 - fraction digits), rounded up.
    const scaled = coefficient << BigInt(exponent);
    const shift = 9 - fraction.length;
    nanos = shift >= 0 ? scaled * 10n ** BigInt(shift) : ceilDivPow10(scaled, scaled.toString().length, -shift);
    if (nanos > MAX_BINARY_NANOS) nanos = MAX_BINARY_NANOS;
  } else {
    // |value| * 10^9 = coefficient * 10^(exponent - fraction digits + 9), rounded up.
    const decimalExponent = exponent - fraction.length;
    if (digits + decimalExponent > MAX_DECIMAL_DIGITS) {
      throw fail('Range', `must be less than 10^${MAX_DECIMAL_DIGITS}`);
    }
    const shift = decimalExponent + 9;
    nanos = shift >= 0 ? coefficient * 10n ** BigInt(shift) : ceilDivPow10(coefficient, digits, -shift);
  }
  return { nanos: negative ? -nanos : nanos };
}

/** Whitespace as Go's `unicode.IsSpace` sees it (JavaScript's `trim` also strips U+FEFF and keeps U+0085). */
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]';
const SURROUNDING_GO_SPACE = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');

/**
 * Quantity strings already read, and their value: every review reads its pod's requests, and pods repeat a handful
 * of strings ("500m", "128Mi"). Only valid ones are kept (an invalid one throws with its path every time); at most
 * `READ_QUANTITIES_LIMIT`, forgotten all at once when full.
 */
const readQuantities = new Map<string, Quantity>();
const READ_QUANTITIES_LIMIT = 4096;

/**
 * Reads a quantity field of a decoded JSON or YAML object as the API server's `Quantity.UnmarshalJSON` does:
 * surrounding whitespace is trimmed, a JSON number is read from its text (here: the shortest text of the double
 * it was decoded to, exact for every number a double holds exactly), and `null` is zero. Anything else throws.
 */
export function quantityFromJSON(json: unknown, path = ''): Quantity {
  if (json === null) return ZERO_QUANTITY;
  if (typeof json === 'string') {
    const known = readQuantities.get(json);
    if (known !== undefined) return known;
    const q = Object.freeze(parse(json.replace(SURROUNDING_GO_SPACE, ''), json, path));
    if (readQuantities.size >= READ_QUANTITIES_LIMIT) readQuantities.clear();
    readQuantities.set(json, q);
    return q;
  }
  if (typeof json === 'number' && Number.isFinite(json)) return parse(String(json), String(json), path);
  throw new QuantityError(describe(json), path, 'Format', 'must be a quantity string');
}

function describe(json: unknown): string {
  if (typeof json === 'number' || typeof json === 'boolean' || typeof json === 'bigint' || typeof json === 'undefined') return String(json);
  if (typeof json !== 'object') return typeof json; // a function or a symbol: never in JSON
  try {
    return JSON.stringify(json);
  } catch {
    return Object.prototype.toString.call(json);
  }
}

/**
 * Kubernetes' `MilliValue()`: the value in milli-units, rounded up to a whole number (`1n` → 1).
 *
 * Negative fractions round away from zero (`-1.5m` → -2), as Kubernetes' int64 representation does and as the
 * `Value()` documentation states. Its arbitrary-precision representation rounds them differently (`scaledValue`
 * truncates and adds one), but the API server rejects negative requests and capacities, so no fit depends on it.
 *
 * The result is exact: Kubernetes returns an int64, which overflows beyond about 9.2e15 units (`1Ei` of memory in
 * milli-units already does).
 */
export function milliValue(q: Quantity): bigint {
  return divideAwayFromZero(q.nanos, NANOS_PER_MILLI);
}

/**
 * Kubernetes' `Value()`: the value in units, rounded up (`1n` → 1, `1500m` → 2), negatives away from zero
 * (`-0.5` → -1). Exact, where Kubernetes' int64 overflows beyond 2^63-1 (decimal quantities such as `10E`).
 */
export function value(q: Quantity): bigint {
  return divideAwayFromZero(q.nanos, NANOS_PER_UNIT);
}

/**
 * Rounds up to a whole number of milli-units, away from zero (`Quantity.RoundUp(resource.Milli)`). The API server
 * applies this to every `ResourceList` it decodes (`SetDefaults_ResourceList`), so pod requests, limits, overhead
 * and node capacity are always whole milli-units by the time the scheduler sees them.
 */
export function roundUpToMilli(q: Quantity): Quantity {
  return { nanos: divideAwayFromZero(q.nanos, NANOS_PER_MILLI) * NANOS_PER_MILLI };
}

/** -1, 0 or 1 as `a` is less than, equal to or greater than `b` (`Quantity.Cmp`). */
export function compareQuantity(a: Quantity, b: Quantity): -1 | 0 | 1 {
  if (a.nanos < b.nanos) return -1;
  return a.nanos > b.nanos ? 1 : 0;
}
