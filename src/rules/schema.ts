/**
 * The rules document: the public contract operators write (a file, or key `rules.yaml` of a ConfigMap).
 *
 * The schema is the single source of truth for three things: the TypeScript types below, the structural check that
 * runs before a document is compiled (unknown fields, types, enums; see `./compile.ts`), and the published JSON
 * Schema `schema/rules.schema.json` that editors' YAML plugins use (`npm run generate` writes it). The enums are the
 * scheduling model's own (`../scheduling/`): one list for the schema and the code that reads the values.
 *
 * Kubernetes shapes embedded here (selectors, affinity, tolerations, env, volumes) follow the core/v1 API field for
 * field; what the API server would reject beyond the shape (label syntax, operator/value combinations) is checked by
 * `./lint.ts` with the API server's rules.
 */
import { Type, type Static, type TOptional, type TSchema } from '@sinclair/typebox';
import { LABEL_SELECTOR_OPERATORS as SELECTOR_OPERATORS } from '../scheduling/labels.js';
import { NODE_SELECTOR_OPERATORS } from '../scheduling/node-affinity.js';
import { TAINT_EFFECTS, TOLERATION_OPERATORS } from '../scheduling/taints.js';
import { WHEN_UNSATISFIABLE } from '../scheduling/topology-spread.js';

/** A string restricted to `values`, emitted as a plain JSON Schema `enum` (one clear error instead of an anyOf). */
function StringEnum<const T extends readonly string[]>(values: T, description?: string) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });
}

const Strict = { additionalProperties: false } as const;
const StringMap = (description: string) => Type.Record(Type.String(), Type.String(), { description });
const Opt = <T extends TSchema>(t: T) => Type.Optional(t);

/** `skip`: the rule applies nothing when any of its injections conflicts with the pod (PodPreset's semantics). */
export const ON_CONFLICT = ['keep', 'override', 'reject', 'skip'] as const;
export const VALIDATION_MODES = ['enforce', 'warn', 'off'] as const;
/** What validation does with a pod that can run but would not be scheduled now (see the README, "Validation"). */
export const PENDING_MODES = ['warn', 'deny', 'off'] as const;
export const DEFAULT_EXCLUDED_NAMESPACES = ['kube-system', 'kube-node-lease'] as const;

// ---- Kubernetes shapes -------------------------------------------------------------------------------------------

export const LabelSelectorRequirement = Type.Object(
  { key: Type.String(), operator: StringEnum(SELECTOR_OPERATORS), values: Opt(Type.Array(Type.String())) },
  Strict,
);

export const LabelSelector = Type.Object(
  {
    matchLabels: Opt(StringMap('labels that must all be present with these values')),
    matchExpressions: Opt(Type.Array(LabelSelectorRequirement)),
  },
  { ...Strict, description: 'A Kubernetes LabelSelector: matchLabels AND matchExpressions; {} matches everything' },
);

export const NodeSelectorRequirement = Type.Object(
  { key: Type.String(), operator: StringEnum(NODE_SELECTOR_OPERATORS), values: Opt(Type.Array(Type.String())) },
  Strict,
);

export const NodeSelectorTerm = Type.Object(
  {
    matchExpressions: Opt(Type.Array(NodeSelectorRequirement)),
    matchFields: Opt(Type.Array(NodeSelectorRequirement)),
  },
  Strict,
);

export const NodeAffinity = Type.Object(
  {
    requiredDuringSchedulingIgnoredDuringExecution: Opt(Type.Object({ nodeSelectorTerms: Type.Array(NodeSelectorTerm) }, Strict)),
    preferredDuringSchedulingIgnoredDuringExecution: Opt(
      Type.Array(Type.Object({ weight: Type.Integer({ minimum: 1, maximum: 100 }), preference: NodeSelectorTerm }, Strict)),
    ),
  },
  Strict,
);

export const PodAffinityTerm = Type.Object(
  {
    labelSelector: Opt(LabelSelector),
    namespaceSelector: Opt(LabelSelector),
    namespaces: Opt(Type.Array(Type.String())),
    topologyKey: Type.String(),
    matchLabelKeys: Opt(Type.Array(Type.String())),
    mismatchLabelKeys: Opt(Type.Array(Type.String())),
  },
  Strict,
);

const PodAffinityLike = Type.Object(
  {
    requiredDuringSchedulingIgnoredDuringExecution: Opt(Type.Array(PodAffinityTerm)),
    preferredDuringSchedulingIgnoredDuringExecution: Opt(
      Type.Array(Type.Object({ weight: Type.Integer({ minimum: 1, maximum: 100 }), podAffinityTerm: PodAffinityTerm }, Strict)),
    ),
  },
  Strict,
);

export const Affinity = Type.Object(
  { nodeAffinity: Opt(NodeAffinity), podAffinity: Opt(PodAffinityLike), podAntiAffinity: Opt(PodAffinityLike) },
  { ...Strict, description: 'Same shape as PodSpec.affinity' },
);

