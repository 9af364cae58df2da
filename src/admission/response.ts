/**
 * Building AdmissionReview responses. Every response carries the request's uid; `patch`/`patchType` are present
 * if and only if there are operations.
 */
import fastJsonPatch from 'fast-json-patch';
import type { FieldError, FieldErrorType } from '../util/errors.js';
import type { Operation } from 'fast-json-patch';
import { ADMISSION_API_VERSION, ADMISSION_KIND, type AdmissionResponse, type AdmissionReviewResponse } from './types.js';

/**
 * Kubernetes shows warnings one per line; validation's are cut to this length with "…" (the whole text is in the
 * log and the CLI).
 */
export const MAX_WARNING_LENGTH = 120;

export function clip(line: string): string {
  return line.length <= MAX_WARNING_LENGTH ? line : `${line.slice(0, MAX_WARNING_LENGTH - 1)}…`;
}

const withWarnings = (r: AdmissionResponse, warnings: readonly string[]): AdmissionResponse =>
  warnings.length > 0 ? { ...r, warnings: [...warnings] } : r;

export function allowed(uid: string, warnings: readonly string[] = []): AdmissionResponse {
  return withWarnings({ uid, allowed: true }, warnings);
}

export function denied(uid: string, message: string, warnings: readonly string[] = []): AdmissionResponse {
  return withWarnings({ uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } }, warnings);
}

const CAUSE_REASONS: Record<FieldErrorType, string> = {
  Required: 'FieldValueRequired',
  Invalid: 'FieldValueInvalid',
  NotSupported: 'FieldValueNotSupported',
  Duplicate: 'FieldValueDuplicate',
  Forbidden: 'FieldValueForbidden',
  TooMany: 'FieldValueTooMany',
};

/**
 * A denial for an object whose content is wrong: 422 Invalid with one cause per field error, as the API server's
 * own validation answers, so that kubectl lists every error with its field path.
 */
export function invalid(
  uid: string,
  object: { kind: string; name: string },
  errors: readonly FieldError[],
  fieldPrefix: string,
  warnings: readonly string[] = [],
): AdmissionResponse {
  const causes = errors.map((e) => ({
    reason: CAUSE_REASONS[e.type],
    field: e.path === '' ? fieldPrefix : `${fieldPrefix}.${e.path}`,
    message: e.detail,
  }));
  const message = `${object.kind} ${JSON.stringify(object.name)} is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`;
  return withWarnings({ uid, allowed: false, status: { code: 422, reason: 'Invalid', message, details: { ...object, causes } } }, warnings);
}

export function errored(uid: string, code: number, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code, message } };
}

