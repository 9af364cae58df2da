/**
 * placement-webhook benchmark. See bench/README.md for what each figure means.
 *
 *   npx tsx bench/run.ts [--quick] [--json] [--only engine|pods|pod-cache|http|memory] [--server-prof DIR]
 *                        [--connections 10,50] [--pods-per-node 0,30]
 *
 * Markdown goes to stdout (JSON instead with --json); progress goes to stderr.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import os from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { breakdown, PHASES, type CpuProfile, type Phase } from './profile.js';
import { STEP_WHAT, STEPS, type PhasesResult } from './phases.js';
import type { ReloadChildResult } from './reload.js';
import { podCacheBench, podCacheMarkdown, podCacheTargets, type PodCacheResult } from './pod-cache.js';
import { diff } from '../src/admission/response.js';
import { mutatePod } from '../src/rules/apply.js';
import { compileRules, parseRules } from '../src/rules/compile.js';
import { withNameLabel } from '../src/rules/select.js';
import { evaluate, podConstraints } from '../src/scheduling/feasibility.js';
import { NodeIndex } from '../src/scheduling/node-index.js';
import type { PlacementNode } from '../src/scheduling/types.js';
import { evaluateNow, podAwareConstraints } from '../src/scheduling/now.js';
import { PodIndex, PodReader } from '../src/scheduling/pods.js';
import { antiAffineSpreadPod, generateBoundPods, PODS_PER_NODE } from './pods.js';
import {
  admissionPod,
  admissionReview,
  DEFAULT_SEED,
  ENGINE_PODS,
  feasiblePod,
  generateNodes,
  generateRulesDocument,
  nodeName,
  POD_NAMESPACE,
  POD_NAMESPACE_LABELS,
  prng,
} from './generate.js';

const SELF = fileURLToPath(import.meta.url);
const HERE = dirname(SELF);
/** `.ts` under tsx, `.js` when compiled. */
const EXT = extname(SELF);

