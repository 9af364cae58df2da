/**
 * Which pods the webhook leaves alone, and which rules apply to the others.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Labels } from '../scheduling/types.js';
import type { CompiledRule, RuleSet } from './compile.js';

export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Why a pod is not touched at all, or undefined when rules may apply to it. */
export function skipReason(pod: V1Pod, namespace: string, ruleSet: RuleSet): string | undefined {
  if (ruleSet.excludedNamespaces.has(namespace)) return `namespace ${namespace} is excluded`;
  const annotations = pod.metadata?.annotations ?? {};
  if (Object.hasOwn(annotations, MIRROR_POD_ANNOTATION)) return 'mirror pod (managed by a kubelet)';
  return undefined;
}

/** A pod created by a DaemonSet controller (ownerReference kind DaemonSet of the apps group). */
export function isDaemonSetPod(pod: V1Pod): boolean {
  return (pod.metadata?.ownerReferences ?? []).some(
    // apiVersion is read defensively: mutation runs before the API server validates ownerReferences.
    (o) => o.kind === 'DaemonSet' && /^(apps|extensions)\//.test(String(o.apiVersion ?? '')),
  );
}

/** Namespace labels always carry `kubernetes.io/metadata.name` (the API server sets it since 1.21; we add it). */
export function withNameLabel(namespace: string, labels: Labels | undefined): Labels {
  return { ...(labels ?? {}), [NAMESPACE_NAME_LABEL]: namespace };
}

/**
 * The rules that apply to `pod`, in document order. Pods owned by a DaemonSet only get rules that opt in with
 * `match.includeDaemonSetPods` (a DaemonSet's pods pinned away from their node would be recreated forever).
 */
export function matchingRules(ruleSet: RuleSet, pod: V1Pod, namespace: string, namespaceLabels: Labels): CompiledRule[] {
  const subject = { namespace, namespaceLabels, podLabels: pod.metadata?.labels ?? {}, podAnnotations: pod.metadata?.annotations ?? {} };
  const daemonSetPod = isDaemonSetPod(pod);
  return ruleSet.rulesFor(namespace, subject.podLabels).filter((r) => (!daemonSetPod || r.includeDaemonSetPods) && r.matches(subject));
}
