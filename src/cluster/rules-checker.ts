/**
 * Rules documents checked off the review path. A 1,000-rule document takes hundreds of ms to parse, check and lint;
 * on the thread that answers reviews, every review would wait that long behind a ConfigMap edit. So the check runs
 * in a worker thread (`rules-check-worker.ts`), and what comes back is cheap to take in:
 *
 * - `check(text)`: the check's verdict alone (errors and warnings), for the validating webhook's answer on a rules
 *   ConfigMap edit.
 * - `compile(text)`: the rule set. A rule set holds closures and cannot cross threads, so the worker sends the valid
 *   document's rules as JSON text, one text per rule, in batches of a message each. Messages that arrive together
 *   are all received in one turn, so they are only queued on receipt; then, a slice of each turn (`SLICE_MS`), rules
 *   are parsed, compiled and filed into the rule set being assembled (`RuleSetBuilder`: names, candidate index),
 *   and the last message only adds the document's settings. A rule whose text the last document had too is not
 *   parsed or compiled again: editing one rule of a thousand compiles one. No turn of the event loop holds more than
 *   a slice, so reviews go on in between. Only the warnings that are listed cross over (see `LISTED_WARNINGS`).
 *
 * The thread keeps the last text it checked and its verdict: the reload that follows the validating webhook's check of
 * a ConfigMap edit (the same text) is not checked again.
 *
 * Requests are answered in order, one at a time. A worker that cannot start, dies or takes longer than the timeout
 * is replaced; that request is then checked on this thread (slow, but never lost, never a wrong answer).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { FieldError } from '../util/errors.js';
import { checkRulesText, parseRules, RuleSetBuilder, type CompileResult, type CompiledRule, type RulesVerdict } from '../rules/compile.js';
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
  | { readonly id: number; readonly type: 'rules'; readonly rules: readonly string[] }
  | {
      readonly id: number;
      readonly type: 'valid';
      readonly doc: RulesDocument;
      readonly count: number;
      readonly warnings: readonly FieldError[];
      readonly moreWarnings: number;
      /** The thread had checked this very text last: its verdict was reused. */
      readonly cached: boolean;
    }
  | {
      readonly id: number;
      readonly type: 'invalid';
      readonly errors: readonly FieldError[];
      readonly warnings: readonly FieldError[];
      readonly moreWarnings: number;
      readonly cached: boolean;
    }
  | { readonly id: number; readonly type: 'failed'; readonly message: string };

interface Pending {
  readonly request: CheckRequest;
  readonly resolve: (r: CompileResult | RulesVerdict) => void;
  /** The rules received so far, as JSON text (the document's); the first `builder.size` are in the rule set. */
  readonly texts: string[];
  readonly builder: RuleSetBuilder;
  /** This document's rules by text, compiled: the next document reuses those it has too. */
  readonly compiled: Map<string, CompiledRuleOf>;
}

/** A rule as compiled from one text, with the rule it was parsed into. */
interface CompiledRuleOf {
  readonly rule: Rule;
  readonly compiled: CompiledRule;
}

/**
 * The longest the received rules are compiled for in one turn of the event loop (ms): at least one rule is, then
 * reviews go first. A rule takes ~0.03–0.3 ms, so this is a handful of rules on a slow machine, tens on a fast one.
 */
const SLICE_MS = 2;

export interface RulesCheckerOptions {
  readonly logger?: Logger;
  readonly timeoutMs?: number;
  /** The slice of a turn spent compiling received rules (ms; default `SLICE_MS`); 0: one rule or message per turn. */
  readonly sliceMs?: number;
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
  private reusedChecks = 0;
  /** Messages received and not taken up yet, in order. */
  private inbox: CheckMessage[] = [];
  /** Whether a turn is scheduled to take up the inbox and compile what was received. */
  private pumping = false;
  /**
   * The rules of the last document compiled, by text: an edit of one rule of many compiles that rule only (compiled
   * rules are frozen, and shared by the rule sets that have them).
   */
  private lastCompiled: ReadonlyMap<string, CompiledRuleOf> = new Map();

  constructor(private readonly opts: RulesCheckerOptions = {}) {}

  /** Documents checked on this thread because the worker could not (did not start, died, timed out, was closed). */
  get fallbacks(): number {
    return this.checkedHere;
  }

  /** Requests whose text the thread had just checked (a reload after the ConfigMap check of its edit): not checked again. */
  get reused(): number {
    return this.reusedChecks;
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
      this.queue.push({
        request: { id: this.nextId++, text, rules },
        resolve,
        texts: [],
        builder: new RuleSetBuilder(),
        compiled: new Map(),
      });
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
    this.inbox.push(m);
    if (!this.pumping) {
      this.pumping = true;
      setImmediate(this.pump);
    }
  }

  /**
   * Compiles received rules and takes up messages, in order, for up to `SLICE_MS` of this turn (one step at least);
   * schedules the next turn while there is work left.
   */
  private readonly pump = (): void => {
    const until = performance.now() + (this.opts.sliceMs ?? SLICE_MS);
    let more: boolean;
    do more = this.step();
    while (more && performance.now() < until);
    if (more) setImmediate(this.pump);
    else this.pumping = false;
  };

  /** One step: compile the next received rule of the request in hand, else take up the next message. False: nothing left. */
  private step(): boolean {
    const head = this.queue[0];
    if (head && head.builder.size < head.texts.length) {
      const text = head.texts[head.builder.size] as string;
      const known = this.lastCompiled.get(text);
      if (known) {
        head.builder.reuse(known.compiled, known.rule);
        head.compiled.set(text, known);
      } else {
        // Parsed here from the thread's text: a copy no one else holds, frozen as it is.
        const rule = JSON.parse(text) as Rule;
        const compiled = head.builder.add(rule, true);
        head.compiled.set(text, { rule, compiled });
      }
      return true;
    }
    const m = this.inbox.shift();
    if (m === undefined) return false;
    this.take(m);
    return true;
  }

  private take(m: CheckMessage): void {
    const head = this.queue[0];
    if (!head || head.request.id !== m.id) return;
    if ((m.type === 'valid' || m.type === 'invalid') && m.cached) this.reusedChecks++;
    switch (m.type) {
      case 'rules':
        // Compiled a few at a time by the next steps, before the messages after this one are taken up.
        for (const text of m.rules) head.texts.push(text);
        return;
      case 'valid': {
        const { warnings, moreWarnings } = m;
        if (!head.request.rules) return this.finish({ ok: true, warnings, moreWarnings });
        this.lastCompiled = head.compiled;
        this.finish({ ok: true, ruleSet: head.builder.build(m.doc.settings, warnings), warnings, moreWarnings });
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
