/**
 * Writes the files derived from sources (tests fail when they are out of date):
 * - schema/rules.schema.json from the TypeBox definition in src/rules/schema.ts;
 * - webhook-config/base/rules-configmap.yaml from examples/rules.yaml.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { rulesConfigMapManifest } from '../src/cluster/manifests.js';
import { rulesJsonSchema } from '../src/rules/schema.js';

const at = (path: string) => new URL(`../${path}`, import.meta.url);

writeFileSync(at('schema/rules.schema.json'), `${JSON.stringify(rulesJsonSchema(), null, 2)}\n`);
writeFileSync(at('webhook-config/base/rules-configmap.yaml'), rulesConfigMapManifest(readFileSync(at('examples/rules.yaml'), 'utf8')));
process.stdout.write('wrote schema/rules.schema.json and webhook-config/base/rules-configmap.yaml\n');
