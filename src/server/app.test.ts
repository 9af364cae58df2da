import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AdmissionContext } from '../admission/context.js';
import { decodePatch } from '../admission/response.js';
import type { AdmissionReviewResponse } from '../admission/types.js';
import { StaticCluster } from '../cluster/static.js';
import { handleMutate } from '../admission/mutate.js';
import { NodeIndex } from '../scheduling/node-index.js';
import { makeNode } from '../../test/support/builders.js';
import { loadRules, type RuleSet } from '../rules/compile.js';
import { BODY_LIMIT, buildApp } from './app.js';
import { generateCertificate } from './tls.js';

const RULES = loadRules(
  `
apiVersion: placement-webhook/v1
kind: PlacementRules
rules:
  - name: spot-consumers
    match:
      podSelector: {matchLabels: {app: stream-consumer}}
    inject:
      nodeSelector: {node.kubernetes.io/lifecycle: spot}
`,
  'app.test.ts',
);

const logger = pino({ level: 'silent' });
const UID = '705ab4f5-6393-11e8-b7cc-42010a800002';

/** A pod CREATE review as the API server sends it; `request` fields can be replaced. */
function podReview(request: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: UID,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'streaming',
      operation: 'CREATE',
      userInfo: { username: 'kubernetes-admin' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'consumer-0', namespace: 'streaming', labels: { app: 'stream-consumer' } },
        spec: { containers: [{ name: 'consumer', image: 'consumer:1' }] },
      },
      ...request,
    },
  };
}

const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

interface StatusBody {
  kind: string;
  code: number;
  reason: string;
  message: string;
}

