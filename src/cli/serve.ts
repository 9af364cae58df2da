/**
 * `placement-webhook serve`: the admission webhook over HTTPS.
 *
 * Local mode (no cluster): rules, nodes, namespaces, NodePools and (with `--pods`) the pods bound to the nodes
 * from files, or the embedded examples. Without `--pods` there is no pod cache: "would it be scheduled now" is not
 * asked.
 * Cluster mode (`--kubeconfig FILE`, or `--in-cluster`, or `--rules-configmap NS/NAME`): nodes and namespaces from
 * informers, rules from the ConfigMap (or `--rules FILE`), certificates reloaded from disk, metrics, and a graceful
 * shutdown that first turns unready so that endpoints drain.
 */
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { parseArgs } from 'node:util';
import { join, relative } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import type { AdmissionContext } from '../admission/context.js';
import { LiveCluster } from '../cluster/live.js';
import { RulesChecker } from '../cluster/rules-checker.js';
import { ClusterAudit, leaderIdentity, slicedAudit, webhookNamespace } from '../cluster/audit-loop.js';
import { compileRules, loadRules, type RuleSet } from '../rules/compile.js';
import { API_VERSION, KIND } from '../rules/schema.js';
import { buildApp } from '../server/app.js';
import { CertificateReloader, certificateNotAfter, checkKeyPair } from '../server/cert-reload.js';
import { Metrics } from '../server/metrics.js';
import { ensureDevCertificate, MIN_TLS_VERSION, type KeyPair } from '../server/tls.js';
import { systemMessage } from './files.js';
import { loadInputs, PACKAGE_ROOT, readText, UsageError } from './inputs.js';

const FLAGS = [
  'rules',
  'nodes',
  'namespaces',
  'pods',
  'nodepools',
  'host',
  'port',
  'tls-cert',
  'tls-key',
  'log-level',
  'kubeconfig',
  'rules-configmap',
  'max-staleness',
  'cert-reload-interval',
  'shutdown-delay',
  'relist-interval',
  'watch-pods',
  'watch-autoscalers',
  'audit-interval',
] as const;
/** On/off flags of cluster mode that default to on: `--watch-pods` alone means true, `--watch-pods=false` turns it off. */
const SWITCHES = ['watch-pods', 'watch-autoscalers'] as const;
const BOOLEAN_FLAGS = ['in-cluster'] as const;
type Flag = (typeof FLAGS)[number] | (typeof BOOLEAN_FLAGS)[number];

/** `--tls-cert` → `PLACEMENT_WEBHOOK_TLS_CERT` */
export const envName = (flag: Flag) => `PLACEMENT_WEBHOOK_${flag.toUpperCase().replaceAll('-', '_')}`;

/** Flags win over environment variables, which win over defaults. */
function settings(argv: string[]): Record<Flag, string | undefined> {
  const { values, positionals } = parseArgs({
    args: argv.map((a) => (SWITCHES.some((f) => a === `--${f}`) ? `${a}=true` : a)),
    allowPositionals: true,
    options: {
      ...Object.fromEntries(FLAGS.map((f) => [f, { type: 'string' as const }])),
      ...Object.fromEntries(BOOLEAN_FLAGS.map((f) => [f, { type: 'boolean' as const }])),
    },
  });
  if (positionals.length > 0) throw new UsageError(`serve takes no arguments, got ${JSON.stringify(positionals[0])}`);
  const given = values as Record<string, string | boolean | undefined>;
  return Object.fromEntries(
    [...FLAGS, ...BOOLEAN_FLAGS].map((f) => {
      const v = given[f];
      return [f, v === true ? 'true' : v === false || v === undefined ? process.env[envName(f)] : v];
    }),
  ) as Record<Flag, string | undefined>;
}

/** `true`/`false` (also from the environment); undefined → the default, on. */
function parseSwitch(flag: (typeof SWITCHES)[number], value: string | undefined): boolean {
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`--${flag}: expected true or false, got ${JSON.stringify(value)}`);
}

/** `60`, `60s`, `2m`, `500ms` → milliseconds. */
export function parseDuration(flag: string, value: string | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new UsageError(`--${flag}: invalid duration ${JSON.stringify(value)}; use e.g. 60s, 2m, 500ms`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

/** JSON lines on stdout, written asynchronously (one review must not wait for a write to the terminal or pipe). */
export function createLogger(level = 'info'): Logger {
  return pino(
    {
      level,
      base: { service: 'placement-webhook' },
      // Objects are never logged; these paths guard against a future slip.
      redact: { paths: ['*.env', '*.envFrom', '*.object', '*.oldObject', 'req.headers.authorization'], censor: '[redacted]' },
    },
    pino.destination({ dest: 1, sync: false }),
  );
}

function emptyRules(): RuleSet {
  const r = compileRules({ apiVersion: API_VERSION, kind: KIND, rules: [] });
  if (!r.ok) throw new Error('the empty rule set does not compile');
  return r.ruleSet;
}

interface Source {
  ctx: AdmissionContext;
  notReady: () => string | undefined;
  start: () => void;
  stop: () => Promise<void>;
  describe: Record<string, unknown>;
  usingExamples: boolean;
}

/** The serving pair from `--tls-cert`/`--tls-key`, refused (exit 2) when unreadable or unusable. */
async function servingKeyPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const read = async (flag: string, file: string) => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`${flag}: cannot read ${file}: ${systemMessage(err)}`);
    }
  };
  const pair = { cert: await read('--tls-cert', certFile), key: await read('--tls-key', keyFile) };
  try {
    checkKeyPair(pair);
  } catch (err) {
    throw new UsageError(`--tls-cert ${certFile} --tls-key ${keyFile}: not a usable certificate and key: ${systemMessage(err)}`);
  }
  return pair;
}

