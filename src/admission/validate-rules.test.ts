import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkRulesText, LISTED_WARNINGS } from '../rules/compile.js';
import { RULES_CONFIGMAP_KEY, RULES_CONFIGMAP_LABEL } from '../rules/configmap.js';
import type { AdmissionRequest } from './types.js';
import { validateRulesConfigMap } from './validate-rules.js';

/** A rules ConfigMap edit holding `rules` rules for every pod, each with its own pool (every pair overlaps). */
function edit(rules: number): { request: AdmissionRequest; text: string } {
  const text = stringify({
    apiVersion: 'placement-webhook/v1',
    kind: 'PlacementRules',
    rules: Array.from({ length: rules }, (_, i) => ({ name: `pool-${i}`, inject: { nodeSelector: { pool: `p${i}` } } })),
  });
  const request = {
    uid: 'u',
    kind: { group: '', version: 'v1', kind: 'ConfigMap' },
    resource: { group: '', version: 'v1', resource: 'configmaps' },
    operation: 'UPDATE',
    namespace: 'placement-webhook',
    object: { metadata: { name: 'rules', labels: { [RULES_CONFIGMAP_LABEL]: 'true' } }, data: { [RULES_CONFIGMAP_KEY]: text } },
  } as unknown as AdmissionRequest;
  return { request, text };
}

describe('validateRulesConfigMap: warnings', () => {
  it('lists every warning when there are no more than LISTED_WARNINGS', () => {
    const { request } = edit(6); // 15 warnings
    const r = validateRulesConfigMap(request);
    expect(r.response.allowed).toBe(true);
    expect(r.warnings).toHaveLength(15);
    expect(r.warnings.every((w) => w.startsWith(`${RULES_CONFIGMAP_KEY}: rules[`))).toBe(true);
    expect(r.record).toMatchObject({ decision: 'allowed', warnings: 15 });
  });

  it.each([
    { name: 'checked here', checked: false },
    { name: 'checked in another thread (only the listed warnings came back)', checked: true },
  ])('lists the first LISTED_WARNINGS and counts the rest in one more line ($name)', ({ checked }) => {
    const { request, text } = edit(12); // 66 warnings
    const full = checkRulesText(text);
    const verdict = checked
      ? { ...full, warnings: full.warnings.slice(0, LISTED_WARNINGS), moreWarnings: full.warnings.length - LISTED_WARNINGS }
      : undefined;
    const r = validateRulesConfigMap(request, verdict);
    expect(r.response.allowed).toBe(true);
    expect(r.warnings).toHaveLength(LISTED_WARNINGS + 1);
    expect(r.warnings.at(-1)).toBe(`${RULES_CONFIGMAP_KEY}: ${66 - LISTED_WARNINGS} more warning(s); placement-webhook lint lists them all`);
    expect(r.response.warnings).toHaveLength(LISTED_WARNINGS + 1);
    expect(r.record).toMatchObject({ decision: 'allowed', warnings: 66 });
  });
});
