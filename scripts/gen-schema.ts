/** Writes schema/rules.schema.json from the TypeBox definition in src/rules/schema.ts. */
import { writeFileSync } from 'node:fs';
import { rulesJsonSchema } from '../src/rules/schema.js';

const file = new URL('../schema/rules.schema.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(rulesJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${file.pathname}\n`);
