/**
 * A rules reload as the server does it, in its own process (forked by `run.ts`, compiled like the server): the
 * document checked in the rules-check thread (`RulesChecker.compile`), its rules compiled here a batch per turn, its
 * warnings logged through the production logger (stdout: /dev/null here), the rule set swapped in. Meanwhile a 1 ms timer
 * measures how late this thread's event loop runs it: the longest delay is what a review arriving during the reload
 * waits at most. Then the ConfigMap check of the same document (`RulesChecker.check`), timed on its own.
 *
 * `BENCH_RULES` rules (1,000), `BENCH_RUNS` runs (5) after one to start and warm the thread. The result goes to the
 * parent as `{ type: 'reload', result }`.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { createLogger } from '../src/cli/serve.js';
import { logRulesWarnings } from '../src/cluster/live.js';
import { RulesChecker } from '../src/cluster/rules-checker.js';
import { listedWarnings } from '../src/rules/compile.js';
import { generateRulesDocument } from './generate.js';

export interface ReloadRun {
  /** The longest the 1 ms timer ran late during the reload (ms): how long a review could have waited. */
  longestDelayMs: number;
  /** The longest main-thread GC pause during the reload (ms). */
  longestGcMs: number;
  /** From the edit to the rule set in force, warnings logged (ms). */
  inForceMs: number;
  /** The ConfigMap check of the same document (ms). */
  checkMs: number;
}

export interface ReloadChildResult {
  rules: number;
  yamlBytes: number;
  runs: ReloadRun[];
  /** Lint warnings of the document (a few are logged, the rest counted). */
  warnings: number;
  fallbacks: number;
}

const TICK_MS = 1;

async function main(): Promise<void> {
  const rules = Number(process.env['BENCH_RULES'] ?? '1000');
  const runs = Number(process.env['BENCH_RUNS'] ?? '5');
  const text = stringify(generateRulesDocument(rules));
  // The production logger, as `serve` makes it: stdout, which the parent points at /dev/null.
  const logger = createLogger('info');
  const checker = new RulesChecker({ logger });
  let gcMax = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMax = Math.max(gcMax, e.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  // The rule set in force, held as the server holds it until the next one replaces it.
  let ruleSet: unknown;
  let warnings: number;
  const out: ReloadRun[] = [];
  try {
    const first = await checker.compile(text); // the thread is up and warm
    const { listed, more } = listedWarnings(first);
    warnings = listed.length + more;
    for (let i = 0; i <= runs; i++) {
      let longest = 0;
      let last = performance.now();
      const ticker = setInterval(() => {
        const now = performance.now();
        longest = Math.max(longest, now - last - TICK_MS);
        last = now;
      }, TICK_MS);
      gcMax = 0;
      const started = performance.now();
      const result = await checker.compile(text);
      logRulesWarnings(logger, { configMap: 'placement-webhook/placement-webhook-rules', resourceVersion: String(i) }, result);
      if (!result.ok) throw new Error('the generated rules do not compile');
      ruleSet = result.ruleSet;
      const inForceMs = performance.now() - started;
      // A review arriving right after the swap waits for what is left of this turn: one more tick.
      await new Promise((r) => setTimeout(r, 5 * TICK_MS));
      clearInterval(ticker);
      const t = performance.now();
      await checker.check(text);
      const checkMs = performance.now() - t;
      // The first run after the warm-up one is still warming the compiled code of this thread: not counted.
      if (i > 0) out.push({ longestDelayMs: Math.max(0, longest), longestGcMs: gcMax, inForceMs, checkMs });
    }
  } finally {
    await checker.close();
    gc.disconnect();
  }
  if (ruleSet === undefined) throw new Error('no rule set');
  const result: ReloadChildResult = { rules, yamlBytes: Buffer.byteLength(text), runs: out, warnings, fallbacks: checker.fallbacks };
  process.send?.({ type: 'reload', result });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench reload: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