describe('POST /mutate transport', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = buildApp({ ctx: new StaticCluster(RULES), logger });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  /** After every bad request, a good one still gets its patch: one bad client cannot wedge the server. */
  afterEach(async () => {
    const res = await app.inject({ method: 'POST', url: '/mutate', ...json(podReview()) });
    expect(res.statusCode).toBe(200);
    const body = res.json<AdmissionReviewResponse>();
    expect(body.response.uid).toBe(UID);
    expect(decodePatch(body.response)).toEqual([
      { op: 'add', path: '/spec/nodeSelector', value: { 'node.kubernetes.io/lifecycle': 'spot' } },
      { op: 'add', path: '/metadata/annotations', value: { 'placement-webhook/applied-rules': 'spot-consumers' } },
    ]);
  });

  it('answers a well-formed review with its uid and a JSON patch', async () => {
    const res = await app.inject({ method: 'POST', url: '/mutate', ...json(podReview()) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: UID, allowed: true, patchType: 'JSONPatch' },
    });
  });

  it('accepts application/json with a charset parameter', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/mutate',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify(podReview()),
    });
    expect(res.statusCode).toBe(200);
  });

  it.each<{ name: string; headers: Record<string, string>; payload: string | undefined; message: RegExp }>([
    {
      name: 'malformed JSON',
      headers: { 'content-type': 'application/json' },
      payload: '{"apiVersion": "admission.k8s.io/v1", "kind": ',
      message: /^invalid JSON: /,
    },
    {
      name: 'a text/plain body',
      headers: { 'content-type': 'text/plain' },
      payload: JSON.stringify(podReview()),
      message: /unsupported content type "text\/plain"; expected application\/json/,
    },
    {
      name: 'a body without a content type',
      headers: {},
      payload: JSON.stringify(podReview()),
      message: /content type/,
    },
    {
      name: 'an empty JSON body',
      headers: { 'content-type': 'application/json' },
      payload: '',
      message: /empty/i,
    },
    {
      name: 'no body at all',
      headers: {},
      payload: undefined,
      message: /the body must be a JSON object/,
    },
    {
      name: 'a JSON array',
      headers: { 'content-type': 'application/json' },
      payload: '[]',
      message: /the body must be a JSON object/,
    },
    {
      name: 'JSON null',
      headers: { 'content-type': 'application/json' },
      payload: 'null',
      message: /the body must be a JSON object/,
    },
    {
      name: 'a body with a __proto__ key',
      headers: { 'content-type': 'application/json' },
      payload: '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","__proto__":{"allowed":true},"request":{}}',
      message: /"__proto__" or "constructor.prototype" key is not allowed/,
    },
    {
      name: 'a body with a constructor.prototype key',
      headers: { 'content-type': 'application/json' },
      payload: '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","constructor":{"prototype":{"allowed":true}}}',
      message: /"__proto__" or "constructor.prototype" key is not allowed/,
    },
  ])('refuses $name with 400 and a reason', async ({ headers, payload, message }) => {
    const res = await app.inject({ method: 'POST', url: '/mutate', headers, ...(payload === undefined ? {} : { payload }) });
    expect(res.statusCode).toBe(400);
    const body = res.json<StatusBody>();
    expect(body).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest' });
    expect(body.message).toMatch(message);
  });

  it.each<{ name: string; body: unknown; paths: string[] }>([
    { name: 'no request', body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, paths: ['request: required value'] },
    {
      name: 'the v1beta1 API version',
      body: { ...podReview(), apiVersion: 'admission.k8s.io/v1beta1' },
      paths: ['apiVersion: unsupported value "admission.k8s.io/v1beta1"; supported values: "admission.k8s.io/v1"'],
    },
    {
      name: 'another kind',
      body: { ...podReview(), kind: 'Pod' },
      paths: ['kind: unsupported value "Pod"; supported values: "AdmissionReview"'],
    },
    {
      name: 'no uid',
      body: (() => {
        const review = podReview() as { request: Record<string, unknown> };
        delete review.request['uid'];
        return review;
      })(),
      paths: ['request.uid: required value'],
    },
    { name: 'an empty uid', body: podReview({ uid: '' }), paths: ['request.uid:'] },
    {
      name: 'an unknown operation and no kind',
      body: podReview({ operation: 'PATCH', kind: undefined }),
      paths: ['request.kind: required value', 'request.operation: unsupported value "PATCH"'],
    },
  ])('refuses a review with $name with 400 listing field paths', async ({ body, paths }) => {
    const res = await app.inject({ method: 'POST', url: '/mutate', ...json(body) });
    expect(res.statusCode).toBe(400);
    const sentUid = (body as { request?: { uid?: unknown } }).request?.uid;
    let message: string;
    if (typeof sentUid === 'string') {
      // A uid was sent: the answer is an AdmissionReview echoing it.
      const answer = res.json<AdmissionReviewResponse>();
      expect(answer.response).toMatchObject({ uid: sentUid, allowed: false, status: { code: 400 } });
      message = answer.response.status?.message ?? '';
    } else {
      const status = res.json<StatusBody>();
      expect(status).toMatchObject({ kind: 'Status', code: 400, reason: 'BadRequest' });
      message = status.message;
    }
    expect(message).toMatch(/^not an AdmissionReview v1 request: /);
    for (const p of paths) expect(message).toContain(p);
  });

  describe('objects placement cannot read are answered 400 with the field path, never a 500 or a nonsense patch', () => {
    const withSpec = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) =>
      podReview({
        object: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'p', namespace: 'streaming', labels: { app: 'stream-consumer' }, ...metadata },
          spec: { containers: [{ name: 'c', image: 'i' }], ...spec },
        },
      });
    it.each<{ name: string; body: Record<string, unknown>; path: string }>([
      {
        name: 'tolerations: [null]',
        body: withSpec({ tolerations: [null] }),
        path: 'request.object.spec.tolerations[0]: must be an object, got null',
      },
      { name: 'tolerations as an object', body: withSpec({ tolerations: { key: 'spot' } }), path: 'request.object.spec.tolerations: must be a list' },
      { name: 'tolerations as a string', body: withSpec({ tolerations: 'spot' }), path: 'request.object.spec.tolerations: must be a list' },
      {
        name: 'nodeSelector as a string',
        body: withSpec({ nodeSelector: 'lifecycle=Ec2Spot' }),
        path: 'request.object.spec.nodeSelector: must be an object',
      },
      {
        name: 'ownerReferences as a string',
        body: withSpec({}, { ownerReferences: 'ds' }),
        path: 'request.object.metadata.ownerReferences: must be a list',
      },
      {
        name: 'ownerReferences: [null]',
        body: withSpec({}, { ownerReferences: [null] }),
        path: 'request.object.metadata.ownerReferences[0]: must be an object',
      },
      {
        name: 'the applied-rules annotation as a number',
        body: withSpec({}, { annotations: { 'placement-webhook/applied-rules': 7 } }),
        path: 'request.object.metadata.annotations["placement-webhook/applied-rules"]: must be a string',
      },
      {
        name: 'spec as a string',
        body: podReview({ object: { metadata: { name: 'p' }, spec: 'x' } }),
        path: 'request.object.spec: must be an object',
      },
      { name: 'affinity as a string', body: withSpec({ affinity: 'x' }), path: 'request.object.spec.affinity: must be an object' },
      {
        name: 'podAntiAffinity as a string',
        body: withSpec({ affinity: { podAntiAffinity: 'x' } }),
        path: 'request.object.spec.affinity.podAntiAffinity: must be an object',
      },
      {
        name: 'nodeSelectorTerms as a string',
        body: withSpec({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: 'x' } } } }),
        path: 'request.object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: must be a list',
      },
      {
        name: 'values as a string',
        body: withSpec({
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'In', values: 'b' }] }],
              },
            },
          },
        }),
        path: 'nodeSelectorTerms[0].matchExpressions[0].values: must be a list',
      },
      {
        name: '[null] in matchExpressions',
        body: withSpec({
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [null] }] } } },
        }),
        path: 'nodeSelectorTerms[0].matchExpressions[0]: must be an object',
      },
      { name: 'containers: [null]', body: withSpec({ containers: [null] }), path: 'request.object.spec.containers[0]: must be an object' },
      {
        name: 'initContainers: [null]',
        body: withSpec({ initContainers: [null] }),
        path: 'request.object.spec.initContainers[0]: must be an object',
      },
    ])('$name', async ({ body, path }) => {
      for (const url of ['/mutate', '/validate']) {
        const res = await app.inject({ method: 'POST', url, ...json(body) });
        expect(res.statusCode).toBe(400);
        const answer = res.json<AdmissionReviewResponse>();
        expect(answer).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: UID, allowed: false } });
        expect(answer.response.status?.message).toContain(path);
        expect(answer.response.patch).toBeUndefined();
      }
    });

    it('objects nested 5,000 levels deep are refused (JSON.stringify could not even write them back)', async () => {
      const payload = JSON.stringify(withSpec({ deep: 'DEEP' })).replace('"DEEP"', `${'{"a":'.repeat(5000)}{}${'}'.repeat(5000)}`);
      for (const url of ['/mutate', '/validate']) {
        const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
        expect(res.statusCode).toBe(400);
        expect(res.json<AdmissionReviewResponse>().response.status?.message).toMatch(
          /request\.object\.spec\.deep(\.a)+: nested more than 100 levels deep/,
        );
      }
    });

    it('a quantity written as a JSON number too large for a double (1e400) is refused, not turned into null', async () => {
      const payload = JSON.stringify(withSpec({ containers: [{ name: 'c', resources: { requests: { cpu: 12345 } } }] })).replace('12345', '1e400');
      for (const url of ['/mutate', '/validate']) {
        const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
        expect(res.statusCode).toBe(400);
        expect(res.json<AdmissionReviewResponse>().response.status?.message).toContain(
          'request.object.spec.containers[0].resources.requests.cpu: must be a finite number',
        );
      }
    });

    it('a workload template and a rules ConfigMap are checked the same way', async () => {
      const deployment = podReview({
        kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
        resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        object: { metadata: { name: 'd' }, spec: { replicas: 'two', template: { spec: { tolerations: [null] } } } },
      });
      const res = await app.inject({ method: 'POST', url: '/validate', ...json(deployment) });
      expect(res.statusCode).toBe(400);
      const message = res.json<AdmissionReviewResponse>().response.status?.message;
      expect(message).toContain('request.object.spec.replicas: must be an integer');
      expect(message).toContain('request.object.spec.template.spec.tolerations[0]: must be an object, got null');
      const configMap = podReview({
        kind: { group: '', version: 'v1', kind: 'ConfigMap' },
        resource: { group: '', version: 'v1', resource: 'configmaps' },
        object: { metadata: { name: 'r', labels: { 'placement-webhook/rules': 'true' } }, data: 5 },
      });
      const cm = await app.inject({ method: 'POST', url: '/validate', ...json(configMap) });
      expect(cm.statusCode).toBe(400);
      expect(cm.json<AdmissionReviewResponse>().response.status?.message).toContain('request.object.data: must be an object');
    });

    it('null where a field may be absent is read as absent', async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/mutate',
        ...json(withSpec({ tolerations: null, nodeSelector: null, affinity: null }, { annotations: null })),
      });
      expect(res.statusCode).toBe(200);
      expect(res.json<AdmissionReviewResponse>().response.allowed).toBe(true);
    });
  });

  it('refuses a body over 7 MiB with 413', async () => {
    const padding = 'x'.repeat(BODY_LIMIT);
    const res = await app.inject({ method: 'POST', url: '/mutate', ...json({ ...podReview(), padding }) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({
      kind: 'Status',
      code: 413,
      reason: 'RequestEntityTooLarge',
      message: `request body is larger than ${BODY_LIMIT} bytes`,
    });
  });

  it('accepts a review just under the limit', async () => {
    const base = JSON.stringify({ ...podReview(), padding: '' });
    const padding = 'x'.repeat(BODY_LIMIT - Buffer.byteLength(base));
    const res = await app.inject({ method: 'POST', url: '/mutate', ...json({ ...podReview(), padding }) });
    expect(res.statusCode).toBe(200);
  });

  it('answers unknown routes with 404 (GET /mutate is 405: see "wrong methods")', async () => {
    for (const [method, url] of [
      ['POST', '/validate-typo'],
      ['GET', '/'],
    ] as const) {
      const res = await app.inject({ method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json()).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound', message: `no route ${method} ${url}` });
    }
  });
});

describe('a handler that throws', () => {
  it('answers 500 with an AdmissionReview carrying the uid, and the next request succeeds', async () => {
    let calls = 0;
    const cluster = new StaticCluster(RULES);
    const ctx: AdmissionContext = {
      rules(): RuleSet {
        calls++;
        if (calls === 1) throw new Error('rule set unavailable');
        return cluster.rules();
      },
      namespaceLabels: (name) => cluster.namespaceLabels(name),
      nodes: () => cluster.nodes(),
    };
    const app = buildApp({ ctx, logger });
    try {
      const failed = await app.inject({ method: 'POST', url: '/mutate', ...json(podReview()) });
      expect(failed.statusCode).toBe(500);
      expect(failed.json()).toEqual({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: UID, allowed: false, status: { code: 500, message: 'internal error: rule set unavailable' } },
      });

      const next = await app.inject({ method: 'POST', url: '/mutate', ...json(podReview({ uid: 'second' })) });
      expect(next.statusCode).toBe(200);
      expect(next.json<AdmissionReviewResponse>().response).toMatchObject({ uid: 'second', allowed: true, patchType: 'JSONPatch' });
    } finally {
      await app.close();
    }
  });
});

