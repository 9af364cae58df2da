/**
 * Node templates from what AWS says of a cluster's node groups, for `placement-webhook templates`: the JSON of
 * `aws autoscaling describe-auto-scaling-groups` and `aws eks describe-nodegroup`. Pure: callers read the files.
 *
 * Auto Scaling groups (after kubernetes/autoscaler `cloudprovider/aws/aws_manager.go`: `extractLabelsFromAsg`,
 * `extractTaintsFromAsg`, `extractAllocatableResourcesFromAsg`, `buildGenericLabels`):
 * - a group is one cluster-autoscaler manages when it carries the discovery tag (`k8s.io/cluster-autoscaler/enabled`
 *   by default; `KEY` or `KEY=VALUE`);
 * - `k8s.io/cluster-autoscaler/node-template/label/<key>` tags are labels, `…/taint/<key>` tags are taints
 *   (`value:Effect`), `…/resources/<name>` tags are allocatable;
 * - the region, the zone when the group has a single one, and the instance type when it has a single one are labels,
 *   as cluster-autoscaler sets them (a group spread over zones may add a node in any of them: no zone label then).
 * EKS node groups: `eks.amazonaws.com/nodegroup` and `eks.amazonaws.com/capacityType` labels (EKS puts both on its
 * nodes), the group's labels and taints, the architecture and OS its `amiType` implies.
 *
 * Nothing is guessed: instance sizes are not in either input, so cpu and memory are left out unless a resources tag
 * states them (they then do not constrain; see `./capacity.ts`), and every such gap is reported. A group at its max
 * size is left out, with the reason. Taint effects are read in both spellings, `NoSchedule` and EKS's `NO_SCHEDULE`.
 */
import type { V1Taint } from '@kubernetes/client-node';
import type { NodeTemplate } from '../rules/schema.js';
import { isObject } from '../util/json.js';

export const DEFAULT_ASG_TAG = 'k8s.io/cluster-autoscaler/enabled';
const TEMPLATE_PREFIX = 'k8s.io/cluster-autoscaler/node-template/';

