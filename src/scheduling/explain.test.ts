import type { V1Container } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { makeNode, makePod, type NodeBuilder, type PodBuilder } from '../../test/support/builders.js';
import { explain, formatAmount } from './explain.js';
import { podConstraints } from './feasibility.js';

const node = (name: string): NodeBuilder =>
  makeNode(name).label('kubernetes.io/hostname', name).label('kubernetes.io/os', 'linux').allocatable({ cpu: '4', memory: '16Gi', pods: '110' });

const needs = (requests: Record<string, string>): Omit<V1Container, 'name'> => ({ resources: { requests, limits: requests } });

const explainFor = (pod: PodBuilder, nodes: NodeBuilder[], max?: number) =>
  explain(
    podConstraints(pod.obj()),
    nodes.map((n) => n.obj()),
    max,
  );

/** What one node lacks, read from the single group it forms. */
function lacksOf(pod: PodBuilder, n: NodeBuilder): readonly string[] {
  const groups = explainFor(pod, [n]);
  return groups[0]?.lacks ?? [];
}

describe('formatAmount', () => {
  it.each<{ resource: string; amount: bigint; want: string }>([
    { resource: 'cpu', amount: 0n, want: '0' },
    { resource: 'cpu', amount: 1000n, want: '1' },
    { resource: 'cpu', amount: 16000n, want: '16' },
    { resource: 'cpu', amount: 1500n, want: '1500m' },
    { resource: 'cpu', amount: 250n, want: '250m' },
    { resource: 'memory', amount: 0n, want: '0' },
    { resource: 'memory', amount: 1000n, want: '1000' },
    { resource: 'memory', amount: 1024n, want: '1Ki' },
    { resource: 'memory', amount: 1024000n, want: '1000Ki' },
    { resource: 'memory', amount: 1_000_000_000n, want: '1000000000' },
    { resource: 'memory', amount: 16n << 30n, want: '16Gi' },
    { resource: 'memory', amount: 1536n << 20n, want: '1536Mi' },
    { resource: 'memory', amount: 3n << 40n, want: '3Ti' },
    { resource: 'memory', amount: 2n << 50n, want: '2Pi' },
    { resource: 'memory', amount: 1n << 60n, want: '1Ei' },
    { resource: 'memory', amount: 2048n << 30n, want: '2Ti' },
    { resource: 'ephemeral-storage', amount: 100n << 30n, want: '100Gi' },
    { resource: 'hugepages-2Mi', amount: 2n << 20n, want: '2Mi' },
    { resource: 'hugepages-1Gi', amount: 4n << 30n, want: '4Gi' },
    { resource: 'nvidia.com/gpu', amount: 2n, want: '2' },
    { resource: 'nvidia.com/gpu', amount: 1024n, want: '1024' },
    { resource: 'pods', amount: 110n, want: '110' },
  ])('$resource $amount → $want', ({ resource, amount, want }) => {
    expect(formatAmount(resource, amount)).toBe(want);
  });
});

