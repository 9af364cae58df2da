/**
 * Fluent builders for tests, in the spirit of the scheduler's `pkg/scheduler/testing/wrappers.go`:
 *
 *   makePod('web').ns('streaming').label('app', 'web').nodeSelector('zone', 'a').toleration({ key: 'spot', operator: 'Exists' }).obj()
 *   makeNode('n1').label('zone', 'a').taint('spot', 'true', 'NoSchedule').allocatable({ cpu: '4' }).obj()
 *   ruleSet([{ name: 'spot', inject: { nodeSelector: { lifecycle: 'spot' } } }])
 *
 * Every `obj()` returns a fresh deep copy, so a builder can be reused as the base of several cases. Objects hold no
 * property set to `undefined`: they look exactly like objects decoded from JSON, as the webhook receives them.
 */
import type { V1Container, V1Node, V1NodeSelectorTerm, V1OwnerReference, V1Pod, V1PodSpec, V1Taint, V1Toleration } from '@kubernetes/client-node';

import { formatFieldError } from '../../src/util/errors.js';
import { compileRules, type RuleSet } from '../../src/rules/compile.js';
import { API_VERSION, KIND, type Rule, type RulesDocument, type Settings } from '../../src/rules/schema.js';
import type { PlacementNode } from '../../src/scheduling/types.js';

/** The container every built pod has when no `container(...)` call added one. */
export const DEFAULT_CONTAINER: Readonly<V1Container> = Object.freeze({ name: 'app', image: 'registry.example/app:1' });

const OWNER_API_VERSIONS: Readonly<Record<string, string>> = {
  DaemonSet: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  Deployment: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
};

export interface PodBuilder {
  /** `metadata.namespace` (default `default`). */
  ns(namespace: string): PodBuilder;
  label(key: string, value: string): PodBuilder;
  annotation(key: string, value: string): PodBuilder;
  /** An ownerReference with `controller: true`; apiVersion `apps/v1` for workload kinds, `batch/v1` for jobs. */
  ownedBy(kind: string, name: string, apiVersion?: string): PodBuilder;
  nodeSelector(key: string, value: string): PodBuilder;
  toleration(toleration: V1Toleration): PodBuilder;
  /** Sets `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`. */
  requiredTerms(terms: readonly V1NodeSelectorTerm[]): PodBuilder;
  container(name: string, fields?: Omit<V1Container, 'name'>): PodBuilder;
  initContainer(name: string, fields?: Omit<V1Container, 'name'>): PodBuilder;
  /** Any other spec fields, shallow-merged (e.g. `{ affinity: null }` for fields the helpers do not cover). */
  spec(fields: Partial<V1PodSpec>): PodBuilder;
  obj(): V1Pod;
}

export function makePod(name = 'pod'): PodBuilder {
  const metadata: NonNullable<V1Pod['metadata']> = { name, namespace: 'default' };
  const spec: V1PodSpec = { containers: [] };
  const builder: PodBuilder = {
    ns(namespace) {
      metadata.namespace = namespace;
      return builder;
    },
    label(key, value) {
      metadata.labels = { ...metadata.labels, [key]: value };
      return builder;
    },
    annotation(key, value) {
      metadata.annotations = { ...metadata.annotations, [key]: value };
      return builder;
    },
    ownedBy(kind, ownerName, apiVersion) {
      const owner: V1OwnerReference = {
        apiVersion: apiVersion ?? OWNER_API_VERSIONS[kind] ?? 'v1',
        kind,
        name: ownerName,
        uid: `uid-${kind.toLowerCase()}-${ownerName}`,
        controller: true,
        blockOwnerDeletion: true,
      };
      metadata.ownerReferences = [...(metadata.ownerReferences ?? []), owner];
      return builder;
    },
    nodeSelector(key, value) {
      spec.nodeSelector = { ...spec.nodeSelector, [key]: value };
      return builder;
    },
    toleration(toleration) {
      spec.tolerations = [...(spec.tolerations ?? []), toleration];
      return builder;
    },
    requiredTerms(terms) {
      const affinity = spec.affinity ?? {};
      spec.affinity = {
        ...affinity,
        nodeAffinity: {
          ...affinity.nodeAffinity,
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [...terms] },
        },
      };
      return builder;
    },
    container(containerName, fields = {}) {
      spec.containers = [...spec.containers, { name: containerName, ...fields }];
      return builder;
    },
    initContainer(containerName, fields = {}) {
      spec.initContainers = [...(spec.initContainers ?? []), { name: containerName, ...fields }];
      return builder;
    },
    spec(fields) {
      Object.assign(spec, fields);
      return builder;
    },
    obj() {
      const containers = spec.containers.length > 0 ? spec.containers : [{ ...DEFAULT_CONTAINER }];
      return structuredClone({ apiVersion: 'v1', kind: 'Pod', metadata, spec: { ...spec, containers } });
    },
  };
  return builder;
}

