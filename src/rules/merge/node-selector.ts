import type { V1PodSpec } from '@kubernetes/client-node';
import type { MergeReport } from './report.js';

/**
 * `spec.nodeSelector`: keys the pod lacks are added. A key the pod already has with the same value is left alone;
 * with a different value it is a conflict, and the rule's value replaces the pod's only when `override` is set.
 */
export function mergeNodeSelector(
  spec: V1PodSpec,
  wanted: Readonly<Record<string, string>> | undefined,
  override: boolean,
  report: MergeReport,
): void {
  if (!wanted) return;
  // One copy of the pod's selector, made at the first key that changes it.
  let out: Record<string, string> | undefined;
  for (const key in wanted) {
    if (!Object.hasOwn(wanted, key)) continue;
    const value = wanted[key] as string;
    const current = out ?? spec.nodeSelector ?? {};
    if (!Object.hasOwn(current, key)) {
      (out ??= { ...current })[key] = value;
      continue;
    }
    const existing = current[key];
    if (existing === value) continue;
    report.conflicts.push({ subject: 'nodeSelector', existing: `${key}=${String(existing)}`, wanted: `${key}=${value}` });
    if (override) (out ??= { ...current })[key] = value;
  }
  if (out) spec.nodeSelector = out;
}
