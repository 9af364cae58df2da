import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { LISTED_WARNINGS, listedWarnings, parseRules, type CompileResult, type RuleSet } from '../rules/compile.js';
import { RulesChecker } from './rules-checker.js';

const EXAMPLE = readFileSync(new URL('../../examples/rules.yaml', import.meta.url), 'utf8');

/** A valid document of `n` rules: each for its own team label, injecting a nodeSelector and a toleration. */
function manyRules(n: number): string {
  return stringify({
    apiVersion: 'placement-webhook/v1',
    kind: 'PlacementRules',
    rules: Array.from({ length: n }, (_, i) => ({
      name: `team-${i}`,
      match: i % 3 === 0 ? { namespaces: [`ns-${i}`] } : { podSelector: { matchLabels: { team: `t${i}` } } },
      inject: { nodeSelector: { pool: `p${i % 7}` }, tolerations: [{ key: `dedicated-${i}`, operator: 'Exists', effect: 'NoSchedule' }] },
    })),
  });
}

/** `n` rules for every pod, each with its own pool: every pair overlaps, so n·(n−1)/2 lint warnings. */
function overlapping(n: number): string {
  return stringify({
    apiVersion: 'placement-webhook/v1',
    kind: 'PlacementRules',
    rules: Array.from({ length: n }, (_, i) => ({ name: `pool-${i}`, inject: { nodeSelector: { pool: `p${i}` } } })),
  });
}

const INVALID = `apiVersion: placement-webhook/v1
kind: PlacementRules
rules:
  - name: a
    inject: { nodeSelector: { "bad key!": x } }
  - name: a
    onConflict: sometimes
`;

/**
 * What a rule set does, as data: its rules, settings, which rules `rulesFor` offers some pods, and the warnings that
 * are listed (and how many others there are).
 */
function behaviour(r: CompileResult): unknown {
  if (!r.ok) return { errors: r.errors, warnings: listedWarnings(r) };
  const s: RuleSet = r.ruleSet;
  const probes: [string, Record<string, string>][] = [
    ['ns-0', {}],
    ['ns-3', { team: 't4' }],
    ['default', { team: 't1', app: 'x' }],
    ['team-a', { app: 'web' }],
  ];
  return {
    rules: s.rules.map((x) => ({
      index: x.index,
      name: x.name,
      onConflict: x.onConflict,
      placement: x.placement,
      includeDaemonSetPods: x.includeDaemonSetPods,
    })),
    order: [...s.order],
    excluded: [...s.excludedNamespaces],
    validation: s.validation,
    warnings: listedWarnings(r),
    ruleSetWarnings: s.warnings.slice(0, LISTED_WARNINGS),
    candidates: probes.map(([ns, labels]) => s.rulesFor(ns, labels).map((x) => x.name)),
    matches: probes.map(([namespace, podLabels]) =>
      s.rules.filter((x) => x.matches({ namespace, podLabels, namespaceLabels: { 'kubernetes.io/metadata.name': namespace } })).map((x) => x.name),
    ),
  };
}

