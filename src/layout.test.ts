/**
 * The README's "Code layout": each folder of src/ imports only from folders above it in this list (types included),
 * so the import direction stays what the README says.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ORDER = ['util', 'scheduling', 'compat', 'rules', 'capacity', 'workloads', 'admission', 'convert', 'audit', 'cluster', 'server', 'cli'];
const SRC = new URL('.', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('code layout', () => {
  it('every folder of src/ is in the README order', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !ORDER.includes(f))).toEqual([]);
    const readme = readFileSync(join(SRC, '..', 'README.md'), 'utf8');
    const listed = [...readme.matchAll(/^\| `src\/([a-z-]+)\/` \|/gm)].map((m) => m[1]);
    expect(listed).toEqual(ORDER);
  });

  it('imports point down the list, never up', () => {
    const upward: string[] = [];
    for (const file of sources(SRC)) {
      const from = relative(SRC, file).split('/')[0] ?? '';
      const rank = ORDER.indexOf(from);
      if (rank < 0) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/from '((?:\.\.\/)+)([a-z-]+)\//g)) {
        const to = m[2] ?? '';
        if (ORDER.indexOf(to) > rank) upward.push(`${relative(SRC, file)} imports ${to}/`);
      }
    }
    expect(upward).toEqual([]);
  });
});
