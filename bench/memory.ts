/**
 * Memory of a loaded webhook, in a fresh process (forked by `run.ts` with --expose-gc): the process is measured
 * once with every module loaded and nothing built, then with the node index and the compiled rule set held, and
 * the difference is reported over IPC. The generator's intermediate objects are dropped before measuring, so what
 * remains is what the webhook keeps: the index (with its PlacementNodes) and the RuleSet.
 */
import { compileRules, type RuleSet } from '../src/rules/compile.js';
import { NodeIndex } from '../src/scheduling/node-index.js';
import { generateNodes, generateRulesDocument } from './generate.js';

const gc = (globalThis as { gc?: () => void }).gc;

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc?.();
  return process.memoryUsage();
}

function main(): void {
  const nodeCount = Number(process.env['BENCH_NODES'] ?? '10000');
  const ruleCount = Number(process.env['BENCH_RULES'] ?? '1000');
  // Touch the code paths once on a tiny input, so that compiled code and lazily created module state are in the
  // baseline rather than in the figure.
  new NodeIndex(generateNodes(10));
  compileRules(generateRulesDocument(10));

  const before = settle();
  const held: { index: NodeIndex; ruleSet: RuleSet } = (() => {
    const index = new NodeIndex(generateNodes(nodeCount));
    const compiled = compileRules(generateRulesDocument(ruleCount));
    if (!compiled.ok) throw new Error('generated rules do not compile');
    return { index, ruleSet: compiled.ruleSet };
  })();
  const after = settle();

  const message = {
    type: 'memory',
    gcExposed: gc !== undefined,
    nodes: held.index.size,
    rules: held.ruleSet.rules.length,
    before,
    after,
  };
  if (process.send) process.send(message, () => process.disconnect());
}

main();
