/**
 * Merging a rule's placement into a pod spec, one file per field: the semantics of each are documented there.
 * The spec is edited in place: callers pass a clone and diff it against the original to build the patch.
 */
import type { V1Affinity, V1PodSpec, V1Toleration, V1TopologySpreadConstraint } from '@kubernetes/client-node';
import { mergeContainers, type ContainerInjection } from './containers.js';
import { mergeNodeAffinity } from './node-affinity.js';
import { mergeNodeSelector } from './node-selector.js';
import { mergePodAffinity } from './pod-affinity.js';
import { newReport, type MergeReport } from './report.js';
import { mergeTolerations } from './tolerations.js';
import { mergeTopologySpread } from './topology-spread.js';

export type { Conflict, MergeReport } from './report.js';
export { MAX_NODE_SELECTOR_TERMS } from './node-affinity.js';

/** The placement a rule injects, in core/v1 shapes. */
export interface Placement extends ContainerInjection {
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined;
  readonly tolerations?: readonly V1Toleration[] | undefined;
  readonly affinity?: V1Affinity | undefined;
  readonly topologySpreadConstraints?: readonly V1TopologySpreadConstraint[] | undefined;
}

/** Merges `placement` into `spec` (in place). With `override`, conflicting pod values are replaced by the rule's. */
export function mergePlacement(spec: V1PodSpec, placement: Placement, override: boolean): MergeReport {
  const report = newReport();
  mergeNodeSelector(spec, placement.nodeSelector, override, report);
  mergeNodeAffinity(spec, placement.affinity?.nodeAffinity, report);
  mergePodAffinity(spec, placement.affinity);
  mergeTolerations(spec, placement.tolerations);
  mergeTopologySpread(spec, placement.topologySpreadConstraints, override, report);
  mergeContainers(spec, placement, override, report);
  return report;
}
