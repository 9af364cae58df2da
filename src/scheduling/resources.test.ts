import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { QuantityError } from './quantity.js';
import { insufficientResources, isScalarResourceName, nodeAllocatable, podRequests, type InsufficientResource } from './resources.js';
import type { PlacementNode } from './types.js';

type ResourceList = Record<string, string>;

/** Builds a pod the way `pkg/scheduler/testing/wrappers.go` does: one call per container or field. */
class PodBuilder {
  private readonly containers: V1Container[] = [];
  private readonly initContainers: V1Container[] = [];
  private overheadList: ResourceList | undefined;
  private podLevel: { requests?: ResourceList; limits?: ResourceList } | undefined;

  /** A regular container with these requests (and limits, if given). */
  container(requests?: ResourceList, limits?: ResourceList): this {
    this.containers.push(makeContainer(`c${this.containers.length}`, requests, limits));
    return this;
  }

  /** An init container that runs to completion before the next one starts. */
  initContainer(requests?: ResourceList, limits?: ResourceList): this {
    this.initContainers.push(makeContainer(`init${this.initContainers.length}`, requests, limits));
    return this;
  }

  /** A restartable init container, which keeps running next to the regular containers. */
  sidecar(requests?: ResourceList, limits?: ResourceList): this {
    const sidecar = makeContainer(`sidecar${this.initContainers.length}`, requests, limits);
    sidecar.restartPolicy = 'Always';
    this.initContainers.push(sidecar);
    return this;
  }

  overhead(list: ResourceList): this {
    this.overheadList = list;
    return this;
  }

  /** Pod-level `spec.resources`. */
  podResources(requests?: ResourceList, limits?: ResourceList): this {
    this.podLevel = { ...(requests && { requests }), ...(limits && { limits }) };
    return this;
  }

  build(): V1Pod {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: {
        containers: this.containers,
        ...(this.initContainers.length > 0 && { initContainers: this.initContainers }),
        ...(this.overheadList && { overhead: this.overheadList }),
        ...(this.podLevel && { resources: this.podLevel }),
      },
    };
  }
}

function makeContainer(name: string, requests?: ResourceList, limits?: ResourceList): V1Container {
  const resources = { ...(requests && { requests }), ...(limits && { limits }) };
  return { name, image: 'registry.example/app:1', resources };
}

const makePod = (): PodBuilder => new PodBuilder();

const makeNode = (allocatable: ResourceList, name = 'n1'): PlacementNode => ({
  name,
  labels: {},
  taints: [],
  unschedulable: false,
  allocatable,
});

const GI = 2n ** 30n;
const MI = 2n ** 20n;

