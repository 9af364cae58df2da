/**
 * The shape of the objects placement reads, checked before any semantics: what the handlers, the rules and the
 * scheduler model rely on (arrays of objects, maps of strings, quantities as strings or numbers), and nothing more —
 * every other field, and every field's *value*, is the API server's to validate.
 *
 * The API server only ever sends typed objects, so a misfit comes from some other client that reached the port. It
 * is answered HTTP 400 (see `server/app.ts`), never a denial: an HTTP error makes the API server apply the
 * failurePolicy, while a denial would refuse a pod the API server considered valid, should this check ever be
 * stricter than its own. `null` is accepted wherever a field may be absent (Go decodes it as absent); a `null`
 * inside a list is not (Go would decode it as an empty item, which the API server then refuses).
 *
 * Beyond the schema, every value of the review is held to {@link MAX_NESTING_DEPTH} and to finite numbers
 * (`1e400` parses as Infinity, which no Go client can send and JSON cannot carry back).
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { child, type FieldError } from '../util/errors.js';
import { compileSchema } from '../util/json-schema.js';
import { MAX_NESTING_DEPTH } from '../util/yaml.js';
import { WORKLOAD_KINDS } from '../workloads/workloads.js';
import type { AdmissionRequest } from './types.js';

const Open = { additionalProperties: true } as const;
/** A field that may be absent or null. */
const Opt = <T extends TSchema>(t: T) => Type.Optional(Type.Union([t, Type.Null()]));
const Str = Type.String();
const Int = Type.Integer();
const StringMap = Type.Record(Type.String(), Type.String());
const StringList = Type.Array(Type.String());
const Quantity = Type.Union([Type.String(), Type.Number()]);
const ResourceList = Type.Record(Type.String(), Quantity);
const obj = (props: Record<string, TSchema>) => Type.Object(props, Open);

const LabelSelector = obj({
  matchLabels: Opt(StringMap),
  matchExpressions: Opt(Type.Array(obj({ key: Opt(Str), operator: Opt(Str), values: Opt(StringList) }))),
});
const NodeSelectorTerm = obj({
  matchExpressions: Opt(Type.Array(obj({ key: Opt(Str), operator: Opt(Str), values: Opt(StringList) }))),
  matchFields: Opt(Type.Array(obj({ key: Opt(Str), operator: Opt(Str), values: Opt(StringList) }))),
});
const PodAffinityTerm = obj({
  labelSelector: Opt(LabelSelector),
  namespaceSelector: Opt(LabelSelector),
  namespaces: Opt(StringList),
  topologyKey: Opt(Str),
  matchLabelKeys: Opt(StringList),
  mismatchLabelKeys: Opt(StringList),
});
const PodAffinityLike = obj({
  requiredDuringSchedulingIgnoredDuringExecution: Opt(Type.Array(PodAffinityTerm)),
  preferredDuringSchedulingIgnoredDuringExecution: Opt(Type.Array(obj({ weight: Opt(Int), podAffinityTerm: Opt(PodAffinityTerm) }))),
});
const Affinity = obj({
  nodeAffinity: Opt(
    obj({
      requiredDuringSchedulingIgnoredDuringExecution: Opt(obj({ nodeSelectorTerms: Opt(Type.Array(NodeSelectorTerm)) })),
      preferredDuringSchedulingIgnoredDuringExecution: Opt(Type.Array(obj({ weight: Opt(Int), preference: Opt(NodeSelectorTerm) }))),
    }),
  ),
  podAffinity: Opt(PodAffinityLike),
  podAntiAffinity: Opt(PodAffinityLike),
});
const Toleration = obj({ key: Opt(Str), operator: Opt(Str), value: Opt(Str), effect: Opt(Str), tolerationSeconds: Opt(Int) });
const TopologySpreadConstraint = obj({
  maxSkew: Opt(Int),
  topologyKey: Opt(Str),
  whenUnsatisfiable: Opt(Str),
  labelSelector: Opt(LabelSelector),
  minDomains: Opt(Int),
  nodeAffinityPolicy: Opt(Str),
  nodeTaintsPolicy: Opt(Str),
  matchLabelKeys: Opt(StringList),
});
const Resources = obj({ requests: Opt(ResourceList), limits: Opt(ResourceList) });
const Container = obj({
  name: Opt(Str),
  env: Opt(Type.Array(obj({ name: Opt(Str), value: Opt(Str) }))),
  envFrom: Opt(Type.Array(obj({ prefix: Opt(Str), configMapRef: Opt(obj({ name: Opt(Str) })), secretRef: Opt(obj({ name: Opt(Str) })) }))),
  volumeMounts: Opt(Type.Array(obj({ name: Opt(Str), mountPath: Opt(Str) }))),
  resources: Opt(Resources),
  ports: Opt(Type.Array(obj({ containerPort: Opt(Int), hostPort: Opt(Int), protocol: Opt(Str), hostIP: Opt(Str) }))),
  restartPolicy: Opt(Str),
});
const PodSpec = obj({
  nodeName: Opt(Str),
  schedulerName: Opt(Str),
  priorityClassName: Opt(Str),
  priority: Opt(Int),
  hostNetwork: Opt(Type.Boolean()),
  nodeSelector: Opt(StringMap),
  tolerations: Opt(Type.Array(Toleration)),
  affinity: Opt(Affinity),
  topologySpreadConstraints: Opt(Type.Array(TopologySpreadConstraint)),
  containers: Opt(Type.Array(Container)),
  initContainers: Opt(Type.Array(Container)),
  volumes: Opt(Type.Array(obj({ name: Opt(Str) }))),
  overhead: Opt(ResourceList),
  resources: Opt(Resources),
});
const ObjectMeta = obj({
  name: Opt(Str),
  generateName: Opt(Str),
  namespace: Opt(Str),
  labels: Opt(StringMap),
  annotations: Opt(StringMap),
  ownerReferences: Opt(Type.Array(obj({ apiVersion: Opt(Str), kind: Opt(Str), name: Opt(Str), controller: Opt(Type.Boolean()) }))),
});
const PodTemplate = obj({ metadata: Opt(ObjectMeta), spec: Opt(PodSpec) });
const Pod = obj({ metadata: Opt(ObjectMeta), spec: Opt(PodSpec), status: Opt(obj({ phase: Opt(Str) })) });
const ConfigMap = obj({ metadata: Opt(ObjectMeta), data: Opt(StringMap) });

