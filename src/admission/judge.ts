/**
 * The verdict policy of validation: what the scheduler model finds, turned into a denial, warnings or nothing,
 * in the rule set's modes. Two questions, two answers:
 *
 * 1. **Can it ever run?** The static filters against every node's allocatable, node templates, NodePools and
 *    other addable capacity, transient condition taints (`scheduling/feasibility.ts`, `capacity/`). In `mode:
 *    enforce`, what no node or addable capacity could ever run is denied.
 * 2. **Would the scheduler bind it now?** Every filter against the current nodes *and the pods bound to them*
 *    (`scheduling/now.ts`): free capacity, host ports, topology spread, inter-pod affinity. A pod that can run but
 *    would not be scheduled now is allowed with a warning (`will stay Pending: 0/12 nodes are available: …`), unless
 *    `pending: deny` (then, in `mode: enforce`, refused — but never while the pod cache is not synced or stale, and
 *    never when preemption could make room). `pending: off` answers only the first question.
 *
 * Never denies from incomplete knowledge: an unsynced or stale node cache, an unknown capacity source, a pod cache
 * that is not synced — each is a warning, not a refusal.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { canAdd, capacityName, combine, judgeCapacity, uncheckedNote, type CapacityFit } from '../capacity/capacity.js';
import { templateCapacities } from '../capacity/templates.js';
import type { RuleSet } from '../rules/compile.js';
import { evaluate, type PodConstraints, type Verdict } from '../scheduling/feasibility.js';
import { kubeletFailureReason, kubeletVerdict } from '../scheduling/kubelet.js';
import type { NodeIndex } from '../scheduling/node-index.js';
import { evaluateNow, podAwareConstraints } from '../scheduling/now.js';
import { insufficientFree } from '../scheduling/resources.js';
import { formatAmount } from '../scheduling/explain.js';
import { safeAllocatable } from '../scheduling/node-index.js';
import { insufficientReason } from '../scheduling/reasons.js';
import { replicaBound, rolloutStuck, type IntOrPercent } from '../workloads/replicas.js';
import type { AdmissionContext } from './context.js';

/** Sources of addable capacity named with why they cannot serve a pod no node fits (the rest are in `check`). */
const MAX_MISFITS = 3;

/** "0/5 nodes are available: a, b." → one warning line for the head and one per reason. */
export function messageAsWarnings(prefix: string, message: string): string[] {
  const m = /^(0\/\d+ nodes are available): (.*)\.$/.exec(message);
  if (!m) return [`${prefix}${message}`];
  return [`${prefix}${m[1]}:`, ...(m[2] as string).split(', ').map((r) => `  ${r}`)];
}

/**
 * What validation found, by name: a public contract (`check -o json`, the review log; README "The CLI"), so the
 * values never change.
 */
export type ValidationVerdict =
  /** A current node fits. */
  | 'fits'
  /** Only nodes with a condition taint fit (they may recover). */
  | 'fits-transient'
  /** Only capacity an autoscaler can add fits: a node template or a Cluster API group. */
  | 'fits-template'
  /** Only a Karpenter NodePool fits. */
  | 'fits-nodepool'
  /** It can run, but the scheduler would not bind it now. */
  | 'pending'
  /** No node, template or addable capacity could ever run it. */
  | 'no-fit'
  /** No nodes are known yet. */
  | 'no-nodes'
  /** Not judged for lack of knowledge. */
  | 'unknown'
  /** Bound to a node (`spec.nodeName`) that does not exist. */
  | 'node-not-found'
  /** Bound to a node whose kubelet would refuse it. */
  | 'kubelet-rejects'
  /** Bound to a node with no room left for it now. */
  | 'kubelet-rejects-now'
  /** A rule (`onConflict: reject`) refused the pod. */
  | 'rule-denial'
  /** A plugin of `settings.compat` (PodNodeSelector, PodTolerationRestriction) refused the final pod. */
  | 'compat-denial';

