/**
 * Pods, and the objects that hold pod templates, for the fuzz suite: a fixture pod as the API server sends it, its
 * placement fields replaced by random ones from the rules' vocabulary, then corrupted at random paths.
 */
import fc from 'fast-check';
import { WORKLOAD_KINDS, type WorkloadKind } from '../../src/workloads/workloads.js';
import { applyEdits, edits, targetPaths, type Edit, type EditSpace } from './edits.js';
import { FIXTURE_PODS, FIXTURE_WORKLOAD_METADATA } from './fixtures.js';
import { cloneJson, type Path } from './json.js';
import { applyOverlay, podOverlay, type PodOverlay } from './placement.js';

const AFFINITY_TERMS = [
  'nodeSelectorTerms.0.matchExpressions.0.key',
  'nodeSelectorTerms.0.matchExpressions.0.operator',
  'nodeSelectorTerms.0.matchExpressions.0.values.0',
  'nodeSelectorTerms.1.matchFields.0.values.0',
  'nodeSelectorTerms.0.matchFields.0.key',
];
const PREFERRED_NODE = ['0.weight', '0.preference.matchExpressions.0.values.0', '0.preference.matchFields.0.operator', '1.preference'];
const POD_TERM = [
  'labelSelector.matchLabels.app',
  'labelSelector.matchExpressions.0.values.0',
  'labelSelector.matchExpressions.0.operator',
  'namespaceSelector.matchLabels.team',
  'namespaces.0',
  'topologyKey',
  'matchLabelKeys.0',
  'mismatchLabelKeys.0',
];
const CONTAINER = [
  'name',
  'env.0.name',
  'env.0.value',
  'env.0.valueFrom.fieldRef.fieldPath',
  'env.1',
  'envFrom.0.configMapRef.name',
  'envFrom.0.secretRef.name',
  'envFrom.0.prefix',
  'volumeMounts.0.name',
  'volumeMounts.0.mountPath',
  'volumeMounts.1',
  'resources.requests.cpu',
  'resources.requests.memory',
  'resources.limits.cpu',
  'resources.limits.memory',
  'ports.0.hostPort',
  'ports.0.containerPort',
  'ports.0.protocol',
  'restartPolicy',
];

/** Leaves of the fields of a pod that placement reads. */
export const POD_LEAVES: readonly (string | Path)[] = [
  'metadata.name',
  'metadata.generateName',
  'metadata.namespace',
  'metadata.labels.app',
  'metadata.labels.constructor',
  'metadata.annotations.placement-webhook/applied-rules',
  ['metadata', 'annotations', 'kubernetes.io/config.mirror'],
  'metadata.ownerReferences.0.kind',
  'metadata.ownerReferences.0.apiVersion',
  'metadata.ownerReferences.0.controller',
  'metadata.ownerReferences.1',
  'spec.nodeSelector.lifecycle',
  ['spec', 'nodeSelector', 'kubernetes.io/os'],
  'spec.tolerations.0.key',
  'spec.tolerations.0.operator',
  'spec.tolerations.0.value',
  'spec.tolerations.0.effect',
  'spec.tolerations.0.tolerationSeconds',
  'spec.tolerations.9',
  ...AFFINITY_TERMS.map((p) => `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.${p}`),
  ...PREFERRED_NODE.map((p) => `spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.${p}`),
  ...['podAffinity', 'podAntiAffinity'].flatMap((k) => [
    ...POD_TERM.map((p) => `spec.affinity.${k}.requiredDuringSchedulingIgnoredDuringExecution.0.${p}`),
    ...['weight', ...POD_TERM.map((p) => `podAffinityTerm.${p}`)].map(
      (p) => `spec.affinity.${k}.preferredDuringSchedulingIgnoredDuringExecution.0.${p}`,
    ),
  ]),
  ...['maxSkew', 'topologyKey', 'whenUnsatisfiable', 'labelSelector.matchLabels.app', 'minDomains', 'nodeAffinityPolicy', 'matchLabelKeys.0'].map(
    (p) => `spec.topologySpreadConstraints.0.${p}`,
  ),
  ...CONTAINER.map((p) => `spec.containers.0.${p}`),
  'spec.containers.1',
  ...CONTAINER.map((p) => `spec.initContainers.0.${p}`),
  'spec.volumes.0.name',
  'spec.volumes.0.configMap.name',
  'spec.volumes.5',
  'spec.nodeName',
  'spec.schedulerName',
  'spec.priority',
  'spec.priorityClassName',
  'spec.hostNetwork',
  'spec.overhead.cpu',
  'spec.resources.requests.cpu',
  ['spec', 'containers', 0, 'resources', 'requests', 'nvidia.com/gpu'],
  ['spec', 'overhead', 'nvidia.com/gpu'],
  'status.phase',
];

