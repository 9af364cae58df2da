/**
 * Hand-written node templates (`settings.validation.nodeTemplates`): nodes an autoscaler can add, as the operator
 * describes them. A resource the template does not state does not constrain (see `./capacity.ts`); `pods` is
 * 110, the kubelet's default, unless it says otherwise.
 */
import type { NodeTemplate } from '../rules/schema.js';
import { ResourceName } from '../scheduling/resources.js';
import type { PlacementNode } from '../scheduling/types.js';
import { nodeCapacity, type AddableCapacity } from './capacity.js';

/** The kubelet's default `maxPods`, which cluster-autoscaler also assumes for templates. */
export const DEFAULT_MAX_PODS = '110';

/** A node template as a node: `pods` defaults to 110 (the kubelet's default) when the template does not say. */
export function templateNode(t: NodeTemplate): PlacementNode {
  return {
    name: t.name,
    labels: t.labels ?? {},
    taints: t.taints ?? [],
    unschedulable: false,
    allocatable: { pods: DEFAULT_MAX_PODS, ...Object.fromEntries(Object.entries(t.allocatable ?? {}).map(([k, v]) => [k, String(v)])) },
  };
}

const compiled = new WeakMap<readonly NodeTemplate[], readonly AddableCapacity[]>();

/** The templates of a rule set as addable capacity, compiled once per list. */
export function templateCapacities(templates: readonly NodeTemplate[]): readonly AddableCapacity[] {
  let out = compiled.get(templates);
  if (!out) {
    out = templates.map(templateCapacity);
    compiled.set(templates, out);
  }
  return out;
}

/** A node template as addable capacity: its stated resources, and the pod count, are checked. */
export function templateCapacity(t: NodeTemplate): AddableCapacity {
  const stated = new Set([ResourceName.pods, ...Object.keys(t.allocatable ?? {})]);
  return nodeCapacity('node template', t.name, templateNode(t), stated);
}
