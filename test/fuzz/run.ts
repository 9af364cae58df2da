/**
 * Runs the fuzz suite alone, with more (or fewer) cases: `tsx test/fuzz/run.ts --runs N` runs every fuzz property
 * N times (`FUZZ_RUNS=N`) and exits with vitest's code. `--seed S` replays a seed fast-check printed; every other
 * argument goes to vitest as it is (`--runs 20000 -t parseRules`).
 */
import { spawn } from 'node:child_process';

const env: Record<string, string | undefined> = { ...process.env };
const passed: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i] as string;
  const m = /^--(runs|seed)(?:=(.*))?$/.exec(arg);
  if (!m) {
    passed.push(arg);
    continue;
  }
  const value = m[2] ?? args[++i];
  if (value === undefined || !/^-?[0-9]+$/.test(value) || (m[1] === 'runs' && !/^[1-9][0-9]*$/.test(value))) {
    process.stderr.write(`--${m[1]} takes ${m[1] === 'runs' ? 'a positive integer' : 'an integer'}, got ${JSON.stringify(value ?? '')}\n`);
    process.exit(2);
  }
  env[m[1] === 'runs' ? 'FUZZ_RUNS' : 'FUZZ_SEED'] = value;
}

const started = Date.now();
const child = spawn('npx', ['vitest', 'run', '--project', 'fuzz', ...passed], { stdio: 'inherit', env });
child.on('exit', (code, signal) => {
  process.stderr.write(`fuzz: ${env['FUZZ_RUNS'] ?? 'the default number of'} runs per property, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  process.exit(code ?? (signal ? 1 : 0));
});