// ---- options ------------------------------------------------------------------------------------------------------

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'server-prof': { type: 'string' },
    'pods-per-node': { type: 'string' },
    'tsx-server': { type: 'boolean', default: false },
    connections: { type: 'string' },
  },
  allowPositionals: false,
});
const SECTIONS = ['engine', 'pods', 'pod-cache', 'http', 'phases', 'memory'] as const;
type Section = (typeof SECTIONS)[number];
if (flags.only !== undefined && !(SECTIONS as readonly string[]).includes(flags.only)) {
  process.stderr.write(`--only: expected one of ${SECTIONS.join(', ')}, got ${JSON.stringify(flags.only)}\n`);
  process.exit(2);
}
/** `--name 10,50`: a list of counts, else `fallback`. */
function listFlag(name: 'connections' | 'pods-per-node', fallback: readonly number[]): readonly number[] {
  const text = flags[name];
  if (text === undefined) return fallback;
  const list = text.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 0)) {
    process.stderr.write(`--${name}: expected a comma-separated list of counts, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return list;
}
const runs = (s: Section) => flags.only === undefined || flags.only === s;
const QUICK = flags.quick;

/** Loops are bounded both in iterations and in time. */
interface Budget {
  readonly warmupIterations: number;
  readonly warmupMs: number;
  readonly minIterations: number;
  readonly maxIterations: number;
  readonly maxMs: number;
}
const ENGINE_BUDGET: Budget = QUICK
  ? { warmupIterations: 100, warmupMs: 100, minIterations: 20, maxIterations: 1_000, maxMs: 200 }
  : { warmupIterations: 1_000, warmupMs: 500, minIterations: 200, maxIterations: 20_000, maxMs: 1_500 };
const UPSERTS = QUICK ? 200 : 1_000;
const INDEX_BUILDS = QUICK ? 1 : 3;
const ENGINE_SIZES = [1_000, 5_000, 50_000] as const;
const MUTATE_SIZES = [100, 1_000] as const;
const RELOAD_RULES = 1_000;
const RELOAD_RUNS = QUICK ? 2 : 10;
const RELOAD_MAX_MS = QUICK ? 3_000 : 10_000;
/** Reloads measured as the server does them (after one that starts and warms the thread, and one more). */
const RELOAD_OFF_THREAD_RUNS = 20;

const HTTP = {
  nodes: 5_000,
  rules: 500,
  connections: listFlag('connections', [10, 50]),
  /** Pods bound to each node: 0 (pod cache off) and 30 (150,000 pods in the pod index). */
  podsPerNode: listFlag('pods-per-node', [0, PODS_PER_NODE]),
  warmupS: QUICK ? 1 : 2,
  /** Measured seconds per route, split in `rounds` that alternate the routes (noise then hits them alike). */
  durationS: QUICK ? 2 : 10,
  rounds: QUICK ? 1 : 2,
  /** Seconds of CPU profile per route and connection count (with --server-prof), under load already running. */
  profileS: QUICK ? 2 : 4,
  readyTimeoutMs: 120_000,
} as const;
const MEMORY = { nodes: 10_000, rules: 1_000, timeoutMs: 120_000 } as const;

const VALIDATE_TARGET_P99_US = 100;
const VALIDATE_TARGET_AT = 50_000;
/** Issue targets at 50 connections: req/s at least this share of the baseline's, p99 at most this multiple of its. */
const HTTP_TARGET_RATIO = 0.6;
const HTTP_TARGET_P99_RATIO = 2;
/** The goal beyond the target. */
const HTTP_GOAL_RATIO = 0.85;
const HTTP_TARGET_CONNECTIONS = 50;

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

// ---- timing -------------------------------------------------------------------------------------------------------

export interface Stats {
  readonly iterations: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

/** Nearest-rank percentiles of the first `n` samples (any unit). */
function summarize(samples: Float64Array, n: number): Stats {
  const s = samples.slice(0, n).sort();
  const at = (p: number) => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))] ?? Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i] as number;
  return { iterations: n, p50: at(0.5), p90: at(0.9), p99: at(0.99), mean: n > 0 ? sum / n : Number.NaN, min: at(0), max: at(1) };
}

let sinkValue: unknown;
/** Keeps results alive so that the work is not optimised away. */
function sink(v: unknown): void {
  sinkValue = v;
}

/** Times `fn` per call in microseconds, after a warm-up, within `budget`. */
function timeCalls(fn: () => unknown, budget: Budget): Stats {
  const warmupEnd = performance.now() + budget.warmupMs;
  for (let i = 0; i < budget.warmupIterations && performance.now() < warmupEnd; i++) sink(fn());
  const samples = new Float64Array(budget.maxIterations);
  const deadline = process.hrtime.bigint() + BigInt(Math.round(budget.maxMs * 1e6));
  let n = 0;
  while (n < budget.maxIterations) {
    const t0 = process.hrtime.bigint();
    const r = fn();
    const t1 = process.hrtime.bigint();
    samples[n++] = Number(t1 - t0) / 1e3;
    sink(r);
    if (t1 > deadline && n >= budget.minIterations) break;
  }
  return summarize(samples, n);
}

function timeOnceMs(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  sink(fn());
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

// ---- engine -------------------------------------------------------------------------------------------------------

interface ValidateRow {
  nodes: number;
  pod: string;
  what: string;
  verdict: string;
  /** Microseconds per evaluate(podConstraints(pod), index). */
  stats: Stats;
  targetP99Us: number | undefined;
  meetsTarget: boolean | undefined;
}

interface IndexRow {
  nodes: number;
  /** Median of `builds` builds of a NodeIndex from the node list, in milliseconds. */
  buildMs: number;
  builds: number;
  postings: { shapes: number; words: number; cordoned: number };
  /** Microseconds per upsert of an existing node that changed (cordon toggled, one label added or removed). */
  upsert: Stats;
}

interface MutateRow {
  rules: number;
  matchedRules: number;
  patchOperations: number;
  warnings: number;
  /** Microseconds per mutatePod + diff. */
  stats: Stats;
}

interface ReloadResult {
  rules: number;
  yamlBytes: number;
  lintWarnings: number;
  /** parseRules(text): YAML parse + structure check + lint + compile, in milliseconds. */
  parseRulesMs: Stats;
  /** compileRules(value) on an already parsed document, in milliseconds. */
  compileOnlyMs: Stats;
}

interface OffThreadReload {
  rules: number;
  runs: number;
  /** Whether the child ran tsc's output (else tsx). */
  compiled: boolean;
  /** Lint warnings of the document (20 logged, the rest counted). */
  warnings: number;
  /** Per run, the longest a 1 ms timer ran late while the document was checked in its thread and compiled here (ms). */
  longestBlockMs: Stats;
  /** Per run, the longest main-thread GC pause (ms): most of what remains of the longest delay. */
  longestGcMs: Stats;
  /** From the edit to the rule set in force (ms). */
  inForceMs: Stats;
  /** The verdict alone, as the validating webhook answers a ConfigMap edit (ms). */
  checkMs: Stats;
  /** The longest delay of the timer during that check, when this thread only waits: the machine's floor (ms). */
  checkDelayMs: Stats;
  /** Documents the checker had to check on this thread (a failed or timed-out thread): 0 expected. */
  fallbacks: number;
  /** The same for an edit of one rule of the document: the longest delay and the time to the rule set in force. */
  oneRule: { longestBlockMs: Stats; longestGcMs: Stats; inForceMs: Stats };
  /** The same for a reload of a text the ConfigMap check has just checked (every rule changed; the check reused). */
  checkedFirst: { longestBlockMs: Stats; longestGcMs: Stats; inForceMs: Stats };
}

interface EngineResult {
  validate: ValidateRow[];
  index: IndexRow[];
  mutate: MutateRow[];
  reload: ReloadResult;
  offThread?: OffThreadReload;
}

/** Target: the longest a 1,000-rule reload holds the event loop, so delays any review (ms). */
const RELOAD_BLOCK_TARGET_MS = 10;

function changedNode(base: PlacementNode): PlacementNode {
  const key = 'example.com/maintenance';
  const labels = { ...base.labels };
  if (Object.hasOwn(labels, key)) delete labels[key];
  else labels[key] = 'pending';
  return { ...base, labels, unschedulable: !base.unschedulable };
}

function engineAt(size: number, validate: ValidateRow[], indexRows: IndexRow[]): void {
  const nodes = generateNodes(size);
  const buildTimes: number[] = [];
  let index: NodeIndex | undefined;
  for (let b = 0; b < INDEX_BUILDS; b++) {
    let built: NodeIndex | undefined;
    buildTimes.push(timeOnceMs(() => (built = new NodeIndex(nodes))));
    index = built;
  }
  if (!index) throw new Error('no index');
  const idx: NodeIndex = index;
  buildTimes.sort((a, b) => a - b);
  log(`${size} nodes: index built in ${buildTimes.map((t) => t.toFixed(0)).join(' / ')} ms`);

  for (const p of ENGINE_PODS) {
    const pod = p.make();
    const verdict = evaluate(podConstraints(pod), idx);
    const stats = timeCalls(() => evaluate(podConstraints(pod), idx), ENGINE_BUDGET);
    const targeted = size === VALIDATE_TARGET_AT;
    validate.push({
      nodes: size,
      pod: p.name,
      what: p.what,
      verdict: verdict.kind,
      stats,
      targetP99Us: targeted ? VALIDATE_TARGET_P99_US : undefined,
      meetsTarget: targeted ? stats.p99 <= VALIDATE_TARGET_P99_US : undefined,
    });
    log(`${size} nodes, ${p.name}: ${verdict.kind}, p50 ${stats.p50.toFixed(1)} µs, p99 ${stats.p99.toFixed(1)} µs (${stats.iterations} calls)`);
  }

  const postings = {
    shapes: idx.shapesInUse,
    words: idx.words,
    cordoned: [...idx.nodes()].filter((n) => n.unschedulable).length,
  };

  // Node updates: the index's content changes with each one, which is what an informer's update event does.
  const rand = prng(DEFAULT_SEED + size);
  const samples = new Float64Array(UPSERTS);
  for (let k = 0; k < UPSERTS; k++) {
    const base = idx.get(nodeName(Math.floor(rand() * size)));
    if (!base) throw new Error('node missing from the index');
    const next = changedNode(base);
    const t0 = process.hrtime.bigint();
    idx.upsert(next);
    samples[k] = Number(process.hrtime.bigint() - t0) / 1e3;
  }
  indexRows.push({
    nodes: size,
    buildMs: buildTimes[Math.floor(buildTimes.length / 2)] ?? Number.NaN,
    builds: buildTimes.length,
    postings,
    upsert: summarize(samples, UPSERTS),
  });
}

function mutateAt(ruleCount: number): MutateRow {
  const compiled = compileRules(generateRulesDocument(ruleCount));
  if (!compiled.ok) throw new Error(`generated rules do not compile: ${JSON.stringify(compiled.errors.slice(0, 3))}`);
  const ruleSet = compiled.ruleSet;
  const pod = admissionPod();
  const nsLabels = withNameLabel(POD_NAMESPACE, POD_NAMESPACE_LABELS);
  const once = mutatePod(pod, ruleSet, POD_NAMESPACE, nsLabels);
  if (once.denial || once.skipped) throw new Error(`the admission pod is not mutated: ${once.denial ?? once.skipped}`);
  const operations = diff(pod, once.pod);
  const stats = timeCalls(() => {
    const m = mutatePod(pod, ruleSet, POD_NAMESPACE, nsLabels);
    return diff(pod, m.pod);
  }, ENGINE_BUDGET);
  log(`mutate, ${ruleCount} rules: ${once.appliedRules.length} applied, p50 ${stats.p50.toFixed(1)} µs, p99 ${stats.p99.toFixed(1)} µs`);
  return { rules: ruleCount, matchedRules: once.appliedRules.length, patchOperations: operations.length, warnings: once.warnings.length, stats };
}

function reload(): ReloadResult {
  const text = stringifyYaml(generateRulesDocument(RELOAD_RULES));
  const parsed: unknown = parseYaml(text);
  const first = parseRules(text);
  if (!first.ok) throw new Error('generated rules YAML does not compile');
  const repeat = (fn: () => unknown): Stats => {
    const samples = new Float64Array(RELOAD_RUNS);
    const deadline = performance.now() + RELOAD_MAX_MS;
    let n = 0;
    while (n < RELOAD_RUNS && (n === 0 || performance.now() < deadline)) samples[n++] = timeOnceMs(fn);
    return summarize(samples, n);
  };
  const parseRulesMs = repeat(() => parseRules(text));
  const compileOnlyMs = repeat(() => compileRules(parsed));
  log(
    `reload, ${RELOAD_RULES} rules (${(text.length / 1024).toFixed(0)} KiB): parseRules p50 ${parseRulesMs.p50.toFixed(1)} ms, compileRules alone ${compileOnlyMs.p50.toFixed(1)} ms`,
  );
  return { rules: RELOAD_RULES, yamlBytes: Buffer.byteLength(text), lintWarnings: first.warnings.length, parseRulesMs, compileOnlyMs };
}

/**
 * The reload as the server does it, in `reload.ts` (a child, compiled like the server): checked in the rules-check
 * thread, compiled here a slice of a turn at a time, warnings logged, swapped in; a 1 ms timer measures how late the
 * event loop runs meanwhile, which is the longest a review arriving then would wait. Every rule changed, and one.
 */
async function offThreadReload(): Promise<OffThreadReload> {
  const compiled = compiledBenchDir();
  const runs = QUICK ? 3 : RELOAD_OFF_THREAD_RUNS;
  const child = forkChild('reload', { BENCH_RULES: String(RELOAD_RULES), BENCH_RUNS: String(runs) }, [], compiled?.dir);
  try {
    const r = (await nextMessage<{ result: ReloadChildResult }>(child, 'reload', 120_000)).result;
    type Run = ReloadChildResult['runs'][number];
    const stats = (pick: (x: Run) => number, of: readonly Run[] = r.runs) => summarize(Float64Array.from(of, pick), of.length);
    const out: OffThreadReload = {
      rules: r.rules,
      runs: r.runs.length,
      compiled: compiled !== undefined || EXT !== '.ts',
      warnings: r.warnings,
      longestBlockMs: stats((x) => x.longestDelayMs),
      longestGcMs: stats((x) => x.longestGcMs),
      inForceMs: stats((x) => x.inForceMs),
      checkMs: stats((x) => x.checkMs),
      checkDelayMs: stats((x) => x.checkDelayMs),
      fallbacks: r.fallbacks,
      oneRule: {
        longestBlockMs: stats((x) => x.longestDelayMs, r.oneRuleRuns),
        longestGcMs: stats((x) => x.longestGcMs, r.oneRuleRuns),
        inForceMs: stats((x) => x.inForceMs, r.oneRuleRuns),
      },
      checkedFirst: {
        longestBlockMs: stats((x) => x.longestDelayMs, r.checkedRuns),
        longestGcMs: stats((x) => x.longestGcMs, r.checkedRuns),
        inForceMs: stats((x) => x.inForceMs, r.checkedRuns),
      },
    };
    log(
      `reload off the review path, ${RELOAD_RULES} rules: longest delay p50 ${out.longestBlockMs.p50.toFixed(1)} ms, max ${out.longestBlockMs.max.toFixed(1)} ms, in force after ${out.inForceMs.p50.toFixed(0)} ms, check ${out.checkMs.p50.toFixed(0)} ms (delay meanwhile p50 ${out.checkDelayMs.p50.toFixed(1)} ms); one rule edited: longest delay p50 ${out.oneRule.longestBlockMs.p50.toFixed(1)} ms, max ${out.oneRule.longestBlockMs.max.toFixed(1)} ms`,
    );
    return out;
  } finally {
    await stopChild(child);
    compiled?.cleanup();
  }
}

function engine(): EngineResult {
  const validate: ValidateRow[] = [];
  const index: IndexRow[] = [];
  for (const size of ENGINE_SIZES) engineAt(size, validate, index);
  const mutate = MUTATE_SIZES.map(mutateAt);
  return { validate, index, mutate, reload: reload() };
}

// ---- pods ---------------------------------------------------------------------------------------------------------

const PODS_NODES = 5_000;
const PODS_TARGET_P99_US = { withInterPod: 1_000, without: 100 } as const;
const POD_EVENTS_TARGET = 10_000;
const POD_BYTES_TARGET = 300;

interface PodsRow {
  pod: string;
  what: string;
  verdict: string;
  /** Microseconds per review's two questions: evaluate (can it ever run) + evaluateNow (would it be bound now). */
  stats: Stats;
  targetP99Us: number;
  meetsTarget: boolean;
}

interface PodsResult {
  nodes: number;
  pods: number;
  /** Reading 150k API pods into the index (PodReader + PodIndex), in ms. */
  loadMs: number;
  /** Pod events (a modified pod: read + upsert) per second. */
  eventsPerSecond: number;
  rows: PodsRow[];
  memory?: { heapBytesPerPod: number; rssBytesPerPod: number; pods: number; gcExposed: boolean };
}

function podsEngine(): PodsResult {
  const nodes = generateNodes(PODS_NODES);
  const index = new NodeIndex(nodes);
  const reader = new PodReader();
  const pods = new PodIndex();
  // As the API server sends them: JSON, read a page at a time.
  let loadMs = 0;
  let count = 0;
  for (let from = 0; from < nodes.length; from += 50) {
    const page = JSON.parse(
      JSON.stringify(generateBoundPods(nodes.slice(from, from + 50), PODS_PER_NODE, from + 1, from * PODS_PER_NODE)),
    ) as unknown[];
    loadMs += timeOnceMs(() => {
      for (const p of page) {
        const placed = reader.read(p);
        if (placed) pods.upsert(placed);
      }
    });
    count += page.length;
  }
  log(`pods: ${count} bound pods over ${nodes.length} nodes read in ${loadMs.toFixed(0)} ms`);
  // Events: the same pods again with a label changed (a rollout's relabel), read and applied one by one.
  const events = JSON.parse(
    JSON.stringify(
      generateBoundPods(nodes.slice(0, QUICK ? 100 : 700), PODS_PER_NODE, 1, 0).map((p) => ({
        ...p,
        metadata: { ...p.metadata, labels: { ...p.metadata?.labels, version: 'v9' } },
      })),
    ),
  ) as unknown[];
  const eventMs = timeOnceMs(() => {
    for (const p of events) {
      const placed = reader.read(p);
      if (placed) pods.upsert(placed);
    }
  });
  const eventsPerSecond = events.length / (eventMs / 1000);
  log(`pods: ${events.length} events applied at ${eventsPerSecond.toFixed(0)}/s`);
  const nsLabels = () => ({});
  const cases = [
    { name: 'feasible', what: 'the common pod: no inter-pod constraints', make: feasiblePod, target: PODS_TARGET_P99_US.without },
    {
      name: 'anti-affinity+spread',
      what: 'required anti-affinity on hostname and a DoNotSchedule zone spread over its own app',
      make: antiAffineSpreadPod,
      target: PODS_TARGET_P99_US.withInterPod,
    },
  ];
  const rows = cases.map((k): PodsRow => {
    const pod = k.make();
    const ns = pod.metadata?.namespace ?? 'default';
    const review = () => {
      const c = podConstraints(pod);
      const can = evaluate(c, index);
      return can.kind === 'fits' ? evaluateNow(c, podAwareConstraints(pod, ns, 0), index, { index: pods, namespaceLabels: nsLabels }) : can;
    };
    const verdict = review().kind;
    const stats = timeCalls(review, ENGINE_BUDGET);
    log(`pods, ${k.name}: ${verdict}, p50 ${stats.p50.toFixed(1)} µs, p99 ${stats.p99.toFixed(1)} µs`);
    return { pod: k.name, what: k.what, verdict, stats, targetP99Us: k.target, meetsTarget: stats.p99 <= k.target };
  });
  return { nodes: nodes.length, pods: pods.size, loadMs, eventsPerSecond, rows };
}

async function podMemory(): Promise<PodsResult['memory']> {
  const child = forkChild('pod-memory', { BENCH_NODES: String(PODS_NODES), BENCH_PODS_PER_NODE: String(PODS_PER_NODE) }, ['--expose-gc']);
  try {
    const m = await nextMessage<{ gcExposed: boolean; pods: number; before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage }>(
      child,
      'pod-memory',
      MEMORY.timeoutMs,
    );
    const per = (k: keyof NodeJS.MemoryUsage) => (m.after[k] - m.before[k]) / m.pods;
    const result = { heapBytesPerPod: per('heapUsed'), rssBytesPerPod: per('rss'), pods: m.pods, gcExposed: m.gcExposed };
    log(`pod memory, ${m.pods} pods: heap ${result.heapBytesPerPod.toFixed(0)} B/pod, rss ${result.rssBytesPerPod.toFixed(0)} B/pod`);
    return result;
  } finally {
    await stopChild(child);
  }
}

// ---- child processes ----------------------------------------------------------------------------------------------

/** Forks a script of bench/ (by base name) with the same loader (tsx) and flags as this process. */
function forkChild(name: string, env: Record<string, string>, extraExecArgv: readonly string[] = [], compiledDir?: string): ChildProcess {
  const file = compiledDir ? join(compiledDir, `${name}.js`) : join(HERE, `${name}${EXT}`);
  // Compiled: plain node, without the loader (tsx) this process may run under.
  const inherited = compiledDir ? [] : process.execArgv.filter((a) => !a.startsWith('--cpu-prof'));
  const child = fork(file, [], {
    execArgv: [...inherited, ...extraExecArgv],
    env: { ...process.env, ...env },
    // stdout (the server's review log) goes to /dev/null; stderr is shown.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  child.on('error', (err) => log(`${file}: ${err.message}`));
  return child;
}

/**
 * The server as production runs it: `src/` and `bench/` compiled by tsc into a temporary directory (with the
 * repository's node_modules linked), so that the figures are those of tsc's output, not of the code tsx transforms
 * on the fly (esbuild's `keepNames` wraps every function created at run time in a `__name` call, a cost production
 * never pays). Undefined when this process already runs compiled, or with `--tsx-server`.
 */
function compiledBenchDir(): { dir: string; cleanup: () => void } | undefined {
  if (EXT !== '.ts' || flags['tsx-server']) return undefined;
  const root = resolve(HERE, '..');
  const out = mkdtempSync(join(os.tmpdir(), 'placement-webhook-bench-'));
  const config = join(out, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      compilerOptions: { noEmit: false, rootDir: root, outDir: out, sourceMap: false, declaration: false, incremental: false },
      include: [join(root, 'src'), join(root, 'bench')],
      exclude: [join(root, 'src/**/*.test.ts')],
    }),
  );
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'));
  const started = performance.now();
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', config], { stdio: 'ignore' });
  } catch {
    // tsc emits despite type errors (someone else's file mid-change); only a missing output is fatal.
  }
  const dir = join(out, 'bench');
  try {
    readFileSync(join(dir, 'server.js'));
  } catch {
    rmSync(out, { recursive: true, force: true });
    throw new Error('tsc produced no bench/server.js (run with --tsx-server to use tsx instead)');
  }
  log(`compiled src/ and bench/ with tsc into ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { dir, cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

/** The next IPC message of `type`, or a rejection on exit or after `timeoutMs`. */
function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => done(new Error(`no ${type} message within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (msg: { type?: string }) => {
      if (msg?.type === type) done(undefined, msg as T);
    };
    const onExit = (code: number | null) => done(new Error(`child exited (code ${code}) before sending ${type}`));
    function done(err: Error | undefined, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolvePromise(value as T);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Stops a child we started: asks it first, then signals it by its pid. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // With a callback, a send to a child that is already going away reports EPIPE there instead of throwing.
  if (child.connected) child.send({ type: 'stop' }, () => undefined);
  const timer = setTimeout(() => child.kill('SIGTERM'), 5_000);
  await exited;
  clearTimeout(timer);
}

// ---- HTTP ---------------------------------------------------------------------------------------------------------

interface RouteRow {
  route: string;
  /** 200 responses over the measured time, all rounds together. */
  reqPerSec: number;
  /** req/s of each round. */
  roundsReqPerSec: number[];
  /** Latency per request as seen by the load generator, in milliseconds. */
  latencyMs: Stats;
  requests: number;
  errors: number;
  non2xx: number;
  /** CPU time of the server process over the run, as a share of one core. */
  serverCpu: number;
  /** Server CPU time per response, in microseconds: the cost of a request, whatever else ran on the machine. */
  serverCpuUsPerRequest: number;
  /** The part of it spent in the kernel (socket reads and writes). */
  serverSysUsPerRequest: number;
  /** Server CPU µs per response of each round (their spread tells how noisy the machine was). */
  roundsCpuUsPerRequest: number[];
  /** Main-thread GC pause time per response, in microseconds (`PerformanceObserver` 'gc' entries). */
  gcUsPerRequest: number;
  /** CPU time of the load generator (this process) over the run, as a share of one core. */
  clientCpu: number;
  ratioToBaseline: number | undefined;
  /** Baseline's server CPU per request ÷ this route's: the req/s ratio of a saturated server. */
  cpuRatioToBaseline: number | undefined;
  p99RatioToBaseline: number | undefined;
  meetsTarget: boolean | undefined;
}

/** A steady-load CPU profile of one route: µs per request by phase (`profile.ts`). */
interface ProfileRow {
  route: string;
  file: string;
  requests: number;
  /** Server CPU µs per request over the profiled window (all threads; the profile sees the main thread only). */
  serverCpuUsPerRequest: number;
  /** Main-thread busy µs per request, as sampled. */
  busyUsPerRequest: number;
  usPerRequest: Record<Phase, number>;
  otherTop: { frame: string; us: number }[];
}

/** One server (pod-aware checks on or off) loaded with one connection count. */
interface HttpRun {
  podsPerNode: number;
  pods: number;
  connections: number;
  serverStartupMs: number;
  routes: RouteRow[];
  profiles: ProfileRow[];
}

interface HttpResult {
  /** Whether the server ran tsc's output (as production does) rather than code transformed by tsx. */
  compiled: boolean;
  nodes: number;
  rules: number;
  warmupS: number;
  durationS: number;
  rounds: number;
  profileS: number;
  bodyBytes: number;
  runs: HttpRun[];
  targetRatio: number;
}

interface ServerUsage {
  type: 'usage';
  cpu: NodeJS.CpuUsage;
  rss: number;
  gcMs: number;
  gcCount: number;
}

/** One request, to check that the route answers what it should before loading it. */
function probe(port: number, path: string, body: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        rejectUnauthorized: false,
        agent: false,
        timeout: 10_000,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolvePromise({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`probe ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

const MAX_LATENCY_SAMPLES = 2_000_000;
/** Review uids: a counter, and this run's id (uids are never reused across runs against one server). */
let reviews = 0;
const RUN_ID = `${process.pid}`;
/** The sampling interval of the server's CPU profiles: finer costs the server more (and distorts what it measures). */
const PROFILE_INTERVAL_US = 250;

/** `live.ok` counts 200 responses as they arrive (to count those within a window of the run). */
async function cannon(url: string, body: string, seconds: number, connections: number, record: boolean, live: { ok: number } = { ok: 0 }) {
  const latencies = new Float64Array(record ? MAX_LATENCY_SAMPLES : 0);
  let n = 0;
  let ok = 0;
  // Each review its own uid, as the API server sends them: every UID_TAG of the body replaced by a new id.
  const parts = body.split(UID_TAG);
  const result = await new Promise<autocannon.Result>((resolvePromise, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        requests: [{ setupRequest: (req) => ({ ...req, body: parts.join(`${(reviews++).toString(36).padStart(12, '0')}-${RUN_ID}`) }) }],
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
        tlsOptions: { rejectUnauthorized: false },
      },
      (err: unknown, res: autocannon.Result) =>
        err ? reject(err instanceof Error ? err : new Error(`autocannon: ${JSON.stringify(err)}`)) : resolvePromise(res),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode !== 200) return;
      ok++;
      live.ok++;
      if (n < latencies.length) latencies[n++] = responseTime;
    });
  });
  return { result, ok, latencies: latencies.subarray(0, n) };
}

const ROUTE_CHECKS: Record<string, (r: Record<string, unknown>) => boolean> = {
  '/baseline': (r) => r['allowed'] === true,
  '/baseline-patch': (r) => r['allowed'] === true && typeof r['patch'] === 'string',
  '/mutate': (r) => r['allowed'] === true && typeof r['patch'] === 'string',
  '/validate': (r) => r['allowed'] === true,
};

/**
 * What each measured load sends: the bench's pod as a ReplicaSet's replicas arrive (the same body but for its uid),
 * or a pod not seen before in every review (an annotation unique to it).
 */
interface Load {
  readonly route: string;
  readonly path: string;
  readonly body: 'replica' | 'new';
}
const LOADS: readonly Load[] = [
  { route: '/baseline', path: '/baseline', body: 'replica' },
  { route: '/baseline-patch', path: '/baseline-patch', body: 'replica' },
  { route: '/mutate', path: '/mutate', body: 'replica' },
  { route: '/validate', path: '/validate', body: 'replica' },
  { route: '/mutate, every pod new', path: '/mutate', body: 'new' },
  { route: '/validate, every pod new', path: '/validate', body: 'new' },
];
const UID_TAG = '[<id>]';

/** The bench's review with autocannon's per-request id as its uid, and also in an annotation for a new pod each time. */
function reviewBodies(): Record<Load['body'], string> {
  const body = (mark: string) => {
    const review = admissionReview() as { request: { uid: string; object: { metadata: { annotations?: Record<string, string> } } } };
    review.request.uid = UID_TAG;
    const metadata = review.request.object.metadata;
    metadata.annotations = { ...metadata.annotations, 'bench.placement-webhook/review': mark };
    return JSON.stringify(review);
  };
  // The same length either way: the tag is replaced by an id in both.
  return { replica: body('same-pod-each-review-'), new: body(UID_TAG) };
}

/** One server child (`podsPerNode` pods bound to each node, 0: pod cache off), loaded at each connection count. */
async function httpServer(podsPerNode: number, bodies: Record<Load['body'], string>, compiledDir: string | undefined): Promise<HttpRun[]> {
  const env = { BENCH_NODES: String(HTTP.nodes), BENCH_RULES: String(HTTP.rules), BENCH_PODS_PER_NODE: String(podsPerNode) };
  const child = forkChild('server', env, [], compiledDir);
  const prof = flags['server-prof'];
  try {
    const ready = await nextMessage<{ port: number; nodes: number; pods: number; rules: number; startupMs: number }>(
      child,
      'ready',
      HTTP.readyTimeoutMs,
    );
    log(`server ready on 127.0.0.1:${ready.port} (${ready.nodes} nodes, ${ready.pods} pods, ${ready.rules} rules, ${ready.startupMs.toFixed(0)} ms)`);
    const usage = async () => {
      child.send({ type: 'usage' }, () => undefined);
      return nextMessage<ServerUsage>(child, 'usage', 10_000);
    };
    const cpuUs = (a: ServerUsage, b: ServerUsage) => b.cpu.user - a.cpu.user + (b.cpu.system - a.cpu.system);
    const paths = LOADS.map((l) => l.route);
    const loadOf = (route: string) => LOADS.find((l) => l.route === route) as Load;
    const urlOf = (route: string) => `https://127.0.0.1:${ready.port}${loadOf(route).path}`;
    const bodyOf = (route: string) => bodies[loadOf(route).body];
    for (const { route, path } of LOADS) {
      const p = await probe(ready.port, path, bodyOf(route));
      const response = (p.json as { response?: Record<string, unknown> }).response ?? {};
      if (p.status !== 200 || response['uid'] !== UID_TAG || !ROUTE_CHECKS[path]?.(response)) {
        throw new Error(`${route} answered ${p.status} ${JSON.stringify(p.json).slice(0, 300)}`);
      }
    }
    const runsOut: HttpRun[] = [];
    for (const connections of HTTP.connections) {
      for (const path of paths) await cannon(urlOf(path), bodyOf(path), HTTP.warmupS, connections, false);
      interface Acc {
        ok: number;
        seconds: number;
        errors: number;
        non2xx: number;
        serverUs: number;
        sysUs: number;
        gcMs: number;
        clientUs: number;
        rounds: number[];
        roundsCpu: number[];
        latencies: Float64Array[];
      }
      const acc = new Map<string, Acc>(
        paths.map((p) => [
          p,
          { ok: 0, seconds: 0, errors: 0, non2xx: 0, serverUs: 0, sysUs: 0, gcMs: 0, clientUs: 0, rounds: [], roundsCpu: [], latencies: [] },
        ]),
      );
      const roundS = HTTP.durationS / HTTP.rounds;
      for (let round = 0; round < HTTP.rounds; round++) {
        // Alternate the order, so that no route always runs first or last in a round.
        const order = round % 2 === 0 ? paths : [...paths].reverse();
        for (const path of order) {
          const a = acc.get(path) as Acc;
          const before = await usage();
          const clientBefore = process.cpuUsage();
          const { result, ok, latencies } = await cannon(urlOf(path), bodyOf(path), roundS, connections, true);
          const client = process.cpuUsage(clientBefore);
          const after = await usage();
          a.ok += ok;
          a.seconds += result.duration;
          a.errors += result.errors;
          a.non2xx += result.non2xx;
          a.serverUs += cpuUs(before, after);
          a.sysUs += after.cpu.system - before.cpu.system;
          a.gcMs += after.gcMs - before.gcMs;
          a.clientUs += client.user + client.system;
          a.rounds.push(ok / result.duration);
          a.roundsCpu.push(ok > 0 ? cpuUs(before, after) / ok : Number.NaN);
          a.latencies.push(latencies.slice());
          log(
            `pods ${ready.pods}, ${connections} conn, round ${round + 1}/${HTTP.rounds} ${path}: ${(ok / result.duration).toFixed(0)} req/s, ${(cpuUs(before, after) / ok).toFixed(0)} µs CPU/req`,
          );
        }
      }
      const routes: RouteRow[] = paths.map((path) => {
        const a = acc.get(path) as Acc;
        const all = new Float64Array(a.latencies.reduce((n, l) => n + l.length, 0));
        let at = 0;
        for (const l of a.latencies) {
          all.set(l, at);
          at += l.length;
        }
        const wallUs = a.seconds * 1e6;
        return {
          route: path,
          reqPerSec: a.ok / a.seconds,
          roundsReqPerSec: a.rounds,
          latencyMs: summarize(all, all.length),
          requests: a.ok,
          errors: a.errors,
          non2xx: a.non2xx,
          serverCpu: a.serverUs / wallUs,
          serverCpuUsPerRequest: a.ok > 0 ? a.serverUs / a.ok : Number.NaN,
          serverSysUsPerRequest: a.ok > 0 ? a.sysUs / a.ok : Number.NaN,
          roundsCpuUsPerRequest: a.roundsCpu,
          gcUsPerRequest: a.ok > 0 ? (a.gcMs * 1000) / a.ok : Number.NaN,
          clientCpu: a.clientUs / wallUs,
          ratioToBaseline: undefined,
          cpuRatioToBaseline: undefined,
          p99RatioToBaseline: undefined,
          meetsTarget: undefined,
        };
      });
      const baseline = routes.find((r) => r.route === '/baseline');
      for (const r of routes) {
        log(
          `pods ${ready.pods}, ${connections} conn, ${r.route}: ${r.reqPerSec.toFixed(0)} req/s, p99 ${r.latencyMs.p99.toFixed(2)} ms, server ${r.serverCpuUsPerRequest.toFixed(0)} µs CPU/request (${(r.serverCpu * 100).toFixed(0)} % of a core)`,
        );
        if (r.route === '/baseline' || !baseline) continue;
        r.ratioToBaseline = r.reqPerSec / baseline.reqPerSec;
        r.cpuRatioToBaseline = baseline.serverCpuUsPerRequest / r.serverCpuUsPerRequest;
        r.p99RatioToBaseline = r.latencyMs.p99 / baseline.latencyMs.p99;
        // /baseline-patch is a reference (the transport's cost of /mutate's answer), not judged; nor is a new pod in
        // every review (the cost when nothing is known of the body: reported apart).
        if (r.route === '/baseline-patch' || loadOf(r.route).body === 'new') continue;
        r.meetsTarget = r.ratioToBaseline >= HTTP_TARGET_RATIO && r.p99RatioToBaseline <= HTTP_TARGET_P99_RATIO;
      }

      // Profiles after the measured rounds (the profiler's own cost stays out of the figures above), under load only.
      const profiles: ProfileRow[] = [];
      if (prof) {
        mkdirSync(resolve(prof), { recursive: true });
        for (const path of paths) {
          const url = urlOf(path);
          const file = join(resolve(prof), `server-pods${ready.pods}-c${connections}-${path.slice(1).replace(/\W+/g, '-')}.cpuprofile`);
          // Load first, then start sampling: no connection set-up and no warm-up in the profile.
          const live = { ok: 0 };
          const load = cannon(url, bodyOf(path), HTTP.profileS + 2, connections, false, live);
          await new Promise((r) => setTimeout(r, 1000));
          const before = await usage();
          child.send({ type: 'profile-start', intervalUs: PROFILE_INTERVAL_US }, () => undefined);
          await nextMessage(child, 'profile-started', 10_000);
          const okBefore = live.ok;
          await new Promise((r) => setTimeout(r, HTTP.profileS * 1000));
          child.send({ type: 'profile-stop', file }, () => undefined);
          const counted = live.ok - okBefore;
          const stopped = nextMessage(child, 'profile', 30_000);
          const after = await usage();
          await stopped;
          await load;
          const b = breakdown(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
          const usPerRequest = Object.fromEntries(PHASES.map(([p]) => [p, b.byPhase[p] / counted])) as Record<Phase, number>;
          profiles.push({
            route: path,
            file,
            requests: counted,
            serverCpuUsPerRequest: cpuUs(before, after) / counted,
            busyUsPerRequest: b.busyUs / counted,
            usPerRequest,
            otherTop: b.otherTop,
          });
          log(`profile ${path} (${connections} conn): ${file}, ${(b.busyUs / counted).toFixed(0)} µs busy/req`);
        }
      }
      runsOut.push({ podsPerNode, pods: ready.pods, connections, serverStartupMs: ready.startupMs, routes, profiles });
    }
    return runsOut;
  } finally {
    await stopChild(child);
  }
}

async function http(): Promise<HttpResult> {
  const bodies = reviewBodies();
  const runsOut: HttpRun[] = [];
  const compiled = compiledBenchDir();
  try {
    for (const podsPerNode of HTTP.podsPerNode) runsOut.push(...(await httpServer(podsPerNode, bodies, compiled?.dir)));
  } finally {
    compiled?.cleanup();
  }
  return {
    compiled: EXT !== '.ts' || compiled !== undefined,
    nodes: HTTP.nodes,
    rules: HTTP.rules,
    warmupS: HTTP.warmupS,
    durationS: HTTP.durationS,
    rounds: HTTP.rounds,
    profileS: HTTP.profileS,
    bodyBytes: Buffer.byteLength(bodies.replica),
    runs: runsOut,
    targetRatio: HTTP_TARGET_RATIO,
  };
}

// ---- phases of a review, in-process ------------------------------------------------------------------------------

const PHASE_ITERATIONS = QUICK ? 1_000 : 10_000;

/** `phases.ts` in a child (compiled, as the server), with the pod cache off and on. */
async function reviewPhases(): Promise<{ compiled: boolean; runs: PhasesResult[] }> {
  const compiled = compiledBenchDir();
  const out: PhasesResult[] = [];
  try {
    for (const podsPerNode of HTTP.podsPerNode) {
      const child = forkChild(
        'phases',
        { BENCH_PODS_PER_NODE: String(podsPerNode), BENCH_ITERATIONS: String(PHASE_ITERATIONS) },
        ['--expose-gc'],
        compiled?.dir,
      );
      try {
        const r = (await nextMessage<{ result: PhasesResult }>(child, 'phases', HTTP.readyTimeoutMs * 2)).result;
        log(
          `phases, ${r.pods} pods: /mutate ${Object.values(r.mutate)
            .reduce((a, b) => a + b, 0)
            .toFixed(0)} µs, /validate ${Object.values(r.validate)
            .reduce((a, b) => a + b, 0)
            .toFixed(0)} µs`,
        );
        out.push(r);
      } finally {
        await stopChild(child);
      }
    }
  } finally {
    compiled?.cleanup();
  }
  return { compiled: EXT !== '.ts' || compiled !== undefined, runs: out };
}

// ---- memory -------------------------------------------------------------------------------------------------------

interface MemoryResult {
  nodes: number;
  rules: number;
  gcExposed: boolean;
  /** Loaded minus baseline, in MiB. */
  rssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  baselineRssMiB: number;
}

async function memory(): Promise<MemoryResult> {
  const child = forkChild('memory', { BENCH_NODES: String(MEMORY.nodes), BENCH_RULES: String(MEMORY.rules) }, ['--expose-gc']);
  try {
    const m = await nextMessage<{ gcExposed: boolean; nodes: number; rules: number; before: NodeJS.MemoryUsage; after: NodeJS.MemoryUsage }>(
      child,
      'memory',
      MEMORY.timeoutMs,
    );
    const mib = (k: keyof NodeJS.MemoryUsage) => (m.after[k] - m.before[k]) / 2 ** 20;
    const result: MemoryResult = {
      nodes: m.nodes,
      rules: m.rules,
      gcExposed: m.gcExposed,
      rssMiB: mib('rss'),
      heapUsedMiB: mib('heapUsed'),
      externalMiB: mib('external'),
      arrayBuffersMiB: mib('arrayBuffers'),
      baselineRssMiB: m.before.rss / 2 ** 20,
    };
    log(`memory, ${m.nodes} nodes + ${m.rules} rules: rss +${result.rssMiB.toFixed(1)} MiB, heapUsed +${result.heapUsedMiB.toFixed(1)} MiB`);
    return result;
  } finally {
    await stopChild(child);
  }
}

// ---- report -------------------------------------------------------------------------------------------------------

interface Report {
  environment: Record<string, unknown>;
  engine?: EngineResult;
  pods?: PodsResult;
  podCache?: PodCacheResult;
  http?: HttpResult;
  phases?: { compiled: boolean; runs: PhasesResult[] };
  memory?: MemoryResult;
  targets: { name: string; value: number; target: string; met: boolean }[];
}

const f = (x: number | undefined, digits = 1) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));
const mark = (met: boolean | undefined) => (met === undefined ? '' : met ? 'met' : '**MISSED**');

