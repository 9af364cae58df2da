/**
 * The kube-scheduler's reason strings, and its "0/N nodes are available" message. Filters return what failed
 * (`Failure`); only this module turns that into words.
 */
import type { V1Taint } from '@kubernetes/client-node';
import type { InsufficientResource } from './resources.js';

export const REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
export const REASON_NODE_NAME = "node(s) didn't match the requested node name";
export const REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
export const REASON_TOO_MANY_PODS = 'Too many pods';
export const REASON_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports";
export const REASON_SPREAD = "node(s) didn't match pod topology spread constraints";
export const REASON_SPREAD_MISSING_LABEL = `${REASON_SPREAD} (missing required label)`;
export const REASON_POD_AFFINITY = "node(s) didn't match pod affinity rules";
export const REASON_POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
export const REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";

export const untoleratedTaintReason = (t: V1Taint) => `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`;

export const insufficientReason = (resourceName: string) => (resourceName === 'pods' ? REASON_TOO_MANY_PODS : `Insufficient ${resourceName}`);

/** The first filter (in the scheduler's order) that rejects a node, with what it found. */
export type Failure =
  | { readonly filter: 'NodeUnschedulable' }
  | { readonly filter: 'NodeName' }
  | { readonly filter: 'TaintToleration'; readonly taint: V1Taint }
  | { readonly filter: 'NodeAffinity' }
  | { readonly filter: 'NodeResourcesFit'; readonly insufficient: readonly InsufficientResource[] };

/** The reasons a failure counts under (NodeResourcesFit: one per insufficient resource). */
export function failureReasons(f: Failure): string[] {
  switch (f.filter) {
    case 'NodeUnschedulable':
      return [REASON_UNSCHEDULABLE];
    case 'NodeName':
      return [REASON_NODE_NAME];
    case 'TaintToleration':
      return [untoleratedTaintReason(f.taint)];
    case 'NodeAffinity':
      return [REASON_NODE_AFFINITY];
    case 'NodeResourcesFit':
      return f.insufficient.map((r) => insufficientReason(r.resourceName));
  }
}

/** Counts of nodes per reason, as the scheduler keeps them. */
export class ReasonCounts {
  readonly counts = new Map<string, number>();

  add(reason: string, n = 1): void {
    if (n > 0) this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }
}

/**
 * `0/5 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}.` — entries
 * `<count> <reason>`, sorted as strings (count included, as the scheduler does), joined with ", ".
 */
export function fitErrorMessage(totalNodes: number, reasons: ReasonCounts): string {
  const entries = [...reasons.counts].map(([reason, count]) => `${count} ${reason}`).sort();
  return `0/${totalNodes} nodes are available: ${entries.join(', ')}.`;
}
