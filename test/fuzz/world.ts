/**
 * The world a fuzz case runs in: one of the named rule sets or a rules document made up by the case, and one of the
 * node lists.
 */
import fc from 'fast-check';
import { compileRules } from '../../src/rules/compile.js';
import {
  NODE_VIEW_NAMES,
  NODE_VIEWS,
  PODS_STATE_NAMES,
  PODS_STATES,
  RULE_SET_NAMES,
  RULE_SETS,
  type NodeViewName,
  type PodsStateName,
  type RuleSetName,
  type World,
} from './cluster.js';
import { buildWorkload, workloadCase, type WorkloadCase } from './pods.js';
import { validRulesDoc } from './rules-docs.js';

export interface WorldCase {
  readonly rules: RuleSetName | { readonly doc: unknown };
  readonly nodes: NodeViewName;
  readonly pods: PodsStateName;
  /** The workload the API server returns for a `scale` request: well formed, as the API server holds it. */
  readonly scaled: WorkloadCase | undefined;
}

export const worldCase: fc.Arbitrary<WorldCase> = fc.record({
  rules: fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...RULE_SET_NAMES) }, { weight: 1, arbitrary: validRulesDoc.map((doc) => ({ doc })) }),
  nodes: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom<NodeViewName>('fixture', 'validate') },
    { weight: 1, arbitrary: fc.constantFrom(...NODE_VIEW_NAMES) },
  ),
  pods: fc.constantFrom(...PODS_STATE_NAMES),
  scaled: fc.option(workloadCase(0, 1), { nil: undefined }),
});

/** The world of a case; a made-up document that does not compile leaves the rules that inject everything. */
export function buildWorld(c: WorldCase): World {
  const rest = { nodes: NODE_VIEWS[c.nodes], pods: PODS_STATES[c.pods], scaled: c.scaled === undefined ? undefined : buildWorkload(c.scaled) };
  if (typeof c.rules === 'string') return { rules: RULE_SETS[c.rules], ...rest };
  const compiled = compileRules(c.rules.doc);
  return { rules: compiled.ok ? compiled.ruleSet : RULE_SETS.injecting, ...rest };
}
