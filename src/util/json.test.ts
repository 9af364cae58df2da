import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sameJson } from './json.js';

/** An independent oracle: JSON text with keys sorted at every level (undefined properties drop out, as in JSON). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

/** The same value with its keys in another order, and now and then a property set to undefined. */
const reordered = (v: unknown, flip: boolean): unknown => {
  if (Array.isArray(v)) return v.map((x) => reordered(x, !flip));
  if (v === null || typeof v !== 'object') return v;
  const entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, reordered(x, !flip)] as const);
  return Object.fromEntries([...(flip ? entries.reverse() : entries), ...(flip ? [['extra-undefined', undefined] as const] : [])]);
};

describe('sameJson', () => {
  it('agrees with comparing canonical JSON text, for any two JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), (a, b) => {
        expect(sameJson(a, b)).toBe(canonical(a) === canonical(b));
      }),
      { numRuns: 500 },
    );
  });

  it('is blind to key order and to properties set to undefined, not to anything else', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.boolean(), (a, flip) => {
        expect(sameJson(a, reordered(a, flip))).toBe(true);
        expect(sameJson(reordered(a, flip), a)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    { a: { x: 1 }, b: { x: 1, y: undefined }, want: true },
    { a: { x: 1, y: undefined }, b: { x: 1, z: 2 }, want: false },
    { a: [1, 2], b: [2, 1], want: false },
    { a: [], b: {}, want: false },
    { a: { a: [1, { b: null }] }, b: { a: [1, { b: null }] }, want: true },
    { a: { b: null }, b: {}, want: false },
  ])('$a vs $b: $want', ({ a, b, want }) => {
    expect(sameJson(a, b)).toBe(want);
  });
});
