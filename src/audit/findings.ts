/**
 * What the audit and the what-if answer with: findings, as data. Words are built here once per finding (`message`),
 * everything else is a field a program can read: `docs/audit.md` documents each field and each kind, and the field
 * names are stable (they are what `-o json`/`-o yaml` print and what PolicyReports are made from).
 *
 * Severity follows the webhook: what it would refuse in `mode: enforce` (a pod that can never run, a pod its node's
 * kubelet would reject, a pod the rules would now refuse) is `fail`; what it would warn about (Pending now, replicas
 * that cannot all be placed, drift) is `warn`; what changes nothing about where pods run (an untolerated NoSchedule
 * taint under a running pod) is `info`. Only `warn` and `fail` make the commands exit 1.
 */
import type { Operation } from 'fast-json-patch';

export const SEVERITIES = ['fail', 'warn', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * Every kind of finding, in the order the text output lists them within a namespace and severity.
 * - Drift from the rules: `drift` (a rule matches, the pod lacks what it injects), `rule-denial` (the rules would now
 *   refuse the pod: its controller's next pod is refused).
 * - Violated during execution (bound pods): `node-affinity`, `noexecute-taint`, `noschedule-taint`,
 *   `pod-anti-affinity`, `pod-affinity`, `topology-spread`.
 * - Pending (unassigned pods): `pending-never` (no node or addable capacity could ever run it), `pending-now`.
 * - Workloads: `replicas` (more replicas than can be placed), `rollout-stuck` (a rolling update can never progress).
 * - What-if only: `drained`, `evicted`, `node-removed` (a pod the change displaces, and whether it can be placed
 *   elsewhere), `pdb` (the drain would violate a PodDisruptionBudget), `replicas-lost` (a workload whose displaced
 *   pods cannot all be placed).
 */
export const FINDING_KINDS = [
  'rule-denial',
  'drift',
  'node-affinity',
  'noexecute-taint',
  'noschedule-taint',
  'pod-anti-affinity',
  'pod-affinity',
  'topology-spread',
  'pending-never',
  'pending-now',
  'replicas',
  'rollout-stuck',
  'pdb',
  'replicas-lost',
  'drained',
  'evicted',
  'node-removed',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

/** An object as a PolicyReport's `resources[]` names it. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

export interface Finding {
  readonly kind: FindingKind;
  readonly severity: Severity;
  /** The object's namespace. */
  readonly namespace: string;
  /** The pod, workload or PodDisruptionBudget the finding is about. */
  readonly object: ObjectRef;
  /** The workload that owns the pod (a Deployment rather than its ReplicaSet): the fix is a rollout, not a pod edit. */
  readonly owner?: ObjectRef;
  /** The node the pod is bound to (for a displaced pod: the node it leaves). */
  readonly node?: string;
  /**
   * The rule or the constraint: rule names (`spot-consumers`, comma-separated in document order) for drift, else the
   * constraint as Kubernetes names it (`requiredDuringScheduling node affinity`, `NoExecute taint dedicated=db`, ...).
   */
  readonly rule: string;
  /** One sentence: what is wrong and why, in the scheduler's words where it has some. */
  readonly message: string;
  /** Drift: the JSON patch the webhook would apply to the same pod created now. */
  readonly patch?: readonly Operation[];
  /**
   * Bound pods violating a constraint, and pods a change displaces: whether some other node would take the pod now
   * (so whether evicting it helps). Absent where it does not apply (drift, pending, workloads, NoSchedule taints).
   */
  readonly reschedulable?: boolean;
  /** When `reschedulable`: the node the scheduler model picks for it. */
  readonly rescheduleNode?: string;
  /** When not `reschedulable`: why not, in the scheduler's words (`0/5 nodes are available: ...`). */
  readonly rescheduleMessage?: string;
}

/** `f` with its keys in the documented order (the order `-o json` and `-o yaml` print), absent fields left out. */
export function ordered(f: Finding): Finding {
  return {
    kind: f.kind,
    severity: f.severity,
    namespace: f.namespace,
    object: { apiVersion: f.object.apiVersion, kind: f.object.kind, name: f.object.name },
    ...(f.owner ? { owner: { apiVersion: f.owner.apiVersion, kind: f.owner.kind, name: f.owner.name } } : {}),
    ...(f.node !== undefined ? { node: f.node } : {}),
    rule: f.rule,
    message: f.message,
    ...(f.patch !== undefined ? { patch: f.patch } : {}),
    ...(f.reschedulable !== undefined ? { reschedulable: f.reschedulable } : {}),
    ...(f.rescheduleNode !== undefined ? { rescheduleNode: f.rescheduleNode } : {}),
    ...(f.rescheduleMessage !== undefined ? { rescheduleMessage: f.rescheduleMessage } : {}),
  };
}

const rank = <T>(list: readonly T[], x: T) => list.indexOf(x);
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The order findings are reported in: namespace, severity (fail first), kind, object kind and name, rule. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    cmp(a.namespace, b.namespace) ||
    rank(SEVERITIES, a.severity) - rank(SEVERITIES, b.severity) ||
    rank(FINDING_KINDS, a.kind) - rank(FINDING_KINDS, b.kind) ||
    cmp(a.object.kind, b.object.kind) ||
    cmp(a.object.name, b.object.name) ||
    cmp(a.rule, b.rule)
  );
}

/**
 * What makes two findings the same finding before and after a change (the what-if reports only new ones): kind,
 * object, rule and patch — not the message, whose figures (pods per domain, nodes available) may move without the
 * finding being new. A `replicas` finding is new when its message is (fewer replicas can be placed than before: the
 * workload loses placeable replicas).
 */
export function findingKey(f: Finding): string {
  return JSON.stringify([f.kind, f.namespace, f.object.kind, f.object.name, f.rule, f.patch ?? null, f.kind === 'replicas' ? f.message : null]);
}

/** Whether findings make the commands exit 1: some finding of severity warn or fail. */
export const hasProblems = (findings: readonly Finding[]): boolean => findings.some((f) => f.severity !== 'info');
