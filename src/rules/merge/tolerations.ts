import type { V1PodSpec, V1Toleration } from '@kubernetes/client-node';
import { sameToleration } from '../../scheduling/taints.js';
import { appendMissing } from './lists.js';

/**
 * `spec.tolerations`: each rule toleration the pod does not already have is appended; existing tolerations are
 * never modified or removed. "Already have" compares after Kubernetes' defaults, so `{key: spot, value: "true"}`
 * and `{key: spot, operator: Equal, value: "true"}` are the same toleration.
 */
export function mergeTolerations(spec: V1PodSpec, wanted: readonly V1Toleration[] | undefined): void {
  if (!wanted || wanted.length === 0) return;
  const current = [...(spec.tolerations ?? [])];
  if (appendMissing(current, wanted, sameToleration) > 0) spec.tolerations = current;
}
