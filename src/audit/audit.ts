/**
 * `audit(inputs)`: what is wrong with placement right now, as findings (`./findings.ts`), with the webhook's own
 * engine — the rules' mutation for drift, the scheduler model for everything else:
 *
 * 1. every pod that is not finished: drift from the rules (`./drift.ts`), judged as if created now;
 * 2. every bound pod: the constraints violated on its node during execution (`./execution.ts`), each with whether
 *    another node would take it now;
 * 3. every unassigned pod: why it is Pending, "can never run" or "not now" (`./pending.ts`);
 * 4. every workload given: replicas that cannot all be placed, rollouts that can never progress (`./workloads.ts`).
 *
 * Not judged, and said in `notes`: pods bound to a node the node list does not have (no filter sees them), pods whose
 * requests do not parse. Mirror pods, pods being deleted and pods of other schedulers get no finding; pods in the
 * rules' excluded namespaces get no drift finding (the rules never apply there), but every other one.
 *
 * Pure: the inputs are read, never changed (the pod view and the node index are changed and restored while a pod is
 * judged). Cost: one mutation per pod, the node and inter-pod checks on the pod's own node, and a full "would it be
 * scheduled now" only for a pod with a `warn` or `fail` finding.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_SCHEDULER } from '../admission/validate.js';
import { MIRROR_POD_ANNOTATION } from '../rules/select.js';
import { QuantityError } from '../scheduling/quantity.js';
import { isObject } from '../util/json.js';
import { templatePod, WORKLOAD_KINDS } from '../workloads/workloads.js';
import { driftFinding } from './drift.js';
import { executionFindings } from './execution.js';
import { compareFindings, ordered, type Finding, type ObjectRef } from './findings.js';
import { Owners } from './owner.js';
import { notPending, pendingFinding } from './pending.js';
import { AuditView, podNamespace, type AuditInputs } from './view.js';
import { workloadFindings } from './workloads.js';

export type { AuditInputs } from './view.js';
export type { Finding, FindingKind, ObjectRef, Severity } from './findings.js';

export interface AuditOptions {
  /** Called every {@link PROGRESS_EVERY} objects and once at the end, with objects judged and their total. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface AuditReport {
  /** In the documented order (namespace, severity, kind, object, rule), keys in the documented order. */
  readonly findings: Finding[];
  /** What was not judged, and why (one line each). */
  readonly notes: string[];
}

/** How often progress is reported, in objects. */
export const PROGRESS_EVERY = 1000;

export const podRef = (pod: V1Pod): ObjectRef => ({ apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name ?? pod.metadata?.generateName ?? '' });

/** Whether the pod is finished, being deleted, or a mirror pod: nothing about its placement can change. */
export function settled(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return true;
  if (pod.metadata?.deletionTimestamp) return true;
  return Object.hasOwn(pod.metadata?.annotations ?? {}, MIRROR_POD_ANNOTATION);
}

/**
 * The pod the pod's controller creates now: from the template of the workload to roll out (a Deployment's current
 * template rather than its ReplicaSet's), else of the workload that directly owns the pod, when it was given.
 */
function ownerTemplate(pod: V1Pod, namespace: string, owners: Owners, owner: ObjectRef | undefined): V1Pod | undefined {
  const direct = (pod.metadata?.ownerReferences ?? []).find((r) => r.controller === true);
  for (const ref of [owner, direct && { apiVersion: direct.apiVersion, kind: direct.kind, name: direct.name }]) {
    const kind = ref && WORKLOAD_KINDS.find((k) => k.kind === ref.kind);
    const object = ref && kind && owners.object(namespace, ref);
    const template = object && kind ? kind.templatePath.reduce<unknown>((cur, k) => (isObject(cur) ? cur[k] : undefined), object) : undefined;
    if (isObject(template) && kind) return templatePod(template, namespace, kind.daemonSet);
  }
  return undefined;
}

/** The findings of one pod against `view` (drift, then execution or pending). */
export function podFindings(pod: V1Pod, view: AuditView, owners: Owners, notes: Map<string, number>): Finding[] {
  if (settled(pod)) return [];
  const namespace = podNamespace(pod);
  const object = podRef(pod);
  const owner = owners.ownerOf(pod, namespace);
  const out: Finding[] = [];
  const drift = driftFinding(pod, namespace, view.labelsOf(namespace), view.ruleSet, object, owner, ownerTemplate(pod, namespace, owners, owner));
  if (drift) out.push(drift);
  const nodeName = pod.spec?.nodeName;
  const scheduler = pod.spec?.schedulerName;
  if (scheduler && scheduler !== DEFAULT_SCHEDULER) return out;
  try {
    if (nodeName) {
      const node = view.index.get(nodeName);
      if (!node) notes.set('bound to a node the node list does not have', (notes.get('bound to a node the node list does not have') ?? 0) + 1);
      else out.push(...executionFindings(pod, namespace, node, view, object, owner));
    } else if (notPending(pod) === undefined) {
      const pending = pendingFinding(pod, namespace, view, object, owner);
      if (pending) out.push(pending);
    }
  } catch (err) {
    if (!(err instanceof QuantityError)) throw err;
    notes.set('requests that do not parse', (notes.get('requests that do not parse') ?? 0) + 1);
  }
  return out;
}

/** The audit of `inputs` (see the header). */
export function audit(inputs: AuditInputs, options: AuditOptions = {}): AuditReport {
  const view = new AuditView(inputs);
  return auditView(view, inputs.pods, inputs.workloads ?? [], options);
}

/** The audit against a view already built (the what-if audits the same pods against a changed view). */
export function auditView(view: AuditView, pods: readonly V1Pod[], workloads: readonly unknown[], options: AuditOptions = {}): AuditReport {
  const owners = new Owners(workloads);
  const notes = new Map<string, number>();
  const findings: Finding[] = [];
  const total = pods.length + workloads.length;
  let done = 0;
  const tick = () => {
    done++;
    if (done % PROGRESS_EVERY === 0) options.onProgress?.(done, total);
  };
  for (const pod of pods) {
    findings.push(...podFindings(pod, view, owners, notes));
    tick();
  }
  for (const w of workloads) {
    try {
      findings.push(...workloadFindings(w, view));
    } catch (err) {
      if (!(err instanceof QuantityError)) throw err;
      notes.set('workload templates whose requests do not parse', (notes.get('workload templates whose requests do not parse') ?? 0) + 1);
    }
    tick();
  }
  options.onProgress?.(total, total);
  return {
    findings: findings.map(ordered).sort(compareFindings),
    notes: [...notes].map(([why, n]) => `${n} ${n === 1 ? 'object' : 'objects'} not judged: ${why}`),
  };
}
