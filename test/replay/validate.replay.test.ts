/**
 * Golden replay of the validating webhook: every AdmissionReview under `test/fixtures/admission/validate/` goes
 * through the fastify app exactly as the API server would send it, and the response must equal
 * `<name>.golden.json` (rewritten with `UPDATE_GOLDEN=1`). The cluster is the validate one (`validate-nodes.yaml`,
 * `validate-rules.yaml`, or `validate-rules-warn.yaml` for fixtures named `*-warn-mode-*`). On top of the golden
 * comparison, each response must keep the AdmissionReview contract of a validating webhook: never a patch, warnings
 * that fit on a line, and a denial that says why with a 403 or 422.
 */
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_WARNING_LENGTH } from '../../src/admission/response.js';
import type { AdmissionReviewRequest, AdmissionReviewResponse } from '../../src/admission/types.js';
import { replay } from '../../src/cli/replay.js';
import { buildApp } from '../../src/server/app.js';
import {
  expectGolden,
  listReviews,
  loadCluster,
  loadReview,
  reviewFile,
  VALIDATE_CLUSTER_FILES,
  validateClusterFiles,
  type ClusterFiles,
} from '../support/fixtures.js';

const fixtures = listReviews('validate');

/** One app per rules file, built once. */
const apps = new Map<string, FastifyInstance>();

beforeAll(async () => {
  for (const rules of [VALIDATE_CLUSTER_FILES.rules, VALIDATE_CLUSTER_FILES.rulesWarn]) {
    const { nodes, namespaces } = VALIDATE_CLUSTER_FILES;
    const app = buildApp({ ctx: loadCluster({ rules, nodes, namespaces }), logger: pino({ level: 'silent' }) });
    await app.ready();
    apps.set(rules, app);
  }
});

afterAll(async () => {
  for (const app of apps.values()) await app.close();
});

async function post(
  name: string,
  body: AdmissionReviewRequest = loadReview(name, 'validate'),
): Promise<{ status: number; body: AdmissionReviewResponse }> {
  const app = apps.get(validateClusterFiles(name).rules);
  if (!app) throw new Error(`no app for fixture ${name}`);
  const res = await app.inject({
    method: 'POST',
    url: '/validate',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  return { status: res.statusCode, body: res.json<AdmissionReviewResponse>() };
}

describe('validate replay', () => {
  it('has the fixtures the suite is meant to cover', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(18);
  });

  it('gives a dryRun request the same decision and message as the real one', async () => {
    const real = await post('create-pod-unknown-node-selector');
    const dry = await post('create-pod-dryrun');
    expect(loadReview('create-pod-dryrun', 'validate').request.dryRun).toBe(true);
    expect(dry.body.response.allowed).toBe(false);
    expect(dry.body.response.allowed).toBe(real.body.response.allowed);
    expect(dry.body.response.status).toEqual(real.body.response.status);
  });

  describe.each(fixtures)('%s', (name) => {
    it('answers as the golden file says', async () => {
      const { status, body } = await post(name);
      expectGolden(name, { status, response: body }, 'validate');
    });

    it('keeps the AdmissionReview response contract', async () => {
      const review = loadReview(name, 'validate');
      const { status, body } = await post(name, review);
      expect(status).toBe(200);
      expect(body.apiVersion).toBe('admission.k8s.io/v1');
      expect(body.kind).toBe('AdmissionReview');
      expect(body.response.uid).toBe(review.request.uid);
      expect(body.response).not.toHaveProperty('patch');
      expect(body.response).not.toHaveProperty('patchType');
      for (const warning of body.response.warnings ?? []) expect(warning.length).toBeLessThanOrEqual(MAX_WARNING_LENGTH);
      if (body.response.allowed) {
        expect(body.response.status).toBeUndefined();
      } else {
        expect([403, 422]).toContain(body.response.status?.code);
        expect(body.response.status?.message).toEqual(expect.stringMatching(/\S/));
      }
    });
  });
});

describe('replay CLI --endpoint validate', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function run(name: string): Promise<{ code: number; output: unknown }> {
    const files: ClusterFiles = validateClusterFiles(name);
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    });
    const argv = ['--endpoint', 'validate', '--rules', files.rules, '--nodes', files.nodes, '--namespaces', files.namespaces];
    const code = await replay([...argv, reviewFile(name, 'validate')]);
    vi.restoreAllMocks();
    return { code, output: JSON.parse(written.join('')) as unknown };
  }

  it('prints the response the server gives, and exits 0 when the review is allowed', async () => {
    const name = 'create-pod-condition-taint-only';
    const { code, output } = await run(name);
    const direct = await post(name);
    expect(code).toBe(0);
    expect(output).toEqual([{ file: reviewFile(name, 'validate'), status: 200, review: direct.body, patch: [] }]);
    expect(direct.body.response.allowed).toBe(true);
  });

  it('exits 1 when the review is denied', async () => {
    const name = 'create-deployment-rules-infeasible';
    const { code, output } = await run(name);
    const direct = await post(name);
    expect(code).toBe(1);
    expect(output).toEqual([{ file: reviewFile(name, 'validate'), status: 200, review: direct.body, patch: [] }]);
    expect(direct.body.response.allowed).toBe(false);
  });
});
