#!/usr/bin/env node
/**
 * placement-webhook: one binary for the server and the offline tools.
 *   serve | check | replay | lint   (see `placement-webhook help`)
 */
import { PlacementError } from '../errors.js';
import { UsageError } from './inputs.js';

export const USAGE = `placement-webhook — places pods by label-based rules at admission

Usage:
  placement-webhook serve  [--rules F] [--nodes F] [--namespaces F] [--host H] [--port P] [--tls-cert F --tls-key F]
  placement-webhook check  [--rules F] [--nodes F] [--namespaces F] [-o text|json|yaml] FILE... (or - for stdin)
  placement-webhook replay [--rules F] [--nodes F] [--namespaces F] [--endpoint mutate|validate] REVIEW.json...
  placement-webhook lint   FILE
  placement-webhook certs  [--service S] [--namespace N] [--out DIR] [--kustomize-dir DIR] [--san NAME|IP]... [--days D]

serve in a cluster: --kubeconfig F | --in-cluster, --rules-configmap NS/NAME (or --rules F), --max-staleness 60s,
  --cert-reload-interval 10s, --shutdown-delay 5s, --relist-interval 10m

With none of --rules/--nodes/--namespaces, the examples shipped in examples/ are used.
Every flag of serve has an environment variable: PLACEMENT_WEBHOOK_<FLAG> (e.g. PLACEMENT_WEBHOOK_TLS_CERT).
Exit codes: 0 success (all allowed / valid), 1 denied or invalid, 2 bad input or usage.`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serve,
  check: async () => (await import('./check.js')).check,
  replay: async () => (await import('./replay.js')).replay,
  lint: async () => (await import('./lint.js')).lint,
  certs: async () => (await import('./certs.js')).certs,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(`unknown command ${JSON.stringify(name)}\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof PlacementError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
