/**
 * Deep equality of JSON values, treating a property set to `undefined` as absent (objects built in code and objects
 * parsed from JSON then compare equal). Key order does not matter; array order does.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(rb, k) && sameJson(ra[k], rb[k]));
}

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