/** A group turned into a template, or left out with the reason. */
export type Conversion =
  | {
      readonly kind: 'template';
      /** Where it came from, for the comment above it: `ASG eks-spot-a1b2`. */
      readonly source: string;
      readonly template: NodeTemplate;
      /** What the input does not state, reported (`cpu, memory: no resources tag`). */
      readonly unstated: readonly string[];
    }
  | { readonly kind: 'skipped'; readonly source: string; readonly why: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

const EFFECTS: Readonly<Record<string, V1Taint['effect']>> = {
  NoSchedule: 'NoSchedule',
  NoExecute: 'NoExecute',
  PreferNoSchedule: 'PreferNoSchedule',
  NO_SCHEDULE: 'NoSchedule',
  NO_EXECUTE: 'NoExecute',
  PREFER_NO_SCHEDULE: 'PreferNoSchedule',
};

/** `KEY` or `KEY=VALUE`: the discovery tag a group must carry. */
export function parseTagSpec(spec: string): { key: string; value: string | undefined } {
  const i = spec.indexOf('=');
  return i < 0 ? { key: spec, value: undefined } : { key: spec.slice(0, i), value: spec.slice(i + 1) };
}

function sizes(desired: number | undefined, max: number | undefined): string | undefined {
  if (max === undefined || max <= 0) return 'its max size is 0: it is not scaled';
  if (desired !== undefined && desired >= max) return `it is at its max size (${max})`;
  return undefined;
}

/** Every group of a `describe-auto-scaling-groups` answer that carries the discovery tag. */
export function fromAutoScalingGroups(json: unknown, tag: string = DEFAULT_ASG_TAG): { conversions: Conversion[]; problems: string[] } {
  const groups = isObject(json) && Array.isArray(json['AutoScalingGroups']) ? (json['AutoScalingGroups'] as unknown[]) : undefined;
  if (!groups) return { conversions: [], problems: ['not the output of `aws autoscaling describe-auto-scaling-groups` (no AutoScalingGroups list)'] };
  const wanted = parseTagSpec(tag);
  const conversions: Conversion[] = [];
  const problems: string[] = [];
  groups.forEach((g, i) => {
    const name = isObject(g) ? str(g['AutoScalingGroupName']) : undefined;
    if (!isObject(g) || !name) {
      problems.push(`AutoScalingGroups[${i}]: no AutoScalingGroupName`);
      return;
    }
    const tags = new Map<string, string>();
    for (const t of Array.isArray(g['Tags']) ? (g['Tags'] as unknown[]) : []) {
      const key = isObject(t) ? str(t['Key']) : undefined;
      if (key !== undefined) tags.set(key, (isObject(t) ? str(t['Value']) : undefined) ?? '');
    }
    if (!tags.has(wanted.key) || (wanted.value !== undefined && tags.get(wanted.key) !== wanted.value)) return;
    const source = `ASG ${name}`;
    const full = sizes(num(g['DesiredCapacity']), num(g['MaxSize']));
    if (full) {
      conversions.push({ kind: 'skipped', source, why: full });
      return;
    }
    const labels: Record<string, string> = { 'kubernetes.io/os': 'linux' };
    const zones = Array.isArray(g['AvailabilityZones'])
      ? (g['AvailabilityZones'] as unknown[]).filter((z): z is string => typeof z === 'string')
      : [];
    if (zones[0]) labels['topology.kubernetes.io/region'] = zones[0].slice(0, -1);
    if (zones.length === 1 && zones[0]) labels['topology.kubernetes.io/zone'] = zones[0];
    const types = instanceTypes(g);
    if (types.length === 1 && types[0]) labels['node.kubernetes.io/instance-type'] = types[0];
    const taints: V1Taint[] = [];
    const allocatable: Record<string, string> = {};
    for (const [key, value] of tags) {
      if (!key.startsWith(TEMPLATE_PREFIX)) continue;
      const rest = key.slice(TEMPLATE_PREFIX.length);
      if (rest.startsWith('label/') && rest.length > 'label/'.length) labels[rest.slice('label/'.length)] = value;
      else if (rest.startsWith('taint/')) {
        const i = value.lastIndexOf(':');
        const effect = i >= 0 ? EFFECTS[value.slice(i + 1)] : undefined;
        if (effect) taints.push({ key: rest.slice('taint/'.length), ...(value.slice(0, i) ? { value: value.slice(0, i) } : {}), effect });
        else problems.push(`${source}: tag ${key}: ${JSON.stringify(value)} is not value:Effect; left out`);
      } else if (rest.startsWith('resources/')) allocatable[rest.slice('resources/'.length)] = value;
    }
    const unstated = ['cpu', 'memory'].filter((r) => !(r in allocatable));
    conversions.push({
      kind: 'template',
      source,
      template: {
        name,
        labels,
        ...(taints.length > 0 ? { taints: taints as NodeTemplate['taints'] } : {}),
        ...(Object.keys(allocatable).length > 0 ? { allocatable } : {}),
      },
      unstated: [
        ...(unstated.length > 0 ? [`${unstated.join(', ')}: no node-template/resources tag (instance sizes are not in the input)`] : []),
        ...(labels['kubernetes.io/arch'] === undefined ? ['kubernetes.io/arch: no node-template/label tag'] : []),
        ...(zones.length > 1 ? [`topology.kubernetes.io/zone: the group spans ${zones.join(', ')}`] : []),
        ...(types.length > 1 ? [`node.kubernetes.io/instance-type: the group mixes ${types.join(', ')}`] : []),
      ],
    });
  });
  return { conversions, problems };
}

function instanceTypes(g: Record<string, unknown>): string[] {
  const mixed = isObject(g['MixedInstancesPolicy']) ? g['MixedInstancesPolicy'] : undefined;
  const template = isObject(mixed?.['LaunchTemplate']) ? mixed['LaunchTemplate'] : undefined;
  const overrides = Array.isArray(template?.['Overrides']) ? (template['Overrides'] as unknown[]) : [];
  const fromOverrides = overrides.map((o) => (isObject(o) ? str(o['InstanceType']) : undefined)).filter((t): t is string => t !== undefined);
  if (fromOverrides.length > 0) return [...new Set(fromOverrides)];
  const instances = Array.isArray(g['Instances']) ? (g['Instances'] as unknown[]) : [];
  return [...new Set(instances.map((x) => (isObject(x) ? str(x['InstanceType']) : undefined)).filter((t): t is string => t !== undefined))];
}

/** Architecture and OS that an EKS `amiType` implies. */
function amiLabels(amiType: string | undefined): Record<string, string> {
  if (amiType === undefined || amiType === 'CUSTOM') return {};
  const os = amiType.startsWith('WINDOWS') ? 'windows' : 'linux';
  const arch = /ARM_64/.test(amiType) ? 'arm64' : /x86_64|X86_64|_GPU|NVIDIA|NEURON|FULL|CORE/.test(amiType) ? 'amd64' : undefined;
  return { 'kubernetes.io/os': os, ...(arch ? { 'kubernetes.io/arch': arch } : {}) };
}

/** One `describe-nodegroup` answer. */
export function fromEksNodegroup(json: unknown): { conversion: Conversion | undefined; problems: string[] } {
  const ng = isObject(json) && isObject(json['nodegroup']) ? json['nodegroup'] : undefined;
  const name = ng ? str(ng['nodegroupName']) : undefined;
  if (!ng || !name) return { conversion: undefined, problems: ['not the output of `aws eks describe-nodegroup` (no nodegroup.nodegroupName)'] };
  const source = `EKS node group ${name}`;
  const scaling = isObject(ng['scalingConfig']) ? ng['scalingConfig'] : {};
  const full = sizes(num(scaling['desiredSize']), num(scaling['maxSize']));
  if (full) return { conversion: { kind: 'skipped', source, why: full }, problems: [] };
  const problems: string[] = [];
  const capacityType = str(ng['capacityType']) ?? 'ON_DEMAND';
  const types = Array.isArray(ng['instanceTypes']) ? (ng['instanceTypes'] as unknown[]).filter((t): t is string => typeof t === 'string') : [];
  const userLabels = isObject(ng['labels']) ? Object.fromEntries(Object.entries(ng['labels']).filter(([, v]) => typeof v === 'string')) : {};
  const labels: Record<string, string> = {
    ...amiLabels(str(ng['amiType'])),
    ...(types.length === 1 && types[0] ? { 'node.kubernetes.io/instance-type': types[0] } : {}),
    ...(userLabels as Record<string, string>),
    'eks.amazonaws.com/nodegroup': name,
    'eks.amazonaws.com/capacityType': capacityType,
  };
  const taints: V1Taint[] = [];
  for (const t of Array.isArray(ng['taints']) ? (ng['taints'] as unknown[]) : []) {
    const key = isObject(t) ? str(t['key']) : undefined;
    const effect = isObject(t) ? EFFECTS[str(t['effect']) ?? ''] : undefined;
    if (key && effect) taints.push({ key, ...(isObject(t) && str(t['value']) ? { value: str(t['value']) } : {}), effect });
    else problems.push(`${source}: a taint ${JSON.stringify(t)} has no key or a known effect; left out`);
  }
  return {
    conversion: {
      kind: 'template',
      source,
      template: { name, labels, ...(taints.length > 0 ? { taints: taints as NodeTemplate['taints'] } : {}) },
      unstated: [
        'cpu, memory: instance sizes are not in the input',
        ...(labels['kubernetes.io/arch'] === undefined ? [`kubernetes.io/arch: amiType ${str(ng['amiType']) ?? '(none)'} does not say`] : []),
        ...(types.length > 1 ? [`node.kubernetes.io/instance-type: the group mixes ${types.join(', ')}`] : []),
        'topology.kubernetes.io/zone: the group may add a node in any of its subnets',
      ],
    },
    problems,
  };
}
