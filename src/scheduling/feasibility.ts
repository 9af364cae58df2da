/**
 * Can any node run this pod? The filters of kube-scheduler's default profile, in its order, with its semantics:
 *   1. NodeUnschedulable — a cordoned node is out unless the pod tolerates node.kubernetes.io/unschedulable:NoSchedule
 *   2. NodeName          — spec.nodeName, when set, names the only candidate
 *   3. TaintToleration   — every NoSchedule/NoExecute taint must be tolerated (PreferNoSchedule is not a filter)
 *   4. NodeAffinity      — spec.nodeSelector AND required node affinity
 *   5. NodeResourcesFit  — the pod's effective requests against the node's allocatable (not its free capacity:
 *                          pods come and go, but a pod bigger than every node never fits)
 *
 * Condition taints (not-ready, unreachable, *-pressure, network-unavailable) are transient: they never make a
 * node infeasible here, but a pod that fits only on such nodes is reported as such (`fits-transient`).
 *
 * A verdict costs almost nothing per node: the label-blind filters (1, 3, 5) are evaluated once per node shape
 * (see `./node-index.ts`), the label filters (2, 4) are set operations on the index's postings, and the two meet in
 * a pass over 32-node words that stops at the first node that fits. Only when none does is every word looked at,
 * to count each node under the first filter that rejects it, as the scheduler's FailedScheduling message does.
 */
