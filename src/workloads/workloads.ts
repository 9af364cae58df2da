/**
 * What the workload controllers do with a pod template: which kinds carry one and where, and the pod each
 * controller creates from it. Used by `/validate` (workloads are judged by their template) and by `check`.
 */
import type { V1Pod, V1PodTemplateSpec, V1Toleration } from '@kubernetes/client-node';
import { sameToleration } from '../scheduling/taints.js';
import type { Labels } from '../scheduling/types.js';
import { isObject } from '../util/json.js';

/** A kind whose objects hold a pod template. */
export interface WorkloadKind {
  readonly group: string;
  readonly kind: string;
  /** The plural resource name, as in an AdmissionReview's `resource`. */
  readonly resource: string;
  /** Where the pod template sits in the object. */
  readonly templatePath: readonly string[];
  readonly daemonSet: boolean;
}

const TEMPLATE = ['spec', 'template'] as const;

/** The kinds whose pod templates are checked. */
export const WORKLOAD_KINDS: readonly WorkloadKind[] = Object.freeze([
  { group: 'apps', kind: 'Deployment', resource: 'deployments', templatePath: TEMPLATE, daemonSet: false },
  { group: 'apps', kind: 'StatefulSet', resource: 'statefulsets', templatePath: TEMPLATE, daemonSet: false },
  { group: 'apps', kind: 'ReplicaSet', resource: 'replicasets', templatePath: TEMPLATE, daemonSet: false },
  { group: 'apps', kind: 'DaemonSet', resource: 'daemonsets', templatePath: TEMPLATE, daemonSet: true },
  { group: 'batch', kind: 'Job', resource: 'jobs', templatePath: TEMPLATE, daemonSet: false },
  { group: 'batch', kind: 'CronJob', resource: 'cronjobs', templatePath: ['spec', 'jobTemplate', 'spec', 'template'], daemonSet: false },
  { group: '', kind: 'ReplicationController', resource: 'replicationcontrollers', templatePath: TEMPLATE, daemonSet: false },
]);

/** `deployments` → `Deployment` (for a `scale` subresource, which names its workload by resource). */
export function kindOfResource(resource: string): string {
  return WORKLOAD_KINDS.find((k) => k.resource === resource)?.kind ?? resource;
}

/** The workload kind of `group`/`kind`, or undefined when it holds no pod template. */
export function workloadKind(group: string, kind: string): WorkloadKind | undefined {
  return WORKLOAD_KINDS.find((k) => k.group === group && k.kind === kind);
}

/** The value at `path` in `o`, or undefined when some step is not an object. */
function at(o: unknown, path: readonly string[]): unknown {
  let cur = o;
  for (const key of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

export interface Workload {
  /** e.g. `Deployment web` */
  readonly what: string;
  readonly kind: string;
  readonly template: V1PodTemplateSpec | undefined;
  readonly oldTemplate: V1PodTemplateSpec | undefined;
  readonly daemonSet: boolean;
  /** The pods it runs at once: `spec.replicas` (default 1 where the API defaults it), a Job's `parallelism`. */
  readonly replicas: number | undefined;
  readonly oldReplicas: number | undefined;
  /** `spec.selector` as labels (`matchLabels`, or the map of a ReplicationController): which pods are its own. */
  readonly selector: Labels | undefined;
  /** The update strategy (Deployment `strategy`, StatefulSet `updateStrategy`), as JSON for comparison. */
  readonly strategy: unknown;
  readonly oldStrategy: unknown;
  /** A ReplicaSet a Deployment owns (the Deployment is judged, never its ReplicaSets). */
  readonly ownedByDeployment: boolean;
  /** StatefulSet `podManagementPolicy` (default OrderedReady). */
  readonly podManagementPolicy: string | undefined;
}

/** The replicas field of a kind: a Job runs `parallelism` pods at once (default 1). */
const REPLICAS_PATH: Readonly<Record<string, readonly string[]>> = {
  Job: ['spec', 'parallelism'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'parallelism'],
};
const STRATEGY_PATH: Readonly<Record<string, readonly string[]>> = { Deployment: ['spec', 'strategy'], StatefulSet: ['spec', 'updateStrategy'] };

/** A workload object (and its previous version) as a `Workload`. */
export function workloadOf(kind: WorkloadKind, object: unknown, oldObject: unknown, requestName?: string): Workload {
  const template = at(object, kind.templatePath);
  const oldTemplate = at(oldObject, kind.templatePath);
  const replicasPath = REPLICAS_PATH[kind.kind] ?? ['spec', 'replicas'];
  // A Job's parallelism defaults to 1.
  const parallelism = replicasPath[replicasPath.length - 1] === 'parallelism';
  const replicas = at(object, replicasPath);
  const oldReplicas = at(oldObject, replicasPath);
  const metaName = at(object, ['metadata', 'name']);
  const name = requestName || (typeof metaName === 'string' ? metaName : '');
  const selector = kind.kind === 'ReplicationController' ? at(object, ['spec', 'selector']) : at(object, ['spec', 'selector', 'matchLabels']);
  const owners = at(object, ['metadata', 'ownerReferences']);
  const strategyPath = STRATEGY_PATH[kind.kind];
  const policy = at(object, ['spec', 'podManagementPolicy']);
  return {
    what: `${kind.kind} ${name}`.trim(),
    kind: kind.kind,
    template: isObject(template) ? template : undefined,
    oldTemplate: isObject(oldTemplate) ? oldTemplate : undefined,
    daemonSet: kind.daemonSet,
    replicas: typeof replicas === 'number' ? replicas : parallelism ? 1 : undefined,
    oldReplicas: typeof oldReplicas === 'number' ? oldReplicas : parallelism && isObject(oldObject) ? 1 : undefined,
    selector: isObject(selector) ? (Object.fromEntries(Object.entries(selector).filter(([, v]) => typeof v === 'string')) as Labels) : undefined,
    strategy: strategyPath ? at(object, strategyPath) : undefined,
    oldStrategy: strategyPath ? at(oldObject, strategyPath) : undefined,
    ownedByDeployment:
      kind.kind === 'ReplicaSet' &&
      Array.isArray(owners) &&
      owners.some((o) => isObject(o) && o['kind'] === 'Deployment' && o['controller'] === true),
    podManagementPolicy: typeof policy === 'string' ? policy : undefined,
  };
}

/**
 * Tolerations the DaemonSet controller adds to every pod it creates (`AddOrUpdateDaemonPodTolerations`), so that
 * a DaemonSet's template is judged as its pods will be.
 */
const DAEMONSET_TOLERATIONS: readonly V1Toleration[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];
const HOST_NETWORK_TOLERATION: V1Toleration = { key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' };

/** The pod a workload's controller would create, before any mutating webhook. */
export function templatePod(template: V1PodTemplateSpec, namespace: string, daemonSet: boolean): V1Pod {
  const spec = template.spec ?? { containers: [] };
  const controllerTolerations = daemonSet ? [...DAEMONSET_TOLERATIONS, ...(spec.hostNetwork ? [HOST_NETWORK_TOLERATION] : [])] : [];
  const tolerations = [...(spec.tolerations ?? [])];
  for (const t of controllerTolerations) if (!tolerations.some((x) => sameToleration(x, t))) tolerations.push(t);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace,
      ...(template.metadata?.labels ? { labels: template.metadata.labels } : {}),
      ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
      // So that rules treat the template as they will treat its pods (includeDaemonSetPods).
      ...(daemonSet ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'template', uid: 'template', controller: true }] } : {}),
    },
    spec: tolerations.length > 0 ? { ...spec, tolerations } : spec,
  };
}
