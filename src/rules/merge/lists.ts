/**
 * How a merge combines lists: by equality (`appendMissing`) or by identity (`mergeById`). The items added are the
 * rule's own, not copies: a compiled rule's injections are frozen, and no merge edits an item in place (a list is
 * copied or extended, an item replaced whole), so the mutated pod may share them.
 */
import { sameJson } from '../../util/json.js';
import type { MergeReport } from './report.js';

/** Appends to `list` each item of `items` that is not already in it (by `same`), returning how many were added. */
export function appendMissing<T>(list: T[], items: readonly T[], same: (a: T, b: T) => boolean = sameJson): number {
  let added = 0;
  for (const item of items) {
    if (!list.some((x) => same(x, item))) {
      list.push(item);
      added++;
    }
  }
  return added;
}

/** Up to this many comparisons (pod entries × rule entries), `mergeById` scans instead of making a map. */
const LINEAR_SEARCH_LIMIT = 64;

function indexOfId<T>(items: readonly T[], key: string, id: (item: T) => string): number | undefined {
  for (let i = 0; i < items.length; i++) if (id(items[i] as T) === key) return i;
  return undefined;
}

/**
 * Merges `wanted` into `list` by identity: a missing entry is appended, an identical one is left alone, one with
 * the same identity and other content is a conflict (replaced when `override`). A conflict shows the two entries
 * only through `describe`, when given: env values and volume sources can be secrets. Returns the new list, or
 * `undefined` when nothing changed.
 */
export function mergeById<T>(
  list: readonly T[] | undefined,
  wanted: readonly T[],
  id: (item: T) => string,
  subject: (key: string) => string,
  override: boolean,
  report: MergeReport,
  describe?: (item: T) => string,
): T[] | undefined {
  const current = list ?? [];
  // Where an identity is first found (as a search from the start finds it): by scanning while the lists are short
  // (the common case: a few env vars), by a map made once per call when they are long.
  let at: Map<string, number> | undefined;
  if (current.length * wanted.length > LINEAR_SEARCH_LIMIT) {
    at = new Map<string, number>();
    for (let i = 0; i < current.length; i++) {
      const key = id(current[i] as T);
      if (!at.has(key)) at.set(key, i);
    }
  }
  let out: T[] | undefined;
  for (const w of wanted) {
    const key = id(w);
    const items = out ?? current;
    const i = at ? at.get(key) : indexOfId(items, key, id);
    if (i === undefined) {
      out ??= [...current];
      at?.set(key, out.length);
      out.push(w);
    } else if (!sameJson(items[i], w)) {
      report.conflicts.push(describe ? { subject: subject(key), existing: describe(items[i] as T), wanted: describe(w) } : { subject: subject(key) });
      if (override) {
        out ??= [...current];
        out[i] = w;
      }
    }
  }
  return out;
}