/** Where a client on this machine reaches a server listening on `host` (the wildcard addresses: loopback). */
export function localUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `https://${isIPv6(reachable) ? `[${reachable}]` : reachable}:${port}`;
}

/** The command line that posts the example review to `url` and prints the JSON patch (the README shows it too). */
export function curlHint(reviewFile: string, url: string): string {
  return `curl -sk -H 'Content-Type: application/json' --data @${reviewFile} ${url}/mutate | sed -E 's/.*"patch":"([^"]+)".*/\\1/' | base64 -d; echo`;
}

/** `--audit-interval D`: off when absent; at least 1s. */
function auditInterval(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration('audit-interval', value, 0);
  if (ms < 1000) throw new UsageError(`--audit-interval: at least 1s, got ${JSON.stringify(value)}`);
  return ms;
}

async function clusterSource(s: Record<Flag, string | undefined>, logger: Logger, metrics: Metrics, rulesChecker: RulesChecker): Promise<Source> {
  const watchPods = parseSwitch('watch-pods', s['watch-pods']);
  const watchAutoscalers = parseSwitch('watch-autoscalers', s['watch-autoscalers']);
  const kubeConfig = new KubeConfig();
  try {
    if (s['kubeconfig']) kubeConfig.loadFromFile(s['kubeconfig']);
    else if (s['in-cluster'] === 'true') kubeConfig.loadFromCluster();
    else kubeConfig.loadFromDefault();
  } catch (err) {
    const what = s['kubeconfig'] ? `--kubeconfig ${s['kubeconfig']}` : s['in-cluster'] === 'true' ? '--in-cluster' : 'the default kubeconfig';
    throw new UsageError(`${what}: cannot load the cluster configuration: ${systemMessage(err)}`);
  }
  let rulesConfigMap: { namespace: string; name: string } | undefined;
  if (s['rules-configmap']) {
    const [namespace, name, ...rest] = s['rules-configmap'].split('/');
    if (!namespace || !name || rest.length > 0)
      throw new UsageError(`--rules-configmap: expected NAMESPACE/NAME, got ${JSON.stringify(s['rules-configmap'])}`);
    rulesConfigMap = { namespace, name };
  }
  const fixedRules = s.rules ? loadRules(await readText(s.rules), s.rules) : undefined;
  if (!rulesConfigMap && !fixedRules) throw new UsageError('cluster mode needs --rules-configmap NAMESPACE/NAME or --rules FILE');
  const cluster = new LiveCluster({
    kubeConfig,
    ...(rulesConfigMap ? { rulesConfigMap } : { fixedRules }),
    emptyRules: emptyRules(),
    maxStalenessMs: parseDuration('max-staleness', s['max-staleness'], 60_000),
    relistMs: parseDuration('relist-interval', s['relist-interval'], 10 * 60_000),
    watchPods,
    watchAutoscalers,
    logger,
    metrics,
    rulesChecker,
  });
  const auditIntervalMs = auditInterval(s['audit-interval']);
  const clusterAudit =
    auditIntervalMs === undefined
      ? undefined
      : new ClusterAudit({
          kubeConfig,
          caches: cluster,
          engine: async (inputs, signal) => (await slicedAudit(inputs, undefined, signal)).findings,
          intervalMs: auditIntervalMs,
          namespace: webhookNamespace(process.env, rulesConfigMap?.namespace ?? 'placement-webhook'),
          identity: leaderIdentity(process.env),
          logger,
          metrics,
        });
  return {
    ctx: cluster,
    notReady: () => {
      cluster.updateGauges();
      return cluster.notReady();
    },
    start: () => {
      cluster.start();
      clusterAudit?.start();
    },
    stop: async () => {
      await clusterAudit?.stop();
      await cluster.stop();
    },
    describe: { mode: 'cluster', server: kubeConfig.getCurrentCluster()?.server, rulesConfigMap: s['rules-configmap'], rules: s.rules },
    usingExamples: false,
  };
}

