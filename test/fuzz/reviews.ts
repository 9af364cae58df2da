/**
 * AdmissionReview requests for the fuzz suite: an envelope like the API server's around a pod, a workload, a rules
 * ConfigMap or another object, each part of the envelope sometimes missing, of another type or unknown, and the body
 * sometimes no review at all, or no JSON at all.
 */
import fc from 'fast-check';
import { WORKLOAD_KINDS, type WorkloadKind } from '../../src/workloads/workloads.js';
import { RULES_CONFIGMAP_KEY, RULES_CONFIGMAP_LABEL } from '../../src/rules/configmap.js';
import { edits, protoEdit, applyEdits, targetPaths, type Edit, type EditSpace } from './edits.js';
import { FIXTURE_USER_INFOS } from './fixtures.js';
import { serialize } from './json.js';
import { NAMESPACES } from './placement.js';
import { buildPod, buildWorkload, podCase, workloadCase, type PodCase, type WorkloadCase } from './pods.js';
import { rulesText } from './rules-docs.js';
import { anyValue, number, oddKey, scalar } from './values.js';

/** A field left out of the envelope. */
export const ABSENT = Symbol('absent');

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
const sometimes = <T>(usual: fc.Arbitrary<T>, odd: fc.Arbitrary<unknown>, weight = 6): fc.Arbitrary<unknown> =>
  fc.oneof({ weight, arbitrary: usual }, { weight: 1, arbitrary: odd });

export type ObjectCase =
  | { readonly type: 'pod'; readonly pod: PodCase }
  | { readonly type: 'workload'; readonly workload: WorkloadCase }
  | { readonly type: 'configmap'; readonly labelled: unknown; readonly text: unknown; readonly edits: readonly Edit[] }
  | { readonly type: 'scale'; readonly kind: WorkloadKind; readonly replicas: unknown; readonly oldReplicas: unknown }
  | { readonly type: 'other'; readonly value: unknown };

const CONFIGMAP_SPACE: EditSpace = {
  targets: targetPaths([
    'metadata.name',
    'metadata.labels',
    'data',
    'binaryData',
    ['metadata', 'labels', RULES_CONFIGMAP_LABEL],
    ['data', RULES_CONFIGMAP_KEY],
  ]),
  reads: () => true,
};

export const objectCase: fc.Arbitrary<ObjectCase> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ type: fc.constant('pod' as const), pod: podCase(3, 0.4) }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('workload' as const), workload: workloadCase() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('configmap' as const),
      labelled: sometimes(fc.constant('true'), fc.constantFrom<unknown>('false', 'True', '', ABSENT, 1, true)),
      text: sometimes(rulesText, fc.oneof(fc.constant<unknown>(ABSENT), anyValue), 8),
      edits: edits(CONFIGMAP_SPACE, 2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('scale' as const),
      kind: fc.constantFrom(...WORKLOAD_KINDS),
      replicas: sometimes(fc.integer({ min: 0, max: 200 }), fc.oneof(fc.constant<unknown>(ABSENT), scalar)),
      oldReplicas: sometimes(fc.integer({ min: 0, max: 200 }), fc.oneof(fc.constant<unknown>(ABSENT), scalar)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('other' as const), value: anyValue }) },
);

/** An autoscaling/v1 Scale, as `kubectl scale` sends it. */
function scaleObject(replicas: unknown): unknown {
  const spec: Record<string, unknown> = {};
  if (replicas !== ABSENT) spec['replicas'] = replicas;
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name: 'web', namespace: 'default' },
    spec,
    status: { replicas: 1, selector: 'app=web' },
  };
}

/** The object of a case (a fresh value). */
export function buildObject(c: ObjectCase): unknown {
  switch (c.type) {
    case 'pod':
      return buildPod(c.pod);
    case 'workload':
      return buildWorkload(c.workload);
    case 'configmap': {
      const labels: Record<string, unknown> = { 'app.kubernetes.io/name': 'placement-webhook' };
      if (c.labelled !== ABSENT) labels[RULES_CONFIGMAP_LABEL] = c.labelled;
      const data: Record<string, unknown> = {};
      if (c.text !== ABSENT) data[RULES_CONFIGMAP_KEY] = c.text;
      const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'placement-rules', namespace: 'placement-webhook', labels }, data };
      return applyEdits(cm, c.edits, CONFIGMAP_SPACE);
    }
    case 'scale':
      return scaleObject(c.replicas);
    case 'other':
      return c.value;
  }
}

