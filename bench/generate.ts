/**
 * Deterministic inputs for the benchmark: nodes, rules, namespaces, pods and AdmissionReviews. Everything is
 * derived from a seeded PRNG, so two runs (and the server child process) see the same cluster.
 */
import type { V1Namespace, V1Node, V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node';
import type { PlacementNode } from '../src/scheduling/types.js';

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;

function weighted<T extends { weight: number }>(rand: () => number, items: readonly T[]): T {
  const total = items.reduce((s, i) => s + i.weight, 0);
  let r = rand() * total;
  for (const item of items) {
    r -= item.weight;
    if (r < 0) return item;
  }
  return items[items.length - 1] as T;
}

export const DEFAULT_SEED = 20240611;

// ---- nodes --------------------------------------------------------------------------------------------------------

export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const LABEL_ZONE = 'topology.kubernetes.io/zone';
export const LABEL_REGION = 'topology.kubernetes.io/region';
export const LABEL_INSTANCE_TYPE = 'node.kubernetes.io/instance-type';
export const LABEL_LIFECYCLE = 'lifecycle';

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-1'] as const;
/** 20 zones: 4 regions × 5 zones. */
export const ZONES: readonly string[] = REGIONS.flatMap((r) => ['a', 'b', 'c', 'd', 'e'].map((z) => `${r}${z}`));

const FAMILIES = [
  { name: 'm5', gibPerCpu: 4, arch: 'amd64', gpu: 0 },
  { name: 'c5', gibPerCpu: 2, arch: 'amd64', gpu: 0 },
  { name: 'r5', gibPerCpu: 8, arch: 'amd64', gpu: 0 },
  { name: 'm6g', gibPerCpu: 4, arch: 'arm64', gpu: 0 },
  { name: 'c6g', gibPerCpu: 2, arch: 'arm64', gpu: 0 },
  { name: 'r6g', gibPerCpu: 8, arch: 'arm64', gpu: 0 },
  { name: 't3', gibPerCpu: 4, arch: 'amd64', gpu: 0 },
  { name: 'i3', gibPerCpu: 8, arch: 'amd64', gpu: 0 },
  { name: 'g4dn', gibPerCpu: 4, arch: 'amd64', gpu: 1 },
  { name: 'p3', gibPerCpu: 8, arch: 'amd64', gpu: 4 },
] as const;
const SIZES = ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge'] as const;
const MAX_PODS = [29, 58, 58, 234, 234] as const;

export interface InstanceType {
  readonly name: string;
  readonly arch: string;
  readonly gpu: boolean;
  readonly allocatable: Readonly<Record<string, string>>;
}

/** 50 instance types (10 families × 5 sizes), each with its own allocatable cpu, memory and pods. */
export const INSTANCE_TYPES: readonly InstanceType[] = FAMILIES.flatMap((f, fi) =>
  SIZES.map((size, si) => {
    const cpus = 2 << si;
    // Kubelet reservations as EKS computes them, roughly: a little cpu, a little memory per cpu and per pod.
    const cpuMillis = cpus * 1000 - 70 - 10 * cpus;
    const memKi = cpus * f.gibPerCpu * 1024 * 1024 - (255 + 11 * (MAX_PODS[si] ?? 29)) * 1024 - fi * 512;
    const allocatable: Record<string, string> = {
      cpu: `${cpuMillis}m`,
      memory: `${memKi}Ki`,
      pods: String(MAX_PODS[si] ?? 29),
      'ephemeral-storage': '95551679124',
    };
    if (f.gpu > 0) allocatable['nvidia.com/gpu'] = String(f.gpu * Math.max(1, si));
    return { name: `${f.name}.${size}`, arch: f.arch, gpu: f.gpu > 0, allocatable };
  }),
);

const t = (key: string, value: string, effect: string): V1Taint => ({ key, value, effect });

/** 10 taint sets; `spot` sets go with lifecycle Ec2Spot, `gpu` with GPU instance types, `dedicated` with a label. */
export const TAINT_SETS = [
  { name: 'none', weight: 40, taints: [] as V1Taint[], spot: false, gpu: false, dedicated: undefined },
  { name: 'spot', weight: 20, taints: [t('spot', 'true', 'NoSchedule')], spot: true, gpu: false, dedicated: undefined },
  {
    name: 'gpu',
    weight: 5,
    taints: [t('nvidia.com/gpu', 'present', 'NoSchedule'), t('dedicated', 'gpu', 'NoSchedule')],
    spot: false,
    gpu: true,
    dedicated: 'gpu',
  },
  { name: 'payments', weight: 5, taints: [t('dedicated', 'payments', 'NoSchedule')], spot: false, gpu: false, dedicated: 'payments' },
  { name: 'batch', weight: 5, taints: [t('dedicated', 'batch', 'NoSchedule')], spot: false, gpu: false, dedicated: 'batch' },
  {
    name: 'spot-batch',
    weight: 8,
    taints: [t('spot', 'true', 'NoSchedule'), t('dedicated', 'batch', 'NoSchedule')],
    spot: true,
    gpu: false,
    dedicated: 'batch',
  },
  { name: 'ingress', weight: 3, taints: [t('dedicated', 'ingress', 'NoExecute')], spot: false, gpu: false, dedicated: 'ingress' },
  { name: 'ml-prefer', weight: 6, taints: [t('team', 'ml', 'PreferNoSchedule')], spot: false, gpu: false, dedicated: undefined },
  {
    name: 'spot-ml-prefer',
    weight: 5,
    taints: [t('spot', 'true', 'NoSchedule'), t('team', 'ml', 'PreferNoSchedule')],
    spot: true,
    gpu: false,
    dedicated: undefined,
  },
  {
    name: 'infra',
    weight: 3,
    taints: [t('dedicated', 'infra', 'NoSchedule'), t('CriticalAddonsOnly', 'true', 'NoExecute')],
    spot: false,
    gpu: false,
    dedicated: 'infra',
  },
] as const;

export const CORDONED_FRACTION = 0.05;

export function nodeName(i: number): string {
  return `ip-10-${(i >>> 16) & 255}-${(i >>> 8) & 255}-${i & 255}.ec2.internal`;
}

/**
 * `count` nodes: unique hostname, 20 zones, 50 instance types, lifecycle OnDemand/Ec2Spot, 10 taint sets, 5 %
 * cordoned. The same seed gives the same nodes; node `i` does not depend on `count`.
 */
export function generateNodes(count: number, seed = DEFAULT_SEED): PlacementNode[] {
  const gpuTypes = INSTANCE_TYPES.filter((it) => it.gpu);
  const cpuTypes = INSTANCE_TYPES.filter((it) => !it.gpu);
  const nodes: PlacementNode[] = [];
  for (let i = 0; i < count; i++) {
    const rand = prng(seed ^ Math.imul(i + 1, 0x9e3779b1));
    const taintSet = weighted(rand, TAINT_SETS);
    const type = pick(rand, taintSet.gpu ? gpuTypes : cpuTypes);
    const zone = pick(rand, ZONES);
    const lifecycle = taintSet.spot || (!taintSet.dedicated && rand() < 0.15) ? 'Ec2Spot' : 'OnDemand';
    const name = nodeName(i);
    const labels: Record<string, string> = {
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': type.arch,
      [LABEL_HOSTNAME]: name,
      [LABEL_REGION]: zone.slice(0, -1),
      [LABEL_ZONE]: zone,
      [LABEL_INSTANCE_TYPE]: type.name,
      [LABEL_LIFECYCLE]: lifecycle,
      'eks.amazonaws.com/nodegroup': `ng-${type.name.replace('.', '-')}-${lifecycle.toLowerCase()}`,
    };
    if (taintSet.dedicated) labels['dedicated'] = taintSet.dedicated;
    nodes.push({
      name,
      labels,
      taints: taintSet.taints.map((x) => ({ ...x })),
      unschedulable: rand() < CORDONED_FRACTION,
      allocatable: type.allocatable,
    });
  }
  return nodes;
}

/** A PlacementNode as the V1Node the API would return (what `StaticCluster` takes). */
export function toV1Node(n: PlacementNode): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: n.name, labels: { ...n.labels } },
    spec: { ...(n.taints.length > 0 ? { taints: n.taints.map((x) => ({ ...x })) } : {}), ...(n.unschedulable ? { unschedulable: true } : {}) },
    status: { allocatable: { ...n.allocatable }, capacity: { ...n.allocatable } },
  };
}

