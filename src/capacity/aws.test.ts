import { describe, expect, it } from 'vitest';
import { fromAutoScalingGroups, fromEksNodegroup } from './aws.js';

const tag = (Key: string, Value: string) => ({ ResourceId: 'asg', ResourceType: 'auto-scaling-group', Key, Value, PropagateAtLaunch: true });
const asg = (name: string, over: Record<string, unknown> = {}, tags: ReturnType<typeof tag>[] = []) => ({
  AutoScalingGroupName: name,
  MinSize: 0,
  MaxSize: 10,
  DesiredCapacity: 0,
  AvailabilityZones: ['eu-west-1a'],
  Instances: [],
  Tags: [tag('k8s.io/cluster-autoscaler/enabled', 'true'), ...tags],
  ...over,
});

describe('templates from Auto Scaling groups', () => {
  it('turns the node-template tags into labels, taints and allocatable, with the generic labels cluster-autoscaler sets', () => {
    const { conversions, problems } = fromAutoScalingGroups({
      AutoScalingGroups: [
        asg('spot-gpu', { MixedInstancesPolicy: { LaunchTemplate: { Overrides: [{ InstanceType: 'g4dn.xlarge' }] } } }, [
          tag('k8s.io/cluster-autoscaler/node-template/label/lifecycle', 'Ec2Spot'),
          tag('k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu', 'true:NoSchedule'),
          tag('k8s.io/cluster-autoscaler/node-template/taint/spot', 'true:NO_SCHEDULE'),
          tag('k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu', '1'),
          tag('k8s.io/cluster-autoscaler/node-template/resources/cpu', '4'),
        ]),
      ],
    });
    expect(problems).toEqual([]);
    expect(conversions).toEqual([
      {
        kind: 'template',
        source: 'ASG spot-gpu',
        template: {
          name: 'spot-gpu',
          labels: {
            'kubernetes.io/os': 'linux',
            'topology.kubernetes.io/region': 'eu-west-1',
            'topology.kubernetes.io/zone': 'eu-west-1a',
            'node.kubernetes.io/instance-type': 'g4dn.xlarge',
            lifecycle: 'Ec2Spot',
          },
          taints: [
            { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' },
            { key: 'spot', value: 'true', effect: 'NoSchedule' },
          ],
          allocatable: { 'nvidia.com/gpu': '1', cpu: '4' },
        },
        unstated: ['memory: no node-template/resources tag (instance sizes are not in the input)', 'kubernetes.io/arch: no node-template/label tag'],
      },
    ]);
  });

  it('leaves out groups without the discovery tag, and groups at their max size with the reason', () => {
    const { conversions } = fromAutoScalingGroups({
      AutoScalingGroups: [
        { ...asg('unmanaged'), Tags: [] },
        asg('full', { DesiredCapacity: 10 }),
        asg('fixed', { MaxSize: 0 }),
        asg('multi-zone', { AvailabilityZones: ['eu-west-1a', 'eu-west-1b'] }),
      ],
    });
    expect(conversions.map((c) => (c.kind === 'skipped' ? `${c.source}: ${c.why}` : c.source))).toEqual([
      'ASG full: it is at its max size (10)',
      'ASG fixed: its max size is 0: it is not scaled',
      'ASG multi-zone',
    ]);
    const multi = conversions[2];
    expect(multi?.kind === 'template' && multi.template.labels).not.toHaveProperty('topology.kubernetes.io/zone');
    expect(multi?.kind === 'template' && multi.unstated).toContain('topology.kubernetes.io/zone: the group spans eu-west-1a, eu-west-1b');
  });

  it('takes another discovery tag, with or without a value', () => {
    const groups = { AutoScalingGroups: [asg('a', {}, [tag('k8s.io/cluster-autoscaler/prod', 'owned')]), asg('b')] };
    expect(fromAutoScalingGroups(groups, 'k8s.io/cluster-autoscaler/prod').conversions.map((c) => c.source)).toEqual(['ASG a']);
    expect(fromAutoScalingGroups(groups, 'k8s.io/cluster-autoscaler/prod=shared').conversions).toEqual([]);
  });

  it('reports a taint tag that is not value:Effect, and input that is not the command output', () => {
    const bad = fromAutoScalingGroups({ AutoScalingGroups: [asg('a', {}, [tag('k8s.io/cluster-autoscaler/node-template/taint/x', 'true')])] });
    expect(bad.problems).toEqual(['ASG a: tag k8s.io/cluster-autoscaler/node-template/taint/x: "true" is not value:Effect; left out']);
    expect(fromAutoScalingGroups({ nodegroup: {} }).problems[0]).toMatch(/not the output of `aws autoscaling describe-auto-scaling-groups`/);
  });
});

describe('templates from EKS node groups', () => {
  const nodegroup = (over: Record<string, unknown> = {}) => ({
    nodegroup: {
      nodegroupName: 'spot-arm',
      clusterName: 'prod',
      status: 'ACTIVE',
      capacityType: 'SPOT',
      scalingConfig: { minSize: 0, maxSize: 5, desiredSize: 1 },
      instanceTypes: ['m6g.large', 'm6g.xlarge'],
      amiType: 'AL2_ARM_64',
      labels: { team: 'data' },
      taints: [{ key: 'spot', value: 'true', effect: 'NO_SCHEDULE' }],
      ...over,
    },
  });

  it('adds the labels EKS puts on its nodes and translates the taint effects', () => {
    const { conversion } = fromEksNodegroup(nodegroup());
    expect(conversion).toEqual({
      kind: 'template',
      source: 'EKS node group spot-arm',
      template: {
        name: 'spot-arm',
        labels: {
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'arm64',
          team: 'data',
          'eks.amazonaws.com/nodegroup': 'spot-arm',
          'eks.amazonaws.com/capacityType': 'SPOT',
        },
        taints: [{ key: 'spot', value: 'true', effect: 'NoSchedule' }],
      },
      unstated: [
        'cpu, memory: instance sizes are not in the input',
        'node.kubernetes.io/instance-type: the group mixes m6g.large, m6g.xlarge',
        'topology.kubernetes.io/zone: the group may add a node in any of its subnets',
      ],
    });
  });

  it('a node group at its max size is left out with the reason', () => {
    expect(fromEksNodegroup(nodegroup({ scalingConfig: { minSize: 1, maxSize: 3, desiredSize: 3 } })).conversion).toEqual({
      kind: 'skipped',
      source: 'EKS node group spot-arm',
      why: 'it is at its max size (3)',
    });
  });
});
