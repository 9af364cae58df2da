import { InvalidDocumentError } from '../util/errors.js';
import { compileSchema } from '../util/json-schema.js';
import { MAX_NESTING_DEPTH } from '../util/yaml.js';
import { jsonLimitsError, reviewShapeErrors } from './shape.js';
import { AdmissionReviewRequest } from './types.js';

const check = compileSchema(AdmissionReviewRequest);

/** A request body that is not an admission.k8s.io/v1 AdmissionReview with a request placement can read. */
export class BadReviewError extends InvalidDocumentError {
  override name = 'BadReviewError';
  constructor(
    errors: ConstructorParameters<typeof InvalidDocumentError>[1],
    /** The request's uid when the body carried one as a string (so the answer can echo it), else undefined. */
    readonly uid: string | undefined,
  ) {
    super('AdmissionReview', errors);
  }
}

/** The body's `request.uid` when it is a string. */
export const uidOf = (body: unknown): string | undefined => {
  if (body === null || typeof body !== 'object') return undefined;
  const request = (body as { request?: unknown }).request;
  const uid = request !== null && typeof request === 'object' ? (request as { uid?: unknown }).uid : undefined;
  return typeof uid === 'string' ? uid : undefined;
};

/**
 * Checks that `body` is an AdmissionReview v1 request whose object has the shape placement reads (see
 * `./shape.ts`), no deeper than the nesting limit and without non-finite numbers; throws `BadReviewError` listing
 * every problem.
 */
export function decodeReview(body: unknown): AdmissionReviewRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadReviewError([{ type: 'Invalid', path: '', detail: 'the body must be a JSON object' }], undefined);
  }
  const limits = jsonLimitsError(body, MAX_NESTING_DEPTH, '');
  if (limits) throw new BadReviewError([limits], uidOf(body));
  const errors = check(body);
  if (errors.length > 0) throw new BadReviewError(errors, uidOf(body));
  const review = body as AdmissionReviewRequest;
  const shape = reviewShapeErrors(review.request);
  if (shape.length > 0) throw new BadReviewError(shape, review.request.uid);
  return review;
}
