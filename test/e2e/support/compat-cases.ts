/**
 * The table of the compat differential test (test/e2e/compat.e2e.test.ts): the plugins' configuration, namespaces
 * with the plugins' annotations, and pods. Shared so that the same cases can be replayed against the pure semantics.
 */
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export const DTS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
];
export const MEMORY_PRESSURE = { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' };

/** The plugins' configuration, as the admission configuration file holds it and as `settings.compat` holds it. */
export const NODE_SELECTOR_CONFIG = { clusterDefaultNodeSelector: 'env=default', 'ns-whitelisted': 'env=dev,zone=a' };
export const TOLERATION_CONFIG = {
  default: [{ key: 'cluster-default', operator: 'Exists', effect: 'NoSchedule' }],
  whitelist: [{ key: 'cluster-default', operator: 'Exists' }, { key: 'allowed', operator: 'Exists' }, ...DTS, MEMORY_PRESSURE],
};

const NS_SELECTOR = 'scheduler.alpha.kubernetes.io/node-selector';
const NS_DEFAULTS = 'scheduler.alpha.kubernetes.io/defaultTolerations';
const NS_WHITELIST = 'scheduler.alpha.kubernetes.io/tolerationsWhitelist';
const j = (o: unknown) => JSON.stringify(o);

/** Namespaces of the table: name → annotations. */
export const NAMESPACES: Record<string, Record<string, string>> = {
  'ns-plain': {},
  'ns-selector': { [NS_SELECTOR]: 'env=dev,tier=web' },
  'ns-optout': { [NS_SELECTOR]: '', [NS_DEFAULTS]: '', [NS_WHITELIST]: '' },
  'ns-whitelisted': { [NS_SELECTOR]: 'env=dev' },
  'ns-tolerations': {
    [NS_DEFAULTS]: j([{ key: 'team', operator: 'Equal', value: 'a', effect: 'NoSchedule' }]),
    [NS_WHITELIST]: j([
      { key: 'team', operator: 'Exists' },
      { key: 'ok', operator: 'Exists' },
      { operator: 'Exists', effect: 'NoExecute' },
      MEMORY_PRESSURE,
    ]),
  },
  'ns-wildcard': { [NS_DEFAULTS]: j([{ operator: 'Exists' }]), [NS_WHITELIST]: '' },
  'ns-superset': { [NS_DEFAULTS]: j([{ key: 'dedicated', operator: 'Exists' }]), [NS_WHITELIST]: '' },
  'ns-bad-selector': { [NS_SELECTOR]: 'env' },
  'ns-bad-tolerations': { [NS_DEFAULTS]: 'not json' },
};

export interface PodCase {
  name: string;
  spec: Record<string, unknown>;
  ownerReferences?: Record<string, unknown>[];
}

export const container = (resources?: object) => ({ name: 'main', image: 'registry.k8s.io/pause:3.2', ...(resources ? { resources } : {}) });
const BURSTABLE = { requests: { cpu: '100m' } };
const GUARANTEED = { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } };

export const PODS: PodCase[] = [
  { name: 'besteffort', spec: { containers: [container()] } },
  { name: 'burstable', spec: { containers: [container(BURSTABLE)] } },
  { name: 'guaranteed', spec: { containers: [container(GUARANTEED)] } },
  { name: 'init-burstable', spec: { initContainers: [{ ...container(BURSTABLE), name: 'init' }], containers: [container()] } },
  { name: 'selector-prod', spec: { nodeSelector: { env: 'prod' }, containers: [container()] } },
  { name: 'selector-dev', spec: { nodeSelector: { env: 'dev' }, containers: [container()] } },
  { name: 'selector-zone', spec: { nodeSelector: { zone: 'a' }, containers: [container()] } },
  { name: 'selector-gpu', spec: { nodeSelector: { gpu: 'true' }, containers: [container()] } },
  { name: 'tol-team-b', spec: { tolerations: [{ key: 'team', operator: 'Equal', value: 'b', effect: 'NoSchedule' }], containers: [container()] } },
  {
    name: 'tol-dedicated',
    spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'x', effect: 'NoSchedule' }], containers: [container(BURSTABLE)] },
  },
  { name: 'tol-forbidden', spec: { tolerations: [{ key: 'forbidden', operator: 'Exists' }], containers: [container()] } },
  {
    name: 'tol-ok',
    spec: {
      tolerations: [
        { key: 'ok', operator: 'Exists' },
        { key: 'allowed', operator: 'Exists' },
      ],
      containers: [container()],
    },
  },
  { name: 'tol-memory-pressure', spec: { tolerations: [{ ...MEMORY_PRESSURE }], containers: [container(BURSTABLE)] } },
  { name: 'tol-everything', spec: { tolerations: [{ operator: 'Exists' }], containers: [container()] } },
  { name: 'tol-omitted-operator', spec: { tolerations: [{ key: 'team', value: 'a', effect: 'NoSchedule' }], containers: [container()] } },
  // The plugins spare no pod: one already bound to a node, one owned by a DaemonSet.
  { name: 'bound', spec: { nodeName: 'node-x', containers: [container(BURSTABLE)] } },
  {
    name: 'daemonset-pod',
    spec: { containers: [container()] },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: '0d5c2d8e-6f8a-4d0e-9b3a-2f1f3c9b7a11', controller: true }],
  },
];
