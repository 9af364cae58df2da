import type { V1PodSpec, V1TopologySpreadConstraint } from '@kubernetes/client-node';
import { mergeById } from './lists.js';
import type { MergeReport } from './report.js';

const describe = (c: V1TopologySpreadConstraint) => `maxSkew=${c.maxSkew}`;

/**
 * `spec.topologySpreadConstraints`: a rule constraint is appended unless the pod has one with the same
 * `topologyKey` and `whenUnsatisfiable` (the API server refuses two such). An identical one is left alone; a
 * different one is a conflict, replaced by the rule's only when `override` is set.
 */
export function mergeTopologySpread(
  spec: V1PodSpec,
  wanted: readonly V1TopologySpreadConstraint[] | undefined,
  override: boolean,
  report: MergeReport,
): void {
  if (!wanted || wanted.length === 0) return;
  const merged = mergeById(
    spec.topologySpreadConstraints,
    wanted,
    (c) => `${c.topologyKey}/${c.whenUnsatisfiable}`,
    (key) => `topologySpreadConstraint ${key}`,
    override,
    report,
    describe,
  );
  if (merged) spec.topologySpreadConstraints = merged;
}
