/**
 * Rules documents checked off the review path. A 1,000-rule document takes hundreds of ms to parse, check and lint;
 * on the thread that answers reviews, every review would wait that long behind a ConfigMap edit. So the check runs
 * in a worker thread (`rules-check-worker.ts`), and what comes back is cheap to take in:
 *
 * - `check(text)`: the check's verdict alone (errors and warnings), for the validating webhook's answer on a rules
 *   ConfigMap edit.
 * - `compile(text)`: the rule set. A rule set holds closures and cannot cross threads, so the worker sends the valid
 *   document's rules in batches of JSON text, one message each. Messages that arrive together are all received in
 *   one turn, so they are only queued on receipt; each batch is then parsed and compiled in a turn of its own
 *   (~0.5 ms), and the rule set is assembled when the last one is in. No turn of the event loop holds more than a
 *   batch, so reviews go on in between. Only the warnings that are listed cross over (see `LISTED_WARNINGS`).
 *
 * Requests are answered in order, one at a time. A worker that cannot start, dies or takes longer than the timeout
 * is replaced; that request is then checked on this thread (slow, but never lost, never a wrong answer).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { FieldError } from '../util/errors.js';
import { buildRuleSet, checkRulesText, compileRule, parseRules, type CompileResult, type CompiledRule, type RulesVerdict } from '../rules/compile.js';
import type { Rule, RulesDocument } from '../rules/schema.js';

/** Longest a check may take before the worker is given up for that request (a 1,000-rule document takes < 1 s). */
const DEFAULT_TIMEOUT_MS = 20_000;

/** What the worker is asked. `rules`: send the rules of a valid document back (for `compile`). */
export interface CheckRequest {
  readonly id: number;
  readonly text: string;
  readonly rules: boolean;
}

/** What the worker answers: batches of rules, then one final message. */
export type CheckMessage =
  | { readonly id: number; readonly type: 'rules'; readonly rules: string }
  | {
      readonly id: number;
      readonly type: 'valid';
      readonly doc: RulesDocument;
      readonly count: number;
      readonly warnings: readonly FieldError[];
      readonly moreWarnings: number;
    }
  | {
      readonly id: number;
      readonly type: 'invalid';
      readonly errors: readonly FieldError[];
      readonly warnings: readonly FieldError[];
      readonly moreWarnings: number;
    }
  | { readonly id: number; readonly type: 'failed'; readonly message: string };

interface Pending {
  readonly request: CheckRequest;
  readonly resolve: (r: CompileResult | RulesVerdict) => void;
  readonly rules: Rule[];
  readonly compiled: CompiledRule[];
}

export interface RulesCheckerOptions {
  readonly logger?: Logger;
  readonly timeoutMs?: number;
}

