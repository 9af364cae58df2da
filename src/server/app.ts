/**
 * The fastify application: routes and transport concerns (content type, body limit, malformed input), no listen.
 * Tests drive it with `app.inject()`; `serve` adds TLS and listens.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { AdmissionContext } from '../admission/context.js';
import { BadReviewError, decodeReview, uidOf } from '../admission/decode.js';
import type { HandlerResult, Prepared } from '../admission/handler.js';
import { rulesConfigMapText } from '../admission/validate-rules.js';
import type { RulesVerdict } from '../rules/compile.js';
import { handleMutate, mutateReads, sameMutateReads } from '../admission/mutate.js';
import { answerFor, cutAnswer, Lru, reviewKey, type AnswerText } from '../admission/memo.js';
import type { ReviewRecord } from '../admission/context.js';
import { handleValidate } from '../admission/validate.js';
import { errored, review } from '../admission/response.js';
import type { AdmissionRequest, AdmissionReviewRequest } from '../admission/types.js';
import { formatFieldError } from '../util/errors.js';
import type { Logger } from 'pino';
import { metricKind, type Metrics } from './metrics.js';

/** Largest AdmissionReview accepted, as controller-runtime (the API server's own limit is 3 MiB per object). */
export const BODY_LIMIT = 7 * 1024 * 1024;

export interface AppOptions {
  readonly ctx: AdmissionContext;
  readonly logger: FastifyBaseLogger;
  /** Why the webhook is not ready, or undefined when it is. */
  readonly notReady?: () => string | undefined;
  /** Metrics to record, served at /metrics; none when absent. */
  readonly metrics?: Metrics;
  /** Checks rules documents off the review path (`cluster/rules-checker.ts`); absent: the handler checks them. */
  readonly rulesChecker?: { check(text: string): Promise<RulesVerdict> };
  /** TLS key and certificate; plain HTTP when absent (tests, `replay`). */
  readonly https?: { key: string; cert: string; minVersion: 'TLSv1.2' | 'TLSv1.3' };
}

type Handler = (request: AdmissionRequest, ctx: AdmissionContext, prepared?: Prepared) => HandlerResult;

declare module 'fastify' {
  interface FastifyRequest {
    /** The body as received (JSON bodies only), to know a review seen before. */
    bodyText?: string;
  }
}

/**
 * A handler whose answer depends only on the request and on what `reads` returns: a review that differs from an
 * earlier one only in its uid gets the earlier answer while `same` holds for the two reads.
 */
interface Reuse<R> {
  reads(request: AdmissionRequest, ctx: AdmissionContext): R;
  same(a: R, b: R): boolean;
}

/** What a body (without its uid) is known to be: an AdmissionReview that decodes, and maybe its last answer. */
interface Known {
  answer?: { readonly reads: unknown; readonly text: AnswerText; readonly record: ReviewRecord };
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** The routes and their methods (GET routes answer HEAD too), for 405 answers with `Allow`. */
const ROUTE_METHODS: Readonly<Record<string, readonly string[]>> = {
  '/mutate': ['POST'],
  '/validate': ['POST'],
  '/healthz': ['GET', 'HEAD'],
  '/readyz': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
};

/** How much of an oversized body is read (and dropped) so that the 413 reaches the client; beyond it, the connection closes. */
const DRAIN_LIMIT = 64 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 5000;

/** Reads and drops the rest of a request body, up to `DRAIN_LIMIT` bytes or `DRAIN_TIMEOUT_MS`. */
function drain(raw: IncomingMessage): Promise<void> {
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let read = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', done);
      raw.off('error', done);
      raw.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > DRAIN_LIMIT) done();
    };
    const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
    timer.unref();
    raw.on('data', onData);
    raw.on('end', done);
    raw.on('error', done);
    raw.on('close', done);
    raw.resume();
  });
}

