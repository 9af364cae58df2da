/**
 * A rules reload as the server does it, in its own process (forked by `run.ts`, compiled like the server): the
 * document checked in the rules-check thread (`RulesChecker.compile`), its rules compiled here a slice of a turn at a
 * time, its warnings logged through the production logger (stdout: /dev/null here), the rule set swapped in.
 * Meanwhile a 1 ms timer measures how late this thread's event loop runs it: the longest delay is what a review
 * arriving during the reload waits at most.
 *
 * Per run, as a ConfigMap edit goes: the ConfigMap check of a new document (timed, and the 1 ms timer during it:
 * the delay the check in the other thread causes this thread when it only waits), then its reload (every rule
 * compiled, the check reused). Then a reload whose text was not checked first, every rule changed (each rule's
 * description names the run: the worst case, checked and compiled whole, as on a replica that did not answer the
 * webhook's call), then one rule changed in that document (checked; one rule compiled, the others shared).
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
  /** Every rule changed, the text not checked before: the worst case (`checkMs`, `checkDelayMs`: the run's check). */
  runs: ReloadRun[];
  /** Every rule changed, the text checked just before (the ConfigMap check of the edit): `checkMs`, `checkDelayMs` 0. */
  checkedRuns: ReloadRun[];
  /** One rule changed, not checked before (`checkMs` and `checkDelayMs` are 0). */
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
  // Made before the runs: making them is not part of a reload. Of the three texts of a run, the second differs from
  // the first in every rule, the third from the second in one rule (and the first from the last run's third in all).
  const checkedFirst = Array.from({ length: runs + 1 }, (_, run) => edited(() => `edit ${run}`));
  const everyRule = Array.from({ length: runs + 1 }, (_, run) => edited(() => `edit ${run}, unchecked`));
  const oneRule = Array.from({ length: runs + 1 }, (_, run) =>
    edited((i) => (i === middle ? `edit ${run}, unchecked, one rule` : `edit ${run}, unchecked`)),
  );
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
  /** A 1 ms timer; `stop()` stops it and returns the most it ran late (ms). */
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
  const outChecked: ReloadRun[] = [];
  const outOne: ReloadRun[] = [];
  try {
    for (let i = 0; i <= runs; i++) {
      // As a ConfigMap edit goes: the validating webhook's check, then the reload of the same text.
      const t = performance.now();
      const ticker = ticking();
      await checker.check(checkedFirst[i] as string);
      const checkMs = performance.now() - t;
      const checkDelayMs = ticker.stop();
      const checked = await reload(checkedFirst[i] as string, `${i}-checked`);
      // A reload whose text was not checked first (this replica did not answer the webhook's call): the worst case.
      const every = { ...(await reload(everyRule[i] as string, `${i}`)), checkMs, checkDelayMs };
      const one = await reload(oneRule[i] as string, `${i}-one`);
      // The first run (the thread starting, this thread's code warming up) is not counted.
      if (i > 0) {
        out.push(every);
        outChecked.push(checked);
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
    checkedRuns: outChecked,
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
