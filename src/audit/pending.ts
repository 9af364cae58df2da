/**
 * Pending: an unassigned pod, in the scheduler's words, split in two as `/validate` splits its answers:
 * - `pending-never` (`fail`): no node could ever run it (the static filters against every node's allocatable,
 *   condition taints being transient, `evaluate`), and no addable capacity either (node templates, NodePools,
 *   Cluster API groups). When what the autoscalers can add is not fully known, it is `pending-now`, never `fail`.
 * - `pending-now` (`warn`): some node or addable capacity could run it, but no node takes it now (`evaluateNow`
 *   against the pods bound to nodes: free capacity, ports, spread, inter-pod affinity), or only an autoscaler's new
 *   node would.
 * A pod the scheduler model would bind now has no finding (what holds it is outside placement: volume binding, the
 * scheduling queue). Pods with scheduling gates, of another scheduler, or being deleted are not judged.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { canAdd, capacityName } from '../capacity/capacity.js';
import { DEFAULT_SCHEDULER } from '../admission/validate.js';
import { evaluate, podConstraints } from '../scheduling/feasibility.js';
import { evaluateNow, podAwareConstraints } from '../scheduling/now.js';
import type { Finding, ObjectRef } from './findings.js';
import type { AuditView } from './view.js';

const RULE = 'scheduling';

/** The pending finding of an unassigned pod, or undefined when the scheduler model would bind it now. */
export function pendingFinding(pod: V1Pod, namespace: string, view: AuditView, object: ObjectRef, owner: ObjectRef | undefined): Finding | undefined {
  const c = podConstraints(pod);
  const base = { namespace, object, ...(owner ? { owner } : {}), rule: RULE };
  const never = evaluate(c, view.index);
  if (never.kind === 'no-nodes') return undefined;
  if (never.kind === 'no-fit') {
    const answer = view.addable(c);
    if (answer.fit)
      return { kind: 'pending-now', severity: 'warn', ...base, message: `no current node fits; ${canAdd(answer.fit.capacity)}: ${never.message}` };
    if (answer.blocked) {
      return {
        kind: 'pending-now',
        severity: 'warn',
        ...base,
        message: `no current node fits; ${capacityName(answer.blocked.capacity)} would, but ${answer.blocked.why}: ${never.message}`,
      };
    }
    const incomplete = view.capacityView.incomplete;
    if (incomplete)
      return {
        kind: 'pending-now',
        severity: 'warn',
        ...base,
        message: `no current node fits, and it is not known whether an autoscaler could add one (${incomplete}): ${never.message}`,
      };
    return { kind: 'pending-never', severity: 'fail', ...base, message: `can never run: ${never.message}` };
  }
  const now = evaluateNow(c, podAwareConstraints(pod, namespace, pod.spec?.priority ?? 0), view.index, view.podsView);
  if (now.kind !== 'no-fit') return undefined;
  const preempt = now.preemptible > 0 ? ` Preempting lower-priority pods could make room on ${now.preemptible} node(s).` : '';
  const transient = never.kind === 'fits-transient' ? ` It fits only nodes with condition taint ${never.taint.key}.` : '';
  return { kind: 'pending-now', severity: 'warn', ...base, message: `not schedulable now: ${now.message}${preempt}${transient}` };
}

/** Why an unassigned pod is not judged, or undefined when it is. */
export function notPending(pod: V1Pod): string | undefined {
  const spec = pod.spec;
  if (spec?.schedulerName && spec.schedulerName !== DEFAULT_SCHEDULER) return `scheduled by ${spec.schedulerName}`;
  if ((spec?.schedulingGates ?? []).length > 0) return 'scheduling gates';
  return undefined;
}
