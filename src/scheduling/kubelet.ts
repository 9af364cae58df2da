/**
 * How the kubelet admits a pod that is already bound to its node (`spec.nodeName` set at creation): such a pod never
 * passes through the scheduler, so cordons and NoSchedule taints do not apply to it. After
 * `pkg/kubelet/lifecycle/predicate.go` (`predicateAdmitHandler.Admit`, `generalFilter`) and the checks it shares with
 * the scheduler (`AdmissionCheck`: `noderesources.Fits`, the required node affinity, `nodename.Fits`,
 * `nodeports.Fits`):
 *
 * 1. **Resources** — the pod's effective requests against the node's allocatable (free capacity is not modelled
 *    here), after `removeMissingExtendedResources`: an extended resource the node does not list at all is not
 *    checked (cluster-level resources must not block admission).
 * 2. **Node affinity** — `nodeSelector` AND required node affinity, as the scheduler reads them.
 * 3. **Taints** — only `NoExecute` taints must be tolerated (current kubelets; v1.20's checked none). A condition
 *    taint (`not-ready`, `unreachable`) is transient: it never makes the pod rejected here, only warned about.
 *
 * The kubelet reports only the first failure, in this order, and a rejected pod ends `Failed` (not Pending): the
 * pod's controller, if any, creates another one — bound to the same node, rejected again.
 */
import type { V1Taint } from '@kubernetes/client-node';
import { formatAmount } from './explain.js';
import type { PodConstraints } from './feasibility.js';
import { safeAllocatable } from './node-index.js';
import { REASON_NODE_AFFINITY, insufficientReason, untoleratedTaintReason } from './reasons.js';
import { insufficientResources, isExtendedResourceName, type InsufficientResource } from './resources.js';
import { CONDITION_TAINT_KEYS, findUntoleratedTaint } from './taints.js';
import type { PlacementNode } from './types.js';

/** Why the kubelet on a node would reject a pod (the first check that fails). */
export type KubeletFailure =
  | { readonly check: 'NodeResourcesFit'; readonly insufficient: readonly InsufficientResource[] }
  | { readonly check: 'NodeAffinity' }
  | { readonly check: 'TaintToleration'; readonly taint: V1Taint };

export type KubeletVerdict =
  /** The kubelet admits the pod. */
  | { readonly kind: 'admits' }
  /** It admits it, but the node has a condition taint the pod does not tolerate (the pod may be evicted). */
  | { readonly kind: 'admits-transient'; readonly taint: V1Taint }
  /** It rejects it: the pod goes Failed. */
  | { readonly kind: 'rejects'; readonly failure: KubeletFailure };

const NO_EXECUTE = ['NoExecute'] as const;

/** The kubelet's verdict on `node` for a pod bound to it. */
export function kubeletVerdict(c: PodConstraints, node: PlacementNode): KubeletVerdict {
  const allocatable = safeAllocatable(node);
  const requests = new Map([...c.requests].filter(([name]) => !isExtendedResourceName(name) || allocatable.has(name)));
  const insufficient = insufficientResources(requests, allocatable);
  if (insufficient.length > 0) return { kind: 'rejects', failure: { check: 'NodeResourcesFit', insufficient } };
  if (!c.affinity.matches(node)) return { kind: 'rejects', failure: { check: 'NodeAffinity' } };
  const lasting = node.taints.filter((t) => !CONDITION_TAINT_KEYS.includes(t.key));
  const taint = findUntoleratedTaint(lasting, c.tolerations, NO_EXECUTE);
  if (taint) return { kind: 'rejects', failure: { check: 'TaintToleration', taint } };
  const condition = findUntoleratedTaint(
    node.taints.filter((t) => CONDITION_TAINT_KEYS.includes(t.key)),
    c.tolerations,
    NO_EXECUTE,
  );
  return condition ? { kind: 'admits-transient', taint: condition } : { kind: 'admits' };
}

/** The failure in the scheduler's words (the kubelet's own events say only "Predicate X failed"). */
export function kubeletFailureReason(f: KubeletFailure): string {
  switch (f.check) {
    case 'NodeResourcesFit':
      return f.insufficient
        .map((r) => {
          const amounts = `the pod requests ${formatAmount(r.resourceName, r.requested)}, the node has ${formatAmount(r.resourceName, r.capacity)}`;
          return `${insufficientReason(r.resourceName)} (${r.resourceName === 'pods' ? 'the node accepts no pods' : amounts})`;
        })
        .join(', ');
    case 'NodeAffinity':
      return REASON_NODE_AFFINITY;
    case 'TaintToleration':
      return `${untoleratedTaintReason(f.taint)} (NoExecute)`;
  }
}
