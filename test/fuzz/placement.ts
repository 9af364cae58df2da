/**
 * The fields placement reads, in core/v1 shapes, from a small vocabulary that collides with the fixture rules and
 * nodes (so that rules match, merge and conflict). `valid` gives what the API server would accept (rules are made of
 * these); the pod side also gets what it would not (unknown operators, values where none belong, empty terms),
 * still in the right shapes: the corruption of `./edits.ts` breaks the shapes afterwards.
 */
import fc from 'fast-check';
import { oddKey, quantity } from './values.js';

export const NAMESPACES = [
  'default',
  'streaming',
  'payments',
  'batch',
  'ml',
  'monitoring',
  'kube-system',
  'placement-webhook',
  'unknown-ns',
] as const;

/** Label keys of the fixture rules, nodes and pods, and a few more that are valid. */
export const LABEL_KEYS = [
  'app',
  'tier',
  'accelerator',
  'team',
  'lifecycle',
  'dedicated',
  'pool',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'kubernetes.io/hostname',
  'topology.kubernetes.io/zone',
  'node.kubernetes.io/instance-type',
  'node.kubernetes.io/lifecycle',
  'example.com/gen',
  'constructor',
  'toString',
] as const;

export const LABEL_VALUES = [
  'stream-consumer',
  'stream-producer',
  'log-agent',
  'ledger',
  'web',
  'batch',
  'nvidia',
  'payments',
  'data',
  'Ec2Spot',
  'OnDemand',
  'spot',
  'on-demand',
  'linux',
  'windows',
  'amd64',
  'arm64',
  'gpu',
  'eu-west-1a',
  'eu-west-1b',
  'g4dn.xlarge',
  'p3.2xlarge',
  'm5.xlarge',
  'true',
  '1',
  '5',
  '',
] as const;

const NODE_NAMES = ['ondemand-a-1', 'spot-a-1', 'gpu-a-1', 'payments-a-1', 'general-a-1', 'edge-a-1', 'missing-node', ''] as const;

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);

export const labelKey = (valid: boolean): fc.Arbitrary<string> =>
  valid ? pick(LABEL_KEYS) : fc.oneof({ weight: 5, arbitrary: pick(LABEL_KEYS) }, { weight: 1, arbitrary: oddKey });
export const labelValue = (valid: boolean): fc.Arbitrary<string> =>
  valid ? pick(LABEL_VALUES) : fc.oneof({ weight: 5, arbitrary: pick(LABEL_VALUES) }, { weight: 1, arbitrary: oddKey });

export const labels = (valid: boolean, maxKeys = 4): fc.Arbitrary<Record<string, string>> =>
  fc.dictionary(labelKey(valid), labelValue(valid), { maxKeys, noNullPrototype: true });

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** A record with every key optional, and no key set to `undefined`. */
const partial = <T extends Record<string, unknown>>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) =>
  fc.record(model, { requiredKeys: [] }) as fc.Arbitrary<Partial<T>>;

export const labelSelector = (valid: boolean) =>
  partial({
    matchLabels: labels(valid, 2),
    matchExpressions: fc.array(
      fc.oneof(
        fc.record({
          key: labelKey(valid),
          operator: pick(['In', 'NotIn']),
          values: fc.uniqueArray(labelValue(valid), { minLength: 1, maxLength: 3 }),
        }),
        fc.record({ key: labelKey(valid), operator: pick(['Exists', 'DoesNotExist']) }),
        ...(valid
          ? []
          : [fc.record({ key: labelKey(false), operator: pick(['Gt', 'in', '', 'Equals']), values: fc.array(labelValue(false), { maxLength: 2 }) })]),
      ),
      { maxLength: 2 },
    ),
  });

export const nodeSelectorRequirement = (valid: boolean) =>
  fc.oneof(
    fc.record({ key: labelKey(valid), operator: pick(['In', 'NotIn']), values: fc.uniqueArray(labelValue(valid), { minLength: 1, maxLength: 3 }) }),
    fc.record({ key: labelKey(valid), operator: pick(['Exists', 'DoesNotExist']) }),
    fc.record({
      key: labelKey(valid),
      operator: pick(['Gt', 'Lt']),
      values: pick(valid ? ['1', '5', '100'] : ['1', '5', '100', '-3']).map((v) => [v]),
    }),
    ...(valid
      ? []
      : [
          fc.record({
            key: labelKey(false),
            operator: pick(['Gt', 'Lt']),
            values: fc.array(pick(['x', '1.5', '', '99999999999999999999']), { maxLength: 2 }),
          }),
          fc.record({
            key: labelKey(false),
            operator: pick(['In', 'Exists', 'Equals', '', 'in']),
            values: fc.array(labelValue(false), { maxLength: 2 }),
          }),
        ]),
  );

