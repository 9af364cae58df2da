/**
 * The webhook under load, in its own process (forked by `run.ts`): `buildApp` over HTTPS with a generated
 * cluster and rule set, plus a constant-allow `/baseline` route on the same fastify instance, and `/baseline-patch`,
 * which answers as constantly with the patch /mutate answers the bench's review with. Logging and metrics
 * are as in `serve`: the production logger (`createLogger('info')`, one line per review) writing to stdout, which
 * the parent points at /dev/null, and a `Metrics` instance.
 *
 * With `BENCH_PODS_PER_NODE` > 0 the cluster also knows that many pods bound to each node (`pods.ts`, 30 × 5,000 =
 * 150,000 by default), read through a `PodReader` into a `PodIndex` as the pod cache would: `/validate` then also
 * answers "would it be scheduled now".
 *
 * Protocol over the IPC channel: the child sends `{ type: 'ready', port, ... }` once listening; the parent may send
 * `{ type: 'usage' }` (answered with `{ type: 'usage', cpu, rss, gcMs, gcCount }`: GC pauses of this thread so
 * far), `{ type: 'profile-start', intervalUs }` / `{ type: 'profile-stop', file }` (a V8 CPU profile of this thread
 * between the two, through the inspector, so that a profile covers steady load only; answered with
 * `{ type: 'profile', file }`) and `{ type: 'stop' }`. The child also exits when the parent goes away, and in any
 * case after SAFETY_EXIT_MS.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { PerformanceObserver } from 'node:perf_hooks';
import { decodeReview } from '../src/admission/decode.js';
import { handleMutate } from '../src/admission/mutate.js';
import { createLogger } from '../src/cli/serve.js';
import { StaticCluster } from '../src/cluster/static.js';
import { compileRules } from '../src/rules/compile.js';
import { buildApp } from '../src/server/app.js';
import { Metrics } from '../src/server/metrics.js';
import { generateCertificate, MIN_TLS_VERSION } from '../src/server/tls.js';
import { PodIndex, PodReader } from '../src/scheduling/pods.js';
import { admissionReview, generateNamespaces, generateNodes, generateRulesDocument, toV1Node } from './generate.js';
import { generateBoundPods } from './pods.js';

const SAFETY_EXIT_MS = 10 * 60_000;

const send = (msg: unknown) => process.send?.(msg);

async function main(): Promise<void> {
  const nodeCount = Number(process.env['BENCH_NODES'] ?? '5000');
  const ruleCount = Number(process.env['BENCH_RULES'] ?? '500');
  const podsPerNode = Number(process.env['BENCH_PODS_PER_NODE'] ?? '0');
  const started = process.hrtime.bigint();

  const compiled = compileRules(generateRulesDocument(ruleCount));
  if (!compiled.ok) throw new Error(`generated rules do not compile: ${JSON.stringify(compiled.errors.slice(0, 3))}`);
  const nodes = generateNodes(nodeCount);
  let pods: PodIndex | undefined;
  if (podsPerNode > 0) {
    // As the pod cache reads them: JSON from the API server, a page at a time.
    pods = new PodIndex();
    const reader = new PodReader();
    for (let from = 0; from < nodes.length; from += 50) {
      const page = JSON.parse(
        JSON.stringify(generateBoundPods(nodes.slice(from, from + 50), podsPerNode, from + 1, from * podsPerNode)),
      ) as unknown[];
      for (const p of page) {
        const placed = reader.read(p);
        if (placed) pods.upsert(placed);
      }
    }
  }
  const ctx = new StaticCluster(compiled.ruleSet, nodes.map(toV1Node), generateNamespaces(), pods ? { pods } : {});
  const pair = await generateCertificate({ commonName: '127.0.0.1', sans: ['127.0.0.1', 'localhost'], days: 1 });

  // As `serve` builds it: production logger and metrics (the /metrics counters and histogram run per review).
  const app = buildApp({
    ctx,
    logger: createLogger('info'),
    metrics: new Metrics(),
    https: { key: pair.key, cert: pair.cert, minVersion: MIN_TLS_VERSION },
  });
  // Parsed by the same content-type parser as the admission routes; no schema check, no logging, no work.
  app.post('/baseline', async (req: FastifyRequest, _reply: FastifyReply) => {
    const body = req.body as { request?: { uid?: unknown } } | null;
    const uid = typeof body?.request?.uid === 'string' ? body.request.uid : '';
    return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } };
  });
  // The same, answering with /mutate's answer to the bench's review (its patch, made once here): what the transport
  // costs for an answer of that size, which /mutate cannot go below.
  const mutateAnswer = handleMutate(decodeReview(admissionReview()).request, ctx).response;
  app.post('/baseline-patch', async (req: FastifyRequest, _reply: FastifyReply) => {
    const body = req.body as { request?: { uid?: unknown } } | null;
    const uid = typeof body?.request?.uid === 'string' ? body.request.uid : '';
    return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { ...mutateAnswer, uid } };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let gcMs = 0;
  let gcCount = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcCount++;
    }
  });
  gc.observe({ entryTypes: ['gc'] });

  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((res, rej) => session.post(method, params ?? {}, (err, result) => (err ? rej(err) : res(result))));
  await post('Profiler.enable');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.close();
    process.exit(0);
  };
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'usage') send({ type: 'usage', cpu: process.cpuUsage(), rss: process.memoryUsage().rss, gcMs, gcCount });
    else if (msg?.type === 'profile-start') {
      const { intervalUs } = msg as { intervalUs?: number };
      void post('Profiler.setSamplingInterval', { interval: intervalUs ?? 100 })
        .then(() => post('Profiler.start'))
        .then(() => send({ type: 'profile-started' }));
    } else if (msg?.type === 'profile-stop') {
      const { file } = msg as { file: string };
      void post('Profiler.stop').then((r) => {
        writeFileSync(file, JSON.stringify((r as { profile: unknown }).profile));
        send({ type: 'profile', file });
      });
    } else if (msg?.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  setTimeout(() => void stop(), SAFETY_EXIT_MS).unref();

  send({
    type: 'ready',
    port,
    nodes: ctx.nodes().index.size,
    pods: pods?.size ?? 0,
    rules: compiled.ruleSet.rules.length,
    startupMs: Number(process.hrtime.bigint() - started) / 1e6,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
