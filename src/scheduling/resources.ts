/**
 * What a pod asks for and what a node offers, as kube-scheduler's NodeResourcesFit filter sees them
 * (`pkg/scheduler/framework/plugins/noderesources/fit.go`, `computePodResourceRequest` and `fitsRequest`, with the
 * pod total from `PodRequests` in k8s.io/component-helpers `resource/helpers.go`).
 *
 * Pod requests, per resource name:
 * - Containers run together, so their requests add up. Restartable init containers (`restartPolicy: Always`,
 *   "sidecars") keep running next to them and add up too.
 * - Init containers run one at a time before that, so each counts on its own: a regular init container needs its
 *   request plus every sidecar started before it, a sidecar needs the sidecars up to and including itself. The pod
 *   needs the larger of that peak and the containers' sum. Without sidecars this is
 *   `max(sum over containers, max over init containers)`.
 * - Pod-level `spec.resources.requests` (PodLevelResources: beta and on by default since Kubernetes 1.34), when
 *   set, replace that figure for cpu, memory and `hugepages-*`. Where the gate is off, the API server drops the
 *   field after admission and the scheduler uses the containers' figure, which validation keeps at or below it.
 * - `spec.overhead` (set by the RuntimeClass admission plugin) is added.
 * - Quantities are added exactly and converted once at the end: cpu to millicores with `MilliValue`, everything
 *   else with `Value` (both round up). Older schedulers (v1.20 among them) converted each container to an int64
 *   before adding; that only differs for fractions of a byte, as cpu is whole millicores after the defaults below.
 * - The scheduler's resource vector only holds cpu, memory, ephemeral-storage and "scalar" resources: extended
 *   resources (`nvidia.com/gpu`), `hugepages-*`, `kubernetes.io/`-prefixed and `attachable-volumes-*` names.
 *   Other names are dropped, and totals below zero count as zero, as `Resource.SetMaxResource` does.
 *
 * The pod the scheduler sees: the scheduler reads `requests` only, never `limits`. A container with limits but no
 * request for a resource still gets one, because the API server applies defaults while it decodes a request body,
 * before any admission plugin runs, and again after every mutating webhook's patch (the mutating dispatcher calls
 * `GetObjectDefaulter().Default`). So an AdmissionReview already carries these defaults:
 * - `SetDefaults_Pod` (pkg/apis/core/v1/defaults.go): each container's and init container's missing requests are
 *   copied from its limits, name by name; with pod-level resources, `defaultHugePagePodLimits` and
 *   `defaultPodRequests` fill pod-level requests from the containers' totals or the pod-level limits.
 * - `SetDefaults_ResourceList`: every quantity in every resource list is rounded up to a whole milli-unit.
 * {@link podRequests} applies the same defaults itself: a no-op on a pod from a review, and what makes a raw
 * manifest (the `check` and `replay` commands) come out as the API server would store it.
 *
 * Invalid quantities throw {@link QuantityError} with the field path, e.g.
 * `spec.containers[0].resources.requests.cpu: invalid value "1.2.3": ...`. The API server rejects such a pod before
 * admission, so only raw manifests can hit this.
 *
 * Not modelled: pods already running on the node (every check is against an empty node, so a resource is short
 * only when the node cannot hold the pod at all), the scheduler's `ignoredResources` configuration, and extended
 * resources served through DRA device classes.
 */
import type { V1Container, V1Pod } from '@kubernetes/client-node';

import { child } from '../util/errors.js';
import { isValidLabelKey } from './labels.js';
import { milliValue, quantityFromJSON, QuantityError, roundUpToMilli, value } from './quantity.js';
import type { PlacementNode } from './types.js';

/** Resource names the scheduler treats specially; every other name it keeps is a scalar resource. */
export const ResourceName = {
  cpu: 'cpu',
  memory: 'memory',
  ephemeralStorage: 'ephemeral-storage',
  pods: 'pods',
} as const;

