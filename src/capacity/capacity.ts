/**
 * Capacity an autoscaler can add: one notion for hand-written node templates, Cluster API node groups and
 * Karpenter NodePools, so that validation can say "no live node fits, NodePool `spot` can provision one" instead
 * of denying a pod the autoscaler would have served.
 *
 * **Unknown is not zero.** A resource a template or group does not state does not constrain: the verdict names it
 * as unchecked. A stated one does. (A NodePool states no instance sizes at all: only its limits constrain.)
 */
import { firstFailure, type NodeAffinityConstraints, type PodConstraints } from '../scheduling/feasibility.js';
import { failureReasons } from '../scheduling/reasons.js';
import type { PlacementNode } from '../scheduling/types.js';

export type CapacityKind = 'node template' | 'NodePool' | 'MachineDeployment' | 'MachineSet';

export type CapacityVerdict =
  /** A node added from it would run the pod, as far as it is described; `unchecked` names what it does not say. */
  { readonly fits: true; readonly unchecked: readonly string[] } | { readonly fits: false; readonly reason: string };

export interface AddableCapacity {
  readonly kind: CapacityKind;
  /** `spot`, `infra/md-0` */
  readonly name: string;
  /** Why it cannot add a node now (a pool at its limits, a group at its max size), or undefined when it can. */
  readonly exhausted: string | undefined;
  /** Why the autoscaler ignores it for now (a NodePool that is not Ready), or undefined. */
  readonly inactive?: string | undefined;
  judge(c: PodConstraints): CapacityVerdict;
  /** Whether a node added from it could carry the labels the pod selects (nodeSelector, required node affinity). */
  admitsLabels(c: NodeAffinityConstraints): boolean;
}

/** What the webhook knows of addable capacity, and whether that knowledge is complete enough to deny by. */
export interface CapacityView {
  readonly sources: readonly AddableCapacity[];
  /** Why some source of capacity is not known yet (an informer not synced), or undefined. */
  readonly incomplete: string | undefined;
}

export const NO_CAPACITY: CapacityView = Object.freeze({ sources: [], incomplete: undefined });

const FIRST = ['cpu', 'memory', 'ephemeral-storage'];
/** Resource names in the order the scheduler lists them: cpu, memory, ephemeral-storage, then the others by name. */
export function resourceOrder(names: Iterable<string>): string[] {
  const rank = (n: string) => (FIRST.includes(n) ? FIRST.indexOf(n) : FIRST.length);
  return [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** `NodePool spot`, `node template gpu-large`, `MachineDeployment infra/md-0` */
export const capacityName = (c: Pick<AddableCapacity, 'kind' | 'name'>): string => `${c.kind} ${c.name}`;

/**
 * Capacity described as one node (a node template, a Cluster API group): judged by the scheduler's filters
 * against that node, with only the `stated` resources checked. A bound pod never lands on a new node.
 */
export function nodeCapacity(
  kind: CapacityKind,
  name: string,
  node: PlacementNode,
  stated: ReadonlySet<string>,
  exhausted?: string,
): AddableCapacity {
  return {
    kind,
    name,
    exhausted,
    judge(c) {
      if (c.nodeName !== undefined) return { fits: false, reason: `the pod is bound to node ${c.nodeName}` };
      const requests = new Map([...c.requests].filter(([r]) => stated.has(r)));
      const failure = firstFailure({ ...c, requests }, node);
      if (failure) return { fits: false, reason: failureReasons(failure).join(', ') };
      const unchecked = resourceOrder([...c.requests].filter(([r, amount]) => amount > 0n && !stated.has(r)).map(([r]) => r));
      return { fits: true, unchecked };
    },
    admitsLabels: (c) => c.affinity.matches(node),
  };
}

export interface CapacityFit {
  readonly capacity: AddableCapacity;
  readonly unchecked: readonly string[];
}

export interface CapacityAnswer {
  /** The first source (in the view's order) that can add a node for the pod now. */
  readonly fit: CapacityFit | undefined;
  /** A source that would fit but cannot add now or is ignored for now (at its limit, not Ready). */
  readonly blocked: { readonly capacity: AddableCapacity; readonly why: string } | undefined;
  /** Why each source that could add a node does not fit the pod, in the view's order. */
  readonly misfits: readonly { readonly capacity: AddableCapacity; readonly reason: string }[];
}

/** Which source of addable capacity could serve the pod. */
export function judgeCapacity(view: CapacityView, c: PodConstraints): CapacityAnswer {
  let blocked: CapacityAnswer['blocked'];
  const misfits: { capacity: AddableCapacity; reason: string }[] = [];
  for (const capacity of view.sources) {
    const verdict = capacity.judge(c);
    if (!verdict.fits) {
      if (capacity.exhausted === undefined && capacity.inactive === undefined) misfits.push({ capacity, reason: verdict.reason });
      continue;
    }
    const why = capacity.exhausted ?? capacity.inactive;
    if (why === undefined) return { fit: { capacity, unchecked: verdict.unchecked }, blocked, misfits };
    blocked ??= { capacity, why };
  }
  return { fit: undefined, blocked, misfits };
}

/** The sources in the order they are tried: the rules' templates first, then what the cluster serves. */
export function combine(first: readonly AddableCapacity[], view: CapacityView | undefined): CapacityView {
  if (!view) return first.length === 0 ? NO_CAPACITY : { sources: first, incomplete: undefined };
  return { sources: [...first, ...view.sources], incomplete: view.incomplete };
}

/** "NodePool spot can provision one", in a warning. */
export function canAdd(c: AddableCapacity): string {
  switch (c.kind) {
    case 'NodePool':
      return `NodePool ${c.name} can provision one (Karpenter adds it)`;
    case 'node template':
      return `nodes of template ${c.name} would (an autoscaler must add one)`;
    default:
      return `${c.kind} ${c.name} can add one (cluster-autoscaler scales it up)`;
  }
}

/** What a fit did not check, as a warning line, or undefined when it checked everything the pod asks. */
export function uncheckedNote(fit: CapacityFit): string | undefined {
  if (fit.unchecked.length === 0) return undefined;
  const what = fit.unchecked.join(', ');
  return fit.capacity.kind === 'NodePool'
    ? `  ${what} checked only against its limits (instance sizes are not known in the cluster)`
    : `  ${what} not checked: ${fit.capacity.kind === 'node template' ? 'the template does' : 'its annotations do'} not state it`;
}