import type { V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node';
import type { BitSet } from './bitset.js';
import { compileTerm, NODE_NAME_FIELD, parseInt64, termMatches, type CompiledTerm, type NodeMatcher } from './node-affinity.js';
import { getLabel } from './labels.js';
import { safeAllocatable, type NodeIndex } from './node-index.js';
import {
  failureReasons,
  fitErrorMessage,
  insufficientReason,
  REASON_NODE_AFFINITY,
  REASON_NODE_NAME,
  REASON_UNSCHEDULABLE,
  ReasonCounts,
  untoleratedTaintReason,
  type Failure,
} from './reasons.js';
import { insufficientResources, podRequests } from './resources.js';
import { CONDITION_TAINT_KEYS, findUntoleratedTaint, tolerates, UNSCHEDULABLE_TAINT } from './taints.js';
import type { PlacementNode } from './types.js';

/** A pod's scheduling constraints, compiled once per verdict. */
export interface PodConstraints {
  readonly nodeName: string | undefined;
  readonly tolerations: readonly V1Toleration[];
  readonly toleratesUnschedulable: boolean;
  readonly nodeSelector: readonly (readonly [string, string])[];
  /** Required node-affinity terms; `undefined` when the pod has none. A term that never matches is `undefined`. */
  readonly terms: readonly (CompiledTerm | undefined)[] | undefined;
  /** The same constraint as nodeSelector + terms, for evaluating one node. */
  readonly affinity: NodeMatcher;
  /** The required terms alone (without nodeSelector); `undefined` when the pod has none. */
  readonly requiredTerms: NodeMatcher | undefined;
  readonly requests: ReadonlyMap<string, bigint>;
}

export function podConstraints(pod: V1Pod): PodConstraints {
  const spec = pod.spec;
  const tolerations = spec?.tolerations ?? [];
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const nodeSelector = Object.entries(spec?.nodeSelector ?? {});
  // Compiled once; a term that does not parse matches nothing, as in the scheduler.
  const terms = required == null ? undefined : (required.nodeSelectorTerms ?? []).map(compileTerm);
  const parsed = terms?.filter((t): t is CompiledTerm => t !== undefined);
  const requiredTerms: NodeMatcher | undefined = parsed && { matches: (node) => parsed.some((t) => termMatches(t, node)) };
  return {
    nodeName: spec?.nodeName || undefined,
    tolerations,
    toleratesUnschedulable: tolerations.some((t) => tolerates(t, UNSCHEDULABLE_TAINT)),
    nodeSelector,
    terms,
    affinity: {
      matches: (node) =>
        nodeSelector.every(([k, v]) => getLabel(node.labels, k) === v) && (requiredTerms === undefined || requiredTerms.matches(node)),
    },
    requiredTerms,
    requests: podRequests(pod),
  };
}

const isConditionTaint = (t: V1Taint) => CONDITION_TAINT_KEYS.includes(t.key);

/** The first untolerated taint that is not a condition taint (those are transient, see above). */
function blockingTaint(taints: readonly V1Taint[], tolerations: readonly V1Toleration[]): V1Taint | undefined {
  return findUntoleratedTaint(taints.filter((t) => !isConditionTaint(t)), tolerations);
}

function transientTaint(taints: readonly V1Taint[], tolerations: readonly V1Toleration[]): V1Taint | undefined {
  return findUntoleratedTaint(taints.filter(isConditionTaint), tolerations);
}

/** The first filter that rejects `node`, or undefined when it can run the pod (condition taints ignored). */
export function firstFailure(c: PodConstraints, node: PlacementNode): Failure | undefined {
  if (node.unschedulable && !c.toleratesUnschedulable) return { filter: 'NodeUnschedulable' };
  if (c.nodeName !== undefined && c.nodeName !== node.name) return { filter: 'NodeName' };
  const taint = blockingTaint(node.taints, c.tolerations);
  if (taint) return { filter: 'TaintToleration', taint };
  if (!c.affinity.matches(node)) return { filter: 'NodeAffinity' };
  // Read as the index reads it: a quantity that does not parse counts as absent.
  const insufficient = insufficientResources(c.requests, safeAllocatable(node));
  if (insufficient.length > 0) return { filter: 'NodeResourcesFit', insufficient };
  return undefined;
}

export type Verdict =
  /** At least one node runs the pod. */
  | { readonly kind: 'fits'; readonly node: string }
  /** Only nodes with a condition taint the pod does not tolerate would run it: allowed, with a warning. */
  | { readonly kind: 'fits-transient'; readonly node: string; readonly taint: V1Taint }
  /** No node runs it; `message` is the scheduler's. */
  | { readonly kind: 'no-fit'; readonly totalNodes: number; readonly reasons: ReasonCounts; readonly message: string }
  /** There are no nodes to judge by. */
  | { readonly kind: 'no-nodes' };

// ---- evaluation over the index -------------------------------------------------------------------------------------

function keepOnly(set: BitSet, id: number | undefined): void {
  const had = id !== undefined && set.has(id);
  set.words.fill(0);
  if (had && id !== undefined) set.add(id);
}

function termNodes(term: CompiledTerm, index: NodeIndex): BitSet {
  const r = index.all();
  for (const req of term.labels) {
    switch (req.operator) {
      case 'In': {
        const x = index.none();
        for (const v of req.values) index.withLabel(req.key, v)?.orInto(x);
        r.and(x);
        break;
      }
      case 'NotIn':
        for (const v of req.values) index.withLabel(req.key, v)?.subtractFrom(r);
        break;
      case 'Exists': {
        const p = index.withKey(req.key);
        if (p) p.intersect(r);
        else r.words.fill(0);
        break;
      }
      case 'DoesNotExist':
        index.withKey(req.key)?.subtractFrom(r);
        break;
      case 'Gt':
      case 'Lt': {
        const x = index.none();
        for (const [value, p] of index.labelValues(req.key)) {
          const n = parseInt64(value);
          if (n !== undefined && (req.operator === 'Gt' ? n > req.bound : n < req.bound)) p.orInto(x);
        }
        r.and(x);
        break;
      }
    }
    if (r.isEmpty()) return r;
  }
  for (const f of term.fields) {
    if (f.key === NODE_NAME_FIELD) {
      const id = index.idOf(f.value);
      if (f.operator === 'In') keepOnly(r, id);
      else if (id !== undefined) r.delete(id);
    } else if ((f.operator === 'In') !== (f.value === '')) {
      // Any other field reads as "" on every node.
      r.words.fill(0);
    }
  }
  return r;
}

/** The nodes that satisfy nodeSelector AND required affinity; undefined when the pod constrains neither. */
function affinityNodes(c: PodConstraints, index: NodeIndex): BitSet | undefined {
  if (c.nodeSelector.length === 0 && c.terms === undefined) return undefined;
  const s = index.all();
  for (const [k, v] of c.nodeSelector) {
    const p = index.withLabel(k, v);
    if (!p) return index.none();
    p.intersect(s);
  }
  if (c.terms !== undefined) {
    const union = index.none();
    for (const term of c.terms) if (term) union.or(termNodes(term, index));
    s.and(union);
  }
  return s;
}

/** What the label-blind filters (cordon, taints, resources) say of one shape, for one pod. */
interface ShapeVerdict {
  /** Rejected by NodeUnschedulable. */
  readonly unschedulable: boolean;
  /** Reason number of the first untolerated blocking taint, or -1. */
  readonly taintReason: number;
  /** Reason numbers of the insufficient resources. */
  readonly resourceReasons: readonly number[];
  /** An untolerated condition taint (the shape is only transiently usable). */
  readonly transient: V1Taint | undefined;
  /** Passes all three filters. */
  readonly ok: boolean;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Judges the pod against every node of the index. */
export function evaluate(c: PodConstraints, index: NodeIndex): Verdict {
  if (index.size === 0) return { kind: 'no-nodes' };

  // Reasons are numbered per verdict; counts are kept in an array.
  const reasonNumbers = new Map<string, number>();
  const reasonNames: string[] = [];
  const reason = (name: string) => {
    let n = reasonNumbers.get(name);
    if (n === undefined) {
      n = reasonNames.push(name) - 1;
      reasonNumbers.set(name, n);
    }
    return n;
  };
  const verdicts: (ShapeVerdict | undefined)[] = new Array(index.shapeCount);
  const verdictOf = (shapeNumber: number): ShapeVerdict => {
    let v = verdicts[shapeNumber];
    if (v) return v;
    const shape = index.shape(shapeNumber);
    const unschedulable = (shape?.unschedulable ?? false) && !c.toleratesUnschedulable;
    const taint = shape ? blockingTaint(shape.taints, c.tolerations) : undefined;
    const insufficient = shape ? insufficientResources(c.requests, shape.allocatable) : [];
    v = {
      unschedulable,
      taintReason: taint ? reason(untoleratedTaintReason(taint)) : -1,
      resourceReasons: insufficient.map((r) => reason(insufficientReason(r.resourceName))),
      transient: shape ? transientTaint(shape.taints, c.tolerations) : undefined,
      ok: !unschedulable && !taint && insufficient.length === 0,
    };
    verdicts[shapeNumber] = v;
    return v;
  };

  const affinity = affinityNodes(c, index);
  const nameId = c.nodeName === undefined ? undefined : (index.idOf(c.nodeName) ?? -1);
  const words = index.words;
  const live = index.live.words;
  const shapeOfWord = index.shapeOfWord;
  const shapeOfNode = index.shapeOfNode;
  const aff = affinity?.words;
  const nameWord = nameId === undefined || nameId < 0 ? -1 : nameId >>> 5;
  const nameBit = nameId === undefined || nameId < 0 ? 0 : 1 << (nameId & 31);

  // Is there a node that passes everything? Whole words of one shape are decided by that shape's verdict.
  let transientId = -1;
  for (let w = 0; w < words; w++) {
    let bits = live[w] as number;
    if (aff) bits &= aff[w] ?? 0;
    if (nameId !== undefined) bits &= w === nameWord ? nameBit : 0;
    if (bits === 0) continue;
    const owner = shapeOfWord[w] as number;
    if (owner >= 0) {
      const v = verdictOf(owner);
      if (!v.ok) continue;
      const id = (w << 5) + 31 - Math.clz32(bits & -bits);
      if (!v.transient) return { kind: 'fits', node: index.node(id)?.name ?? '' };
      if (transientId < 0) transientId = id;
      continue;
    }
    while (bits !== 0) {
      const low = bits & -bits;
      const id = (w << 5) + 31 - Math.clz32(low);
      const v = verdictOf(shapeOfNode[id] as number);
      if (v.ok) {
        if (!v.transient) return { kind: 'fits', node: index.node(id)?.name ?? '' };
        if (transientId < 0) transientId = id;
      }
      bits ^= low;
    }
  }
  if (transientId >= 0) {
    const node = index.node(transientId) as PlacementNode;
    const v = verdictOf(shapeOfNode[transientId] as number);
    return { kind: 'fits-transient', node: node.name, taint: v.transient as V1Taint };
  }

  // No node fits: count every node under the first filter that rejects it, a word at a time where a word is one shape.
  const unschedulableReason = reason(REASON_UNSCHEDULABLE);
  const nodeNameReason = reason(REASON_NODE_NAME);
  const affinityReason = reason(REASON_NODE_AFFINITY);
  const counts: number[] = [];
  const add = (r: number, n: number) => {
    counts[r] = (counts[r] ?? 0) + n;
  };
  /** Counts the nodes `bits` of word `w`, all of shape verdict `v`. */
  const tally = (w: number, bits: number, v: ShapeVerdict) => {
    if (v.unschedulable) return add(unschedulableReason, popcount(bits));
    if (nameId !== undefined) {
      const kept = w === nameWord ? bits & nameBit : 0;
      add(nodeNameReason, popcount(bits) - popcount(kept));
      bits = kept;
      if (bits === 0) return;
    }
    if (v.taintReason >= 0) return add(v.taintReason, popcount(bits));
    if (aff) {
      const kept = bits & (aff[w] ?? 0);
      add(affinityReason, popcount(bits) - popcount(kept));
      bits = kept;
      if (bits === 0) return;
    }
    const n = popcount(bits);
    for (const r of v.resourceReasons) add(r, n);
  };
  for (let w = 0; w < words; w++) {
    const bits = live[w] as number;
    if (bits === 0) continue;
    const owner = shapeOfWord[w] as number;
    if (owner >= 0) {
      tally(w, bits, verdictOf(owner));
      continue;
    }
    for (let rest = bits; rest !== 0; ) {
      const low = rest & -rest;
      tally(w, low, verdictOf(shapeOfNode[(w << 5) + 31 - Math.clz32(low)] as number));
      rest ^= low;
    }
  }
  const reasons = new ReasonCounts();
  counts.forEach((n, r) => reasons.add(reasonNames[r] as string, n));
  return { kind: 'no-fit', totalNodes: index.size, reasons, message: fitErrorMessage(index.size, reasons) };
}

/**
 * The same verdict by evaluating each node on its own: the definition the index must agree with (tests compare
 * the two), and what node templates and explanations use.
 */
export function evaluateEach(c: PodConstraints, nodes: readonly PlacementNode[]): Verdict {
  if (nodes.length === 0) return { kind: 'no-nodes' };
  const reasons = new ReasonCounts();
  let transientNode: { node: PlacementNode; taint: V1Taint } | undefined;
  for (const node of nodes) {
    const failure = firstFailure(c, node);
    if (failure) {
      for (const r of failureReasons(failure)) reasons.add(r);
      continue;
    }
    const taint = transientTaint(node.taints, c.tolerations);
    if (!taint) return { kind: 'fits', node: node.name };
    transientNode ??= { node, taint };
  }
  if (transientNode) return { kind: 'fits-transient', node: transientNode.node.name, taint: transientNode.taint };
  return { kind: 'no-fit', totalNodes: nodes.length, reasons, message: fitErrorMessage(nodes.length, reasons) };
}
