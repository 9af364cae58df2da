/**
 * Karpenter NodePools (`karpenter.sh/v1`, and `v1beta1` where that is what the cluster serves) as addable capacity,
 * judged as Karpenter's provisioner judges them (kubernetes-sigs/karpenter
 * `pkg/controllers/provisioning/provisioner.go` `NewScheduler`, `scheduling/scheduler.go` `add`,
 * `scheduling/nodeclaim.go` `CanAdd`):
 *
 * - **Which pools.** Pools being deleted are ignored, and so are pools whose `Ready` condition is not `True`
 *   (Karpenter logs "ignoring nodepool, not ready"); a pool that would fit but is not Ready is still reported, so
 *   that validation never denies a pod for a pool that may become Ready in a minute. Pools are tried by `weight`,
 *   highest first, then by name, later in the alphabet first (`OrderByWeight`).
 * - **Limits.** `spec.limits` against `status.resources`: a pool with no room left for cpu, memory, pods or nodes adds
 *   nothing (every instance type has some), and a pod that requests more of a limited resource than is left does
 *   not fit (`filterByRemainingResources`).
 * - **Taints.** The pod must tolerate the template's `NoSchedule` and `NoExecute` taints; `startupTaints` need not
 *   be tolerated. (`PreferNoSchedule` taints Karpenter eventually tolerates for the pod by relaxation.)
 * - **Requirements.** `spec.template.spec.requirements` AND the template labels AND `karpenter.sh/nodepool In
 *   [name]` AND a placeholder hostname, compatible with one of the pod's alternatives (see `./requirements.ts`).
 *
 * Instance sizes are not in the cluster (they are the cloud provider's): a pod's requests are judged only against
 * the pool's limits, and the verdict says so. Daemon set overhead is not modelled either.
 */
import type { V1Taint } from '@kubernetes/client-node';
import { child, type FieldError } from '../util/errors.js';
import type { PodConstraints } from '../scheduling/feasibility.js';
import { milliValue, quantityFromJSON, value } from '../scheduling/quantity.js';
import { ResourceName } from '../scheduling/resources.js';
import { findUntoleratedTaint } from '../scheduling/taints.js';
import { resourceOrder, type AddableCapacity, type CapacityVerdict } from './capacity.js';
import { conjoin, incompatibility, labelRequirements, podAlternatives, requirement, type Requirement, type Requirements } from './requirements.js';
import { isObject } from '../util/json.js';

export const KARPENTER_GROUP = 'karpenter.sh';
/** The versions read, newest first. */
export const NODEPOOL_VERSIONS = ['v1', 'v1beta1'] as const;
export const NODEPOOL_LABEL = 'karpenter.sh/nodepool';
const HOSTNAME_LABEL = 'kubernetes.io/hostname';
const HOSTNAME_PLACEHOLDER = 'hostname-placeholder-0000';
/** Limits that every instance type uses some of: no room left in one of them means no node at all. */
const ALWAYS_USED = new Set(['cpu', 'memory', 'pods', 'nodes', 'ephemeral-storage']);

export interface NodePool {
  readonly name: string;
  readonly apiVersion: string;
  readonly weight: number;
  readonly deleting: boolean;
  /** The `Ready` condition's status (`True`, `False`, `Unknown`), undefined when there is none. */
  readonly ready: string | undefined;
  readonly requirements: Requirements;
  readonly taints: readonly V1Taint[];
  /** Remaining room per limited resource, in nano-units (negative when over). */
  readonly remaining: ReadonlyMap<string, bigint>;
}

const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((cur, k) => (isObject(cur) ? cur[k] : undefined), o);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strings = (v: unknown): string[] => list(v).filter((x): x is string => typeof x === 'string');