export const Toleration = Type.Object(
  {
    key: Opt(Type.String()),
    operator: Opt(StringEnum(TOLERATION_OPERATORS)),
    value: Opt(Type.String()),
    effect: Opt(StringEnum(['', ...TAINT_EFFECTS] as const)),
    tolerationSeconds: Opt(Type.Integer()),
  },
  Strict,
);

export const Taint = Type.Object({ key: Type.String(), value: Opt(Type.String()), effect: StringEnum(TAINT_EFFECTS) }, Strict);

export const TopologySpreadConstraint = Type.Object(
  {
    maxSkew: Type.Integer({ minimum: 1 }),
    topologyKey: Type.String(),
    whenUnsatisfiable: StringEnum(WHEN_UNSATISFIABLE),
    labelSelector: Opt(LabelSelector),
    minDomains: Opt(Type.Integer({ minimum: 1 })),
    nodeAffinityPolicy: Opt(StringEnum(['Honor', 'Ignore'] as const)),
    nodeTaintsPolicy: Opt(StringEnum(['Honor', 'Ignore'] as const)),
    matchLabelKeys: Opt(Type.Array(Type.String())),
  },
  Strict,
);

const KeyRef = Type.Object({ name: Opt(Type.String()), key: Type.String(), optional: Opt(Type.Boolean()) }, Strict);
const NameRef = Type.Object({ name: Type.String(), optional: Opt(Type.Boolean()) }, Strict);

export const EnvVar = Type.Object(
  {
    name: Type.String(),
    value: Opt(Type.String()),
    valueFrom: Opt(
      Type.Object(
        {
          configMapKeyRef: Opt(KeyRef),
          secretKeyRef: Opt(KeyRef),
          fieldRef: Opt(Type.Object({ apiVersion: Opt(Type.String()), fieldPath: Type.String() }, Strict)),
          resourceFieldRef: Opt(
            Type.Object(
              {
                containerName: Opt(Type.String()),
                resource: Type.String(),
                divisor: Opt(Type.String({ description: 'a quantity, quoted: "1m", "1"' })),
              },
              Strict,
            ),
          ),
        },
        Strict,
      ),
    ),
  },
  Strict,
);

export const EnvFromSource = Type.Object({ prefix: Opt(Type.String()), configMapRef: Opt(NameRef), secretRef: Opt(NameRef) }, Strict);

export const VolumeMount = Type.Object(
  {
    name: Type.String(),
    mountPath: Type.String(),
    readOnly: Opt(Type.Boolean()),
    subPath: Opt(Type.String()),
    subPathExpr: Opt(Type.String()),
    mountPropagation: Opt(StringEnum(['None', 'HostToContainer', 'Bidirectional'] as const)),
    recursiveReadOnly: Opt(StringEnum(['Disabled', 'IfPossible', 'Enabled'] as const)),
  },
  Strict,
);

/**
 * Volume sources of core/v1 `Volume`. Each is passed through to the pod as written (the API server validates
 * their insides); naming them here still catches a misspelt source such as `configmap`.
 */
export const VOLUME_SOURCES = [
  'awsElasticBlockStore',
  'azureDisk',
  'azureFile',
  'cephfs',
  'cinder',
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'fc',
  'flexVolume',
  'flocker',
  'gcePersistentDisk',
  'gitRepo',
  'glusterfs',
  'hostPath',
  'image',
  'iscsi',
  'nfs',
  'persistentVolumeClaim',
  'photonPersistentDisk',
  'portworxVolume',
  'projected',
  'quobyte',
  'rbd',
  'scaleIO',
  'secret',
  'storageos',
  'vsphereVolume',
] as const;

const OpenObject = Type.Record(Type.String(), Type.Unknown());
export const Volume = Type.Object(
  {
    name: Type.String(),
    ...(Object.fromEntries(VOLUME_SOURCES.map((s) => [s, Opt(OpenObject)])) as Record<(typeof VOLUME_SOURCES)[number], TOptional<typeof OpenObject>>),
  },
  Strict,
);

// ---- The document ------------------------------------------------------------------------------------------------

export const Match = Type.Object(
  {
    namespaces: Opt(Type.Array(Type.String(), { description: 'namespace names; omitted matches every namespace' })),
    namespaceSelector: Opt(LabelSelector),
    podSelector: Opt(LabelSelector),
    podAnnotationSelector: Opt(
      Type.Object(
        { matchLabels: LabelSelector.properties.matchLabels, matchExpressions: LabelSelector.properties.matchExpressions },
        { ...Strict, description: "A label selector over the pod's annotations (NotIn also matches a pod without the key)" },
      ),
    ),
    includeDaemonSetPods: Opt(Type.Boolean({ description: 'also mutate pods owned by a DaemonSet (default false)', default: false })),
  },
  { ...Strict, description: 'Every part given must match; an omitted part matches all' },
);