// ---- pods for the feasibility engine ------------------------------------------------------------------------------

function pod(name: string, spec: Partial<NonNullable<V1Pod['spec']>>, requests: Record<string, string>): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: { containers: [{ name: 'main', image: 'registry.example.com/app:1.0', resources: { requests } }], ...spec },
  };
}

const spotToleration: V1Toleration = { key: 'spot', operator: 'Equal', value: 'true', effect: 'NoSchedule' };

/** Fits: on spot nodes, tolerating the spot taint, with modest requests. */
export const feasiblePod = (): V1Pod =>
  pod('feasible', { nodeSelector: { [LABEL_LIFECYCLE]: 'Ec2Spot' }, tolerations: [spotToleration] }, { cpu: '500m', memory: '512Mi' });

/** Asks for more cpu than any node has: no fit, and every node is counted under a reason (the message path). */
export const tooMuchCpuPod = (): V1Pod => pod('too-much-cpu', { tolerations: [spotToleration] }, { cpu: '256', memory: '1Gi' });

/** Selects a label value no node has: no fit, decided by the node selector alone. */
export const unknownSelectorPod = (): V1Pod =>
  pod('unknown-selector', { nodeSelector: { [LABEL_LIFECYCLE]: 'Reserved' } }, { cpu: '100m', memory: '128Mi' });

