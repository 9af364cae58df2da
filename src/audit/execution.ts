/**
 * Violated during execution: a bound pod whose node no longer satisfies what was required when it was scheduled.
 * Every constraint our users write is `…IgnoredDuringExecution`, so such a pod keeps running; the audit says so, and
 * whether another node would take it now (so whether evicting it helps). Each check, on the pod's own node, with the
 * pod itself out of the pod view:
 *
 * - **Node affinity** (`fail`): `spec.nodeSelector` AND the required node affinity, as the scheduler and the kubelet
 *   read them (`podConstraints`). A DaemonSet's pod on a node its template no longer selects is deleted by the
 *   DaemonSet controller (`nodeShouldRunDaemonPod`).
 * - **NoExecute taints**, as the taint eviction controller reads them (`pkg/controller/tainteviction`,
 *   `processPodOnNode`: every NoExecute taint must be tolerated, `GetMatchingTolerations` takes each taint's first
 *   tolerating toleration, `getMinTolerationTime` the least `tolerationSeconds` among them, none meaning forever).
 *   Untolerated: evicted now (`fail`); tolerated for a time only: evicted that long after the taint was added
 *   (`warn`). A condition taint (`not-ready`, `unreachable`) is transient: `warn`, never `fail`.
 * - **NoSchedule taints** the pod does not tolerate, the cordon included (`info`): it keeps running, but would not
 *   be scheduled there now. A pod with only such findings is not asked whether another node would take it.
 * - **Required pod anti-affinity** (`warn`): a pod its own term excludes shares the term's topology domain (each pod
 *   reports its own terms; the other pod, if its terms exclude this one, reports them too).
 * - **Required pod affinity** (`warn`): no pod its terms require is left in its domain (the first of a self-affine
 *   group is satisfied by itself, as in the scheduler).
 * - **Topology spread**, `DoNotSchedule` constraints the pod counts for (`warn`): its domain holds more than
 *   `maxSkew` above the least loaded eligible domain (`spreadPreFilter`'s counts: eligible nodes, pods of the
 *   namespace matching the selector, not being deleted), or its node lost the topology key.
 *
 * DaemonSet pods get the tolerations their controller adds (`templatePod`). Pods of other schedulers, mirror pods and
 * pods being deleted are not judged.
 */
import type { V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node';
import { podConstraints, type PodConstraints } from '../scheduling/feasibility.js';
import {
  hasInterPodTerms,
  interPodConstraints,
  interPodPreFilter,
  termMatchesPod,
  type AffinityTerm,
  type InterPodState,
} from '../scheduling/inter-pod-affinity.js';
import { evaluateNow, podAwareConstraints } from '../scheduling/now.js';
import { getLabel } from '../scheduling/labels.js';
import { fitErrorMessage, REASON_UNSCHEDULABLE, ReasonCounts } from '../scheduling/reasons.js';
import { spreadConstraints, spreadPreFilter } from '../scheduling/topology-spread.js';
import { CONDITION_TAINT_KEYS, tolerates, UNSCHEDULABLE_TAINT } from '../scheduling/taints.js';
import type { PlacementNode } from '../scheduling/types.js';
import { isDaemonSetPod } from '../rules/select.js';
import { templatePod } from '../workloads/workloads.js';
import type { Finding, ObjectRef, Severity } from './findings.js';
import { unbound } from './drift.js';
import type { AuditView } from './view.js';

/** Co-located pods named in a message at most. */
const MAX_NAMED = 3;
/** Domains of at most this many nodes are looked at node by node (a hostname key: one) instead of counted over the cluster. */
const SMALL_DOMAIN = 64;

/** The pod's tolerations as its node sees them: a DaemonSet's pods carry those their controller adds. */
export function effectivePod(pod: V1Pod, namespace: string): V1Pod {
  if (!isDaemonSetPod(pod) || !pod.spec) return pod;
  const tolerations = templatePod({ spec: pod.spec }, namespace, true).spec?.tolerations;
  return { ...pod, spec: { ...pod.spec, ...(tolerations ? { tolerations } : {}) } };
}

const taintText = (t: V1Taint) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
const isCondition = (t: V1Taint) => CONDITION_TAINT_KEYS.includes(t.key);

/** What the taint eviction controller does with the pod on this node: nothing, evict now, or evict after a time. */
export type Eviction =
  { readonly kind: 'now'; readonly taint: V1Taint } | { readonly kind: 'after'; readonly seconds: number; readonly taint: V1Taint };

/** `processPodOnNode` for the node's NoExecute taints (see the header); undefined: the pod stays. */
export function eviction(taints: readonly V1Taint[], tolerations: readonly V1Toleration[]): Eviction | undefined {
  let soonest: { seconds: number; taint: V1Taint } | undefined;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const used = tolerations.find((t) => tolerates(t, taint));
    if (!used) return { kind: 'now', taint };
    const s = used.tolerationSeconds;
    if (s === undefined || s === null) continue;
    const seconds = Math.max(0, s);
    if (!soonest || seconds < soonest.seconds) soonest = { seconds, taint };
  }
  return soonest && { kind: 'after', ...soonest };
}

