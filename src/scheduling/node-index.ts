/**
 * The node index: every node of the cluster, with postings that answer "which nodes have X" without scanning
 * (label key=value, label key, cordoned, taint list, allocatable shape). Updated incrementally (upsert/remove per
 * node event); evaluation (`./feasibility.ts`) combines postings as bit sets over node ids.
 *
 * Per-node-unique labels (`kubernetes.io/hostname`) only cost one tiny posting each; nodes that share taints and
 * allocatable share one taint posting and one allocatable posting, so the per-shape work of a verdict is done once
 * per shape, not once per node.
 */
import type { V1Taint } from '@kubernetes/client-node';
import { BitSet, Posting } from './bitset.js';
import { nodeAllocatable } from './resources.js';
import { CONDITION_TAINT_KEYS, FILTERING_TAINT_EFFECTS } from './taints.js';
import type { PlacementNode } from './types.js';

/** Nodes sharing the same NoSchedule/NoExecute taints, in the node's order (the scheduler reports the first). */
export interface TaintGroup {
  readonly taints: readonly V1Taint[];
  readonly posting: Posting;
}

/** Nodes sharing the same allocatable resources. */
export interface AllocatableGroup {
  readonly allocatable: ReadonlyMap<string, bigint>;
  readonly posting: Posting;
}

interface Entry {
  readonly node: PlacementNode;
  readonly taintKey: string;
  readonly allocatableKey: string;
}

const filteringTaints = (node: PlacementNode) =>
  node.taints.filter((t) => (FILTERING_TAINT_EFFECTS as readonly string[]).includes(t.effect));

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

export class NodeIndex {
  private readonly idByName = new Map<string, number>();
  private readonly entries: (Entry | undefined)[] = [];
  private readonly freeIds: number[] = [];
  private readonly live = new Posting();
  readonly cordoned = new Posting();
  private readonly byLabel = new Map<string, Map<string, Posting>>();
  private readonly byKey = new Map<string, Posting>();
  private readonly taintGroups = new Map<string, TaintGroup>();
  private readonly allocatableGroups = new Map<string, AllocatableGroup>();
  /** Nodes carrying a condition taint (not-ready, unreachable, *-pressure): transient, see feasibility. */
  readonly conditionTainted = new Posting();

  constructor(nodes: Iterable<PlacementNode> = []) {
    for (const n of nodes) this.upsert(n);
  }

  get size(): number {
    return this.idByName.size;
  }

  /** Width of the bit sets over node ids, in 32-bit words. */
  get words(): number {
    return (this.entries.length + 31) >>> 5;
  }

  idOf(name: string): number | undefined {
    return this.idByName.get(name);
  }

  node(id: number): PlacementNode | undefined {
    return this.entries[id]?.node;
  }

  get(name: string): PlacementNode | undefined {
    const id = this.idByName.get(name);
    return id === undefined ? undefined : this.entries[id]?.node;
  }

  *nodes(): IterableIterator<PlacementNode> {
    for (const e of this.entries) if (e) yield e.node;
  }

  /** An empty bit set of the index's width. */
  none(): BitSet {
    return new BitSet(this.words);
  }

  /** All live nodes as a fresh bit set. */
  all(): BitSet {
    const b = new BitSet(this.words);
    this.live.orInto(b);
    return b;
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

  taintGroupList(): Iterable<TaintGroup> {
    return this.taintGroups.values();
  }

  allocatableGroupList(): Iterable<AllocatableGroup> {
    return this.allocatableGroups.values();
  }

  /** The allocatable group of a node id (for per-candidate resource checks). */
  allocatableOf(id: number): AllocatableGroup | undefined {
    const e = this.entries[id];
    return e ? this.allocatableGroups.get(e.allocatableKey) : undefined;
  }

  upsert(node: PlacementNode): void {
    const existing = this.idByName.get(node.name);
    if (existing !== undefined) this.unlink(existing);
    const id = existing ?? this.freeIds.pop() ?? this.entries.length;
    const taints = filteringTaints(node);
    const taintKey = JSON.stringify(taints.map((t) => [t.key, t.value ?? '', t.effect]));
    const allocatable = safeAllocatable(node);
    const allocatableKey = JSON.stringify([...allocatable].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, String(v)]));
    this.entries[id] = { node, taintKey, allocatableKey };
    this.idByName.set(node.name, id);
    this.live.add(id);
    if (node.unschedulable) this.cordoned.add(id);
    if (node.taints.some((t) => CONDITION_TAINT_KEYS.includes(t.key))) this.conditionTainted.add(id);
    for (const [k, v] of Object.entries(node.labels)) {
      getOrAdd(getOrAdd(this.byLabel, k, () => new Map()), v, () => new Posting()).add(id);
      getOrAdd(this.byKey, k, () => new Posting()).add(id);
    }
    getOrAdd(this.taintGroups, taintKey, () => ({ taints, posting: new Posting() })).posting.add(id);
    getOrAdd(this.allocatableGroups, allocatableKey, () => ({ allocatable, posting: new Posting() })).posting.add(id);
  }

  remove(name: string): void {
    const id = this.idByName.get(name);
    if (id === undefined) return;
    this.unlink(id);
    this.idByName.delete(name);
    this.entries[id] = undefined;
    this.freeIds.push(id);
  }

  /** Takes node `id` out of every posting, dropping postings that become empty. */
  private unlink(id: number): void {
    const e = this.entries[id];
    if (!e) return;
    this.live.delete(id);
    this.cordoned.delete(id);
    this.conditionTainted.delete(id);
    for (const [k, v] of Object.entries(e.node.labels)) {
      const values = this.byLabel.get(k);
      const p = values?.get(v);
      p?.delete(id);
      if (values && p && p.size === 0) values.delete(v);
      if (values?.size === 0) this.byLabel.delete(k);
      const kp = this.byKey.get(k);
      kp?.delete(id);
      if (kp?.size === 0) this.byKey.delete(k);
    }
    const tg = this.taintGroups.get(e.taintKey);
    tg?.posting.delete(id);
    if (tg?.posting.size === 0) this.taintGroups.delete(e.taintKey);
    const ag = this.allocatableGroups.get(e.allocatableKey);
    ag?.posting.delete(id);
    if (ag?.posting.size === 0) this.allocatableGroups.delete(e.allocatableKey);
  }
}