function markdown(r: Report): string {
  const out: string[] = [];
  const e = r.environment;
  out.push('# placement-webhook benchmark', '');
  out.push(
    `${String(e['date'])} · node ${String(e['node'])} · ${String(e['cpus'])} × ${String(e['cpuModel'])} · ${String(e['memGiB'])} GiB${QUICK ? ' · **--quick** (small counts, not for comparison)' : ''}`,
    '',
  );
  // The load at the end includes the benchmark's own processes; only the load at the start tells of others.
  const busy = Number(e['loadAverageAtStart']) > Number(e['cpus']) * 0.5;
  out.push(
    `1-minute load average ${Number(e['loadAverageAtStart']).toFixed(1)} at start (${Number(e['loadAverageAtEnd']).toFixed(1)} at end, the benchmark's own load included)${busy ? ' — **other processes were using the CPU: figures are noisy**' : ''}; total ${String(e['totalSeconds'])} s.`,
    '',
  );

  if (r.engine) {
    const { validate, index, mutate, reload: rl } = r.engine;
    out.push('## Validate, engine only: `evaluate(podConstraints(pod), index)` per call (µs)', '');
    out.push('| nodes | pod | verdict | p50 | p99 | mean | max | iterations | target p99 ≤ 100 µs |', '|---:|---|---|---:|---:|---:|---:|---:|---|');
    for (const v of validate) {
      out.push(
        `| ${v.nodes} | ${v.pod} | ${v.verdict} | ${f(v.stats.p50)} | ${f(v.stats.p99)} | ${f(v.stats.mean)} | ${f(v.stats.max)} | ${v.stats.iterations} | ${mark(v.meetsTarget)} |`,
      );
    }
    out.push('', 'Pods: ' + ENGINE_PODS.map((p) => `\`${p.name}\`: ${p.what}`).join('; ') + '.', '');
    out.push('## Node index', '');
    out.push(
      '| nodes | build (ms, median) | shapes | words | cordoned | upsert p50 (µs) | upsert p99 (µs) | upsert max (µs) | upserts |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const i of index) {
      out.push(
        `| ${i.nodes} | ${f(i.buildMs)} | ${i.postings.shapes} | ${i.postings.words} | ${i.postings.cordoned} | ${f(i.upsert.p50)} | ${f(i.upsert.p99)} | ${f(i.upsert.max)} | ${i.upsert.iterations} |`,
      );
    }
    out.push('', '## Mutate, engine only: `mutatePod` + `diff` per call (µs)', '');
    out.push('| rules | matched | patch ops | p50 | p99 | mean | max | iterations |', '|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const m of mutate) {
      out.push(
        `| ${m.rules} | ${m.matchedRules} | ${m.patchOperations} | ${f(m.stats.p50)} | ${f(m.stats.p99)} | ${f(m.stats.mean)} | ${f(m.stats.max)} | ${m.stats.iterations} |`,
      );
    }
    out.push('', '## Rules reload (ms)', '');
    out.push(
      '| rules | YAML | lint warnings | parseRules p50 | parseRules min | parseRules max | compileRules alone p50 | runs |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    out.push(
      `| ${rl.rules} | ${(rl.yamlBytes / 1024).toFixed(0)} KiB | ${rl.lintWarnings} | ${f(rl.parseRulesMs.p50)} | ${f(rl.parseRulesMs.min)} | ${f(rl.parseRulesMs.max)} | ${f(rl.compileOnlyMs.p50)} | ${rl.parseRulesMs.iterations} |`,
      '',
    );
    const ot = r.engine.offThread;
    if (ot) {
      out.push(
        `As the server reloads (${ot.compiled ? 'compiled by tsc' : '**under tsx**'}; checked in the rules-check thread, compiled here a slice of a turn at a time, ${ot.warnings} lint warnings of which 20 logged), ${ot.rules} rules, ${ot.runs} runs of each edit; the longest delay of a 1 ms timer per run (the target is judged on the first row, the worst case):`,
        '',
      );
      out.push(
        '| edit | longest delay p50 | p90 | max | target | | longest GC pause p50 | max | rule set in force p50 | ConfigMap check p50 | fallbacks |',
        '|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|',
      );
      const o = ot.oneRule;
      out.push(
        `| every rule, not checked before | ${f(ot.longestBlockMs.p50)} | ${f(ot.longestBlockMs.p90)} | ${f(ot.longestBlockMs.max)} | ≤ ${RELOAD_BLOCK_TARGET_MS} | ${mark(ot.longestBlockMs.max <= RELOAD_BLOCK_TARGET_MS)} | ${f(ot.longestGcMs.p50)} | ${f(ot.longestGcMs.max)} | ${f(ot.inForceMs.p50, 0)} | ${f(ot.checkMs.p50, 0)} | ${ot.fallbacks} |`,
        `| every rule, after the ConfigMap check of the same text | ${f(ot.checkedFirst.longestBlockMs.p50)} | ${f(ot.checkedFirst.longestBlockMs.p90)} | ${f(ot.checkedFirst.longestBlockMs.max)} | | | ${f(ot.checkedFirst.longestGcMs.p50)} | ${f(ot.checkedFirst.longestGcMs.max)} | ${f(ot.checkedFirst.inForceMs.p50, 0)} | | |`,
        `| one rule | ${f(o.longestBlockMs.p50)} | ${f(o.longestBlockMs.p90)} | ${f(o.longestBlockMs.max)} | | | ${f(o.longestGcMs.p50)} | ${f(o.longestGcMs.max)} | ${f(o.inForceMs.p50, 0)} | | |`,
        `| none: the ConfigMap check alone (this thread waits) | ${f(ot.checkDelayMs.p50)} | ${f(ot.checkDelayMs.p90)} | ${f(ot.checkDelayMs.max)} | | | | | | | |`,
        '',
        'The last row is the floor of this machine: the delay the check in the other thread causes on this one when this one has nothing to do.',
        '',
      );
    }
  }

  if (r.pods) {
    const p = r.pods;
    out.push(`## Pod-aware validation: ${p.pods} bound pods on ${p.nodes} nodes (µs per review: both questions)`, '');
    out.push('| pod | verdict | p50 | p99 | mean | max | iterations | target p99 | |', '|---|---|---:|---:|---:|---:|---:|---:|---|');
    for (const row of p.rows) {
      out.push(
        `| ${row.pod} | ${row.verdict} | ${f(row.stats.p50)} | ${f(row.stats.p99)} | ${f(row.stats.mean)} | ${f(row.stats.max)} | ${row.stats.iterations} | ≤ ${row.targetP99Us} | ${mark(row.meetsTarget)} |`,
      );
    }
    out.push('', 'Pods: ' + p.rows.map((row) => `\`${row.pod}\`: ${row.what}`).join('; ') + '.', '');
    out.push(
      `Reading the ${p.pods} pods (JSON, in pages): ${f(p.loadMs, 0)} ms; pod events (read + upsert of a modified pod): ${f(p.eventsPerSecond, 0)}/s (target ≥ ${POD_EVENTS_TARGET}).`,
    );
    if (p.memory)
      out.push(
        `Memory of the pod cache (fresh process): ${f(p.memory.heapBytesPerPod, 0)} B/pod of heap, ${f(p.memory.rssBytesPerPod, 0)} B/pod of RSS (target ≤ ${POD_BYTES_TARGET}).`,
      );
    out.push('');
  }
  if (r.podCache) out.push(podCacheMarkdown(r.podCache));

  if (r.http) {
    const h = r.http;
    out.push(
      `## HTTPS keep-alive (autocannon, server ${h.compiled ? 'compiled by tsc' : '**under tsx**'}, ${h.durationS} s per route in ${h.rounds} alternating round(s), after ${h.warmupS} s warm-up; ${h.nodes} nodes, ${h.rules} rules; body ${h.bodyBytes} B)`,
      '',
    );
    out.push(
      `| pods | conn | route | req/s | req/s per round | p50 (ms) | p99 (ms) | requests | errors | non-2xx | server CPU | server CPU µs/req | of which kernel | per round | GC µs/req | client CPU | ÷ baseline (req/s) | ÷ baseline (CPU/req) | p99 ÷ baseline | target: ≥ ${HTTP_TARGET_RATIO} and p99 ≤ ${HTTP_TARGET_P99_RATIO}× (goal ≥ ${HTTP_GOAL_RATIO}) |`,
      '|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|',
    );
    for (const run of h.runs) {
      for (const x of run.routes) {
        out.push(
          `| ${run.pods} | ${run.connections} | ${x.route} | ${f(x.reqPerSec, 0)} | ${x.roundsReqPerSec.map((v) => f(v, 0)).join(' / ')} | ${f(x.latencyMs.p50, 2)} | ${f(x.latencyMs.p99, 2)} | ${x.requests} | ${x.errors} | ${x.non2xx} | ${f(x.serverCpu * 100, 0)} % | ${f(x.serverCpuUsPerRequest, 0)} | ${f(x.serverSysUsPerRequest, 0)} | ${x.roundsCpuUsPerRequest.map((v) => f(v, 0)).join(' / ')} | ${f(x.gcUsPerRequest, 1)} | ${f(x.clientCpu * 100, 0)} % | ${f(x.ratioToBaseline, 2)} | ${f(x.cpuRatioToBaseline, 2)} | ${f(x.p99RatioToBaseline, 2)} | ${mark(x.meetsTarget)} |`,
        );
      }
    }
    out.push(
      '',
      'Server: forked child process (`bench/server.ts`), one per pod count (0: pod cache off; else the pods bound to the nodes, in the pod index); load generator in this process. ' +
        'CPU columns are CPU time over wall time (100 % = one core); a server below ~95 % was not saturated (latency-bound, or the CPU was shared). ' +
        '"÷ baseline (CPU/req)" is baseline server CPU per request over the route\'s: the req/s ratio of a saturated server, and the figure least disturbed by other load. ' +
        'GC µs/req: main-thread GC pauses per response.',
      '',
    );
    const profiled = h.runs.filter((run) => run.profiles.length > 0);
    if (profiled.length > 0) {
      out.push(`### Per-request cost by phase (CPU profile under steady load, ${h.profileS} s per route, µs per request of the main thread)`, '');
      const cols = profiled.flatMap((run) => run.profiles.map((p) => ({ run, p })));
      out.push(
        `| phase | ${cols.map(({ run, p }) => `${p.route} ${run.connections}c ${run.pods > 0 ? 'pods' : 'no pods'}`).join(' | ')} |`,
        `|---|${cols.map(() => '---:').join('|')}|`,
      );
      for (const [phase, what] of PHASES) out.push(`| ${what} | ${cols.map(({ p }) => f(p.usPerRequest[phase], 1)).join(' | ')} |`);
      out.push(`| **main thread, sampled** | ${cols.map(({ p }) => f(p.busyUsPerRequest, 1)).join(' | ')} |`);
      out.push(`| process CPU (all threads) in the window | ${cols.map(({ p }) => f(p.serverCpuUsPerRequest, 1)).join(' | ')} |`, '');
      out.push('Profiles: ' + cols.map(({ p }) => `\`${p.file}\``).join(', ') + '.', '');
    }
  }

  if (r.phases) {
    const { runs: pr } = r.phases;
    out.push(
      `## Phases of a review, in-process (median µs per step, mean of the total, over ${pr[0]?.iterations ?? 0} iterations, ${r.phases.compiled ? 'compiled by tsc' : '**under tsx**'}; no transport)`,
      '',
    );
    out.push(
      `| route | step | ${pr.map((x) => (x.pods > 0 ? `${x.pods} pods` : 'pod cache off')).join(' | ')} |`,
      `|---|---|${pr.map(() => '---:').join('|')}|`,
    );
    for (const route of ['mutate', 'validate'] as const) {
      for (const step of STEPS[route]) out.push(`| /${route} | ${STEP_WHAT[step] ?? step} | ${pr.map((x) => f(x[route][step], 1)).join(' | ')} |`);
      const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
      out.push(`| /${route} | sum of the medians | ${pr.map((x) => f(sum(x[route]), 1)).join(' | ')} |`);
      out.push(
        `| /${route} | **mean total** (GC pauses included) | ${pr.map((x) => f(sum(route === 'mutate' ? x.mutateMean : x.validateMean), 1)).join(' | ')} |`,
      );
    }
    out.push(
      `| both | main-thread GC pauses per iteration (one review of each route) | ${pr.map((x) => f(x.gcUsPerIteration, 1)).join(' | ')} |`,
      '',
    );
  }

  if (r.memory) {
    const m = r.memory;
    out.push('## Memory (fresh child process, loaded minus baseline, MiB)', '');
    out.push('| nodes | rules | RSS | heapUsed | external | arrayBuffers | baseline RSS | gc exposed |', '|---:|---:|---:|---:|---:|---:|---:|---|');
    out.push(
      `| ${m.nodes} | ${m.rules} | ${f(m.rssMiB)} | ${f(m.heapUsedMiB)} | ${f(m.externalMiB, 2)} | ${f(m.arrayBuffersMiB, 2)} | ${f(m.baselineRssMiB)} | ${m.gcExposed ? 'yes' : 'no'} |`,
      '',
    );
  }

  if (r.targets.length > 0) {
    out.push('## Targets', '', '| figure | value | target | |', '|---|---:|---|---|');
    for (const t of r.targets) out.push(`| ${t.name} | ${f(t.value, 2)} | ${t.target} | ${t.met ? 'met' : '**MISSED**'} |`);
    out.push('');
  }
  return out.join('\n');
}