/** Required node affinity of 3 terms (In / NotIn / Exists over zone and instance type). */
export const affinityPod = (): V1Pod =>
  pod(
    'affinity',
    {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: LABEL_ZONE, operator: 'In', values: ['us-east-1a', 'us-east-1b', 'us-west-2a'] },
                  { key: LABEL_INSTANCE_TYPE, operator: 'NotIn', values: ['m5.large', 'c5.large', 't3.large'] },
                ],
              },
              {
                matchExpressions: [
                  { key: LABEL_INSTANCE_TYPE, operator: 'In', values: ['r5.2xlarge', 'r5.4xlarge', 'm6g.4xlarge'] },
                  { key: LABEL_LIFECYCLE, operator: 'Exists' },
                ],
              },
              {
                matchExpressions: [
                  { key: LABEL_ZONE, operator: 'NotIn', values: ZONES.filter((z) => z.startsWith('eu-west-1')) },
                  { key: LABEL_INSTANCE_TYPE, operator: 'Exists' },
                ],
              },
            ],
          },
        },
      },
    },
    { cpu: '1', memory: '2Gi' },
  );

export const ENGINE_PODS = [
  { name: 'feasible', what: 'nodeSelector lifecycle=Ec2Spot + spot toleration, 500m/512Mi', make: feasiblePod },
  { name: 'infeasible-cpu', what: 'requests 256 cpu (more than any node): counts every node', make: tooMuchCpuPod },
  { name: 'infeasible-selector', what: 'nodeSelector lifecycle=Reserved (no such node)', make: unknownSelectorPod },
  { name: 'affinity-3-terms', what: 'required node affinity, 3 terms of In/NotIn/Exists', make: affinityPod },
] as const;

// ---- namespaces, rules and the admission pod ----------------------------------------------------------------------

/** The namespace of the admission pod, and its labels. */
export const POD_NAMESPACE = 'checkout';
export const POD_NAMESPACE_LABELS: Readonly<Record<string, string>> = { team: 'commerce', env: 'prod' };

const OTHER_NAMESPACES = Array.from({ length: 200 }, (_, k) => `team-${k}`);

export function generateNamespaces(): V1Namespace[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: POD_NAMESPACE, labels: { ...POD_NAMESPACE_LABELS, 'kubernetes.io/metadata.name': POD_NAMESPACE } },
    },
    ...OTHER_NAMESPACES.map<V1Namespace>((name, k) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { team: `team-${k}`, env: k % 3 === 0 ? 'staging' : 'prod', 'kubernetes.io/metadata.name': name } },
    })),
  ];
}

type RuleDoc = Record<string, unknown>;

