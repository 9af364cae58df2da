/**
 * Small helpers for JSON values — what an AdmissionReview, a YAML document or an API object is made of before it is
 * read. Pure, and the only home of each.
 */

/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Deep equality of JSON values, treating a property set to `undefined` as absent (objects built in code and objects
 * parsed from JSON then compare equal). Key order does not matter; array order does.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const array = Array.isArray(a);
  if (array !== Array.isArray(b)) return false;
  if (array) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!sameJson(x[i], y[i])) return false;
    return true;
  }
  // Without key arrays or closures: this runs for every entry a merge compares.
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let keys = 0;
  for (const k in ra) {
    if (!Object.hasOwn(ra, k) || ra[k] === undefined) continue;
    keys++;
    if (!Object.hasOwn(rb, k) || !sameJson(ra[k], rb[k])) return false;
  }
  for (const k in rb) if (Object.hasOwn(rb, k) && rb[k] !== undefined) keys--;
  return keys === 0;
}

/** Freezes a value and everything reachable from it (compiled rules are shared by every review: nobody may edit them). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    // No array of the values: a reload freezes every rule's injections on the thread that answers reviews.
    for (const k in value) if (Object.hasOwn(value, k)) deepFreeze((value as Record<string, unknown>)[k]);
    Object.freeze(value);
  }
  return value;
}

/** The string-valued entries of a map (labels, annotations); anything else is not a map of strings and yields {}. */
export function stringMap(value: unknown): Record<string, string> {
  if (!isObject(value)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}
