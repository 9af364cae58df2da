/**
 * Cluster API node groups that cluster-autoscaler scales from zero: MachineDeployments and MachineSets
 * (`cluster.x-k8s.io`) carrying its annotations, as node templates. After kubernetes/autoscaler
 * `cluster-autoscaler/cloudprovider/clusterapi`: `clusterapi_utils.go` (the annotation keys, `parseScalingBounds`),
 * `clusterapi_unstructured.go` (`InstanceCapacity`, `CanScaleFromZero`, `Labels`, `Taints`, `parseTaint`) and
 * `clusterapi_nodegroup.go` (`TemplateNodeInfo`, `buildTemplateLabels`):
 *
 * - A group is autoscaled only with a max-size annotation above 0 (and min ≤ max); at its max size it adds nothing.
 * - The template node: `capacity.cluster-autoscaler.kubernetes.io/{cpu,memory,ephemeral-disk,maxPods,gpu-type,
 *   gpu-count}` as allocatable (`maxPods` 110 unless stated; a GPU only when both type and count are given), the
 *   `labels` annotation (`k=v,k2=v2`) over `kubernetes.io/arch: amd64` and `kubernetes.io/os: linux`, the `taints`
 *   annotation (`k=v:Effect,...`; entries that do not parse are dropped, as cluster-autoscaler drops them).
 * - cluster-autoscaler scales a group from zero only when it knows its cpu and memory; a group with nodes and
 *   without the annotations is templated from one of its nodes, which the live nodes already answer for.
 * - A MachineSet owned by a MachineDeployment is not a group of its own.
 *
 * Like any template, only what the annotations state constrains (see `./capacity.ts`). The infrastructure
 * template's `status.capacity` (which cluster-autoscaler also reads) is not read: it needs RBAC on provider kinds.
 */
import type { V1Taint } from '@kubernetes/client-node';
import { labelKeyProblems, labelValueProblems } from '../scheduling/labels.js';
import { ResourceName } from '../scheduling/resources.js';
import { TAINT_EFFECTS } from '../scheduling/taints.js';
import type { PlacementNode } from '../scheduling/types.js';
import { nodeCapacity, type AddableCapacity } from './capacity.js';
import { DEFAULT_MAX_PODS } from './templates.js';
import { isObject } from '../util/json.js';

export const CLUSTER_API_GROUP = 'cluster.x-k8s.io';
export const CLUSTER_API_KINDS = ['MachineDeployment', 'MachineSet'] as const;
const CAPACITY = 'capacity.cluster-autoscaler.kubernetes.io/';
const MIN_SIZE = `${CLUSTER_API_GROUP}/cluster-api-autoscaler-node-group-min-size`;
const MAX_SIZE = `${CLUSTER_API_GROUP}/cluster-api-autoscaler-node-group-max-size`;

const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((cur, k) => (isObject(cur) ? cur[k] : undefined), o);

/** `strconv.Atoi`: decimal integers only. */
const integer = (s: string | undefined): number | undefined => (s !== undefined && /^[+-]?\d+$/.test(s) ? Number(s) : undefined);

/** `labels` annotation: `k=v,k2=v2`; items without `=` are dropped (no trimming, as cluster-autoscaler). */
export function parseLabelsAnnotation(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of value.split(',')) {
    const i = item.indexOf('=');
    if (i > 0) out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/**
 * `taints` annotation: `k=v:Effect,k2:Effect`. Entries whose key or value is not valid are dropped; an effect the
 * scheduler does not know (`NO_SCHEDULE`) filters nothing, so such a taint is dropped too.
 */
export function parseTaintsAnnotation(value: string): V1Taint[] {
  const out: V1Taint[] = [];
  for (const item of value.split(',')) {
    const parts = item.split(':');
    if (parts.length !== 2) continue;
    const [kv = '', effect = ''] = parts;
    const [key = '', v, ...rest] = kv.split('=');
    if (rest.length > 0 || labelKeyProblems(key).length > 0 || labelValueProblems(v ?? '').length > 0) continue;
    if (!(TAINT_EFFECTS as readonly string[]).includes(effect)) continue;
    out.push(v === undefined ? { key, effect } : { key, value: v, effect });
  }
  return out;
}

/** A Cluster API group as addable capacity, or undefined when cluster-autoscaler does not scale it from a template. */
export function clusterApiCapacity(obj: unknown): AddableCapacity | undefined {
  const kind = at(obj, 'kind');
  const name = at(obj, 'metadata', 'name');
  const namespace = at(obj, 'metadata', 'namespace');
  if (typeof kind !== 'string' || !(CLUSTER_API_KINDS as readonly string[]).includes(kind) || typeof name !== 'string') return undefined;
  const owners = at(obj, 'metadata', 'ownerReferences');
  if (kind === 'MachineSet' && Array.isArray(owners) && owners.some((o) => at(o, 'kind') === 'MachineDeployment')) return undefined;
  const raw = at(obj, 'metadata', 'annotations');
  const annotations: Record<string, string> = Object.fromEntries(
    Object.entries(isObject(raw) ? raw : {}).filter(([, v]) => typeof v === 'string'),
  ) as Record<string, string>;
  const min = integer(annotations[MIN_SIZE]) ?? 0;
  const max = integer(annotations[MAX_SIZE]) ?? 0;
  if (max <= 0 || min < 0 || max < min) return undefined;
  const cpu = annotations[`${CAPACITY}cpu`];
  const memory = annotations[`${CAPACITY}memory`];
  // CanScaleFromZero: cpu and memory known.
  if (cpu === undefined || memory === undefined) return undefined;
  const allocatable: Record<string, string> = { [ResourceName.cpu]: cpu, [ResourceName.memory]: memory, pods: DEFAULT_MAX_PODS };
  const disk = annotations[`${CAPACITY}ephemeral-disk`];
  if (disk !== undefined) allocatable[ResourceName.ephemeralStorage] = disk;
  const maxPods = integer(annotations[`${CAPACITY}maxPods`]);
  if (maxPods !== undefined) allocatable[ResourceName.pods] = String(maxPods);
  const gpuType = annotations[`${CAPACITY}gpu-type`];
  const gpuCount = integer(annotations[`${CAPACITY}gpu-count`]);
  if (gpuType && gpuCount) allocatable[gpuType] = String(gpuCount);
  const node: PlacementNode = {
    name: `${name}-template`,
    labels: { 'kubernetes.io/arch': 'amd64', 'kubernetes.io/os': 'linux', ...parseLabelsAnnotation(annotations[`${CAPACITY}labels`] ?? '') },
    taints: parseTaintsAnnotation(annotations[`${CAPACITY}taints`] ?? ''),
    unschedulable: false,
    allocatable,
  };
  const replicasValue = at(obj, 'spec', 'replicas');
  const replicas = typeof replicasValue === 'number' ? replicasValue : 1;
  const exhausted = replicas >= max ? `it is at its max size (${max})` : undefined;
  const id = typeof namespace === 'string' && namespace !== '' ? `${namespace}/${name}` : name;
  return nodeCapacity(kind as 'MachineDeployment' | 'MachineSet', id, node, new Set(Object.keys(allocatable)), exhausted);
}
