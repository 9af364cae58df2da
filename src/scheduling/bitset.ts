/**
 * Fixed-width bit sets over node ids, and postings (the set of nodes having some property) that stay small for
 * rare properties (one node per `kubernetes.io/hostname` value) and become bit sets for common ones.
 */

/** A set of small non-negative integers, growing as members are added. */
export class BitSet {
  words: Uint32Array<ArrayBuffer>;

  constructor(words: number) {
    this.words = new Uint32Array(words);
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

  /** Whether some member is also set in `words` (a bit set over the same ids, one 32-bit pattern per word). */
  intersects(words: ArrayLike<number>): boolean {
    if (this.dense) {
      const own = this.dense.words;
      const n = Math.min(own.length, words.length);
      for (let w = 0; w < n; w++) if (((own[w] as number) & (words[w] as number)) !== 0) return true;
      return false;
    }
    for (const [w, bits] of this.sparse as Map<number, number>) if ((bits & (words[w] ?? 0)) !== 0) return true;
    return false;
  }

  /** The members among ids 32w … 32w+31, as a 32-bit pattern (signed). */
  word(w: number): number {
    if (this.dense) return (this.dense.words[w] ?? 0) | 0;
    return (this.sparse as Map<number, number>).get(w) ?? 0;
  }
}