const fieldRequirement = (valid: boolean) =>
  fc.record({
    key: fc.constant('metadata.name'),
    operator: pick(['In', 'NotIn']),
    values: pick(NODE_NAMES.filter((n) => !valid || n !== '')).map((n) => [n]),
  });

export const nodeSelectorTerm = (valid: boolean) =>
  partial({
    matchExpressions: fc.array(nodeSelectorRequirement(valid), { minLength: valid ? 1 : 0, maxLength: 3 }),
    matchFields: fc.array(fieldRequirement(valid), { maxLength: 1 }),
  }).filter((t) => !valid || (t.matchExpressions?.length ?? 0) + (t.matchFields?.length ?? 0) > 0);

const podAffinityTerm = (valid: boolean) =>
  fc.record(
    {
      labelSelector: labelSelector(valid),
      topologyKey: pick(['kubernetes.io/hostname', 'topology.kubernetes.io/zone', ...(valid ? [] : [''])]),
      namespaces: fc.uniqueArray(pick(['streaming', 'payments', 'default']), { maxLength: 2 }),
      namespaceSelector: labelSelector(valid),
      matchLabelKeys: fc.uniqueArray(pick(['app', 'pod-template-hash']), { maxLength: 1 }),
    },
    { requiredKeys: ['topologyKey'] },
  );

const weight = (valid: boolean) => (valid ? fc.integer({ min: 1, max: 100 }) : fc.integer({ min: -5, max: 200 }));

const podAffinityLike = (valid: boolean) =>
  partial({
    requiredDuringSchedulingIgnoredDuringExecution: fc.array(podAffinityTerm(valid), { maxLength: 2 }),
    preferredDuringSchedulingIgnoredDuringExecution: fc.array(fc.record({ weight: weight(valid), podAffinityTerm: podAffinityTerm(valid) }), {
      maxLength: 2,
    }),
  });

export const affinity = (valid: boolean) =>
  partial({
    nodeAffinity: partial({
      requiredDuringSchedulingIgnoredDuringExecution: fc.record({
        nodeSelectorTerms: fc.array(nodeSelectorTerm(valid), { minLength: valid ? 1 : 0, maxLength: 3 }),
      }),
      preferredDuringSchedulingIgnoredDuringExecution: fc.array(fc.record({ weight: weight(valid), preference: nodeSelectorTerm(valid) }), {
        maxLength: 2,
      }),
    }),
    podAffinity: podAffinityLike(valid),
    podAntiAffinity: podAffinityLike(valid),
  });

const TAINT_KEYS = [
  'spot',
  'dedicated',
  'nvidia.com/gpu',
  'node.kubernetes.io/lifecycle',
  'node.kubernetes.io/not-ready',
  'node.kubernetes.io/unschedulable',
] as const;

export const toleration = (valid: boolean): fc.Arbitrary<Record<string, unknown>> =>
  valid
    ? fc.oneof<fc.Arbitrary<Record<string, unknown>>[]>(
        fc.record(
          {
            key: pick(TAINT_KEYS),
            operator: fc.constant('Equal'),
            value: pick(['true', 'payments', 'spot', 'present']),
            effect: pick(['NoSchedule', 'NoExecute', 'PreferNoSchedule']),
          },
          { requiredKeys: ['key', 'operator'] },
        ),
        fc.record(
          { key: pick(TAINT_KEYS), operator: fc.constant('Exists'), effect: pick(['NoSchedule', 'NoExecute']) },
          { requiredKeys: ['operator'] },
        ),
      )
    : partial({
        key: pick(['', ...TAINT_KEYS]),
        operator: pick(['', 'Equal', 'Exists', 'exists']),
        value: pick(['', 'true', 'payments', 'spot']),
        effect: pick(['', 'NoSchedule', 'NoExecute', 'PreferNoSchedule', 'Sometimes']),
        tolerationSeconds: fc.integer({ min: -10, max: 3600 }),
      });