/** A finding of the pod without the fields every finding of one pod shares. */
type Partial_ = Pick<Finding, 'kind' | 'severity' | 'rule' | 'message'>;

function nodeAffinityFinding(c: PodConstraints, pod: V1Pod, node: PlacementNode): Partial_ | undefined {
  if (c.affinity.matches(node)) return undefined;
  const ds = isDaemonSetPod(pod) ? '; the DaemonSet controller deletes such a pod' : '';
  const selector = c.nodeSelector.find(([k, v]) => getLabel(node.labels, k) !== v);
  if (selector) {
    const [k, v] = selector;
    const has = Object.hasOwn(node.labels, k) ? `has ${k}=${node.labels[k]}` : `has no label ${k}`;
    return {
      kind: 'node-affinity',
      severity: 'fail',
      rule: 'nodeSelector',
      message: `node ${node.name} no longer matches the pod's nodeSelector ${k}=${v} (it ${has})${ds}`,
    };
  }
  return {
    kind: 'node-affinity',
    severity: 'fail',
    rule: 'requiredDuringScheduling node affinity',
    message: `node ${node.name} no longer matches any term of the pod's required node affinity${ds}`,
  };
}

function taintFindings(c: PodConstraints, node: PlacementNode): Partial_[] {
  const out: Partial_[] = [];
  const ev = eviction(node.taints, c.tolerations);
  if (ev) {
    const t = ev.taint;
    const condition = isCondition(t);
    const severity: Severity = ev.kind === 'now' && !condition ? 'fail' : 'warn';
    const when =
      ev.kind === 'now'
        ? 'the taint eviction controller evicts it'
        : `it tolerates it for ${ev.seconds} s only: evicted that long after the taint was added`;
    const transient = condition ? ' unless the node recovers first (a condition taint)' : '';
    out.push({
      kind: 'noexecute-taint',
      severity,
      rule: `NoExecute taint ${taintText(t)}`,
      message: `node ${node.name} has taint ${taintText(t)}: ${when}${transient}`,
    });
  }
  const noSchedule = [...(node.unschedulable ? [UNSCHEDULABLE_TAINT] : []), ...node.taints.filter((t) => t.effect === 'NoSchedule')];
  for (const t of noSchedule) {
    if (c.tolerations.some((x) => tolerates(x, t))) continue;
    const what = t === UNSCHEDULABLE_TAINT ? `is cordoned (unschedulable)` : `has taint ${taintText(t)}`;
    out.push({
      kind: 'noschedule-taint',
      severity: 'info',
      rule: `NoSchedule taint ${taintText(t)}`,
      message: `node ${node.name} ${what}, which the pod does not tolerate: it keeps running, but would not be scheduled there now`,
    });
  }
  return out;
}

