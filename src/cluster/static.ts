/**
 * The cluster as given in files (`--nodes`, `--namespaces`): what `serve` uses without a cluster, and what `check`
 * and `replay` always use.
 */
import type { V1Namespace, V1Node } from '@kubernetes/client-node';
import type { AdmissionContext, NodeView } from '../admission/context.js';
import type { RuleSet } from '../rules/compile.js';
import { NodeIndex } from '../scheduling/node-index.js';
import type { Labels } from '../scheduling/types.js';
import { toPlacementNode } from './objects.js';

export class StaticCluster implements AdmissionContext {
  private readonly namespaces: ReadonlyMap<string, Labels>;
  private readonly view: NodeView;

  /** `nodes` undefined means no node list was given: validation then allows with a warning. */
  constructor(
    private readonly ruleSet: RuleSet,
    nodes?: readonly V1Node[],
    namespaces: readonly V1Namespace[] = [],
  ) {
    this.view = {
      index: new NodeIndex((nodes ?? []).map(toPlacementNode)),
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
