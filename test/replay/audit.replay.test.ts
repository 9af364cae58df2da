/**
 * Golden replay of `audit` and `whatif`: every snapshot under `test/replay/audit/<snapshot>/` (nodes, pods, rules,
 * namespaces, workloads, PDBs, what a change reads) lists its cases in `cases.yaml`; each case runs through the CLI
 * (`run`) once per format, and stdout must equal `golden/<case>.txt` / `golden/<case>.json` (rewritten with
 * `UPDATE_GOLDEN=1`), the exit code the case's `exit`. The JSON output must also keep the documented shape.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FINDING_KINDS, SEVERITIES } from '../../src/audit/findings.js';
import { run } from '../../src/cli/run.js';
import { captureOutput } from '../support/output.js';

const ROOT = join(import.meta.dirname, 'audit');
const updating = process.env['UPDATE_GOLDEN'] === '1';
/** A run loads the CLI's modules the first time: on a loaded machine that alone can take seconds. */
const TIMEOUT_MS = 60_000;

interface Case {
  readonly name: string;
  readonly command: 'audit' | 'whatif';
  readonly args: readonly string[];
  readonly exit: number;
}

const snapshots = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

const casesOf = (snapshot: string): Case[] => parse(readFileSync(join(ROOT, snapshot, 'cases.yaml'), 'utf8')) as Case[];

const { out, err } = captureOutput();

/** The case's arguments, with the snapshot's files named by path (relative to the working directory). */
function argv(snapshot: string, c: Case, format: string): string[] {
  const dir = join(ROOT, snapshot);
  const args = c.args.map((a) => (existsSync(join(dir, a)) ? relative(process.cwd(), join(dir, a)) : a));
  return [c.command, ...args, '-o', format];
}

function expectGolden(file: string, actual: string): void {
  if (updating) {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) expect.fail(`golden file ${file} is missing; run the suite with UPDATE_GOLDEN=1 and review what it writes`);
  expect(actual, `golden ${file} (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(file, 'utf8'));
}

describe('audit and whatif replay', () => {
  it('has snapshots with cases for both commands, some exiting 0 and some 1', () => {
    const all = snapshots.flatMap(casesOf);
    expect(all.some((c) => c.command === 'audit')).toBe(true);
    expect(all.filter((c) => c.command === 'whatif').map((c) => c.exit)).toEqual(expect.arrayContaining([0, 1]));
  });

  describe.each(snapshots)('%s', (snapshot) => {
    describe.each(casesOf(snapshot))('$name', (c) => {
      it.each(['text', 'json'])(
        'prints what golden/%s says, with its exit code',
        async (format) => {
          const code = await run(argv(snapshot, c, format));
          expect(
            err.filter((l) => l.startsWith('error')),
            err.join(''),
          ).toEqual([]);
          expectGolden(join(ROOT, snapshot, 'golden', `${c.name}.${format === 'text' ? 'txt' : 'json'}`), out.join(''));
          expect(code).toBe(c.exit);
        },
        TIMEOUT_MS,
      );

      it(
        'prints findings of the documented shape, and exits 1 exactly when one is warn or fail',
        async () => {
          const code = await run(argv(snapshot, c, 'json'));
          const report = JSON.parse(out.join('')) as { findings: Record<string, unknown>[] };
          for (const f of report.findings) {
            expect(FINDING_KINDS).toContain(f['kind']);
            expect(SEVERITIES).toContain(f['severity']);
            expect(Object.keys(f).slice(0, 4)).toEqual(['kind', 'severity', 'namespace', 'object']);
            expect(typeof f['rule']).toBe('string');
            expect(typeof f['message']).toBe('string');
          }
          expect(code).toBe(report.findings.some((f) => f['severity'] !== 'info') ? 1 : 0);
        },
        TIMEOUT_MS,
      );
    });
  });
});
