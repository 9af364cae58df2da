/**
 * What an admission handler returns: the response, the line for the review log, and the warnings whole (the
 * response's warnings are cut to the API's line length; the CLI prints them whole).
 */
import type { ReviewRecord } from './context.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';

export interface HandlerResult {
  readonly response: AdmissionResponse;
  readonly record: ReviewRecord;
  /** The warnings before they were cut for the API (see `MAX_WARNING_LENGTH`). */
  readonly warnings: readonly string[];
}

export type Handler<Ctx> = (request: AdmissionRequest, ctx: Ctx) => HandlerResult;
