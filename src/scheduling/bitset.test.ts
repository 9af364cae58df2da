import { describe, expect, it } from 'vitest';

import { BitSet, Posting } from './bitset.js';

/** A bit set of `words` words holding `members`. */
function bits(words: number, ...members: number[]): BitSet {
  const b = new BitSet(words);
  for (const i of members) b.add(i);
  return b;
}

/** Members in increasing order, as `find` visits them. */
function members(b: BitSet): number[] {
  const out: number[] = [];
  b.find((i) => (out.push(i), false));
  return out;
}

/** What a posting holds, read back through a bit set wide enough for every id used here. */
function postingMembers(p: Posting): number[] {
  const b = new BitSet(0);
  p.orInto(b);
  return members(b);
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
    expect(b.count()).toBe(1);
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

  it('counts members, a full word included', () => {
    expect(bits(3).count()).toBe(0);
    expect(bits(3, ...range(0, 32)).count()).toBe(32);
    expect(bits(3, ...range(0, 96)).count()).toBe(96);
    expect(bits(3, 31, 32, 95).count()).toBe(3);
    const alternate = range(0, 96).filter((i) => i % 3 === 0);
    expect(bits(3, ...alternate).count()).toBe(alternate.length);
  });

  it('finds members in increasing order across words', () => {
    expect(members(bits(4, 127, 0, 64, 31, 32, 5))).toEqual([0, 5, 31, 32, 64, 127]);
  });

  it('find stops at the first member the visitor accepts and returns it', () => {
    const visited: number[] = [];
    const found = bits(3, 2, 40, 70, 90).find((i) => (visited.push(i), i > 30));
    expect(found).toBe(40);
    expect(visited).toEqual([2, 40]);
  });

  it('find returns undefined when no member is accepted, or there is none', () => {
    expect(bits(2, 1, 33).find(() => false)).toBeUndefined();
    expect(bits(2).find(() => true)).toBeUndefined();
  });

  it('isEmpty', () => {
    expect(bits(2).isEmpty()).toBe(true);
    expect(bits(0).isEmpty()).toBe(true);
    expect(bits(2, 63).isEmpty()).toBe(false);
    const b = bits(2, 63);
    b.delete(63);
    expect(b.isEmpty()).toBe(true);
  });

  it('full(words, size) holds exactly 0 … size-1', () => {
    for (const size of [0, 1, 31, 32, 33, 63, 64, 65]) {
      const b = BitSet.full(3, size);
      expect(b.count(), `size ${size}`).toBe(size);
      expect(members(b), `size ${size}`).toEqual(range(0, size));
    }
  });

  it('clone is independent of its original', () => {
    const a = bits(1, 1, 2);
    const b = a.clone();
    b.add(3);
    a.delete(1);
    expect(members(a)).toEqual([2]);
    expect(members(b)).toEqual([1, 2, 3]);
  });

  describe('and', () => {
    it('intersects sets of the same width', () => {
      expect(members(bits(2, 1, 2, 40).and(bits(2, 2, 40, 41)))).toEqual([2, 40]);
    });

    it('with a shorter set, clears the words the other lacks', () => {
      expect(members(bits(3, 1, 40, 80).and(bits(1, 1, 2)))).toEqual([1]);
    });

    it('with a longer set, ignores its extra words', () => {
      const a = bits(1, 1, 2);
      expect(members(a.and(bits(4, 2, 100)))).toEqual([2]);
      expect(a.words.length).toBe(1);
    });

    it('returns the set itself, for chaining', () => {
      const a = bits(1, 1);
      expect(a.and(bits(1, 1))).toBe(a);
    });
  });

  describe('andNot', () => {
    it('subtracts a set of the same width', () => {
      expect(members(bits(2, 1, 2, 40).andNot(bits(2, 2, 41)))).toEqual([1, 40]);
    });

    it('with a shorter set, keeps the words the other lacks', () => {
      expect(members(bits(3, 1, 40, 80).andNot(bits(1, 1)))).toEqual([40, 80]);
    });

    it('with a longer set, subtracts what overlaps and nothing more', () => {
      const a = bits(1, 1, 2, 31);
      expect(members(a.andNot(bits(4, 31, 100)))).toEqual([1, 2]);
      expect(a.words.length).toBe(1);
    });

    it('subtracting from an empty set, or an empty set, changes nothing', () => {
      expect(members(bits(0).andNot(bits(2, 1)))).toEqual([]);
      expect(members(bits(2, 1, 33).andNot(bits(0)))).toEqual([1, 33]);
    });
  });

  describe('or', () => {
    it('unites sets of the same width', () => {
      expect(members(bits(2, 1, 40).or(bits(2, 2, 40)))).toEqual([1, 2, 40]);
    });

    it('grows to the other set’s width', () => {
      const a = bits(1, 1);
      a.or(bits(4, 100));
      expect(a.words.length).toBeGreaterThanOrEqual(4);
      expect(members(a)).toEqual([1, 100]);
    });

    it('with a shorter or empty set, keeps its own words', () => {
      expect(members(bits(3, 80).or(bits(1, 1)))).toEqual([1, 80]);
      expect(members(bits(1, 1).or(bits(0)))).toEqual([1]);
    });
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
    /** A target of 2 words (ids 0–63) holding the even and odd ids 0–9 and 33. */
    const target = () => bits(2, ...range(0, 10), 33);
    const inTarget = (i: number) => i < 10 || i === 33;

    it('has', () => {
      const p = posting();
      for (const i of ids) expect(p.has(i)).toBe(true);
      expect(p.has(3)).toBe(false);
      expect(p.has(10_000)).toBe(false);
    });

    it('orInto unites into the target, growing it to hold every id', () => {
      const t = target();
      posting().orInto(t);
      expect(members(t)).toEqual([...new Set([...range(0, 10), 33, ...ids])].sort((a, b) => a - b));
    });

    it('intersect keeps only the target’s members that are in the posting, also beyond a narrower target', () => {
      const t = target();
      posting().intersect(t);
      expect(members(t)).toEqual(ids.filter(inTarget));
    });

    it('subtractFrom removes the posting from a narrower target', () => {
      const t = target();
      posting().subtractFrom(t);
      expect(members(t)).toEqual([...range(0, 10), 33].filter((i) => !ids.includes(i)));
    });

    it('countIn counts the overlap without changing the target', () => {
      const t = target();
      expect(posting().countIn(t)).toBe(ids.filter(inTarget).length);
      expect(members(t)).toEqual([...range(0, 10), 33]);
    });

    it('countIn against a wider target sees every member', () => {
      const wide = BitSet.full(20, 640);
      expect(posting().countIn(wide)).toBe(ids.length);
    });
  });
});