function targets(r: Report): Report['targets'] {
  const list: Report['targets'] = [];
  for (const v of r.engine?.validate ?? []) {
    if (v.meetsTarget === undefined) continue;
    list.push({
      name: `validate p99 at ${v.nodes} nodes, ${v.pod} (µs)`,
      value: v.stats.p99,
      target: `≤ ${VALIDATE_TARGET_P99_US}`,
      met: v.meetsTarget,
    });
  }
  for (const row of r.pods?.rows ?? []) {
    list.push({ name: `pod-aware review p99, ${row.pod} (µs)`, value: row.stats.p99, target: `≤ ${row.targetP99Us}`, met: row.meetsTarget });
  }
  const ot = r.engine?.offThread;
  if (ot)
    list.push({
      name: `longest event-loop block during a ${ot.rules}-rule reload (ms)`,
      value: ot.longestBlockMs.max,
      target: `≤ ${RELOAD_BLOCK_TARGET_MS}`,
      met: ot.longestBlockMs.max <= RELOAD_BLOCK_TARGET_MS,
    });
  if (r.pods)
    list.push({
      name: 'pod events applied per second',
      value: r.pods.eventsPerSecond,
      target: `≥ ${POD_EVENTS_TARGET}`,
      met: r.pods.eventsPerSecond >= POD_EVENTS_TARGET,
    });
  if (r.pods?.memory)
    list.push({
      name: 'pod cache RSS per pod (B)',
      value: r.pods.memory.rssBytesPerPod,
      target: `≤ ${POD_BYTES_TARGET}`,
      met: r.pods.memory.rssBytesPerPod <= POD_BYTES_TARGET,
    });
  if (r.podCache) list.push(...podCacheTargets(r.podCache));
  for (const run of r.http?.runs ?? []) {
    for (const x of run.routes) {
      if (x.meetsTarget === undefined || run.connections !== HTTP_TARGET_CONNECTIONS) continue;
      const at = `${run.connections} connections, ${run.pods > 0 ? `${run.pods} pods` : 'pod cache off'}`;
      list.push({
        name: `${x.route} req/s ÷ /baseline req/s (${at}); p99 ÷ baseline ${f(x.p99RatioToBaseline, 2)}`,
        value: x.ratioToBaseline ?? Number.NaN,
        target: `≥ ${HTTP_TARGET_RATIO}, p99 ≤ ${HTTP_TARGET_P99_RATIO}× (goal ≥ ${HTTP_GOAL_RATIO})`,
        met: x.meetsTarget,
      });
    }
  }
  return list;
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  const report: Report = {
    environment: {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      quick: QUICK,
      only: flags.only ?? null,
      seed: DEFAULT_SEED,
      loadAverageAtStart: os.loadavg()[0],
    },
    targets: [],
  };
  const started = performance.now();
  if ((os.loadavg()[0] ?? 0) > cpus.length * 0.5) {
    log(`load average ${os.loadavg()[0]?.toFixed(1)} on ${cpus.length} cpus: other processes compete for the CPU, figures will be noisy`);
  }
  if (runs('engine')) {
    report.engine = engine();
    report.engine.offThread = await offThreadReload();
  }
  if (runs('pods')) {
    report.pods = podsEngine();
    report.pods.memory = await podMemory();
  }
  if (runs('pod-cache')) report.podCache = await podCacheBench({ pods: QUICK ? 20_000 : 150_000 });
  if (runs('memory')) report.memory = await memory();
  if (runs('http')) report.http = await http();
  if (runs('phases')) report.phases = await reviewPhases();
  report.targets = targets(report);
  report.environment['loadAverageAtEnd'] = os.loadavg()[0];
  report.environment['totalSeconds'] = Math.round((performance.now() - started) / 100) / 10;
  log(`done in ${String(report.environment['totalSeconds'])} s`);
  const { environment, engine: e, pods: p, podCache: pc, http: h, phases: ph, memory: m, targets: t } = report;
  const ordered = { environment, engine: e, pods: p, podCache: pc, http: h, phases: ph, memory: m, targets: t };
  process.stdout.write(flags.json ? `${JSON.stringify(ordered, null, 2)}\n` : `${markdown(report)}\n`);
  sink(sinkValue);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