describe('podRequests', () => {
  it.each<{ name: string; pod: V1Pod; want: Record<string, bigint> }>([
    { name: 'a pod without containers requests nothing', pod: makePod().build(), want: {} },
    { name: 'a container without resources requests nothing', pod: makePod().container().build(), want: {} },
    {
      name: 'the requests of regular containers add up',
      pod: makePod().container({ cpu: '2', memory: '1G' }).container({ cpu: '1', memory: '1G' }).build(),
      want: { cpu: 3000n, memory: 2_000_000_000n },
    },
    {
      name: 'init containers count by their largest request, not their sum (the fit.go example)',
      pod: makePod()
        .initContainer({ cpu: '2', memory: '1G' })
        .initContainer({ cpu: '2', memory: '3G' })
        .container({ cpu: '2', memory: '1G' })
        .container({ cpu: '1', memory: '1G' })
        .build(),
      want: { cpu: 3000n, memory: 3_000_000_000n },
    },
    {
      name: 'an init container larger than all containers together sets the request',
      pod: makePod().initContainer({ cpu: '4' }).container({ cpu: '1' }).container({ cpu: '1' }).build(),
      want: { cpu: 4000n },
    },
    {
      name: 'two init containers of one cpu each need one cpu, not two',
      pod: makePod().initContainer({ cpu: '1' }).initContainer({ cpu: '1' }).container({ cpu: '500m' }).build(),
      want: { cpu: 1000n },
    },
    {
      name: 'an init container adds a resource no regular container requests',
      pod: makePod().initContainer({ 'ephemeral-storage': '1Gi' }).container({ cpu: '100m' }).build(),
      want: { 'ephemeral-storage': GI, cpu: 100n },
    },
    {
      name: 'a sidecar runs alongside the containers and adds to their sum',
      pod: makePod().sidecar({ cpu: '1' }).container({ cpu: '2' }).build(),
      want: { cpu: 3000n },
    },
    {
      name: 'an init container after a sidecar needs its own request plus the sidecar',
      pod: makePod().sidecar({ cpu: '1' }).initContainer({ cpu: '3' }).container({ cpu: '1' }).build(),
      want: { cpu: 4000n },
    },
    {
      name: 'an init container before a sidecar does not count the sidecar',
      pod: makePod().initContainer({ cpu: '3' }).sidecar({ cpu: '1' }).container({ cpu: '1' }).build(),
      want: { cpu: 3000n },
    },
    {
      name: 'overhead is added on top of the containers',
      pod: makePod().container({ cpu: '1', memory: '1Gi' }).overhead({ cpu: '250m', memory: '120Mi' }).build(),
      want: { cpu: 1250n, memory: GI + 120n * MI },
    },
    {
      name: 'overhead is added after taking the init container maximum',
      pod: makePod().initContainer({ cpu: '2' }).container({ cpu: '1' }).overhead({ cpu: '100m' }).build(),
      want: { cpu: 2100n },
    },
    {
      name: 'overhead may add a resource no container requests',
      pod: makePod().container({ cpu: '1' }).overhead({ memory: '64Mi' }).build(),
      want: { cpu: 1000n, memory: 64n * MI },
    },
    {
      name: 'extended resources add up in whole units',
      pod: makePod().container({ 'nvidia.com/gpu': '1' }).container({ 'nvidia.com/gpu': '2' }).build(),
      want: { 'nvidia.com/gpu': 3n },
    },
    {
      name: 'hugepages are counted in bytes',
      pod: makePod().container({ 'hugepages-2Mi': '100Mi', memory: '1Gi' }, { 'hugepages-2Mi': '100Mi', memory: '1Gi' }).build(),
      want: { 'hugepages-2Mi': 100n * MI, memory: GI },
    },
    {
      name: 'ephemeral-storage is counted in bytes',
      pod: makePod().container({ 'ephemeral-storage': '2G' }).build(),
      want: { 'ephemeral-storage': 2_000_000_000n },
    },
    {
      name: 'a container with only limits requests its limits',
      pod: makePod().container(undefined, { cpu: '500m', memory: '1Gi' }).build(),
      want: { cpu: 500n, memory: GI },
    },
    {
      name: 'an explicit request wins over the limit of the same resource',
      pod: makePod().container({ cpu: '100m' }, { cpu: '1', memory: '1Gi' }).build(),
      want: { cpu: 100n, memory: GI },
    },
    {
      name: 'an init container with only limits requests its limits',
      pod: makePod().initContainer(undefined, { cpu: '2' }).container({ cpu: '1' }).build(),
      want: { cpu: 2000n },
    },
    {
      name: 'cpu is counted in millicores, rounding 1n up to one',
      pod: makePod().container({ cpu: '1n' }).build(),
      want: { cpu: 1n },
    },
    {
      name: 'each container is rounded up to a millicore before adding, as the API server stores it',
      pod: makePod().container({ cpu: '1n' }).container({ cpu: '1n' }).build(),
      want: { cpu: 2n },
    },
    {
      name: 'a fraction of a byte rounds up to one byte',
      pod: makePod().container({ memory: '0.5' }).container({ memory: '0.5' }).build(),
      want: { memory: 1n },
    },
    {
      name: 'fractional cpu in milli-units adds exactly',
      pod: makePod().container({ cpu: '0.25' }).container({ cpu: '1.5' }).build(),
      want: { cpu: 1750n },
    },
    {
      name: 'pod-level requests replace the containers for cpu and memory, not for other resources',
      pod: makePod().container({ cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '1' }).podResources({ cpu: '4', memory: '8Gi' }).build(),
      want: { cpu: 4000n, memory: 8n * GI, 'nvidia.com/gpu': 1n },
    },
    {
      name: 'pod-level requests are still increased by overhead',
      pod: makePod().container({ cpu: '1' }).podResources({ cpu: '2' }).overhead({ cpu: '100m' }).build(),
      want: { cpu: 2100n },
    },
    {
      name: 'pod-level limits become the request of a resource no container requests',
      pod: makePod().container({ cpu: '500m' }).podResources(undefined, { cpu: '2', memory: '4Gi' }).build(),
      want: { cpu: 500n, memory: 4n * GI },
    },
    {
      name: 'a pod-level hugepages limit becomes the pod-level hugepages request',
      pod: makePod()
        .container({ 'hugepages-2Mi': '10Mi', memory: '1Gi' }, { 'hugepages-2Mi': '10Mi', memory: '1Gi' })
        .podResources(undefined, { 'hugepages-2Mi': '20Mi' })
        .build(),
      want: { 'hugepages-2Mi': 20n * MI, memory: GI },
    },
    {
      name: 'resource names the scheduler does not track are dropped',
      pod: makePod().container({ cpu: '1', pods: '1', services: '2', 'example.com/dongle': '1', 'kubernetes.io/widget': '2' }).build(),
      want: { cpu: 1000n, 'example.com/dongle': 1n, 'kubernetes.io/widget': 2n },
    },
    {
      name: 'a zero request of an extended resource is kept',
      pod: makePod().container({ 'nvidia.com/gpu': '0' }).build(),
      want: { 'nvidia.com/gpu': 0n },
    },
    {
      name: 'very large amounts stay exact',
      pod: makePod().container({ memory: '1Ei', 'ephemeral-storage': '9Ei' }).build(),
      want: { memory: 2n ** 60n, 'ephemeral-storage': 2n ** 63n - 1n },
    },
    {
      name: 'padded strings and JSON numbers are read as the API server reads them',
      pod: makePod()
        .container({ cpu: 2 as unknown as string, memory: ' 1Gi ' })
        .build(),
      want: { cpu: 2000n, memory: GI },
    },
  ])('$name', ({ pod, want }) => {
    expect(Object.fromEntries(podRequests(pod))).toEqual(want);
  });

  it.each<{ name: string; pod: V1Pod; message: string }>([
    {
      name: 'a container request',
      pod: makePod().container({ cpu: '1.2.3' }).build(),
      message: 'spec.containers[0].resources.requests.cpu: invalid value "1.2.3": quantities must match',
    },
    {
      name: 'an init container limit',
      pod: makePod().initContainer({ cpu: '1' }).initContainer(undefined, { memory: '1mi' }).build(),
      message: `spec.initContainers[1].resources.limits.memory: invalid value "1mi": unable to parse quantity's suffix`,
    },
    {
      name: 'an extended resource, with its name quoted in the path',
      pod: makePod().container().container({ 'nvidia.com/gpu': 'one' }).build(),
      message: 'spec.containers[1].resources.requests["nvidia.com/gpu"]: invalid value "one"',
    },
    {
      name: 'the overhead',
      pod: makePod().container({ cpu: '1' }).overhead({ cpu: '1 m' }).build(),
      message: 'spec.overhead.cpu: invalid value "1 m"',
    },
    {
      name: 'a pod-level request',
      pod: makePod().container({ cpu: '1' }).podResources({ memory: 'lots' }).build(),
      message: 'spec.resources.requests.memory: invalid value "lots"',
    },
  ])('names the field of an invalid quantity in $name', ({ pod, message }) => {
    expect(() => podRequests(pod)).toThrow(QuantityError);
    expect(() => podRequests(pod)).toThrow(message);
  });
});

