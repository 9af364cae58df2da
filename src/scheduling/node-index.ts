/**
 * The node index: every node of the cluster, laid out so that a verdict costs (close to) nothing per node.
 *
 * - **Shapes.** Nodes that share their filtering taints, cordon state and allocatable are one *shape*: every filter
 *   but the label-based ones (NodeName, NodeAffinity) gives the same answer for all of them, so it is evaluated once
 *   per shape and verdict.
 * - **Words per shape.** Node ids are bit positions; a shape with enough nodes owns whole 32-bit words of ids, so
 *   "how many nodes of this shape are still candidates" is a popcount of one word, and a pass over the cluster is a
 *   pass over ~N/32 words. Nodes of small shapes (a node whose allocatable differs from every other's) share *mixed*
 *   words and are looked at one by one: the index degrades gracefully, never wrongly.
 * - **Label postings.** `key=value` → nodes and `key` → nodes, small sets for rare values (one node per
 *   `kubernetes.io/hostname`), bit sets for common ones: node affinity is answered with set operations.
 *
 * Updated incrementally (upsert/remove per node event). A node whose shape changes gets a new id.
 */
import type { V1Taint } from '@kubernetes/client-node';
import { BitSet, Posting } from './bitset.js';
import { nodeAllocatable } from './resources.js';
import { FILTERING_TAINT_EFFECTS } from './taints.js';
import type { PlacementNode } from './types.js';

/** A component of shapes, shared by every shape that has it, so that a verdict computes it once. */
export interface Part<T> {
  /** Dense number (index into per-verdict tables). */
  readonly index: number;
  readonly value: T;
  /** Shapes using it. */
  uses: number;
}

/** Nodes alike for every filter that does not read labels. */
export interface Shape {
  /** Dense number of the shape (index into per-verdict tables). */
  readonly index: number;
  readonly key: string;
  readonly taintKey: string;
  readonly allocatableKey: string;
  /** NoSchedule and NoExecute taints, in the node's order (the scheduler reports the first untolerated one). */
  readonly taints: Part<readonly V1Taint[]>;
  readonly unschedulable: boolean;
  readonly allocatable: Part<ReadonlyMap<string, bigint>>;
  /** Live nodes of this shape. */
  size: number;
}

/** Interns values by key, numbering them densely and reusing numbers of values no longer used. */
class Parts<T> {
  private readonly byKey = new Map<string, Part<T>>();
  private readonly free: number[] = [];
  private next = 0;

  get count(): number {
    return this.next;
  }

  private readonly byIndex: T[] = [];

  value(index: number): T {
    return this.byIndex[index] as T;
  }

  acquire(key: string, value: () => T): Part<T> {
    let p = this.byKey.get(key);
    if (!p) {
      p = { index: this.free.pop() ?? this.next++, value: value(), uses: 0 };
      this.byKey.set(key, p);
      this.byIndex[p.index] = p.value;
    }
    p.uses++;
    return p;
  }

  release(key: string, p: Part<T>): void {
    if (--p.uses > 0) return;
    this.byKey.delete(key);
    this.free.push(p.index);
  }
}

/** `shapeOfWord` value of a word whose ids belong to several small shapes. */
export const MIXED = -2;
/** `shapeOfWord` value of an unused word. */
export const FREE = -1;
/** A shape gets words of its own once it has this many nodes. */
const DEDICATE_AT = 8;

/** Parses what it can of a node's allocatable: an unparsable quantity counts as absent (0), never as a crash. */
export function safeAllocatable(node: PlacementNode): Map<string, bigint> {
  try {
    return nodeAllocatable(node);
  } catch {
    const out = new Map<string, bigint>();
    for (const [name, q] of Object.entries(node.allocatable)) {
      try {
        for (const [k, v] of nodeAllocatable({ ...node, allocatable: { [name]: q } })) out.set(k, v);
      } catch {
        // left out: the node offers none of it
      }
    }
    return out;
  }
}

function getOrAdd<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

function grow(a: Int32Array<ArrayBuffer>, size: number, fill: number): Int32Array<ArrayBuffer> {
  if (size <= a.length) return a;
  const b = new Int32Array(Math.max(size, a.length * 2)).fill(fill);
  b.set(a);
  return b;
}

const filteringTaints = (node: PlacementNode) => node.taints.filter((t) => (FILTERING_TAINT_EFFECTS as readonly string[]).includes(t.effect));

