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
 * A verdict costs almost nothing per node: filters 1–4 combine postings of the node index as bit sets, and
 * filter 5 is evaluated once per allocatable shape. Only when no node fits does the work walk the candidates, to
 * count each node under the first filter that rejects it, as the scheduler's FailedScheduling message does.
 */
import type { V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node';
import type { BitSet } from './bitset.js';
import { compileNodeSelectorTerms, compileRequiredNodeAffinity, compileTerm, NODE_NAME_FIELD, parseInt64, type CompiledTerm, type NodeMatcher } from './node-affinity.js';
import { safeAllocatable, type AllocatableGroup, type NodeIndex } from './node-index.js';
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
  return {
    nodeName: spec?.nodeName || undefined,
    tolerations,
    toleratesUnschedulable: tolerations.some((t) => tolerates(t, UNSCHEDULABLE_TAINT)),
    nodeSelector: Object.entries(spec?.nodeSelector ?? {}),
    terms: required == null ? undefined : (required.nodeSelectorTerms ?? []).map(compileTerm),
    affinity: compileRequiredNodeAffinity(pod),
    requiredTerms: required == null ? undefined : compileNodeSelectorTerms(required.nodeSelectorTerms ?? []),
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

// ---- set evaluation over the index --------------------------------------------------------------------------------

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

/** Per-shape resource fit, computed once per allocatable group and verdict. */
function resourceFit(c: PodConstraints, index: NodeIndex) {
  const memo = new Map<AllocatableGroup, ReturnType<typeof insufficientResources>>();
  return (id: number) => {
    const g = index.allocatableOf(id);
    if (!g) return [];
    let r = memo.get(g);
    if (r === undefined) {
      r = insufficientResources(c.requests, g.allocatable);
      memo.set(g, r);
    }
    return r;
  };
}

/** Judges the pod against every node of the index. */
export function evaluate(c: PodConstraints, index: NodeIndex): Verdict {
  if (index.size === 0) return { kind: 'no-nodes' };
  const candidates = index.all();
  if (!c.toleratesUnschedulable) index.cordoned.subtractFrom(candidates);
  if (c.nodeName !== undefined) keepOnly(candidates, index.idOf(c.nodeName));
  const transient = index.none();
  for (const g of index.taintGroupList()) {
    if (blockingTaint(g.taints, c.tolerations)) g.posting.subtractFrom(candidates);
    else if (transientTaint(g.taints, c.tolerations)) g.posting.orInto(transient);
  }
  const affinity = affinityNodes(c, index);
  if (affinity) candidates.and(affinity);

  const insufficient = resourceFit(c, index);
  const fits = (id: number) => insufficient(id).length === 0;
  const clean = candidates.clone().andNot(transient).find(fits);
  if (clean !== undefined) return { kind: 'fits', node: index.node(clean)?.name ?? '' };
  const onTransient = candidates.clone().and(transient).find(fits);
  if (onTransient !== undefined) {
    const node = index.node(onTransient) as PlacementNode;
    return { kind: 'fits-transient', node: node.name, taint: transientTaint(node.taints, c.tolerations) as V1Taint };
  }

  // No node fits: count every node under the first filter that rejects it.
  const reasons = new ReasonCounts();
  const remaining = index.all();
  if (!c.toleratesUnschedulable) {
    reasons.add(REASON_UNSCHEDULABLE, index.cordoned.countIn(remaining));
    index.cordoned.subtractFrom(remaining);
  }
  if (c.nodeName !== undefined) {
    const id = index.idOf(c.nodeName);
    reasons.add(REASON_NODE_NAME, remaining.count() - (id !== undefined && remaining.has(id) ? 1 : 0));
    keepOnly(remaining, id);
  }
  for (const g of index.taintGroupList()) {
    const taint = blockingTaint(g.taints, c.tolerations);
    if (!taint) continue;
    reasons.add(untoleratedTaintReason(taint), g.posting.countIn(remaining));
    g.posting.subtractFrom(remaining);
  }
  if (affinity) {
    const before = remaining.count();
    remaining.and(affinity);
    reasons.add(REASON_NODE_AFFINITY, before - remaining.count());
  }
  remaining.find((id) => {
    for (const r of insufficient(id)) reasons.add(insufficientReason(r.resourceName));
    return false;
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