export interface Judgement {
  /** Absent when the object is allowed without remark. */
  readonly denial?: string;
  readonly warnings: readonly string[];
  readonly verdict: ValidationVerdict;
  /** The full scheduler message when no node fits (kept for the log when only warnings are sent). */
  readonly message?: string;
  /** Would the scheduler bind it now (undefined: not asked — pod cache off, pending off, or not known enough). */
  readonly schedulableNow?: boolean;
  /** Why not, in the scheduler's words, when `schedulableNow` is false. */
  readonly pendingMessage?: string;
}

/** What is judged: a pod (or a workload's template as a pod), and how the answers are worded. */
export interface Subject {
  readonly pod: V1Pod;
  readonly constraints: PodConstraints;
  readonly namespace: string;
  /** Turns every denial into warnings (DaemonSets and their pods). */
  readonly warnOnly: boolean;
  /**
   * Turns a "can it ever run" denial into warnings, keeping the pending answers' (a scale or a replicas change:
   * the template is unchanged, and what could run when it was judged is not refused now).
   */
  readonly staticWarnOnly?: boolean;
  /** Prefixes warnings and denials ("Deployment web: "). */
  readonly prefix: string;
  /** The pod's priority when known (pods carry `spec.priority`; templates only a class name). */
  readonly priority: number | undefined;
  /**
   * Whether to ask "would it be scheduled now" (default yes). A workload update that adds no pod beside those it
   * has (a scale-down; a new template, whose pods replace the old ones) has no next pod to ask about: its rollout's
   * pods are judged as each is created.
   */
  readonly askNow?: boolean;
}

/** Both answers, in the rule set's modes. */
export function judge(s: Subject, ctx: AdmissionContext, ruleSet: RuleSet): Judgement {
  const view = ctx.nodes();
  if (view.incomplete) {
    return { warnings: [`placement-webhook: node feasibility not checked: ${view.incomplete}`], verdict: 'unknown' };
  }
  if (s.constraints.nodeName !== undefined) return judgeBound(s, s.constraints.nodeName, view.index, ctx, ruleSet);
  const verdict: Verdict = evaluate(s.constraints, view.index);
  switch (verdict.kind) {
    case 'fits':
      return judgeNow(s, { warnings: [], verdict: 'fits' }, view.index, ctx, ruleSet);
    case 'no-nodes':
      return { warnings: ['placement-webhook: node feasibility not checked: no nodes are known yet'], verdict: 'no-nodes' };
    case 'fits-transient':
      return judgeNow(
        s,
        {
          warnings: [
            `${s.prefix}fits only nodes with condition taint ${verdict.taint.key}`,
            `  it may wait until they recover (e.g. node ${verdict.node})`,
          ],
          verdict: 'fits-transient',
        },
        view.index,
        ctx,
        ruleSet,
      );
    case 'no-fit':
      return judgeNoFit(s, verdict.message, ctx, ruleSet);
  }
}

/** Capacity an autoscaler can add for the pod: the rules' templates first, then what the cluster serves. */
function addable(s: Subject, ctx: AdmissionContext, ruleSet: RuleSet) {
  return judgeCapacity(combine(templateCapacities(ruleSet.validation.nodeTemplates), ctx.capacity?.()), s.constraints);
}

