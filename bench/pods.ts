/**
 * Pods bound to nodes, for the pod-aware figures: 5,000 nodes with 30 pods each (150,000), as Deployments place
 * them — replicas of the same workload share labels (`app`, `pod-template-hash`, `team`, `version`) and requests,
 * 2 % of workloads keep their replicas apart with required anti-affinity on `kubernetes.io/hostname`.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_HOSTNAME, LABEL_ZONE, POD_NAMESPACE, prng } from './generate.js';
import type { PlacementNode } from '../src/scheduling/types.js';

export const PODS_PER_NODE = 30;
/** Replicas per workload: 150,000 pods are 15,000 workloads. */
export const REPLICAS = 10;
const NAMESPACES = ['checkout', 'payments', 'search', 'catalog', 'streaming', 'ml', 'batch', 'web', 'api', 'infra'];
const TEAMS = ['commerce', 'data', 'platform', 'growth', 'ads'];
const SIZES = [
  { cpu: '100m', memory: '128Mi' },
  { cpu: '250m', memory: '256Mi' },
  { cpu: '500m', memory: '512Mi' },
  { cpu: '50m', memory: '64Mi' },
] as const;

const hash = (n: number) => ((n * 2654435761) >>> 0).toString(16).padStart(8, '0').slice(0, 10);

/** One pod of workload `w`, replica `r`, bound to `nodeName`, as the API server returns it (trimmed of status). */
export function boundPod(w: number, r: number, nodeName: string): V1Pod {
  const app = `app-${w}`;
  const antiAffine = w % 50 === 0;
  const size = SIZES[w % SIZES.length] as (typeof SIZES)[number];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-${hash(w)}-${r.toString(36).padStart(5, 'x')}`,
      namespace: NAMESPACES[w % NAMESPACES.length] as string,
      labels: { app, 'pod-template-hash': hash(w), team: TEAMS[w % TEAMS.length] as string, version: `v${(w % 7) + 1}` },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${hash(w)}`, uid: `uid-${w}`, controller: true }],
    },
    spec: {
      nodeName,
      priority: 0,
      containers: [
        {
          name: 'main',
          image: `registry.example/${app}:1`,
          env: [{ name: 'SECRET_TOKEN', value: 'dropped on arrival' }],
          resources: { requests: { ...size }, limits: { memory: size.memory } },
        },
      ],
      ...(antiAffine
        ? {
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app } }, topologyKey: LABEL_HOSTNAME }],
              },
            },
          }
        : {}),
    },
    status: { phase: 'Running' },
  };
}

/**
 * `perNode` pods on each node, workloads' replicas spread over random nodes. `firstPod` numbers the pods of a
 * slice of the cluster, so that slices generated one after the other never reuse a name.
 */
export function generateBoundPods(nodes: readonly PlacementNode[], perNode = PODS_PER_NODE, seed = 1, firstPod = 0): V1Pod[] {
  const rand = prng(seed);
  const total = nodes.length * perNode;
  const slots: string[] = [];
  for (const n of nodes) for (let k = 0; k < perNode; k++) slots.push(n.name);
  // Shuffle the slots so that a workload's replicas land on random nodes.
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [slots[i], slots[j]] = [slots[j] as string, slots[i] as string];
  }
  const pods: V1Pod[] = [];
  for (let i = 0; i < total; i++) pods.push(boundPod(Math.floor((firstPod + i) / REPLICAS), (firstPod + i) % REPLICAS, slots[i] as string));
  return pods;
}

/** A new replica of an anti-affine workload with a DoNotSchedule zone spread (the pod-aware engine pod). */
export function antiAffineSpreadPod(): V1Pod {
  const w = 100; // anti-affine (w % 50 === 0), its replicas already placed
  const app = `app-${w}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-new`,
      namespace: NAMESPACES[w % NAMESPACES.length] as string,
      labels: { app, 'pod-template-hash': hash(w), team: TEAMS[w % TEAMS.length] as string },
    },
    spec: {
      priority: 0,
      containers: [{ name: 'main', image: 'x', resources: { requests: { cpu: '250m', memory: '256Mi' } } }],
      tolerations: [{ key: 'spot', operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app } }, topologyKey: LABEL_HOSTNAME }],
        },
      },
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: LABEL_ZONE, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app } } },
      ],
    },
  };
}

export { POD_NAMESPACE };