/** The rules the admission pod matches: five, each injecting a different field. */
function targetRule(k: number, i: number): RuleDoc {
  switch (k) {
    case 0:
      return {
        name: `r${i}-checkout-spot`,
        description: 'checkout runs on spot capacity',
        match: { namespaces: [POD_NAMESPACE, 'cart'], podSelector: { matchLabels: { app: 'checkout' } } },
        inject: { nodeSelector: { [LABEL_LIFECYCLE]: 'Ec2Spot' }, tolerations: [spotToleration] },
      };
    case 1:
      return {
        name: `r${i}-commerce-zones`,
        match: { namespaceSelector: { matchLabels: { team: 'commerce' } } },
        inject: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: LABEL_ZONE, operator: 'In', values: ['us-east-1a', 'us-east-1b', 'us-east-1c'] }] }],
              },
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 50, preference: { matchExpressions: [{ key: LABEL_INSTANCE_TYPE, operator: 'In', values: ['m5.2xlarge'] }] } },
              ],
            },
          },
        },
      };
    case 2:
      return {
        name: `r${i}-web-spread`,
        match: {
          podSelector: {
            matchExpressions: [
              { key: 'tier', operator: 'In', values: ['web', 'api'] },
              { key: 'track', operator: 'NotIn', values: ['canary'] },
            ],
          },
        },
        inject: {
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: LABEL_ZONE, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'checkout' } } },
          ],
        },
      };
    case 3:
      return {
        name: `r${i}-checkout-env`,
        match: { namespaces: [POD_NAMESPACE], podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] } },
        inject: {
          env: [{ name: 'REGION_HINT', value: 'us-east-1' }],
          envFrom: [{ configMapRef: { name: 'commerce-defaults', optional: true } }],
        },
        onConflict: 'override',
      };
    default:
      return {
        name: `r${i}-commerce-ca`,
        match: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [POD_NAMESPACE, 'cart'] }] } },
        inject: {
          volumes: [{ name: 'commerce-ca', configMap: { name: 'commerce-ca' } }],
          volumeMounts: [{ name: 'commerce-ca', mountPath: '/etc/commerce-ca', readOnly: true }],
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: { app: 'checkout' } }, topologyKey: LABEL_HOSTNAME } },
              ],
            },
          },
        },
      };
  }
}

/** A rule that never matches the admission pod (other namespaces, other apps, other teams). */
function otherRule(rand: () => number, i: number): RuleDoc {
  const team = Math.floor(rand() * OTHER_NAMESPACES.length);
  const app = `app-${Math.floor(rand() * 500)}`;
  const shape = Math.floor(rand() * 5);
  let match: RuleDoc;
  switch (shape) {
    case 0:
      match = {
        namespaces: Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, j) => OTHER_NAMESPACES[(team + j * 17) % OTHER_NAMESPACES.length]),
      };
      break;
    case 1:
      match = { namespaceSelector: { matchLabels: { team: `team-${team}` } }, podSelector: { matchLabels: { app } } };
      break;
    case 2:
      match = { podSelector: { matchLabels: { app, tier: pick(rand, ['web', 'api', 'worker']) } } };
      break;
    case 3:
      match = {
        podSelector: {
          matchExpressions: [
            { key: 'app', operator: 'In', values: [app, `${app}-v2`] },
            { key: 'tier', operator: 'Exists' },
            { key: 'track', operator: 'NotIn', values: ['canary'] },
          ],
        },
      };
      break;
    default:
      // The pod's own namespace, but another app: matching has to look at the pod's labels.
      match = { namespaces: [POD_NAMESPACE, OTHER_NAMESPACES[team] as string], podSelector: { matchLabels: { app } } };
  }
  const inject: RuleDoc = {};
  let what = Math.floor(rand() * 6);
  // Node selectors only on namespace-scoped rules, as teams write them: two rules that may select the same pods
  // and set different node selector values are rare (the linter warns about each such pair).
  if ((what === 0 || what === 1 || what === 2) && shape !== 0 && shape !== 4) what = 3 + (what % 3);
  if (what === 0 || what === 1) inject['nodeSelector'] = { [LABEL_LIFECYCLE]: pick(rand, ['OnDemand', 'Ec2Spot']) };
  if (what === 1 || what === 2) {
    const dedicated = pick(rand, ['payments', 'batch', 'gpu', 'ingress', 'infra']);
    inject['nodeSelector'] = { ...(inject['nodeSelector'] ?? {}), dedicated };
    inject['tolerations'] = [{ key: 'dedicated', operator: 'Equal', value: dedicated, effect: 'NoSchedule' }];
  }
  if (what === 3) {
    inject['affinity'] = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: LABEL_ZONE, operator: 'In', values: [pick(rand, ZONES), pick(rand, ZONES)] }] },
            {
              matchExpressions: [
                { key: LABEL_INSTANCE_TYPE, operator: 'NotIn', values: [pick(rand, INSTANCE_TYPES).name] },
                { key: LABEL_LIFECYCLE, operator: 'Exists' },
              ],
            },
          ],
        },
      },
    };
  }
  if (what === 4) {
    inject['affinity'] = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app } }, topologyKey: LABEL_HOSTNAME }],
      },
    };
    inject['topologySpreadConstraints'] = [
      { maxSkew: 2, topologyKey: LABEL_ZONE, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app } } },
    ];
  }
  if (what === 5) {
    inject['env'] = [
      { name: 'TEAM', value: `team-${team}` },
      { name: 'TRACE_SAMPLING', value: '0.1' },
    ];
    inject['tolerations'] = [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }];
  }
  // No other rule rejects: lint refuses a document where a rule may override what a reject rule sets for the same
  // pods (a re-invocation would refuse the pod the first pass admitted), and random rules overlap. One draw as before.
  const onConflict = pick(rand, ['keep', 'keep', 'keep', 'override', 'keep']);
  return { name: `r${i}-${['ns', 'team', 'app', 'expr', 'same-ns'][shape]}`, match, inject, onConflict };
}

