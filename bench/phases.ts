/**
 * The phases of one review, timed in-process without the transport (see bench/README.md, "Per-request cost"): the
 * same steps `server/app.ts` takes for the bench's AdmissionReview, one after the other, each timed with
 * `performance.now()`, over the same cluster and rule set as `server.ts` (5,000 nodes, 500 rules, and with
 * `BENCH_PODS_PER_NODE` > 0 that many pods bound to each node). The logger is the production one
 * (`createLogger('info')`) writing to stdout, which the parent points at /dev/null.
 *
 *   npx tsx bench/phases.ts > /dev/null      # the table on stderr; forked by run.ts (`--only phases`) it reports over IPC
 *
 * Medians per step are given (robust when other processes share the CPU), and means, which include the GC pauses
 * that landed in a step. Each iteration runs /mutate's and /validate's steps; the routes alternate so that neither always runs on a warm
 * or a cold cache. `handleMutate` is timed whole; `mutatePod`, `diff` and `patched` are timed again on their own
 * right after it (outside the pipeline), and the placement check is the handler's time less theirs. Means include the GC pauses that landed in a step (that is what a request pays); the GC column is
 * the main thread's GC pause time over the iterations (`PerformanceObserver`), spread over them.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { decodeReview } from '../src/admission/decode.js';
import { handleMutate } from '../src/admission/mutate.js';
import { diff, patched, review } from '../src/admission/response.js';
import { handleValidate } from '../src/admission/validate.js';
import type { AdmissionRequest } from '../src/admission/types.js';
import { createLogger } from '../src/cli/serve.js';
import { StaticCluster } from '../src/cluster/static.js';
import { compileRules } from '../src/rules/compile.js';
import { mutatePod } from '../src/rules/apply.js';
import { withNameLabel } from '../src/rules/select.js';
import { metricKind, Metrics } from '../src/server/metrics.js';
import { PodIndex, PodReader } from '../src/scheduling/pods.js';
import type { V1Pod } from '@kubernetes/client-node';
import { admissionReview, generateNamespaces, generateNodes, generateRulesDocument, toV1Node } from './generate.js';
import { generateBoundPods } from './pods.js';

export const STEPS = {
  mutate: ['parse', 'decode', 'rules', 'placement-check', 'diff', 'response', 'serialize', 'log', 'metrics'],
  validate: ['parse', 'decode', 'decision', 'serialize', 'log', 'metrics'],
} as const;

export const STEP_WHAT: Record<string, string> = {
  parse: '`JSON.parse` of the body (4.2 KB)',
  decode: '`decodeReview`: nesting/finite walk, AdmissionReview schema, pod shape',
  rules: '`mutatePod`: the rules applied (copy, match, merge)',
  'placement-check': '`handleMutate` less the three steps beside it: mostly the placement-lost check (node selection before and after)',
  diff: '`diff`: the JSON Patch',
  response: '`patched`: the patch encoded (JSON + base64) in the response',
  decision: '`handleValidate`: the decision and its response',
  serialize: '`JSON.stringify` of the AdmissionReview answer',
  log: 'the review log line (`pino` child, production options)',
  metrics: 'the counter and the histogram (prom-client)',
};

export interface PhasesResult {
  pods: number;
  iterations: number;
  /** Median µs per step, per route (robust to other processes on the machine). */
  mutate: Record<string, number>;
  validate: Record<string, number>;
  /** Mean µs per step: includes the GC pauses that landed in the step. */
  mutateMean: Record<string, number>;
  validateMean: Record<string, number>;
  /** Main-thread GC pause µs per iteration (both routes). */
  gcUsPerIteration: number;
}

