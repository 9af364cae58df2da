/**
 * The cluster as the audit reads it: the node index, the pods bound to nodes as the scheduler's cache holds them
 * (`PodIndex`, one `PlacedPod` per full pod), namespace labels, the rules and addable capacity, in the shapes the
 * scheduling model takes.
 *
 * A pod is judged against the others, never against itself: `without(pod, fn)` takes it out of the pod view for the
 * time of `fn` (its resources, ports, labels and anti-affinity terms no longer count) and puts it back; and
 * `withNodeCordoned(node, fn)` asks "would another node take it" with its own node out of the candidates. Both change
 * the view (which may be a caller's index: the webhook's caches) only for the time of a synchronous `fn`.
 */
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import { combine, judgeCapacity, NO_CAPACITY, type CapacityAnswer, type CapacityView } from '../capacity/capacity.js';
import { templateCapacities } from '../capacity/templates.js';
import { toPlacementNode } from '../scheduling/placement-node.js';
import type { RuleSet } from '../rules/compile.js';
import { withNameLabel } from '../rules/select.js';
import type { PodConstraints } from '../scheduling/feasibility.js';
import { NodeIndex } from '../scheduling/node-index.js';
import type { PodsView } from '../scheduling/now.js';
import { PodIndex, PodReader, type PlacedPod } from '../scheduling/pods.js';
import type { Labels } from '../scheduling/types.js';

/** What the audit reads. Everything is data; nothing is fetched. */
export interface AuditInputs {
  /** The nodes: an index, or the Node objects (`kubectl get nodes -o yaml`). */
  readonly nodes: NodeIndex | readonly V1Node[];
  /** Full pods, bound and unbound (finished ones are ignored). */
  readonly pods: readonly V1Pod[];
  /**
   * Namespace labels: by name, as the Namespace objects, or as a lookup. A namespace not known has only
   * `kubernetes.io/metadata.name`.
   */
  readonly namespaces?: ReadonlyMap<string, Labels> | readonly V1Namespace[] | ((name: string) => Labels | undefined);
  readonly rules: RuleSet;
  /** Deployments, StatefulSets, ReplicaSets, DaemonSets, Jobs, CronJobs, ReplicationControllers, as objects. */
  readonly workloads?: readonly unknown[];
  /** Capacity autoscalers can add (NodePools, Cluster API groups); the rules' node templates are always added. */
  readonly capacity?: CapacityView;
}

export const podNamespace = (pod: V1Pod): string => pod.metadata?.namespace || 'default';

export class AuditView {
  readonly index: NodeIndex;
  readonly podIndex = new PodIndex();
  readonly reader = new PodReader();
  /** The pods as placed in the pod view, by object. */
  readonly placed = new Map<V1Pod, PlacedPod>();
  readonly ruleSet: RuleSet;
  private readonly namespaceOf: (name: string) => Labels | undefined;
  readonly capacityView: CapacityView;
  readonly podsView: PodsView;

  constructor(inputs: AuditInputs) {
    this.index = inputs.nodes instanceof NodeIndex ? inputs.nodes : new NodeIndex(inputs.nodes.map(toPlacementNode));
    this.ruleSet = inputs.rules;
    const ns = inputs.namespaces;
    if (typeof ns === 'function') this.namespaceOf = ns;
    else {
      const map: ReadonlyMap<string, Labels> =
        ns === undefined
          ? new Map<string, Labels>()
          : ns instanceof Map
            ? ns
            : new Map((ns as readonly V1Namespace[]).map((n) => [n.metadata?.name ?? '', { ...(n.metadata?.labels ?? {}) }]));
      this.namespaceOf = (name) => map.get(name);
    }
    this.capacityView = inputs.capacity ?? NO_CAPACITY;
    for (const pod of inputs.pods) this.add(pod);
    this.podsView = { index: this.podIndex, namespaceLabels: (n) => this.labelsOf(n) };
  }

  /** Adds a pod to the pod view (a pod no filter counts — unbound, finished — is left out). */
  add(pod: V1Pod): void {
    const p = this.reader.read(pod);
    if (!p) return;
    this.podIndex.upsert(p);
    this.placed.set(pod, p);
  }

  /** A namespace's labels, `kubernetes.io/metadata.name` included. */
  labelsOf(namespace: string): Labels {
    return withNameLabel(namespace, this.namespaceOf(namespace));
  }

  /** Runs `fn` with `pod` out of the pod view (when it is in it). */
  without<T>(pod: V1Pod, fn: () => T): T {
    const p = this.placed.get(pod);
    if (!p || this.podIndex.get(p.namespace, p.name) !== p) return fn();
    this.podIndex.remove(p.namespace, p.name);
    try {
      return fn();
    } finally {
      this.podIndex.upsert(p);
    }
  }

  /**
   * Runs `fn` with the node cordoned (`spec.unschedulable`), then puts it back as it was: the question "would another
   * node take the pod" keeps the node as a topology domain and its pods in every count, and only takes it away as a
   * candidate (a pod that tolerates the cordon may still be given it).
   */
  withNodeCordoned<T>(name: string, fn: () => T): T {
    const node = this.index.get(name);
    if (!node || node.unschedulable) return fn();
    this.index.upsert({ ...node, unschedulable: true });
    try {
      return fn();
    } finally {
      this.index.upsert(node);
    }
  }

  /** Capacity an autoscaler could add for the pod: the rules' node templates first, then the cluster's sources. */
  addable(c: PodConstraints): CapacityAnswer {
    return judgeCapacity(combine(templateCapacities(this.ruleSet.validation.nodeTemplates), this.capacityView), c);
  }
}
