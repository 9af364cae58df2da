/**
 * Whole workloads: can all the replicas of a template be placed, and can a rolling update progress? Answers no
 * single-pod check gives (Kubernetes #56539, #116891, #121388: rollouts deadlocked by required anti-affinity with
 * as many replicas as nodes).
 *
 * - **Replicas vs domains.** A template with required anti-affinity against its own labels places at most one
 *   replica per domain of the term's `topologyKey`, among the nodes that can run its pods (the static filters),
 *   and minus the domains that pods of *other* workloads matching the term already hold (a pod the workload's own
 *   selector matches is one of its replicas). A DoNotSchedule spread whose eligible domains are fewer than
 *   `minDomains` holds at most `maxSkew` per domain. Addable capacity lifts the bound for a hostname-keyed term (each
 *   new node is a new domain); for wider keys (zones) it is not known which domains a new node joins.
 * - **Rollouts** (Deployments; StatefulSets replace pod by pod): `maxSurge`/`maxUnavailable` resolved as the
 *   Deployment controller resolves them (`ResolveFenceposts`: surge rounded up, unavailable down, both zero means
 *   unavailable 1). When every domain a replica may use already holds one, a surge pod has nowhere to go, and with
 *   `maxUnavailable` 0 no old pod leaves first: the rollout never progresses.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { PodConstraints } from '../scheduling/feasibility.js';
import { firstFailure } from '../scheduling/feasibility.js';
import { compileAffinityTerm, termMatchesPod, withMatchLabelKeys, type NamespaceLabels } from '../scheduling/inter-pod-affinity.js';
import type { NodeIndex } from '../scheduling/node-index.js';
import { compilePodSelector, selectorMatches } from '../scheduling/pod-selectors.js';
import type { PodIndex } from '../scheduling/pods.js';
import type { Labels, PlacementNode } from '../scheduling/types.js';

export const HOSTNAME_KEY = 'kubernetes.io/hostname';

/** What bounds the replicas, and how many can be placed. */
export interface ReplicaBound {
  /** Replicas that can be placed at most (undefined: no bound from pod constraints). */
  readonly placeable: number;
  /** `required anti-affinity on kubernetes.io/hostname; 3 nodes can run its pods` */
  readonly why: string;
  readonly topologyKey: string;
  /** Addable capacity lifts the bound (a hostname-keyed term and a template or NodePool that fits). */
  readonly liftedByCapacity: boolean;
}

export interface WorkloadShape {
  /** The template's pod (after our rules). */
  readonly pod: V1Pod;
  readonly constraints: PodConstraints;
  readonly namespace: string;
  /** The workload's own selector (`spec.selector`), which tells its pods from others. */
  readonly selector: Labels | undefined;
  readonly replicas: number;
}

/** Nodes that could ever run the template's pods (static filters; condition taints are transient). */
function eligibleNodes(c: PodConstraints, nodes: NodeIndex): PlacementNode[] {
  const out: PlacementNode[] = [];
  for (const n of nodes.nodes()) if (firstFailure(c, n) === undefined) out.push(n);
  return out;
}

/**
 * The tightest bound the template's own constraints put on its replicas, or undefined when none does. `canAdd`:
 * whether some addable capacity fits the pod (then a hostname-keyed bound is lifted).
 */
