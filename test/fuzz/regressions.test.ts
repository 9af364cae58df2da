/**
 * The smallest inputs the fuzz suite found that broke an invariant, one row each, named after what must hold: they
 * stay as regression cases once fixed.
 */
import type { FastifyInstance } from 'fastify';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePatch } from '../../src/admission/response.js';
import type { AdmissionResponse } from '../../src/admission/types.js';
import { StaticCluster } from '../../src/cluster/static.js';
import { compileRules, parseRules } from '../../src/rules/compile.js';
import { buildApp } from '../../src/server/app.js';
import { makePod } from '../support/builders.js';
import { checkExchange } from './invariants.js';

const HEADER = 'apiVersion: placement-webhook/v1\nkind: PlacementRules\n';

const apps: FastifyInstance[] = [];

/** An app on `rulesText` (the fixture rules when omitted) with no nodes, ready. */
async function appOn(rulesText = `${HEADER}rules: []\n`): Promise<FastifyInstance> {
  const parsed = parseRules(rulesText);
  if (!parsed.ok) throw new Error(`invalid rules in a regression case: ${JSON.stringify(parsed.errors)}`);
  const app = buildApp({ ctx: new StaticCluster(parsed.ruleSet, []), logger: pino({ level: 'silent' }) });
  await app.ready();
  apps.push(app);
  return app;
}

let plain: FastifyInstance;

beforeAll(async () => {
  plain = await appOn();
});

afterAll(async () => {
  for (const app of apps) await app.close();
});

async function post(app: FastifyInstance, url: '/mutate' | '/validate', body: unknown) {
  const payload = JSON.stringify(body);
  const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
  return { endpoint: url, payload, contentType: 'application/json', status: res.statusCode, body: res.body };
}

const request = (over: Record<string, unknown>) => ({
  uid: 'u-1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  operation: 'CREATE',
  ...over,
});

const review = (req: Record<string, unknown>, top: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: req,
  ...top,
});

/** A rules ConfigMap holding `text`, in a CREATE review. */
const rulesConfigMap = (text: string) =>
  review(
    request({
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      namespace: 'placement-webhook',
      object: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'placement-rules', labels: { 'placement-webhook/rules': 'true' } },
        data: { 'rules.yaml': text },
      },
    }),
  );

/** parseRules returns errors (with string paths) for `text`, and does not throw. */
function expectInvalid(text: string) {
  const result = parseRules(text);
  expect(result.ok).toBe(false);
  if (!result.ok) for (const e of result.errors) expect(typeof e.path).toBe('string');
}

const TOSTRING_OPERATOR = `${HEADER}rules:\n  - name: a\n    inject:\n      tolerations: [{operator: {toString: x}}]\n`;
const NAMESPACES_NOT_A_LIST = `${HEADER}rules:\n  - name: a\n    inject:\n      affinity:\n        podAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            - {topologyKey: kubernetes.io/hostname, namespaces: default}\n`;
const REJECT_THEN_OVERRIDE = `${HEADER}rules:
  - name: spot
    inject:
      volumes: [{name: payments-ca, configMap: {name: payments-ca-bundle}}]
    onConflict: reject
  - name: batch-spot
    inject:
      volumes: [{name: payments-ca, emptyDir: {}}]
    onConflict: override
`;

interface Case {
  readonly name: string;
  readonly run: () => Promise<void> | void;
}

const CASES: readonly Case[] = [
  {
    name: 'a review whose apiVersion is an object with a toString key is a 400 that echoes the uid, not a 500',
    run: async () => {
      const x = await post(plain, '/mutate', review(request({}), { apiVersion: { toString: 1 } }));
      checkExchange(x);
      expect(x.status).toBe(400);
    },
  },
  {
    name: 'a review whose operation is an object with a toString key is a 400 that echoes the uid, not a 500',
    run: async () => {
      const x = await post(plain, '/validate', review(request({ operation: { toString: 'x' } })));
      checkExchange(x);
      expect(x.status).toBe(400);
    },
  },
  {
    name: 'parseRules reports an operator that is an object with a toString key as an error, without throwing',
    run: () => expectInvalid(TOSTRING_OPERATOR),
  },
  {
    name: 'a rules ConfigMap whose document has an object with a toString key for an enum is denied with 422, not a 500',
    run: async () => {
      const x = await post(plain, '/validate', rulesConfigMap(TOSTRING_OPERATOR));
      checkExchange(x);
      expect((JSON.parse(x.body) as { response: AdmissionResponse }).response.status?.code).toBe(422);
    },
  },
  {
    name: 'parseRules reports pod affinity term namespaces written as a scalar as an error, without throwing',
    run: () => expectInvalid(NAMESPACES_NOT_A_LIST),
  },
  {
    name: 'a rules ConfigMap whose pod affinity term namespaces is a scalar is denied with 422, not a 500',
    run: async () => {
      const x = await post(plain, '/validate', rulesConfigMap(NAMESPACES_NOT_A_LIST));
      checkExchange(x);
      expect((JSON.parse(x.body) as { response: AdmissionResponse }).response.status?.code).toBe(422);
    },
  },
  {
    // Its soundness check was once quadratic in the errors (seconds here); `bench/` measures lint's time.
    name: 'a document of 600 rules, each with an unknown field and a toleration with one, is reported with all 1,200 errors',
    run: () => {
      const doc = {
        apiVersion: 'placement-webhook/v1',
        kind: 'PlacementRules',
        rules: Array.from({ length: 600 }, (_, i) => ({
          name: `r${i}`,
          typo: 1,
          inject: { tolerations: [{ key: 'spot', operator: 'Exists', bogus: 1 }] },
        })),
      };
      const result = compileRules(doc);
      expect(result.ok ? 0 : result.errors.length).toBe(1200);
    },
  },
  {
    name: 'a later override of a volume an earlier reject rule injected is refused by lint, or the re-invocation admits the pod unchanged',
    run: async () => {
      if (!parseRules(REJECT_THEN_OVERRIDE).ok) return;
      const app = await appOn(REJECT_THEN_OVERRIDE);
      const pod = makePod('p').obj();
      const first = await post(app, '/mutate', review(request({ namespace: 'default', object: pod })));
      checkExchange(first);
      const response = (JSON.parse(first.body) as { response: AdmissionResponse }).response;
      expect(response.allowed).toBe(true);
      const ops: Operation[] = decodePatch(response) ?? [];
      const patched: unknown = fastJsonPatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
      const second = await post(app, '/mutate', review(request({ uid: 'u-2', namespace: 'default', object: patched })));
      checkExchange(second);
      const again = (JSON.parse(second.body) as { response: AdmissionResponse }).response;
      expect(again.allowed).toBe(true);
      expect(again.patch).toBeUndefined();
    },
  },
];

describe('fuzz regressions', () => {
  for (const c of CASES) it(c.name, c.run);
});
