import { ENGINE_PODS, generateNodes } from './generate.js';
import { NodeIndex } from '../src/scheduling/node-index.js';
import { evaluate, podConstraints } from '../src/scheduling/feasibility.js';
const which = process.argv[2] ?? 'infeasible-cpu';
const nodes = generateNodes(50000);
let idx = new NodeIndex(nodes);
if (which === 'build') { for (let i = 0; i < 5; i++) idx = new NodeIndex(nodes); }
else {
  const pod = ENGINE_PODS.find((p) => p.name === which)!.make();
  const end = performance.now() + 4000;
  let n = 0; let s: unknown;
  while (performance.now() < end && n < 100000) { s = evaluate(podConstraints(pod), idx); n++; }
  console.log(which, n, (s as {kind: string}).kind);
}
