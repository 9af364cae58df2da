import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { V1NodeSelectorRequirement, V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node';
import { evaluate, evaluateEach, podConstraints, type Verdict } from './feasibility.js';
import { NodeIndex } from './node-index.js';
import type { PlacementNode } from './types.js';

// Small alphabets so that labels, taints and values collide often.
const key = fc.constantFrom('zone', 'lifecycle', 'gpu', 'size', 'kubernetes.io/hostname');
const val = fc.constantFrom('a', 'b', 'c', '1', '5', '10');
const effect = fc.constantFrom('NoSchedule', 'NoExecute', 'PreferNoSchedule');
const taintKey = fc.constantFrom('spot', 'dedicated', 'node.kubernetes.io/not-ready', 'node.kubernetes.io/memory-pressure');
const taint: fc.Arbitrary<V1Taint> = fc.record({ key: taintKey, value: fc.constantFrom('true', 'gpu'), effect });
const quantity = fc.constantFrom('0', '1', '2', '500m', '1500m', '4');
const memory = fc.constantFrom('1Gi', '512Mi', '2G', '4Gi');

const node = (i: number): fc.Arbitrary<PlacementNode> =>
  fc
    .record({
      labels: fc.dictionary(key, val, { maxKeys: 4 }),
      taints: fc.uniqueArray(taint, { maxLength: 2, selector: (t) => `${t.key}:${t.effect}` }),
      unschedulable: fc.boolean(),
      cpu: quantity,
      memory,
      pods: fc.constantFrom('0', '10', '110'),
    })
    .map((r) => ({
      name: `n${i}`,
      labels: { ...r.labels, 'kubernetes.io/hostname': `n${i}` },
      taints: r.taints,
      unschedulable: r.unschedulable,
      allocatable: { cpu: r.cpu, memory: r.memory, pods: r.pods },
    }));

const requirement: fc.Arbitrary<V1NodeSelectorRequirement> = fc.oneof(
  fc.record({ key, operator: fc.constantFrom('In', 'NotIn'), values: fc.array(val, { minLength: 1, maxLength: 2 }) }),
  fc.record({ key, operator: fc.constantFrom('Exists', 'DoesNotExist') }),
  fc.record({ key, operator: fc.constantFrom('Gt', 'Lt'), values: fc.tuple(fc.constantFrom('0', '3', '7')).map((v) => [...v]) }),
);
const fieldReq: fc.Arbitrary<V1NodeSelectorRequirement> = fc.record({
  key: fc.constant('metadata.name'),
  operator: fc.constantFrom('In', 'NotIn'),
  values: fc.constantFrom('n0', 'n1', 'n7').map((v) => [v]),
});
const toleration: fc.Arbitrary<V1Toleration> = fc.oneof(
  fc.record({ key: taintKey, operator: fc.constant('Exists') }, { requiredKeys: ['key', 'operator'] }),
  fc.record({ key: taintKey, operator: fc.constant('Equal'), value: fc.constantFrom('true', 'gpu'), effect }),
  fc.constant({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }),
  fc.constant({ operator: 'Exists' }),
);

const pod: fc.Arbitrary<V1Pod> = fc
  .record({
    nodeSelector: fc.dictionary(key, val, { maxKeys: 2 }),
    terms: fc.option(
      fc.array(fc.record({ matchExpressions: fc.array(requirement, { maxLength: 3 }), matchFields: fc.array(fieldReq, { maxLength: 1 }) }), {
        maxLength: 3,
      }),
    ),
    tolerations: fc.array(toleration, { maxLength: 3 }),
    cpu: quantity,
    memory,
    nodeName: fc.option(fc.constantFrom('n0', 'n3', 'missing'), { freq: 8 }),
  })
  .map((r) => ({
    spec: {
      ...(Object.keys(r.nodeSelector).length > 0 ? { nodeSelector: r.nodeSelector } : {}),
      ...(r.terms ? { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: r.terms } } } } : {}),
      tolerations: r.tolerations,
      ...(r.nodeName ? { nodeName: r.nodeName } : {}),
      containers: [{ name: 'c', resources: { requests: { cpu: r.cpu, memory: r.memory } } }],
    },
  }));

const cluster = fc.integer({ min: 0, max: 12 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => node(i))));

/** The part of a verdict both evaluators must agree on (the node picked may differ). */
const summary = (v: Verdict) => (v.kind === 'no-fit' ? { kind: v.kind, message: v.message } : { kind: v.kind });

describe('the node index', () => {
  it('gives the same verdict and message as judging every node on its own', () => {
    fc.assert(
      fc.property(cluster, pod, (nodes, p) => {
        const c = podConstraints(p);
        expect(summary(evaluate(c, new NodeIndex(nodes)))).toEqual(summary(evaluateEach(c, nodes)));
      }),
      { numRuns: 1500 },
    );
  });

  it('stays exact through updates and removals', () => {
    fc.assert(
      fc.property(cluster, cluster, pod, fc.array(fc.nat(), { maxLength: 6 }), (before, after, p, removals) => {
        const index = new NodeIndex(before);
        for (const n of after) index.upsert(n); // same names: updates, new names: additions
        const byName = new Map([...before, ...after].map((n) => [n.name, n]));
        for (const r of removals) {
          const name = `n${r % 12}`;
          index.remove(name);
          byName.delete(name);
        }
        const c = podConstraints(p);
        expect(summary(evaluate(c, index))).toEqual(summary(evaluateEach(c, [...index.nodes()])));
        expect(index.size).toBe(byName.size);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the node index with many nodes of few shapes (words owned by one shape)', () => {
  // Few shapes, many nodes: shapes fill whole words of their own, and updates move nodes between shapes.
  const bigNode = (i: number): fc.Arbitrary<PlacementNode> =>
    fc
      .record({
        labels: fc.dictionary(key, val, { maxKeys: 3 }),
        spot: fc.boolean(),
        cordoned: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
        size: fc.constantFrom('small', 'large'),
      })
      .map((r) => ({
        name: `n${i}`,
        labels: { ...r.labels, 'kubernetes.io/hostname': `n${i}` },
        taints: r.spot ? [{ key: 'spot', value: 'true', effect: 'NoSchedule' }] : [],
        unschedulable: r.cordoned,
        allocatable: r.size === 'small' ? { cpu: '1', memory: '1Gi', pods: '10' } : { cpu: '4', memory: '4Gi', pods: '10' },
      }));
  const bigCluster = fc.integer({ min: 0, max: 300 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => bigNode(i))));

  it('gives the same verdict and message as judging every node on its own, through updates and removals', () => {
    fc.assert(
      fc.property(bigCluster, bigCluster, pod, fc.array(fc.nat({ max: 299 }), { maxLength: 120 }), (before, after, p, removals) => {
        const index = new NodeIndex(before);
        const c = podConstraints(p);
        expect(summary(evaluate(c, index))).toEqual(summary(evaluateEach(c, before)));
        for (const n of after.slice(0, after.length >> 1)) index.upsert(n);
        for (const r of removals) index.remove(`n${r}`);
        for (const n of after.slice(after.length >> 1)) index.upsert(n);
        expect(summary(evaluate(c, index))).toEqual(summary(evaluateEach(c, [...index.nodes()])));
      }),
      { numRuns: 300 },
    );
    // 300 clusters of up to 300 nodes: seconds on a loaded machine.
  }, 60_000);
});
