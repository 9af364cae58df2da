/**
 * How many cases each fuzz property runs. Every property names its own count for a plain `vitest run` (chosen so
 * that the whole suite stays fast); `FUZZ_RUNS=N` replaces every count with N (`test/fuzz/run.ts --runs N` sets
 * it). `FUZZ_SEED` fixes fast-check's seed, to replay a run it printed. They are read here and nowhere else.
 */
import type { Parameters } from 'fast-check';

function integer(name: string, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer of at least ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

const override = integer('FUZZ_RUNS', 1);
const seed = integer('FUZZ_SEED', Number.MIN_SAFE_INTEGER);

/** The runs of a property whose count in a plain `vitest run` is `ciRuns`. */
export function runsOf(ciRuns: number): number {
  return override ?? ciRuns;
}

/**
 * The time a property may take: generous per case (a slow case is not a failure of the property; a hang is), never
 * below a minute.
 */
export function timeoutOf(ciRuns: number, perCaseMs = 50): number {
  return Math.max(60_000, runsOf(ciRuns) * perCaseMs);
}

/**
 * fast-check parameters for a property whose count in a plain `vitest run` is `ciRuns`. fast-check stops itself a
 * little before vitest's timeout (`timeoutOf` with the same arguments), so that a counterexample found, and shrunk
 * so far, is still reported; a run cut short that way fails.
 */
export function fuzzParameters<T>(ciRuns: number, perCaseMs?: number): Parameters<T> {
  return {
    numRuns: runsOf(ciRuns),
    interruptAfterTimeLimit: timeoutOf(ciRuns, perCaseMs) - 5_000,
    markInterruptAsFailure: true,
    ...(seed === undefined ? {} : { seed }),
  };
}

/**
 * Runs a property and prints how many cases it ran and the CPU time they took (user and system), so that the
 * suite's cost per property can be read from any run.
 */
export async function measured(label: string, ciRuns: number, run: () => void | Promise<void>): Promise<void> {
  const before = process.cpuUsage();
  const started = performance.now();
  try {
    await run();
  } finally {
    const cpu = process.cpuUsage(before);
    const seconds = (n: number) => (n / 1e6).toFixed(1);
    console.log(
      `fuzz ${label}: ${runsOf(ciRuns)} cases, ${seconds(cpu.user + cpu.system)} s CPU, ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
}