/** No live node could ever run the pod: addable capacity, or a denial. */
function judgeNoFit(s: Subject, message: string, ctx: AdmissionContext, ruleSet: RuleSet): Judgement {
  const { c, prefix } = { c: s.constraints, prefix: s.prefix };
  const answer = addable(s, ctx, ruleSet);
  const notNow = { schedulableNow: false, pendingMessage: message } as const;
  const { fit, blocked } = answer;
  if (fit) {
    const note = uncheckedNote(fit);
    return {
      warnings: [`${prefix}no current node fits; ${canAdd(fit.capacity)}`, ...(note ? [note] : [])],
      verdict: fit.capacity.kind === 'NodePool' ? 'fits-nodepool' : 'fits-template',
      message,
      ...notNow,
    };
  }
  if (blocked) {
    // It would fit a node the autoscaler cannot add now (a pool at its limit, not Ready): Pending, not impossible.
    return {
      warnings: [`${prefix}no current node fits; ${capacityName(blocked.capacity)} would, but ${blocked.why}`],
      verdict: blocked.capacity.kind === 'NodePool' ? 'fits-nodepool' : 'fits-template',
      message,
      ...notNow,
    };
  }
  const capacity = ctx.capacity?.();
  if (capacity?.incomplete) {
    return {
      warnings: [`${prefix}no current node fits; not denied: ${capacity.incomplete}`, ...messageAsWarnings('  ', message)],
      verdict: 'unknown',
      message,
      ...notNow,
    };
  }
  // Why addable capacity does not serve it either: every NodePool, in Karpenter's words (its own event lists them
  // all; a label a pool does not declare is the usual surprise), templates and groups only when they carry its
  // labels.
  const why = answer.misfits
    .filter((m) => m.capacity.kind === 'NodePool' || m.capacity.admitsLabels(c))
    .slice(0, MAX_MISFITS)
    .map((m) => (m.capacity.kind === 'NodePool' ? m.reason : `${capacityName(m.capacity)}: ${m.reason}`));
  if (ruleSet.validation.mode === 'enforce' && !s.warnOnly && !s.staticWarnOnly)
    return { denial: `${prefix}${message}`, warnings: why, verdict: 'no-fit', message, ...notNow };
  return { warnings: [...messageAsWarnings(prefix, message), ...why], verdict: 'no-fit', message, ...notNow };
}

/** The addable capacity a Pending pod waits for, as a warning line. */
function waitingFor(fit: CapacityFit | undefined): string[] {
  return fit ? [`  Pending until an autoscaler adds a node: ${canAdd(fit.capacity)}`] : [];
}

/** The second question, for a pod that can run: would it be scheduled now? */
function judgeNow(s: Subject, canRun: Judgement, nodes: NodeIndex, ctx: AdmissionContext, ruleSet: RuleSet): Judgement {
  if (ruleSet.validation.pending === 'off' || s.askNow === false) return canRun;
  const pods = ctx.pods?.();
  if (pods === undefined) return canRun;
  if (pods.incomplete)
    return { ...canRun, warnings: [...canRun.warnings, `placement-webhook: not checked whether it would be scheduled now: ${pods.incomplete}`] };
  const now = evaluateNow(s.constraints, podAwareConstraints(s.pod, s.namespace, s.priority), nodes, pods);
  if (now.kind !== 'no-fit') return { ...canRun, schedulableNow: true };
  const preemption =
    now.preemptible > 0 ? [`  unless the scheduler preempts lower-priority pods: ${now.preemptible} node(s) could take it then`] : [];
  const lines = [...messageAsWarnings(`${s.prefix}will stay Pending: `, now.message), ...preemption, ...waitingFor(addable(s, ctx, ruleSet).fit)];
  const base = { verdict: 'pending', message: now.message, schedulableNow: false, pendingMessage: now.message } as const;
  const refuse = ruleSet.validation.pending === 'deny' && ruleSet.validation.mode === 'enforce' && !s.warnOnly && now.preemptible === 0;
  if (refuse) return { ...base, denial: `${s.prefix}will stay Pending: ${now.message}`, warnings: canRun.warnings };
  return { ...base, warnings: [...canRun.warnings, ...lines] };
}

/**
 * A pod bound at creation (`spec.nodeName`) never passes through the scheduler: the kubelet of that node admits it
 * or rejects it (the pod then ends Failed). Judged as the kubelet judges it (see `scheduling/kubelet.ts`): against
 * the node's allocatable first (a certain rejection), then, with the pod cache, against what the node's pods
 * already take (a rejection *now*, which follows the `pending` setting).
 */
