/**
 * The cluster as given in files (`--nodes`, `--namespaces`, `--pods`, `--nodepools`), or as read once from an API
 * server (`check --kubeconfig`): what `serve` uses without a cluster, and what `check` and `replay` always use.
 *
 * - Nodes: the node index. Without a node list, validation allows with a warning.
 * - Pods bound to nodes (a `PodIndex`, filled by the caller with one `PodReader`): `pods()` answers "would it be
 *   scheduled now". Without them `pods()` is undefined and only "can it ever run" is answered; an empty index
 *   answers as if the nodes were empty.
 * - Addable capacity: Karpenter NodePools tried by weight (`byWeight`), then Cluster API MachineDeployments and
 *   MachineSets that cluster-autoscaler scales from zero, in the order given.
 */
import type { V1Namespace, V1Node } from '@kubernetes/client-node';
import type { AdmissionContext, NodeView, PodsState } from '../admission/context.js';
import { NO_CAPACITY, type AddableCapacity, type CapacityView } from '../capacity/capacity.js';
import { clusterApiCapacity } from '../capacity/cluster-api.js';
import { byWeight, nodePoolCapacity, type NodePool } from '../capacity/nodepool.js';
import type { RuleSet } from '../rules/compile.js';
import { compatAnnotations } from '../compat/index.js';
import { withNameLabel } from '../rules/select.js';
import { NodeIndex } from '../scheduling/node-index.js';
import type { PodIndex } from '../scheduling/pods.js';
import { QuantityError } from '../scheduling/quantity.js';
import { nodeAllocatable } from '../scheduling/resources.js';
import type { Labels, PlacementNode } from '../scheduling/types.js';
import { toPlacementNode } from '../scheduling/placement-node.js';

/**
 * The node without the allocatable entries that are not quantities: they count as 0 (absent), as the node index
 * counts them, and whatever else reads the node (the closest-nodes explanation) sees the same node.
 */
function withUsableAllocatable(node: PlacementNode): PlacementNode {
  const usable = Object.entries(node.allocatable).filter(([name, quantity]) => {
    try {
      nodeAllocatable({ ...node, allocatable: { [name]: quantity } });
      return true;
    } catch (err) {
      if (err instanceof QuantityError) return false;
      throw err;
    }
  });
  return usable.length === Object.keys(node.allocatable).length ? node : { ...node, allocatable: Object.fromEntries(usable) };
}

/** What a static cluster knows besides its nodes and namespaces. */
export interface StaticClusterExtras {
  /** The pods bound to nodes. Absent: `pods()` is undefined (not known). */
  readonly pods?: PodIndex;
  /** Why the pods are not known well enough (a list that failed); `pods()` then says so and is not trusted. */
  readonly podsIncomplete?: string;
  /** Karpenter NodePools, as `parseNodePool` read them. */
  readonly nodePools?: readonly NodePool[];
  /** Cluster API MachineDeployments and MachineSets, as objects. */
  readonly machineGroups?: readonly unknown[];
  /** Why some source of addable capacity is not known (a list that failed): validation then does not deny by it. */
  readonly capacityIncomplete?: string;
}

export class StaticCluster implements AdmissionContext {
  private readonly namespaces: ReadonlyMap<string, Labels>;
  /** The annotations `settings.compat` reads, by namespace. */
  private readonly annotations: ReadonlyMap<string, Readonly<Record<string, string>>>;
  private readonly view: NodeView;
  private readonly podsState: PodsState | undefined;
  private readonly capacityView: CapacityView;

  /**
   * `nodes` undefined means no node list was given: validation then allows with a warning. A node or namespace
   * named more than once is taken from its last entry, as a watch would end up with it; an allocatable quantity
   * that does not parse counts as 0 (the CLI warns about both).
   */
  constructor(
    private readonly ruleSet: RuleSet,
    nodes?: readonly V1Node[],
    namespaces: readonly V1Namespace[] = [],
    extras: StaticClusterExtras = {},
  ) {
    const byName = new Map((nodes ?? []).map((n) => withUsableAllocatable(toPlacementNode(n))).map((n) => [n.name, n]));
    this.view = {
      index: new NodeIndex(byName.values()),
      incomplete: nodes === undefined ? 'no node list was given (--nodes)' : undefined,
    };
    this.namespaces = new Map(namespaces.map((ns) => [ns.metadata?.name ?? '', { ...(ns.metadata?.labels ?? {}) }]));
    this.annotations = new Map(namespaces.map((ns) => [ns.metadata?.name ?? '', compatAnnotations(ns.metadata?.annotations)]));
    this.podsState = extras.pods
      ? { index: extras.pods, namespaceLabels: (ns) => withNameLabel(ns, this.namespaces.get(ns)), incomplete: extras.podsIncomplete }
      : undefined;
    const pools = [...(extras.nodePools ?? [])].sort(byWeight).map(nodePoolCapacity);
    const groups = (extras.machineGroups ?? []).map(clusterApiCapacity);
    const sources = [...pools, ...groups].filter((c): c is AddableCapacity => c !== undefined);
    this.capacityView =
      sources.length === 0 && extras.capacityIncomplete === undefined ? NO_CAPACITY : { sources, incomplete: extras.capacityIncomplete };
  }

  rules(): RuleSet {
    return this.ruleSet;
  }

  namespaceLabels(name: string): Labels | undefined {
    return this.namespaces.get(name);
  }

  namespaceAnnotations(name: string): Readonly<Record<string, string>> | undefined {
    return this.annotations.get(name);
  }

  nodes(): NodeView {
    return this.view;
  }

  capacity(): CapacityView {
    return this.capacityView;
  }

  pods(): PodsState | undefined {
    return this.podsState;
  }
}