describe('RulesChecker: what it answers', () => {
  let checker: RulesChecker;
  beforeAll(() => {
    checker = new RulesChecker();
  });
  afterAll(async () => {
    // Every answer came from the thread, none from the fallback on this one.
    expect(checker.fallbacks).toBe(0);
    await checker.close();
  });

  it.each([
    { name: 'the example document', text: EXAMPLE },
    { name: 'a document of 400 rules (several batches)', text: manyRules(400) },
    { name: 'an invalid document', text: INVALID },
    { name: 'text that is not YAML', text: 'rules: [\n' },
    { name: 'an empty document', text: '' },
  ])('compile($name) gives what parseRules gives on this thread', async ({ text }) => {
    expect(behaviour(await checker.compile(text))).toEqual(behaviour(parseRules(text)));
  });

  it.each([
    { name: 'valid', text: EXAMPLE },
    { name: 'invalid', text: INVALID },
  ])('check($name) tells what parseRules tells, without a rule set', async ({ text }) => {
    const want = parseRules(text);
    const got = await checker.check(text);
    expect(got.ok).toBe(want.ok);
    expect(listedWarnings(got)).toEqual(listedWarnings(want));
    if (!got.ok && !want.ok) expect(got.errors).toEqual(want.errors);
    expect('ruleSet' in got).toBe(false);
  });

  it.each(['compile', 'check'] as const)(
    '%s of a document with more warnings than are listed: the first ones cross over, the others are counted',
    async (how) => {
      const text = overlapping(12);
      const here = parseRules(text);
      expect(here.warnings.length).toBe(66);
      const got = await checker[how](text);
      expect(got.ok).toBe(true);
      expect(got.warnings).toHaveLength(LISTED_WARNINGS);
      expect(listedWarnings(got)).toEqual(listedWarnings(here));
      expect(listedWarnings(got).more).toBe(66 - LISTED_WARNINGS);
      if (how === 'compile') expect((got as CompileResult & { ok: true }).ruleSet.rules).toHaveLength(12);
    },
  );

  it.each([
    { name: 'valid', text: manyRules(30) },
    { name: 'invalid', text: INVALID },
  ])('a compile of the text it just checked ($name) reuses that check and answers as parseRules does', async ({ text }) => {
    const reused = checker.reused;
    await checker.check(text);
    expect(behaviour(await checker.compile(text))).toEqual(behaviour(parseRules(text)));
    expect(checker.reused).toBe(reused + 1);
    // Another text is checked afresh.
    await checker.compile(EXAMPLE);
    expect(checker.reused).toBe(reused + 1);
  });

  it('answers requests in the order they were made', async () => {
    const texts = [manyRules(120), INVALID, EXAMPLE, manyRules(3)];
    const done: number[] = [];
    const results = await Promise.all(texts.map((t, i) => checker.compile(t).then((r) => (done.push(i), r))));
    expect(done).toEqual([0, 1, 2, 3]);
    expect(results.map((r) => (r.ok ? r.ruleSet.rules.length : -1))).toEqual([120, -1, ruleCount(EXAMPLE), 3]);
  });

  it('takes in a big document a slice of a turn at a time: other work runs in between', async () => {
    // One rule per turn: the slice of a turn is a time, so a faster machine would compile more rules per turn.
    const slow = new RulesChecker({ sliceMs: 0 });
    await slow.compile(EXAMPLE); // the thread is up
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    const compiling = slow.compile(manyRules(1000));
    // Counted from when the thread answers: the rules are compiled one per turn.
    setImmediate(tick);
    const result = await compiling;
    ticking = false;
    await slow.close();
    expect(result.ok && result.ruleSet.rules.length).toBe(1000);
    expect(turns).toBeGreaterThanOrEqual(1000);
  }, 60_000);

  it('compiles only the rules a document did not have before: the others are shared, at their new positions', async () => {
    const doc = (rules: object[]) => stringify({ apiVersion: 'placement-webhook/v1', kind: 'PlacementRules', rules });
    const rule = (i: number, pool = `p${i}`) => ({
      name: `team-${i}`,
      match: i % 2 === 0 ? { namespaces: [`ns-${i}`] } : { podSelector: { matchLabels: { team: `t${i}` } } },
      inject: { nodeSelector: { pool } },
    });
    const before = await checker.compile(doc([0, 1, 2, 3, 4].map((i) => rule(i))));
    // A rule added in front, one changed, two swapped.
    const text = doc([rule(9), rule(0), rule(1, 'other'), rule(3), rule(2), rule(4)]);
    const after = await checker.compile(text);
    expect(behaviour(after)).toEqual(behaviour(parseRules(text)));
    if (!before.ok || !after.ok) throw new Error('both documents are valid');
    const was = new Map(before.ruleSet.rules.map((r) => [r.name, r]));
    const shared = after.ruleSet.rules.filter((r) => r.placement === was.get(r.name)?.placement).map((r) => r.name);
    expect(shared).toEqual(['team-0', 'team-3', 'team-2', 'team-4']);
    expect(after.ruleSet.rules.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    // The rule set in force before is left as it was.
    expect(before.ruleSet.rules.map((r) => [r.name, r.index])).toEqual([0, 1, 2, 3, 4].map((i) => [`team-${i}`, i]));
  });
});

describe('RulesChecker: when its thread fails', () => {
  let checker: RulesChecker | undefined;
  afterEach(async () => {
    await checker?.close();
    checker = undefined;
  });

  it(
    'a thread that dies while checking: that document is checked on this thread, and the next ones in a new thread',
    { timeout: 30_000 },
    async () => {
      checker = new RulesChecker();
      await checker.compile(EXAMPLE);
      const worker = (checker as unknown as { worker: { terminate(): Promise<number> } | undefined }).worker;
      expect(worker).toBeDefined();
      const pending = checker.compile(manyRules(300));
      await worker?.terminate();
      expect(behaviour(await pending)).toEqual(behaviour(parseRules(manyRules(300))));
      expect(checker.fallbacks).toBe(1);
      expect(behaviour(await checker.compile(INVALID))).toEqual(behaviour(parseRules(INVALID)));
      expect(checker.fallbacks).toBe(1);
      expect((checker as unknown as { worker: unknown }).worker).toBeDefined();
    },
  );

  it('a check that takes longer than the timeout is done on this thread instead', { timeout: 30_000 }, async () => {
    checker = new RulesChecker({ timeoutMs: 1 });
    const text = manyRules(600);
    expect(behaviour(await checker.compile(text))).toEqual(behaviour(parseRules(text)));
    expect(checker.fallbacks).toBe(1);
  });

  it('after close, documents are still checked (on this thread)', async () => {
    checker = new RulesChecker();
    await checker.close();
    expect(behaviour(await checker.compile(EXAMPLE))).toEqual(behaviour(parseRules(EXAMPLE)));
    expect(checker.fallbacks).toBe(1);
  });
});

function ruleCount(text: string): number {
  const r = parseRules(text);
  return r.ok ? r.ruleSet.rules.length : -1;
}