const HUGEPAGES_PREFIX = 'hugepages-';
const ATTACHABLE_VOLUMES_PREFIX = 'attachable-volumes-';
const NATIVE_NAMESPACE = 'kubernetes.io/';
const QUOTA_REQUESTS_PREFIX = 'requests.';

const isHugePages = (name: string): boolean => name.startsWith(HUGEPAGES_PREFIX);
const isNative = (name: string): boolean => !name.includes('/') || name.includes(NATIVE_NAMESPACE);

/** `IsExtendedResourceName`: outside the `kubernetes.io/` namespace, and `requests.<name>` is a qualified name. */
export const isExtendedResourceName = (name: string): boolean =>
  !isNative(name) && !name.startsWith(QUOTA_REQUESTS_PREFIX) && isValidLabelKey(QUOTA_REQUESTS_PREFIX + name);

/**
 * `schedutil.IsScalarResourceName`: extended, `hugepages-*`, `kubernetes.io/`-prefixed or `attachable-volumes-*`.
 * These are counted with `Value()` and checked against the node's allocatable amount like cpu and memory.
 */
export function isScalarResourceName(name: string): boolean {
  return isExtendedResourceName(name) || isHugePages(name) || name.includes(NATIVE_NAMESPACE) || name.startsWith(ATTACHABLE_VOLUMES_PREFIX);
}

/** Resources pod-level `spec.resources` may set (`IsSupportedPodLevelResource`). */
const isPodLevelResource = (name: string): boolean => name === ResourceName.cpu || name === ResourceName.memory || isHugePages(name);

/** `IsOvercommitAllowed`: requests may be below limits (not for hugepages). */
const isOvercommitAllowed = (name: string): boolean => isNative(name) && !isHugePages(name);

/** A resource list with every quantity in nano-units. */
type Amounts = Map<string, bigint>;

function addInto(total: Amounts, more: ReadonlyMap<string, bigint>): void {
  for (const [name, nanos] of more) total.set(name, (total.get(name) ?? 0n) + nanos);
}

function maxInto(total: Amounts, other: ReadonlyMap<string, bigint>): void {
  for (const [name, nanos] of other) {
    const current = total.get(name);
    if (current === undefined || nanos > current) total.set(name, nanos);
  }
}

const roundedUpToMilli = (amounts: ReadonlyMap<string, bigint>): Amounts =>
  new Map([...amounts].map(([name, nanos]) => [name, roundUpToMilli({ nanos }).nanos]));

/** Reads a `ResourceList` (absent or null: empty). */
function readResourceList(list: unknown, path: string): Amounts {
  const amounts: Amounts = new Map();
  if (list === undefined || list === null) return amounts;
  if (typeof list !== 'object' || Array.isArray(list)) {
    throw new QuantityError(
      Array.isArray(list)
        ? list.join(',')
        : typeof list === 'string' || typeof list === 'number' || typeof list === 'boolean'
          ? String(list)
          : typeof list,
      path,
      'Format',
      'must be a map of resource names to quantities',
    );
  }
  for (const [name, quantity] of Object.entries(list)) {
    amounts.set(name, quantityFromJSON(quantity, child(path, name)).nanos);
  }
  return amounts;
}

interface ContainerAmounts {
  /** Requests, with missing ones copied from limits (`SetDefaults_Pod`); not yet rounded. */
  readonly requests: Amounts;
  readonly limits: Amounts;
  readonly sidecar: boolean;
}

function readContainer(container: V1Container, path: string): ContainerAmounts {
  const resources = container.resources;
  const resourcesPath = child(path, 'resources');
  const requests = readResourceList(resources?.requests, child(resourcesPath, 'requests'));
  const limits = readResourceList(resources?.limits, child(resourcesPath, 'limits'));
  for (const [name, nanos] of limits) if (!requests.has(name)) requests.set(name, nanos);
  return { requests, limits, sidecar: container.restartPolicy === 'Always' };
}

