/**
 * Fuzzing the rules document: text (valid documents corrupted as values and as YAML, syntax noise, anchors and
 * aliases, tags, alias bombs, deep nesting, documents over the size limit) through `parseRules` and the `lint`
 * command. Whatever the text, neither throws: `parseRules` returns a rule set or field errors with string paths and
 * details, and `lint` exits 0 or 1 accordingly, every line naming the file. A rule set that compiles can be applied
 * to the fixture pods.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { lint } from '../../src/cli/lint.js';
import { formatFieldError, type FieldError } from '../../src/util/errors.js';
import { mutatePod } from '../../src/rules/apply.js';
import { compileRules, parseRules, type CompileResult } from '../../src/rules/compile.js';
import { withNameLabel } from '../../src/rules/select.js';
import { FIXTURE_PODS } from './fixtures.js';
import { InvariantError } from './invariants.js';
import { cloneJson, depthOf } from './json.js';
import { buildRulesDoc, rulesDocCase, rulesText } from './rules-docs.js';
import { fuzzParameters, measured, timeoutOf } from './runs.js';
import { MAX_NESTING_DEPTH } from '../../src/util/yaml.js';

const FIELD_ERROR_TYPES = new Set(['Required', 'Invalid', 'NotSupported', 'Duplicate', 'Forbidden', 'TooMany']);

function checkFieldErrors(list: unknown, what: string): void {
  if (!Array.isArray(list)) throw new InvariantError(`${what} is not a list: ${String(list)}`);
  for (const e of list as FieldError[]) {
    const fine =
      e !== null &&
      typeof e === 'object' &&
      FIELD_ERROR_TYPES.has(e.type) &&
      typeof e.path === 'string' &&
      typeof e.detail === 'string' &&
      e.detail !== '';
    if (!fine) throw new InvariantError(`${what}: not a field error with a type, a string path and a detail: ${JSON.stringify(e)}`);
    if (typeof formatFieldError(e) !== 'string') throw new InvariantError(`${what}: formatFieldError gave no string`);
  }
}

/** The result is a rule set, or at least one field error; warnings are field errors either way. */
function checkResult(result: CompileResult): void {
  if (result === null || typeof result !== 'object' || typeof result.ok !== 'boolean') throw new InvariantError(`not a result: ${String(result)}`);
  checkFieldErrors(result.warnings, 'warnings');
  if (!result.ok) {
    checkFieldErrors(result.errors, 'errors');
    if (result.errors.length === 0) throw new InvariantError('invalid, with no error');
    return;
  }
  if (!Array.isArray(result.ruleSet.rules)) throw new InvariantError('a rule set without rules');
}

/** Whatever `f` throws, as an invariant failure naming the input. */
function never<T>(f: () => T, input: string): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof InvariantError) throw err;
    const failure = new InvariantError(
      `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n  input: ${JSON.stringify(input.slice(0, 2000))}`,
    );
    throw failure;
  }
}

const TEXT_RUNS = 1000;
const VALUE_RUNS = 6300;
const LINT_RUNS = 200;

describe('fuzz: rules documents', () => {
  it(
    'parseRules never throws: a rule set, or every error with its path, and a rule set applies to the fixture pods',
    () =>
      measured('rules text', TEXT_RUNS, () => {
        let valid = 0;
        fc.assert(
          fc.property(rulesText, fc.nat(), (text, podIndex) => {
            const result = never(() => parseRules(text), text);
            checkResult(result);
            if (!result.ok) return;
            valid++;
            const pod = cloneJson(FIXTURE_PODS[podIndex % FIXTURE_PODS.length]) as V1Pod;
            const namespace = pod.metadata?.namespace ?? 'default';
            never(() => mutatePod(pod, result.ruleSet, namespace, withNameLabel(namespace, {})), text);
          }),
          fuzzParameters(TEXT_RUNS),
        );
        expect(valid).toBeGreaterThan(0);
      }),
    timeoutOf(TEXT_RUNS),
  );

  it(
    'compileRules never throws on a corrupted document within the nesting limit',
    () =>
      measured('rules values', VALUE_RUNS, () => {
        fc.assert(
          fc.property(rulesDocCase, (c) => {
            const doc = buildRulesDoc(c);
            // Deeper documents never reach compileRules: the loader refuses them (the text property covers that).
            fc.pre(depthOf(doc) <= MAX_NESTING_DEPTH);
            checkResult(never(() => compileRules(doc), JSON.stringify(doc)));
          }),
          fuzzParameters(VALUE_RUNS),
        );
      }),
    timeoutOf(VALUE_RUNS),
  );

  describe('the lint command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'placement-fuzz-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** Runs `lint FILE` on `text`, with what it writes to stdout. */
    async function lintText(file: string, text: string): Promise<{ code: number; lines: string[] }> {
      writeFileSync(file, text);
      const out: string[] = [];
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        out.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return true;
      });
      try {
        const code = await lint([file]);
        return {
          code,
          lines: out
            .join('')
            .split('\n')
            .filter((l) => l !== ''),
        };
      } catch (err) {
        const failure = new InvariantError(
          `lint threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n  input: ${JSON.stringify(text.slice(0, 2000))}`,
        );
        throw failure;
      } finally {
        spy.mockRestore();
      }
    }

    it(
      'exits 0 for a valid document and 1 for an invalid one, every line naming the file, and never throws',
      () =>
        measured('lint', LINT_RUNS, async () => {
          const file = join(dir, 'rules.yaml');
          await fc.assert(
            fc.asyncProperty(rulesText, async (text) => {
              const { code, lines } = await lintText(file, text);
              const want = parseRules(text).ok ? 0 : 1;
              if (code !== want) throw new InvariantError(`lint exited ${code}, want ${want}\n  input: ${JSON.stringify(text.slice(0, 2000))}`);
              expect(lines.length).toBeGreaterThan(0);
              for (const line of lines) expect(line.startsWith(`${file}: `), line).toBe(true);
            }),
            fuzzParameters(LINT_RUNS),
          );
        }),
      timeoutOf(LINT_RUNS),
    );
  });
});
