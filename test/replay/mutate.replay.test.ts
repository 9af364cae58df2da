/**
 * Golden replay of the mutating webhook: every AdmissionReview under `test/fixtures/admission/mutate/` goes through
 * the fastify app exactly as the API server would send it, and the response must equal `<name>.golden.json`
 * (rewritten with `UPDATE_GOLDEN=1`). On top of the golden comparison, each response must keep the AdmissionReview
 * contract, and applying its patch then sending the result again must give no patch (reinvocation is safe).
 */
import type { FastifyInstance } from 'fastify';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodePatch } from '../../src/admission/response.js';
import type { AdmissionReviewRequest, AdmissionReviewResponse } from '../../src/admission/types.js';
import { replay } from '../../src/cli/replay.js';
import { buildApp } from '../../src/server/app.js';
import { CLUSTER_FILES, expectGolden, listReviews, loadFixtureCluster, loadReview, reviewFile } from '../support/fixtures.js';

const fixtures = listReviews('mutate');

let app: FastifyInstance;

beforeAll(async () => {
  app = buildApp({ ctx: loadFixtureCluster(), logger: pino({ level: 'silent' }) });
  await app.ready();
});

afterAll(async () => {
  await app.close();
});

async function post(body: AdmissionReviewRequest): Promise<{ status: number; body: AdmissionReviewResponse }> {
  const res = await app.inject({
    method: 'POST',
    url: '/mutate',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  return { status: res.statusCode, body: res.json<AdmissionReviewResponse>() };
}

/** The request with its object replaced by `object` (a second pass of the API server over the patched pod). */
function resubmit(review: AdmissionReviewRequest, object: unknown): AdmissionReviewRequest {
  return { ...review, request: { ...review.request, uid: `${review.request.uid}-again`, object } };
}

describe('mutate replay', () => {
  it('has the fixtures the suite is meant to cover', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(22);
  });

  it('gives a dryRun request the same decision and patch as the real one', async () => {
    const real = await post(loadReview('create-pod-spot-consumer'));
    const dry = await post(loadReview('create-pod-dryrun'));
    expect(dry.body.response.allowed).toBe(real.body.response.allowed);
    expect(decodePatch(dry.body.response)).toEqual(decodePatch(real.body.response));
  });

  describe.each(fixtures)('%s', (name) => {
    it('answers as the golden file says', async () => {
      const { status, body } = await post(loadReview(name));
      expectGolden(name, { status, response: body, patch: decodePatch(body.response) ?? null });
    });

    it('keeps the AdmissionReview response contract', async () => {
      const review = loadReview(name);
      const { status, body } = await post(review);
      expect(status).toBe(200);
      expect(body.apiVersion).toBe('admission.k8s.io/v1');
      expect(body.kind).toBe('AdmissionReview');
      expect(body.response.uid).toBe(review.request.uid);
      expect('patchType' in body.response).toBe('patch' in body.response);
      if (body.response.patch !== undefined) {
        expect(body.response.patchType).toBe('JSONPatch');
        expect(body.response.allowed).toBe(true);
      }
      if (!body.response.allowed) expect(body.response.status?.code).toBeGreaterThanOrEqual(400);
    });

    it('gives no patch when the patched object is sent again', async () => {
      const review = loadReview(name);
      const first = await post(review);
      const operations: Operation[] = decodePatch(first.body.response) ?? [];
      const patched: unknown =
        operations.length > 0
          ? fastJsonPatch.applyPatch(structuredClone(review.request.object), operations, true, false).newDocument
          : review.request.object;
      const second = await post(resubmit(review, patched));
      expect(second.status).toBe(200);
      expect(second.body.response.patch).toBeUndefined();
      expect(second.body.response.allowed).toBe(first.body.response.allowed);
    });
  });
});

describe('replay CLI', () => {
  let written: string[];

  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function run(argv: string[]): Promise<{ code: number; output: unknown }> {
    written = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    });
    const code = await replay(argv);
    vi.restoreAllMocks();
    return { code, output: JSON.parse(written.join('')) as unknown };
  }

  const cluster = ['--rules', CLUSTER_FILES.rules, '--nodes', CLUSTER_FILES.nodes, '--namespaces', CLUSTER_FILES.namespaces];

  it('prints each response with its decoded patch, and exits 0 when every review is allowed', async () => {
    const files = [reviewFile('create-pod-spot-consumer'), reviewFile('create-pod-no-match')];
    const { code, output } = await run([...cluster, ...files]);
    expect(code).toBe(0);
    expect(output).toEqual([
      {
        file: files[0],
        status: 200,
        review: expect.objectContaining({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: expect.objectContaining({ uid: loadReview('create-pod-spot-consumer').request.uid, allowed: true, patchType: 'JSONPatch' }),
        }),
        patch: expect.arrayContaining([
          { op: 'add', path: '/spec/nodeSelector', value: { lifecycle: 'Ec2Spot' } },
          { op: 'add', path: '/metadata/annotations', value: { 'placement-webhook/applied-rules': 'spot-consumers' } },
        ]),
      },
      {
        file: files[1],
        status: 200,
        review: {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: loadReview('create-pod-no-match').request.uid, allowed: true },
        },
        patch: [],
      },
    ]);
  });

  it('exits 1 when a review is denied', async () => {
    const { code, output } = await run([...cluster, reviewFile('create-pod-nodeselector-conflict-reject')]);
    expect(code).toBe(1);
    expect(output).toEqual([
      expect.objectContaining({ status: 200, review: expect.objectContaining({ response: expect.objectContaining({ allowed: false }) }), patch: [] }),
    ]);
  });
});
