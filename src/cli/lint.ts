import { parseArgs } from 'node:util';
import { formatFieldError } from '../util/errors.js';
import { parseRules } from '../rules/compile.js';
import { readText, UsageError } from './inputs.js';

/** `placement-webhook lint FILE`: every error with its field path; exit 1 on errors. Warnings do not fail. */
export async function lint(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError('lint takes exactly one FILE (or - for stdin)');
  const file = positionals[0] as string;
  const result = parseRules(await readText(file));
  for (const w of result.warnings) process.stdout.write(`${file}: warning: ${formatFieldError(w)}\n`);
  if (!result.ok) {
    for (const e of result.errors) process.stdout.write(`${file}: error: ${formatFieldError(e)}\n`);
    process.stdout.write(`${file}: ${result.errors.length} error(s)\n`);
    return 1;
  }
  process.stdout.write(`${file}: valid, ${result.ruleSet.rules.length} rule(s)\n`);
  return 0;
}