function judgeBound(s: Subject, nodeName: string, index: NodeIndex, ctx: AdmissionContext, ruleSet: RuleSet): Judgement {
  const { prefix } = s;
  const node = index.get(nodeName);
  if (node === undefined) {
    if (index.size === 0) return { warnings: ['placement-webhook: node feasibility not checked: no nodes are known yet'], verdict: 'no-nodes' };
    return {
      warnings: [
        `${prefix}bound to node ${nodeName}, which does not exist: no kubelet will run it,`,
        '  and the pod garbage collector deletes pods bound to a missing node after about 40 s',
      ],
      verdict: 'node-not-found',
    };
  }
  const verdict = kubeletVerdict(s.constraints, node);
  const enforce = ruleSet.validation.mode === 'enforce' && !s.warnOnly;
  if (verdict.kind === 'rejects') {
    const message = `the kubelet on ${nodeName} would reject this pod: ${kubeletFailureReason(verdict.failure)}`;
    if (enforce && !s.staticWarnOnly)
      return { denial: `${prefix}${message}`, warnings: [], verdict: 'kubelet-rejects', message, schedulableNow: false, pendingMessage: message };
    return { warnings: [`${prefix}${message}`], verdict: 'kubelet-rejects', message, schedulableNow: false, pendingMessage: message };
  }
  const admitted: Judgement =
    verdict.kind === 'admits'
      ? { warnings: [], verdict: 'fits' }
      : {
          warnings: [`${prefix}node ${nodeName} has condition taint ${verdict.taint.key}: the pod may wait or be evicted until it recovers`],
          verdict: 'fits-transient',
        };
  const pods = ruleSet.validation.pending === 'off' ? undefined : ctx.pods?.();
  if (pods === undefined || pods.incomplete) return admitted;
  const usage = pods.index.onNode(nodeName);
  const short = insufficientFree(s.constraints.requests, safeAllocatable(node), usage?.requested, usage?.pods.length ?? 0);
  if (short.length === 0) return { ...admitted, schedulableNow: true };
  const what = short
    .map(
      (r) =>
        `${insufficientReason(r.resourceName)}${r.resourceName === 'pods' ? '' : ` (the pod requests ${formatAmount(r.resourceName, r.requested)}, ${formatAmount(r.resourceName, r.capacity < 0n ? 0n : r.capacity)} is free)`}`,
    )
    .join(', ');
  const message = `the kubelet on ${nodeName} would reject this pod now: ${what}`;
  const base = { verdict: 'kubelet-rejects-now', message, schedulableNow: false, pendingMessage: message } as const;
  if (ruleSet.validation.pending === 'deny' && enforce) return { ...base, denial: `${prefix}${message}`, warnings: admitted.warnings };
  return { ...base, warnings: [...admitted.warnings, `${prefix}${message}`] };
}

// ---- whole workloads -----------------------------------------------------------------------------------------------

export interface WorkloadSubject extends Subject {
  /** `Deployment web` */
  readonly what: string;
  readonly kind: string;
  readonly name: string;
  readonly replicas: number;
  readonly selector: Readonly<Record<string, string>> | undefined;
  readonly strategy: unknown;
  readonly podManagementPolicy: string | undefined;
  /** Fewer replicas than before: answers are warnings only (a scale-down only ever helps). */
  readonly scalingDown: boolean;
}

export interface WorkloadJudgement {
  readonly denial?: string;
  readonly warnings: readonly string[];
  /** How many replicas can be placed (undefined: no bound from the pod's constraints). */
  readonly placeableReplicas: number | undefined;
}

const at = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (cur, k) => (cur !== null && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Record<string, unknown>)[k] : undefined),
    o,
  );

