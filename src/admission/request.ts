/** What an admission request is about: the pod's namespace, the workload it carries. */
import type { V1Pod } from '@kubernetes/client-node';
import { isObject } from '../util/json.js';
import { workloadKind, workloadOf, type Workload } from '../workloads/workloads.js';
import type { AdmissionRequest } from './types.js';

/** The namespace a pod is created in: the request's, else the object's, else `default` (as the API server defaults it). */
export function podNamespace(request: AdmissionRequest, pod: V1Pod): string {
  return request.namespace || pod.metadata?.namespace || 'default';
}

/** The workload a request is about, or undefined when its kind holds no pod template. */
export function workload(request: AdmissionRequest): Workload | undefined {
  const kind = workloadKind(request.kind.group, request.kind.kind);
  if (!kind || !isObject(request.object)) return undefined;
  return workloadOf(kind, request.object, request.oldObject, request.name);
}