export class NodeIndex {
  private readonly idByName = new Map<string, number>();
  private nodesById: (PlacementNode | undefined)[] = [];
  /** Occupied ids. */
  readonly live = new BitSet(0);
  /** Per word: the shape owning it, MIXED, or FREE. */
  shapeOfWord: Int32Array<ArrayBuffer> = new Int32Array(0);
  /** Per id: the node's shape (-1 when the id is free). */
  shapeOfNode: Int32Array<ArrayBuffer> = new Int32Array(0);
  /** Per shape number: its taint part, allocatable part, and 1 when cordoned (typed arrays for the verdict loop). */
  shapeTaints: Int32Array<ArrayBuffer> = new Int32Array(0);
  shapeAllocatable: Int32Array<ArrayBuffer> = new Int32Array(0);
  shapeCordoned: Int32Array<ArrayBuffer> = new Int32Array(0);
  private readonly shapes: (Shape | undefined)[] = [];
  private readonly taintParts = new Parts<readonly V1Taint[]>();
  private readonly allocatableParts = new Parts<ReadonlyMap<string, bigint>>();
  private readonly shapeByKey = new Map<string, Shape>();
  private readonly freeShapeNumbers: number[] = [];
  private readonly freeWords: number[] = [];
  /** Words with a free bit, per shape (dedicated words) and for small shapes (mixed words). */
  private readonly openWords = new Map<number, Set<number>>();
  private readonly openMixed = new Set<number>();
  private wordCount = 0;
  private readonly byLabel = new Map<string, Map<string, Posting>>();
  private readonly byKey = new Map<string, Posting>();
  private changes = 0;

  constructor(nodes: Iterable<PlacementNode> = []) {
    for (const n of nodes) this.upsert(n);
  }

  /** Counts the changes to the index: equal versions of one index, same nodes. */
  get version(): number {
    return this.changes;
  }

  get size(): number {
    return this.idByName.size;
  }

  /** Width of the bit sets over node ids, in 32-bit words. */
  get words(): number {
    return this.wordCount;
  }

  /** Shapes with at least one node. */
  get shapesInUse(): number {
    return this.shapeByKey.size;
  }

  /** Shapes by number (sparse: numbers of vanished shapes are reused). */
  get shapeCount(): number {
    return this.shapes.length;
  }

  shape(n: number): Shape | undefined {
    return this.shapes[n];
  }

  idOf(name: string): number | undefined {
    return this.idByName.get(name);
  }

  node(id: number): PlacementNode | undefined {
    return this.nodesById[id];
  }

  get(name: string): PlacementNode | undefined {
    const id = this.idByName.get(name);
    return id === undefined ? undefined : this.nodesById[id];
  }

  *nodes(): IterableIterator<PlacementNode> {
    for (const n of this.nodesById) if (n) yield n;
  }

  /** Nodes whose label `key` has `value` (undefined when none). */
  withLabel(key: string, value: string): Posting | undefined {
    return this.byLabel.get(key)?.get(value);
  }

  /** Nodes that have label `key`, with any value. */
  withKey(key: string): Posting | undefined {
    return this.byKey.get(key);
  }

  /** The distinct values of label `key` with their postings. */
  labelValues(key: string): ReadonlyMap<string, Posting> {
    return this.byLabel.get(key) ?? new Map();
  }

  /** A taint list by its part number (see `shapeTaints`). */
  taintPart(n: number): readonly V1Taint[] {
    return this.taintParts.value(n);
  }

  allocatablePart(n: number): ReadonlyMap<string, bigint> {
    return this.allocatableParts.value(n);
  }

  /** Distinct taint lists and allocatables in use, numbered (`Part.index` is below these counts). */
  get taintPartCount(): number {
    return this.taintParts.count;
  }

  get allocatablePartCount(): number {
    return this.allocatableParts.count;
  }

