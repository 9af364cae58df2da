import { InvalidDocumentError } from '../errors.js';
import { compileSchema } from '../json-schema.js';
import { AdmissionReviewRequest } from './types.js';

const check = compileSchema(AdmissionReviewRequest);

/** A request body that is not an admission.k8s.io/v1 AdmissionReview with a request. */
export class BadReviewError extends InvalidDocumentError {
  override name = 'BadReviewError';
}

/** Checks that `body` is an AdmissionReview v1 request; throws `BadReviewError` listing every problem. */
export function decodeReview(body: unknown): AdmissionReviewRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadReviewError('AdmissionReview', [{ type: 'Invalid', path: '', detail: 'the body must be a JSON object' }]);
  }
  const errors = check(body);
  if (errors.length > 0) throw new BadReviewError('AdmissionReview', errors);
  return body as AdmissionReviewRequest;
}
