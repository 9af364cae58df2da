import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { rulesJsonSchema } from './schema.js';

const published = JSON.parse(readFileSync(new URL('../../schema/rules.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;

describe('the published JSON Schema', () => {
  it('is the one generated from the source (run `npm run generate` after changing src/rules/schema.ts)', () => {
    expect(published).toEqual(rulesJsonSchema());
  });

  it('accepts the example rules and rejects a misspelt field, as an editor would show', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(published);
    const example: unknown = parse(readFileSync(new URL('../../examples/rules.yaml', import.meta.url), 'utf8'));
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    const typo = structuredClone(example) as { rules: { inject: Record<string, unknown> }[] };
    (typo.rules[0] as { inject: Record<string, unknown> }).inject['nodeselector'] = { a: 'b' };
    expect(validate(typo)).toBe(false);
  });
});