  upsert(node: PlacementNode): void {
    this.changes++;
    const taints = filteringTaints(node);
    const allocatable = safeAllocatable(node);
    const taintKey = JSON.stringify(taints.map((t) => [t.key, t.value ?? '', t.effect]));
    const allocatableKey = JSON.stringify([...allocatable].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, String(v)]));
    const key = `${taintKey}|${node.unschedulable}|${allocatableKey}`;
    const existing = this.idByName.get(node.name);
    if (existing !== undefined && this.shapes[this.shapeOfNode[existing] as number]?.key === key) {
      // Same shape: only the labels (and the stored node) change.
      this.unlinkLabels(existing);
      this.nodesById[existing] = node;
      this.linkLabels(existing);
      return;
    }
    if (existing !== undefined) this.remove(node.name);
    const shape = getOrAdd(this.shapeByKey, key, () => {
      const index = this.freeShapeNumbers.pop() ?? this.shapes.length;
      const s: Shape = {
        index,
        key,
        taintKey,
        allocatableKey,
        taints: this.taintParts.acquire(taintKey, () => taints),
        unschedulable: node.unschedulable,
        allocatable: this.allocatableParts.acquire(allocatableKey, () => allocatable),
        size: 0,
      };
      this.shapes[index] = s;
      this.shapeTaints = grow(this.shapeTaints, index + 1, -1);
      this.shapeAllocatable = grow(this.shapeAllocatable, index + 1, -1);
      this.shapeCordoned = grow(this.shapeCordoned, index + 1, 0);
      this.shapeTaints[index] = s.taints.index;
      this.shapeAllocatable[index] = s.allocatable.index;
      this.shapeCordoned[index] = s.unschedulable ? 1 : 0;
      return s;
    });
    shape.size++;
    const id = this.place(shape);
    this.idByName.set(node.name, id);
    this.nodesById[id] = node;
    this.shapeOfNode = grow(this.shapeOfNode, id + 1, -1);
    this.shapeOfNode[id] = shape.index;
    this.live.add(id);
    this.markOpen(id >>> 5);
    this.linkLabels(id);
  }

  remove(name: string): void {
    const id = this.idByName.get(name);
    if (id === undefined) return;
    this.changes++;
    this.unlinkLabels(id);
    this.idByName.delete(name);
    this.nodesById[id] = undefined;
    this.live.delete(id);
    const shape = this.shapes[this.shapeOfNode[id] as number];
    this.shapeOfNode[id] = -1;
    if (shape) {
      shape.size--;
      if (shape.size === 0) {
        this.shapeByKey.delete(shape.key);
        this.taintParts.release(shape.taintKey, shape.taints);
        this.allocatableParts.release(shape.allocatableKey, shape.allocatable);
        this.shapes[shape.index] = undefined;
        this.freeShapeNumbers.push(shape.index);
        this.openWords.delete(shape.index);
      }
    }
    const w = id >>> 5;
    if ((this.live.words[w] ?? 0) === 0) this.releaseWord(w);
    else this.markOpen(w);
  }

  /** A free id for a node of `shape`: in a word of its own when the shape is big enough, else in a mixed word. */
  private place(shape: Shape): number {
    const open = this.openWords.get(shape.index);
    let w = open?.values().next().value;
    if (w === undefined) {
      if (shape.size >= DEDICATE_AT) w = this.newWord(shape.index);
      else w = this.openMixed.values().next().value ?? this.newWord(MIXED);
    }
    const free = ~(this.live.words[w] ?? 0) >>> 0;
    const bit = 31 - Math.clz32(free & -free);
    return (w << 5) + bit;
  }

  private newWord(owner: number): number {
    const w = this.freeWords.pop() ?? this.wordCount++;
    this.shapeOfWord = grow(this.shapeOfWord, this.wordCount, FREE);
    this.shapeOfWord[w] = owner;
    return w;
  }

  /** Keeps the open-word sets right for word `w` after a bit of it changed. */
  private markOpen(w: number): void {
    const owner = this.shapeOfWord[w] as number;
    const full = (this.live.words[w] ?? 0) === 0xffffffff;
    const set = owner === MIXED ? this.openMixed : owner >= 0 ? getOrAdd(this.openWords, owner, () => new Set()) : undefined;
    if (!set) return;
    if (full) set.delete(w);
    else set.add(w);
  }

  private releaseWord(w: number): void {
    const owner = this.shapeOfWord[w] as number;
    if (owner === MIXED) this.openMixed.delete(w);
    else if (owner >= 0) this.openWords.get(owner)?.delete(w);
    this.shapeOfWord[w] = FREE;
    if (w === this.wordCount - 1) {
      // Shrink from the top so that the width follows the cluster down.
      this.wordCount--;
      while (this.wordCount > 0 && this.shapeOfWord[this.wordCount - 1] === FREE) {
        this.wordCount--;
        const i = this.freeWords.indexOf(this.wordCount);
        if (i >= 0) this.freeWords.splice(i, 1);
      }
    } else {
      this.freeWords.push(w);
    }
  }

  private linkLabels(id: number): void {
    const node = this.nodesById[id];
    if (!node) return;
    for (const [k, v] of Object.entries(node.labels)) {
      getOrAdd(
        getOrAdd(this.byLabel, k, () => new Map<string, Posting>()),
        v,
        () => new Posting(),
      ).add(id);
      getOrAdd(this.byKey, k, () => new Posting()).add(id);
    }
  }

  private unlinkLabels(id: number): void {
    const node = this.nodesById[id];
    if (!node) return;
    for (const [k, v] of Object.entries(node.labels)) {
      const values = this.byLabel.get(k);
      const p = values?.get(v);
      p?.delete(id);
      if (values && p && p.size === 0) values.delete(v);
      if (values?.size === 0) this.byLabel.delete(k);
      const kp = this.byKey.get(k);
      kp?.delete(id);
      if (kp?.size === 0) this.byKey.delete(k);
    }
  }
}
