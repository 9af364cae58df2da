/**
 * Building AdmissionReview responses. Every response carries the request's uid; `patch`/`patchType` are present
 * if and only if there are operations.
 */
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { ADMISSION_API_VERSION, ADMISSION_KIND, type AdmissionResponse, type AdmissionReviewResponse } from './types.js';

const withWarnings = (r: AdmissionResponse, warnings: readonly string[]): AdmissionResponse =>
  warnings.length > 0 ? { ...r, warnings: [...warnings] } : r;

export function allowed(uid: string, warnings: readonly string[] = []): AdmissionResponse {
  return withWarnings({ uid, allowed: true }, warnings);
}

/** A denial: 403 Forbidden, or 422 Invalid for an object whose content is wrong (an invalid rules document). */
export function denied(uid: string, message: string, warnings: readonly string[] = [], code: 403 | 422 = 403): AdmissionResponse {
  const reason = code === 422 ? 'Invalid' : 'Forbidden';
  return withWarnings({ uid, allowed: false, status: { code, reason, message } }, warnings);
}

export function errored(uid: string, code: number, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code, message } };
}

/** The JSON Patch that turns `original` into `mutated` (RFC 6901 escaping of `/` and `~` in keys included). */
export function diff(original: unknown, mutated: unknown): Operation[] {
  return fastJsonPatch.compare(original as object, mutated as object);
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