interface Gvk {
  readonly group: unknown;
  readonly version: unknown;
  readonly kind: unknown;
  readonly resource: unknown;
  /** The resource's group when it differs from the kind's (a Scale is the subresource of a workload). */
  readonly resourceGroup?: unknown;
}

const POD: Gvk = { group: '', version: 'v1', kind: 'Pod', resource: 'pods' };
const CONFIGMAP: Gvk = { group: '', version: 'v1', kind: 'ConfigMap', resource: 'configmaps' };
const OTHER_KINDS: readonly Gvk[] = [
  { group: '', version: 'v1', kind: 'Node', resource: 'nodes' },
  { group: '', version: 'v1', kind: 'Secret', resource: 'secrets' },
  { group: 'apps', version: 'v1', kind: 'Foo', resource: 'foos' },
  { group: 'apps', version: 'v1beta1', kind: 'Deployment', resource: 'deployments' },
  { group: 'extensions', version: 'v1beta1', kind: 'DaemonSet', resource: 'daemonsets' },
  { group: 'batch', version: 'v1', kind: 'Pod', resource: 'pods' },
  { group: '', version: 'v1', kind: 'pod', resource: 'pods' },
];

/** The kind an object case is sent as: its own most of the time, else another kind (whatever the object is). */
function kindFor(c: ObjectCase): fc.Arbitrary<Gvk> {
  const own: Gvk =
    c.type === 'pod'
      ? POD
      : c.type === 'configmap'
        ? CONFIGMAP
        : c.type === 'workload'
          ? { ...c.workload.kind, version: 'v1' }
          : c.type === 'scale'
            ? { group: 'autoscaling', version: 'v1', kind: 'Scale', resource: c.kind.resource, resourceGroup: c.kind.group }
            : POD;
  const all: Gvk[] = [POD, CONFIGMAP, ...WORKLOAD_KINDS.map((k) => ({ ...k, version: 'v1' })), ...OTHER_KINDS];
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant(own) },
    { weight: 2, arbitrary: pick(all) },
    {
      weight: 1,
      arbitrary: fc.record({
        group: sometimes(fc.constant(own.group), scalar, 1),
        version: sometimes(fc.constant('v1'), scalar, 1),
        kind: sometimes(fc.constant(own.kind), scalar, 1),
        resource: fc.constant(own.resource),
      }),
    },
  );
}

const uid: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constant(ABSENT) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'ü-ñ', 'x'.repeat(2000), 'a"b\\c</script>', '\u0000', '😀', 'constructor') },
  { weight: 2, arbitrary: fc.oneof(number, fc.boolean(), fc.constant(null), fc.constantFrom<unknown>({}, [], ['uid'], { uid: 'u' })) },
);

const operation = fc.oneof(
  { weight: 10, arbitrary: fc.constant<unknown>('CREATE') },
  { weight: 3, arbitrary: pick<unknown>(['UPDATE', 'DELETE', 'CONNECT']) },
  { weight: 1, arbitrary: fc.oneof(pick<unknown>(['create', '', 'PATCH', 'Create', ABSENT]), scalar) },
);

export interface EnvelopeCase {
  readonly object: ObjectCase;
  readonly gvk: Gvk;
  readonly uid: unknown;
  readonly operation: unknown;
  readonly subResource: unknown;
  readonly namespace: unknown;
  readonly name: unknown;
  readonly dryRun: unknown;
  readonly oldObject: OldObject;
  readonly userInfo: unknown;
  readonly extra: Readonly<Record<string, unknown>>;
  readonly top: { readonly apiVersion: unknown; readonly kind: unknown; readonly request: 'object' | 'null' | 'absent' | 'array' | 'string' };
  readonly edits: readonly Edit[];
  readonly body: 'review' | 'array' | 'string' | 'number' | 'null';
}

/** How the old object relates to the object: absent, null, the same, another one, or garbage. */
type OldObject =
  'absent' | 'null' | 'same' | { readonly other: ObjectCase; readonly value?: never } | { readonly value: unknown; readonly other?: never };