export interface NodeBuilder {
  label(key: string, value: string): NodeBuilder;
  taint(key: string, value: string | undefined, effect: V1Taint['effect']): NodeBuilder;
  /** `spec.unschedulable: true` (a cordoned node). */
  unschedulable(): NodeBuilder;
  /** Merged into `status.allocatable`. */
  allocatable(quantities: Readonly<Record<string, string>>): NodeBuilder;
  obj(): PlacementNode;
  /** The same node as the API returns it (for `StaticCluster` and other consumers of `V1Node`). */
  v1(): V1Node;
}

export function makeNode(name: string): NodeBuilder {
  let labels: Record<string, string> = {};
  let taints: V1Taint[] = [];
  let unschedulable = false;
  let allocatable: Record<string, string> = {};
  const builder: NodeBuilder = {
    label(key, value) {
      labels = { ...labels, [key]: value };
      return builder;
    },
    taint(key, value, effect) {
      taints = [...taints, value === undefined ? { key, effect } : { key, value, effect }];
      return builder;
    },
    unschedulable() {
      unschedulable = true;
      return builder;
    },
    allocatable(quantities) {
      allocatable = { ...allocatable, ...quantities };
      return builder;
    },
    obj: () => structuredClone({ name, labels, taints, unschedulable, allocatable }),
    v1: () =>
      structuredClone({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels },
        spec: { ...(taints.length > 0 ? { taints } : {}), ...(unschedulable ? { unschedulable } : {}) },
        status: { allocatable },
      }),
  };
  return builder;
}

/** A rules document holding `rules` (and `settings` when given). */
export function rulesDoc(rules: readonly Rule[], settings?: Settings): RulesDocument {
  const doc: RulesDocument = { apiVersion: API_VERSION, kind: KIND, rules: structuredClone([...rules]) };
  if (settings !== undefined) doc.settings = structuredClone(settings);
  return doc;
}

/**
 * A document whose parts need not be valid, for tests of the schema check and lint (a rule with operator
 * `Equals`, an unknown field, ...).
 */
export function looseDoc(rules: readonly unknown[], settings?: unknown): Record<string, unknown> {
  return settings === undefined
    ? { apiVersion: API_VERSION, kind: KIND, rules: [...rules] }
    : { apiVersion: API_VERSION, kind: KIND, settings, rules: [...rules] };
}

/**
 * Compiles `rules` (with `settings`), or a whole document, with `compileRules`; throws with every formatted error
 * when it is invalid, so that a broken fixture fails loudly instead of silently applying nothing.
 */
export function ruleSet(rulesOrDoc: readonly Rule[] | RulesDocument, settings?: Settings): RuleSet {
  const doc = Array.isArray(rulesOrDoc) ? rulesDoc(rulesOrDoc as readonly Rule[], settings) : rulesOrDoc;
  const result = compileRules(doc);
  if (!result.ok) {
    throw new Error(`invalid rules document in a test:\n${result.errors.map((e) => `  ${formatFieldError(e)}`).join('\n')}`);
  }
  return result.ruleSet;
}
