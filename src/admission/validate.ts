/**
 * POST /validate: rejects what no current node can run, in the scheduler's words.
 *
 * - Pods on CREATE: the final pod (every mutating webhook, ours included, has run).
 * - Workloads on CREATE, and on UPDATE when their pod template changed: the template as a pod of the namespace,
 *   after our own rules (so `kubectl apply` of a Deployment fails fast instead of a ReplicaSet failing silently).
 *   DaemonSets (and pods they own) only ever get warnings: a DaemonSet for nodes that do not exist yet is fine.
 * - The rules ConfigMap: see `./validate-rules.ts`.
 *
 * Never denies from incomplete knowledge: no node list, an empty one, or a stale cache allow with a warning.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { PlacementError } from '../util/errors.js';
import { mutatePod } from '../rules/apply.js';
import { validateCompat } from '../compat/index.js';
import { isDaemonSetPod, skipReason, withNameLabel } from '../rules/select.js';
import { podConstraints, type PodConstraints } from '../scheduling/feasibility.js';
import { isObject, sameJson } from '../util/json.js';
import { failure, ok, type Result } from '../util/result.js';
import { podNamespace, workload } from './request.js';
import type { AdmissionContext, ReviewRecord } from './context.js';
import type { HandlerResult } from './handler.js';
import { allowed, clip, denied } from './response.js';
import { validateRulesConfigMap } from './validate-rules.js';
import type { AdmissionRequest } from './types.js';
import { kindOfResource, templatePod, workloadKind, workloadOf, type Workload } from '../workloads/workloads.js';
import { judge, judgeWorkload, type Judgement } from './judge.js';
import type { Prepared } from './handler.js';

/** The scheduler whose filters the scheduling model follows. */
export const DEFAULT_SCHEDULER = 'default-scheduler';

/**
 * Pods for another scheduler (Fargate, Volcano, a custom one) are placed by rules we do not know, often on nodes that
 * do not exist before they are scheduled: they are not judged.
 */
function otherScheduler(spec: V1Pod['spec']): string | undefined {
  const name = spec?.schedulerName;
  return name && name !== DEFAULT_SCHEDULER ? `scheduled by ${name}, not ${DEFAULT_SCHEDULER}` : undefined;
}

function respond(uid: string, j: Judgement, replicas?: { replicas: number; placeableReplicas: number | undefined }): HandlerResult {
  const record: ReviewRecord = { decision: j.denial ? 'denied' : 'allowed', verdict: j.verdict, warnings: j.warnings.length };
  if (j.message) record.reason = j.message;
  if (j.schedulableNow !== undefined) record.schedulableNow = j.schedulableNow;
  if (j.pendingMessage !== undefined) record.pendingMessage = j.pendingMessage;
  if (replicas) {
    record.replicas = replicas.replicas;
    if (replicas.placeableReplicas !== undefined) record.placeableReplicas = replicas.placeableReplicas;
  }
  const shown = j.warnings.map(clip);
  return { response: j.denial ? denied(uid, j.denial, shown) : allowed(uid, shown), record, warnings: j.warnings };
}

const skip = (uid: string, reason: string): HandlerResult => ({ response: allowed(uid), record: { decision: 'skipped', reason }, warnings: [] });

/** Allowed with one warning: the pod could not be judged. */
function notChecked(uid: string, why: string): HandlerResult {
  const warnings = [`placement-webhook: not checked: ${why}`];
  return { response: allowed(uid, warnings.map(clip)), record: { decision: 'allowed', reason: why }, warnings };
}

/** The pod's constraints, or why they cannot be read (a field the scheduler would refuse too). */
function constraintsOf(pod: V1Pod): Result<PodConstraints> {
  try {
    return ok(podConstraints(pod));
  } catch (err) {
    if (err instanceof PlacementError) return failure(err.message);
    throw err;
  }
}

/** `result` with `warnings` first (the compat checks' notes). */
function withWarnings(result: HandlerResult, warnings: readonly string[]): HandlerResult {
  if (warnings.length === 0) return result;
  const all = [...warnings, ...result.warnings];
  const shown = [...warnings.map(clip), ...(result.response.warnings ?? [])];
  return { response: { ...result.response, warnings: shown }, record: { ...result.record, warnings: all.length }, warnings: all };
}

/** A refusal by a plugin of `settings.compat` (its words, prefixed with its name). */
const compatDenial = (uid: string, message: string): HandlerResult => ({
  response: denied(uid, message),
  record: { decision: 'denied', reason: message, verdict: 'compat-denial' },
  warnings: [],
});

