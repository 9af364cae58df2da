/**
 * The webhook under test, as a real process (the built `dist/cli/main.js serve`) in cluster mode against the test
 * control plane, and its registration with the API server: the manifests of webhook-config/base with the service
 * reference replaced by a loopback URL and the caBundle of a certificate made by `placement-webhook certs`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { writeCertificates } from '../../../src/cli/certs.js';
import { freePort } from './controlplane.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const MAIN = path.join(ROOT, 'dist', 'cli', 'main.js');

export interface WebhookCerts {
  certFile: string;
  keyFile: string;
  caFile: string;
  caBundle: string;
}

/** A CA and serving certificate for 127.0.0.1, made the way users make theirs. */
export async function makeCerts(dir: string): Promise<WebhookCerts> {
  await writeCertificates({
    service: 'placement-webhook',
    namespace: 'placement-webhook',
    out: dir,
    kustomizeDir: path.join(dir, 'kustomize'),
    sans: ['127.0.0.1'],
    days: 2,
  });
  const caFile = path.join(dir, 'ca.crt');
  return {
    certFile: path.join(dir, 'tls.crt'),
    keyFile: path.join(dir, 'tls.key'),
    caFile,
    caBundle: Buffer.from(readFileSync(caFile)).toString('base64'),
  };
}

export interface Webhook {
  port: number;
  logFile: string;
  /** GET a path of the webhook over HTTPS (trusting its CA). */
  get(urlPath: string): Promise<{ status: number; text: string }>;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

function get(port: number, ca: Buffer, urlPath: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: urlPath, ca, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Starts `placement-webhook serve` in cluster mode and waits until /readyz answers 200. */
export async function startWebhook(opts: {
  kubeconfig: string;
  certs: WebhookCerts;
  dir: string;
  port?: number;
  extraArgs?: string[];
}): Promise<Webhook> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const port = opts.port ?? (await freePort());
  const logFile = path.join(opts.dir, `webhook-${port}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      process.execPath,
      [
        MAIN,
        'serve',
        `--kubeconfig=${opts.kubeconfig}`,
        '--rules-configmap=placement-webhook/placement-webhook-rules',
        `--tls-cert=${opts.certs.certFile}`,
        `--tls-key=${opts.certs.keyFile}`,
        '--host=127.0.0.1',
        `--port=${port}`,
        '--shutdown-delay=0s',
        '--cert-reload-interval=1s',
        ...(opts.extraArgs ?? []),
      ],
      { stdio: ['ignore', fd, fd], env: { ...process.env, KUBECONFIG: '' } },
    );
  } finally {
    closeSync(fd);
  }
  let exited: string | undefined;
  const done = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = `exited (code ${code}, signal ${signal})`;
      resolve();
    }),
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const ca = readFileSync(opts.certs.caFile);
  const logTail = (lines = 40) =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n');

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`webhook ${exited}:\n${logTail()}`);
    const ready = await get(port, ca, '/readyz').catch(() => undefined);
    if (ready?.status === 200) break;
    if (Date.now() > deadline) throw new Error(`webhook not ready: ${ready?.text ?? 'no answer'}\n${logTail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port,
    logFile,
    get: (urlPath) => get(port, ca, urlPath),
    logTail,
    stop: async () => {
      process.off('exit', kill);
      if (!exited) {
        child.kill('SIGTERM');
        const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
        if ((await Promise.race([done.then(() => 'done' as const), timeout])) === 'timeout') child.kill('SIGKILL');
        await done;
      }
    },
  };
}

interface WebhookEntry {
  name: string;
  clientConfig: { service?: { path?: string }; url?: string; caBundle?: string };
}

/** The webhook configurations of webhook-config/base, pointed at https://127.0.0.1:PORT with the given CA. */
export function webhookConfigurations(port: number, caBundle: string): object[] {
  return ['mutating.yaml', 'validating.yaml'].flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(ROOT, 'webhook-config', 'base', file), 'utf8')).map((doc) => {
      const cfg = doc.toJS() as { webhooks: WebhookEntry[] };
      for (const w of cfg.webhooks) {
        w.clientConfig = { url: `https://127.0.0.1:${port}${w.clientConfig.service?.path ?? '/'}`, caBundle };
      }
      return cfg;
    }),
  );
}

/** A manifest of webhook-config/base, parsed. */
export function baseManifest(file: string): object[] {
  return parseAllDocuments(readFileSync(path.join(ROOT, 'webhook-config', 'base', file), 'utf8')).map((d) => d.toJS() as object);
}

export const REPO_ROOT = ROOT;