export const Inject = Type.Object(
  {
    nodeSelector: Opt(StringMap('node labels the pod must select')),
    tolerations: Opt(Type.Array(Toleration)),
    affinity: Opt(Affinity),
    topologySpreadConstraints: Opt(Type.Array(TopologySpreadConstraint)),
    env: Opt(Type.Array(EnvVar, { description: 'added to every container and initContainer' })),
    envFrom: Opt(Type.Array(EnvFromSource, { description: 'added to every container and initContainer' })),
    volumeMounts: Opt(Type.Array(VolumeMount, { description: 'added to every container and initContainer' })),
    volumes: Opt(Type.Array(Volume, { description: 'added to the pod' })),
  },
  Strict,
);

export const Rule = Type.Object(
  {
    name: Type.String({ description: 'unique DNS-1123 label' }),
    description: Opt(Type.String()),
    match: Opt(Match),
    inject: Inject,
    onConflict: Opt(StringEnum(ON_CONFLICT, 'what to do when the pod already sets a field differently')),
  },
  Strict,
);

export const NodeTemplate = Type.Object(
  {
    name: Type.String(),
    labels: Opt(StringMap('labels a node of this template will carry')),
    taints: Opt(Type.Array(Taint)),
    allocatable: Opt(
      Type.Record(Type.String(), Type.Unsafe<string | number>({ type: ['string', 'number'] }), {
        description: 'resource quantities, as in Node status.allocatable',
      }),
    ),
  },
  { ...Strict, description: 'A node an autoscaler (cluster-autoscaler, Karpenter) can add' },
);

/**
 * `settings.compat`: in-tree admission plugins honoured from their namespace annotations (docs/compat.md). Each is
 * `true` (enabled, empty configuration), `false` (off), or the plugin's own configuration.
 */
export const Compat = Type.Object(
  {
    podNodeSelector: Opt(
      Type.Unsafe<boolean | Record<string, string>>({
        type: ['boolean', 'object'],
        additionalProperties: { type: 'string' },
        description:
          'PodNodeSelector: true, or its podNodeSelectorPluginConfig — clusterDefaultNodeSelector and one whitelist per namespace name, each k=v,...',
      }),
    ),
    podTolerationRestriction: Opt(
      Type.Unsafe<boolean | { default?: Static<typeof Toleration>[]; whitelist?: Static<typeof Toleration>[] }>({
        type: ['boolean', 'object'],
        properties: { default: Type.Array(Toleration), whitelist: Type.Array(Toleration) },
        additionalProperties: false,
        description: 'PodTolerationRestriction: true, or its Configuration — the cluster default tolerations and whitelist',
      }),
    ),
  },
  { ...Strict, description: 'In-tree admission plugins honoured from their namespace annotations' },
);

export const Settings = Type.Object(
  {
    compat: Opt(Compat),
    excludedNamespaces: Opt(Type.Array(Type.String(), { description: 'never mutated nor validated', default: [...DEFAULT_EXCLUDED_NAMESPACES] })),
    validation: Opt(
      Type.Object(
        {
          mode: Opt(StringEnum(VALIDATION_MODES)),
          pending: Opt(
            StringEnum(
              PENDING_MODES,
              'a pod that can run but would not be scheduled now (pods in the way, full nodes, spread): warn (default), deny (only in mode enforce, with a synced pod cache), off',
            ),
          ),
          nodeTemplates: Opt(Type.Array(NodeTemplate)),
        },
        Strict,
      ),
    ),
  },
  Strict,
);

export const API_VERSION = 'placement-webhook/v1';
export const KIND = 'PlacementRules';

export const RulesDocument = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal(KIND),
    settings: Opt(Settings),
    rules: Type.Array(Rule),
  },
  {
    ...Strict,
    $id: 'https://placement-webhook.dev/schema/rules.schema.json',
    title: 'placement-webhook rules',
    description: 'Label-based placement rules applied by placement-webhook to pods at admission',
  },
);

export type RulesDocument = Static<typeof RulesDocument>;
export type Rule = Static<typeof Rule>;
export type Match = Static<typeof Match>;
export type Inject = Static<typeof Inject>;
export type Settings = Static<typeof Settings>;
export type Compat = Static<typeof Compat>;
export type NodeTemplate = Static<typeof NodeTemplate>;
export type OnConflict = (typeof ON_CONFLICT)[number];
export type ValidationMode = (typeof VALIDATION_MODES)[number];
export type PendingMode = (typeof PENDING_MODES)[number];

/** The published JSON Schema (draft-07), as written to `schema/rules.schema.json`. */
export function rulesJsonSchema(): Record<string, unknown> {
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...(JSON.parse(JSON.stringify(RulesDocument)) as Record<string, unknown>) };
}