describe('what a node lacks', () => {
  it.each<{ name: string; pod: PodBuilder; node: NodeBuilder; want: string[] }>([
    { name: 'a cordoned node', pod: makePod(), node: node('n1').unschedulable(), want: ['is cordoned'] },
    {
      name: 'a cordoned node with the unschedulable taint is only "cordoned", not also missing a toleration',
      pod: makePod(),
      node: node('n1').unschedulable().taint('node.kubernetes.io/unschedulable', undefined, 'NoSchedule'),
      want: ['is cordoned'],
    },
    {
      name: 'a cordoned node, for a pod tolerating the cordon',
      pod: makePod().toleration({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists' }),
      node: node('n1').unschedulable(),
      want: [],
    },
    { name: 'another node than spec.nodeName', pod: makePod().spec({ nodeName: 'n9' }), node: node('n1'), want: ['is not node n9'] },
    {
      name: 'an untolerated taint with a value',
      pod: makePod(),
      node: node('n1').taint('dedicated', 'gpu', 'NoSchedule'),
      want: ['need toleration dedicated=gpu:NoSchedule'],
    },
    {
      name: 'an untolerated taint without a value',
      pod: makePod(),
      node: node('n1').taint('maintenance', undefined, 'NoExecute'),
      want: ['need toleration maintenance:NoExecute'],
    },
    {
      name: 'every untolerated taint, not just the first; tolerated, PreferNoSchedule and condition taints left out',
      pod: makePod().toleration({ key: 'spot', operator: 'Exists' }),
      node: node('n1')
        .taint('dedicated', 'gpu', 'NoSchedule')
        .taint('spot', 'true', 'NoSchedule')
        .taint('soft', 'yes', 'PreferNoSchedule')
        .taint('node.kubernetes.io/not-ready', undefined, 'NoExecute')
        .taint('reserved', 'infra', 'NoExecute'),
      want: ['need toleration dedicated=gpu:NoSchedule', 'need toleration reserved=infra:NoExecute'],
    },
    { name: 'a label the nodeSelector wants', pod: makePod().nodeSelector('zone', 'a'), node: node('n1'), want: ['lacks label zone=a'] },
    {
      name: 'a label with another value than the nodeSelector wants',
      pod: makePod().nodeSelector('zone', 'a'),
      node: node('n1').label('zone', 'b'),
      want: ['has zone=b, pod selects zone=a'],
    },
    {
      name: 'required node affinity',
      pod: makePod().requiredTerms([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }]),
      node: node('n1').label('zone', 'b'),
      want: ["doesn't match the pod's required node affinity"],
    },
    {
      name: 'cpu',
      pod: makePod().container('app', needs({ cpu: '8' })),
      node: node('n1'),
      want: ['too little cpu: pod requests 8, node has 4'],
    },
    {
      name: 'cpu in millicores',
      pod: makePod().container('app', needs({ cpu: '4500m' })),
      node: node('n1'),
      want: ['too little cpu: pod requests 4500m, node has 4'],
    },
    {
      name: 'memory in binary units',
      pod: makePod().container('app', needs({ memory: '32Gi' })),
      node: node('n1'),
      want: ['too little memory: pod requests 32Gi, node has 16Gi'],
    },
    {
      name: 'an extended resource the node does not list',
      pod: makePod().container('app', needs({ 'nvidia.com/gpu': '2' })),
      node: node('n1'),
      want: ['too little nvidia.com/gpu: pod requests 2, node has 0'],
    },
    {
      name: 'room for pods',
      pod: makePod(),
      node: node('n1').allocatable({ pods: '0' }),
      want: ['accepts no pods (allocatable pods: 0)'],
    },
    {
      name: 'everything at once, in filter order',
      pod: makePod()
        .spec({ nodeName: 'n9' })
        .nodeSelector('zone', 'a')
        .requiredTerms([{ matchExpressions: [{ key: 'disk', operator: 'Exists' }] }])
        .container('app', needs({ cpu: '8', memory: '32Gi' })),
      node: node('n1').unschedulable().taint('dedicated', 'gpu', 'NoSchedule').label('zone', 'b'),
      want: [
        'is cordoned',
        'is not node n9',
        'need toleration dedicated=gpu:NoSchedule',
        'has zone=b, pod selects zone=a',
        "doesn't match the pod's required node affinity",
        'too little cpu: pod requests 8, node has 4',
        'too little memory: pod requests 32Gi, node has 16Gi',
      ],
    },
  ])('$name', ({ pod, node: n, want }) => {
    expect(lacksOf(pod, n)).toEqual(want);
  });
});

describe('explain', () => {
  it('lists nothing when every node fits', () => {
    expect(explainFor(makePod(), [node('n1'), node('n2')])).toEqual([]);
  });

  it('leaves out the nodes that fit', () => {
    expect(explainFor(makePod(), [node('n1'), node('n2').unschedulable()])).toEqual([{ count: 1, description: 'n2', lacks: ['is cordoned'] }]);
  });

  it('groups nodes by what they lack and names each group by the labels that set it apart', () => {
    const spot = (name: string, zone: string) => node(name).label('lifecycle', 'Ec2Spot').label('zone', zone).taint('spot', 'true', 'NoSchedule');
    const onDemand = (name: string, zone: string) => node(name).label('lifecycle', 'OnDemand').label('zone', zone);
    const groups = explainFor(makePod().container('app', needs({ cpu: '8' })), [
      spot('s1', 'a'),
      onDemand('d1', 'a'),
      spot('s2', 'b'),
      spot('s3', 'c'),
      onDemand('d2', 'b'),
    ]);
    expect(groups).toEqual([
      { count: 2, description: 'lifecycle=OnDemand', lacks: ['too little cpu: pod requests 8, node has 4'] },
      {
        count: 3,
        description: 'lifecycle=Ec2Spot',
        lacks: ['need toleration spot=true:NoSchedule', 'too little cpu: pod requests 8, node has 4'],
      },
    ]);
  });

  it('orders by fewest lacks before size, then larger groups first, then first seen', () => {
    const pod = makePod().nodeSelector('zone', 'a');
    const groups = explainFor(
      pod,
      [
        node('t1').label('zone', 'a').label('pool', 't').taint('dedicated', 'gpu', 'NoSchedule').taint('spot', 'true', 'NoSchedule'),
        node('t2').label('zone', 'a').label('pool', 't').taint('dedicated', 'gpu', 'NoSchedule').taint('spot', 'true', 'NoSchedule'),
        node('t3').label('zone', 'a').label('pool', 't').taint('dedicated', 'gpu', 'NoSchedule').taint('spot', 'true', 'NoSchedule'),
        node('b1').label('zone', 'b'),
        node('c1').unschedulable().label('zone', 'a'),
        node('b2').label('zone', 'b'),
      ],
      4,
    );
    expect(groups.map((g) => [g.count, g.lacks.length, g.lacks[0]])).toEqual([
      [2, 1, 'has zone=b, pod selects zone=a'],
      [1, 1, 'is cordoned'],
      [3, 2, 'need toleration dedicated=gpu:NoSchedule'],
    ]);
  });

  it('keeps groups of equal rank in the order they were first seen', () => {
    const groups = explainFor(makePod(), [node('x').taint('a', '1', 'NoSchedule'), node('y').taint('b', '1', 'NoSchedule')]);
    expect(groups.map((g) => g.description)).toEqual(['x', 'y']);
  });

  it('returns at most 3 groups by default, and `max` when given', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'].map((k) => node(`n-${k}`).taint(k, 'x', 'NoSchedule'));
    expect(explainFor(makePod(), nodes)).toHaveLength(3);
    expect(explainFor(makePod(), nodes, 1)).toHaveLength(1);
    expect(explainFor(makePod(), nodes, 10)).toHaveLength(5);
  });

  describe('group descriptions', () => {
    const cordoned = (name: string) => node(name).unschedulable();
    const describeGroups = (pod: PodBuilder, nodes: NodeBuilder[]) => explainFor(pod, nodes, 10).map((g) => g.description);

    it('leave out labels every node of the cluster shares, and the hostname', () => {
      expect(describeGroups(makePod(), [cordoned('c1').label('pool', 'x'), cordoned('c2').label('pool', 'x'), node('ok')])).toEqual(['pool=x']);
    });

    it('count a label that other nodes lack as setting the group apart', () => {
      expect(describeGroups(makePod(), [cordoned('c1').label('gpu', 't4'), cordoned('c2').label('gpu', 't4'), node('ok')])).toEqual(['gpu=t4']);
    });

    it('leave out labels whose values differ within the group', () => {
      expect(
        describeGroups(makePod(), [
          cordoned('c1').label('pool', 'x').label('zone', 'a'),
          cordoned('c2').label('pool', 'x').label('zone', 'b'),
          node('ok'),
        ]),
      ).toEqual(['pool=x']);
    });

    it('name at most two labels, in alphabetical order', () => {
      const labelled = (name: string) => cordoned(name).label('c', '3').label('a', '1').label('b', '2');
      expect(describeGroups(makePod(), [labelled('c1'), labelled('c2'), node('ok')])).toEqual(['a=1,b=2']);
    });

    it('put the keys the pod selects on first', () => {
      const labelled = (name: string) => cordoned(name).label('c', '3').label('a', '1').label('b', '2');
      expect(describeGroups(makePod().nodeSelector('c', 'x'), [labelled('c1'), labelled('c2'), node('ok').label('c', 'x')])).toEqual(['c=3,a=1']);
    });

    it('fall back to the node name for a one-node group with nothing telling', () => {
      expect(describeGroups(makePod(), [cordoned('c1'), node('ok')])).toEqual(['c1']);
    });

    it('are empty for a larger group with nothing telling', () => {
      expect(describeGroups(makePod(), [cordoned('c1'), cordoned('c2')])).toEqual(['']);
    });
  });
});
