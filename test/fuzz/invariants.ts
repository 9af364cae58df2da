/**
 * What every answer of the webhook must satisfy, whatever it was sent (RELIABILITY.md, "Bad input" and the
 * response contract):
 *
 * - never an HTTP 5xx;
 * - a body the server can read whose `request.uid` is a string gets an AdmissionReview back that echoes it — on a
 *   200 and on a 400 alike; a body it cannot read (another content type than JSON, invalid JSON, or a `__proto__`
 *   key, which the body parser refuses) gets a 4xx;
 * - `patchType` is present iff `patch` is; only an allowed response carries a patch; `/validate` never sends one;
 * - a patch is base64 of a JSON Patch that applies cleanly (fast-json-patch, validating every operation) to the
 *   object that was sent, and touches only what rules inject: `/spec/{nodeSelector, affinity, tolerations,
 *   topologySpreadConstraints, volumes}`, `/spec/{containers, initContainers}/N/{env, envFrom, volumeMounts}` and
 *   `/metadata/annotations` — `/metadata` itself only when the pod had none;
 * - a validating response's warnings fit on a line (README, "Validation").
 *
 * Each check throws an `InvariantError` naming the invariant; the fuzz properties add the request to the message.
 */
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { MAX_WARNING_LENGTH } from '../../src/admission/response.js';
import { cloneJson, parseLikeServer } from './json.js';

export class InvariantError extends Error {
  override name = 'InvariantError';
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Where a patch may write (the `INJECTED` paths of the mutation property (e)). */
export const INJECTED_PATHS: readonly RegExp[] = [
  /^\/spec\/(nodeSelector|affinity|tolerations|topologySpreadConstraints|volumes)(\/|$)/,
  /^\/spec\/(containers|initContainers)\/\d+\/(env|envFrom|volumeMounts)(\/|$)/,
  /^\/metadata\/annotations(\/|$)/,
];

export type Endpoint = '/mutate' | '/validate';

export interface Exchange {
  readonly endpoint: Endpoint;
  /** The payload text sent. */
  readonly payload: string;
  /** Its content type, or undefined when none was sent. */
  readonly contentType: string | undefined;
  readonly status: number;
  /** The response body text. */
  readonly body: string;
}

/** The uid a body the server can read carries as a string, or undefined. */
function sentUid(sent: unknown): string | undefined {
  const request = isObject(sent) ? sent['request'] : undefined;
  const uid = isObject(request) ? request['uid'] : undefined;
  return typeof uid === 'string' ? uid : undefined;
}

/** Checks one request and its answer; returns what was checked, for coverage counts. */
export function checkExchange(x: Exchange): { patched: boolean; uid: boolean; readable: boolean } {
  check(x.status < 500, `HTTP ${x.status} (never a 5xx): ${x.body.slice(0, 500)}`);
  let answer: unknown;
  try {
    answer = JSON.parse(x.body);
  } catch {
    throw new InvariantError(`the response body is not JSON: ${x.body.slice(0, 200)}`);
  }
  // Only JSON is an AdmissionReview (media types compare case-insensitively, parameters aside).
  const json = x.contentType !== undefined && x.contentType.split(';')[0]?.trim().toLowerCase() === 'application/json';
  const parsed = json ? parseLikeServer(x.payload) : undefined;
  if (parsed === undefined) {
    check(x.status >= 400, `HTTP ${x.status} for a body the server cannot read (want a 4xx)`);
    return { patched: false, uid: false, readable: false };
  }
  const sent = parsed.value;
  const uid = sentUid(sent);
  const response =
    isObject(answer) && answer['kind'] === 'AdmissionReview' && answer['apiVersion'] === 'admission.k8s.io/v1' && isObject(answer['response'])
      ? answer['response']
      : undefined;
  if (x.status === 200) check(response !== undefined, `HTTP 200 whose body is not an admission.k8s.io/v1 AdmissionReview: ${x.body.slice(0, 300)}`);
  if (x.status === 400 && uid !== undefined) {
    check(response !== undefined, `HTTP 400 for a body with uid ${JSON.stringify(uid)}, not as an AdmissionReview: ${x.body.slice(0, 300)}`);
  }
  if (response === undefined) return { patched: false, uid: false, readable: true };
  if (uid !== undefined) check(response['uid'] === uid, `response.uid ${JSON.stringify(response['uid'])}, the request's is ${JSON.stringify(uid)}`);
  check(typeof response['allowed'] === 'boolean', `response.allowed is ${JSON.stringify(response['allowed'])}, not a boolean`);
  check('patch' in response === 'patchType' in response, `patchType ${'patchType' in response ? 'without' : 'missing beside'} a patch`);
  if (response['allowed'] === false) {
    const status = response['status'];
    check(
      isObject(status) && typeof status['code'] === 'number' && status['code'] >= 400,
      `a denial without a 4xx status code: ${JSON.stringify(status)}`,
    );
  }
  if (x.endpoint === '/validate') {
    check(!('patch' in response) && !('patchType' in response), '/validate sent a patch');
    for (const w of Array.isArray(response['warnings']) ? (response['warnings'] as unknown[]) : []) {
      check(typeof w === 'string' && w.length <= MAX_WARNING_LENGTH, `a warning longer than ${MAX_WARNING_LENGTH} characters: ${JSON.stringify(w)}`);
    }
    return { patched: false, uid: uid !== undefined, readable: true };
  }
  if (!('patch' in response)) return { patched: false, uid: uid !== undefined, readable: true };
  check(response['allowed'] === true, 'a patch on a denial');
  check(response['patchType'] === 'JSONPatch', `patchType ${JSON.stringify(response['patchType'])}`);
  const object = isObject(sent) && isObject(sent['request']) ? sent['request']['object'] : undefined;
  checkPatch(response['patch'], object);
  return { patched: true, uid: uid !== undefined, readable: true };
}

/** The patch decodes, applies cleanly to `object` and touches only injected fields. */
export function checkPatch(patch: unknown, object: unknown): Operation[] {
  check(typeof patch === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(patch), `the patch is not base64: ${JSON.stringify(patch).slice(0, 100)}`);
  let ops: unknown;
  try {
    ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
  } catch (err) {
    throw new InvariantError(`the patch is not JSON: ${String(err)}`);
  }
  check(Array.isArray(ops) && ops.length > 0, `the patch is not a non-empty list of operations: ${JSON.stringify(ops).slice(0, 200)}`);
  const noMetadata = !isObject(object) || object['metadata'] === undefined || object['metadata'] === null;
  for (const op of ops as unknown[]) {
    check(isObject(op) && typeof op['path'] === 'string', `an operation without a path: ${JSON.stringify(op)}`);
    for (const path of [op['path'], op['from']].filter((p): p is string => typeof p === 'string')) {
      const allowed = INJECTED_PATHS.some((re) => re.test(path)) || (path === '/metadata' && noMetadata);
      check(allowed, `the patch touches ${path}, which no rule injects (op ${JSON.stringify(op).slice(0, 200)})`);
    }
  }
  try {
    fastJsonPatch.applyPatch(cloneJson(object), cloneJson(ops as Operation[]), true, false);
  } catch (err) {
    throw new InvariantError(
      `the patch does not apply to the object sent: ${err instanceof Error ? err.message : String(err)}; ops ${JSON.stringify(ops).slice(0, 400)}`,
    );
  }
  return ops as Operation[];
}
