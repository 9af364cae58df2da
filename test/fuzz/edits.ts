/**
 * Random corruption of a JSON value, applied after it was built from realistic parts: a value of another type (or
 * null, or something huge or deep) at a path, a deletion, an extra key or item, a duplicated item. A path is either
 * one that exists (most often under a field placement reads) or one of a list of targets, whose missing parents
 * are created on the way — so that every nesting level of, say, required node affinity gets its turn.
 */
import fc from 'fast-check';
import { cloneJson, deleteAt, getAt, pathsOf, rawKey, setAt, type Path } from './json.js';
import { anyValue, oddKey } from './values.js';

export type Where = { readonly existing: number; readonly underReads: boolean } | { readonly target: number };

export type Edit =
  | { readonly op: 'set'; readonly where: Where; readonly value: unknown }
  | { readonly op: 'delete'; readonly where: Where }
  | { readonly op: 'insert'; readonly where: Where; readonly key: string; readonly value: unknown }
  | { readonly op: 'duplicate'; readonly where: Where; readonly times: number };

/**
 * Targets from leaves written `a.b.0.c` (→ `['a', 'b', 0, 'c']`) or, for keys holding dots, as paths; every prefix of
 * every leaf is a target too.
 */
export function targetPaths(leaves: readonly (string | Path)[], prefix: Path = []): Path[] {
  const seen = new Set<string>();
  const out: Path[] = [];
  for (const leaf of leaves) {
    const steps = typeof leaf === 'string' ? leaf.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : leaf;
    for (let i = 1; i <= steps.length; i++) {
      const path = [...prefix, ...steps.slice(0, i)];
      const key = JSON.stringify(path);
      if (!seen.has(key)) out.push(path);
      seen.add(key);
    }
  }
  return out;
}

/** What the copies of a duplicated item add at most, in bytes of JSON. */
const DUPLICATE_BYTES = 200_000;

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => v !== null && typeof v === 'object';

/** Where edits land in a kind of document. */
export interface EditSpace {
  /** Paths worth creating when they are missing. */
  readonly targets: readonly Path[];
  /** Whether an existing path is under a field the code under test reads. */
  readonly reads: (path: Path) => boolean;
  /** Most copies a `duplicate` edit makes (default 1500). */
  readonly maxCopies?: number;
}

function resolve(root: unknown, where: Where, space: EditSpace): Path | undefined {
  if ('target' in where) return space.targets[where.target % space.targets.length];
  const all = pathsOf(root);
  const candidates = where.underReads ? all.filter(space.reads) : all;
  const from = candidates.length > 0 ? candidates : all;
  return from.length === 0 ? undefined : from[where.existing % from.length];
}

/** Applies `edits` in order to `root` (in place where it can) and returns the result. */
export function applyEdits(root: unknown, edits: readonly Edit[], space: EditSpace): unknown {
  let doc = root;
  for (const edit of edits) {
    const path = resolve(doc, edit.where, space);
    if (path === undefined) continue;
    switch (edit.op) {
      case 'set':
        doc = setAt(doc, path, cloneJson(edit.value));
        break;
      case 'delete':
        if (path.length > 0) deleteAt(doc, path);
        break;
      case 'insert': {
        const at = getAt(doc, path);
        const holder = isContainer(at) ? path : path.slice(0, -1);
        const container = getAt(doc, holder);
        if (Array.isArray(container)) container.push(cloneJson(edit.value));
        else doc = setAt(doc, [...holder, edit.key], cloneJson(edit.value));
        break;
      }
      case 'duplicate': {
        const at = getAt(doc, path);
        const list = Array.isArray(at) ? at : getAt(doc, path.slice(0, -1));
        if (Array.isArray(list) && list.length > 0) {
          const item: unknown = list[list.length - 1];
          // Many copies of a small item; a large one is copied a few times only (the body stays within megabytes).
          const times = Math.min(edit.times, Math.max(1, Math.floor(DUPLICATE_BYTES / (JSON.stringify(item) ?? '').length)));
          for (let i = 0; i < times; i++) list.push(cloneJson(item));
        }
        break;
      }
    }
  }
  return doc;
}

const where = (space: EditSpace): fc.Arbitrary<Where> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ existing: fc.nat(), underReads: fc.constant(true) }) },
    { weight: 1, arbitrary: fc.record({ existing: fc.nat(), underReads: fc.constant(false) }) },
    { weight: 3, arbitrary: fc.record({ target: fc.nat({ max: Math.max(0, space.targets.length * 8) }) }) },
  );

/** One edit in `space`; `values` are what `set` and `insert` write. */
export const edit = (space: EditSpace, values: fc.Arbitrary<unknown> = anyValue): fc.Arbitrary<Edit> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), where: where(space), value: values }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), where: where(space) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('insert' as const), where: where(space), key: oddKey, value: values }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('duplicate' as const),
        where: where(space),
        times: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: Math.min(50, space.maxCopies ?? 1500), max: space.maxCopies ?? 1500 })),
      }),
    },
  );

/** No edit `intact` of the time (the realistic value as it is), else one to `max`. */
export const edits = (space: EditSpace, max = 4, values?: fc.Arbitrary<unknown>, intact = 0.2): fc.Arbitrary<Edit[]> =>
  max === 0 || intact >= 1
    ? fc.constant<Edit[]>([])
    : fc.oneof(
        { weight: Math.round(intact * 100), arbitrary: fc.constant<Edit[]>([]) },
        { weight: Math.round((1 - intact) * 100), arbitrary: fc.array(edit(space, values), { minLength: 1, maxLength: max }) },
      );

/** A key the body parser refuses, to insert at some path (the whole body is then refused with a 400). */
export const protoEdit = (space: EditSpace): fc.Arbitrary<Edit> =>
  fc.record({
    op: fc.constant('insert' as const),
    where: where(space),
    key: fc.constant(rawKey('__proto__')),
    value: fc.constantFrom<unknown>({}, { polluted: true }, 'x'),
  });
