import { describe, expect, it } from 'vitest';
import { makePod, type PodBuilder } from '../../test/support/builders.js';
import { podConstraints } from '../scheduling/feasibility.js';
import { judgeCapacity, type AddableCapacity, type CapacityVerdict } from './capacity.js';
import { clusterApiCapacity, parseLabelsAnnotation, parseTaintsAnnotation } from './cluster-api.js';
import { byWeight, nodePoolCapacity, parseNodePool, type NodePool } from './nodepool.js';
import { templateCapacity } from './templates.js';
import type { NodeTemplate } from '../rules/schema.js';

const requests = (r: Record<string, string>) => ({ resources: { requests: r } });
const judge = (cap: AddableCapacity | undefined, pod: PodBuilder): CapacityVerdict => {
  if (!cap) throw new Error('no capacity');
  return cap.judge(podConstraints(pod.obj()));
};

describe('node templates: unknown is not zero', () => {
  it.each<{ name: string; t: NodeTemplate; pod: PodBuilder; want: CapacityVerdict }>([
    {
      name: 'a template without resources does not refuse a pod with requests; they are unchecked',
      t: { name: 'spot' },
      pod: makePod().container('a', requests({ cpu: '2', memory: '4Gi' })),
      want: { fits: true, unchecked: ['cpu', 'memory'] },
    },
    {
      name: 'a stated resource constrains',
      t: { name: 'small', allocatable: { cpu: '1' } },
      pod: makePod().container('a', requests({ cpu: '2', memory: '4Gi' })),
      want: { fits: false, reason: 'Insufficient cpu' },
    },
    {
      name: 'stated and unstated together: the stated fits, the other is unchecked',
      t: { name: 't', allocatable: { cpu: '4' } },
      pod: makePod().container('a', requests({ cpu: '2', memory: '4Gi' })),
      want: { fits: true, unchecked: ['memory'] },
    },
    {
      name: 'an extended resource the template does not state is unchecked, not missing',
      t: { name: 't' },
      pod: makePod().container('a', requests({ 'nvidia.com/gpu': '1' })),
      want: { fits: true, unchecked: ['nvidia.com/gpu'] },
    },
    {
      name: 'pods is 110 unless stated',
      t: { name: 't', allocatable: { pods: '0' } },
      pod: makePod(),
      want: { fits: false, reason: 'Too many pods' },
    },
    {
      name: 'taints still must be tolerated',
      t: { name: 'gpu', taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' as const }] },
      pod: makePod(),
      want: { fits: false, reason: 'node(s) had untolerated taint {gpu: true}' },
    },
    {
      name: 'labels still must match',
      t: { name: 'spot', labels: { lifecycle: 'Ec2Spot' } },
      pod: makePod().nodeSelector('lifecycle', 'OnDemand'),
      want: { fits: false, reason: "node(s) didn't match Pod's node affinity/selector" },
    },
    {
      name: 'a bound pod never lands on a new node',
      t: { name: 't' },
      pod: makePod().spec({ nodeName: 'n1' }),
      want: { fits: false, reason: 'the pod is bound to node n1' },
    },
  ])('$name', ({ t, pod, want }) => expect(judge(templateCapacity(t), pod)).toEqual(want));
});

const pool = (over: Record<string, unknown> = {}, name = 'spot') => ({
  apiVersion: 'karpenter.sh/v1',
  kind: 'NodePool',
  metadata: { name },
  spec: {
    template: {
      metadata: { labels: { team: 'data' } },
      spec: {
        requirements: [
          { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] },
          { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-west-1a', 'eu-west-1b'] },
          { key: 'node.kubernetes.io/instance-type', operator: 'In', values: ['m5.large', 'm5.xlarge'], minValues: 2 },
        ],
        taints: [{ key: 'spot', value: 'true', effect: 'NoSchedule' }],
        startupTaints: [{ key: 'node.example.com/initializing', effect: 'NoSchedule' }],
      },
    },
    limits: { cpu: '100', memory: '400Gi' },
    ...over,
  },
  status: { resources: { cpu: '40', memory: '160Gi' }, conditions: [{ type: 'Ready', status: 'True' }] },
});
const read = (obj: unknown): NodePool => {
  const r = parseNodePool(obj);
  if (!r.pool) throw new Error(JSON.stringify(r.errors));
  return r.pool;
};
const spotToleration = { key: 'spot', operator: 'Equal', value: 'true', effect: 'NoSchedule' };
const spotPod = () => makePod().toleration(spotToleration);

describe('Karpenter NodePools', () => {
  it.each([
    {
      name: 'a pod that tolerates the pool taint and asks nothing fits, its resources unchecked',
      pod: spotPod().container('a', requests({ cpu: '2' })),
      want: { fits: true, unchecked: ['cpu'] },
    },
    { name: 'startupTaints need not be tolerated', pod: spotPod(), want: { fits: true, unchecked: [] } },
    {
      name: 'the pool taint must be tolerated',
      pod: makePod(),
      want: { fits: false, reason: 'incompatible with nodepool "spot", did not tolerate spot=true:NoSchedule' },
    },
    {
      name: 'a zone among the pool zones fits',
      pod: spotPod().nodeSelector('topology.kubernetes.io/zone', 'eu-west-1a'),
      want: { fits: true, unchecked: [] },
    },
    {
      name: 'a zone outside them does not',
      pod: spotPod().nodeSelector('topology.kubernetes.io/zone', 'eu-west-1c'),
      want: {
        fits: false,
        reason:
          'incompatible with nodepool "spot", incompatible requirements, key topology.kubernetes.io/zone, topology.kubernetes.io/zone In [eu-west-1c] not in topology.kubernetes.io/zone In [eu-west-1a eu-west-1b]',
      },
    },
    { name: 'a template label is a requirement', pod: spotPod().nodeSelector('team', 'data'), want: { fits: true, unchecked: [] } },
    {
      name: 'a custom label the pool does not declare is unknown to it',
      pod: spotPod().nodeSelector('lifecycle', 'Ec2Spot'),
      want: { fits: false, reason: 'incompatible with nodepool "spot", incompatible requirements, label "lifecycle" does not have known values' },
    },
    {
      name: 'a well-known label the pool does not mention may be any value the provider offers',
      pod: spotPod().nodeSelector('kubernetes.io/arch', 'arm64'),
      want: { fits: true, unchecked: [] },
    },
    {
      name: 'its own name is a requirement (karpenter.sh/nodepool)',
      pod: spotPod().nodeSelector('karpenter.sh/nodepool', 'other'),
      want: {
        fits: false,
        reason:
          'incompatible with nodepool "spot", incompatible requirements, key karpenter.sh/nodepool, karpenter.sh/nodepool In [other] not in karpenter.sh/nodepool In [spot]',
      },
    },
    {
      name: 'a pod selecting a hostname can only go to an existing node',
      pod: spotPod().nodeSelector('kubernetes.io/hostname', 'worker-1'),
      want: { fits: false, reason: expect.stringContaining('key kubernetes.io/hostname') },
    },
    {
      name: 'one of two ORed terms compatible is enough',
      pod: spotPod().requiredTerms([
        { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-west-1c'] }] },
        { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-west-1b'] }] },
      ]),
      want: { fits: true, unchecked: [] },
    },
    {
      name: 'narrowing the instance types below minValues does not fit',
      pod: spotPod().nodeSelector('node.kubernetes.io/instance-type', 'm5.large'),
      want: { fits: false, reason: expect.stringContaining('minValues') },
    },
    {
      name: 'more cpu than the limits leave does not fit',
      pod: spotPod().container('a', requests({ cpu: '61' })),
      want: {
        fits: false,
        reason: 'all available instance types exceed limits for nodepool: "spot" (the pod requests more cpu than its limits leave)',
      },
    },
    { name: 'exactly what the limits leave fits', pod: spotPod().container('a', requests({ cpu: '60' })), want: { fits: true, unchecked: ['cpu'] } },
  ])('$name', ({ pod, want }) => expect(judge(nodePoolCapacity(read(pool())), pod)).toEqual(want));

  it('a pool at its limit adds nothing; one over it neither', () => {
    const full = read({ ...pool(), status: { resources: { cpu: '100', memory: '160Gi' }, conditions: [{ type: 'Ready', status: 'True' }] } });
    expect(nodePoolCapacity(full)?.exhausted).toBe('it has reached its cpu limit');
    const over = read({ ...pool(), status: { resources: { cpu: '120' }, conditions: [{ type: 'Ready', status: 'True' }] } });
    expect(nodePoolCapacity(over)?.exhausted).toBe('it has reached its cpu limit');
    expect(nodePoolCapacity(read(pool()))?.exhausted).toBeUndefined();
  });

  it('a limit on a resource only some instance types have blocks only the pods that need it', () => {
    const gpu = read({
      ...pool({ limits: { 'nvidia.com/gpu': '4' } }),
      status: { resources: { 'nvidia.com/gpu': '4' }, conditions: [{ type: 'Ready', status: 'True' }] },
    });
    expect(nodePoolCapacity(gpu)?.exhausted).toBeUndefined();
    expect(judge(nodePoolCapacity(gpu), spotPod().container('a', requests({ 'nvidia.com/gpu': '1' }))).fits).toBe(false);
    expect(judge(nodePoolCapacity(gpu), spotPod()).fits).toBe(true);
  });

  it('a pool being deleted is ignored; one not Ready is kept but inactive', () => {
    expect(nodePoolCapacity(read({ ...pool(), metadata: { name: 'spot', deletionTimestamp: '2026-01-01T00:00:00Z' } }))).toBeUndefined();
    const notReady = nodePoolCapacity(read({ ...pool(), status: { conditions: [{ type: 'Ready', status: 'False' }] } }));
    expect(notReady?.inactive).toBe('it is not Ready (Ready=False)');
    expect(nodePoolCapacity(read({ ...pool(), status: {} }))?.inactive).toBe('it is not Ready (no Ready condition)');
  });

  it('a pool whose requirements or limits cannot be read is not used (never wider than the real one)', () => {
    const r = parseNodePool(pool({ limits: { cpu: 'lots' } }));
    expect(r.pool).toBeUndefined();
    expect(r.errors[0]?.path).toBe('spec.limits.cpu');
    const bad = pool();
    (bad.spec.template.spec.requirements as unknown[]).push({ key: 'gen', operator: 'Gt', values: ['x'] });
    expect(parseNodePool(bad).pool).toBeUndefined();
  });

  it('v1beta1 pools are read the same way', () => {
    expect(judge(nodePoolCapacity(read({ ...pool(), apiVersion: 'karpenter.sh/v1beta1' })), spotPod()).fits).toBe(true);
  });

  it('pools are tried by weight, then by name later in the alphabet first', () => {
    const names = [
      read({ ...pool(), metadata: { name: 'a' } }),
      read({ ...pool({ weight: 10 }), metadata: { name: 'b' } }),
      read({ ...pool(), metadata: { name: 'c' } }),
    ]
      .sort(byWeight)
      .map((p) => p.name);
    expect(names).toEqual(['b', 'c', 'a']);
  });
});

const machineDeployment = (annotations: Record<string, string>, replicas = 0, kind = 'MachineDeployment', extra: Record<string, unknown> = {}) => ({
  apiVersion: 'cluster.x-k8s.io/v1beta1',
  kind,
  metadata: { name: 'md-gpu', namespace: 'infra', annotations, ...extra },
  spec: { replicas },
});
const SCALABLE = {
  'cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size': '0',
  'cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size': '5',
  'capacity.cluster-autoscaler.kubernetes.io/cpu': '8',
  'capacity.cluster-autoscaler.kubernetes.io/memory': '32Gi',
};

describe('Cluster API groups scaled from zero', () => {
  it('the annotations are the template: resources, labels, taints, GPU', () => {
    const cap = clusterApiCapacity(
      machineDeployment({
        ...SCALABLE,
        'capacity.cluster-autoscaler.kubernetes.io/gpu-type': 'nvidia.com/gpu',
        'capacity.cluster-autoscaler.kubernetes.io/gpu-count': '2',
        'capacity.cluster-autoscaler.kubernetes.io/labels': 'pool=gpu,team=ml',
        'capacity.cluster-autoscaler.kubernetes.io/taints': 'nvidia.com/gpu=true:NoSchedule',
      }),
    );
    expect(cap?.kind).toBe('MachineDeployment');
    expect(cap?.name).toBe('infra/md-gpu');
    const gpuPod = makePod()
      .nodeSelector('pool', 'gpu')
      .toleration({ key: 'nvidia.com/gpu', operator: 'Exists' })
      .container('a', requests({ cpu: '4', 'nvidia.com/gpu': '2' }));
    expect(judge(cap, gpuPod)).toEqual({ fits: true, unchecked: [] });
    expect(judge(cap, makePod().nodeSelector('pool', 'gpu')).fits).toBe(false);
    expect(judge(cap, gpuPod.container('b', requests({ 'nvidia.com/gpu': '1' })))).toEqual({ fits: false, reason: 'Insufficient nvidia.com/gpu' });
    expect(judge(cap, makePod().toleration({ key: 'nvidia.com/gpu', operator: 'Exists' }).nodeSelector('kubernetes.io/arch', 'amd64')).fits).toBe(
      true,
    );
  });

  it.each([
    {
      name: 'no max size: not autoscaled',
      obj: machineDeployment({ ...SCALABLE, 'cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size': '0' }),
    },
    {
      name: 'min above max: not autoscaled',
      obj: machineDeployment({ ...SCALABLE, 'cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size': '6' }),
    },
    {
      name: 'no memory: cannot scale from zero',
      obj: machineDeployment({ ...SCALABLE, 'capacity.cluster-autoscaler.kubernetes.io/memory': undefined as unknown as string }),
    },
    {
      name: 'a MachineSet of a MachineDeployment is not a group',
      obj: machineDeployment(SCALABLE, 0, 'MachineSet', { ownerReferences: [{ kind: 'MachineDeployment', name: 'md' }] }),
    },
  ])('$name', ({ obj }) => {
    const annotations = obj.metadata.annotations as Record<string, string | undefined>;
    for (const k of Object.keys(annotations)) if (annotations[k] === undefined) delete annotations[k];
    expect(clusterApiCapacity(obj)).toBeUndefined();
  });

  it('a group at its max size adds nothing', () => {
    expect(clusterApiCapacity(machineDeployment(SCALABLE, 5))?.exhausted).toBe('it is at its max size (5)');
    expect(clusterApiCapacity(machineDeployment(SCALABLE, 4))?.exhausted).toBeUndefined();
  });

  it.each([
    { value: 'a=b,c=d', want: { a: 'b', c: 'd' } },
    { value: 'a=b,junk,c=', want: { a: 'b', c: '' } },
    { value: '', want: {} },
  ])('labels annotation $value', ({ value, want }) => expect(parseLabelsAnnotation(value)).toEqual(want));

  it.each([
    {
      value: 'k=v:NoSchedule,k2:NoExecute',
      want: [
        { key: 'k', value: 'v', effect: 'NoSchedule' },
        { key: 'k2', effect: 'NoExecute' },
      ],
    },
    { value: 'k=v:NO_SCHEDULE', want: [] },
    { value: 'bad key=v:NoSchedule,k=a:b:NoSchedule', want: [] },
  ])('taints annotation $value', ({ value, want }) => expect(parseTaintsAnnotation(value)).toEqual(want));
});

describe('judgeCapacity', () => {
  const fitting = templateCapacity({ name: 'fits' });
  const tainted = templateCapacity({ name: 'tainted', taints: [{ key: 'x', effect: 'NoSchedule' }] });
  const full = { ...templateCapacity({ name: 'full' }), exhausted: 'it is at its max size (3)' };
  it('names the first source that fits and can add', () => {
    const a = judgeCapacity({ sources: [tainted, full, fitting], incomplete: undefined }, podConstraints(makePod().obj()));
    expect(a.fit?.capacity.name).toBe('fits');
    expect(a.blocked?.capacity.name).toBe('full');
    expect(a.misfits.map((m) => m.capacity.name)).toEqual(['tainted']);
  });
  it('reports a source that would fit but cannot add now', () => {
    const a = judgeCapacity({ sources: [full], incomplete: undefined }, podConstraints(makePod().obj()));
    expect(a.fit).toBeUndefined();
    expect(a.blocked?.why).toBe('it is at its max size (3)');
  });
});
