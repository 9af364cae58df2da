/**
 * The cluster as given in files (`--nodes`, `--namespaces`): what `serve` uses without a cluster, and what `check`
 * and `replay` always use.
 */
import type { V1Namespace, V1Node } from '@kubernetes/client-node';
import type { AdmissionContext, NodeView } from '../admission/context.js';
import type { RuleSet } from '../rules/compile.js';
import { NodeIndex } from '../scheduling/node-index.js';
import { QuantityError } from '../scheduling/quantity.js';
import { nodeAllocatable } from '../scheduling/resources.js';
import type { Labels, PlacementNode } from '../scheduling/types.js';
import { toPlacementNode } from './objects.js';

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

export class StaticCluster implements AdmissionContext {
  private readonly namespaces: ReadonlyMap<string, Labels>;
  private readonly view: NodeView;

  /**
   * `nodes` undefined means no node list was given: validation then allows with a warning. A node or namespace
   * named more than once is taken from its last entry, as a watch would end up with it; an allocatable quantity
   * that does not parse counts as 0 (the CLI warns about both).
   */
  constructor(
    private readonly ruleSet: RuleSet,
    nodes?: readonly V1Node[],
    namespaces: readonly V1Namespace[] = [],
  ) {
    const byName = new Map((nodes ?? []).map((n) => withUsableAllocatable(toPlacementNode(n))).map((n) => [n.name, n]));
    this.view = {
      index: new NodeIndex(byName.values()),
      incomplete: nodes === undefined ? 'no node list was given (--nodes)' : undefined,
    };
    this.namespaces = new Map(namespaces.map((ns) => [ns.metadata?.name ?? '', { ...(ns.metadata?.labels ?? {}) }]));
  }

  rules(): RuleSet {
    return this.ruleSet;
  }

  namespaceLabels(name: string): Labels | undefined {
    return this.namespaces.get(name);
  }

  nodes(): NodeView {
    return this.view;
  }
}
