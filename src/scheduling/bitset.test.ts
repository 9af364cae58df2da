import { describe, expect, it } from 'vitest';

import { BitSet, Posting } from './bitset.js';

/** A bit set of `words` words holding `members`. */
function bits(words: number, ...members: number[]): BitSet {
  const b = new BitSet(words);
  for (const i of members) b.add(i);
  return b;
}

/** Members in increasing order. */
function members(b: BitSet): number[] {
  return Array.from({ length: b.words.length * 32 }, (_, i) => i).filter((i) => b.has(i));
}

/** What a posting holds, read back word by word (ids below 1,024 are enough for every test here). */
function postingMembers(p: Posting): number[] {
  const out: number[] = [];
  for (let w = 0; w < 32; w++) for (let bit = 0; bit < 32; bit++) if ((p.word(w) >>> bit) & 1) out.push(w * 32 + bit);
  return out;
}

/**
 * Which representation a posting uses now. The representation is private, and only visible in cost; the threshold
 * is worth pinning, so it is read here (`dense` is set exactly when the posting is a bit set).
 */
const representation = (p: Posting): 'sparse' | 'dense' => (Reflect.get(p, 'dense') === undefined ? 'sparse' : 'dense');

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('BitSet', () => {
  it('adds, tests and deletes members, including bits 31 and 32 either side of a word boundary', () => {
    const b = bits(2, 0, 31, 32, 63);
    expect([0, 31, 32, 63].map((i) => b.has(i))).toEqual([true, true, true, true]);
    expect([1, 30, 33, 62].map((i) => b.has(i))).toEqual([false, false, false, false]);
    b.delete(31);
    b.delete(32);
    expect(members(b)).toEqual([0, 63]);
  });

  it('adding twice keeps one member', () => {
    const b = bits(1, 5, 5);
    expect(members(b)).toEqual([5]);
  });

  it('grows when a member lies beyond its width, keeping what it had', () => {
    const b = bits(1, 3);
    b.add(200);
    expect(b.words.length).toBeGreaterThanOrEqual(7);
    expect(members(b)).toEqual([3, 200]);
  });

  it('grows from zero words', () => {
    const b = bits(0, 0, 95);
    expect(members(b)).toEqual([0, 95]);
  });

  it('reads and deletes beyond its width as absent, without growing', () => {
    const b = bits(1, 1);
    expect(b.has(1000)).toBe(false);
    b.delete(1000);
    expect(b.words.length).toBe(1);
    expect(members(b)).toEqual([1]);
  });
});

describe('Posting', () => {
  it('starts empty and sparse', () => {
    const p = new Posting();
    expect(p.size).toBe(0);
    expect(representation(p)).toBe('sparse');
    expect(postingMembers(p)).toEqual([]);
  });

  it('stays sparse up to 63 members and becomes a bit set at the 64th', () => {
    const p = new Posting();
    for (const i of range(0, 63)) p.add(i * 3);
    expect(representation(p)).toBe('sparse');
    expect(p.size).toBe(63);
    p.add(63 * 3);
    expect(representation(p)).toBe('dense');
    expect(p.size).toBe(64);
    expect(postingMembers(p)).toEqual(range(0, 64).map((i) => i * 3));
  });

  it('re-adding a member does not cross the threshold', () => {
    const p = new Posting();
    for (const i of range(0, 63)) p.add(i);
    p.add(0);
    p.add(62);
    expect(p.size).toBe(63);
    expect(representation(p)).toBe('sparse');
  });

  it('stays dense down to 32 members and becomes sparse below half the threshold', () => {
    const p = new Posting();
    for (const i of range(0, 64)) p.add(i);
    for (const i of range(32, 64)) p.delete(i);
    expect(p.size).toBe(32);
    expect(representation(p)).toBe('dense');
    p.delete(31);
    expect(p.size).toBe(31);
    expect(representation(p)).toBe('sparse');
    expect(postingMembers(p)).toEqual(range(0, 31));
  });

  it('keeps an exact size through duplicate adds and deletes of absent ids in both representations', () => {
    const p = new Posting();
    p.add(1);
    p.add(1);
    p.delete(2);
    expect(p.size).toBe(1);
    for (const i of range(0, 100)) p.add(i);
    p.add(5);
    p.delete(1000);
    expect(p.size).toBe(100);
    expect(representation(p)).toBe('dense');
    p.delete(5);
    p.delete(5);
    expect(p.size).toBe(99);
    expect(p.has(5)).toBe(false);
    expect(p.has(6)).toBe(true);
  });

  it('can go dense, sparse and dense again without losing members', () => {
    const p = new Posting();
    for (const i of range(0, 70)) p.add(i * 10);
    for (const i of range(0, 50)) p.delete(i * 10);
    expect(representation(p)).toBe('sparse');
    for (const i of range(100, 150)) p.add(i);
    expect(representation(p)).toBe('dense');
    expect(postingMembers(p)).toEqual([...range(100, 150), ...range(50, 70).map((i) => i * 10)].sort((a, b) => a - b));
  });

  describe.each([
    { name: 'sparse', ids: [1, 33, 70, 130] },
    { name: 'dense', ids: [...range(0, 80).map((i) => i * 2), 300] },
  ])('set operations on a $name posting', ({ name, ids }) => {
    const posting = () => {
      const p = new Posting();
      for (const i of ids) p.add(i);
      expect(representation(p)).toBe(name);
      return p;
    };

    it('has', () => {
      const p = posting();
      for (const i of ids) expect(p.has(i)).toBe(true);
      expect(p.has(3)).toBe(false);
      expect(p.has(10_000)).toBe(false);
    });

    it('word gives the members of 32 ids at a time, as a signed 32-bit pattern', () => {
      const p = posting();
      for (let w = 0; w < 12; w++) {
        const want = ids.filter((i) => i >>> 5 === w).reduce((acc, i) => acc | (1 << (i & 31)), 0);
        expect(p.word(w), `word ${w}`).toBe(want | 0);
      }
      expect(p.word(1000)).toBe(0);
    });
  });
});