const hasOwn = (o: object, k: string | number) => Object.prototype.hasOwnProperty.call(o, k);
/** RFC 6901: `~` → `~0`, `/` → `~1`. */
const escapeKey = (k: string) => (k.indexOf('/') === -1 && k.indexOf('~') === -1 ? k : k.replace(/~/g, '~0').replace(/\//g, '~1'));
/** A value as it appears in an operation: JSON has no `undefined` (it is `null` in a list, as `JSON.stringify` writes it). */
const valueOf = (v: unknown) => (v === undefined ? null : v);
const isTree = (v: unknown): v is object => typeof v === 'object' && v !== null;

/**
 * The operations that turn `mirror` into `obj`, appended to `ops`: the same operations, in the same order, as
 * fast-json-patch's `compare` (its `_generate`), but the values are the mutated object's own subtrees instead of
 * deep copies (a JSON round trip of every added value, the larger part of the cost of a patch). Subtrees that are
 * the same object in both are not walked.
 */
function generate(mirror: object, obj: object, ops: Operation[], path: string): void {
  if (obj === mirror) return;
  const target = typeof (obj as { toJSON?: unknown }).toJSON === 'function' ? (obj as { toJSON: () => object }).toJSON() : obj;
  const objIsArray = Array.isArray(target);
  const mirrorIsArray = Array.isArray(mirror);
  if (objIsArray && mirrorIsArray) {
    // Lists: indexes instead of key strings (compare's keys of a list are its indexes, in order).
    const m = mirror as unknown[];
    const o = target as unknown[];
    let deleted = false;
    for (let t = m.length - 1; t >= 0; t--) {
      const oldVal = m[t];
      if (hasOwn(o, t)) {
        const newVal = o[t];
        if (isTree(oldVal) && isTree(newVal) && Array.isArray(oldVal) === Array.isArray(newVal)) generate(oldVal, newVal, ops, `${path}/${t}`);
        else if (oldVal !== newVal) ops.push({ op: 'replace', path: `${path}/${t}`, value: valueOf(newVal) });
      } else {
        ops.push({ op: 'remove', path: `${path}/${t}` });
        deleted = true;
      }
    }
    if (!deleted && o.length === m.length) return;
    for (let t = 0; t < o.length; t++) if (!hasOwn(m, t) && o[t] !== undefined) ops.push({ op: 'add', path: `${path}/${t}`, value: o[t] });
    return;
  }
  const m = mirror as Record<string, unknown>;
  const o = target as Record<string, unknown>;
  const newKeys = objIsArray ? Array.from({ length: (target as unknown[]).length }, (_, i) => String(i)) : Object.keys(target);
  const oldKeys = mirrorIsArray ? Array.from({ length: (mirror as unknown[]).length }, (_, i) => String(i)) : Object.keys(mirror);
  let deleted = false;
  for (let t = oldKeys.length - 1; t >= 0; t--) {
    const key = oldKeys[t] as string;
    const oldVal = m[key];
    if (hasOwn(target, key) && !(o[key] === undefined && oldVal !== undefined && !objIsArray)) {
      const newVal = o[key];
      if (isTree(oldVal) && isTree(newVal) && Array.isArray(oldVal) === Array.isArray(newVal))
        generate(oldVal, newVal, ops, `${path}/${escapeKey(key)}`);
      else if (oldVal !== newVal) ops.push({ op: 'replace', path: `${path}/${escapeKey(key)}`, value: valueOf(newVal) });
    } else if (mirrorIsArray === objIsArray) {
      ops.push({ op: 'remove', path: `${path}/${escapeKey(key)}` });
      deleted = true;
    } else {
      ops.push({ op: 'replace', path, value: target });
    }
  }
  if (!deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    if (!hasOwn(mirror, key) && o[key] !== undefined) ops.push({ op: 'add', path: `${path}/${escapeKey(key)}`, value: o[key] });
  }
}

/**
 * The JSON Patch that turns `original` into `mutated` (RFC 6901 escaping of `/` and `~` in keys included). Top-level
 * members that are the same object in both (the mutation shares what it does not change) are not walked, nor is
 * any deeper subtree the two share. The operations' values are `mutated`'s own subtrees, not copies: serialize the
 * patch (or copy it) before changing `mutated`.
 */
export function diff(original: unknown, mutated: unknown): Operation[] {
  const o = original as Record<string, unknown>;
  const m = mutated as Record<string, unknown>;
  const ops: Operation[] = [];
  if (o === null || m === null || typeof o !== 'object' || typeof m !== 'object' || Array.isArray(o) || Array.isArray(m)) {
    return fastJsonPatch.compare(o as object, m as object);
  }
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    if (o[k] === m[k]) continue;
    before[k] = o[k];
    if (hasOwn(m, k)) after[k] = m[k];
  }
  for (const k of Object.keys(m)) if (!hasOwn(o, k) && m[k] !== undefined) after[k] = m[k];
  generate(before, after, ops, '');
  return ops;
}

/** Allowed, with the patch from `original` to `mutated` when they differ. */
export function patched(uid: string, operations: readonly Operation[], warnings: readonly string[] = []): AdmissionResponse {
  if (operations.length === 0) return allowed(uid, warnings);
  return withWarnings({ uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(operations)).toString('base64') }, warnings);
}

export function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** The operations of a response's patch, decoded (for logs, `replay` and golden files). */
export function decodePatch(response: AdmissionResponse): Operation[] | undefined {
  return response.patch === undefined ? undefined : (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[]);
}