/** Positions of the five rules the admission pod matches, spread over the document. */
export function targetPositions(count: number): number[] {
  return [0.1, 0.3, 0.5, 0.7, 0.9].map((f) => Math.min(count - 1, Math.floor(count * f)));
}

/** A rules document of `count` rules (`count` ≥ 5), of which the admission pod matches exactly five. */
export function generateRulesDocument(count: number, seed = DEFAULT_SEED): RuleDoc {
  const rand = prng(seed ^ 0x5bd1e995);
  const targets = targetPositions(count);
  const rules: RuleDoc[] = [];
  for (let i = 0; i < count; i++) {
    const k = targets.indexOf(i);
    rules.push(k >= 0 ? targetRule(k, i) : otherRule(rand, i));
  }
  return {
    apiVersion: 'placement-webhook/v1',
    kind: 'PlacementRules',
    settings: { excludedNamespaces: ['kube-system', 'kube-node-lease', 'placement-webhook'], validation: { mode: 'enforce' } },
    rules,
  };
}

/**
 * The pod of the mutate benchmark and of the HTTP runs: a Deployment's pod as the API server sends it to admission
 * (defaults applied, service-account token volume, default not-ready/unreachable tolerations).
 */
export function admissionPod(): V1Pod {
  const mounts = [
    { name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    { name: 'config', mountPath: '/etc/checkout' },
  ];
  const container = (name: string, image: string, cpu: string, memory: string) => ({
    name,
    image,
    imagePullPolicy: 'IfNotPresent',
    ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'LOG_LEVEL', value: 'info' },
    ],
    resources: { requests: { cpu, memory }, limits: { memory } },
    readinessProbe: {
      httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' },
      periodSeconds: 5,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    volumeMounts: mounts,
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'checkout-6c9f7d8b5-',
      namespace: POD_NAMESPACE,
      labels: { app: 'checkout', tier: 'web', track: 'stable', 'pod-template-hash': '6c9f7d8b5' },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'checkout-6c9f7d8b5',
          uid: '0c5b3a4e-2f1d-4e8a-9b7c-6d5e4f3a2b1c',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      containers: [
        container('checkout', 'registry.example.com/commerce/checkout:3.14.2', '500m', '768Mi'),
        container('envoy', 'registry.example.com/mesh/envoy:1.30.1', '100m', '128Mi'),
      ],
      initContainers: [
        {
          name: 'migrate',
          image: 'registry.example.com/commerce/checkout-migrate:3.14.2',
          imagePullPolicy: 'IfNotPresent',
          resources: { requests: { cpu: '200m', memory: '256Mi' } },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          volumeMounts: mounts,
        },
      ],
      dnsPolicy: 'ClusterFirst',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      securityContext: { runAsNonRoot: true, fsGroup: 2000 },
      serviceAccount: 'checkout',
      serviceAccountName: 'checkout',
      terminationGracePeriodSeconds: 30,
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      volumes: [
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
        { name: 'config', configMap: { name: 'checkout-config', defaultMode: 420 } },
      ],
    },
  };
}

/** The AdmissionReview the HTTP runs send (the same body to every route). */
export function admissionReview(): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: POD_NAMESPACE,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: 'b9e3a9e2-1c1f-4d59-a2a4-1f0e5f7f0c11',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object: admissionPod(),
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}