/** The pods in `node`'s domain of `term` that the term matches, as `name` (at most a few) and their number. */
function matchingInDomain(term: AffinityTerm, value: string, namespace: string, view: AuditView): { names: string[]; count: number } {
  const all: string[] = [];
  const domain = view.index.withLabel(term.topologyKey, value);
  // The domain's nodes, a word of the posting at a time (one node for a hostname key).
  for (let w = 0; domain && w < view.index.words; w++) {
    for (let bits = domain.word(w); bits !== 0;) {
      const bit = bits & -bits;
      bits ^= bit;
      const n = view.index.node((w << 5) + 31 - Math.clz32(bit));
      for (const p of (n && view.podIndex.onNode(n.name)?.pods) || []) {
        if (termMatchesPod(term, p, view.podsView.namespaceLabels)) all.push(p.namespace === namespace ? p.name : `${p.namespace}/${p.name}`);
      }
    }
  }
  all.sort();
  return { names: all.slice(0, MAX_NAMED), count: all.length };
}

const podList = (m: { names: string[]; count: number }) =>
  `${m.names.join(', ')}${m.count > m.names.length ? `, and ${m.count - m.names.length} more` : ''}`;

function interPodFindings(pod: V1Pod, namespace: string, node: PlacementNode, view: AuditView): Partial_[] {
  const ip = interPodConstraints(pod, namespace);
  if (!hasInterPodTerms(ip)) return [];
  // The scheduler's PreFilter counts over every pod the terms select; a small domain is cheaper to look at directly.
  let pre: InterPodState | undefined;
  const state = () => (pre ??= interPodPreFilter(ip, view.index, view.podIndex, view.podsView.namespaceLabels));
  const out: Partial_[] = [];
  for (const t of ip.antiAffinity) {
    const v = getLabel(node.labels, t.topologyKey);
    if (v === undefined) continue;
    const small = (view.index.withLabel(t.topologyKey, v)?.size ?? 0) <= SMALL_DOMAIN;
    if (!small && (state().antiAffinityCounts.get(t.topologyKey)?.get(v) ?? 0) === 0) continue;
    const m = matchingInDomain(t, v, namespace, view);
    if (m.count === 0) continue;
    out.push({
      kind: 'pod-anti-affinity',
      severity: 'warn',
      rule: `requiredDuringScheduling pod anti-affinity on ${t.topologyKey}`,
      message: `the pod shares ${t.topologyKey}=${v} with ${m.count} pod(s) its required anti-affinity excludes (${podList(m)})`,
    });
  }
  if (ip.affinity.length > 0) {
    const missing = ip.affinity.find((t) => getLabel(node.labels, t.topologyKey) === undefined);
    const empty = ip.affinity.find(
      (t) =>
        (state()
          .affinityCounts.get(t.topologyKey)
          ?.get(getLabel(node.labels, t.topologyKey) ?? '') ?? 0) === 0,
    );
    const selfFirst = state().affinityCounts.size === 0 && state().selfMatchesAll;
    if (missing) {
      out.push({
        kind: 'pod-affinity',
        severity: 'warn',
        rule: `requiredDuringScheduling pod affinity on ${missing.topologyKey}`,
        message: `node ${node.name} has no label ${missing.topologyKey}, which the pod's required pod affinity needs`,
      });
    } else if (empty && !selfFirst) {
      const v = getLabel(node.labels, empty.topologyKey) ?? '';
      out.push({
        kind: 'pod-affinity',
        severity: 'warn',
        rule: `requiredDuringScheduling pod affinity on ${empty.topologyKey}`,
        message: `no pod the pod's required pod affinity asks for runs in ${empty.topologyKey}=${v} any more`,
      });
    }
  }
  return out;
}

