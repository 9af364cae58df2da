/**
 * POST /validate: rejects what no current node can run, in the scheduler's words.
 *
 * - Pods on CREATE: the final pod (every mutating webhook, ours included, has run).
 * - Workloads on CREATE, and on UPDATE when their pod template changed: the template as a pod of the namespace,
 *   after our own rules (so `kubectl apply` of a Deployment fails fast instead of a ReplicaSet failing silently).
 *   DaemonSets (and pods they own) only ever get warnings: a DaemonSet for nodes that do not exist yet is fine.
 * - The rules ConfigMap (label placement-webhook/rules=true) on CREATE and UPDATE: an invalid document is denied
 *   with every error, so a bad edit never reaches the running webhooks.
 *
 * Never denies from incomplete knowledge: no node list, an empty one, or a stale cache allow with a warning.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { formatFieldError, PlacementError } from '../errors.js';
import { mutatePod } from '../rules/apply.js';
import { parseRules, type RuleSet } from '../rules/compile.js';
import { isDaemonSetPod, skipReason, withNameLabel } from '../rules/select.js';
import { evaluate, podConstraints, type PodConstraints, type Verdict } from '../scheduling/feasibility.js';
import { sameJson } from '../scheduling/merge/equal.js';
import { kubeletFailureReason, kubeletVerdict } from '../scheduling/kubelet.js';
import type { NodeIndex } from '../scheduling/node-index.js';
import type { AdmissionContext, ReviewRecord } from './context.js';
import type { HandlerResult } from './handler.js';
import { allowed, clip, denied, invalid } from './response.js';
import type { AdmissionRequest } from './types.js';
import { templatePod, workload, type Workload } from '../workloads/workloads.js';
import { canAdd, capacityName, combine, judgeCapacity, uncheckedNote } from '../capacity/capacity.js';
import { templateCapacities } from '../capacity/templates.js';

export const RULES_CONFIGMAP_LABEL = 'placement-webhook/rules';
export const DEFAULT_SCHEDULER = 'default-scheduler';
export const RULES_CONFIGMAP_KEY = 'rules.yaml';
/** Sources of addable capacity named with why they cannot serve a pod no node fits (the rest are in `check`). */
const MAX_MISFITS = 3;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** "0/5 nodes are available: a, b." → one warning line for the head and one per reason. */
export function messageAsWarnings(prefix: string, message: string): string[] {
  const m = /^(0\/\d+ nodes are available): (.*)\.$/.exec(message);
  if (!m) return [`${prefix}${message}`];
  return [`${prefix}${m[1]}:`, ...(m[2] as string).split(', ').map((r) => `  ${r}`)];
}

// ---- the verdict ---------------------------------------------------------------------------------------------------

export interface Judgement {
  /** Absent when the object is allowed without remark. */
  readonly denial?: string;
  readonly warnings: readonly string[];
  readonly verdict: string;
  /** The full scheduler message when no node fits (kept for the log when only warnings are sent). */
  readonly message?: string;
}

/**
 * Judges a pod's constraints against the nodes and the rule set's node templates, in the rule set's mode.
 * `warnOnly` turns a denial into warnings (DaemonSets). `subject` prefixes warnings ("Deployment web: ").
 */
export function judge(c: PodConstraints, ctx: AdmissionContext, ruleSet: RuleSet, warnOnly: boolean, subject = ''): Judgement {
  const view = ctx.nodes();
  if (view.incomplete) {
    return { warnings: [`placement-webhook: node feasibility not checked: ${view.incomplete}`], verdict: 'unknown' };
  }
  if (c.nodeName !== undefined) return judgeBound(c, c.nodeName, view.index, ruleSet, warnOnly, subject);
  const verdict: Verdict = evaluate(c, view.index);
  switch (verdict.kind) {
    case 'fits':
      return { warnings: [], verdict: 'fits' };
    case 'no-nodes':
      return { warnings: ['placement-webhook: node feasibility not checked: no nodes are known yet'], verdict: 'no-nodes' };
    case 'fits-transient':
      return {
        warnings: [
          `${subject}fits only nodes with condition taint ${verdict.taint.key}`,
          `  it may wait until they recover (e.g. node ${verdict.node})`,
        ],
        verdict: 'fits-transient',
      };
    case 'no-fit': {
      const answer = judgeCapacity(combine(templateCapacities(ruleSet.validation.nodeTemplates), ctx.capacity?.()), c);
      const { fit, blocked } = answer;
      if (fit) {
        const note = uncheckedNote(fit);
        return {
          warnings: [`${subject}no current node fits; ${canAdd(fit.capacity)}`, ...(note ? [note] : [])],
          verdict: fit.capacity.kind === 'NodePool' ? 'fits-nodepool' : 'fits-template',
          message: verdict.message,
        };
      }
      if (blocked) {
        // It would fit a node the autoscaler cannot add now (a pool at its limit, not Ready): Pending, not impossible.
        return {
          warnings: [`${subject}no current node fits; ${capacityName(blocked.capacity)} would, but ${blocked.why}`],
          verdict: blocked.capacity.kind === 'NodePool' ? 'fits-nodepool' : 'fits-template',
          message: verdict.message,
        };
      }
      const capacity = ctx.capacity?.();
      if (capacity?.incomplete) {
        return {
          warnings: [`${subject}no current node fits; not denied: ${capacity.incomplete}`, ...messageAsWarnings('  ', verdict.message)],
          verdict: 'unknown',
          message: verdict.message,
        };
      }
      // Why addable capacity does not serve it either: every NodePool, in Karpenter's words (its own event lists them
      // all; a label a pool does not declare is the usual surprise), templates and groups only when they carry its
      // labels.
      const why = answer.misfits
        .filter((m) => m.capacity.kind === 'NodePool' || m.capacity.admitsLabels(c))
        .slice(0, MAX_MISFITS)
        .map((m) => (m.capacity.kind === 'NodePool' ? m.reason : `${capacityName(m.capacity)}: ${m.reason}`));
      if (ruleSet.validation.mode === 'enforce' && !warnOnly) {
        return { denial: `${subject}${verdict.message}`, warnings: why, verdict: 'no-fit', message: verdict.message };
      }
      return { warnings: [...messageAsWarnings(subject, verdict.message), ...why], verdict: 'no-fit', message: verdict.message };
    }
  }
}