/**
 * A pod on UPDATE: only PodTolerationRestriction's whitelist is checked (`settings.compat`), when the update changes
 * the tolerations; everything else about a pod is fixed at creation.
 */
function validatePodUpdate(request: AdmissionRequest, ctx: AdmissionContext): HandlerResult {
  const { uid } = request;
  const ruleSet = ctx.rules();
  if (ruleSet.compat.podTolerationRestriction === undefined || !isObject(request.object)) return skip(uid, 'operation UPDATE');
  const pod = request.object as V1Pod;
  const namespace = podNamespace(request, pod);
  const excluded = skipReason(pod, namespace, ruleSet);
  if (excluded) return skip(uid, excluded);
  const old = isObject(request.oldObject) ? (request.oldObject as V1Pod) : undefined;
  const verdict = validateCompat('UPDATE', pod, old, namespace, ctx.namespaceAnnotations?.(namespace), ruleSet.compat);
  if (verdict.refusal !== undefined) return compatDenial(uid, verdict.refusal);
  return withWarnings(skip(uid, 'operation UPDATE'), verdict.warnings);
}

function validatePod(request: AdmissionRequest, ctx: AdmissionContext): HandlerResult {
  const { uid } = request;
  if (request.operation === 'UPDATE') return validatePodUpdate(request, ctx);
  if (request.operation !== 'CREATE') return skip(uid, `operation ${request.operation}`);
  if (!isObject(request.object)) return skip(uid, 'no object in the request');
  const pod = request.object as V1Pod;
  const namespace = podNamespace(request, pod);
  const ruleSet = ctx.rules();
  const excluded = skipReason(pod, namespace, ruleSet);
  // The plugins of settings.compat check the final pod whatever its scheduler and the validation mode.
  const compat = excluded
    ? { warnings: [] }
    : validateCompat('CREATE', pod, undefined, namespace, ctx.namespaceAnnotations?.(namespace), ruleSet.compat);
  if (compat.refusal !== undefined) return compatDenial(uid, compat.refusal);
  const skipped = otherScheduler(pod.spec) ?? excluded;
  if (skipped) return withWarnings(skip(uid, skipped), compat.warnings);
  if (ruleSet.validation.mode === 'off') return withWarnings(skip(uid, 'validation mode off'), compat.warnings);
  const constraints = constraintsOf(pod);
  if (!constraints.ok) return withWarnings(notChecked(uid, constraints.error), compat.warnings);
  const c = constraints.value;
  // The Priority admission plugin has set spec.priority by now (0 without a class and without a global default).
  const priority = typeof pod.spec?.priority === 'number' ? pod.spec.priority : 0;
  return withWarnings(
    respond(uid, judge({ pod, constraints: c, namespace, warnOnly: isDaemonSetPod(pod), prefix: '', priority }, ctx, ruleSet)),
    compat.warnings,
  );
}

/**
 * A workload on CREATE, or on an UPDATE that changes its template, its replicas or its update strategy (a scale
 * arrives here too, through its `scale` subresource). Only a changed template can be refused as "can never run";
 * the replicas and the strategy get the pending answers (their own, and the whole workload's).
 */
