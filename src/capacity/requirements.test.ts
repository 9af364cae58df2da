import { describe, expect, it } from 'vitest';
import { makePod } from '../../test/support/builders.js';
import { nodeAffinityConstraints } from '../scheduling/feasibility.js';
import {
  allows,
  conjoin,
  describeRequirement,
  incompatibility,
  intersect,
  intersects,
  labelRequirements,
  operatorOf,
  podAlternatives,
  requirement,
  type Requirement,
} from './requirements.js';

const r = (key: string, op: string, values: string[] = [], minValues?: number): Requirement => {
  const out = requirement(key, op, values, minValues);
  if (!out) throw new Error(`no requirement for ${key} ${op} ${values.join(',')}`);
  return out;
};
const reqs = (...list: Requirement[]) => conjoin(list);

describe('requirement sets', () => {
  it.each([
    { name: 'In allows its values only', req: r('zone', 'In', ['a', 'b']), yes: ['a', 'b'], no: ['c'] },
    { name: 'NotIn allows everything else', req: r('zone', 'NotIn', ['a']), yes: ['b', ''], no: ['a'] },
    { name: 'Exists allows any value', req: r('gpu', 'Exists'), yes: ['x', ''], no: [] },
    { name: 'DoesNotExist allows none', req: r('gpu', 'DoesNotExist'), yes: [], no: ['x', ''] },
    { name: 'Gt is an exclusive integer bound', req: r('gen', 'Gt', ['3']), yes: ['4', '10'], no: ['3', '2', 'x', '3.5'] },
    { name: 'Lt is an exclusive integer bound', req: r('gen', 'Lt', ['3']), yes: ['2', '-5'], no: ['3', 'x'] },
  ])('$name', ({ req, yes, no }) => {
    for (const v of yes) expect(allows(req, v), v).toBe(true);
    for (const v of no) expect(allows(req, v), v).toBe(false);
  });

  it('a Gt or Lt bound that is not an integer is no requirement (the scheduler reads such a term as matching nothing)', () => {
    expect(requirement('gen', 'Gt', ['1.5'])).toBeUndefined();
    expect(requirement('gen', 'Gt', ['1', '2'])).toBeUndefined();
    expect(requirement('gen', 'Near', ['1'])).toBeUndefined();
  });

  it('deprecated beta keys are read as their stable names', () => {
    expect(r('beta.kubernetes.io/arch', 'In', ['arm64']).key).toBe('kubernetes.io/arch');
    expect(r('failure-domain.beta.kubernetes.io/zone', 'In', ['a']).key).toBe('topology.kubernetes.io/zone');
  });

  // Every operator pair: whether some value satisfies both.
  it.each([
    ['In [a b]', r('k', 'In', ['a', 'b']), 'In [b c]', r('k', 'In', ['b', 'c']), true],
    ['In [a]', r('k', 'In', ['a']), 'In [b]', r('k', 'In', ['b']), false],
    ['In [a]', r('k', 'In', ['a']), 'NotIn [a]', r('k', 'NotIn', ['a']), false],
    ['In [a b]', r('k', 'In', ['a', 'b']), 'NotIn [a]', r('k', 'NotIn', ['a']), true],
    ['In [a]', r('k', 'In', ['a']), 'Exists', r('k', 'Exists'), true],
    ['In [a]', r('k', 'In', ['a']), 'DoesNotExist', r('k', 'DoesNotExist'), false],
    ['NotIn [a]', r('k', 'NotIn', ['a']), 'NotIn [b]', r('k', 'NotIn', ['b']), true],
    ['NotIn [a]', r('k', 'NotIn', ['a']), 'Exists', r('k', 'Exists'), true],
    ['NotIn [a]', r('k', 'NotIn', ['a']), 'DoesNotExist', r('k', 'DoesNotExist'), false],
    ['Exists', r('k', 'Exists'), 'Exists', r('k', 'Exists'), true],
    ['Exists', r('k', 'Exists'), 'DoesNotExist', r('k', 'DoesNotExist'), false],
    ['DoesNotExist', r('k', 'DoesNotExist'), 'DoesNotExist', r('k', 'DoesNotExist'), false],
    ['Gt 3', r('k', 'Gt', ['3']), 'Lt 5', r('k', 'Lt', ['5']), true],
    ['Gt 3', r('k', 'Gt', ['3']), 'Lt 4', r('k', 'Lt', ['4']), false],
    ['Gt 3', r('k', 'Gt', ['3']), 'In [4 x]', r('k', 'In', ['4', 'x']), true],
    ['Gt 3', r('k', 'Gt', ['3']), 'In [2 x]', r('k', 'In', ['2', 'x']), false],
    ['Lt 3', r('k', 'Lt', ['3']), 'NotIn [1]', r('k', 'NotIn', ['1']), true],
    ['Gt 3', r('k', 'Gt', ['3']), 'Exists', r('k', 'Exists'), true],
    ['Gt 3', r('k', 'Gt', ['3']), 'DoesNotExist', r('k', 'DoesNotExist'), false],
  ])('%s ∩ %s', (_a, a, _b, b, want) => {
    expect(intersects(a, b)).toBe(want);
    expect(intersects(b, a)).toBe(want);
  });

  it('an intersection of a finite set with bounds keeps the values within them, and no bounds', () => {
    const i = intersect(r('k', 'In', ['2', '4', 'x']), r('k', 'Gt', ['3']));
    expect([...i.values]).toEqual(['4']);
    expect(operatorOf(i)).toBe('In');
    expect(i.gte).toBeUndefined();
  });

  it('reads as Karpenter prints it', () => {
    expect(describeRequirement(r('zone', 'In', ['b', 'a']))).toBe('zone In [a b]');
    expect(describeRequirement(r('gpu', 'Exists'))).toBe('gpu Exists');
    expect(describeRequirement(r('gen', 'Gt', ['3']))).toBe('gen Exists >=4');
    expect(describeRequirement(r('t', 'In', ['a', 'b', 'c', 'd', 'e', 'f', 'g'], 2))).toBe('t In [a b c d e and 2 others] minValues 2');
  });
});