describe('nodeAllocatable', () => {
  it.each<{ name: string; allocatable: ResourceList; want: Record<string, bigint> }>([
    {
      name: 'a typical node',
      allocatable: { cpu: '3920m', memory: '15Gi', pods: '110', 'ephemeral-storage': '95G' },
      want: { cpu: 3920n, memory: 15n * GI, pods: 110n, 'ephemeral-storage': 95_000_000_000n },
    },
    {
      name: 'a GPU node with hugepages',
      allocatable: { cpu: '8', 'nvidia.com/gpu': '4', 'hugepages-1Gi': '2Gi', 'hugepages-2Mi': '0' },
      want: { cpu: 8000n, 'nvidia.com/gpu': 4n, 'hugepages-1Gi': 2n * GI, 'hugepages-2Mi': 0n },
    },
    {
      name: 'attachable volume limits are kept, unknown names are dropped',
      allocatable: { 'attachable-volumes-aws-ebs': '25', services: '5' },
      want: { 'attachable-volumes-aws-ebs': 25n },
    },
    {
      name: 'cpu and memory round up',
      allocatable: { cpu: '1n', memory: '0.5' },
      want: { cpu: 1n, memory: 1n },
    },
    { name: 'a node with nothing allocatable', allocatable: {}, want: {} },
  ])('$name', ({ allocatable, want }) => {
    expect(Object.fromEntries(nodeAllocatable(makeNode(allocatable)))).toEqual(want);
  });

  it('names the node and the field of an invalid quantity', () => {
    expect(() => nodeAllocatable(makeNode({ cpu: '4', memory: '16 Gi' }, 'worker-1'))).toThrow(
      'node "worker-1": status.allocatable.memory: invalid value "16 Gi": quantities must match',
    );
  });
});