/**
 * Answers about the replicas as a set (see `workloads/replicas.ts`): more replicas than can ever be placed together,
 * and a rolling update that can never progress. Adding nodes resolves both, so they follow the `pending` setting.
 */
export function judgeWorkload(w: WorkloadSubject, ctx: AdmissionContext, ruleSet: RuleSet): WorkloadJudgement {
  const none: WorkloadJudgement = { warnings: [], placeableReplicas: undefined };
  if (ruleSet.validation.pending === 'off' || w.kind === 'DaemonSet') return none;
  const view = ctx.nodes();
  if (view.incomplete || view.index.size === 0) return none;
  const pods = ctx.pods?.();
  const known = pods !== undefined && pods.incomplete === undefined;
  const canAdd = addable(w, ctx, ruleSet).fit !== undefined;
  const nsLabels = pods?.namespaceLabels ?? (() => ({}));
  const bound = replicaBound(
    { pod: w.pod, constraints: w.constraints, namespace: w.namespace, selector: w.selector, replicas: w.replicas },
    view.index,
    known ? pods.index : undefined,
    nsLabels,
    canAdd,
  );
  if (!bound) return none;
  // Each answer as a sentence (a denial) and as lines short enough for the API's warnings.
  const answers: { sentence: string; lines: string[] }[] = [];
  if (!bound.liftedByCapacity && w.replicas > bound.placeable) {
    const short = w.replicas - bound.placeable;
    const head = `${w.what}: ${w.replicas} replicas, but at most ${bound.placeable} can be placed`;
    const ordered =
      w.kind === 'StatefulSet' && (w.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady'
        ? `its pods are created one by one (podManagementPolicy OrderedReady): ${w.name}-${bound.placeable} will stay Pending, and those after it are never created`
        : undefined;
    answers.push({
      sentence: `${head} (${bound.why}): ${short} will stay Pending.${ordered ? ` ${ordered[0]?.toUpperCase()}${ordered.slice(1)}.` : ''}`,
      lines: [`${head}: ${short} will stay Pending`, `  ${bound.why}`, ...(ordered ? [`  ${ordered}`] : [])],
    });
  }
  if (w.kind === 'Deployment' && (at(w.strategy, 'type') ?? 'RollingUpdate') === 'RollingUpdate') {
    const rolling = at(w.strategy, 'rollingUpdate');
    const verdict = rolloutStuck(bound, w.replicas, at(rolling, 'maxSurge') as IntOrPercent, at(rolling, 'maxUnavailable') as IntOrPercent);
    if (verdict.stuck) {
      const why = `the ${bound.placeable} domain(s) of ${bound.topologyKey} its pods may use all hold a replica, so a new pod (maxSurge ${verdict.surge}) has nowhere to go, and with maxUnavailable 0 no old pod leaves first`;
      const fix = 'set strategy.rollingUpdate.maxUnavailable: 1 (maxSurge: 0 only together with a maxUnavailable above 0)';
      answers.push({
        sentence: `${w.what}: a rolling update can never progress: ${why}; ${fix}`,
        lines: [
          `${w.what}: a rolling update can never progress (maxSurge ${verdict.surge}, maxUnavailable 0):`,
          `  all ${bound.placeable} domain(s) of ${bound.topologyKey} its pods may use hold a replica: a new pod has nowhere to go`,
          `  fix: ${fix}`,
        ],
      });
    }
  }
  const placeableReplicas = bound.liftedByCapacity ? undefined : bound.placeable;
  if (answers.length === 0) return { warnings: [], placeableReplicas };
  const refuse = ruleSet.validation.pending === 'deny' && ruleSet.validation.mode === 'enforce' && !w.warnOnly && !w.scalingDown && known;
  if (refuse) return { denial: answers.map((a) => a.sentence).join(' '), warnings: [], placeableReplicas };
  return { warnings: answers.flatMap((a) => a.lines), placeableReplicas };
}
