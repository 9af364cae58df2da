/**
 * Bugs the fuzz suite found that are not fixed yet, each with the regression case that shows it
 * (`./regressions.test.ts`, marked `it.fails`) and how to recognise a case that runs into it. The properties skip
 * such a case, so that a plain `vitest run` stays green while the bug is open; with `FUZZ_KNOWN_BUGS=fail` they do
 * not (see `./runs.ts`). When a bug is fixed its regression case starts to pass, `it.fails` then fails, and the
 * entry here goes with the marker.
 *
 * A case is recognised by the error the code under test threw (its type, message and the module on top of its
 * stack), never by the look of the input alone, so that another bug on a similar input is still reported.
 */
import fc from 'fast-check';
import { skipKnownBugs } from './runs.js';

export interface KnownBug {
  readonly id: string;
  readonly summary: string;
  /** The module and function at fault. */
  readonly fault: string;
}

export const KNOWN_BUGS = {
  showThrows: {
    id: 'show-throws',
    summary: 'a field error about an object value with an own `toString` key throws TypeError "Cannot convert object to primitive value" (HTTP 500 without the uid; parseRules throws)',
    fault: 'src/errors.ts show(), String(value), called by fieldError.notSupported/invalid/duplicate from src/json-schema.ts toFieldError',
  },
  lintUnsoundList: {
    id: 'lint-unsound-list',
    summary: "lint iterates a pod affinity term's `namespaces` that is not a list (`namespaces: {}`): TypeError \"(term.namespaces ?? []).forEach is not a function\"",
    fault: 'src/rules/lint.ts lintPodAffinityTerm',
  },
  rejectThenOverride: {
    id: 'reject-then-override',
    summary:
      'a rule with onConflict: override replaces a pod value (volume, env, envFrom, volumeMount, spread constraint) that an earlier matching rule with onConflict: reject injected; the re-invocation then denies the pod it admitted',
    fault: 'src/rules/lint.ts contradictions() (compares only nodeSelector), or the merge order in src/rules/apply.ts mutatePod',
  },
  lintQuadratic: {
    id: 'lint-quadratic',
    summary:
      'linting a document with many structural errors takes time quadratic in their number: 1000 rules with an unknown field each take about 10 s, 2000 about 40 s (in /validate of the rules ConfigMap, in the rules informer, in lint)',
    fault: 'src/rules/lint.ts soundness() (every sound(path) call scans every structural error)',
  },
} as const satisfies Record<string, KnownBug>;

interface ThrownLike {
  readonly type?: unknown;
  readonly name?: unknown;
  readonly message?: unknown;
  readonly stack?: unknown;
}

/** The first frame of a stack in this project's sources, e.g. `src/rules/lint.ts`. */
function topSourceFrame(stack: unknown): string | undefined {
  if (typeof stack !== 'string') return undefined;
  return /\/(src\/[^:)]+\.ts)/.exec(stack)?.[1];
}

/** The known bug an error thrown by the code under test (or its log record) is, if any. */
export function knownBugOfError(err: unknown): KnownBug | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as ThrownLike;
  const type = e.type ?? e.name;
  if (type !== 'TypeError') return undefined;
  const frame = topSourceFrame(e.stack);
  if (e.message === 'Cannot convert object to primitive value' && frame === 'src/errors.ts') return KNOWN_BUGS.showThrows;
  if (typeof e.message === 'string' && /^\(term\.namespaces \?\? \[\]\)\.forEach is not a function$/.test(e.message) && frame === 'src/rules/lint.ts') {
    return KNOWN_BUGS.lintUnsoundList;
  }
  return undefined;
}

/** The known bug behind an HTTP 5xx, from the error lines the app logged while answering it. */
export function knownBugOfLog(lines: readonly string[]): KnownBug | undefined {
  for (const line of lines) {
    let record: { err?: unknown };
    try {
      record = JSON.parse(line) as { err?: unknown };
    } catch {
      continue;
    }
    const bug = knownBugOfError(record.err);
    if (bug) return bug;
  }
  return undefined;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What identifies an injected item in the merges (README, "How mutation merges"). */
const IDENTITIES: Readonly<Record<string, (item: Obj) => string>> = {
  volumes: (v) => String(v['name']),
  env: (e) => String(e['name']),
  volumeMounts: (m) => String(m['mountPath']),
  envFrom: (e) => (isObject(e['configMapRef']) ? `configMap:${String(e['configMapRef']['name'])}` : `secret:${String(isObject(e['secretRef']) ? e['secretRef']['name'] : '')}`),
  topologySpreadConstraints: (c) => `${String(c['topologyKey'])} ${String(c['whenUnsatisfiable'])}`,
};

/**
 * Whether a rules document holds a rule with onConflict: reject and a later one with onConflict: override that
 * inject an item of the same identity with other content (they may match the same pods: not checked).
 */
export function hasRejectThenOverride(doc: unknown): boolean {
  const rules = isObject(doc) && Array.isArray(doc['rules']) ? (doc['rules'] as unknown[]).filter(isObject) : [];
  return rules.some((earlier, i) =>
    earlier['onConflict'] === 'reject' &&
    rules.slice(i + 1).some((later) =>
      later['onConflict'] === 'override' &&
      Object.entries(IDENTITIES).some(([field, identity]) => {
        const items = (r: Obj) => (isObject(r['inject']) && Array.isArray(r['inject'][field]) ? (r['inject'][field] as unknown[]).filter(isObject) : []);
        return items(earlier).some((a) => items(later).some((b) => identity(a) === identity(b) && JSON.stringify(a) !== JSON.stringify(b)));
      }),
    ),
  );
}

const hits = new Map<string, number>();

/**
 * Skips the running fast-check case because it ran into `bug` (unless `FUZZ_KNOWN_BUGS=fail`: then `failure` is
 * thrown), and counts it for `knownBugHits`.
 */
export function skipKnownBug(bug: KnownBug, failure: unknown): never {
  hits.set(bug.id, (hits.get(bug.id) ?? 0) + 1);
  if (!skipKnownBugs) throw failure;
  fc.pre(false);
  throw failure; // not reached: fc.pre(false) throws
}

/** `id ×count` of every known bug cases ran into, for the suite's summary line. */
export const knownBugHits = (): string => [...hits].map(([id, n]) => `${id} ×${n}`).join(', ');
