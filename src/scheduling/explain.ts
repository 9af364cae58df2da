/**
 * "Which nodes came closest, and what does each still lack?" — the explanation `check` prints for a pod no node
 * can run. Nodes are grouped by what they lack (all of it, not just the first filter that fails), and each group
 * is named by the labels its nodes share that set them apart: `3 nodes lifecycle=Ec2Spot: need toleration
 * spot=true:NoSchedule`. Per node, so only for the CLI, never on the request path.
 */
import type { V1Taint } from '@kubernetes/client-node';
import type { PodConstraints } from './feasibility.js';
import { safeAllocatable } from './node-index.js';
import { insufficientResources } from './resources.js';
import { CONDITION_TAINT_KEYS, FILTERING_TAINT_EFFECTS, tolerates, UNSCHEDULABLE_TAINT } from './taints.js';
import type { PlacementNode } from './types.js';

export interface GroupExplanation {
  readonly count: number;
  /** e.g. `lifecycle=Ec2Spot` (empty when the group has nothing that sets it apart) */
  readonly description: string;
  readonly lacks: readonly string[];
}

const BINARY = [
  ['Ei', 60n],
  ['Pi', 50n],
  ['Ti', 40n],
  ['Gi', 30n],
  ['Mi', 20n],
  ['Ki', 10n],
] as const;

/** A resource amount in the units users write: cpu in cores or millicores, bytes with a binary suffix. */
export function formatAmount(resource: string, amount: bigint): string {
  if (resource === 'cpu') return amount % 1000n === 0n ? String(amount / 1000n) : `${amount}m`;
  if (resource === 'memory' || resource === 'ephemeral-storage' || resource.startsWith('hugepages-')) {
    for (const [suffix, shift] of BINARY) {
      const unit = 1n << shift;
      if (amount >= unit && amount % unit === 0n) return `${amount / unit}${suffix}`;
    }
  }
  return String(amount);
}

const taintText = (t: V1Taint) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;

function lacks(c: PodConstraints, node: PlacementNode): string[] {
  const out: string[] = [];
  if (node.unschedulable && !c.toleratesUnschedulable) out.push('is cordoned');
  if (c.nodeName !== undefined && c.nodeName !== node.name) out.push(`is not node ${c.nodeName}`);
  for (const t of node.taints) {
    if (!(FILTERING_TAINT_EFFECTS as readonly string[]).includes(t.effect) || CONDITION_TAINT_KEYS.includes(t.key)) continue;
    // A cordoned node also carries the unschedulable taint: "is cordoned" already says it.
    if (node.unschedulable && t.key === UNSCHEDULABLE_TAINT.key) continue;
    if (!c.tolerations.some((tol) => tolerates(tol, t))) out.push(`need toleration ${taintText(t)}`);
  }
  for (const [k, v] of c.nodeSelector) {
    const has = Object.hasOwn(node.labels, k) ? node.labels[k] : undefined;
    if (has !== v) out.push(has === undefined ? `lacks label ${k}=${v}` : `has ${k}=${has}, pod selects ${k}=${v}`);
  }
  if (c.requiredTerms && !c.requiredTerms.matches(node)) out.push("doesn't match the pod's required node affinity");
  for (const r of insufficientResources(c.requests, safeAllocatable(node))) {
    out.push(
      r.resourceName === 'pods'
        ? 'accepts no pods (allocatable pods: 0)'
        : `too little ${r.resourceName}: pod requests ${formatAmount(r.resourceName, r.requested)}, node has ${formatAmount(r.resourceName, r.capacity)}`,
    );
  }
  return out;
}

/** Labels every node of `group` has with the same value, that not every node of the cluster has. */
function distinguishing(group: readonly PlacementNode[], all: readonly PlacementNode[], preferred: ReadonlySet<string>): string {
  const first = group[0];
  if (!first) return '';
  const shared = Object.entries(first.labels).filter(
    ([k, v]) => k !== 'kubernetes.io/hostname' && group.every((n) => Object.hasOwn(n.labels, k) && n.labels[k] === v),
  );
  const telling = shared.filter(([k, v]) => !all.every((n) => Object.hasOwn(n.labels, k) && n.labels[k] === v));
  telling.sort(([a], [b]) => Number(preferred.has(b)) - Number(preferred.has(a)) || a.localeCompare(b));
  if (group.length === 1 && telling.length === 0) return first.name;
  return telling
    .slice(0, 2)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The `max` groups of nodes that came closest (fewest things lacking, then largest). */
export function explain(c: PodConstraints, nodes: readonly PlacementNode[], max = 3): GroupExplanation[] {
  const groups = new Map<string, { lacks: string[]; nodes: PlacementNode[] }>();
  for (const node of nodes) {
    const l = lacks(c, node);
    if (l.length === 0) continue;
    const key = l.join('\n');
    const g = groups.get(key) ?? { lacks: l, nodes: [] };
    g.nodes.push(node);
    groups.set(key, g);
  }
  const preferred = new Set(c.nodeSelector.map(([k]) => k));
  return [...groups.values()]
    .sort((a, b) => a.lacks.length - b.lacks.length || b.nodes.length - a.nodes.length)
    .slice(0, max)
    .map((g) => ({ count: g.nodes.length, description: distinguishing(g.nodes, nodes, preferred), lacks: g.lacks }));
}
