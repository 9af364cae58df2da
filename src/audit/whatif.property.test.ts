/**
 * Properties of the what-if against oracles that need no scheduler: a change that changes nothing breaks nothing,
 * the what-if never repeats what the audit already finds, and neither changes its inputs.
 */
import fc from 'fast-check';
import type { V1Pod, V1Taint } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ruleSet } from '../../test/support/builders.js';
import type { PlacementNode } from '../scheduling/types.js';
import { audit } from './audit.js';
import { findingKey } from './findings.js';
import { UnknownNodeError, whatIf, type Change } from './whatif.js';

const NODES = 4;
const key = fc.constantFrom('zone', 'disk', 'pool');
const val = fc.constantFrom('a', 'b');
const taint: fc.Arbitrary<V1Taint> = fc.record({
  key: fc.constantFrom('spot', 'dedicated', 'node.kubernetes.io/not-ready'),
  value: fc.constantFrom('true', 'x'),
  effect: fc.constantFrom('NoSchedule', 'NoExecute'),
});

const node = (i: number): fc.Arbitrary<PlacementNode> =>
  fc
    .record({
      labels: fc.dictionary(key, val, { maxKeys: 3 }),
      taints: fc.uniqueArray(taint, { maxLength: 2, selector: (t) => `${t.key}:${t.effect}` }),
      unschedulable: fc.boolean(),
    })
    .map((r) => ({
      name: `n${i}`,
      labels: { ...r.labels, 'kubernetes.io/hostname': `n${i}` },
      taints: r.taints,
      unschedulable: r.unschedulable,
      allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
    }));

const pod = (i: number): fc.Arbitrary<V1Pod> =>
  fc
    .record({
      node: fc.option(fc.integer({ min: 0, max: NODES - 1 }), { nil: undefined }),
      app: fc.constantFrom('web', 'db'),
      selector: fc.option(fc.tuple(key, val), { nil: undefined }),
      tolerate: fc.boolean(),
      anti: fc.boolean(),
      owned: fc.boolean(),
      cpu: fc.constantFrom('100m', '1', '1500m'),
    })
    .map((r) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `p${i}`,
        namespace: 'default',
        labels: { app: r.app, 'pod-template-hash': 'h' },
        ...(r.owned ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${r.app}-h`, uid: 'u', controller: true }] } : {}),
      },
      spec: {
        ...(r.node !== undefined ? { nodeName: `n${r.node}` } : {}),
        containers: [{ name: 'a', image: 'x', resources: { requests: { cpu: r.cpu } } }],
        ...(r.selector ? { nodeSelector: { [r.selector[0]]: r.selector[1] } } : {}),
        ...(r.tolerate ? { tolerations: [{ key: 'spot', operator: 'Exists' }] } : {}),
        ...(r.anti
          ? {
              affinity: {
                podAntiAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: r.app } }, topologyKey: 'zone' }],
                },
              },
            }
          : {}),
      },
      status: { phase: r.node !== undefined ? 'Running' : 'Pending' },
    }));

const cluster = fc.record({
  nodes: fc.tuple(...Array.from({ length: NODES }, (_, i) => node(i))),
  pods: fc.integer({ min: 0, max: 8 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => pod(i)))),
});

const rules = ruleSet([{ name: 'db-disk', match: { podSelector: { matchLabels: { app: 'db' } } }, inject: { nodeSelector: { disk: 'a' } } }]);
const asV1 = (n: PlacementNode) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: n.name, labels: n.labels },
  spec: { taints: [...n.taints], unschedulable: n.unschedulable },
  status: { allocatable: n.allocatable },
});

/** Changes that leave every node as it is. */
const noOps = (nodes: readonly PlacementNode[]): Change[] => [
  { kind: 'nodes-after', nodes },
  { kind: 'rules-after', rules },
  ...nodes.flatMap((n): Change[] => [
    ...Object.entries(n.labels).map(([k, v]): Change => ({ kind: 'label', node: n.name, key: k, value: v })),
    ...n.taints.map((t): Change => ({ kind: 'taint', node: n.name, taint: t })),
    ...(n.unschedulable ? [{ kind: 'cordon', node: n.name } as Change] : []),
  ]),
];

describe('whatIf properties', () => {
  it('a change that changes nothing breaks nothing', () => {
    fc.assert(
      fc.property(cluster, ({ nodes, pods }) => {
        const { findings } = whatIf({ nodes: nodes.map(asV1), pods, rules, changes: noOps(nodes) });
        expect(findings).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('never repeats a finding the audit already has, and changes none of its inputs', () => {
    const change = fc.oneof(
      fc.integer({ min: 0, max: NODES - 1 }).map((i): Change => ({ kind: 'drain', node: `n${i}` })),
      fc.integer({ min: 0, max: NODES - 1 }).map((i): Change => ({ kind: 'remove-node', node: `n${i}` })),
      fc.tuple(fc.integer({ min: 0, max: NODES - 1 }), key, val).map(([i, k, v]): Change => ({ kind: 'label', node: `n${i}`, key: k, value: v })),
      fc.tuple(fc.integer({ min: 0, max: NODES - 1 }), taint).map(([i, t]): Change => ({ kind: 'taint', node: `n${i}`, taint: t })),
    );
    fc.assert(
      fc.property(cluster, fc.array(change, { minLength: 1, maxLength: 3 }), ({ nodes, pods }, changes) => {
        const inputs = { nodes: nodes.map(asV1), pods, rules };
        const copy = structuredClone(inputs.pods);
        const before = new Set(audit(inputs).findings.map(findingKey));
        let findings;
        try {
          findings = whatIf({ ...inputs, changes }).findings;
        } catch (err) {
          // A change after the node's removal names a node that is gone: refused, as it should be.
          if (err instanceof UnknownNodeError) return;
          throw err;
        }
        const displaced = new Set(['drained', 'evicted', 'node-removed', 'replicas-lost', 'pdb']);
        for (const f of findings) if (!displaced.has(f.kind)) expect(before.has(findingKey(f)), JSON.stringify(f)).toBe(false);
        expect(inputs.pods).toEqual(copy);
      }),
      { numRuns: 150 },
    );
  });
});
