/**
 * JSON values as the fuzz suite handles them: paths into a value, reading and writing at a path (creating or
 * replacing the parents on the way), and serialisation with tokens `JSON.stringify` cannot write — numbers that do
 * not survive a round trip through a double (`1e999`, `-0`, 30 digits) and keys the body parser refuses
 * (`__proto__`). Everything is iterative or bounded, so values nested thousands of levels deep are handled.
 */

export type Key = string | number;
export type Path = readonly Key[];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => v !== null && typeof v === 'object';

/** Every path in `value`, the root excluded, in pre-order, at most `limit` of them and at most `maxDepth` deep. */
export function pathsOf(value: unknown, limit = 4000, maxDepth = 40): Path[] {
  const out: Path[] = [];
  const stack: [unknown, Path][] = [[value, []]];
  while (stack.length > 0 && out.length < limit) {
    const [v, path] = stack.pop() as [unknown, Path];
    if (path.length > 0) out.push(path);
    if (!isContainer(v) || path.length >= maxDepth) continue;
    const entries: [Key, unknown][] = Array.isArray(v) ? v.map((c, i) => [i, c]) : Object.entries(v);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, c] = entries[i] as [Key, unknown];
      stack.push([c, [...path, k]]);
    }
  }
  return out;
}

/** The value at `path`, or undefined when some step is missing or not a container. */
export function getAt(value: unknown, path: Path): unknown {
  let cur = value;
  for (const k of path) {
    if (!isContainer(cur)) return undefined;
    cur = (cur as Record<Key, unknown>)[k];
  }
  return cur;
}

/**
 * Writes `v` at `path` of `root` in place and returns the root (a new one when `path` is empty). Missing parents,
 * and parents of the wrong kind, become an array (numeric step) or an object (string step); an index past the end
 * of an array appends.
 */
export function setAt(root: unknown, path: Path, v: unknown): unknown {
  if (path.length === 0) return v;
  const top: unknown = isContainer(root) && Array.isArray(root) === (typeof path[0] === 'number') ? root : typeof path[0] === 'number' ? [] : {};
  let cur = top as Record<Key, unknown> | unknown[];
  for (let i = 0; i < path.length; i++) {
    const k = path[i] as Key;
    const last = i === path.length - 1;
    if (Array.isArray(cur)) {
      const index = typeof k === 'number' ? Math.min(k, cur.length) : cur.length;
      if (last) {
        cur[index] = v;
        break;
      }
      const next = path[i + 1] as Key;
      const child = cur[index];
      const fits = isContainer(child) && Array.isArray(child) === (typeof next === 'number');
      if (!fits) cur[index] = typeof next === 'number' ? [] : {};
      cur = cur[index] as Record<Key, unknown> | unknown[];
    } else {
      const key = String(k);
      if (last) {
        defineOwn(cur, key, v);
        break;
      }
      const next = path[i + 1] as Key;
      const child = Object.hasOwn(cur, key) ? cur[key] : undefined;
      const fits = isContainer(child) && Array.isArray(child) === (typeof next === 'number');
      if (!fits) defineOwn(cur, key, typeof next === 'number' ? [] : {});
      cur = cur[key] as Record<Key, unknown> | unknown[];
    }
  }
  return top;
}

/** An own, enumerable property, whatever its name (`__proto__` included, as `JSON.parse` makes it). */
function defineOwn(o: Record<Key, unknown>, key: string, v: unknown): void {
  Object.defineProperty(o, key, { value: v, writable: true, enumerable: true, configurable: true });
}

/** Removes what is at `path` (an array item is spliced out). */
export function deleteAt(root: unknown, path: Path): void {
  const parent = getAt(root, path.slice(0, -1));
  const k = path[path.length - 1];
  if (k === undefined || !isContainer(parent)) return;
  if (Array.isArray(parent)) {
    if (typeof k === 'number' && k < parent.length) parent.splice(k, 1);
  } else delete parent[String(k)];
}

/** A deep copy of a JSON value, own `__proto__` keys kept as keys. Iterative: any depth. */
export function cloneJson<T>(value: T): T {
  const copyOf = (v: unknown): unknown => (Array.isArray(v) ? new Array(v.length) : isContainer(v) ? {} : v);
  const root = copyOf(value);
  const stack: [unknown, unknown][] = [[value, root]];
  while (stack.length > 0) {
    const [from, to] = stack.pop() as [unknown, unknown];
    if (!isContainer(from)) continue;
    const entries: [Key, unknown][] = Array.isArray(from) ? from.map((c, i) => [i, c]) : Object.entries(from);
    for (const [k, c] of entries) {
      if (c === undefined) continue;
      const copy = copyOf(c);
      if (Array.isArray(to)) to[k as number] = copy;
      else defineOwn(to as Record<Key, unknown>, String(k), copy);
      stack.push([c, copy]);
    }
  }
  return root as T;
}

// ---- tokens JSON.stringify cannot write ------------------------------------------------------------------------

const RAW = '\u0000raw:';
const KEY = '\u0000key:';
// JSON.stringify writes U+0000 as \u0000.
const RAW_TOKEN = /"\\u0000raw:([^"\\]*)"/g;
const KEY_TOKEN = /"\\u0000key:([^"\\]*)"/g;

/** A value that serialises as `token`, unquoted: a number literal such as `1e999` or `-0`. */
export const raw = (token: string): string => `${RAW}${token}`;

/** A key that serialises as `"name"` although an object cannot hold it as is (`__proto__`). */
export const rawKey = (name: string): string => `${KEY}${name}`;

/** JSON text of `value`, with every `raw(...)` and `rawKey(...)` token written as itself. */
export function serialize(value: unknown): string {
  return JSON.stringify(value)
    .replace(RAW_TOKEN, (_m, token: string) => token)
    .replace(KEY_TOKEN, (_m, name: string) => JSON.stringify(name));
}

/**
 * The body as the server's JSON parser reads it, or undefined when it refuses it: invalid JSON, or a `__proto__`
 * key, or a `constructor` key holding a `prototype` key (fastify's parser refuses both, on purpose). A leading
 * byte order mark is dropped, as that parser does.
 */
export function parseLikeServer(text: string): { value: unknown } | undefined {
  let refused = false;
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''), function (this: unknown, key: string, v: unknown) {
      if (key === '__proto__') refused = true;
      if (key === 'constructor' && isObject(v) && Object.hasOwn(v, 'prototype')) refused = true;
      return v;
    });
  } catch {
    return undefined;
  }
  return refused ? undefined : { value };
}

/** Nesting depth of `value` (a scalar is 0, `[]` is 1). Iterative. */
export function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (!isContainer(v)) continue;
    deepest = Math.max(deepest, d + 1);
    for (const c of Array.isArray(v) ? v : Object.values(v)) stack.push([c, d + 1]);
  }
  return deepest;
}
