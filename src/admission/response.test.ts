import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { diff } from './response.js';

/** JSON values with keys that need escaping and lists that grow, shrink or change type. */
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, 1, 'a', ''),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c/d', 'e~f', '0', '__x'), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A change of `v`: sometimes shares subtrees with it (as the mutation shares what it does not change). */
function mutateFrom(v: unknown, pick: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  if (v === null || typeof v !== 'object') return fc.oneof(fc.constant(v), pick);
  if (Array.isArray(v)) {
    return fc.oneof(
      fc.constant(v),
      pick,
      fc.tuple(...v.map((x) => mutateFrom(x, pick)), fc.array(pick, { maxLength: 2 })).map((xs) => [...xs.slice(0, -1), ...(xs.at(-1) as unknown[])]),
    );
  }
  const entries = Object.entries(v);
  return fc.oneof(
    fc.constant(v),
    pick,
    fc
      .tuple(
        fc.tuple(...entries.map(([, x]) => fc.option(mutateFrom(x, pick), { nil: undefined }))),
        fc.dictionary(fc.constantFrom('a', 'z', 'y/1'), pick, { maxKeys: 2 }),
      )
      .map(([kept, added]) => {
        const out: Record<string, unknown> = {};
        entries.forEach(([k], i) => {
          if (kept[i] !== undefined) out[k] = kept[i];
        });
        return { ...out, ...added };
      }),
  );
}

const pair = fc
  .dictionary(fc.constantFrom('metadata', 'spec', 'status', 'a/b'), json, { maxKeys: 4 })
  .chain((o) => mutateFrom(o, json).map((m) => [o, m] as const));

describe('diff', () => {
  it('gives the operations of fast-json-patch compare, in the same order, and they turn the original into the mutated', () => {
    fc.assert(
      fc.property(pair, ([o, m]) => {
        fc.pre(m !== null && typeof m === 'object' && !Array.isArray(m));
        const ops = diff(o, m);
        const before = JSON.parse(JSON.stringify(o)) as object;
        const after = JSON.parse(JSON.stringify(m)) as object;
        // The oracle: compare over the whole documents (the top-level members they share give no operation).
        expect(JSON.stringify(ops)).toBe(JSON.stringify(fastJsonPatch.compare(before, after)));
        expect(fastJsonPatch.applyPatch(before, JSON.parse(JSON.stringify(ops)) as fastJsonPatch.Operation[], true, false).newDocument).toStrictEqual(
          after,
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes "/" and "~" in keys (RFC 6901)', () => {
    expect(diff({ metadata: { annotations: {} } }, { metadata: { annotations: { 'a/b~c': 'x' } } })).toEqual([
      { op: 'add', path: '/metadata/annotations/a~1b~0c', value: 'x' },
    ]);
  });
});
