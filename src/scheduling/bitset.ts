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

  private ensure(word: number): void {
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

/** The nodes that share one property (a label value, a taint list, an allocatable shape). */
export class Posting {
  private sparse: Set<number> | undefined = new Set();
  private dense: BitSet | undefined;
  size = 0;

  add(id: number): void {
    if (this.dense) {
      if (!this.dense.has(id)) this.size++;
      this.dense.add(id);
      return;
    }
    const s = this.sparse as Set<number>;
    s.add(id);
    this.size = s.size;
    if (this.size >= DENSE_AT) {
      this.dense = new BitSet(0);
      for (const i of s) this.dense.add(i);
      this.sparse = undefined;
    }
  }

  delete(id: number): void {
    if (this.dense) {
      if (this.dense.has(id)) this.size--;
      this.dense.delete(id);
      if (this.size < DENSE_AT / 2) {
        this.sparse = new Set();
        this.dense.find((i) => (this.sparse?.add(i), false));
        this.dense = undefined;
      }
      return;
    }
    this.sparse?.delete(id);
    this.size = this.sparse?.size ?? 0;
  }

  has(id: number): boolean {
    return this.dense ? this.dense.has(id) : (this.sparse?.has(id) ?? false);
  }

  /** target ∪= this */
  orInto(target: BitSet): void {
    if (this.dense) target.or(this.dense);
    else for (const i of this.sparse ?? []) target.add(i);
  }

  /** target ∩= this */
  intersect(target: BitSet): void {
    if (this.dense) {
      target.and(this.dense);
      return;
    }
    const kept: number[] = [];
    for (const i of this.sparse ?? []) if (target.has(i)) kept.push(i);
    target.words.fill(0);
    for (const i of kept) target.add(i);
  }

  /** target ∖= this */
  subtractFrom(target: BitSet): void {
    if (this.dense) target.andNot(this.dense);
    else for (const i of this.sparse ?? []) target.delete(i);
  }

  /** |target ∩ this| */
  countIn(target: BitSet): number {
    if (!this.dense) {
      let n = 0;
      for (const i of this.sparse ?? []) if (target.has(i)) n++;
      return n;
    }
    return target.clone().and(this.dense).count();
  }
}
