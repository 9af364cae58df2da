/**
 * Capacity an autoscaler can add, as nodes: hand-written node templates (`settings.validation.nodeTemplates`).
 */
import type { NodeTemplate } from '../rules/schema.js';
import type { PlacementNode } from '../scheduling/types.js';

/** A node template as a node: `pods` defaults to 110 (the kubelet's default) when the template does not say. */
export function templateNode(t: NodeTemplate): PlacementNode {
  return {
    name: t.name,
    labels: t.labels ?? {},
    taints: t.taints ?? [],
    unschedulable: false,
    allocatable: { pods: '110', ...Object.fromEntries(Object.entries(t.allocatable ?? {}).map(([k, v]) => [k, String(v)])) },
  };
}
