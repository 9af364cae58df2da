/**
 * The thread that checks rules documents (see `rules-checker.ts`): YAML parse, structural check and lint, which take
 * hundreds of ms for a big document, run here instead of on the thread that answers reviews. A valid document's
 * rules go back in batches, each a message of its own, so that the receiving thread reads (deserialises) and
 * compiles them a batch per turn of its event loop.
 */
import { parentPort } from 'node:worker_threads';
import { checkRulesText } from '../rules/compile.js';
import type { CheckRequest, CheckMessage } from './rules-checker.js';

/** Rules per message: small enough that reading and compiling a batch takes ~1 ms. */
const BATCH = 20;

const port = parentPort;
if (port) {
  port.on('message', (req: CheckRequest) => {
    const post = (m: CheckMessage) => port.postMessage(m);
    let result;
    try {
      result = checkRulesText(req.text);
    } catch (err) {
      post({ id: req.id, type: 'failed', message: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (!result.ok) {
      post({ id: req.id, type: 'invalid', errors: result.errors, warnings: result.warnings });
      return;
    }
    const { rules, ...rest } = result.doc;
    if (req.rules) for (let i = 0; i < rules.length; i += BATCH) post({ id: req.id, type: 'rules', rules: rules.slice(i, i + BATCH) });
    post({ id: req.id, type: 'valid', doc: { ...rest, rules: [] }, count: rules.length, warnings: result.warnings });
  });
}
