#!/usr/bin/env node
/**
 * placement-webhook: one binary for the server and the offline tools.
 * The commands (serve, check, replay, lint, templates, certs, ...) and their usage text are in `run.ts`.
 */
import { run } from './run.js';

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