export async function phases(podsPerNode: number, iterations: number): Promise<PhasesResult> {
  const compiled = compileRules(generateRulesDocument(500));
  if (!compiled.ok) throw new Error('generated rules do not compile');
  const nodes = generateNodes(5000);
  let pods: PodIndex | undefined;
  if (podsPerNode > 0) {
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
  const log = createLogger('info').child({}, { redact: { paths: [] } });
  const metrics = new Metrics();
  const text = JSON.stringify(admissionReview());

  // Per iteration, the µs of each step (the mutate row has one more slot: handleMutate whole).
  const scratch = { mutate: new Float64Array(STEPS.mutate.length + 1), validate: new Float64Array(STEPS.validate.length) };
  const samples = {
    mutate: STEPS.mutate.map(() => new Float64Array(iterations)),
    validate: STEPS.validate.map(() => new Float64Array(iterations)),
  };
  const keep = (route: 'mutate' | 'validate', iteration: number) => {
    const sc = scratch[route];
    if (route === 'mutate') sc[3] = Math.max(0, (sc[STEPS.mutate.length] as number) - (sc[2] as number) - (sc[4] as number) - (sc[5] as number));
    samples[route].forEach((a, j) => (a[iteration] = (sc[j] as number) * 1000));
    sc.fill(0);
  };
  let sink = 0;
  const record = (request: AdmissionRequest, rec: object, ms: number) => {
    log.info(
      {
        uid: request.uid,
        kind: request.kind.kind,
        namespace: request.namespace,
        name: 'checkout-6c9f7d8b5-*',
        operation: request.operation,
        dryRun: false,
        ...rec,
        durationMs: ms,
      },
      'review',
    );
  };
  // Slots: the pipeline's steps, then handleMutate whole; rules, diff and response are timed again on their own
  // (outside the pipeline) so that the placement check is handleMutate less those three.
  const HANDLER = STEPS.mutate.length;
  const mutateOnce = (s: Float64Array | undefined) => {
    let t = performance.now();
    const lap = (i: number) => {
      const now = performance.now();
      if (s) s[i] = (s[i] as number) + (now - t);
      t = now;
    };
    const start = t;
    const body = JSON.parse(text) as unknown;
    lap(0);
    const request = decodeReview(body).request;
    lap(1);
    const { response, record: rec } = handleMutate(request, ctx);
    lap(HANDLER);
    const out = JSON.stringify(review(response));
    lap(6);
    sink += out.length;
    record(request, rec, performance.now() - start);
    lap(7);
    metrics.reviews.inc({ endpoint: 'mutate', decision: rec.decision, kind: metricKind(request.kind) });
    metrics.reviewDuration.observe({ endpoint: 'mutate' }, (performance.now() - start) / 1000);
    lap(8);
    // Outside the pipeline: the handler's parts that are timed apart.
    const pod = request.object as V1Pod;
    const namespace = request.namespace as string;
    t = performance.now();
    const m = mutatePod(pod, ctx.rules(), namespace, withNameLabel(namespace, ctx.namespaceLabels(namespace)));
    lap(2);
    const ops = m.kind === 'mutated' ? diff(pod, m.pod) : [];
    lap(4);
    sink += patched(request.uid, ops).patch?.length ?? 0;
    lap(5);
  };
  const validateOnce = (s: Float64Array | undefined) => {
    let t = performance.now();
    const lap = (i: number) => {
      const now = performance.now();
      if (s) s[i] = (s[i] as number) + (now - t);
      t = now;
    };
    const start = t;
    const body = JSON.parse(text) as unknown;
    lap(0);
    const request = decodeReview(body).request;
    lap(1);
    const { response, record: rec } = handleValidate(request, ctx);
    lap(2);
    const out = JSON.stringify(review(response));
    lap(3);
    sink += out.length;
    record(request, rec, performance.now() - start);
    lap(4);
    metrics.reviews.inc({ endpoint: 'validate', decision: rec.decision, kind: metricKind(request.kind) });
    metrics.reviewDuration.observe({ endpoint: 'validate' }, (performance.now() - start) / 1000);
    lap(5);
  };

  for (let i = 0; i < 2000; i++) {
    if (i % 8 === 0) await new Promise((r) => setImmediate(r));
    mutateOnce(undefined);
    validateOnce(undefined);
  }

  // Startup's garbage (nodes, rules, pods generated) is collected before the measured loop, not during it.
  (globalThis as { gc?: () => void }).gc?.();
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  // The log line is written asynchronously (as in serve): the loop yields every few reviews so that it is flushed,
  // as the server's event loop does between requests; otherwise the lines pile up in memory.
  const turn = () => new Promise((r) => setImmediate(r));
  for (let i = 0; i < iterations; i++) {
    if (i % 8 === 0) await turn();
    if (i % 2 === 0) {
      mutateOnce(scratch.mutate);
      validateOnce(scratch.validate);
    } else {
      validateOnce(scratch.validate);
      mutateOnce(scratch.mutate);
    }
    keep('mutate', i);
    keep('validate', i);
  }
  await new Promise((r) => setTimeout(r, 50));
  gc.disconnect();
  const median = (a: Float64Array) => a.slice().sort()[a.length >> 1] ?? Number.NaN;
  const mean = (a: Float64Array) => a.reduce((x, y) => x + y, 0) / a.length;
  const perStep = (names: readonly string[], rows: Float64Array[], f: (a: Float64Array) => number) =>
    Object.fromEntries(names.map((n, j) => [n, f(rows[j] as Float64Array)]));
  if (sink === -1) process.stderr.write('');
  return {
    pods: pods?.size ?? 0,
    iterations,
    mutate: perStep(STEPS.mutate, samples.mutate, median),
    validate: perStep(STEPS.validate, samples.validate, median),
    mutateMean: perStep(STEPS.mutate, samples.mutate, mean),
    validateMean: perStep(STEPS.validate, samples.validate, mean),
    gcUsPerIteration: (gcMs * 1000) / iterations,
  };
}

if (process.argv[1]?.endsWith('phases.ts') || process.argv[1]?.endsWith('phases.js')) {
  const podsPerNode = Number(process.env['BENCH_PODS_PER_NODE'] ?? '0');
  const iterations = Number(process.env['BENCH_ITERATIONS'] ?? '5000');
  phases(podsPerNode, iterations)
    .then((r) => {
      if (process.send) process.send({ type: 'phases', result: r });
      else process.stderr.write(`${JSON.stringify(r, null, 2)}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`phases: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
}
