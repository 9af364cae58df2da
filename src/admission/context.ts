import type { CapacityView } from '../capacity/capacity.js';
import type { PodsView } from '../scheduling/now.js';
import type { RuleSet } from '../rules/compile.js';
import type { ValidationVerdict } from './judge.js';
import type { AdmissionRequest } from './types.js';
import type { NodeIndex } from '../scheduling/node-index.js';
import type { Labels } from '../scheduling/types.js';

/** The nodes as the webhook knows them, and whether that knowledge can be trusted for a denial. */
export interface NodeView {
  readonly index: NodeIndex;
  /** Why the node list is incomplete now (never synced, disconnected too long), or undefined when it is sound. */
  readonly incomplete: string | undefined;
}

/**
 * What the handlers read of the world. A review sees one rule set and one cluster view from start to end because
 * handlers are synchronous and the data changes only between reviews: the rule set is swapped whole on a reload, the
 * node index and the namespace and pod caches are updated in place by watch events, which run in turns of their own.
 */
export interface AdmissionContext {
  /** The rule set in force now. */
  rules(): RuleSet;
  /** Labels of a namespace, or undefined when it is not known (then only `kubernetes.io/metadata.name` is assumed). */
  namespaceLabels(name: string): Labels | undefined;
  /**
   * The annotations of a namespace that `settings.compat` reads (the PodNodeSelector and PodTolerationRestriction
   * ones), or undefined when the namespace is not known. Absent: never known (the plugins apply nothing, with a
   * warning).
   */
  namespaceAnnotations?(name: string): Readonly<Record<string, string>> | undefined;
  /**
   * Makes `namespaceLabels(name)` know the namespace if it can: a namespace created a moment ago may not have reached
   * the cache yet (its first pods follow right after), so a cache miss is read from the API server. Bounded in
   * time; never throws. Absent where the namespaces are fixed (files).
   */
  ensureNamespace?(name: string): Promise<void>;
  nodes(): NodeView;
  /**
   * Capacity the cluster's autoscalers can add (Karpenter NodePools, Cluster API groups), beyond the rules' own
   * node templates. Absent: none.
   */
  capacity?(): CapacityView;
  /**
   * The pods bound to nodes, for "would it be scheduled now". Absent, or undefined: not known (the pod cache is off),
   * and only "can it ever run" is answered.
   */
  pods?(): PodsState | undefined;
  /**
   * The workload a `scale` subresource request is about, read from the API server (bounded in time; undefined when it
   * cannot be read — the scale is then allowed unjudged). Absent where there is no API server.
   */
  scaled?(request: AdmissionRequest): Promise<unknown>;
  /**
   * The priority pods of a PriorityClass get (none: the global default's, else 0); undefined when not known.
   * Templates carry only the class name: this is how their pods' priority is known (for preemption).
   */
  priorityOf?(className: string | undefined): number | undefined;
}

/** The pod cache, and whether it can be trusted now. */
export interface PodsState extends PodsView {
  /** Why the pods are not known well enough now (never listed, disconnected too long), or undefined. */
  readonly incomplete: string | undefined;
}

/** One line of the review log: never the object itself (pods carry secrets in env). */
export interface ReviewRecord {
  decision: 'allowed' | 'patched' | 'denied' | 'skipped';
  reason?: string;
  appliedRules?: readonly string[];
  warnings?: number;
  verdict?: ValidationVerdict;
  /** Would the scheduler bind it now (when the pod cache answered). */
  schedulableNow?: boolean;
  pendingMessage?: string;
  /** For replicated workloads: replicas (a Job's parallelism) and how many can be placed. */
  replicas?: number;
  placeableReplicas?: number;
}
