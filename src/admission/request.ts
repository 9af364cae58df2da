import type { V1Pod } from '@kubernetes/client-node';
import type { AdmissionRequest } from './types.js';

/** The namespace a pod is created in: the request's, else the object's, else `default` (as the API server defaults it). */
export function podNamespace(request: AdmissionRequest, pod: V1Pod): string {
  return request.namespace || pod.metadata?.namespace || 'default';
}