/** Where placement reads a pod: metadata's labels, annotations and owners, and every field of the spec it uses. */
const POD_READS =
  /^(metadata\.(labels|annotations|ownerReferences|namespace|name)|spec\.(nodeSelector|tolerations|affinity|topologySpreadConstraints|containers|initContainers|volumes|nodeName|schedulerName|priority|overhead|resources|hostNetwork))(\.|$)/;

const pathText = (p: Path) => p.join('.');

const podSpaces = new Map<string, EditSpace>();

/** The edit space of an object whose pod (template) sits at `prefix` (built once per prefix). */
export function podSpace(prefix: Path = []): EditSpace {
  const pre = prefix.length === 0 ? '' : `${pathText(prefix)}.`;
  let space = podSpaces.get(pre);
  if (space === undefined) {
    space = {
      targets: targetPaths(POD_LEAVES, prefix).concat(prefix.length > 0 ? [prefix] : []),
      reads: (p) => pathText(p).startsWith(pre) && POD_READS.test(pathText(p).slice(pre.length)),
    };
    podSpaces.set(pre, space);
  }
  return space;
}

export interface PodCase {
  readonly base: number;
  readonly overlay: PodOverlay;
  readonly edits: readonly Edit[];
}

/** A fixture pod, with an overlay of placement fields and edits. */
export const podCase = (maxEdits = 4, intact = 0.2, maxOverlay = 5): fc.Arbitrary<PodCase> =>
  fc.record({
    base: fc.nat({ max: FIXTURE_PODS.length - 1 }),
    overlay: podOverlay(maxOverlay),
    edits: edits(podSpace(), maxEdits, undefined, intact),
  });

/** The pod of a case (a fresh value). */
export function buildPod(c: PodCase): unknown {
  const pod = applyOverlay(cloneJson(FIXTURE_PODS[c.base % FIXTURE_PODS.length] as Record<string, unknown>), c.overlay);
  return applyEdits(pod, c.edits, podSpace());
}

export interface WorkloadCase {
  readonly kind: WorkloadKind;
  readonly metadata: number;
  readonly replicas: unknown;
  readonly pod: PodCase;
  readonly edits: readonly Edit[];
}

const WORKLOAD_LEAVES = ['metadata.name', 'metadata.labels.app', 'spec.replicas', 'spec.selector.matchLabels.app', 'status'];

/** A workload of one of the kinds that hold a pod template, its template built like a pod, then corrupted. */
export const workloadCase = (maxEdits = 3, intact = 0.5): fc.Arbitrary<WorkloadCase> =>
  fc.constantFrom(...WORKLOAD_KINDS).chain((kind) =>
    fc.record({
      kind: fc.constant(kind),
      metadata: fc.nat({ max: Math.max(0, FIXTURE_WORKLOAD_METADATA.length - 1) }),
      replicas: fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom<unknown>(undefined, 1, 3) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(0, null, -1, 1.5, '3') },
      ),
      pod: podCase(maxEdits === 0 ? 0 : 2, intact),
      edits: edits(workloadSpace(kind), maxEdits, undefined, intact),
    }),
  );

const spaces = new Map<WorkloadKind, EditSpace>();

function workloadSpace(kind: WorkloadKind): EditSpace {
  let space = spaces.get(kind);
  if (space === undefined) {
    const template = podSpace(kind.templatePath);
    const own = targetPaths(WORKLOAD_LEAVES);
    space = { targets: [...own, ...template.targets], reads: (p) => template.reads(p) || /^(spec\.replicas|metadata)/.test(pathText(p)) };
    spaces.set(kind, space);
  }
  return space;
}

/** The object of a workload case, its template at the kind's path. */
export function buildWorkload(c: WorkloadCase): unknown {
  const pod = buildPod(c.pod) as Record<string, unknown> | null;
  const template = pod !== null && typeof pod === 'object' && !Array.isArray(pod) ? { metadata: pod['metadata'], spec: pod['spec'] } : pod;
  let inner: unknown = template;
  const path = c.kind.templatePath;
  for (let i = path.length - 1; i >= 0; i--) {
    const step = { [path[i] as string]: inner } as Record<string, unknown>;
    if (i === 1 && path[0] === 'spec' && c.replicas !== undefined) step['replicas'] = c.replicas;
    inner = step;
  }
  const metadata = cloneJson(FIXTURE_WORKLOAD_METADATA[c.metadata % Math.max(1, FIXTURE_WORKLOAD_METADATA.length)] ?? { name: 'w' });
  const object = {
    apiVersion: c.kind.group === '' ? 'v1' : `${c.kind.group}/v1`,
    kind: c.kind.kind,
    metadata,
    ...(inner as Record<string, unknown>),
  };
  return applyEdits(object, c.edits, workloadSpace(c.kind));
}
