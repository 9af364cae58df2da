/**
 * `placement-webhook serve`: the admission webhook over HTTPS.
 */
import { parseArgs } from 'node:util';
import { join, relative } from 'node:path';
import { pino, type Logger } from 'pino';
import { buildApp } from '../server/app.js';
import { ensureDevCertificate, MIN_TLS_VERSION, readKeyPair } from '../server/tls.js';
import { loadInputs, PACKAGE_ROOT, UsageError } from './inputs.js';

const FLAGS = ['rules', 'nodes', 'namespaces', 'host', 'port', 'tls-cert', 'tls-key', 'log-level'] as const;
type Flag = (typeof FLAGS)[number];

/** `--tls-cert` → `PLACEMENT_WEBHOOK_TLS_CERT` */
export const envName = (flag: Flag) => `PLACEMENT_WEBHOOK_${flag.toUpperCase().replaceAll('-', '_')}`;

/** Flags win over environment variables, which win over defaults. */
function settings(argv: string[]): Record<Flag, string | undefined> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: Object.fromEntries(FLAGS.map((f) => [f, { type: 'string' as const }])),
  });
  if (positionals.length > 0) throw new UsageError(`serve takes no arguments, got ${JSON.stringify(positionals[0])}`);
  return Object.fromEntries(
    FLAGS.map((f) => [f, (values as Record<string, string | undefined>)[f] ?? process.env[envName(f)]]),
  ) as Record<Flag, string | undefined>;
}

export function createLogger(level = 'info'): Logger {
  return pino({
    level,
    base: { service: 'placement-webhook' },
    // Objects are never logged; these paths guard against a future slip.
    redact: { paths: ['*.env', '*.envFrom', '*.object', '*.oldObject', 'req.headers.authorization'], censor: '[redacted]' },
  });
}

export async function serve(argv: string[]): Promise<number> {
  const s = settings(argv);
  const port = Number(s.port ?? '8443');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: invalid value ${JSON.stringify(s.port)}`);
  const host = s.host ?? '0.0.0.0';
  if ((s['tls-cert'] === undefined) !== (s['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  const logger = createLogger(s['log-level']);
  const inputs = await loadInputs(s);

  let certFile = s['tls-cert'];
  let keyFile = s['tls-key'];
  if (certFile === undefined || keyFile === undefined) {
    const dev = await ensureDevCertificate(join(PACKAGE_ROOT, 'certs'));
    ({ certFile, keyFile } = dev);
    logger.info({ certFile, created: dev.created }, 'no --tls-cert given: using the development certificate for localhost');
  }
  const pair = await readKeyPair(certFile, keyFile);

  const app = buildApp({
    ctx: inputs.cluster,
    logger,
    https: { key: pair.key, cert: pair.cert, minVersion: MIN_TLS_VERSION },
  });
  await app.listen({ host, port });
  logger.info(
    { rules: inputs.files.rules, ruleCount: inputs.ruleSet.rules.length, nodes: inputs.cluster.nodes().index.size, host, port },
    'serving',
  );
  if (inputs.usingExamples) {
    const example = relative(process.cwd(), join(PACKAGE_ROOT, 'examples', 'admission', 'create-pod-spot-consumer.json')) || '.';
    const address = app.server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    process.stderr.write(
      `\nplacement-webhook is serving the example rules. Try it (prints the JSON patch for an example pod):\n\n` +
        `  curl -sk -H 'Content-Type: application/json' --data @${example} https://127.0.0.1:${actualPort}/mutate | sed -E 's/.*"patch":"([^"]+)".*/\\1/' | base64 -d; echo\n\n`,
    );
  }

  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing in-flight reviews');
    await app.close();
    logger.info('stopped');
  };
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void stop(sig).then(resolve));
  });
  return 0;
}
