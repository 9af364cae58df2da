/**
 * Memory of the pod cache, in a fresh process (forked by `run.ts` with --expose-gc): measured with the node index
 * built, then with 150,000 pods read into the pod index and the API objects dropped. The difference over the pod
 * count is what each cached pod costs (the trimmed PlacedPod, its entries in the index's maps, its name).
 */
import { NodeIndex } from '../src/scheduling/node-index.js';
import { PodIndex, PodReader } from '../src/scheduling/pods.js';
import { generateNodes } from './generate.js';
import { generateBoundPods } from './pods.js';

const gc = (globalThis as { gc?: () => void }).gc;

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc?.();
  return process.memoryUsage();
}

function main(): void {
  const nodeCount = Number(process.env['BENCH_NODES'] ?? '5000');
  const perNode = Number(process.env['BENCH_PODS_PER_NODE'] ?? '30');
  const nodes = generateNodes(nodeCount);
  const index = new NodeIndex(nodes);
  // Warm the code paths on a small input.
  {
    const warm = new PodIndex();
    const r = new PodReader();
    for (const p of generateBoundPods(nodes.slice(0, 10), 3)) {
      const placed = r.read(p);
      if (placed) warm.upsert(placed);
    }
  }
  const reader = new PodReader();
  const pods = new PodIndex();
  const before = settle();
  // Pods are generated and read in slices of 10 nodes, so that the API objects never all live at once (as with a
  // paged list), and through JSON, so that their strings are what JSON.parse makes of an API server's answer.
  const step = 10;
  for (let from = 0; from < nodes.length; from += step) {
    const page = JSON.parse(JSON.stringify(generateBoundPods(nodes.slice(from, from + step), perNode, from + 1, from * perNode))) as unknown[];
    for (const p of page) {
      const placed = reader.read(p);
      if (placed) pods.upsert(placed);
    }
  }
  const after = settle();
  const message = { type: 'pod-memory', gcExposed: gc !== undefined, nodes: index.size, pods: pods.size, interned: reader.interned, before, after };
  if (process.send) process.send(message, () => process.disconnect());
}

main();