/**
 * A pod bound at creation (`spec.nodeName`) never passes through the scheduler: the kubelet of that node admits it
 * or rejects it (the pod then ends Failed). Judged as the kubelet judges it (see `scheduling/kubelet.ts`).
 */
function judgeBound(c: PodConstraints, nodeName: string, index: NodeIndex, ruleSet: RuleSet, warnOnly: boolean, subject: string): Judgement {
  const node = index.get(nodeName);
  if (node === undefined) {
    if (index.size === 0) return { warnings: ['placement-webhook: node feasibility not checked: no nodes are known yet'], verdict: 'no-nodes' };
    return {
      warnings: [
        `${subject}bound to node ${nodeName}, which does not exist: no kubelet will run it,`,
        '  and the pod garbage collector deletes pods bound to a missing node after about 40 s',
      ],
      verdict: 'node-not-found',
    };
  }
  const verdict = kubeletVerdict(c, node);
  switch (verdict.kind) {
    case 'admits':
      return { warnings: [], verdict: 'fits' };
    case 'admits-transient':
      return {
        warnings: [`${subject}node ${nodeName} has condition taint ${verdict.taint.key}: the pod may wait or be evicted until it recovers`],
        verdict: 'fits-transient',
      };
    case 'rejects': {
      const message = `the kubelet on ${nodeName} would reject this pod: ${kubeletFailureReason(verdict.failure)}`;
      if (ruleSet.validation.mode === 'enforce' && !warnOnly) return { denial: `${subject}${message}`, warnings: [], verdict: 'kubelet-rejects', message };
      return { warnings: [`${subject}${message}`], verdict: 'kubelet-rejects', message };
    }
  }
}

/**
 * Pods for another scheduler (Fargate, Volcano, a custom one) are placed by rules we do not know, often on nodes that
 * do not exist before they are scheduled: they are not judged.
 */
function otherScheduler(spec: V1Pod['spec']): string | undefined {
  const name = spec?.schedulerName;
  return name && name !== DEFAULT_SCHEDULER ? `scheduled by ${name}, not ${DEFAULT_SCHEDULER}` : undefined;
}

function respond(uid: string, j: Judgement): HandlerResult {
  const record: ReviewRecord = { decision: j.denial ? 'denied' : 'allowed', verdict: j.verdict, warnings: j.warnings.length };
  if (j.message) record.reason = j.message;
  const shown = j.warnings.map(clip);
  return { response: j.denial ? denied(uid, j.denial, shown) : allowed(uid, shown), record, warnings: j.warnings };
}

const skip = (uid: string, reason: string): HandlerResult => ({ response: allowed(uid), record: { decision: 'skipped', reason }, warnings: [] });

/** Allowed with one warning: the pod could not be judged. */
function notChecked(uid: string, why: string): HandlerResult {
  const warnings = [`placement-webhook: not checked: ${why}`];
  return { response: allowed(uid, warnings.map(clip)), record: { decision: 'allowed', reason: why }, warnings };
}

function constraintsOrWarning(pod: V1Pod): PodConstraints | string {
  try {
    return podConstraints(pod);
  } catch (err) {
    if (err instanceof PlacementError) return err.message;
    throw err;
  }
}

