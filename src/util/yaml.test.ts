import { describe, expect, it } from 'vitest';
import { billionLaughs, deeplyNested, sharedAnchorRules } from '../../test/support/yaml-bombs.js';
import { jsonDepth, loadYaml, OBJECTS_LIMITS, RULES_LIMITS, type YamlLimits } from './yaml.js';

const errorsOf = (text: string, limits: YamlLimits = RULES_LIMITS) => {
  const r = loadYaml(text, limits);
  return r.ok ? [] : r.errors.map((e) => (e.path ? `${e.path}: ${e.detail}` : e.detail));
};

describe('loadYaml: limits on what a document may cost', () => {
  it('loads a document whose 101 rules share one small anchor (legitimate reuse)', () => {
    const r = loadYaml(sharedAnchorRules(101), RULES_LIMITS);
    expect(r.ok).toBe(true);
    if (r.ok) expect((r.values[0]?.value as { rules: unknown[] }).rules).toHaveLength(101);
  });

  it.each([
    {
      name: 'a billion-laughs expansion is refused',
      text: billionLaughs(),
      want: /^YAML aliases expand the document to more than \d+ nodes \(it has \d+\): refused as a resource exhaustion attack$/,
    },
    {
      name: 'flow collections nested 5,000 deep are refused before they are composed',
      text: deeplyNested(5000),
      want: /^YAML line 3, column 107: nested more than 100 levels deep$/,
    },
    { name: 'nesting just over the limit is refused', text: deeplyNested(100), want: /nested more than 100 levels deep/ },
    { name: 'an alias inside its own anchor is refused', text: 'a: &x [*x]\n', want: /^YAML: an alias refers to a node that contains it$/ },
    { name: 'an alias without an anchor is an error, not an exception', text: 'a: *nope\n', want: /Unresolved alias/ },
    {
      name: 'a second document where one is expected is an error',
      text: 'a: 1\n---\nb: 2\n',
      want: /^YAML line 2, column 1: holds 2 documents; expected one$/,
    },
    { name: 'duplicate keys are errors', text: 'a: 1\na: 2\n', want: /^YAML line 2, column 1: Map keys must be unique/ },
  ])('$name', ({ text, want }) => {
    const errors = errorsOf(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(want);
  });

  it('nesting at the limit is accepted', () => {
    expect(errorsOf(deeplyNested(98))).toEqual([]);
  });

  it('refuses text over the size limit before parsing it', () => {
    expect(errorsOf('a: 1\n', { ...RULES_LIMITS, maxBytes: 3 })).toEqual(['is 5 bytes, more than the limit of 3']);
  });

  it('skips empty documents, and an empty text has none', () => {
    expect(loadYaml('', RULES_LIMITS)).toEqual({ ok: true, values: [] });
    expect(loadYaml('---\n', RULES_LIMITS)).toEqual({ ok: true, values: [] });
    expect(loadYaml('a: 1\n---\n', RULES_LIMITS)).toEqual({ ok: true, values: [{ value: { a: 1 }, document: 1 }] });
  });

  it('reads JSON quickly where allowed, held to the same depth limit', () => {
    expect(loadYaml('{"items": [1, 2]}', OBJECTS_LIMITS)).toEqual({ ok: true, values: [{ value: { items: [1, 2] }, document: 1 }] });
    expect(errorsOf(`${'['.repeat(200_000)}${']'.repeat(200_000)}`, OBJECTS_LIMITS)).toEqual(['nested more than 100 levels deep']);
  });

  it('reads JSON as YAML where duplicate keys must be found (rules)', () => {
    expect(errorsOf('{"a": 1, "a": 2}')).toEqual([expect.stringMatching(/Map keys must be unique/)]);
  });

  it('numbers several documents in its errors', () => {
    expect(errorsOf('a: 1\n---\na: [1\n', OBJECTS_LIMITS)).toEqual([expect.stringMatching(/^document 2: YAML line 4, column 1: /)]);
  });
});

describe('jsonDepth', () => {
  it.each([
    { value: 1, want: 0 },
    { value: [], want: 1 },
    { value: { a: [{ b: 1 }] }, want: 3 },
  ])('$value → $want', ({ value, want }) => expect(jsonDepth(value, 100)).toBe(want));

  it('stops counting past the limit, without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonDepth(deep, 10)).toBe(11);
  });
});
