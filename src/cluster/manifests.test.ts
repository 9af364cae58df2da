import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseRules } from '../rules/compile.js';
import { rulesConfigMapManifest } from './manifests.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('webhook-config', () => {
  it('ships the example rules in its ConfigMap (run `npm run generate` after editing examples/rules.yaml)', () => {
    expect(read('webhook-config/base/rules-configmap.yaml')).toBe(rulesConfigMapManifest(read('examples/rules.yaml')));
    const cm = parse(read('webhook-config/base/rules-configmap.yaml')) as { data: Record<string, string> };
    expect(parseRules(cm.data['rules.yaml'] ?? '').ok).toBe(true);
  });

  it.each(['mutating.yaml', 'validating.yaml'])('%s uses only what the availability rules require', (file) => {
    for (const doc of parseAllDocuments(read(`webhook-config/base/${file}`))) {
      const cfg = doc.toJS() as { webhooks: Record<string, unknown>[] };
      for (const w of cfg.webhooks) {
        expect(w['admissionReviewVersions']).toEqual(['v1']);
        expect(w['sideEffects']).toBe('None');
        expect(w['matchPolicy']).toBe('Equivalent');
        expect(w['timeoutSeconds']).toBeGreaterThanOrEqual(2);
        expect(w['timeoutSeconds']).toBeLessThanOrEqual(5);
        expect(['Ignore', 'Fail']).toContain(w['failurePolicy']);
        const rules = w['rules'] as { resources: string[]; operations: string[] }[];
        for (const r of rules) expect(r.resources).not.toEqual(expect.arrayContaining(['leases', 'nodes', 'events']));
        if (w['objectSelector'] === undefined) {
          expect(w['namespaceSelector']).toEqual({
            matchExpressions: [
              { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-node-lease', 'placement-webhook'] },
            ],
          });
        }
      }
      if (file === 'mutating.yaml') {
        const [w] = cfg.webhooks;
        expect(w?.['reinvocationPolicy']).toBe('IfNeeded');
        expect((w?.['rules'] as { operations: string[] }[])[0]?.operations).toEqual(['CREATE']);
      }
    }
  });
});