describe('incompatibility: could a node of the pool satisfy the pod', () => {
  const pool = reqs(
    r('karpenter.sh/nodepool', 'In', ['spot']),
    r('karpenter.sh/capacity-type', 'In', ['spot']),
    r('topology.kubernetes.io/zone', 'In', ['a', 'b']),
    r('team', 'In', ['data']),
    r('tier', 'NotIn', ['gold']),
    r('node.kubernetes.io/instance-type', 'In', ['m5.large', 'm5.xlarge', 'c5.large'], 2),
  );
  it.each([
    { name: 'zone In [a] against the pool zone In [a, b] is compatible', pod: [r('topology.kubernetes.io/zone', 'In', ['a'])], want: undefined },
    {
      name: 'zone In [c] is not',
      pod: [r('topology.kubernetes.io/zone', 'In', ['c'])],
      want: 'key topology.kubernetes.io/zone, topology.kubernetes.io/zone In [c] not in topology.kubernetes.io/zone In [a b]',
    },
    { name: 'a label the pool defines, with a value it allows', pod: [r('team', 'In', ['data'])], want: undefined },
    { name: 'a label the pool defines, with another value', pod: [r('team', 'In', ['web'])], want: 'key team, team In [web] not in team In [data]' },
    {
      name: 'a custom label the pool does not define is unknown (lifecycle: Ec2Spot vs a pool without it)',
      pod: [r('lifecycle', 'In', ['Ec2Spot'])],
      want: 'label "lifecycle" does not have known values',
    },
    { name: 'Exists on an undefined custom label is unknown too', pod: [r('gpu', 'Exists')], want: 'label "gpu" does not have known values' },
    { name: 'NotIn on an undefined custom label needs nothing', pod: [r('gpu', 'NotIn', ['x'])], want: undefined },
    { name: 'DoesNotExist on an undefined custom label needs nothing', pod: [r('gpu', 'DoesNotExist')], want: undefined },
    {
      name: 'a well-known label the pool does not define may take any value the provider offers',
      pod: [r('kubernetes.io/arch', 'In', ['arm64'])],
      want: undefined,
    },
    { name: 'an AWS well-known label too', pod: [r('karpenter.k8s.aws/instance-family', 'In', ['m5'])], want: undefined },
    { name: 'a deprecated beta key is read as the stable one', pod: [r('failure-domain.beta.kubernetes.io/zone', 'In', ['b'])], want: undefined },
    { name: 'NotIn against NotIn: both only exclude', pod: [r('tier', 'DoesNotExist')], want: undefined },
    {
      name: 'a capacity type the pool does not offer',
      pod: [r('karpenter.sh/capacity-type', 'In', ['on-demand'])],
      want: 'key karpenter.sh/capacity-type, karpenter.sh/capacity-type In [on-demand] not in karpenter.sh/capacity-type In [spot]',
    },
    {
      name: 'narrowing below the pool minValues is incompatible',
      pod: [r('node.kubernetes.io/instance-type', 'In', ['m5.large'])],
      want: 'key node.kubernetes.io/instance-type, node.kubernetes.io/instance-type In [m5.large] leaves 1 of the 2 values the pool needs (minValues)',
    },
    { name: 'narrowing that keeps minValues is compatible', pod: [r('node.kubernetes.io/instance-type', 'NotIn', ['c5.large'])], want: undefined },
  ])('$name', ({ pod, want }) => {
    expect(incompatibility(pool, conjoin(pod))).toBe(want);
  });

  it('labels of the pool template are requirements In [value]', () => {
    expect(incompatibility(conjoin(labelRequirements({ lifecycle: 'OnDemand' })), conjoin([r('lifecycle', 'In', ['Ec2Spot'])]))).toBe(
      'key lifecycle, lifecycle In [Ec2Spot] not in lifecycle In [OnDemand]',
    );
  });
});

describe('podAlternatives: what a pod asks of a node that does not exist yet', () => {
  const alternatives = (pod: ReturnType<typeof makePod>) =>
    podAlternatives(nodeAffinityConstraints(pod.obj().spec)).map((m) => [...m.values()].map(describeRequirement));
  it.each([
    { name: 'no constraint: one alternative with nothing in it', pod: makePod(), want: [[]] },
    { name: 'a nodeSelector', pod: makePod().nodeSelector('lifecycle', 'Ec2Spot'), want: [['lifecycle In [Ec2Spot]']] },
    {
      name: 'nodeSelector AND each of two ORed terms',
      pod: makePod()
        .nodeSelector('lifecycle', 'Ec2Spot')
        .requiredTerms([
          { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] },
          { matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['3'] }] },
        ]),
      want: [
        ['lifecycle In [Ec2Spot]', 'zone In [a]'],
        ['lifecycle In [Ec2Spot]', 'gen Exists >=4'],
      ],
    },
    {
      name: 'a term naming an existing node by matchFields In is no alternative; NotIn is harmless',
      pod: makePod().requiredTerms([
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
        { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n1'] }] },
      ]),
      want: [[]],
    },
    { name: 'an empty term is no alternative', pod: makePod().requiredTerms([{}]), want: [] },
    {
      name: 'a term that does not parse is no alternative',
      pod: makePod().requiredTerms([{ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['x'] }] }]),
      want: [],
    },
  ])('$name', ({ pod, want }) => expect(alternatives(pod)).toEqual(want));
});