const REVIEW_SPACE: EditSpace = {
  targets: targetPaths([
    'request.uid',
    'request.kind.kind',
    'request.kind.group',
    'request.resource',
    'request.operation',
    'request.subResource',
    'request.namespace',
    'request.object',
    'request.oldObject',
    'request.dryRun',
    'request.options',
    'request.userInfo.username',
    'apiVersion',
    'kind',
    'request',
  ]),
  reads: (p) => !(p[0] === 'request' && (p[1] === 'object' || p[1] === 'oldObject')),
};

export const envelopeCase: fc.Arbitrary<EnvelopeCase> = objectCase.chain((object) =>
  fc.record({
    object: fc.constant(object),
    gvk: kindFor(object),
    uid,
    operation,
    subResource:
      object.type === 'scale'
        ? sometimes(fc.constant('scale'), pick<unknown>([ABSENT, 'status', '']), 10)
        : fc.oneof(
            { weight: 10, arbitrary: fc.constant<unknown>(ABSENT) },
            { weight: 1, arbitrary: pick<unknown>(['status', 'binding', 'exec', 'ephemeralcontainers', 'scale', '', 1, null]) },
          ),
    namespace: fc.oneof(
      { weight: 2, arbitrary: fc.constant<unknown>(ABSENT) },
      { weight: 8, arbitrary: pick<unknown>(NAMESPACES) },
      { weight: 1, arbitrary: fc.oneof(oddKey, scalar) },
    ),
    name: fc.oneof(
      { weight: 4, arbitrary: fc.constant<unknown>(ABSENT) },
      { weight: 4, arbitrary: pick<unknown>(['web-1', 'consumer', '']) },
      { weight: 1, arbitrary: scalar },
    ),
    dryRun: fc.oneof(
      { weight: 4, arbitrary: pick<unknown>([ABSENT, false]) },
      { weight: 2, arbitrary: fc.constant<unknown>(true) },
      { weight: 1, arbitrary: pick<unknown>(['true', 1, null, {}]) },
    ),
    oldObject: fc.oneof(
      { weight: 6, arbitrary: pick<OldObject>(['absent', 'null']) },
      { weight: 2, arbitrary: fc.constant<OldObject>('same') },
      { weight: 2, arbitrary: objectCase.map<OldObject>((other) => ({ other })) },
      { weight: 1, arbitrary: anyValue.map<OldObject>((value) => ({ value })) },
    ),
    userInfo: fc.oneof(
      { weight: 6, arbitrary: pick(FIXTURE_USER_INFOS) },
      { weight: 1, arbitrary: fc.oneof(fc.constant<unknown>(ABSENT), anyValue) },
    ),
    extra: fc.dictionary(pick(['options', 'requestKind', 'requestSubResource', 'x-unknown', 'constructor']), anyValue, {
      maxKeys: 2,
      noNullPrototype: true,
    }),
    top: fc.record({
      apiVersion: sometimes(fc.constant('admission.k8s.io/v1'), fc.oneof(pick<unknown>(['admission.k8s.io/v1beta1', ABSENT, '', 'v1']), scalar), 12),
      kind: sometimes(fc.constant('AdmissionReview'), fc.oneof(pick<unknown>(['AdmissionRequest', ABSENT, '']), scalar), 12),
      request: fc.oneof(
        { weight: 30, arbitrary: fc.constant('object' as const) },
        { weight: 1, arbitrary: pick(['null', 'absent', 'array', 'string'] as const) },
      ),
    }),
    edits: fc.oneof(
      { weight: 30, arbitrary: fc.constant<Edit[]>([]) },
      { weight: 3, arbitrary: edits(REVIEW_SPACE, 2) },
      { weight: 1, arbitrary: protoEdit(REVIEW_SPACE).map((e) => [e]) },
    ),
    body: fc.oneof(
      { weight: 40, arbitrary: fc.constant('review' as const) },
      { weight: 1, arbitrary: pick(['array', 'string', 'number', 'null'] as const) },
    ),
  }),
);

const put = (o: Record<string, unknown>, key: string, v: unknown) => {
  if (v !== ABSENT) o[key] = v;
};