function validateWorkload(request: AdmissionRequest, w: Workload, ctx: AdmissionContext): HandlerResult {
  const { uid } = request;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return skip(uid, `operation ${request.operation}`);
  if (w.ownedByDeployment) return skip(uid, 'owned by a Deployment, which is judged instead');
  if (!w.template) return skip(uid, 'no pod template');
  const updating = request.operation === 'UPDATE';
  // An unchanged template was judged when it was last changed; unless the workload was at zero replicas then.
  const templateChanged = !updating || !w.oldTemplate || !sameJson(w.template, w.oldTemplate) || w.oldReplicas === 0;
  const replicasChanged = w.replicas !== w.oldReplicas;
  const strategyChanged = !sameJson(w.strategy, w.oldStrategy);
  if (updating && !templateChanged && !replicasChanged && !strategyChanged) return skip(uid, 'pod template, replicas and strategy unchanged');
  if (w.replicas === 0) return skip(uid, 'replicas: 0');
  const scheduler = otherScheduler(w.template.spec);
  if (scheduler) return skip(uid, scheduler);
  const namespace = request.namespace || 'default';
  const ruleSet = ctx.rules();
  if (ruleSet.excludedNamespaces.has(namespace)) return skip(uid, `namespace ${namespace} is excluded`);
  if (ruleSet.validation.mode === 'off') return skip(uid, 'validation mode off');

  const prefix = `${w.what}: `;
  const mutation = mutatePod(
    templatePod(w.template, namespace, w.daemonSet),
    ruleSet,
    namespace,
    withNameLabel(namespace, ctx.namespaceLabels(namespace)),
    undefined,
    ctx.namespaceAnnotations?.(namespace),
  );
  if (mutation.kind === 'denied') {
    const j: Judgement =
      w.daemonSet || !templateChanged
        ? { warnings: [`${prefix}its pods will be rejected: ${mutation.denial}`], verdict: 'rule-denial' }
        : { denial: `${prefix}its pods would be rejected: ${mutation.denial}`, warnings: [], verdict: 'rule-denial' };
    return respond(uid, j);
  }
  const constraints = constraintsOf(mutation.pod);
  if (!constraints.ok) return notChecked(uid, constraints.error);
  const c = constraints.value;
  // A template carries a class name at most: its pods' priority is that class's, where the classes are known.
  const priority =
    typeof mutation.pod.spec?.priority === 'number' ? mutation.pod.spec.priority : ctx.priorityOf?.(mutation.pod.spec?.priorityClassName);
  const replicas = w.replicas ?? 1;
  const oldReplicas = w.oldReplicas ?? 1;
  // The next pod is a new one beside the workload's pods only when it creates pods they do not replace.
  const addsPods = !updating || w.oldReplicas === 0 || replicas > oldReplicas;
  const subject = {
    pod: mutation.pod,
    constraints: c,
    namespace,
    warnOnly: w.daemonSet,
    staticWarnOnly: !templateChanged,
    prefix,
    priority,
    askNow: addsPods,
  };
  const one = judge(subject, ctx, ruleSet);
  // What can never run is the whole answer; a refusal for now is told with the workload's own answers.
  if (one.denial && one.verdict !== 'pending') return respond(uid, one);
  const name = w.what.slice(w.kind.length + 1);
  const all = judgeWorkload(
    {
      ...subject,
      what: w.what,
      kind: w.kind,
      name,
      replicas,
      selector: w.selector,
      strategy: w.strategy,
      podManagementPolicy: w.podManagementPolicy,
      scalingDown: updating && replicas < oldReplicas,
    },
    ctx,
    ruleSet,
  );
  const denial = [one.denial, all.denial].filter((d) => d !== undefined).join(' ');
  const j: Judgement = {
    ...one,
    ...(denial ? { denial, verdict: 'pending' } : {}),
    warnings: [...one.warnings, ...all.warnings],
  };
  return respond(uid, j, { replicas, placeableReplicas: all.placeableReplicas });
}

/**
 * `kubectl scale` arrives as the workload's `scale` subresource: a Scale object, the workload read from the API
 * server (see `AdmissionContext.scaled`). It changes no template, so it gets only the pending answers.
 */
function validateScale(request: AdmissionRequest, ctx: AdmissionContext, scaled: unknown): HandlerResult {
  const { uid } = request;
  const kind = workloadKind(request.resource.group, kindOfResource(request.resource.resource));
  if (!kind || scaled === undefined)
    return skip(uid, `scale of ${request.resource.resource}: the ${scaled === undefined ? 'workload could not be read' : 'kind is not judged'}`);
  const replicas = (request.object as { spec?: { replicas?: unknown } } | undefined)?.spec?.replicas;
  const oldReplicas = (request.oldObject as { spec?: { replicas?: unknown } } | undefined)?.spec?.replicas;
  const object = structuredClone(scaled) as { spec?: Record<string, unknown> };
  if (typeof replicas === 'number') object.spec = { ...(object.spec ?? {}), replicas };
  const old = structuredClone(scaled) as { spec?: Record<string, unknown> };
  if (typeof oldReplicas === 'number') old.spec = { ...(old.spec ?? {}), replicas: oldReplicas };
  return validateWorkload({ ...request, operation: 'UPDATE', object, oldObject: old }, workloadOf(kind, object, old, request.name), ctx);
}

export function handleValidate(request: AdmissionRequest, ctx: AdmissionContext, prepared?: Prepared): HandlerResult {
  const { uid, kind } = request;
  if (request.subResource === 'scale') return validateScale(request, ctx, prepared?.scaled);
  if (request.subResource) return skip(uid, `subresource ${request.subResource}`);
  if (kind.group === '' && kind.kind === 'Pod') return validatePod(request, ctx);
  if (kind.group === '' && kind.kind === 'ConfigMap') return validateRulesConfigMap(request, prepared?.rules);
  const w = workload(request);
  if (w) return validateWorkload(request, w, ctx);
  return skip(uid, `kind ${kind.group ? `${kind.group}/` : ''}${kind.kind} is not validated`);
}