describe('insufficientResources', () => {
  const roomy = { cpu: 4000n, memory: 16n * GI, 'ephemeral-storage': 100n * GI, pods: 110n };

  it.each<{
    name: string;
    requests: Record<string, bigint>;
    allocatable: Record<string, bigint>;
    want: InsufficientResource[];
  }>([
    {
      name: 'a pod that fits is not short of anything',
      requests: { cpu: 1000n, memory: GI },
      allocatable: roomy,
      want: [],
    },
    {
      name: 'a request equal to the allocatable amount fits',
      requests: { cpu: 4000n, memory: 16n * GI },
      allocatable: roomy,
      want: [],
    },
    {
      name: 'a node with no room for another pod reports the pod count ("Too many pods")',
      requests: { cpu: 100n },
      allocatable: { ...roomy, pods: 0n },
      want: [{ resourceName: 'pods', requested: 1n, capacity: 0n }],
    },
    {
      name: 'a node that does not list pods has room for none',
      requests: { cpu: 100n },
      allocatable: { cpu: 4000n },
      want: [{ resourceName: 'pods', requested: 1n, capacity: 0n }],
    },
    {
      name: 'cpu beyond the allocatable amount is reported in millicores',
      requests: { cpu: 4001n },
      allocatable: roomy,
      want: [{ resourceName: 'cpu', requested: 4001n, capacity: 4000n }],
    },
    {
      name: 'every short resource is reported, pods first, then cpu, memory, ephemeral-storage and scalars',
      requests: { 'nvidia.com/gpu': 2n, 'ephemeral-storage': 200n * GI, memory: 32n * GI, cpu: 8000n },
      allocatable: { ...roomy, pods: 0n, 'nvidia.com/gpu': 1n },
      want: [
        { resourceName: 'pods', requested: 1n, capacity: 0n },
        { resourceName: 'cpu', requested: 8000n, capacity: 4000n },
        { resourceName: 'memory', requested: 32n * GI, capacity: 16n * GI },
        { resourceName: 'ephemeral-storage', requested: 200n * GI, capacity: 100n * GI },
        { resourceName: 'nvidia.com/gpu', requested: 2n, capacity: 1n },
      ],
    },
    {
      name: 'a resource the node does not list counts as zero allocatable',
      requests: { cpu: 100n, 'nvidia.com/gpu': 1n },
      allocatable: roomy,
      want: [{ resourceName: 'nvidia.com/gpu', requested: 1n, capacity: 0n }],
    },
    {
      name: 'hugepages are checked like any scalar resource',
      requests: { 'hugepages-2Mi': 100n * MI },
      allocatable: { ...roomy, 'hugepages-2Mi': 64n * MI },
      want: [{ resourceName: 'hugepages-2Mi', requested: 100n * MI, capacity: 64n * MI }],
    },
    {
      name: 'a zero request never fails, even for a resource the node lacks',
      requests: { 'nvidia.com/gpu': 0n },
      allocatable: roomy,
      want: [],
    },
    {
      name: 'a pod that requests nothing only needs a pod slot',
      requests: {},
      allocatable: {},
      want: [{ resourceName: 'pods', requested: 1n, capacity: 0n }],
    },
    {
      name: 'a pod that requests nothing fits any node with a pod slot',
      requests: {},
      allocatable: { pods: 1n },
      want: [],
    },
    {
      name: 'requests the scheduler does not track are ignored',
      requests: { services: 5n },
      allocatable: { pods: 1n },
      want: [],
    },
  ])('$name', ({ requests, allocatable, want }) => {
    expect(insufficientResources(new Map(Object.entries(requests)), new Map(Object.entries(allocatable)))).toEqual(want);
  });

  it.each([
    {
      name: 'a pod with only limits is measured by its limits',
      pod: makePod().container(undefined, { cpu: '3', memory: '2Gi' }).build(),
      node: makeNode({ cpu: '2', memory: '4Gi', pods: '110' }),
      want: [{ resourceName: 'cpu', requested: 3000n, capacity: 2000n }],
    },
    {
      name: 'a pod whose init container needs more memory than the node has does not fit',
      pod: makePod().initContainer({ memory: '8Gi' }).container({ memory: '1Gi' }).build(),
      node: makeNode({ cpu: '2', memory: '4Gi', pods: '110' }),
      want: [{ resourceName: 'memory', requested: 8n * GI, capacity: 4n * GI }],
    },
    {
      name: 'a GPU pod does not fit a node without GPUs',
      pod: makePod().container({ cpu: '1', 'nvidia.com/gpu': '1' }).build(),
      node: makeNode({ cpu: '2', memory: '4Gi', pods: '110' }),
      want: [{ resourceName: 'nvidia.com/gpu', requested: 1n, capacity: 0n }],
    },
    {
      name: 'overhead can tip a pod over the edge',
      pod: makePod().container({ cpu: '2' }).overhead({ cpu: '1m' }).build(),
      node: makeNode({ cpu: '2', pods: '110' }),
      want: [{ resourceName: 'cpu', requested: 2001n, capacity: 2000n }],
    },
  ])('end to end: $name', ({ pod, node, want }) => {
    expect(insufficientResources(podRequests(pod), nodeAllocatable(node))).toEqual(want);
  });
});

describe('isScalarResourceName', () => {
  it.each([
    { name: 'nvidia.com/gpu', want: true },
    { name: 'example.com/dongle', want: true },
    { name: 'hugepages-2Mi', want: true },
    { name: 'kubernetes.io/widget', want: true },
    { name: 'attachable-volumes-csi-ebs.csi.aws.com', want: true },
    { name: 'cpu', want: false },
    { name: 'memory', want: false },
    { name: 'ephemeral-storage', want: false },
    { name: 'pods', want: false },
    { name: 'services', want: false },
    { name: 'requests.example.com/dongle', want: false },
    { name: 'a/b/c', want: false },
    { name: 'Example.com/dongle', want: false },
  ])('$name is scalar: $want', ({ name, want }) => {
    expect(isScalarResourceName(name)).toBe(want);
  });
});