function spreadFindings(pod: V1Pod, namespace: string, c: PodConstraints, node: PlacementNode, view: AuditView): Partial_[] {
  const spread = spreadConstraints(pod);
  if (spread.constraints.length === 0) return [];
  const state = spreadPreFilter(c, spread, view.index, view.podIndex, namespace, pod.metadata?.labels ?? {});
  const out: Partial_[] = [];
  spread.constraints.forEach((sc, i) => {
    if (!state.selfMatch[i]) return;
    const rule = `topologySpreadConstraints on ${sc.topologyKey} (DoNotSchedule)`;
    const value = getLabel(node.labels, sc.topologyKey);
    if (value === undefined) {
      out.push({
        kind: 'topology-spread',
        severity: 'warn',
        rule,
        message: `node ${node.name} has no label ${sc.topologyKey}, which the pod's topology spread constraint needs`,
      });
      return;
    }
    const d = state.domains[i];
    if (!d || d.size === 0 || !d.counts.has(value)) return;
    const here = (d.counts.get(value) ?? 0) + 1;
    if (here - d.min <= sc.maxSkew) return;
    out.push({
      kind: 'topology-spread',
      severity: 'warn',
      rule,
      message: `${sc.topologyKey}=${value} holds ${here} matching pods (this one included), the least loaded domain ${d.min}: skew ${here - d.min}, above maxSkew ${sc.maxSkew}`,
    });
  });
  return out;
}

/**
 * Whether another node would take the pod now, and which, or why not. Call with the pod out of the pod view. Its own
 * node is cordoned for the question (it stays a topology domain, its pods stay counted), and the scheduler's message
 * then counts the other nodes only.
 */
export function rescheduling(
  pod: V1Pod,
  namespace: string,
  view: AuditView,
): Pick<Finding, 'reschedulable' | 'rescheduleNode' | 'rescheduleMessage'> {
  if (isDaemonSetPod(pod)) return { reschedulable: false, rescheduleMessage: 'a DaemonSet pod runs only on its own node' };
  const fresh = effectivePod(unbound(pod), namespace);
  const c = podConstraints(fresh);
  const aware = podAwareConstraints(fresh, namespace, fresh.spec?.priority ?? 0);
  const own = pod.spec?.nodeName ?? '';
  const now = view.withNodeCordoned(own, () => evaluateNow(c, aware, view.index, view.podsView));
  if (now.kind === 'fits') return { reschedulable: true, rescheduleNode: now.node };
  if (now.kind === 'no-nodes') return { reschedulable: false, rescheduleMessage: 'no other node is known' };
  // The own node failed as cordoned (the first filter), unless the pod tolerates the cordon: left out of the count.
  const counted = !c.toleratesUnschedulable && view.index.get(own) !== undefined;
  const others = new ReasonCounts();
  for (const [reason, n] of now.reasons.counts) others.add(reason, counted && reason === REASON_UNSCHEDULABLE ? n - 1 : n);
  const total = now.totalNodes - (counted ? 1 : 0);
  if (total === 0) return { reschedulable: false, rescheduleMessage: 'no other node is known' };
  const preempt = now.preemptible > 0 ? ` Preempting lower-priority pods could make room on ${now.preemptible} node(s).` : '';
  return { reschedulable: false, rescheduleMessage: `${fitErrorMessage(total, others)}${preempt}` };
}

/**
 * The execution findings of one bound pod, each with whether it could be rescheduled now (unless they are all `info`). `object`/`owner` name it in the findings. Throws a `QuantityError` for requests that do not parse.
 */
export function executionFindings(
  pod: V1Pod,
  namespace: string,
  node: PlacementNode,
  view: AuditView,
  object: ObjectRef,
  owner: ObjectRef | undefined,
): Finding[] {
  const effective = effectivePod(pod, namespace);
  const c = podConstraints(effective);
  return view.without(pod, () => {
    const found: Partial_[] = [
      ...[nodeAffinityFinding(c, pod, node)].filter((f): f is Partial_ => f !== undefined),
      ...taintFindings(c, node),
      ...interPodFindings(effective, namespace, node, view),
      ...spreadFindings(effective, namespace, c, node, view),
    ];
    if (found.length === 0) return [];
    // Informational findings alone do not ask (a scheduler evaluation per pod on every cordoned node is the cost).
    const again = found.some((f) => f.severity !== 'info') ? rescheduling(pod, namespace, view) : {};
    return found.map((f) => ({ ...f, namespace, object, ...(owner ? { owner } : {}), node: node.name, ...again }));
  });
}
