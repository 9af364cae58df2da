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
import type { Posting } from './bitset.js';
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

/** The part of a pod's constraints that node labels decide: nodeSelector AND required node affinity. */
export type NodeAffinityConstraints = Pick<PodConstraints, 'nodeSelector' | 'terms' | 'affinity' | 'requiredTerms'>;

/** `GetRequiredNodeAffinity`: nodeSelector AND required node affinity, compiled once. Never throws. */
export function nodeAffinityConstraints(spec: V1Pod['spec']): NodeAffinityConstraints {
  const required = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const nodeSelector = Object.entries(spec?.nodeSelector ?? {});
  // Compiled once; a term that does not parse matches nothing, as in the scheduler.
  const terms = required == null ? undefined : (required.nodeSelectorTerms ?? []).map(compileTerm);
  const parsed = terms?.filter((t): t is CompiledTerm => t !== undefined);
  const requiredTerms: NodeMatcher | undefined = parsed && { matches: (node) => parsed.some((t) => termMatches(t, node)) };
  return {
    nodeSelector,
    terms,
    affinity: {
      matches: (node) =>
        nodeSelector.every(([k, v]) => getLabel(node.labels, k) === v) && (requiredTerms === undefined || requiredTerms.matches(node)),
    },
    requiredTerms,
  };
}

export function podConstraints(pod: V1Pod): PodConstraints {
  const spec = pod.spec;
  const tolerations = spec?.tolerations ?? [];
  return {
    nodeName: spec?.nodeName || undefined,
    tolerations,
    toleratesUnschedulable: tolerations.some((t) => tolerates(t, UNSCHEDULABLE_TAINT)),
    ...nodeAffinityConstraints(spec),
    requests: podRequests(pod),
  };
}

/** Whether some node of the index satisfies the pod's nodeSelector and required node affinity (other filters aside). */
export function affinityMatchesSome(c: NodeAffinityConstraints, index: NodeIndex): boolean {
  const affinity = affinityWords(c, index);
  if (affinity === undefined) return index.size > 0;
  const live = int32(index.live.words);
  for (let w = 0; w < index.words; w++) if (((live[w] as number) & affinity(w)) !== 0) return true;
  return false;
}

const isConditionTaint = (t: V1Taint) => CONDITION_TAINT_KEYS.includes(t.key);

