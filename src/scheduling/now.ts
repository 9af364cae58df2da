/**
 * Would the scheduler bind this pod *now*? Every filter of the default profile, in its order, against the current
 * nodes and the pods bound to them (`./pods.ts`):
 *   NodeUnschedulable, TaintToleration (condition taints included: they hold the pod back now), NodeAffinity,
 *   NodePorts, NodeResourcesFit on free capacity, PodTopologySpread, InterPodAffinity.
 * Each node counts under its first failing filter, and the message is the scheduler's `0/N nodes are available`.
 * (Pods bound at creation never meet the scheduler; see `./kubelet.ts`.)
 *
 * Preemption: a node failing only on what evicting pods can change (ports, resources, topology spread skew,
 * anti-affinity) and holding pods of lower priority than the incoming pod may be freed by the scheduler's
 * preemption. Such nodes are counted, not simulated: a verdict never claims "Pending" without saying so.
 *
 * Cost: the label-blind filters once per node shape and affinity a word at a time, as in `./feasibility.ts`;
 * the rest per node, stopping at the first node that passes. Pod affinity and topology spread are pre-computed once
 * per verdict from the pod index's postings (the pods matching a selector, not every pod).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { affinityWords, int32, type PodConstraints } from './feasibility.js';
import {
  hasInterPodTerms,
  interPodConstraints,
  interPodFailure,
  interPodPreFilter,
  interPodUnresolvable,
  type InterPodConstraints,
  type NamespaceLabels,
} from './inter-pod-affinity.js';
import type { NodeIndex } from './node-index.js';
import type { HostPort, PodIndex } from './pods.js';
import { WILDCARD_IP } from './pods.js';
import {
  fitErrorMessage,
  insufficientReason,
  REASON_NODE_AFFINITY,
  REASON_NODE_PORTS,
  REASON_UNSCHEDULABLE,
  ReasonCounts,
  untoleratedTaintReason,
} from './reasons.js';
import { insufficientFree } from './resources.js';
import { findUntoleratedTaint } from './taints.js';
import {
  spreadConstraints,
  spreadFailure,
  spreadPreFilter,
  spreadUnresolvable,
  type SchedulerProfile,
  type SpreadConstraints,
} from './topology-spread.js';
import type { PlacementNode } from './types.js';

/** The parts of a pod only the pod-aware filters read. */
export interface PodAwareConstraints {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly interPod: InterPodConstraints;
  readonly spread: SpreadConstraints;
  readonly hostPorts: readonly HostPort[];
  /** `spec.priority`; undefined when not known (a template whose PriorityClass is not known). */
  readonly priority: number | undefined;
}

/**
 * The pod's host ports, after the API server's defaulting (`SetDefaults_PodSpec`): a `hostNetwork` pod's ports use
 * their `containerPort` as `hostPort`. Containers and sidecar init containers hold them.
 */
export function hostPorts(pod: V1Pod): HostPort[] {
  const spec = pod.spec;
  const out: HostPort[] = [];
  const containers = [...(spec?.containers ?? []), ...(spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      const port = p.hostPort && p.hostPort > 0 ? p.hostPort : spec?.hostNetwork ? p.containerPort : 0;
      if (port > 0) out.push({ ip: p.hostIP || WILDCARD_IP, protocol: p.protocol || 'TCP', port });
    }
  }
  return out;
}

export function podAwareConstraints(
  pod: V1Pod,
  namespace: string,
  priority: number | undefined = pod.spec?.priority ?? undefined,
): PodAwareConstraints {
  return {
    namespace,
    labels: pod.metadata?.labels ?? {},
    interPod: interPodConstraints(pod, namespace),
    spread: spreadConstraints(pod),
    hostPorts: hostPorts(pod),
    priority,
  };
}

/** Whether the pod has constraints that involve other pods (inter-pod affinity, spread, host ports). */
export const involvesOtherPods = (a: PodAwareConstraints): boolean =>
  hasInterPodTerms(a.interPod) || a.spread.constraints.length > 0 || a.hostPorts.length > 0;

/** `HostPortInfo.CheckConflict`: 0.0.0.0 conflicts with every address of the same protocol and port. */
function portConflict(wanted: readonly HostPort[], used: readonly HostPort[]): boolean {
  for (const w of wanted) {
    for (const u of used) {
      if (u.port !== w.port || u.protocol !== w.protocol) continue;
      if (w.ip === WILDCARD_IP || u.ip === WILDCARD_IP || u.ip === w.ip) return true;
    }
  }
  return false;
}

