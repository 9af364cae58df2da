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

/**
 * The JSON Patch that turns `original` into `mutated` (RFC 6901 escaping of `/` and `~` in keys included). Top-level
 * members that are the same object in both (the mutation shares what it does not change) are not walked.
 */
export function diff(original: unknown, mutated: unknown): Operation[] {
  const o = original as Record<string, unknown>;
  const m = mutated as Record<string, unknown>;
  if (o === null || m === null || typeof o !== 'object' || typeof m !== 'object' || Array.isArray(o) || Array.isArray(m)) {
    return fastJsonPatch.compare(o as object, m as object);
  }
  const changedKeys = [...new Set([...Object.keys(o), ...Object.keys(m)])].filter((k) => o[k] !== m[k]);
  const before = Object.fromEntries(changedKeys.filter((k) => Object.hasOwn(o, k)).map((k) => [k, o[k]]));
  const after = Object.fromEntries(changedKeys.filter((k) => Object.hasOwn(m, k)).map((k) => [k, m[k]]));
  return fastJsonPatch.compare(before, after);
}

/** Allowed, with the patch from `original` to `mutated` when they differ. */
export function patched(uid: string, operations: readonly Operation[], warnings: readonly string[] = []): AdmissionResponse {
  if (operations.length === 0) return allowed(uid, warnings);
  return withWarnings(
    { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(operations)).toString('base64') },
    warnings,
  );
}

export function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** The operations of a response's patch, decoded (for logs, `replay` and golden files). */
export function decodePatch(response: AdmissionResponse): Operation[] | undefined {
  return response.patch === undefined ? undefined : (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[]);
}
