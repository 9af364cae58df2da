import { sameJson } from '../../util/json.js';

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
