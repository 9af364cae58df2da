/** How a merge combines lists: by equality (`appendMissing`) or by identity (`mergeById`). */
import { sameJson } from '../../util/json.js';
import type { MergeReport } from './report.js';

/** Appends to `list` each item of `items` that is not already in it (by `same`), returning how many were added. */
export function appendMissing<T>(list: T[], items: readonly T[], same: (a: T, b: T) => boolean = sameJson): number {
  let added = 0;
  for (const item of items) {
    if (!list.some((x) => same(x, item))) {
      list.push(structuredClone(item));
      added++;
    }
  }
  return added;
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
  const out = [...(list ?? [])];
  let changed = false;
  for (const w of wanted) {
    const key = id(w);
    const i = out.findIndex((x) => id(x) === key);
    if (i === -1) {
      out.push(structuredClone(w));
      changed = true;
    } else if (!sameJson(out[i], w)) {
      report.conflicts.push(describe ? { subject: subject(key), existing: describe(out[i] as T), wanted: describe(w) } : { subject: subject(key) });
      if (override) {
        out[i] = structuredClone(w);
        changed = true;
      }
    }
  }
  return changed ? out : undefined;
}
