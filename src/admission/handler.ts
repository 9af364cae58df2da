/**
 * What an admission handler returns: the response, the line for the review log, and the warnings whole (the
 * response's warnings are cut to the API's line length; the CLI prints them whole).
 */
import type { RulesVerdict } from '../rules/compile.js';
import type { ReviewRecord } from './context.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';

export interface HandlerResult {
  readonly response: AdmissionResponse;
  readonly record: ReviewRecord;
  /** The warnings before they were cut for the API (see `MAX_WARNING_LENGTH`). */
  readonly warnings: readonly string[];
}

/** What the transport read for a handler before calling it (handlers are synchronous). */
export interface Prepared {
  /** For a `scale` subresource: the workload being scaled, read from the API server; undefined when not read. */
  readonly scaled?: unknown;
  /** For a rules ConfigMap: the verdict on its document, checked off the review path; absent: checked by the handler. */
  readonly rules?: RulesVerdict;
}

export type Handler<Ctx> = (request: AdmissionRequest, ctx: Ctx, prepared?: Prepared) => HandlerResult;