export function replicaBound(
  w: WorkloadShape,
  nodes: NodeIndex,
  pods: PodIndex | undefined,
  nsLabels: NamespaceLabels,
  canAdd: boolean,
): ReplicaBound | undefined {
  const labels = w.pod.metadata?.labels ?? {};
  const eligible = eligibleNodes(w.constraints, nodes);
  const own = w.selector === undefined ? undefined : compilePodSelector({ matchLabels: w.selector });
  let best: ReplicaBound | undefined;
  const consider = (b: ReplicaBound) => {
    if (best === undefined || b.placeable < best.placeable) best = b;
  };
  for (const raw of w.pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    const term = compileAffinityTerm(withMatchLabelKeys(raw, labels), w.namespace);
    if (!term || !termMatchesPod(term, { namespace: w.namespace, labels }, nsLabels)) continue; // not self anti-affinity
    const key = term.topologyKey;
    const domains = new Set<string>();
    const blocked = new Set<string>();
    // A node without the key never conflicts (`satisfyPodAntiAffinity` needs the key on the node): no bound then.
    if (eligible.some((n) => !Object.hasOwn(n.labels, key))) continue;
    for (const n of eligible) {
      const d = n.labels[key] as string;
      domains.add(d);
      // A domain held by a pod of another workload that the term matches is closed to every replica.
      const onNode = pods?.onNode(n.name)?.pods ?? [];
      if (onNode.some((p) => termMatchesPod(term, p, nsLabels) && !(own && selectorMatches(own, p.labels)))) blocked.add(d);
    }
    for (const d of blocked) domains.delete(d);
    const one = domains.size === 1;
    const noun = key === HOSTNAME_KEY ? (one ? 'node' : 'nodes') : `${key} ${one ? 'domain' : 'domains'}`;
    consider({
      placeable: domains.size,
      why: `required anti-affinity on ${key}; ${domains.size} ${noun} can run its pods`,
      topologyKey: key,
      liftedByCapacity: canAdd && key === HOSTNAME_KEY,
    });
  }
  for (const c of w.pod.spec?.topologySpreadConstraints ?? []) {
    if (c.whenUnsatisfiable !== 'DoNotSchedule' || c.minDomains === undefined) continue;
    const selector = compilePodSelector(c.labelSelector);
    if (!selector || !selectorMatches(selector, labels)) continue;
    const domains = new Set<string>();
    for (const n of eligible) if (Object.hasOwn(n.labels, c.topologyKey)) domains.add(n.labels[c.topologyKey] as string);
    if (domains.size >= c.minDomains) continue;
    consider({
      placeable: domains.size * c.maxSkew,
      why: `topology spread on ${c.topologyKey} with minDomains ${c.minDomains} over ${domains.size} domain(s), maxSkew ${c.maxSkew}`,
      topologyKey: c.topologyKey,
      liftedByCapacity: canAdd && c.topologyKey === HOSTNAME_KEY,
    });
  }
  return best;
}

/** An int-or-percent of the Deployment API (`25%`, `1`). */
export type IntOrPercent = number | string | undefined;

/** `intstr.GetScaledValueFromIntOrPercent`: a percentage of `total`, rounded up or down. */
function scaled(v: IntOrPercent, total: number, roundUp: boolean, fallback: string): number {
  const value = v === undefined ? fallback : v;
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value);
  if (!m) return Number.parseInt(value, 10) || 0;
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

/** `ResolveFenceposts`: surge up, unavailable down; both zero means one unavailable. Defaults 25% and 25%. */
export function resolveFenceposts(maxSurge: IntOrPercent, maxUnavailable: IntOrPercent, replicas: number): { surge: number; unavailable: number } {
  const surge = scaled(maxSurge, replicas, true, '25%');
  let unavailable = scaled(maxUnavailable, replicas, false, '25%');
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

export interface RolloutVerdict {
  readonly stuck: boolean;
  readonly surge: number;
  readonly unavailable: number;
}

/**
 * Whether a RollingUpdate can never progress: every domain a replica may use holds one (`replicas ≥ placeable`),
 * so the surge pod cannot be placed, and no old pod leaves before a new one is ready (`maxUnavailable` 0).
 */
export function rolloutStuck(
  bound: ReplicaBound | undefined,
  replicas: number,
  maxSurge: IntOrPercent,
  maxUnavailable: IntOrPercent,
): RolloutVerdict {
  const { surge, unavailable } = resolveFenceposts(maxSurge, maxUnavailable, replicas);
  const stuck = bound !== undefined && !bound.liftedByCapacity && unavailable === 0 && replicas >= bound.placeable && replicas > 0;
  return { stuck, surge, unavailable };
}