export const topologySpreadConstraint = (valid: boolean) =>
  fc.record(
    {
      maxSkew: valid ? fc.integer({ min: 1, max: 3 }) : fc.integer({ min: -1, max: 3 }),
      topologyKey: pick(['topology.kubernetes.io/zone', 'kubernetes.io/hostname', ...(valid ? [] : ['', 'a~b/c'])]),
      whenUnsatisfiable: pick(['DoNotSchedule', 'ScheduleAnyway', ...(valid ? [] : ['Maybe'])]),
      labelSelector: labelSelector(valid),
      minDomains: fc.integer({ min: 1, max: 3 }),
      nodeAffinityPolicy: pick(['Honor', 'Ignore']),
      nodeTaintsPolicy: pick(['Honor', 'Ignore']),
      matchLabelKeys: fc.uniqueArray(pick(['pod-template-hash', 'app']), { maxLength: 1 }),
    },
    { requiredKeys: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'] },
  );

const ENV_NAMES = ['TEAM', 'NODE_NAME', 'LOG_LEVEL', 'MODE', 'FUZZ_MODE', 'ZONE'] as const;

export const envVar = (valid: boolean) =>
  fc.oneof(
    fc.record({ name: valid ? pick(ENV_NAMES) : fc.oneof(pick(ENV_NAMES), oddKey), value: pick(['payments', 'info', 'debug', 'a', 'b', '']) }),
    fc.record({
      name: pick(ENV_NAMES),
      valueFrom: fc.constantFrom({ fieldRef: { fieldPath: 'spec.nodeName' } }, { configMapKeyRef: { name: 'cfg', key: 'k' } }),
    }),
  );

export const envFrom = (): fc.Arbitrary<{ configMapRef?: { name: string }; secretRef?: { name: string }; prefix?: string }> =>
  fc.oneof(
    fc.record({
      configMapRef: fc.record({ name: pick(['payments-defaults', 'shared', 'cfg']), optional: fc.boolean() }, { requiredKeys: ['name'] }),
    }),
    fc.record({ secretRef: fc.record({ name: pick(['payments-secrets', 'cfg']) }), prefix: pick(['P_', 'X_']) }, { requiredKeys: ['secretRef'] }),
  );

const VOLUME_NAMES = ['payments-ca', 'shared', 'cfg', 'kube-api-access-p9t3v', 'scratch'] as const;
const MOUNT_PATHS = ['/etc/payments/ca', '/etc/shared', '/etc/cfg', '/var/run/secrets/kubernetes.io/serviceaccount', '/scratch'] as const;

export const volumeMount = () =>
  fc.record({ name: pick(VOLUME_NAMES), mountPath: pick(MOUNT_PATHS), readOnly: fc.boolean() }, { requiredKeys: ['name', 'mountPath'] });

export const volume = () =>
  fc.oneof(
    fc.record({ name: pick(VOLUME_NAMES), configMap: fc.record({ name: pick(['payments-ca-bundle', 'shared', 'cfg']) }) }),
    fc.record({ name: pick(VOLUME_NAMES), emptyDir: fc.constantFrom({}, { medium: 'Memory' }) }),
  );

const RESOURCE_NAMES = ['cpu', 'memory', 'ephemeral-storage', 'nvidia.com/gpu', 'pods', 'hugepages-2Mi', 'example.com/foo'] as const;

/** Requests and limits, quantities included that no parser should accept (`1.5.5`, `1e999`, huge numbers). */
export const resources = () =>
  partial({
    requests: fc.dictionary(pick(RESOURCE_NAMES), quantity, { maxKeys: 3, noNullPrototype: true }),
    limits: fc.dictionary(pick(RESOURCE_NAMES), quantity, { maxKeys: 3, noNullPrototype: true }),
  });

export const container = (name: fc.Arbitrary<string>) =>
  fc.record(
    {
      name,
      image: fc.constant('registry.example/app:1'),
      env: fc.array(envVar(false), { maxLength: 3 }),
      envFrom: fc.array(envFrom(), { maxLength: 2 }),
      volumeMounts: fc.array(volumeMount(), { maxLength: 2 }),
      resources: resources(),
      ports: fc.array(
        fc.record(
          { containerPort: fc.integer({ min: 1, max: 9000 }), hostPort: fc.integer({ min: 0, max: 9000 }), protocol: pick(['TCP', 'UDP']) },
          { requiredKeys: ['containerPort'] },
        ),
        { maxLength: 2 },
      ),
      restartPolicy: pick(['Always', 'Never']),
    },
    { requiredKeys: ['name'] },
  );

const OWNERS = [
  { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'u1', controller: true },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u2', controller: true },
  { apiVersion: 'batch/v1', kind: 'Job', name: 'job', uid: 'u3', controller: true },
  { apiVersion: 'extensions/v1beta1', kind: 'DaemonSet', name: 'old-ds', uid: 'u4' },
  { apiVersion: 'v1', kind: 'DaemonSet', name: 'not-apps', uid: 'u5' },
] as const;

/** A value for each pod field placement reads, or one of its empty forms. */
export const emptyOr = <T>(a: fc.Arbitrary<T>, empty: readonly unknown[]): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 6, arbitrary: a }, { weight: 1, arbitrary: fc.constantFrom(null, ...empty) });

