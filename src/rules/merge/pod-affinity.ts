import type { V1Affinity, V1PodAffinity, V1PodAntiAffinity, V1PodSpec } from '@kubernetes/client-node';
import { appendMissing } from './lists.js';

type PodAffinityLike = V1PodAffinity | V1PodAntiAffinity;

function mergeOne(current: PodAffinityLike, wanted: PodAffinityLike): void {
  const required = wanted.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  const preferred = wanted.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  if (required.length > 0) appendMissing((current.requiredDuringSchedulingIgnoredDuringExecution ??= []), required);
  if (preferred.length > 0) appendMissing((current.preferredDuringSchedulingIgnoredDuringExecution ??= []), preferred);
}

const hasTerms = (p: PodAffinityLike | undefined): p is PodAffinityLike =>
  (p?.requiredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0 || (p?.preferredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0;

/**
 * `spec.affinity.podAffinity` and `podAntiAffinity`, required and preferred: each rule term that is not already
 * present (deep equality) is appended. Pod-affinity terms are ANDed by the scheduler, so appending narrows.
 */
export function mergePodAffinity(spec: V1PodSpec, wanted: V1Affinity | undefined): void {
  if (hasTerms(wanted?.podAffinity)) mergeOne(((spec.affinity ??= {}).podAffinity ??= {}), wanted.podAffinity);
  if (hasTerms(wanted?.podAntiAffinity)) {
    mergeOne(((spec.affinity ??= {}).podAntiAffinity ??= {}), wanted.podAntiAffinity);
  }
}
