import type { V1PodSpec, V1TopologySpreadConstraint } from '@kubernetes/client-node';
import { sameJson } from '../../util/json.js';
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
  const current = [...(spec.topologySpreadConstraints ?? [])];
  let changed = false;
  for (const w of wanted) {
    const i = current.findIndex((c) => c.topologyKey === w.topologyKey && c.whenUnsatisfiable === w.whenUnsatisfiable);
    if (i === -1) {
      current.push(structuredClone(w));
      changed = true;
      continue;
    }
    const existing = current[i] as V1TopologySpreadConstraint;
    if (sameJson(existing, w)) continue;
    report.conflicts.push({
      subject: `topologySpreadConstraint ${w.topologyKey}/${w.whenUnsatisfiable}`,
      existing: describe(existing),
      wanted: describe(w),
    });
    if (override) {
      current[i] = structuredClone(w);
      changed = true;
    }
  }
  if (changed) spec.topologySpreadConstraints = current;
}
