/**
 * A rules reload as the server does it, in its own process (forked by `run.ts`, compiled like the server): the
 * document checked in the rules-check thread (`RulesChecker.compile`), its rules compiled here a slice of a turn at a
 * time, its warnings logged through the production logger (stdout: /dev/null here), the rule set swapped in.
 * Meanwhile a 1 ms timer measures how late this thread's event loop runs it: the longest delay is what a review
 * arriving during the reload waits at most. Then the ConfigMap check of the same document (`RulesChecker.check`),
 * timed on its own.
 *
 * Two edits per run: every rule changed (each rule's description names the run, so no rule is the last document's:
 * the worst case, every rule compiled), then one rule changed in that document (the common edit: one rule
 * compiled, the others shared with the rule set in force).
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
  /**
   * The longest the 1 ms timer ran late during that check, when this thread has nothing to do but take the verdict
   * (ms): what the check in the other thread costs this one on the machine (its share of the CPU, memory and caches).
   */
  checkDelayMs: number;
}

export interface ReloadChildResult {
  rules: number;
  yamlBytes: number;
  /** Every rule changed. */
  runs: ReloadRun[];
  /** One rule changed (no ConfigMap check: `checkMs` and `checkDelayMs` are 0). */
  oneRuleRuns: ReloadRun[];
  /** Lint warnings of the document (a few are logged, the rest counted). */
  warnings: number;
  fallbacks: number;
}

const TICK_MS = 1;

async function main(): Promise<void> {
  const rules = Number(process.env['BENCH_RULES'] ?? '1000');
  const runs = Number(process.env['BENCH_RUNS'] ?? '5');
  const doc = generateRulesDocument(rules) as { rules: Record<string, unknown>[] };
  const edited = (description: (i: number) => string) =>
    stringify({ ...doc, rules: doc.rules.map((r, i) => ({ ...r, description: description(i) })) });
  const middle = Math.floor(rules / 2);
  // Made before the runs: making them is not part of a reload.
  const everyRule = Array.from({ length: runs + 1 }, (_, run) => edited(() => `edit ${run}`));
  const oneRule = Array.from({ length: runs + 1 }, (_, run) => edited((i) => (i === middle ? `edit ${run}, one rule` : `edit ${run}`)));
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
  let warnings = 0;
  /** A 1 ms timer; `longest()` is the most it ran late so far (ms). */
  const ticking = () => {
    let longest = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last - TICK_MS);
      last = now;
    }, TICK_MS);
    return {
      stop: () => {
        clearInterval(ticker);
        return Math.max(0, longest);
      },
    };
  };
  const reload = async (text: string, resourceVersion: string): Promise<ReloadRun> => {
    const ticker = ticking();
    gcMax = 0;
    const started = performance.now();
    const result = await checker.compile(text);
    logRulesWarnings(logger, { configMap: 'placement-webhook/placement-webhook-rules', resourceVersion }, result);
    if (!result.ok) throw new Error('the generated rules do not compile');
    ruleSet = result.ruleSet;
    const inForceMs = performance.now() - started;
    // A review arriving right after the swap waits for what is left of this turn: one more tick.
    await new Promise((r) => setTimeout(r, 5 * TICK_MS));
    const longestDelayMs = ticker.stop();
    const { listed, more } = listedWarnings(result);
    warnings = listed.length + more;
    return { longestDelayMs, longestGcMs: gcMax, inForceMs, checkMs: 0, checkDelayMs: 0 };
  };
  const out: ReloadRun[] = [];
  const outOne: ReloadRun[] = [];
  try {
    for (let i = 0; i <= runs; i++) {
      const every = await reload(everyRule[i] as string, `${i}`);
      const t = performance.now();
      const ticker = ticking();
      await checker.check(everyRule[i] as string);
      every.checkMs = performance.now() - t;
      every.checkDelayMs = ticker.stop();
      const one = await reload(oneRule[i] as string, `${i}-one`);
      // The first run (the thread starting, this thread's code warming up) is not counted.
      if (i > 0) {
        out.push(every);
        outOne.push(one);
      }
    }
  } finally {
    await checker.close();
    gc.disconnect();
  }
  if (ruleSet === undefined) throw new Error('no rule set');
  const result: ReloadChildResult = {
    rules,
    yamlBytes: Buffer.byteLength(everyRule[0] as string),
    runs: out,
    oneRuleRuns: outOne,
    warnings,
    fallbacks: checker.fallbacks,
  };
  process.send?.({ type: 'reload', result });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench reload: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
