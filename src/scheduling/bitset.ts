/**
 * Fixed-width bit sets over node ids, and postings (the set of nodes having some property) that stay small for
 * rare properties (one node per `kubernetes.io/hostname` value) and become bit sets for common ones.
 */

/** A set of small non-negative integers. Operations with a shorter or longer set treat missing words as zero. */
export class BitSet {
  words: Uint32Array;

  constructor(words: number) {
    this.words = new Uint32Array(words);
  }

  static full(words: number, size: number): BitSet {
    const b = new BitSet(words);
    b.words.fill(0xffffffff, 0, size >>> 5);
    if (size & 31) b.words[size >>> 5] = (1 << (size & 31)) - 1;
    return b;
  }

  clone(): BitSet {
    const b = new BitSet(0);
    b.words = this.words.slice();
    return b;
  }

  /** Grows the set so that it has word `word` (new words are empty). */
  ensure(word: number): void {
    if (word < this.words.length) return;
    const grown = new Uint32Array(Math.max(word + 1, this.words.length * 2));
    grown.set(this.words);
    this.words = grown;
  }

  add(i: number): void {
    this.ensure(i >>> 5);
    (this.words[i >>> 5] as number) |= 1 << (i & 31);
  }

  delete(i: number): void {
    if (i >>> 5 < this.words.length) (this.words[i >>> 5] as number) &= ~(1 << (i & 31));
  }

  has(i: number): boolean {
    return ((this.words[i >>> 5] ?? 0) & (1 << (i & 31))) !== 0;
  }

  /** this ∩= other */
  and(other: BitSet): this {
    const w = this.words;
    const o = other.words;
    const n = Math.min(w.length, o.length);
    for (let i = 0; i < n; i++) (w[i] as number) &= o[i] as number;
    w.fill(0, n);
    return this;
  }

  /** this ∖= other */
  andNot(other: BitSet): this {
    const w = this.words;
    const o = other.words;
    const n = Math.min(w.length, o.length);
    for (let i = 0; i < n; i++) (w[i] as number) &= ~(o[i] as number);
    return this;
  }

  /** this ∪= other (growing to other's width) */
  or(other: BitSet): this {
    this.ensure(other.words.length - 1);
    const w = this.words;
    const o = other.words;
    for (let i = 0; i < o.length; i++) (w[i] as number) |= o[i] as number;
    return this;
  }

  isEmpty(): boolean {
    for (const x of this.words) if (x !== 0) return false;
    return true;
  }

  count(): number {
    let n = 0;
    for (let x of this.words) {
      x -= (x >>> 1) & 0x55555555;
      x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
      n += (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    return n;
  }

  /** The members in increasing order; stops when `visit` returns true, and returns that member. */
  find(visit: (i: number) => boolean): number | undefined {
    const w = this.words;
    for (let k = 0; k < w.length; k++) {
      let x = w[k] as number;
      while (x !== 0) {
        const low = x & -x;
        const i = (k << 5) + (31 - Math.clz32(low));
        if (visit(i)) return i;
        x ^= low;
      }
    }
    return undefined;
  }
}

/** Postings with at least this many members are kept as bit sets; smaller ones as plain sets of ids. */
const DENSE_AT = 64;

/**
 * The nodes that share one property (a label value). Small postings are kept as word → bits maps, large ones as bit
 * sets; either answers `word(w)`, the 32 bits of ids `32w … 32w+31`, in constant time.
 */
export class Posting {
  private sparse: Map<number, number> | undefined = new Map();
  private dense: BitSet | undefined;
  size = 0;

  add(id: number): void {
    if (this.has(id)) return;
    this.size++;
    if (this.dense) {
      this.dense.add(id);
      return;
    }
    const s = this.sparse as Map<number, number>;
    const w = id >>> 5;
    s.set(w, (s.get(w) ?? 0) | (1 << (id & 31)));
    if (this.size >= DENSE_AT) {
      this.dense = new BitSet(0);
      for (const [k, bits] of s) {
        this.dense.ensure(k);
        (this.dense.words[k] as number) = bits >>> 0;
      }
      this.sparse = undefined;
    }
  }

  delete(id: number): void {
    if (!this.has(id)) return;
    this.size--;
    if (this.dense) {
      this.dense.delete(id);
      if (this.size < DENSE_AT / 2) {
        const sparse = new Map<number, number>();
        this.dense.words.forEach((bits, w) => {
          if (bits !== 0) sparse.set(w, bits | 0);
        });
        this.sparse = sparse;
        this.dense = undefined;
      }
      return;
    }
    const s = this.sparse as Map<number, number>;
    const w = id >>> 5;
    const bits = (s.get(w) ?? 0) & ~(1 << (id & 31));
    if (bits === 0) s.delete(w);
    else s.set(w, bits);
  }

  has(id: number): boolean {
    return ((this.word(id >>> 5) >>> (id & 31)) & 1) === 1;
  }

  /** The members among ids 32w … 32w+31, as a 32-bit pattern (signed). */
  word(w: number): number {
    if (this.dense) return (this.dense.words[w] ?? 0) | 0;
    return (this.sparse as Map<number, number>).get(w) ?? 0;
  }

  /** target ∪= this */
  orInto(target: BitSet): void {
    if (this.dense) target.or(this.dense);
    else {
      for (const [w, bits] of this.sparse ?? []) {
        target.ensure(w);
        (target.words[w] as number) |= bits;
      }
    }
  }

  /** target ∩= this */
  intersect(target: BitSet): void {
    if (this.dense) {
      target.and(this.dense);
      return;
    }
    const sparse = this.sparse as Map<number, number>;
    const t = target.words;
    for (let w = 0; w < t.length; w++) if (t[w] !== 0) (t[w] as number) &= sparse.get(w) ?? 0;
  }

  /** target ∖= this */
  subtractFrom(target: BitSet): void {
    if (this.dense) target.andNot(this.dense);
    else for (const [w, bits] of this.sparse ?? []) if (w < target.words.length) (target.words[w] as number) &= ~bits;
  }

  /** |target ∩ this| */
  countIn(target: BitSet): number {
    if (!this.dense) {
      let n = 0;
      for (const [w, bits] of this.sparse ?? []) n += popcount32((target.words[w] ?? 0) & bits);
      return n;
    }
    return target.clone().and(this.dense).count();
  }
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