function resourceList(v: unknown, path: string, errors: FieldError[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const [name, q] of Object.entries(isObject(v) ? v : {})) {
    try {
      out.set(name, quantityFromJSON(q, child(path, name)).nanos);
    } catch (err) {
      errors.push({ type: 'Invalid', path: child(path, name), detail: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

function taints(v: unknown): V1Taint[] {
  return list(v)
    .filter((t): t is Record<string, unknown> => isObject(t) && typeof t['key'] === 'string' && typeof t['effect'] === 'string')
    .map((t) => ({ key: t['key'] as string, effect: t['effect'] as string, ...(typeof t['value'] === 'string' ? { value: t['value'] } : {}) }));
}

/**
 * Reads a NodePool object (from the API server or a file) defensively. Errors name what could not be read; a
 * pool with errors in its requirements or limits is still returned without them only when nothing it constrains
 * was lost — otherwise the caller gets the errors and no pool (never a pool wider than the real one).
 */
export function parseNodePool(obj: unknown): { pool: NodePool; errors: readonly FieldError[] } | { pool: undefined; errors: readonly FieldError[] } {
  const errors: FieldError[] = [];
  const name = at(obj, 'metadata', 'name');
  if (typeof name !== 'string' || name === '')
    return { pool: undefined, errors: [{ type: 'Required', path: 'metadata.name', detail: 'required value' }] };
  const spec = at(obj, 'spec', 'template', 'spec');
  const reqs: Requirement[] = [];
  list(at(spec, 'requirements')).forEach((r, i) => {
    const path = `spec.template.spec.requirements[${i}]`;
    const key = at(r, 'key');
    const operator = at(r, 'operator');
    const minValues = at(r, 'minValues');
    const parsed =
      typeof key === 'string' && typeof operator === 'string'
        ? requirement(key, operator, strings(at(r, 'values')), typeof minValues === 'number' ? minValues : undefined)
        : undefined;
    if (parsed) reqs.push(parsed);
    else
      errors.push({
        type: 'Invalid',
        path,
        detail: `cannot be read as a requirement (key ${JSON.stringify(key)}, operator ${JSON.stringify(operator)})`,
      });
  });
  const labels = Object.fromEntries(
    Object.entries(
      isObject(at(obj, 'spec', 'template', 'metadata', 'labels')) ? (at(obj, 'spec', 'template', 'metadata', 'labels') as object) : {},
    ).filter(([, v]) => typeof v === 'string'),
  ) as Record<string, string>;
  const limits = resourceList(at(obj, 'spec', 'limits'), 'spec.limits', errors);
  const usage = resourceList(at(obj, 'status', 'resources'), 'status.resources', errors);
  if (errors.length > 0) return { pool: undefined, errors };
  const ready = list(at(obj, 'status', 'conditions')).find((c) => at(c, 'type') === 'Ready');
  const readyStatus = at(ready, 'status');
  const weight = at(obj, 'spec', 'weight');
  const remaining = new Map([...limits].map(([r, limit]) => [r, limit - (usage.get(r) ?? 0n)]));
  const apiVersion = at(obj, 'apiVersion');
  return {
    pool: {
      name,
      apiVersion: typeof apiVersion === 'string' ? apiVersion : `${KARPENTER_GROUP}/v1`,
      weight: typeof weight === 'number' ? weight : 0,
      deleting: typeof at(obj, 'metadata', 'deletionTimestamp') === 'string',
      ready: typeof readyStatus === 'string' ? readyStatus : undefined,
      requirements: conjoin(
        reqs,
        labelRequirements({ ...labels, [NODEPOOL_LABEL]: name }),
        labelRequirements({ [HOSTNAME_LABEL]: HOSTNAME_PLACEHOLDER }),
      ),
      taints: taints(at(spec, 'taints')),
      remaining,
    },
    errors,
  };
}

/** A pod request in scheduler units against room left in nano-units. */
function fitsRoom(resource: string, requested: bigint, roomNanos: bigint): boolean {
  if (roomNanos <= 0n) return requested <= 0n;
  const room = resource === ResourceName.cpu ? milliValue({ nanos: roomNanos }) : value({ nanos: roomNanos });
  return requested <= room;
}

const taintText = (t: V1Taint) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;

/** Karpenter's order: limits, then taints, then requirements (`CanAdd`). */
function judgePool(pool: NodePool, c: PodConstraints): CapacityVerdict {
  const incompatible = (why: string): CapacityVerdict => ({ fits: false, reason: `incompatible with nodepool ${JSON.stringify(pool.name)}, ${why}` });
  if (c.nodeName !== undefined) return { fits: false, reason: `the pod is bound to node ${c.nodeName}` };
  for (const [resource, requested] of c.requests) {
    const room = pool.remaining.get(resource);
    if (room !== undefined && requested > 0n && !fitsRoom(resource, requested, room)) {
      return {
        fits: false,
        reason: `all available instance types exceed limits for nodepool: ${JSON.stringify(pool.name)} (the pod requests more ${resource} than its limits leave)`,
      };
    }
  }
  const taint = findUntoleratedTaint(pool.taints, c.tolerations);
  if (taint) return incompatible(`did not tolerate ${taintText(taint)}`);
  const alternatives = podAlternatives(c);
  if (alternatives.length === 0) return incompatible("the pod's required node affinity has no term a new node could match");
  let why = '';
  for (const alternative of alternatives) {
    const problem = incompatibility(pool.requirements, alternative);
    if (problem === undefined) {
      const unchecked = resourceOrder([...c.requests].filter(([r, n]) => n > 0n && r !== ResourceName.pods).map(([r]) => r));
      return { fits: true, unchecked };
    }
    why ||= problem;
  }
  return incompatible(`incompatible requirements, ${why}`);
}

/** Why a pool can add no node at all, or undefined. */
function exhausted(pool: NodePool): string | undefined {
  for (const [resource, room] of pool.remaining) {
    if (ALWAYS_USED.has(resource) && room <= 0n) return `it has reached its ${resource} limit`;
  }
  return undefined;
}

/** A NodePool as addable capacity; undefined for one Karpenter ignores outright (being deleted). */
export function nodePoolCapacity(pool: NodePool): AddableCapacity | undefined {
  if (pool.deleting) return undefined;
  return {
    kind: 'NodePool',
    name: pool.name,
    exhausted: exhausted(pool),
    inactive: pool.ready === 'True' ? undefined : `it is not Ready (${pool.ready === undefined ? 'no Ready condition' : `Ready=${pool.ready}`})`,
    judge: (c) => judgePool(pool, c),
    admitsLabels: (c) => podAlternatives(c).some((alternative) => incompatibility(pool.requirements, alternative) === undefined),
  };
}

/** `OrderByWeight`: highest weight first, then the name later in the alphabet first. */
export function byWeight(a: NodePool, b: NodePool): number {
  return b.weight - a.weight || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);
}