/**
 * The worker: the compiled `rules-check-worker.js` next to this module or, where this module runs as TypeScript
 * (tests, `tsx`), the `.ts` file loaded through tsx's loader, registered in the worker first.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./rules-check-worker.js', import.meta.url));
  const entry = new URL('./rules-check-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true });
}

export class RulesChecker {
  private worker: Worker | undefined;
  private queue: Pending[] = [];
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private checkedHere = 0;
  /** Messages received and not taken up yet, in order: while there are any, a turn to take up the next is scheduled. */
  private inbox: CheckMessage[] = [];

  constructor(private readonly opts: RulesCheckerOptions = {}) {}

  /** Documents checked on this thread because the worker could not (did not start, died, timed out, was closed). */
  get fallbacks(): number {
    return this.checkedHere;
  }

  /** Errors and warnings of a document, as `parseRules` finds them (the rule set is not built). */
  check(text: string): Promise<RulesVerdict> {
    return this.enqueue(text, false);
  }

  /** The rule set of a document, or its errors: `parseRules`, without holding the event loop. */
  compile(text: string): Promise<CompileResult> {
    return this.enqueue(text, true) as Promise<CompileResult>;
  }

  /** Stops the worker; requests not answered yet are checked on this thread. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.fallBackAll();
    await worker?.terminate();
  }

  private enqueue(text: string, rules: boolean): Promise<CompileResult | RulesVerdict> {
    return new Promise((resolve) => {
      this.queue.push({ request: { id: this.nextId++, text, rules }, resolve, rules: [], compiled: [] });
      if (this.queue.length === 1) this.send();
    });
  }

  private send(): void {
    const head = this.queue[0];
    if (!head) return;
    if (this.closed) return this.fallBackAll();
    const worker = this.ensureWorker();
    if (!worker) return this.fallBackAll();
    worker.postMessage(head.request);
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.replaceWorker(`no answer in ${this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`),
      this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    this.timer.unref();
  }

  private ensureWorker(): Worker | undefined {
    if (this.worker) return this.worker;
    try {
      const worker = startWorker();
      worker.unref();
      worker.on('message', (m: CheckMessage) => this.receive(worker, m));
      worker.on('error', (err) => this.replaceWorker(err.message, worker));
      worker.on('exit', (code) => this.replaceWorker(`exited with code ${code}`, worker));
      this.worker = worker;
      return worker;
    } catch (err) {
      this.opts.logger?.warn({ err }, 'rules check thread could not start; checking on the main thread');
      return undefined;
    }
  }

  /** The worker failed: the request in flight is checked here, the worker replaced for the next ones. */
  private replaceWorker(why: string, which: Worker | undefined = this.worker): void {
    if (which === undefined || which !== this.worker) return;
    this.worker = undefined;
    clearTimeout(this.timer);
    void which.terminate();
    if (this.closed) return;
    this.opts.logger?.warn({ reason: why }, 'rules check thread failed; checking this document on the main thread');
    const head = this.queue.shift();
    if (head) head.resolve(this.here(head.request));
    this.send();
  }

  private fallBackAll(): void {
    clearTimeout(this.timer);
    const pending = this.queue;
    this.queue = [];
    for (const p of pending) p.resolve(this.here(p.request));
  }

  /** A request answered on this thread. */
  private here(request: CheckRequest): CompileResult | RulesVerdict {
    this.checkedHere++;
    return request.rules ? parseRules(request.text) : checkRulesText(request.text);
  }

  private receive(worker: Worker, m: CheckMessage): void {
    if (worker !== this.worker) return;
    if (this.inbox.push(m) === 1) setImmediate(this.pump);
  }

  /** Takes up one received message per turn of the event loop. */
  private readonly pump = (): void => {
    const m = this.inbox.shift();
    if (m !== undefined) this.take(m);
    if (this.inbox.length > 0) setImmediate(this.pump);
  };

  private take(m: CheckMessage): void {
    const head = this.queue[0];
    if (!head || head.request.id !== m.id) return;
    switch (m.type) {
      case 'rules':
        for (const rule of JSON.parse(m.rules) as Rule[]) {
          // Parsed here from the thread's text: a copy no one else holds, frozen as it is.
          head.compiled.push(compileRule(rule, head.rules.length, true));
          head.rules.push(rule);
        }
        return;
      case 'valid': {
        const { warnings, moreWarnings } = m;
        if (!head.request.rules) return this.finish({ ok: true, warnings, moreWarnings });
        const doc: RulesDocument = { ...m.doc, rules: head.rules };
        this.finish({ ok: true, ruleSet: buildRuleSet(doc, warnings, head.compiled), warnings, moreWarnings });
        return;
      }
      case 'invalid':
        this.finish({ ok: false, errors: m.errors, warnings: m.warnings, moreWarnings: m.moreWarnings });
        return;
      case 'failed':
        this.opts.logger?.warn({ reason: m.message }, 'rules check failed in its thread; checking on the main thread');
        this.finish(this.here(head.request));
        return;
    }
  }

  private finish(result: CompileResult | RulesVerdict): void {
    clearTimeout(this.timer);
    const head = this.queue.shift();
    head?.resolve(result);
    this.send();
  }
}
