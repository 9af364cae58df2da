import type { V1Container, V1NodeSelectorRequirement, V1NodeSelectorTerm, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { makeNode, makePod, type NodeBuilder, type PodBuilder } from '../../test/support/builders.js';
import { evaluate, evaluateEach, firstFailure, podConstraints, type Verdict } from './feasibility.js';
import { NodeIndex } from './node-index.js';
import { CONDITION_TAINT_KEYS } from './taints.js';
import type { PlacementNode } from './types.js';

/** A roomy, schedulable node: every filter but the one a case is about passes. */
const node = (name: string): NodeBuilder =>
  makeNode(name).label('kubernetes.io/hostname', name).allocatable({ cpu: '4', memory: '16Gi', 'ephemeral-storage': '100Gi', pods: '110' });

/** A node whose allocatable is exactly `allocatable` (plus room for pods unless it says otherwise). */
const sized = (name: string, allocatable: Record<string, string>): NodeBuilder =>
  makeNode(name)
    .label('kubernetes.io/hostname', name)
    .allocatable({ pods: '110', ...allocatable });

const pod = (): PodBuilder => makePod('p');

/** Container fields requesting `requests` (limits equal, as extended resources and hugepages require). */
const needs = (requests: Record<string, string>, limits: Record<string, string> = requests): Omit<V1Container, 'name'> => ({
  image: 'registry.example/app:1',
  resources: { requests, limits },
});

const expr = (key: string, operator: string, values?: string[]): V1NodeSelectorRequirement =>
  values === undefined ? { key, operator } : { key, operator, values };
const term = (...matchExpressions: V1NodeSelectorRequirement[]): V1NodeSelectorTerm => ({ matchExpressions });
const fieldTerm = (operator: string, name: string): V1NodeSelectorTerm => ({
  matchFields: [{ key: 'metadata.name', operator, values: [name] }],
});

const AFFINITY = "node(s) didn't match Pod's node affinity/selector";
const NODE_NAME = "node(s) didn't match the requested node name";
const UNSCHEDULABLE = 'node(s) were unschedulable';
const none = (n: number, entries: string): string => `0/${n} nodes are available: ${entries}.`;

/** A verdict in one line: `fits n1`, `fits n1 (transient: key=value:Effect)`, the scheduler's message, `no nodes`. */
function outcome(v: Verdict): string {
  switch (v.kind) {
    case 'fits':
      return `fits ${v.node}`;
    case 'fits-transient':
      return `fits ${v.node} (transient: ${v.taint.key}${v.taint.value ? `=${v.taint.value}` : ''}:${v.taint.effect})`;
    case 'no-fit':
      return v.message;
    case 'no-nodes':
      return 'no nodes';
  }
}

/**
 * Judges `p` with the node index (`evaluate`) and node by node (`evaluateEach`); the two must agree on everything,
 * including the node picked (the first in list order) and the count behind every reason.
 */
function judgeBoth(p: V1Pod, nodes: readonly PlacementNode[]): string {
  const c = podConstraints(p);
  const byIndex = evaluate(c, new NodeIndex(nodes));
  const byNode = evaluateEach(c, nodes);
  expect(byIndex, 'evaluate (node index) and evaluateEach (per node) disagree').toEqual(byNode);
  if (byIndex.kind === 'no-fit' && byNode.kind === 'no-fit') {
    expect([...byIndex.reasons.counts].sort()).toEqual([...byNode.reasons.counts].sort());
    expect(byIndex.totalNodes).toBe(nodes.length);
  }
  return outcome(byIndex);
}

interface Case {
  name: string;
  pod: PodBuilder;
  nodes: NodeBuilder[];
  want: string;
}

const run = (cases: Case[]) =>
  it.each(cases)('$name', ({ pod: p, nodes, want }) => {
    expect(
      judgeBoth(
        p.obj(),
        nodes.map((n) => n.obj()),
      ),
    ).toBe(want);
  });

describe('no nodes', () => {
  it('is its own verdict, not a fit nor a rejection', () => {
    expect(judgeBoth(pod().obj(), [])).toBe('no nodes');
  });
});

describe('filter 1: NodeUnschedulable', () => {
  run([
    {
      name: 'a cordoned node cannot run a pod that does not tolerate it',
      pod: pod(),
      nodes: [node('n1').unschedulable()],
      want: none(1, `1 ${UNSCHEDULABLE}`),
    },
    {
      name: 'a pod tolerating node.kubernetes.io/unschedulable:NoSchedule runs on a cordoned node',
      pod: pod().toleration({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }),
      nodes: [node('n1').unschedulable()],
      want: 'fits n1',
    },
    {
      name: 'an Equal toleration without a value tolerates the cordon (its taint has no value)',
      pod: pod().toleration({ key: 'node.kubernetes.io/unschedulable', operator: 'Equal', effect: 'NoSchedule' }),
      nodes: [node('n1').unschedulable()],
      want: 'fits n1',
    },
    {
      name: 'a toleration of the unschedulable key with effect NoExecute does not tolerate the cordon',
      pod: pod().toleration({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoExecute' }),
      nodes: [node('n1').unschedulable()],
      want: none(1, `1 ${UNSCHEDULABLE}`),
    },
    {
      name: 'an empty key with Exists tolerates the cordon too',
      pod: pod().toleration({ operator: 'Exists' }),
      nodes: [node('n1').unschedulable()],
      want: 'fits n1',
    },
    {
      name: 'cordoned nodes are passed over for a schedulable one',
      pod: pod(),
      nodes: [node('n1').unschedulable(), node('n2').unschedulable(), node('n3')],
      want: 'fits n3',
    },
    {
      name: 'a cordoned node that fails every later filter too is counted only as unschedulable',
      pod: pod()
        .nodeSelector('zone', 'a')
        .container('app', needs({ cpu: '8' })),
      nodes: [node('n1').unschedulable().taint('dedicated', 'gpu', 'NoSchedule').label('zone', 'b')],
      want: none(1, `1 ${UNSCHEDULABLE}`),
    },
  ]);
});

describe('filter 2: NodeName', () => {
  run([
    {
      name: 'spec.nodeName picks its node even when others come first',
      pod: pod().spec({ nodeName: 'n3' }),
      nodes: [node('n1'), node('n2'), node('n3')],
      want: 'fits n3',
    },
    {
      name: 'spec.nodeName naming an unknown node rejects every node under NodeName',
      pod: pod().spec({ nodeName: 'ghost' }),
      nodes: [node('n1'), node('n2')],
      want: none(2, `2 ${NODE_NAME}`),
    },
    {
      name: 'a cordoned node is counted as unschedulable before its name is compared',
      pod: pod().spec({ nodeName: 'ghost' }),
      nodes: [node('n1').unschedulable(), node('n2')],
      want: none(2, `1 ${NODE_NAME}, 1 ${UNSCHEDULABLE}`),
    },
    {
      name: 'the named node is judged by the later filters',
      pod: pod().spec({ nodeName: 'n2' }),
      nodes: [node('n1'), node('n2').taint('dedicated', 'gpu', 'NoSchedule')],
      want: none(2, `1 ${NODE_NAME}, 1 node(s) had untolerated taint {dedicated: gpu}`),
    },
    {
      name: 'the named node being cordoned leaves every node unschedulable or unnamed',
      pod: pod().spec({ nodeName: 'n1' }),
      nodes: [node('n1').unschedulable(), node('n2'), node('n3')],
      want: none(3, `1 ${UNSCHEDULABLE}, 2 ${NODE_NAME}`),
    },
    {
      name: 'an empty nodeName does not constrain',
      pod: pod().spec({ nodeName: '' }),
      nodes: [node('n1')],
      want: 'fits n1',
    },
  ]);
});

describe('filter 3: TaintToleration', () => {
  run([
    {
      name: 'an untolerated NoSchedule taint rejects the node',
      pod: pod(),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule')],
      want: none(1, '1 node(s) had untolerated taint {dedicated: gpu}'),
    },
    {
      name: 'an untolerated NoExecute taint rejects the node',
      pod: pod(),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoExecute')],
      want: none(1, '1 node(s) had untolerated taint {dedicated: gpu}'),
    },
    {
      name: 'PreferNoSchedule is not a filter',
      pod: pod(),
      nodes: [node('n1').taint('dedicated', 'gpu', 'PreferNoSchedule')],
      want: 'fits n1',
    },
    {
      name: 'a pod tolerating only NoSchedule is rejected by a NoExecute taint of the same key and value',
      pod: pod().toleration({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoExecute')],
      want: none(1, '1 node(s) had untolerated taint {dedicated: gpu}'),
    },
    {
      name: 'an empty key with Exists tolerates every taint',
      pod: pod().toleration({ operator: 'Exists' }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule').taint('spot', 'true', 'NoExecute').taint('maintenance', undefined, 'NoExecute')],
      want: 'fits n1',
    },
    {
      name: 'an empty effect matches NoSchedule and NoExecute alike',
      pod: pod().toleration({ key: 'dedicated', operator: 'Equal', value: 'gpu' }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule').taint('dedicated', 'gpu', 'NoExecute')],
      want: 'fits n1',
    },
    {
      name: 'Equal compares values: another value is not tolerated',
      pod: pod().toleration({ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule')],
      want: none(1, '1 node(s) had untolerated taint {dedicated: gpu}'),
    },
    {
      name: 'Equal with the same value tolerates',
      pod: pod().toleration({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule')],
      want: 'fits n1',
    },
    {
      name: 'a missing operator means Equal and compares values',
      pod: pod().toleration({ key: 'dedicated', value: 'infra' }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule')],
      want: none(1, '1 node(s) had untolerated taint {dedicated: gpu}'),
    },
    {
      name: 'Exists ignores the value',
      pod: pod().toleration({ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule'), node('n2').taint('dedicated', 'infra', 'NoSchedule')],
      want: 'fits n1',
    },
    {
      name: 'Exists does not reach another key',
      pod: pod().toleration({ key: 'dedicated', operator: 'Exists' }),
      nodes: [node('n1').taint('spot', 'true', 'NoSchedule')],
      want: none(1, '1 node(s) had untolerated taint {spot: true}'),
    },
    {
      name: 'an unsupported toleration operator tolerates nothing',
      pod: pod().toleration({ key: 'dedicated', operator: 'Lt', value: 'gpu' }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule')],
      want: none(1, '1 node(s) had untolerated taint {dedicated: gpu}'),
    },
    {
      name: 'a NoExecute toleration with tolerationSeconds still tolerates',
      pod: pod().toleration({ key: 'dedicated', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoExecute')],
      want: 'fits n1',
    },
    {
      name: 'every filtering taint must be tolerated: the untolerated one is named',
      pod: pod().toleration({ key: 'dedicated', operator: 'Exists' }),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule').taint('spot', 'true', 'NoExecute')],
      want: none(1, '1 node(s) had untolerated taint {spot: true}'),
    },
    {
      name: 'with several untolerated taints the first in the node order is named',
      pod: pod(),
      nodes: [node('n1').taint('spot', 'true', 'NoSchedule').taint('dedicated', 'gpu', 'NoSchedule')],
      want: none(1, '1 node(s) had untolerated taint {spot: true}'),
    },
    {
      name: 'a taint without a value reads {key: } in the reason',
      pod: pod(),
      nodes: [node('n1').taint('maintenance', undefined, 'NoExecute')],
      want: none(1, '1 node(s) had untolerated taint {maintenance: }'),
    },
    {
      name: 'one entry per distinct taint, each with its own count',
      pod: pod(),
      nodes: [
        node('n1').taint('dedicated', 'gpu', 'NoSchedule'),
        node('n2').taint('dedicated', 'infra', 'NoSchedule'),
        node('n3').taint('dedicated', 'gpu', 'NoSchedule'),
        node('n4').taint('spot', 'true', 'NoSchedule'),
      ],
      want: none(
        4,
        '1 node(s) had untolerated taint {dedicated: infra}, 1 node(s) had untolerated taint {spot: true}, 2 node(s) had untolerated taint {dedicated: gpu}',
      ),
    },
    {
      name: 'the same key and value under different effects are one entry (the reason does not show the effect)',
      pod: pod(),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule'), node('n2').taint('dedicated', 'gpu', 'NoExecute')],
      want: none(2, '2 node(s) had untolerated taint {dedicated: gpu}'),
    },
    {
      name: 'nodes whose taint lists differ but whose first untolerated taint is the same share an entry',
      pod: pod().toleration({ key: 'spot', operator: 'Exists' }),
      nodes: [
        node('n1').taint('dedicated', 'gpu', 'NoSchedule'),
        node('n2').taint('spot', 'true', 'NoSchedule').taint('dedicated', 'gpu', 'NoSchedule'),
      ],
      want: none(2, '2 node(s) had untolerated taint {dedicated: gpu}'),
    },
    {
      name: 'a tainted node that also fails affinity and resources is counted only under its taint',
      pod: pod()
        .nodeSelector('zone', 'a')
        .container('app', needs({ cpu: '8' })),
      nodes: [node('n1').taint('dedicated', 'gpu', 'NoSchedule').label('zone', 'b')],
      want: none(1, '1 node(s) had untolerated taint {dedicated: gpu}'),
    },
  ]);
});

describe('condition taints are transient', () => {
  it.each(CONDITION_TAINT_KEYS.map((key) => ({ key })))('a pod fitting only on a node with $key fits transiently', ({ key }) => {
    expect(judgeBoth(pod().obj(), [node('n1').taint(key, undefined, 'NoSchedule').obj()])).toBe(`fits n1 (transient: ${key}:NoSchedule)`);
  });

  run([
    {
      name: 'a NoExecute condition taint is transient too',
      pod: pod(),
      nodes: [node('n1').taint('node.kubernetes.io/unreachable', undefined, 'NoExecute')],
      want: 'fits n1 (transient: node.kubernetes.io/unreachable:NoExecute)',
    },
    {
      name: 'a clean node is preferred to a transient one listed before it',
      pod: pod(),
      nodes: [node('n1').taint('node.kubernetes.io/not-ready', undefined, 'NoSchedule'), node('n2')],
      want: 'fits n2',
    },
    {
      name: 'the first transient node is reported when no clean node fits',
      pod: pod().nodeSelector('zone', 'a'),
      nodes: [
        node('n1').label('zone', 'b'),
        node('n2').label('zone', 'a').taint('node.kubernetes.io/disk-pressure', undefined, 'NoSchedule'),
        node('n3').label('zone', 'a').taint('node.kubernetes.io/memory-pressure', undefined, 'NoSchedule'),
      ],
      want: 'fits n2 (transient: node.kubernetes.io/disk-pressure:NoSchedule)',
    },
    {
      name: 'a pod tolerating the condition taint fits for good',
      pod: pod().toleration({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }),
      nodes: [node('n1').taint('node.kubernetes.io/not-ready', undefined, 'NoExecute')],
      want: 'fits n1',
    },
    {
      name: 'the reported condition taint is the first untolerated one',
      pod: pod().toleration({ key: 'node.kubernetes.io/not-ready', operator: 'Exists' }),
      nodes: [
        node('n1').taint('node.kubernetes.io/not-ready', undefined, 'NoExecute').taint('node.kubernetes.io/pid-pressure', undefined, 'NoSchedule'),
      ],
      want: 'fits n1 (transient: node.kubernetes.io/pid-pressure:NoSchedule)',
    },
    {
      name: 'a condition taint with PreferNoSchedule is no filter at all',
      pod: pod(),
      nodes: [node('n1').taint('node.kubernetes.io/memory-pressure', undefined, 'PreferNoSchedule')],
      want: 'fits n1',
    },
    {
      name: 'a node with a condition taint that fails another filter is counted under that filter, never its condition',
      pod: pod().container('app', needs({ cpu: '8' })),
      nodes: [node('n1').taint('node.kubernetes.io/not-ready', undefined, 'NoExecute')],
      want: none(1, '1 Insufficient cpu'),
    },
    {
      name: 'a blocking taint beside a condition taint is what counts',
      pod: pod(),
      nodes: [node('n1').taint('node.kubernetes.io/not-ready', undefined, 'NoSchedule').taint('dedicated', 'gpu', 'NoSchedule')],
      want: none(1, '1 node(s) had untolerated taint {dedicated: gpu}'),
    },
    {
      name: 'a condition-tainted node outside the affinity counts under NodeAffinity',
      pod: pod().nodeSelector('zone', 'a'),
      nodes: [node('n1').label('zone', 'b').taint('node.kubernetes.io/network-unavailable', undefined, 'NoSchedule')],
      want: none(1, `1 ${AFFINITY}`),
    },
  ]);
});

describe('filter 4: NodeAffinity', () => {
  const zone = (name: string, value: string) => node(name).label('zone', value);
  run([
    // nodeSelector
    {
      name: 'a nodeSelector matching the label fits',
      pod: pod().nodeSelector('zone', 'a'),
      nodes: [zone('n1', 'b'), zone('n2', 'a')],
      want: 'fits n2',
    },
    {
      name: 'a nodeSelector with another value does not',
      pod: pod().nodeSelector('zone', 'a'),
      nodes: [zone('n1', 'b')],
      want: none(1, `1 ${AFFINITY}`),
    },
    { name: 'a nodeSelector key the node lacks does not', pod: pod().nodeSelector('zone', 'a'), nodes: [node('n1')], want: none(1, `1 ${AFFINITY}`) },
    {
      name: 'every nodeSelector entry must hold',
      pod: pod().nodeSelector('zone', 'a').nodeSelector('disk', 'ssd'),
      nodes: [zone('n1', 'a'), zone('n2', 'a').label('disk', 'ssd')],
      want: 'fits n2',
    },
    {
      name: 'a nodeSelector key such as constructor is an ordinary label key',
      pod: pod().nodeSelector('constructor', 'x'),
      nodes: [node('n1'), node('n2').label('constructor', 'x')],
      want: 'fits n2',
    },
    // nodeSelector AND required affinity
    {
      name: 'nodeSelector and required affinity must both hold: affinity fails',
      pod: pod()
        .nodeSelector('zone', 'a')
        .requiredTerms([term(expr('disk', 'In', ['ssd']))]),
      nodes: [zone('n1', 'a').label('disk', 'hdd')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'nodeSelector and required affinity must both hold: nodeSelector fails',
      pod: pod()
        .nodeSelector('zone', 'a')
        .requiredTerms([term(expr('disk', 'In', ['ssd']))]),
      nodes: [zone('n1', 'b').label('disk', 'ssd')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'nodeSelector and required affinity both holding fits',
      pod: pod()
        .nodeSelector('zone', 'a')
        .requiredTerms([term(expr('disk', 'In', ['ssd']))]),
      nodes: [zone('n1', 'a').label('disk', 'hdd'), zone('n2', 'b').label('disk', 'ssd'), zone('n3', 'a').label('disk', 'ssd')],
      want: 'fits n3',
    },
    // terms and expressions
    {
      name: 'terms are ORed: a later term can match',
      pod: pod().requiredTerms([term(expr('zone', 'In', ['x'])), term(expr('zone', 'In', ['a']))]),
      nodes: [zone('n1', 'a')],
      want: 'fits n1',
    },
    {
      name: 'expressions of a term are ANDed',
      pod: pod().requiredTerms([term(expr('zone', 'In', ['a']), expr('disk', 'Exists'))]),
      nodes: [zone('n1', 'a'), node('n2').label('disk', 'ssd')],
      want: none(2, `2 ${AFFINITY}`),
    },
    {
      name: 'expressions and fields of a term are ANDed',
      pod: pod().requiredTerms([
        { matchExpressions: [expr('zone', 'In', ['a'])], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] },
      ]),
      nodes: [zone('n1', 'a'), zone('n2', 'b'), zone('n3', 'a')],
      want: none(3, `3 ${AFFINITY}`),
    },
    {
      name: 'expressions and fields of a term both holding fits',
      pod: pod().requiredTerms([
        { matchExpressions: [expr('zone', 'In', ['a'])], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n3'] }] },
      ]),
      nodes: [zone('n1', 'a'), zone('n2', 'b'), zone('n3', 'a')],
      want: 'fits n3',
    },
    { name: 'an empty term matches nothing', pod: pod().requiredTerms([{}]), nodes: [zone('n1', 'a')], want: none(1, `1 ${AFFINITY}`) },
    {
      name: 'an empty term matches nothing, but the other terms still count',
      pod: pod().requiredTerms([{}, term(expr('zone', 'In', ['a']))]),
      nodes: [zone('n1', 'a')],
      want: 'fits n1',
    },
    { name: 'an empty list of terms matches nothing', pod: pod().requiredTerms([]), nodes: [zone('n1', 'a')], want: none(1, `1 ${AFFINITY}`) },
    {
      name: 'a required affinity without nodeSelectorTerms matches nothing',
      pod: pod().spec({
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} as { nodeSelectorTerms: V1NodeSelectorTerm[] } } },
      }),
      nodes: [zone('n1', 'a')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'a term that does not parse (unknown operator) matches nothing',
      pod: pod().requiredTerms([term(expr('zone', 'Equals', ['a']))]),
      nodes: [zone('n1', 'a')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'only preferred affinity does not constrain',
      pod: pod().spec({
        affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: term(expr('zone', 'In', ['x'])) }] } },
      }),
      nodes: [zone('n1', 'a')],
      want: 'fits n1',
    },
    // In
    {
      name: 'In: the label has one of the values',
      pod: pod().requiredTerms([term(expr('zone', 'In', ['x', 'a']))]),
      nodes: [zone('n1', 'a')],
      want: 'fits n1',
    },
    {
      name: 'In: the label has another value',
      pod: pod().requiredTerms([term(expr('zone', 'In', ['x', 'y']))]),
      nodes: [zone('n1', 'a')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'In: the label is missing',
      pod: pod().requiredTerms([term(expr('zone', 'In', ['a']))]),
      nodes: [node('n1')],
      want: none(1, `1 ${AFFINITY}`),
    },
    // NotIn
    { name: 'NotIn: another value fits', pod: pod().requiredTerms([term(expr('zone', 'NotIn', ['a']))]), nodes: [zone('n1', 'b')], want: 'fits n1' },
    { name: 'NotIn: a missing label fits', pod: pod().requiredTerms([term(expr('zone', 'NotIn', ['a']))]), nodes: [node('n1')], want: 'fits n1' },
    {
      name: 'NotIn: a listed value does not fit',
      pod: pod().requiredTerms([term(expr('zone', 'NotIn', ['b', 'a']))]),
      nodes: [zone('n1', 'a'), zone('n2', 'b')],
      want: none(2, `2 ${AFFINITY}`),
    },
    // Exists / DoesNotExist
    {
      name: 'Exists: any value fits',
      pod: pod().requiredTerms([term(expr('gpu', 'Exists'))]),
      nodes: [node('n1'), node('n2').label('gpu', '')],
      want: 'fits n2',
    },
    {
      name: 'Exists: a missing label does not fit',
      pod: pod().requiredTerms([term(expr('gpu', 'Exists'))]),
      nodes: [node('n1')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'DoesNotExist: a missing label fits',
      pod: pod().requiredTerms([term(expr('gpu', 'DoesNotExist'))]),
      nodes: [node('n1').label('gpu', 't4'), node('n2')],
      want: 'fits n2',
    },
    {
      name: 'DoesNotExist: a present label does not fit',
      pod: pod().requiredTerms([term(expr('gpu', 'DoesNotExist'))]),
      nodes: [node('n1').label('gpu', 't4')],
      want: none(1, `1 ${AFFINITY}`),
    },
    // Gt / Lt
    {
      name: 'Gt: a greater integer fits',
      pod: pod().requiredTerms([term(expr('cores', 'Gt', ['8']))]),
      nodes: [node('n1').label('cores', '16')],
      want: 'fits n1',
    },
    {
      name: 'Gt compares integers, not strings (10 > 9)',
      pod: pod().requiredTerms([term(expr('cores', 'Gt', ['9']))]),
      nodes: [node('n1').label('cores', '10')],
      want: 'fits n1',
    },
    {
      name: 'Gt: an equal value does not fit',
      pod: pod().requiredTerms([term(expr('cores', 'Gt', ['8']))]),
      nodes: [node('n1').label('cores', '8')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'Gt: a smaller value does not fit',
      pod: pod().requiredTerms([term(expr('cores', 'Gt', ['8']))]),
      nodes: [node('n1').label('cores', '4')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'Gt: a missing label never matches',
      pod: pod().requiredTerms([term(expr('cores', 'Gt', ['0']))]),
      nodes: [node('n1')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'Gt: a non-integer label never matches',
      pod: pod().requiredTerms([term(expr('cores', 'Gt', ['0']))]),
      nodes: [node('n1').label('cores', 'many')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'Gt: a label with leading zeros is a decimal integer',
      pod: pod().requiredTerms([term(expr('cores', 'Gt', ['5']))]),
      nodes: [node('n1').label('cores', '007')],
      want: 'fits n1',
    },
    {
      name: 'Gt: a non-integer bound makes the term match nothing',
      pod: pod().requiredTerms([term(expr('cores', 'Gt', ['ten']))]),
      nodes: [node('n1').label('cores', '16')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'Lt: a smaller integer fits',
      pod: pod().requiredTerms([term(expr('gen', 'Lt', ['5']))]),
      nodes: [node('n1').label('gen', '3')],
      want: 'fits n1',
    },
    {
      name: 'Lt compares integers, not strings (9 < 10)',
      pod: pod().requiredTerms([term(expr('gen', 'Lt', ['10']))]),
      nodes: [node('n1').label('gen', '9')],
      want: 'fits n1',
    },
    {
      name: 'Lt: an equal value does not fit',
      pod: pod().requiredTerms([term(expr('gen', 'Lt', ['5']))]),
      nodes: [node('n1').label('gen', '5')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'Lt: a missing label never matches',
      pod: pod().requiredTerms([term(expr('gen', 'Lt', ['5']))]),
      nodes: [node('n1')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'Lt: a non-integer label never matches',
      pod: pod().requiredTerms([term(expr('gen', 'Lt', ['5']))]),
      nodes: [node('n1').label('gen', '3b')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'Gt and Lt together bound a range',
      pod: pod().requiredTerms([term(expr('cores', 'Gt', ['4']), expr('cores', 'Lt', ['16']))]),
      nodes: [node('n1').label('cores', '4'), node('n2').label('cores', '16'), node('n3').label('cores', '8')],
      want: 'fits n3',
    },
    // matchFields
    {
      name: 'matchFields metadata.name In picks that node',
      pod: pod().requiredTerms([fieldTerm('In', 'n2')]),
      nodes: [node('n1'), node('n2')],
      want: 'fits n2',
    },
    {
      name: 'matchFields metadata.name NotIn passes that node over',
      pod: pod().requiredTerms([fieldTerm('NotIn', 'n1')]),
      nodes: [node('n1'), node('n2')],
      want: 'fits n2',
    },
    {
      name: 'matchFields metadata.name NotIn of the only node leaves none',
      pod: pod().requiredTerms([fieldTerm('NotIn', 'n1')]),
      nodes: [node('n1')],
      want: none(1, `1 ${AFFINITY}`),
    },
    {
      name: 'matchFields naming an unknown node rejects every node under NodeAffinity',
      pod: pod().requiredTerms([fieldTerm('In', 'ghost')]),
      nodes: [node('n1'), node('n2')],
      want: none(2, `2 ${AFFINITY}`),
    },
    {
      name: 'matchFields NotIn an unknown node keeps every node',
      pod: pod().requiredTerms([fieldTerm('NotIn', 'ghost')]),
      nodes: [node('n1')],
      want: 'fits n1',
    },
    {
      name: 'matchFields terms are ORed like expression terms',
      pod: pod().requiredTerms([fieldTerm('In', 'ghost'), fieldTerm('In', 'n2')]),
      nodes: [node('n1'), node('n2')],
      want: 'fits n2',
    },
    {
      name: 'matchFields with two values does not parse and matches nothing',
      pod: pod().requiredTerms([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1', 'n2'] }] }]),
      nodes: [node('n1'), node('n2')],
      want: none(2, `2 ${AFFINITY}`),
    },
    {
      name: 'a node outside the affinity that is also too small counts only under NodeAffinity',
      pod: pod()
        .nodeSelector('zone', 'a')
        .container('app', needs({ cpu: '8' })),
      nodes: [zone('n1', 'b')],
      want: none(1, `1 ${AFFINITY}`),
    },
  ]);
});

describe('filter 5: NodeResourcesFit', () => {
  run([
    { name: 'a request equal to allocatable fits', pod: pod().container('app', needs({ cpu: '4' })), nodes: [node('n1')], want: 'fits n1' },
    {
      name: 'more cpu than allocatable',
      pod: pod().container('app', needs({ cpu: '4001m' })),
      nodes: [node('n1')],
      want: none(1, '1 Insufficient cpu'),
    },
    {
      name: 'more memory than allocatable',
      pod: pod().container('app', needs({ memory: '17Gi' })),
      nodes: [node('n1')],
      want: none(1, '1 Insufficient memory'),
    },
    {
      name: 'more ephemeral-storage than allocatable',
      pod: pod().container('app', needs({ 'ephemeral-storage': '200Gi' })),
      nodes: [node('n1')],
      want: none(1, '1 Insufficient ephemeral-storage'),
    },
    {
      name: 'hugepages beyond allocatable',
      pod: pod().container('app', needs({ memory: '1Gi', 'hugepages-2Mi': '2Gi' })),
      nodes: [node('n1').allocatable({ 'hugepages-2Mi': '1Gi' })],
      want: none(1, '1 Insufficient hugepages-2Mi'),
    },
    {
      name: 'hugepages within allocatable fit',
      pod: pod().container('app', needs({ memory: '1Gi', 'hugepages-2Mi': '1Gi' })),
      nodes: [node('n1').allocatable({ 'hugepages-2Mi': '1Gi' })],
      want: 'fits n1',
    },
    {
      name: 'hugepages of another size do not count',
      pod: pod().container('app', needs({ memory: '1Gi', 'hugepages-1Gi': '1Gi' })),
      nodes: [node('n1').allocatable({ 'hugepages-2Mi': '4Gi' })],
      want: none(1, '1 Insufficient hugepages-1Gi'),
    },
    {
      name: 'an extended resource the node does not list is 0',
      pod: pod().container('app', needs({ 'nvidia.com/gpu': '1' })),
      nodes: [node('n1')],
      want: none(1, '1 Insufficient nvidia.com/gpu'),
    },
    {
      name: 'an extended resource beyond allocatable',
      pod: pod().container('app', needs({ 'nvidia.com/gpu': '2' })),
      nodes: [node('n1').allocatable({ 'nvidia.com/gpu': '1' })],
      want: none(1, '1 Insufficient nvidia.com/gpu'),
    },
    {
      name: 'an extended resource within allocatable fits',
      pod: pod().container('app', needs({ 'nvidia.com/gpu': '1' })),
      nodes: [node('n1'), node('n2').allocatable({ 'nvidia.com/gpu': '1' })],
      want: 'fits n2',
    },
    {
      name: 'allocatable pods 0: Too many pods',
      pod: pod(),
      nodes: [node('n1').allocatable({ pods: '0' })],
      want: none(1, '1 Too many pods'),
    },
    {
      name: 'no allocatable pods at all: Too many pods',
      pod: pod(),
      nodes: [makeNode('n1').allocatable({ cpu: '4', memory: '16Gi' })],
      want: none(1, '1 Too many pods'),
    },
    {
      name: 'a node can count under several Insufficient reasons',
      pod: pod().container('app', needs({ cpu: '2', memory: '2Gi' })),
      nodes: [sized('n1', { cpu: '1', memory: '1Gi' })],
      want: none(1, '1 Insufficient cpu, 1 Insufficient memory'),
    },
    {
      name: 'a node with no room for pods and too little cpu counts under both',
      pod: pod().container('app', needs({ cpu: '2' })),
      nodes: [sized('n1', { cpu: '1', pods: '0' })],
      want: none(1, '1 Insufficient cpu, 1 Too many pods'),
    },
    {
      name: 'counts per resource add up across nodes',
      pod: pod().container('app', needs({ cpu: '2', memory: '2Gi' })),
      nodes: [sized('n1', { cpu: '1', memory: '4Gi' }), sized('n2', { cpu: '1', memory: '1Gi' })],
      want: none(2, '1 Insufficient memory, 2 Insufficient cpu'),
    },
    {
      name: 'containers add up',
      pod: pod()
        .container('a', needs({ cpu: '2' }))
        .container('b', needs({ cpu: '2500m' })),
      nodes: [node('n1')],
      want: none(1, '1 Insufficient cpu'),
    },
    {
      name: 'a request defaulted from the limit counts',
      pod: pod().container('app', { resources: { limits: { cpu: '8' } } }),
      nodes: [node('n1')],
      want: none(1, '1 Insufficient cpu'),
    },
    {
      name: 'an allocatable quantity that does not parse counts as absent, never as a crash',
      pod: pod().container('app', needs({ cpu: '1' })),
      nodes: [sized('n1', { cpu: 'lots' }), sized('n2', { cpu: '2', memory: '1 Gi' })],
      want: 'fits n2',
    },
    {
      name: 'an allocatable quantity that does not parse leaves the node short of it',
      pod: pod().container('app', needs({ cpu: '1' })),
      nodes: [sized('n1', { cpu: 'lots', memory: '1Gi' })],
      want: none(1, '1 Insufficient cpu'),
    },
    {
      name: 'a bigger node is found among small ones',
      pod: pod().container('app', needs({ cpu: '6' })),
      nodes: [node('n1'), sized('n2', { cpu: '8' }), node('n3')],
      want: 'fits n2',
    },
  ]);

  describe('init containers and overhead, end to end', () => {
    run([
      {
        name: 'an init container bigger than the containers sets the request (3 > 1 + 1)',
        pod: pod()
          .initContainer('init', needs({ cpu: '3' }))
          .container('a', needs({ cpu: '1' }))
          .container('b', needs({ cpu: '1' })),
        nodes: [sized('n1', { cpu: '2' })],
        want: none(1, '1 Insufficient cpu'),
      },
      {
        name: 'an init container bigger than the containers fits a node of its size',
        pod: pod()
          .initContainer('init', needs({ cpu: '3' }))
          .container('a', needs({ cpu: '1' }))
          .container('b', needs({ cpu: '1' })),
        nodes: [sized('n1', { cpu: '3' })],
        want: 'fits n1',
      },
      {
        name: 'init containers are not added to the containers (max(1 + 2, 2) = 3)',
        pod: pod()
          .initContainer('init', needs({ cpu: '2' }))
          .container('a', needs({ cpu: '1' }))
          .container('b', needs({ cpu: '2' })),
        nodes: [sized('n1', { cpu: '3' })],
        want: 'fits n1',
      },
      {
        name: 'init containers are not added to each other (max(2, 2) = 2)',
        pod: pod()
          .initContainer('i1', needs({ cpu: '2' }))
          .initContainer('i2', needs({ cpu: '2' }))
          .container('a', needs({ cpu: '1' })),
        nodes: [sized('n1', { cpu: '2' })],
        want: 'fits n1',
      },
      {
        name: 'the init maximum is taken per resource',
        pod: pod()
          .initContainer('cpu-heavy', needs({ cpu: '3', memory: '1Gi' }))
          .initContainer('memory-heavy', needs({ cpu: '1', memory: '3Gi' }))
          .container('a', needs({ cpu: '1', memory: '1Gi' })),
        nodes: [sized('n1', { cpu: '3', memory: '2Gi' }), sized('n2', { cpu: '2', memory: '3Gi' }), sized('n3', { cpu: '3', memory: '3Gi' })],
        want: 'fits n3',
      },
      {
        name: 'the init maximum per resource, when no node fits',
        pod: pod()
          .initContainer('cpu-heavy', needs({ cpu: '3', memory: '1Gi' }))
          .initContainer('memory-heavy', needs({ cpu: '1', memory: '3Gi' }))
          .container('a', needs({ cpu: '1', memory: '1Gi' })),
        nodes: [sized('n1', { cpu: '3', memory: '2Gi' }), sized('n2', { cpu: '2', memory: '3Gi' })],
        want: none(2, '1 Insufficient cpu, 1 Insufficient memory'),
      },
      {
        name: 'overhead is added to the containers (3500m + 500m = 4)',
        pod: pod()
          .container('app', needs({ cpu: '3500m' }))
          .spec({ overhead: { cpu: '500m' } }),
        nodes: [sized('n1', { cpu: '4' })],
        want: 'fits n1',
      },
      {
        name: 'overhead can tip a pod over (3500m + 600m > 4)',
        pod: pod()
          .container('app', needs({ cpu: '3500m' }))
          .spec({ overhead: { cpu: '600m' } }),
        nodes: [sized('n1', { cpu: '4' })],
        want: none(1, '1 Insufficient cpu'),
      },
      {
        name: 'overhead is added to the init maximum too (4 + 1m > 4)',
        pod: pod()
          .initContainer('init', needs({ cpu: '4' }))
          .container('app', needs({ cpu: '1' }))
          .spec({ overhead: { cpu: '1m' } }),
        nodes: [sized('n1', { cpu: '4' })],
        want: none(1, '1 Insufficient cpu'),
      },
      {
        name: 'overhead of memory alone is a memory request',
        pod: pod().spec({ overhead: { memory: '2Gi' } }),
        nodes: [sized('n1', { cpu: '4', memory: '1Gi' })],
        want: none(1, '1 Insufficient memory'),
      },
    ]);
  });
});

describe('counting each node under its first failing filter', () => {
  run([
    {
      name: 'one node per filter: each counted once, entries sorted as strings',
      pod: pod()
        .nodeSelector('zone', 'a')
        .container('app', needs({ cpu: '6' })),
      nodes: [
        node('cordoned').label('zone', 'a').unschedulable(),
        node('tainted').label('zone', 'a').taint('dedicated', 'gpu', 'NoSchedule'),
        node('elsewhere').label('zone', 'b'),
        node('small').label('zone', 'a'),
      ],
      want: none(4, `1 Insufficient cpu, 1 ${AFFINITY}, 1 node(s) had untolerated taint {dedicated: gpu}, 1 ${UNSCHEDULABLE}`),
    },
    {
      name: 'entries sort as strings, so 10 comes before 2',
      pod: pod(),
      nodes: [
        ...Array.from({ length: 10 }, (_, i) => node(`t${i}`).taint('dedicated', 'gpu', 'NoSchedule')),
        node('c0').unschedulable(),
        node('c1').unschedulable(),
      ],
      want: none(12, `10 node(s) had untolerated taint {dedicated: gpu}, 2 ${UNSCHEDULABLE}`),
    },
    {
      name: 'capitalised reasons sort before lower-case ones of the same count',
      pod: pod().nodeSelector('zone', 'a'),
      nodes: [node('n1').label('zone', 'a').allocatable({ pods: '0' }), node('n2')],
      want: none(2, `1 Too many pods, 1 ${AFFINITY}`),
    },
    {
      name: 'nodes sharing a shape still count one by one',
      pod: pod().container('app', needs({ cpu: '8' })),
      nodes: [node('n1'), node('n2'), node('n3')],
      want: none(3, '3 Insufficient cpu'),
    },
  ]);

  it('firstFailure names the first filter that rejects a node', () => {
    const wrong = () => node('n1').label('zone', 'b').taint('dedicated', 'gpu', 'NoSchedule');
    const elsewhere = podConstraints(
      pod()
        .nodeSelector('zone', 'a')
        .container('app', needs({ cpu: '8' }))
        .spec({ nodeName: 'other' })
        .obj(),
    );
    expect(firstFailure(elsewhere, wrong().unschedulable().obj())?.filter).toBe('NodeUnschedulable');
    expect(firstFailure(elsewhere, wrong().obj())?.filter).toBe('NodeName');
    const named = podConstraints(
      pod()
        .nodeSelector('zone', 'a')
        .container('app', needs({ cpu: '8' }))
        .obj(),
    );
    expect(firstFailure(named, wrong().obj())).toEqual({
      filter: 'TaintToleration',
      taint: { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
    });
    expect(firstFailure(named, node('n1').label('zone', 'b').obj())?.filter).toBe('NodeAffinity');
    expect(firstFailure(named, node('n1').label('zone', 'a').obj())).toEqual({
      filter: 'NodeResourcesFit',
      insufficient: [{ resourceName: 'cpu', requested: 8000n, capacity: 4000n }],
    });
    expect(firstFailure(named, sized('n1', { cpu: '8' }).label('zone', 'a').obj())).toBeUndefined();
  });
});

describe('clusters larger than a sparse posting', () => {
  // 70 nodes share each label, taint and shape: their postings are bit sets, not lists of ids.
  const cluster = (): NodeBuilder[] => [
    ...Array.from({ length: 70 }, (_, i) => node(`spot-${i}`).label('zone', 'a').label('lifecycle', 'spot').taint('spot', 'true', 'NoSchedule')),
    ...Array.from({ length: 30 }, (_, i) => node(`ondemand-${i}`).label('zone', 'b')),
    sized('spot-big', { cpu: '16', memory: '64Gi' }).label('zone', 'a').label('lifecycle', 'spot').taint('spot', 'true', 'NoSchedule'),
  ];
  const tolerant = () => pod().toleration({ key: 'spot', operator: 'Exists' });

  run([
    {
      name: 'counts over dense postings',
      pod: pod().nodeSelector('zone', 'a'),
      nodes: cluster(),
      want: none(101, `30 ${AFFINITY}, 71 node(s) had untolerated taint {spot: true}`),
    },
    {
      name: 'finds the one node of a dense label posting that is big enough',
      pod: tolerant()
        .nodeSelector('lifecycle', 'spot')
        .container('app', needs({ cpu: '12' })),
      nodes: cluster(),
      want: 'fits spot-big',
    },
    {
      name: 'NotIn and Exists over dense postings',
      pod: tolerant().requiredTerms([term(expr('lifecycle', 'Exists'), expr('kubernetes.io/hostname', 'NotIn', ['spot-0', 'spot-1']))]),
      nodes: cluster(),
      want: 'fits spot-2',
    },
    {
      name: 'DoesNotExist over dense postings',
      pod: tolerant()
        .requiredTerms([term(expr('lifecycle', 'DoesNotExist'))])
        .container('app', needs({ cpu: '12' })),
      nodes: cluster(),
      want: none(101, `30 Insufficient cpu, 71 ${AFFINITY}`),
    },
    {
      name: 'matchFields picks one node among many',
      pod: tolerant().requiredTerms([fieldTerm('In', 'spot-69')]),
      nodes: cluster(),
      want: 'fits spot-69',
    },
  ]);
});