function validatePod(request: AdmissionRequest, ctx: AdmissionContext): HandlerResult {
  const { uid } = request;
  if (request.operation !== 'CREATE') return skip(uid, `operation ${request.operation}`);
  if (!isObject(request.object)) return skip(uid, 'no object in the request');
  const pod = request.object as V1Pod;
  const namespace = request.namespace || pod.metadata?.namespace || 'default';
  const ruleSet = ctx.rules();
  const skipped = otherScheduler(pod.spec) ?? skipReason(pod, namespace, ruleSet);
  if (skipped) return skip(uid, skipped);
  if (ruleSet.validation.mode === 'off') return skip(uid, 'validation mode off');
  const c = constraintsOrWarning(pod);
  if (typeof c === 'string') return notChecked(uid, c);
  return respond(uid, judge(c, ctx, ruleSet, isDaemonSetPod(pod)));
}

function validateWorkload(request: AdmissionRequest, w: Workload, ctx: AdmissionContext): HandlerResult {
  const { uid } = request;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return skip(uid, `operation ${request.operation}`);
  if (!w.template) return skip(uid, 'no pod template');
  // An unchanged template was judged when it was last changed; unless the workload was at zero replicas then.
  if (request.operation === 'UPDATE' && w.oldTemplate && sameJson(w.template, w.oldTemplate) && w.oldReplicas !== 0) {
    return skip(uid, 'pod template unchanged');
  }
  if (w.replicas === 0) return skip(uid, 'replicas: 0');
  const scheduler = otherScheduler(w.template.spec);
  if (scheduler) return skip(uid, scheduler);
  const namespace = request.namespace || 'default';
  const ruleSet = ctx.rules();
  if (ruleSet.excludedNamespaces.has(namespace)) return skip(uid, `namespace ${namespace} is excluded`);
  if (ruleSet.validation.mode === 'off') return skip(uid, 'validation mode off');

  const subject = `${w.what}: `;
  const mutation = mutatePod(templatePod(w.template, namespace, w.daemonSet), ruleSet, namespace, withNameLabel(namespace, ctx.namespaceLabels(namespace)));
  if (mutation.denial) {
    const j: Judgement = w.daemonSet
      ? { warnings: [`${subject}its pods will be rejected: ${mutation.denial}`], verdict: 'rule-denial' }
      : { denial: `${subject}its pods would be rejected: ${mutation.denial}`, warnings: [], verdict: 'rule-denial' };
    return respond(uid, j);
  }
  const c = constraintsOrWarning(mutation.pod);
  if (typeof c === 'string') return notChecked(uid, c);
  return respond(uid, judge(c, ctx, ruleSet, w.daemonSet, subject));
}

function validateRulesConfigMap(request: AdmissionRequest): HandlerResult {
  const { uid } = request;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return skip(uid, `operation ${request.operation}`);
  const cm = request.object;
  if (!isObject(cm)) return skip(uid, 'no object in the request');
  const labels = isObject(cm['metadata']) && isObject(cm['metadata']['labels']) ? cm['metadata']['labels'] : {};
  if (labels[RULES_CONFIGMAP_LABEL] !== 'true') return skip(uid, 'not a rules ConfigMap');
  const data = isObject(cm['data']) ? cm['data'] : {};
  const text = data[RULES_CONFIGMAP_KEY];
  const name = isObject(cm['metadata']) && typeof cm['metadata']['name'] === 'string' ? cm['metadata']['name'] : (request.name ?? '');
  const object = { kind: 'ConfigMap', name };
  const field = `data[${RULES_CONFIGMAP_KEY}]`;
  if (typeof text !== 'string') {
    const response = invalid(uid, object, [{ type: 'Required', path: '', detail: 'required value: the placement rules document' }], field);
    return { response, record: { decision: 'denied', reason: response.status?.message ?? '' }, warnings: [] };
  }
  const result = parseRules(text);
  const warnings = result.warnings.map((w) => `${RULES_CONFIGMAP_KEY}: ${formatFieldError(w)}`);
  const shown = warnings.map(clip);
  if (result.ok) return { response: allowed(uid, shown), record: { decision: 'allowed', warnings: warnings.length }, warnings };
  const response = invalid(uid, object, result.errors, field, shown);
  return { response, record: { decision: 'denied', reason: `${result.errors.length} error(s) in ${RULES_CONFIGMAP_KEY}` }, warnings };
}

export function handleValidate(request: AdmissionRequest, ctx: AdmissionContext): HandlerResult {
  const { uid, kind } = request;
  if (request.subResource) return skip(uid, `subresource ${request.subResource}`);
  if (kind.group === '' && kind.kind === 'Pod') return validatePod(request, ctx);
  if (kind.group === '' && kind.kind === 'ConfigMap') return validateRulesConfigMap(request);
  const w = workload(request);
  if (w) return validateWorkload(request, w, ctx);
  return skip(uid, `kind ${kind.group ? `${kind.group}/` : ''}${kind.kind} is not validated`);
}