/** A workload whose pod template sits at `path` (`['spec', 'template']`): `{metadata, spec: {replicas, template}}`. */
function withTemplateAt(path: readonly string[]): TSchema {
  let schema: TSchema = PodTemplate;
  for (let i = path.length - 1; i >= 0; i--) {
    const props: Record<string, TSchema> = { [path[i] as string]: Opt(schema) };
    if (i === 0) props['metadata'] = Opt(ObjectMeta);
    if (i === 1 && path[0] === 'spec') props['replicas'] = Opt(Int);
    schema = obj(props);
  }
  return schema;
}

const PodCheck = compileSchema(Pod);
const ConfigMapCheck = compileSchema(ConfigMap);
const WorkloadChecks = new Map(WORKLOAD_KINDS.map((k) => [`${k.group}/${k.kind}`, compileSchema(withTemplateAt(k.templatePath))]));

/** The shape check for objects of a request's kind, or undefined for kinds placement does not read. */
function checkFor(request: AdmissionRequest) {
  const { group, kind } = request.kind;
  if (group === '' && kind === 'Pod') return PodCheck;
  if (group === '' && kind === 'ConfigMap') return ConfigMapCheck;
  return WorkloadChecks.get(`${group}/${kind}`);
}

const prefixed = (prefix: string, errors: readonly FieldError[]): FieldError[] =>
  errors.map((e) => ({ ...e, path: e.path === '' ? prefix : e.path.startsWith('[') ? `${prefix}${e.path}` : `${prefix}.${e.path}` }));

/**
 * A field that may be null gives, when it is wrong, "must be null" and "must match a schema in anyOf" beside the
 * error that says what is wrong (at the field or inside it): only that one is kept.
 */
function withoutNullNoise(errors: readonly FieldError[]): FieldError[] {
  const noise = (e: FieldError) => /^must be a null\b/.test(e.detail) || e.detail === 'must match a schema in anyOf';
  const within = (p: string, e: string) => p === e || p.startsWith(`${e}.`) || p.startsWith(`${e}[`);
  return errors.filter((e) => !noise(e) || !errors.some((o) => o !== e && !noise(o) && within(o.path, e.path)));
}