/** `aggregateContainerResourcesByFn`: the containers' sum against the init containers' peak (see module comment). */
function aggregate(
  containers: readonly ContainerAmounts[],
  initContainers: readonly ContainerAmounts[],
  pick: (c: ContainerAmounts) => ReadonlyMap<string, bigint>,
): Amounts {
  const total: Amounts = new Map();
  for (const c of containers) addInto(total, pick(c));
  const sidecars: Amounts = new Map();
  const initPeak: Amounts = new Map();
  for (const c of initContainers) {
    const own = pick(c);
    if (c.sidecar) {
      addInto(total, own);
      addInto(sidecars, own);
      maxInto(initPeak, sidecars);
    } else {
      const need = new Map(own);
      addInto(need, sidecars);
      maxInto(initPeak, need);
    }
  }
  maxInto(total, initPeak);
  return total;
}

/**
 * Pod-level requests after `defaultHugePagePodLimits` and `defaultPodRequests`, or undefined when the pod sets no
 * pod-level resources. Unrounded, as those defaults run before `SetDefaults_ResourceList`.
 */
function podLevelRequests(pod: V1Pod, containers: readonly ContainerAmounts[], initContainers: readonly ContainerAmounts[]): Amounts | undefined {
  const resources = pod.spec?.resources;
  if (resources === undefined || resources === null) return undefined;
  const path = child('spec', 'resources');
  const requests = readResourceList(resources.requests, child(path, 'requests'));
  const limits = readResourceList(resources.limits, child(path, 'limits'));

  if (requests.size > 0 || limits.size > 0) {
    for (const [name, nanos] of aggregate(containers, initContainers, (c) => c.limits)) {
      if (isPodLevelResource(name) && isHugePages(name) && !requests.has(name) && !limits.has(name)) {
        limits.set(name, nanos);
      }
    }
  }
  if (limits.size > 0) {
    for (const [name, nanos] of aggregate(containers, initContainers, (c) => c.requests)) {
      if (!requests.has(name) && isPodLevelResource(name) && isOvercommitAllowed(name)) requests.set(name, nanos);
    }
    for (const [name, nanos] of limits) {
      if (!requests.has(name) && isPodLevelResource(name)) requests.set(name, nanos);
    }
  }
  return requests;
}

/**
 * The pod's effective request per resource name, in the scheduler's units: millicores for `cpu`, `Value()` (bytes,
 * devices, ...) for everything else. Names the scheduler does not track are left out; a scalar resource requested
 * at zero is kept (the scheduler keeps it too). See the module comment for the rules and the defaults applied.
 */
export function podRequests(pod: V1Pod): Map<string, bigint> {
  const spec = pod.spec;
  const containers = (spec?.containers ?? []).map((c, i) => readContainer(c, child(child('spec', 'containers'), i)));
  const initContainers = (spec?.initContainers ?? []).map((c, i) => readContainer(c, child(child('spec', 'initContainers'), i)));

  const total = aggregate(containers, initContainers, (c) => roundedUpToMilli(c.requests));
  const podLevel = podLevelRequests(pod, containers, initContainers);
  if (podLevel !== undefined) {
    for (const [name, nanos] of roundedUpToMilli(podLevel)) if (isPodLevelResource(name)) total.set(name, nanos);
  }
  addInto(total, roundedUpToMilli(readResourceList(spec?.overhead, child('spec', 'overhead'))));

  const requests = new Map<string, bigint>();
  for (const [name, nanos] of total) {
    let amount: bigint;
    if (name === ResourceName.cpu) amount = milliValue({ nanos });
    else if (name === ResourceName.memory || name === ResourceName.ephemeralStorage || isScalarResourceName(name)) {
      amount = value({ nanos });
    } else continue;
    requests.set(name, amount > 0n ? amount : 0n);
  }
  return requests;
}

/**
 * The node's allocatable amount per resource name, in the same units as {@link podRequests}, plus `pods` (the
 * number of pods it accepts). Names the scheduler does not track are left out. Throws {@link QuantityError} about
 * the node for an invalid quantity.
 */