export type NowVerdict =
  | { readonly kind: 'fits'; readonly node: string }
  | {
      readonly kind: 'no-fit';
      readonly totalNodes: number;
      readonly reasons: ReasonCounts;
      readonly message: string;
      /** Nodes preemption might free (their failure is resolvable and they hold lower-priority pods). */
      readonly preemptible: number;
    }
  | { readonly kind: 'no-nodes' };

export interface PodsView {
  readonly index: PodIndex;
  readonly namespaceLabels: NamespaceLabels;
}

/** Resolvable failures: reasons that evicting pods on the node can change. */
function resolvable(reason: string): boolean {
  return (
    !interPodUnresolvable(reason) &&
    !spreadUnresolvable(reason) &&
    reason !== REASON_UNSCHEDULABLE &&
    reason !== REASON_NODE_AFFINITY &&
    !reason.startsWith('node(s) had untolerated taint')
  );
}

export function evaluateNow(
  c: PodConstraints,
  a: PodAwareConstraints,
  nodes: NodeIndex,
  pods: PodsView,
  profile: SchedulerProfile = 'current',
): NowVerdict {
  if (nodes.size === 0) return { kind: 'no-nodes' };
  const interPod =
    hasInterPodTerms(a.interPod) || a.interPod.parseError || pods.index.withAntiAffinity().size > 0
      ? interPodPreFilter(a.interPod, nodes, pods.index, pods.namespaceLabels)
      : undefined;
  const spread =
    a.spread.constraints.length > 0 || a.spread.parseError
      ? spreadPreFilter(c, a.spread, nodes, pods.index, a.namespace, a.labels, profile)
      : undefined;

  const taintReason = new Map<number, string | null>();
  const taintOf = (part: number): string | null => {
    let t = taintReason.get(part);
    if (t === undefined) {
      // Every NoSchedule/NoExecute taint, condition taints too: the scheduler holds the pod back from such a node now.
      const taint = findUntoleratedTaint(nodes.taintPart(part), c.tolerations);
      t = taint ? untoleratedTaintReason(taint) : null;
      taintReason.set(part, t);
    }
    return t;
  };
  /** The reasons of the first filter that rejects the node, in the scheduler's order; undefined when none does. */
  const failure = (id: number, shape: number, affinityOk: boolean): string[] | undefined => {
    if ((nodes.shapeCordoned[shape] as number) === 1 && !c.toleratesUnschedulable) return [REASON_UNSCHEDULABLE];
    const taint = taintOf(nodes.shapeTaints[shape] as number);
    if (taint !== null) return [taint];
    if (!affinityOk) return [REASON_NODE_AFFINITY];
    const node = nodes.node(id) as PlacementNode;
    const usage = pods.index.onNode(node.name);
    if (
      a.hostPorts.length > 0 &&
      usage &&
      portConflict(
        a.hostPorts,
        usage.pods.flatMap((p) => p.hostPorts),
      )
    )
      return [REASON_NODE_PORTS];
    const short = insufficientFree(
      c.requests,
      nodes.allocatablePart(nodes.shapeAllocatable[shape] as number),
      usage?.requested,
      usage?.pods.length ?? 0,
    );
    if (short.length > 0) return short.map((r) => insufficientReason(r.resourceName));
    const s = spread && spreadFailure(spread, node);
    if (s) return [s];
    const i = interPod && interPodFailure(interPod, node);
    if (i) return [i];
    return undefined;
  };
  const affinity = affinityWords(c, nodes);
  const live = int32(nodes.live.words);
  const reasons = new ReasonCounts();
  let preemptible = 0;
  for (let w = 0; w < nodes.words; w++) {
    const wordBits = live[w] as number;
    if (wordBits === 0) continue;
    const allowed = affinity ? affinity(w) : -1;
    for (let rest = wordBits; rest !== 0;) {
      const bit = rest & -rest;
      rest ^= bit;
      const id = (w << 5) + 31 - Math.clz32(bit);
      const why = failure(id, nodes.shapeOfNode[id] as number, (allowed & bit) !== 0);
      if (why === undefined) return { kind: 'fits', node: (nodes.node(id) as PlacementNode).name };
      for (const r of why) reasons.add(r);
      if (why.every(resolvable) && mayPreempt(a.priority, pods.index, (nodes.node(id) as PlacementNode).name)) preemptible++;
    }
  }
  return { kind: 'no-fit', totalNodes: nodes.size, reasons, message: fitErrorMessage(nodes.size, reasons), preemptible };
}

/** Whether the node holds a pod the incoming one could preempt (lower priority); unknown priority: it might. */
function mayPreempt(priority: number | undefined, pods: PodIndex, node: string): boolean {
  const usage = pods.onNode(node);
  if (!usage || usage.pods.length === 0) return false;
  return priority === undefined || usage.pods.some((p) => p.priority < priority);
}