/** A Kubernetes-style Status body for transport errors. */
function statusBody(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

class TransportError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

function admissionRoute<R>(app: FastifyInstance, path: string, handler: Handler, opts: AppOptions, reuse?: Reuse<R>): void {
  const { ctx, metrics, rulesChecker } = opts;
  const memo = new Lru<Known>();
  const endpoint = path.slice(1);
  /**
   * What the handler needs read first (handlers are synchronous, the reads are not); undefined when there is nothing
   * to read, the common case: no promise and no extra turn then.
   */
  const prepare = (request: AdmissionRequest): Promise<Prepared> | undefined => {
    // A scale names its workload only: read it first (bounded in time; the handler fails open without it).
    if (request.subResource === 'scale' && ctx.scaled) return ctx.scaled(request).then((scaled) => ({ scaled }));
    // A rules document is checked in its own thread: a big one takes hundreds of ms that other reviews need not wait.
    const text = endpoint === 'validate' && rulesChecker ? rulesConfigMapText(request) : undefined;
    if (text !== undefined && rulesChecker) return rulesChecker.check(text).then((rules) => ({ rules }));
    return undefined;
  };
  // The one line per review is built from scalar fields only (never an object, so never a secret): it skips the
  // logger's redaction, which costs more than the line itself. Every other line keeps it.
  const reviewLog = (app.log as Logger).child({}, { redact: { paths: [] } });
  app.post(path, async (req: FastifyRequest, reply: FastifyReply) => {
    const started = performance.now();
    const key = req.bodyText === undefined ? undefined : reviewKey(req.bodyText, uidOf(req.body));
    let known = key === undefined ? undefined : memo.get(key);
    let request: AdmissionRequest;
    try {
      // A body that decoded before but for its uid would decode again: it is not checked twice (admission/memo.ts).
      request = known ? (req.body as AdmissionReviewRequest).request : decodeReview(req.body).request;
    } catch (err) {
      if (err instanceof BadReviewError) {
        const message = `not an ${err.what} v1 request: ${err.errors.map(formatFieldError).join('; ')}`;
        req.log.warn({ path, uid: err.uid, reason: message }, 'bad review');
        metrics?.reviews.inc({ endpoint, decision: 'bad_request', kind: 'other' });
        // An HTTP error, so that the API server applies the failurePolicy; the uid echoed when there was one.
        const body = err.uid === undefined ? statusBody(400, 'BadRequest', message) : review(errored(err.uid, 400, message));
        return reply.code(400).send(body);
      }
      throw err;
    }
    if (key !== undefined && known === undefined) memo.set(key, (known = {}));
    const pod = request.object as { metadata?: { name?: string; generateName?: string } } | null | undefined;
    const fields = {
      uid: request.uid,
      kind: request.kind.kind,
      namespace: request.namespace,
      name: request.name || pod?.metadata?.name || (pod?.metadata?.generateName ? `${pod.metadata.generateName}*` : undefined),
      operation: request.operation,
      dryRun: request.dryRun ?? false,
    };
    const durationMs = () => performance.now() - started;
    /** The review's log line and metrics; `reused` when the answer was the one given to the same body before. */
    const done = (record: ReviewRecord, reused: boolean) => {
      const ms = durationMs();
      reviewLog.info(reused ? { ...fields, ...record, reused, durationMs: ms } : { ...fields, ...record, durationMs: ms }, 'review');
      metrics?.reviews.inc({ endpoint, decision: record.decision, kind: metricKind(request.kind) });
      metrics?.reviewDuration.observe({ endpoint }, ms / 1000);
    };
    try {
      if (request.namespace && ctx.ensureNamespace && ctx.namespaceLabels(request.namespace) === undefined) {
        await ctx.ensureNamespace(request.namespace);
      }
      const reading = prepare(request);
      const prepared = reading === undefined ? undefined : await reading;
      const reads = reuse && known && reading === undefined ? reuse.reads(request, ctx) : undefined;
      const last = known?.answer;
      if (reads !== undefined && last !== undefined && reuse?.same(last.reads as R, reads)) {
        done(last.record, true);
        return reply.type(JSON_TYPE).send(answerFor(last.text, request.uid));
      }
      const { response, record } = handler(request, ctx, prepared);
      done(record, false);
      if (reads === undefined || known === undefined) return review(response);
      const text = JSON.stringify(review(response));
      const cut = cutAnswer(text, request.uid);
      if (cut) known.answer = { reads, text: cut, record };
      return reply.type(JSON_TYPE).send(text);
    } catch (err) {
      // Answer with the uid and HTTP 500: the API server then applies the webhook's failurePolicy.
      const message = err instanceof Error ? err.message : String(err);
      req.log.error({ ...fields, decision: 'error', err, durationMs: durationMs() }, 'review failed');
      metrics?.reviews.inc({ endpoint, decision: 'error', kind: metricKind(request.kind) });
      return reply.code(500).send(review(errored(request.uid, 500, `internal error: ${message}`)));
    }
  });
}

export function buildApp(opts: AppOptions): FastifyInstance {
  const options: FastifyServerOptions & { https?: AppOptions['https'] } = {
    loggerInstance: opts.logger,
    // Our own line per review replaces fastify's request/response lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
    ...(opts.https ? { https: opts.https } : {}),
  };
  const app = Fastify(options) as unknown as FastifyInstance;

  // Only JSON is an AdmissionReview. `__proto__` and `constructor.prototype` keys are refused, not merged.
  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    req.bodyText = text;
    void parseJson(req, text, (err, value) => {
      if (err === null) return done(null, value);
      // fastify reports a refused prototype key as invalid JSON; say which of the two it is.
      if ((err as { code?: string }).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return done(err, undefined);
      try {
        JSON.parse(text);
      } catch (syntax) {
        return done(new TransportError(400, `invalid JSON: ${syntax instanceof Error ? syntax.message : String(syntax)}`), undefined);
      }
      done(new TransportError(400, 'a "__proto__" or "constructor.prototype" key is not allowed in the body'), undefined);
    });
  });
  app.addContentTypeParser('*', (req, _payload, done) => {
    done(
      new TransportError(400, `unsupported content type ${JSON.stringify(req.headers['content-type'] ?? '')}; expected application/json`),
      undefined,
    );
  });

  app.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const code = err.statusCode ?? 500;
    // fastify refuses an oversized body before reading it; answering then would make Node close the connection
    // under a client still writing (EPIPE, no 413 seen). The rest is read and dropped first, within bounds.
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') await drain(req.raw);
    if (code >= 500) {
      req.log.error({ err }, 'request failed');
      return reply.code(500).send(statusBody(500, 'InternalError', 'internal error'));
    }
    // Bad input is the client's problem: 400 for anything malformed, 413 for a body over the limit.
    const status = code === 413 ? 413 : 400;
    const reason = status === 413 ? 'RequestEntityTooLarge' : 'BadRequest';
    const message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `request body is larger than ${BODY_LIMIT} bytes` : err.message;
    req.log.warn({ reason: message, status }, 'bad request');
    return reply.code(status).send(statusBody(status, reason, message));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const allowed = Object.hasOwn(ROUTE_METHODS, path) ? ROUTE_METHODS[path] : undefined;
    if (allowed) {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send(statusBody(405, 'MethodNotAllowed', `${req.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`));
    }
    return reply.code(404).send(statusBody(404, 'NotFound', `no route ${req.method} ${req.url}`));
  });

  app.decorateRequest('bodyText', undefined);
  admissionRoute(app, '/mutate', handleMutate, opts, { reads: mutateReads, same: sameMutateReads });
  admissionRoute(app, '/validate', handleValidate, opts);
  const { metrics } = opts;
  if (metrics) {
    app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const why = opts.notReady?.();
    return why === undefined ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reason: why });
  });
  return app;
}