export function nodeAllocatable(node: PlacementNode): Map<string, bigint> {
  const allocatable = new Map<string, bigint>();
  const path = child('status', 'allocatable');
  for (const [name, raw] of Object.entries(node.allocatable)) {
    let nanos: bigint;
    try {
      nanos = quantityFromJSON(raw, child(path, name)).nanos;
    } catch (err) {
      throw err instanceof QuantityError ? err.about(`node ${JSON.stringify(node.name)}`) : err;
    }
    if (name === ResourceName.cpu) allocatable.set(name, milliValue({ nanos }));
    else if (name === ResourceName.memory || name === ResourceName.ephemeralStorage || name === ResourceName.pods || isScalarResourceName(name)) {
      allocatable.set(name, value({ nanos }));
    }
  }
  return allocatable;
}

/**
 * A resource the node cannot provide (fit.go's `InsufficientResource`, without `used`: nothing else runs on the
 * node here). The scheduler's reason is "Too many pods" for `pods` and "Insufficient <resourceName>" otherwise;
 * the reason strings themselves belong to the module that formats them.
 */
export interface InsufficientResource {
  readonly resourceName: string;
  readonly requested: bigint;
  readonly capacity: bigint;
}

/**
 * Every resource the pod requests beyond what the node offers, in the scheduler's order: the pod count first (a
 * pod needs one slot, so a node with `pods: 0`, or no `pods` entry at all, has no room), then cpu, memory,
 * ephemeral-storage and scalar resources in request order. A resource the node does not list has 0 allocatable.
 * Like `fitsRequest`, it stops after the pod count when the pod requests no cpu, memory, ephemeral-storage or
 * scalar resource, and it ignores requests of zero. (v1.20 tested `allocatable < requested + used` and did not skip
 * zero requests; with nothing else on the node both forms give the same answer.)
 */
export function insufficientResources(requests: ReadonlyMap<string, bigint>, allocatable: ReadonlyMap<string, bigint>): InsufficientResource[] {
  const insufficient: InsufficientResource[] = [];
  const allowedPods = allocatable.get(ResourceName.pods) ?? 0n;
  if (1n > allowedPods) insufficient.push({ resourceName: ResourceName.pods, requested: 1n, capacity: allowedPods });

  const fixed: [string, bigint][] = [ResourceName.cpu, ResourceName.memory, ResourceName.ephemeralStorage].map((name) => [
    name,
    requests.get(name) ?? 0n,
  ]);
  const scalar = [...requests].filter(([name]) => isScalarResourceName(name));
  if (fixed.every(([, requested]) => requested === 0n) && scalar.length === 0) return insufficient;

  for (const [resourceName, requested] of [...fixed, ...scalar]) {
    const capacity = allocatable.get(resourceName) ?? 0n;
    if (requested > 0n && requested > capacity) insufficient.push({ resourceName, requested, capacity });
  }
  return insufficient;
}

/**
 * `fitsRequest` against what the pods already on the node request (current schedulers): "Too many pods" when the
 * node already holds as many pods as it accepts, then each resource the pod requests (above zero) beyond what is
 * left of the node's allocatable.
 */
export function insufficientFree(
  requests: ReadonlyMap<string, bigint>,
  allocatable: ReadonlyMap<string, bigint>,
  requested: ReadonlyMap<string, bigint> | undefined,
  podCount: number,
): InsufficientResource[] {
  const insufficient: InsufficientResource[] = [];
  const allowedPods = allocatable.get(ResourceName.pods) ?? 0n;
  if (BigInt(podCount) + 1n > allowedPods) insufficient.push({ resourceName: ResourceName.pods, requested: 1n, capacity: allowedPods });
  for (const [resourceName, want] of requests) {
    if (want <= 0n || resourceName === ResourceName.pods) continue;
    if (
      resourceName !== ResourceName.cpu &&
      resourceName !== ResourceName.memory &&
      resourceName !== ResourceName.ephemeralStorage &&
      !isScalarResourceName(resourceName)
    )
      continue;
    const capacity = allocatable.get(resourceName) ?? 0n;
    const used = requested?.get(resourceName) ?? 0n;
    if (want > capacity - used) insufficient.push({ resourceName, requested: want, capacity: capacity - used });
  }
  return insufficient;
}