async function fileSource(s: Record<Flag, string | undefined>, metrics: Metrics): Promise<Source> {
  const inputs = await loadInputs(s);
  metrics.rulesLoaded.set(inputs.ruleSet.rules.length);
  metrics.rulesLastSuccess.set(Date.now() / 1000);
  metrics.nodes.set(inputs.cluster.nodes().index.size);
  return {
    ctx: inputs.cluster,
    notReady: () => undefined,
    start: () => undefined,
    stop: async () => undefined,
    describe: { mode: 'local', rules: inputs.files.rules, ruleCount: inputs.ruleSet.rules.length, nodes: inputs.cluster.nodes().index.size },
    usingExamples: inputs.usingExamples,
  };
}

export async function serve(argv: string[]): Promise<number> {
  const s = settings(argv);
  const port = Number(s.port ?? '8443');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: invalid value ${JSON.stringify(s.port)}`);
  const host = s.host ?? '0.0.0.0';
  if ((s['tls-cert'] === undefined) !== (s['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const clusterMode = s['kubeconfig'] !== undefined || s['in-cluster'] === 'true' || s['rules-configmap'] !== undefined;
  const local = (['nodes', 'namespaces', 'pods', 'nodepools'] as const).filter((f) => s[f]);
  if (clusterMode && local.length > 0)
    throw new UsageError(`${local.map((f) => `--${f}`).join(', ')}: for local mode; in cluster mode they come from the API server`);
  if (!clusterMode && s['audit-interval'] !== undefined)
    throw new UsageError('--audit-interval: for cluster mode (--kubeconfig, --in-cluster or --rules-configmap)');
  const shutdownDelayMs = parseDuration('shutdown-delay', s['shutdown-delay'], clusterMode ? 5000 : 0);
  const logger = createLogger(s['log-level']);
  const metrics = new Metrics();
  // One thread checks every rules document: ConfigMap edits under review and, in cluster mode, reloads.
  const rulesChecker = new RulesChecker({ logger });
  const source = clusterMode ? await clusterSource(s, logger, metrics, rulesChecker) : await fileSource(s, metrics);

  let certFile = s['tls-cert'];
  let keyFile = s['tls-key'];
  if (certFile === undefined || keyFile === undefined) {
    const dir = join(PACKAGE_ROOT, 'certs');
    let dev;
    try {
      dev = await ensureDevCertificate(dir);
    } catch (err) {
      throw new UsageError(`cannot write the development certificate into ${dir}: ${systemMessage(err)}; give --tls-cert and --tls-key`);
    }
    ({ certFile, keyFile } = dev);
    logger.info({ certFile, created: dev.created }, 'no --tls-cert given: using the development certificate for localhost');
  }
  const pair = await servingKeyPair(certFile, keyFile);
  metrics.certificateExpiry.set(certificateNotAfter(pair.cert).getTime() / 1000);

  let shuttingDown = false;
  const app = buildApp({
    ctx: source.ctx,
    logger,
    metrics,
    notReady: () => (shuttingDown ? 'shutting down' : source.notReady()),
    rulesChecker,
    https: { key: pair.key, cert: pair.cert, minVersion: MIN_TLS_VERSION },
  });
  const reloader = new CertificateReloader(pair, {
    certFile,
    keyFile,
    intervalMs: parseDuration('cert-reload-interval', s['cert-reload-interval'], 10_000),
    onReload: (next) => {
      (app.server as unknown as TlsServer).setSecureContext({ key: next.key, cert: next.cert, minVersion: MIN_TLS_VERSION });
      const notAfter = certificateNotAfter(next.cert);
      metrics.certificateExpiry.set(notAfter.getTime() / 1000);
      metrics.certificateReloads.inc({ result: 'success' });
      logger.info({ certFile, notAfter }, 'serving certificate reloaded');
    },
    onError: (err) => {
      metrics.certificateReloads.inc({ result: 'error' });
      logger.error({ certFile, err: err instanceof Error ? err.message : String(err) }, 'serving certificate not reloaded; keeping the current one');
    },
  });

  source.start();
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    await source.stop();
    await rulesChecker.close();
    throw new UsageError(`--host ${host} --port ${port}: cannot listen: ${systemMessage(err)}`);
  }
  reloader.start();
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  logger.info({ ...source.describe, host, port: actualPort }, 'serving');
  if (source.usingExamples) {
    const example = relative(process.cwd(), join(PACKAGE_ROOT, 'examples', 'admission', 'create-pod-spot-consumer.json')) || '.';
    process.stderr.write(
      `\nplacement-webhook is serving the example rules. Try it (prints the JSON patch for an example pod):\n\n` +
        `  ${curlHint(example, localUrl(host, actualPort))}\n\n`,
    );
  }

  await new Promise<void>((resolve) => {
    const stop = async (signal: string) => {
      if (shuttingDown) return;
      shuttingDown = true;
      logger.info({ signal, delayMs: shutdownDelayMs }, 'shutting down: unready first, then finishing in-flight reviews');
      await new Promise((r) => setTimeout(r, shutdownDelayMs));
      reloader.stop();
      await app.close();
      await source.stop();
      await rulesChecker.close();
      logger.info('stopped');
      resolve();
    };
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void stop(sig));
  });
  return 0;
}
