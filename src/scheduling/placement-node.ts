import type { V1Node } from '@kubernetes/client-node';
import { isObject, stringMap } from '../util/json.js';
import type { PlacementNode } from './types.js';

/**
 * What placement keeps of a Node (see `PlacementNode`). Read defensively: whatever the API server (or a file) holds,
 * the result has the shape placement relies on — labels of strings, taints with a string key and effect,
 * quantities as strings.
 */
export function toPlacementNode(node: V1Node): PlacementNode {
  const metadata: unknown = node.metadata;
  const spec: unknown = node.spec;
  const status: unknown = node.status;
  const name = isObject(metadata) && typeof metadata['name'] === 'string' ? metadata['name'] : '';
  const taints = isObject(spec) && Array.isArray(spec['taints']) ? (spec['taints'] as unknown[]) : [];
  const allocatable = isObject(status) && isObject(status['allocatable']) ? status['allocatable'] : {};
  return {
    name,
    labels: stringMap(isObject(metadata) ? metadata['labels'] : undefined),
    taints: taints
      .filter((t): t is Record<string, unknown> => isObject(t) && typeof t['key'] === 'string' && typeof t['effect'] === 'string')
      .map((t) => ({ key: t['key'] as string, effect: t['effect'] as string, ...(typeof t['value'] === 'string' ? { value: t['value'] } : {}) })),
    unschedulable: isObject(spec) && spec['unschedulable'] === true,
    allocatable: Object.fromEntries(
      Object.entries(allocatable)
        .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
        .map(([k, v]) => [k, String(v)]),
    ),
  };
}