/** The body of a case, as a value (serialise it with `serialize`: it may hold raw tokens). */
export function buildBody(c: EnvelopeCase): unknown {
  const object = buildObject(c.object);
  const request: Record<string, unknown> = {};
  put(request, 'uid', c.uid);
  request['kind'] = { group: c.gvk.group, version: c.gvk.version, kind: c.gvk.kind };
  request['resource'] = { group: c.gvk.resourceGroup ?? c.gvk.group, version: c.gvk.version, resource: c.gvk.resource };
  request['requestKind'] = request['kind'];
  put(request, 'subResource', c.subResource);
  put(request, 'name', c.name);
  put(request, 'namespace', c.namespace);
  put(request, 'operation', c.operation);
  put(request, 'userInfo', c.userInfo);
  request['object'] = object;
  const old = c.oldObject;
  if (old === 'null') request['oldObject'] = null;
  else if (old === 'same') request['oldObject'] = c.object.type === 'scale' ? scaleObject(c.object.oldReplicas) : buildObject(c.object);
  else if (old !== 'absent') request['oldObject'] = old.other !== undefined ? buildObject(old.other) : old.value;
  put(request, 'dryRun', c.dryRun);
  request['options'] = { apiVersion: 'meta.k8s.io/v1', kind: c.operation === 'UPDATE' ? 'UpdateOptions' : 'CreateOptions' };
  for (const [k, v] of Object.entries(c.extra)) request[k] = v;
  const review: Record<string, unknown> = {};
  put(review, 'apiVersion', c.top.apiVersion);
  put(review, 'kind', c.top.kind);
  const r = c.top.request;
  if (r === 'object') review['request'] = request;
  else if (r === 'null') review['request'] = null;
  else if (r === 'array') review['request'] = [request];
  else if (r === 'string') review['request'] = JSON.stringify(request);
  const body = applyEdits(review, c.edits, REVIEW_SPACE);
  switch (c.body) {
    case 'review':
      return body;
    case 'array':
      return [body];
    case 'string':
      return 'AdmissionReview';
    case 'number':
      return 1;
    case 'null':
      return null;
  }
}

/** How the body travels: its content type, and text-level damage (the JSON cut short, garbage, a BOM). */
export interface TransportCase {
  readonly contentType: string | typeof ABSENT;
  readonly damage:
    | { readonly cut: number }
    | { readonly insert: number; readonly text: string }
    | 'bom'
    | 'padding'
    | 'duplicate-uid'
    | 'constructor-prototype'
    | 'none';
}

export const transportCase: fc.Arbitrary<TransportCase> = fc.record({
  contentType: fc.oneof(
    { weight: 30, arbitrary: fc.constant('application/json') },
    { weight: 2, arbitrary: pick(['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-8']) },
    {
      weight: 1,
      arbitrary: pick<string | typeof ABSENT>([
        'text/plain',
        'application/yaml',
        'application/x-www-form-urlencoded',
        '',
        ABSENT,
        'application/jsonp',
      ]),
    },
  ),
  damage: fc.oneof(
    { weight: 40, arbitrary: fc.constant('none' as const) },
    { weight: 1, arbitrary: fc.record({ cut: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ insert: fc.nat(), text: pick(['}', '{', ',', '"', '\\', 'x', '\u0000', ']', ':1', 'NaN', '\n']) }) },
    { weight: 1, arbitrary: pick(['bom', 'padding', 'duplicate-uid', 'constructor-prototype'] as const) },
  ),
});

/** The payload text of a body sent as `t` says. */
export function payloadOf(body: unknown, t: TransportCase): string {
  const text = serialize(body);
  const d = t.damage;
  if (d === 'none') return text;
  if (d === 'bom') return `\uFEFF${text}`;
  if (d === 'padding') return ` \n\t${text}\n `;
  if (d === 'duplicate-uid') return text.replace(/"request":\{/, '"request":{"uid":"first",');
  if (d === 'constructor-prototype') return text.replace(/^\{/, '{"constructor":{"prototype":{"polluted":true}},');
  if ('cut' in d) return text.slice(0, d.cut % Math.max(1, text.length));
  const at = d.insert % (text.length + 1);
  return text.slice(0, at) + d.text + text.slice(at);
}
