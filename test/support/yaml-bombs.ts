/**
 * YAML documents that cost far more than their size, for the tests of the loader's limits, and the legitimate reuse
 * that must keep working.
 */
import { API_VERSION, KIND } from '../../src/rules/schema.js';

const HEADER = `apiVersion: ${API_VERSION}\nkind: ${KIND}\n`;

/** A valid rules document of `n` rules that all share one anchored toleration list (`n - 1` aliases). */
export function sharedAnchorRules(n: number): string {
  const rules = Array.from({ length: n }, (_, i) =>
    i === 0
      ? `  - name: r0\n    inject:\n      tolerations: &spot [{key: spot, operator: Equal, value: "true", effect: NoSchedule}]\n`
      : `  - name: r${i}\n    inject:\n      tolerations: *spot\n`,
  );
  return `${HEADER}rules:\n${rules.join('')}`;
}

/** "Billion laughs": nine levels of nine aliases each, about 10^9 nodes once expanded, in under 1 KiB. */
export function billionLaughs(): string {
  const names = 'abcdefghi';
  let text = `${HEADER}lol: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n`;
  for (let i = 1; i < names.length; i++) {
    text += `l${i}: &${names[i]} [${Array(9)
      .fill(`*${names[i - 1]}`)
      .join(', ')}]\n`;
  }
  return `${text}rules: []\n`;
}

/** Flow collections nested `depth` levels deep (the YAML library runs out of memory composing a few thousand). */
export function deeplyNested(depth: number): string {
  return `${HEADER}rules: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
}