const OVERLAY_FIELDS = {
  labels: emptyOr(labels(false), [{}]),
  annotations: emptyOr(
    fc.dictionary(
      pick(['placement-webhook/applied-rules', 'kubernetes.io/config.mirror', 'prometheus.io/scrape', 'a~b/c', 'constructor']),
      pick(['spot-consumers', 'gpu-workloads,unknown-rule', ' , ,', 'true', '']),
      { maxKeys: 2, noNullPrototype: true },
    ),
    [{}],
  ),
  ownerReferences: emptyOr(fc.subarray([...OWNERS], { maxLength: 2 }), [[]]),
  namespace: pick(NAMESPACES),
  nodeSelector: emptyOr(labels(false, 3), [{}]),
  tolerations: emptyOr(fc.array(toleration(false), { maxLength: 3 }), [[]]),
  affinity: emptyOr(affinity(false), [
    {},
    { nodeAffinity: null },
    { nodeAffinity: {} },
    { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: null } },
  ]),
  topologySpreadConstraints: emptyOr(fc.array(topologySpreadConstraint(false), { maxLength: 2 }), [[]]),
  containers: emptyOr(fc.array(container(pick(['app', 'side', 'app'])), { minLength: 1, maxLength: 3 }), [[]]),
  initContainers: emptyOr(fc.array(container(pick(['init', 'migrate'])), { maxLength: 2 }), [[]]),
  volumes: emptyOr(fc.array(volume(), { maxLength: 3 }), [[]]),
  nodeName: pick(NODE_NAMES),
  schedulerName: pick(['default-scheduler', 'volcano', '']),
  priority: fc.integer({ min: -10, max: 2_000_000_000 }),
  hostNetwork: fc.boolean(),
  overhead: fc.dictionary(pick(RESOURCE_NAMES), quantity, { maxKeys: 2, noNullPrototype: true }),
} as const;

type OverlayField = keyof typeof OVERLAY_FIELDS;

/**
 * Changes to a realistic pod's placement fields: up to `max` of them, each set to a value of the right shape
 * (perhaps empty or null); the rest of the pod stays as the API server sent it.
 */
export const podOverlay = (max = 5): fc.Arbitrary<Partial<Record<OverlayField, unknown>>> =>
  fc
    .uniqueArray(fc.constantFrom(...(Object.keys(OVERLAY_FIELDS) as OverlayField[])), { maxLength: max })
    .chain((fields) => fc.record(Object.fromEntries(fields.map((f) => [f, OVERLAY_FIELDS[f] as fc.Arbitrary<unknown>]))))
    .map((o) => o as Partial<Record<OverlayField, unknown>>);

export type PodOverlay = Partial<Record<OverlayField, unknown>>;

const META_FIELDS = ['labels', 'annotations', 'ownerReferences', 'namespace'] as const;

/** `pod` with `overlay` applied (in place). */
export function applyOverlay(pod: Record<string, unknown>, overlay: PodOverlay): Record<string, unknown> {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const metadata = isObject(pod['metadata']) ? pod['metadata'] : ((pod['metadata'] = {}) as Record<string, unknown>);
  const spec = isObject(pod['spec']) ? pod['spec'] : ((pod['spec'] = {}) as Record<string, unknown>);
  for (const [k, v] of Object.entries(overlay)) {
    if ((META_FIELDS as readonly string[]).includes(k)) metadata[k] = v;
    else spec[k] = v;
  }
  return pod;
}

export { opt };