/**
 * The first value under `value` nested deeper than `maxDepth`, or a number that is not finite, with its path;
 * undefined when there is none. Iterative: any depth is looked at without growing the stack.
 */
export function jsonLimitsError(value: unknown, maxDepth: number, root: string): FieldError | undefined {
  // Almost every review has no such value: a walk that allocates nothing says so; only then is the path searched.
  return withinLimits(value, maxDepth) ? undefined : firstLimitError(value, maxDepth, root);
}

/** The walk's stacks, reused by every call (reviews are checked one at a time: the walk never yields). */
const scratchValues: unknown[] = [];
const scratchDepths: number[] = [];

/** Whether every value under `value` is nested at most `maxDepth` deep and every number is finite. */
function withinLimits(value: unknown, maxDepth: number): boolean {
  const values = scratchValues;
  const depths = scratchDepths;
  let top = 0;
  let high = 1;
  values[top] = value;
  depths[top++] = 0;
  let ok = true;
  while (top > 0) {
    if (top > high) high = top;
    const v = values[--top];
    const depth = depths[top] as number;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) {
        ok = false;
        break;
      }
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) {
      ok = false;
      break;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c: unknown = v[i];
        if (c !== null && (typeof c === 'object' || typeof c === 'number')) {
          values[top] = c;
          depths[top++] = depth + 1;
        }
      }
    } else {
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        const c: unknown = (v as Record<string, unknown>)[k];
        if (c !== null && (typeof c === 'object' || typeof c === 'number')) {
          values[top] = c;
          depths[top++] = depth + 1;
        }
      }
    }
  }
  // Drop the references, so that the scratch stack never keeps a review alive; its length stays for the next call.
  values.fill(undefined, 0, Math.max(high, top));
  return ok;
}

/** The first error `jsonLimitsError` reports, with its path (the slow path: only for a value that has one). */
function firstLimitError(value: unknown, maxDepth: number, root: string): FieldError | undefined {
  interface Frame {
    readonly v: unknown;
    readonly depth: number;
    readonly parent: Frame | undefined;
    readonly key: string | number;
  }
  const pathOf = (f: Frame): string => {
    const keys: (string | number)[] = [];
    for (let cur: Frame | undefined = f; cur?.parent !== undefined; cur = cur.parent) keys.push(cur.key);
    return keys.reverse().reduce<string>((p, k) => child(p, k), root);
  };
  const stack: Frame[] = [{ v: value, depth: 0, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const f = stack.pop() as Frame;
    const { v } = f;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { type: 'Invalid', path: pathOf(f), detail: 'must be a finite number' };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (f.depth >= maxDepth) return { type: 'Invalid', path: pathOf(f), detail: `nested more than ${maxDepth} levels deep` };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], depth: f.depth + 1, parent: f, key: i });
    } else {
      for (const [k, c] of Object.entries(v)) stack.push({ v: c, depth: f.depth + 1, parent: f, key: k });
    }
  }
  return undefined;
}

/**
 * Every shape error of a review's `object` and `oldObject`, with paths from the review's root
 * (`request.object.spec.tolerations[0]: must be an object, got null`). Empty when placement can read them.
 */
export function reviewShapeErrors(request: AdmissionRequest): FieldError[] {
  const check = checkFor(request);
  if (!check) return [];
  const errors: FieldError[] = [];
  for (const key of ['object', 'oldObject'] as const) {
    const value = request[key];
    if (value === undefined || value === null) continue;
    errors.push(...prefixed(`request.${key}`, withoutNullNoise(check(value))));
  }
  return errors;
}

/** Shape errors of one object of kind `group`/`kind` outside a review (the CLI), paths from the object's root. */
export function objectShapeErrors(group: string, kind: string, object: unknown): FieldError[] {
  const check = checkFor({ kind: { group, version: 'v1', kind } } as AdmissionRequest);
  const limits = jsonLimitsError(object, MAX_NESTING_DEPTH, '');
  return [...(limits ? [limits] : []), ...(check ? withoutNullNoise(check(object)) : [])];
}