/** The first untolerated taint that is not a condition taint (those are transient, see above). */
function blockingTaint(taints: readonly V1Taint[], tolerations: readonly V1Toleration[]): V1Taint | undefined {
  return findUntoleratedTaint(
    taints.filter((t) => !isConditionTaint(t)),
    tolerations,
  );
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

/**
 * One requirement of a node-selector term, resolved against the index's postings: the nodes it admits, a word at a
 * time. `any`: in at least one of the postings; `none`: in none of them; `id`: the node with that id (or all but
 * it).
 */
type Clause =
  | { readonly kind: 'any'; readonly postings: readonly Posting[] }
  | { readonly kind: 'none'; readonly postings: readonly Posting[] }
  | { readonly kind: 'id'; readonly id: number; readonly keep: boolean };

/** The clauses of a term, or undefined when the term can match no node of the index. */
function planTerm(term: CompiledTerm, index: NodeIndex): Clause[] | undefined {
  const clauses: Clause[] = [];
  const present = (ps: (Posting | undefined)[]) => ps.filter((p): p is Posting => p !== undefined);
  for (const req of term.labels) {
    switch (req.operator) {
      case 'In': {
        const postings = present([...req.values].map((v) => index.withLabel(req.key, v)));
        if (postings.length === 0) return undefined;
        clauses.push({ kind: 'any', postings });
        break;
      }
      case 'NotIn': {
        const postings = present([...req.values].map((v) => index.withLabel(req.key, v)));
        if (postings.length > 0) clauses.push({ kind: 'none', postings });
        break;
      }
      case 'Exists': {
        const p = index.withKey(req.key);
        if (!p) return undefined;
        clauses.push({ kind: 'any', postings: [p] });
        break;
      }
      case 'DoesNotExist': {
        const p = index.withKey(req.key);
        if (p) clauses.push({ kind: 'none', postings: [p] });
        break;
      }
      case 'Gt':
      case 'Lt': {
        const postings: Posting[] = [];
        for (const [value, p] of index.labelValues(req.key)) {
          const n = parseInt64(value);
          if (n !== undefined && (req.operator === 'Gt' ? n > req.bound : n < req.bound)) postings.push(p);
        }
        if (postings.length === 0) return undefined;
        clauses.push({ kind: 'any', postings });
        break;
      }
    }
  }
  for (const f of term.fields) {
    if (f.key === NODE_NAME_FIELD) {
      const id = index.idOf(f.value);
      if (f.operator === 'In') {
        if (id === undefined) return undefined;
        clauses.push({ kind: 'id', id, keep: true });
      } else if (id !== undefined) clauses.push({ kind: 'id', id, keep: false });
    } else if ((f.operator === 'In') !== (f.value === '')) {
      // Any other field reads as "" on every node.
      return undefined;
    }
  }
  return clauses;
}

function anyWord(postings: readonly Posting[], w: number): number {
  let bits = 0;
  for (let i = 0; i < postings.length; i++) bits |= (postings[i] as Posting).word(w);
  return bits;
}

/**
 * nodeSelector AND required affinity as a function of a word: the bits of the nodes of word `w` that satisfy both.
 * Computed lazily, word by word, so that a pod that fits early costs only the words looked at. Undefined when the
 * pod constrains neither.
 */
export function affinityWords(c: NodeAffinityConstraints, index: NodeIndex): ((w: number) => number) | undefined {
  if (c.nodeSelector.length === 0 && c.terms === undefined) return undefined;
  const selector: Posting[] = [];
  for (const [k, v] of c.nodeSelector) {
    const p = index.withLabel(k, v);
    if (!p) return () => 0;
    selector.push(p);
  }
  const terms = c.terms?.map((t) => (t ? planTerm(t, index) : undefined)).filter((t): t is Clause[] => t !== undefined);
  if (terms?.length === 0) return () => 0;
  return (w) => {
    let bits = -1;
    for (let i = 0; i < selector.length && bits !== 0; i++) bits &= (selector[i] as Posting).word(w);
    if (bits === 0 || terms === undefined) return bits;
    let union = 0;
    for (let t = 0; t < terms.length; t++) {
      const clauses = terms[t] as Clause[];
      let term = bits;
      for (let i = 0; i < clauses.length && term !== 0; i++) {
        const cl = clauses[i] as Clause;
        switch (cl.kind) {
          case 'any':
            term &= anyWord(cl.postings, w);
            break;
          case 'none':
            term &= ~anyWord(cl.postings, w);
            break;
          case 'id': {
            const mask = w === cl.id >>> 5 ? 1 << (cl.id & 31) : 0;
            term &= cl.keep ? mask : ~mask;
            break;
          }
        }
      }
      union |= term;
    }
    return union;
  };
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export const int32 = (a: Uint32Array) => new Int32Array(a.buffer, a.byteOffset, a.length);

/**
 * Judges the pod against every node of the index, in one pass over the index's words. Each group of nodes (a word
 * of one shape, or one node of a mixed word) goes through the filters in the scheduler's order and is counted under
 * the first that rejects it; the first group that passes them all ends the pass (`fits`), unless it only passes
 * because condition taints are ignored (`fits-transient`, remembered while looking on). When the pass ends with no
 * fit, the counts are the scheduler's message.
 */
export function evaluate(c: PodConstraints, index: NodeIndex): Verdict {
  if (index.size === 0) return { kind: 'no-nodes' };

  // Reasons are numbered per verdict and counted in an array.
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
  const unschedulableReason = reason(REASON_UNSCHEDULABLE);
  const nodeNameReason = reason(REASON_NODE_NAME);
  const affinityReason = reason(REASON_NODE_AFFINITY);

  // The label-blind filters, once per distinct taint list and allocatable (shapes combine them).
  const taintReason = new Int32Array(index.taintPartCount).fill(-2); // -2 unknown, -1 tolerated, else reason
  const transient: (V1Taint | undefined)[] = [];
  const taintVerdict = (part: number): number => {
    const taints = index.taintPart(part);
    const blocking = blockingTaint(taints, c.tolerations);
    transient[part] = transientTaint(taints, c.tolerations);
    const r = blocking ? reason(untoleratedTaintReason(blocking)) : -1;
    taintReason[part] = r;
    return r;
  };
  const resourceReasons: (readonly number[] | undefined)[] = [];
  const resourceVerdict = (part: number): readonly number[] => {
    const r = insufficientResources(c.requests, index.allocatablePart(part)).map((x) => reason(insufficientReason(x.resourceName)));
    resourceReasons[part] = r;
    return r;
  };
  const cordonBlocks = c.toleratesUnschedulable ? 0 : 1;

  const affinity = affinityWords(c, index);
  let affinityWord = -1;
  let affinityBits = 0;
  const nameId = c.nodeName === undefined ? undefined : (index.idOf(c.nodeName) ?? -1);
  const nameWord = nameId === undefined || nameId < 0 ? -1 : nameId >>> 5;
  const nameBit = nameId === undefined || nameId < 0 ? 0 : 1 << (nameId & 31);
  const words = index.words;
  // Int32 views: bit patterns above 2^31 stay integers for the JIT.
  const live = int32(index.live.words);
  const { shapeOfWord, shapeOfNode, shapeTaints, shapeAllocatable, shapeCordoned } = index;
  // Every reason a verdict can name: 3 fixed, one per taint list, one per requested resource (and the pod count).
  const counts = new Float64Array(3 + index.taintPartCount + c.requests.size + 1);

  let transientId = -1;
  let transientTaintFound: V1Taint | undefined;
  for (let w = 0; w < words; w++) {
    const wordBits = live[w] as number;
    if (wordBits === 0) continue;
    const owner = shapeOfWord[w] as number;
    // A word of one shape goes through the filters at once; a mixed word node by node.
    for (let rest = wordBits; rest !== 0;) {
      let bits: number;
      let shape: number;
      if (owner >= 0) {
        bits = rest;
        rest = 0;
        shape = owner;
      } else {
        bits = rest & -rest;
        rest ^= bits;
        shape = shapeOfNode[(w << 5) + 31 - Math.clz32(bits)] as number;
      }
      if ((shapeCordoned[shape] as number) & cordonBlocks) {
        counts[unschedulableReason] = (counts[unschedulableReason] as number) + popcount(bits);
        continue;
      }
      if (nameId !== undefined) {
        const kept = w === nameWord ? bits & nameBit : 0;
        counts[nodeNameReason] = (counts[nodeNameReason] as number) + popcount(bits) - popcount(kept);
        bits = kept;
        if (bits === 0) continue;
      }
      const tp = shapeTaints[shape] as number;
      let t = taintReason[tp] as number;
      if (t === -2) t = taintVerdict(tp);
      if (t >= 0) {
        counts[t] = (counts[t] as number) + popcount(bits);
        continue;
      }
      if (affinity) {
        if (affinityWord !== w) {
          affinityBits = affinity(w);
          affinityWord = w;
        }
        const kept = bits & affinityBits;
        counts[affinityReason] = (counts[affinityReason] as number) + popcount(bits) - popcount(kept);
        bits = kept;
        if (bits === 0) continue;
      }
      const ap = shapeAllocatable[shape] as number;
      const rs = resourceReasons[ap] ?? resourceVerdict(ap);
      if (rs.length > 0) {
        const n = popcount(bits);
        for (const r of rs) counts[r] = (counts[r] as number) + n;
        continue;
      }
      // These nodes pass every filter.
      const id = (w << 5) + 31 - Math.clz32(bits & -bits);
      const condition = transient[tp];
      if (!condition) return { kind: 'fits', node: index.node(id)?.name ?? '' };
      if (transientId < 0) {
        transientId = id;
        transientTaintFound = condition;
      }
    }
  }
  if (transientId >= 0) {
    return { kind: 'fits-transient', node: index.node(transientId)?.name ?? '', taint: transientTaintFound as V1Taint };
  }
  const reasons = new ReasonCounts();
  counts.forEach((n, r) => {
    if (r < reasonNames.length) reasons.add(reasonNames[r] as string, n);
  });
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
