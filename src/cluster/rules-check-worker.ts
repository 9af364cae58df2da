/**
 * The thread that checks rules documents (see `rules-checker.ts`): YAML parse, structural check and lint, which take
 * hundreds of ms for a big document, run here instead of on the thread that answers reviews. A valid document's
 * rules go back as JSON text, one text per rule, in batches, each a message of its own: the receiving thread
 * compiles them a few per turn of its event loop, and a rule whose text it compiled before is not compiled again.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { checkRulesText, listedWarnings, type CheckResult } from '../rules/compile.js';
import type { CheckRequest, CheckMessage } from './rules-checker.js';

/** Rules per message (the receiver compiles them a slice of a turn at a time, whatever the batch). */
const BATCH = 20;

/** Niceness of this thread: the thread that answers reviews gets the CPU first whenever it has work. */
const NICENESS = 10;

/**
 * Lowers this thread's priority (Linux, where a thread is a task of its own: `/proc/thread-self` names it). Where
 * that cannot be done the thread runs at the process's priority, as any other.
 */
function yieldToReviews(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, NICENESS);
  } catch {
    // Not Linux, or not allowed: same priority as the rest of the process.
  }
}

/**
 * The last document checked and what its check found. A ConfigMap edit is checked twice with the same text: by the
 * validating webhook, then by the reload its informer event starts; the second is not done again.
 */
let last: { readonly text: string; readonly result: CheckResult } | undefined;

const port = parentPort;
if (port) {
  yieldToReviews();
  port.on('message', (req: CheckRequest) => {
    const post = (m: CheckMessage) => port.postMessage(m);
    const known = last?.text === req.text ? last.result : undefined;
    let result: CheckResult;
    try {
      result = known ?? checkRulesText(req.text);
    } catch (err) {
      post({ id: req.id, type: 'failed', message: err instanceof Error ? err.message : String(err) });
      return;
    }
    last = { text: req.text, result };
    const cached = known !== undefined;
    // Only the warnings that will be listed cross over (tens of thousands would hold the receiving thread).
    const { listed: warnings, more: moreWarnings } = listedWarnings(result);
    if (!result.ok) {
      post({ id: req.id, type: 'invalid', errors: result.errors, warnings, moreWarnings, cached });
      return;
    }
    const { rules, ...rest } = result.doc;
    // As JSON text: a string crosses over as one copy, where objects are rebuilt one by one on receipt, and every
    // message already queued is received in one go (so the receiver parses a rule only when it takes it up, and
    // only when its text is new).
    if (req.rules)
      for (let i = 0; i < rules.length; i += BATCH)
        post({ id: req.id, type: 'rules', rules: rules.slice(i, i + BATCH).map((r) => JSON.stringify(r)) });
    post({ id: req.id, type: 'valid', doc: { ...rest, rules: [] }, count: rules.length, warnings, moreWarnings, cached });
  });
}