describe('wrong methods', () => {
  it.each([
    { method: 'GET' as const, url: '/mutate', allow: 'POST' },
    { method: 'PUT' as const, url: '/validate', allow: 'POST' },
    { method: 'POST' as const, url: '/healthz', allow: 'GET, HEAD' },
    { method: 'DELETE' as const, url: '/readyz?verbose', allow: 'GET, HEAD' },
  ])('$method $url is 405 with Allow: $allow', async ({ method, url, allow }) => {
    const app = buildApp({ ctx: new StaticCluster(RULES), logger });
    const res = await app.inject({ method, url });
    expect(res.statusCode).toBe(405);
    expect(res.headers['allow']).toBe(allow);
    expect(res.json()).toMatchObject({ kind: 'Status', code: 405, reason: 'MethodNotAllowed' });
    await app.close();
  });

  it('a rules ConfigMap under /validate is answered from the rules checker, which sees its document; nothing else goes there', async () => {
    const seen: string[] = [];
    const rulesChecker = {
      check: async (text: string) => {
        seen.push(text);
        return { ok: false as const, errors: [{ type: 'Invalid' as const, path: 'rules[0].name', detail: 'checked elsewhere' }], warnings: [] };
      },
    };
    const app = buildApp({ ctx: new StaticCluster(RULES), logger, rulesChecker });
    try {
      const configMap = (labels: Record<string, string>) =>
        podReview({
          kind: { group: '', version: 'v1', kind: 'ConfigMap' },
          resource: { group: '', version: 'v1', resource: 'configmaps' },
          object: { metadata: { name: 'r', labels }, data: { 'rules.yaml': 'rules: []' } },
        });
      const res = await app.inject({ method: 'POST', url: '/validate', ...json(configMap({ 'placement-webhook/rules': 'true' })) });
      expect(res.json<AdmissionReviewResponse>().response).toMatchObject({ allowed: false, status: { code: 422 } });
      expect(res.json<AdmissionReviewResponse>().response.status?.message).toContain('checked elsewhere');
      expect(seen).toEqual(['rules: []']);
      const other = await app.inject({ method: 'POST', url: '/validate', ...json(configMap({ app: 'x' })) });
      expect(other.json<AdmissionReviewResponse>().response.allowed).toBe(true);
      await app.inject({ method: 'POST', url: '/validate', ...json(podReview()) });
      await app.inject({ method: 'POST', url: '/mutate', ...json(configMap({ 'placement-webhook/rules': 'true' })) });
      expect(seen).toEqual(['rules: []']);
    } finally {
      await app.close();
    }
  });

  it('an unknown path is still 404', async () => {
    const app = buildApp({ ctx: new StaticCluster(RULES), logger });
    expect((await app.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(404);
    await app.close();
  });
});

describe('health', () => {
  it('/healthz is 200 and /readyz 200 when ready', async () => {
    const app = buildApp({ ctx: new StaticCluster(RULES), logger, notReady: () => undefined });
    try {
      const health = await app.inject({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(200);
      expect(health.json()).toEqual({ status: 'ok' });
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ status: 'ready' });
    } finally {
      await app.close();
    }
  });

  it('/readyz is 200 without a readiness check', async () => {
    const app = buildApp({ ctx: new StaticCluster(RULES), logger });
    try {
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('/readyz is 503 with the reason while not ready, and /healthz stays 200', async () => {
    let why: string | undefined = 'node informer has not synced';
    const app = buildApp({ ctx: new StaticCluster(RULES), logger, notReady: () => why });
    try {
      const notReady = await app.inject({ method: 'GET', url: '/readyz' });
      expect(notReady.statusCode).toBe(503);
      expect(notReady.json()).toEqual({ status: 'not ready', reason: 'node informer has not synced' });
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      why = undefined;
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('over TLS', () => {
  let app: FastifyInstance;
  let cert: string;
  let port: number;

  beforeAll(async () => {
    const pair = await generateCertificate({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'], days: 1 });
    cert = pair.cert;
    app = buildApp({ ctx: new StaticCluster(RULES), logger, https: { key: pair.key, cert: pair.cert, minVersion: 'TLSv1.2' } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await app.close();
  });

  function post(body: string, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): Promise<{ status: number; body: string; protocol: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/mutate',
          ca: cert,
          maxVersion,
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              protocol: (res.socket as TLSSocket).getProtocol() ?? '',
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('answers a review over HTTPS, verified against the certificate', async () => {
    const res = await post(JSON.stringify(podReview()));
    expect(res.status).toBe(200);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(res.protocol);
    const body = JSON.parse(res.body) as AdmissionReviewResponse;
    expect(body.response).toMatchObject({ uid: UID, allowed: true, patchType: 'JSONPatch' });
  });

  it('accepts a TLS 1.2 client', async () => {
    const res = await post(JSON.stringify(podReview()), 'TLSv1.2');
    expect(res.status).toBe(200);
    expect(res.protocol).toBe('TLSv1.2');
  });

  it('refuses a TLS 1.1 client', async () => {
    const error = await new Promise<Error & { code?: string }>((resolve, reject) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port,
        ca: cert,
        servername: 'localhost',
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        // Let the client offer TLS 1.1 at all (OpenSSL 3 disables it at the default security level), so that the
        // refusal can only come from the server.
        ciphers: 'DEFAULT:@SECLEVEL=0',
      });
      socket.once('secureConnect', () => {
        socket.destroy();
        reject(new Error(`a TLS 1.1 handshake succeeded (${socket.getProtocol() ?? 'unknown protocol'})`));
      });
      socket.once('error', resolve);
    });
    // The server's protocol_version alert, as the client reports it.
    expect(error.code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('still serves after the refused handshake', async () => {
    expect((await post(JSON.stringify(podReview()))).status).toBe(200);
  });

  it('answers 413 to a client that sends an oversized body whole, every time (no closed connection under it)', async () => {
    const body = JSON.stringify({ ...podReview(), padding: 'x'.repeat(BODY_LIMIT + 1024 * 1024) });
    for (let i = 0; i < 5; i++) {
      const res = await post(body);
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({ code: 413, reason: 'RequestEntityTooLarge' });
    }
  });
});

describe('a namespace missing from the cache', () => {
  it('is looked up before the review is decided, so that namespaceSelector rules see its labels', async () => {
    const rules = loadRules(
      `
apiVersion: placement-webhook/v1
kind: PlacementRules
rules:
  - name: team-data
    match:
      namespaceSelector: {matchLabels: {team: data}}
    inject:
      nodeSelector: {pool: data}
`,
      'app.test.ts',
    );
    const known = new Map<string, Record<string, string>>();
    const looked: string[] = [];
    const cluster = new StaticCluster(rules);
    const ctx: AdmissionContext = {
      rules: () => rules,
      namespaceLabels: (name) => known.get(name),
      nodes: () => cluster.nodes(),
      ensureNamespace: async (name) => {
        looked.push(name);
        known.set(name, { team: 'data' });
      },
    };
    const app = buildApp({ ctx, logger });
    try {
      const first = await app.inject({ method: 'POST', url: '/mutate', ...json(podReview()) });
      expect(decodePatch(first.json<AdmissionReviewResponse>().response)).toContainEqual({
        op: 'add',
        path: '/spec/nodeSelector',
        value: { pool: 'data' },
      });
      await app.inject({ method: 'POST', url: '/mutate', ...json(podReview()) });
      expect(looked).toEqual(['streaming']); // the second review finds it in the cache
    } finally {
      await app.close();
    }
  });
});

describe('the review log', () => {
  it('is one JSON line per review with uid, kind, namespace, name, operation and decision, and never the pod', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
    const capture = pino({ level: 'info', redact: { paths: ['*.env'], censor: '[redacted]' } }, sink);
    const app = buildApp({ ctx: new StaticCluster(RULES), logger: capture });
    try {
      const secretPod = podReview();
      ((secretPod['request'] as { object: { spec: { containers: { env?: unknown }[] } } }).object.spec.containers[0] as { env?: unknown }).env = [
        { name: 'TOKEN', value: 's3cr3t' },
      ];
      await app.inject({ method: 'POST', url: '/mutate', ...json(secretPod) });
      const reviews = lines.filter((l) => l['msg'] === 'review');
      expect(reviews).toHaveLength(1);
      expect(reviews[0]).toMatchObject({
        uid: UID,
        kind: 'Pod',
        namespace: 'streaming',
        name: 'consumer-0',
        operation: 'CREATE',
        decision: 'patched',
      });
      expect(JSON.stringify(lines)).not.toContain('s3cr3t');
      // Other lines keep the logger's redaction.
      app.log.info({ container: { env: 'x' } }, 'other');
      expect(lines.find((l) => l['msg'] === 'other')).toMatchObject({ container: { env: '[redacted]' } });
    } finally {
      await app.close();
    }
  });
});

describe('a review that differs from an earlier one only in its uid', () => {
  it('gets the earlier answer with its own uid while the rules, the namespace and the nodes are unchanged', async () => {
    const teamRules = loadRules(
      `
apiVersion: placement-webhook/v1
kind: PlacementRules
rules:
  - name: team-data
    match:
      namespaceSelector: {matchLabels: {team: data}}
    inject:
      nodeSelector: {pool: data}
`,
      'app.test.ts',
    );
    let rules = teamRules;
    const labels = new Map<string, Record<string, string>>([['streaming', { team: 'data' }]]);
    const index = new NodeIndex([makeNode('n1').label('pool', 'other').obj()]);
    let incomplete: string | undefined;
    const ctx: AdmissionContext = { rules: () => rules, namespaceLabels: (n) => labels.get(n), nodes: () => ({ index, incomplete }) };
    const lines: Record<string, unknown>[] = [];
    const sink = { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) };
    const app = buildApp({ ctx, logger: pino({ level: 'info' }, sink) });
    let n = 0;
    /** One review with a new uid: its answer must be the one computed afresh. */
    const send = async () => {
      const uid = `uid-${++n}`;
      const review = podReview({ uid });
      const res = await app.inject({ method: 'POST', url: '/mutate', ...json(review) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      const fresh = handleMutate(review['request'] as Parameters<typeof handleMutate>[0], ctx).response;
      expect(res.json<AdmissionReviewResponse>().response).toEqual(fresh);
      return { response: res.json<AdmissionReviewResponse>().response, reused: lines.at(-1)?.['reused'] === true };
    };
    try {
      const first = await send();
      expect(first.reused).toBe(false);
      expect(first.response.warnings?.[0]).toMatch(/^rule team-data: no node matches/);
      const again = await send();
      expect(again).toEqual({ response: { ...first.response, uid: 'uid-2' }, reused: true });

      const changes: [string, () => void][] = [
        ['the node list no longer trusted', () => (incomplete = 'the node cache has been disconnected for 60s')],
        ['the node list trusted again', () => (incomplete = undefined)],
        ['a node that has the label', () => index.upsert(makeNode('n2').label('pool', 'data').obj())],
        ['the namespace relabelled', () => labels.set('streaming', { team: 'web' })],
        ['another rule set', () => (rules = RULES)],
      ];
      for (const [what, change] of changes) {
        const before = await send();
        change();
        const after = await send();
        expect({ what, reused: after.reused }).toEqual({ what, reused: false });
        expect({ what, same: JSON.stringify({ ...after.response, uid: '' }) === JSON.stringify({ ...before.response, uid: '' }) }).toEqual({
          what,
          same: false,
        });
        expect((await send()).reused).toBe(true);
      }
    } finally {
      await app.close();
    }
  });

  it('is decoded again only when it differs elsewhere: a malformed body is never remembered', async () => {
    const app = buildApp({ ctx: new StaticCluster(RULES), logger });
    try {
      const bad = podReview({ operation: 'EXPLODE' });
      for (const uid of ['a', 'b']) {
        const res = await app.inject({ method: 'POST', url: '/mutate', ...json({ ...bad, request: { ...(bad['request'] as object), uid } }) });
        expect(res.statusCode).toBe(400);
      }
    } finally {
      await app.close();
    }
  });
});
