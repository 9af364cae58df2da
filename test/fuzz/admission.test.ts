/**
 * Fuzzing `/mutate` and `/validate` through the fastify app: AdmissionReviews shaped like the API server's around
 * realistic pods, workloads and rules ConfigMaps, with random type swaps, deletions, insertions, huge and deep
 * values at random paths, odd envelopes and damaged bodies. Every answer is held to `./invariants.ts`; the pods the
 * webhook patches are sent again, patched, and must get no patch and the same decision (the API server's
 * re-invocation).
 */
import fc from 'fast-check';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzApp, type FuzzCluster } from './cluster.js';
import { checkExchange, checkPatch, InvariantError, type Endpoint, type Exchange } from './invariants.js';
import { cloneJson, serialize } from './json.js';
import { NAMESPACES } from './placement.js';
import { buildPod, podCase } from './pods.js';
import { ABSENT, buildBody, envelopeCase, payloadOf, transportCase, type TransportCase } from './reviews.js';
import { fuzzParameters, measured, runsOf, timeoutOf } from './runs.js';
import { buildWorld, worldCase, type WorldCase } from './world.js';

let app: FastifyInstance;
let cluster: FuzzCluster;
let errorLog: string[];
const slowest = { ms: 0, bytes: 0, endpoint: '' };
/** How the answers came out, for the summary line: `/validate 200 denied` → count. */
const outcomes = new Map<string, number>();

function tally(x: Exchange): void {
  let what = 'status';
  try {
    const r = (JSON.parse(x.body) as { response?: { allowed?: boolean; patch?: string } }).response;
    if (r) what = r.patch !== undefined ? 'patched' : r.allowed ? 'allowed' : 'denied';
  } catch {
    what = 'not JSON';
  }
  const key = `${x.endpoint} ${x.status} ${what}`;
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
}

beforeAll(async () => {
  ({ app, cluster, errors: errorLog } = await fuzzApp());
});

afterAll(async () => {
  await app.close();
  const answers = [...outcomes]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
  console.log(`fuzz admission: ${answers}; slowest answer ${Math.round(slowest.ms)} ms (${slowest.endpoint}, ${slowest.bytes} bytes)`);
});

interface Sent extends Exchange {
  /** What the app logged at level error while answering. */
  readonly errors: readonly string[];
}

async function send(endpoint: Endpoint, payload: string, contentType: TransportCase['contentType'] = 'application/json'): Promise<Sent> {
  errorLog.length = 0;
  const started = performance.now();
  const res = await app.inject({ method: 'POST', url: endpoint, headers: contentType === ABSENT ? {} : { 'content-type': contentType }, payload });
  const ms = performance.now() - started;
  if (ms > slowest.ms) Object.assign(slowest, { ms, bytes: payload.length, endpoint });
  const x = {
    endpoint,
    payload,
    contentType: contentType === ABSENT ? undefined : contentType,
    status: res.statusCode,
    body: res.body,
    errors: [...errorLog],
  };
  tally(x);
  return x;
}

/** `checkExchange`, with the request in the message of a failure (cut: bodies can be megabytes). */
function checked(x: Sent, world: WorldCase) {
  try {
    return checkExchange(x);
  } catch (err) {
    if (!(err instanceof InvariantError)) throw err;
    err.message = `${x.endpoint}: ${err.message}\n  world: ${JSON.stringify(world).slice(0, 400)}\n  sent: ${x.payload.slice(0, 3000)}`;
    throw err;
  }
}

const REVIEW_RUNS = 1000;
const POD_RUNS = 1500;

/** A CREATE review of a pod, as the API server sends it. */
const podReview = (pod: unknown, namespace: unknown, uid: string) =>
  serialize({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      ...(namespace === ABSENT ? {} : { namespace }),
      operation: 'CREATE',
      object: pod,
    },
  });

describe('fuzz: /mutate and /validate', () => {
  it(
    'answer every review, however broken, within the contract',
    () =>
      measured('reviews', REVIEW_RUNS, async () => {
        const seen = { patched: 0, uid: 0, unreadable: 0 };
        await fc.assert(
          fc.asyncProperty(envelopeCase, transportCase, worldCase, async (envelope, transport, world) => {
            cluster.use(buildWorld(world));
            const payload = payloadOf(buildBody(envelope), transport);
            for (const endpoint of ['/mutate', '/validate'] as const) {
              const result = checked(await send(endpoint, payload, transport.contentType), world);
              if (result.patched) seen.patched++;
              if (result.uid) seen.uid++;
              if (!result.readable) seen.unreadable++;
            }
          }),
          fuzzParameters(REVIEW_RUNS, 100),
        );
        // The cases reach the interesting places: patches, uid echoes, bodies the server refuses.
        expect(seen.patched).toBeGreaterThan(0);
        expect(seen.uid).toBeGreaterThan(0);
        expect(seen.unreadable).toBeGreaterThan(0);
      }),
    timeoutOf(REVIEW_RUNS, 100),
  );

  it(
    'patch mostly-valid pods only where rules inject, cleanly, and give no patch on a second pass',
    () =>
      measured('pods', POD_RUNS, async () => {
        let patched = 0;
        const small = fc.record({ pod: podCase(1, 0.6), namespace: fc.constantFrom<unknown>(ABSENT, ...NAMESPACES), world: worldCase });
        await fc.assert(
          fc.asyncProperty(small, fc.uuid(), async ({ pod: c, namespace, world }, uid) => {
            cluster.use(buildWorld(world));
            const pod = buildPod(c);
            const first = await send('/mutate', podReview(pod, namespace, uid));
            if (!checked(first, world).patched) return;
            patched++;
            const response = (JSON.parse(first.body) as { response: { allowed: boolean; patch: string } }).response;
            const sent = (JSON.parse(first.payload) as { request: { object: unknown } }).request.object;
            const ops: Operation[] = checkPatch(response.patch, sent);
            const again = fastJsonPatch.applyPatch(cloneJson(sent), ops, true, false).newDocument;
            const second = await send('/mutate', podReview(again, namespace, `${uid}-again`));
            checked(second, world);
            const answer = (JSON.parse(second.body) as { response: { allowed: boolean; patch?: string; status?: unknown } }).response;
            if (answer.patch !== undefined || answer.allowed !== response.allowed) {
              const failure = new InvariantError(
                `a second pass over the patched pod ${answer.patch !== undefined ? `patches again: ${Buffer.from(answer.patch, 'base64').toString('utf8').slice(0, 600)}` : `is answered differently: ${JSON.stringify(answer).slice(0, 600)}`}\n  first patch: ${JSON.stringify(ops).slice(0, 600)}\n  world: ${JSON.stringify(world).slice(0, 1500)}\n  pod: ${serialize(pod).slice(0, 3000)}`,
              );
              throw failure;
            }
          }),
          fuzzParameters(POD_RUNS, 100),
        );
        expect(patched).toBeGreaterThan(runsOf(POD_RUNS) / 20);
      }),
    timeoutOf(POD_RUNS, 100),
  );
});
