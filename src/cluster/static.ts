/**
 * The cluster as given in files (`--nodes`, `--namespaces`): what `serve` uses without a cluster, and what `check`
 * and `replay` always use.
 */
import type { V1Namespace, V1Node } from '@kubernetes/client-node';
import type { AdmissionContext } from '../admission/context.js';
import type { RuleSet } from '../rules/compile.js';
import type { Labels, PlacementNode } from '../scheduling/types.js';
import { toPlacementNode } from './objects.js';

export class StaticCluster implements AdmissionContext {
  private readonly namespaces: ReadonlyMap<string, Labels>;
  readonly nodes: readonly PlacementNode[];

  constructor(
    private readonly ruleSet: RuleSet,
    nodes: readonly V1Node[] = [],
    namespaces: readonly V1Namespace[] = [],
  ) {
    this.nodes = nodes.map(toPlacementNode);
    this.namespaces = new Map(namespaces.map((ns) => [ns.metadata?.name ?? '', { ...(ns.metadata?.labels ?? {}) }]));
  }

  rules(): RuleSet {
    return this.ruleSet;
  }

  namespaceLabels(name: string): Labels | undefined {
    return this.namespaces.get(name);
  }
}
