/**
 * The webhook under load, in its own process (forked by `run.ts`): `buildApp` over HTTPS with a generated
 * cluster and rule set, plus a constant-allow `/baseline` route on the same fastify instance. Logging and metrics
 * are as in `serve`: the production logger (`createLogger('info')`, one line per review) writing to stdout, which
 * the parent points at /dev/null, and a `Metrics` instance.
 *
 * Protocol over the IPC channel: the child sends `{ type: 'ready', port, ... }` once listening; the parent may send
 * `{ type: 'usage' }` (answered with `{ type: 'usage', cpu, rss }`) and `{ type: 'stop' }`. The child also exits when
 * the parent goes away, and in any case after SAFETY_EXIT_MS.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createLogger } from '../src/cli/serve.js';
import { StaticCluster } from '../src/cluster/static.js';
import { compileRules } from '../src/rules/compile.js';
import { buildApp } from '../src/server/app.js';
import { Metrics } from '../src/server/metrics.js';
import { generateCertificate, MIN_TLS_VERSION } from '../src/server/tls.js';
import { generateNamespaces, generateNodes, generateRulesDocument, toV1Node } from './generate.js';

const SAFETY_EXIT_MS = 10 * 60_000;

const send = (msg: unknown) => process.send?.(msg);

async function main(): Promise<void> {
  const nodeCount = Number(process.env['BENCH_NODES'] ?? '5000');
  const ruleCount = Number(process.env['BENCH_RULES'] ?? '500');
  const started = process.hrtime.bigint();

  const compiled = compileRules(generateRulesDocument(ruleCount));
  if (!compiled.ok) throw new Error(`generated rules do not compile: ${JSON.stringify(compiled.errors.slice(0, 3))}`);
  const ctx = new StaticCluster(compiled.ruleSet, generateNodes(nodeCount).map(toV1Node), generateNamespaces());
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
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.close();
    process.exit(0);
  };
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'usage') send({ type: 'usage', cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
    else if (msg?.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  setTimeout(() => void stop(), SAFETY_EXIT_MS).unref();

  send({
    type: 'ready',
    port,
    nodes: ctx.nodes().index.size,
    rules: compiled.ruleSet.rules.length,
    startupMs: Number(process.hrtime.bigint() - started) / 1e6,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
