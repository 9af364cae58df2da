/**
 * Test harness for a real Kubernetes control plane: etcd, kube-apiserver and
 * (optionally) kube-scheduler, all bound to 127.0.0.1 on free ports, with
 * their state, certificates and logs in a temporary directory.
 *
 * The Kubernetes binaries are built once by test/e2e/controlplane/build.sh
 * into ${PLACEMENT_WEBHOOK_CACHE:-~/.cache/placement-webhook}/bin; etcd comes
 * from Debian's etcd-server package (on PATH).
 *
 * Set PLACEMENT_WEBHOOK_KEEP_E2E_DIR=1 to keep the temporary directory (logs,
 * kubeconfig) after stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants as fsConstants, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ApiResponse {
  status: number;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  body: unknown;
  text: string;
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  server: string;
  /** Bearer token of a user in group system:masters. */
  token: string;
  /** PEM file with the CA that signed the apiserver's serving certificate. */
  caFile: string;
  /** Admin kubeconfig (token auth). */
  kubeconfigPath: string;
  /** Temporary directory holding state, certificates and logs. */
  dir: string;
  /** Runs the cached kubectl against this control plane. */
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** Plain HTTPS request to the apiserver as the admin user. */
  api(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<ApiResponse>;
  /** Last lines of a component's log (etcd, kube-apiserver, kube-scheduler). */
  logTail(component: ComponentName, lines?: number): string;
  stop(): Promise<void>;
}

export type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-scheduler' | 'kube-controller-manager';

export interface StartControlPlaneOptions {
  /** Also start kube-scheduler (default false). */
  withScheduler?: boolean;
  /**
   * Also start kube-controller-manager with the workload controllers (deployment, replicaset, statefulset, job,
   * garbage collector, namespace), so that Deployments create pods (default false).
   */
  withControllerManager?: boolean;
  /** Extra kube-apiserver flags, appended after the defaults. */
  apiserverArgs?: string[];
  /** Extra kube-scheduler flags, appended after the defaults. */
  schedulerArgs?: string[];
  /** How long to wait for /readyz (default 60 s). */
  readyTimeoutMs?: number;
}

export interface ControlPlaneBinaries {
  kubeApiserver: string;
  kubeScheduler: string;
  kubeControllerManager: string;
  kubectl: string;
  etcd: string;
}

const BUILD_SCRIPT = 'test/e2e/controlplane/build.sh';

export function cacheDir(): string {
  return process.env['PLACEMENT_WEBHOOK_CACHE'] ?? path.join(os.homedir(), '.cache', 'placement-webhook');
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/bin', '/usr/local/bin', '/usr/sbin']) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Locates the binaries; throws an error explaining how to build them. */
export function locateBinaries(): ControlPlaneBinaries {
  const bin = path.join(cacheDir(), 'bin');
  const kube = {
    kubeApiserver: path.join(bin, 'kube-apiserver'),
    kubeScheduler: path.join(bin, 'kube-scheduler'),
    kubeControllerManager: path.join(bin, 'kube-controller-manager'),
    kubectl: path.join(bin, 'kubectl'),
  };
  const missing = Object.values(kube).filter((f) => !isExecutable(f));
  const etcd = findOnPath('etcd');
  if (!etcd) missing.push('etcd (Debian package etcd-server)');
  if (missing.length > 0 || !etcd) {
    throw new Error(
      `control plane binaries missing: ${missing.join(', ')}. ` +
        `Run \`bash ${BUILD_SCRIPT}\` first (builds kube-apiserver, kube-scheduler, kube-controller-manager and kubectl ` +
        `from Debian's kubernetes source package into ${bin} and installs etcd-server).`,
    );
  }
  return { ...kube, etcd };
}

/** True when locateBinaries() would succeed. */
export function controlPlaneAvailable(): boolean {
  try {
    locateBinaries();
    return true;
  } catch {
    return false;
  }
}

const handedOutPorts = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago (not reused within this process). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOutPorts.has(port)) {
      handedOutPorts.add(port);
      return port;
    }
  }
  throw new Error('could not find a free port on 127.0.0.1');
}

// ---------------------------------------------------------------------------
// child process bookkeeping

interface Managed {
  name: ComponentName;
  child: ChildProcess;
  logFile: string;
  exited: Promise<void>;
  exitInfo?: { code: number | null; signal: NodeJS.Signals | null };
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * A tiny node process that kills the control plane when this process dies
 * without running its 'exit' handlers (SIGKILL, crash): it learns the pids
 * over its stdin and acts when that pipe closes, unless told the shutdown
 * was clean.
 */
const WATCHDOG_SOURCE = `
const fs = require('node:fs');
const dir = process.argv[1];
const pids = new Set();
let buf = '';
let clean = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i).trim();
    buf = buf.slice(i + 1);
    if (line === 'clean') clean = true;
    else if (/^\\d+$/.test(line)) pids.add(Number(line));
  }
});
process.stdin.on('end', () => {
  if (clean) process.exit(0);
  for (const pid of pids) { try { process.kill(pid, 'SIGTERM'); } catch {} }
  setTimeout(() => {
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch {}
    process.exit(0);
  }, 3000);
});
`;

function startWatchdog(dir: string): { add(pid: number): void; release(): void } {
  const wd = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true, // own process group: survives a Ctrl-C aimed at the test run long enough to clean up
  });
  wd.unref();
  const stdin = wd.stdin;
  (stdin as unknown as { unref?: () => void }).unref?.();
  stdin.on('error', () => {
    // watchdog gone; nothing to do
  });
  return {
    add(pid: number) {
      stdin.write(`${pid}\n`);
    },
    release() {
      stdin.end('clean\n');
    },
  };
}

function spawnLogged(name: ComponentName, cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): Managed {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
  } finally {
    closeSync(fd);
  }
  const managed: Managed = {
    name,
    child,
    logFile,
    exited: new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        managed.exitInfo = { code, signal };
        live.delete(child);
        resolve();
      });
      child.once('error', (err) => {
        managed.exitInfo = { code: -1, signal: null };
        live.delete(child);
        void writeFile(logFile, `spawn failed: ${String(err)}\n`, { flag: 'a' }).catch(() => undefined);
        resolve();
      });
    }),
  };
  live.add(child);
  return managed;
}

function tail(file: string, lines = 40): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

async function terminate(m: Managed, graceMs = 10_000): Promise<void> {
  if (m.exitInfo) return;
  try {
    m.child.kill('SIGTERM');
  } catch {
    // already gone
  }
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
  if ((await Promise.race([m.exited.then(() => 'exited' as const), timer])) === 'timeout') {
    try {
      m.child.kill('SIGKILL');
    } catch {
      // already gone
    }
    await m.exited;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('ETCD_') || k === 'KUBECONFIG') continue;
    env[k] = v;
  }
  const noProxy = ['127.0.0.1', 'localhost', env['NO_PROXY'] ?? env['no_proxy'] ?? ''].filter(Boolean).join(',');
  env['NO_PROXY'] = noProxy;
  env['no_proxy'] = noProxy;
  return env;
}

// ---------------------------------------------------------------------------
// HTTP helpers

function httpsRequest(
  url: string,
  opts: { ca?: Buffer; token: string; method?: string; body?: string; contentType?: string; timeoutMs?: number },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${opts.token}`, Accept: 'application/json' };
    if (opts.body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    }
    const req = https.request(url, { method: opts.method ?? 'GET', ca: opts.ca, headers, timeout: opts.timeoutMs ?? 10_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout requesting ${url}`)));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>, failFast: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    const fatal = failFast();
    if (fatal) throw new Error(`${what}: ${fatal}`);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}`);
}

/** The last certificate in a PEM bundle (the self-generated CA comes after the serving cert). */
function lastCertificate(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const last = blocks[blocks.length - 1];
  if (!last) throw new Error('no certificate in PEM');
  return `${last}\n`;
}

// ---------------------------------------------------------------------------

export async function startControlPlane(opts: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = locateBinaries();
  installExitHook();

  const dir = await mkdtemp(path.join(os.tmpdir(), 'placement-webhook-e2e-'));
  const watchdog = startWatchdog(dir);
  const env = childEnv();
  const started: Managed[] = [];
  const keepDir = process.env['PLACEMENT_WEBHOOK_KEEP_E2E_DIR'] === '1';
  let stopped = false;

  const stopAll = async (): Promise<void> => {
    const byName = (n: ComponentName) => started.filter((m) => m.name === n);
    await Promise.all([...byName('kube-controller-manager'), ...byName('kube-scheduler'), ...byName('kube-apiserver')].map((m) => terminate(m)));
    await Promise.all(byName('etcd').map((m) => terminate(m)));
    watchdog.release();
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  };

  const launch = (name: ComponentName, cmd: string, args: string[]): Managed => {
    const m = spawnLogged(name, cmd, args, path.join(dir, `${name}.log`), env);
    if (m.child.pid !== undefined) watchdog.add(m.child.pid);
    started.push(m);
    return m;
  };

  const exitedEarly = (m: Managed): string | undefined =>
    m.exitInfo
      ? `${m.name} exited (code ${m.exitInfo.code}, signal ${m.exitInfo.signal}); last lines of ${m.logFile}:\n${tail(m.logFile)}`
      : undefined;

  try {
    // --- credentials -------------------------------------------------------
    const pki = path.join(dir, 'pki');
    await mkdir(pki, { recursive: true });
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    const saPub = path.join(pki, 'sa.pub');
    const saKey = path.join(pki, 'sa.key');
    await writeFile(saPub, publicKey, { mode: 0o600 });
    await writeFile(saKey, privateKey, { mode: 0o600 });
    const token = randomBytes(24).toString('hex');
    const tokenFile = path.join(pki, 'tokens.csv');
    await writeFile(tokenFile, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });

    // --- etcd --------------------------------------------------------------
    const etcdClientPort = await freePort();
    const etcdPeerPort = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = launch('etcd', bins.etcd, [
      '--name=e2e',
      `--data-dir=${path.join(dir, 'etcd-data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=e2e=${etcdPeerUrl}`,
      '--initial-cluster-state=new',
      '--logger=zap',
      '--log-outputs=stderr',
    ]);
    await waitFor(
      'etcd',
      30_000,
      async () => {
        const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2_000) });
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      },
      () => exitedEarly(etcd),
    );

    // --- kube-apiserver ----------------------------------------------------
    const apiPort = await freePort();
    const server = `https://127.0.0.1:${apiPort}`;
    const certDir = path.join(dir, 'apiserver-certs');
    const apiserver = launch('kube-apiserver', bins.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      '--insecure-port=0',
      `--cert-dir=${certDir}`,
      `--token-auth-file=${tokenFile}`,
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=Node,RBAC',
      '--disable-admission-plugins=ServiceAccount,TaintNodesByCondition',
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
      ...(opts.apiserverArgs ?? []),
    ]);
    const servingCert = path.join(certDir, 'apiserver.crt');
    const caFile = path.join(pki, 'ca.crt');
    let ca: Buffer | undefined;
    const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
    try {
      await waitFor(
        'kube-apiserver',
        readyTimeoutMs,
        async () => {
          if (!ca) {
            if (!existsSync(servingCert)) return false;
            const pem = await readFile(servingCert, 'utf8');
            if (!pem.includes('-----END CERTIFICATE-----')) return false;
            await writeFile(caFile, lastCertificate(pem));
            ca = await readFile(caFile);
          }
          const res = await httpsRequest(`${server}/readyz`, { ca, token, timeoutMs: 5_000 });
          return res.status === 200 && res.text.trim() === 'ok';
        },
        () => exitedEarly(apiserver),
      );
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(msg.includes('last lines of') ? msg : `${msg}\nlast lines of ${apiserver.logFile}:\n${tail(apiserver.logFile)}`, {
        cause: err,
      });
    }
    const caPem = ca;
    if (!caPem) throw new Error('kube-apiserver did not write its serving certificate');

    // --- kubeconfig --------------------------------------------------------
    const kubeconfigPath = path.join(dir, 'kubeconfig');
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority': caFile } }],
      users: [{ name: 'admin', user: { token } }],
      contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'admin', namespace: 'default' } }],
      'current-context': 'e2e',
      preferences: {},
    };
    await writeFile(kubeconfigPath, `${JSON.stringify(kubeconfig, null, 2)}\n`, { mode: 0o600 });

    // --- kube-scheduler ----------------------------------------------------
    if (opts.withScheduler) {
      const scheduler = launch('kube-scheduler', bins.kubeScheduler, [
        `--kubeconfig=${kubeconfigPath}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        '--port=0',
        '--secure-port=0',
        '--v=1',
        ...(opts.schedulerArgs ?? []),
      ]);
      // No health endpoint (serving is off): make sure it did not die on startup.
      await sleep(1_000);
      const fatal = exitedEarly(scheduler);
      if (fatal) throw new Error(fatal);
    }

    // --- kube-controller-manager -----------------------------------------
    if (opts.withControllerManager) {
      const cm = launch('kube-controller-manager', bins.kubeControllerManager, [
        `--kubeconfig=${kubeconfigPath}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        '--port=0',
        '--secure-port=0',
        '--controllers=deployment,replicaset,statefulset,job,cronjob,garbagecollector,namespace',
        '--use-service-account-credentials=false',
        '--v=1',
      ]);
      await sleep(1_000);
      const fatal = exitedEarly(cm);
      if (fatal) throw new Error(fatal);
    }

    const kubectlCacheDir = path.join(dir, 'kubectl-cache');
    const kubectlEnv: NodeJS.ProcessEnv = { ...env, KUBECONFIG: kubeconfigPath };

    const cp: ControlPlane = {
      server,
      token,
      caFile,
      kubeconfigPath,
      dir,
      kubectl(args: string[], input?: string): Promise<KubectlResult> {
        return new Promise((resolve, reject) => {
          const child = spawn(bins.kubectl, [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${kubectlCacheDir}`, ...args], {
            stdio: ['pipe', 'pipe', 'pipe'],
            env: kubectlEnv,
          });
          live.add(child);
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          child.stdout.on('data', (c: Buffer) => out.push(c));
          child.stderr.on('data', (c: Buffer) => errOut.push(c));
          child.stdin.on('error', () => undefined);
          child.once('error', (err) => {
            live.delete(child);
            reject(err);
          });
          child.once('close', (code, signal) => {
            live.delete(child);
            resolve({
              code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : -1),
              stdout: Buffer.concat(out).toString('utf8'),
              stderr: Buffer.concat(errOut).toString('utf8'),
            });
          });
          child.stdin.end(input ?? '');
        });
      },
      async api(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<ApiResponse> {
        const res = await httpsRequest(`${server}${urlPath}`, {
          ca: caPem,
          token,
          method,
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
          contentType,
          timeoutMs: 30_000,
        });
        let parsed: unknown;
        try {
          parsed = JSON.parse(res.text);
        } catch {
          parsed = undefined;
        }
        return { status: res.status, body: parsed, text: res.text };
      },
      logTail(component: ComponentName, lines = 40): string {
        return tail(path.join(dir, `${component}.log`), lines);
      },
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        await stopAll();
      },
    };
    return cp;
  } catch (err) {
    stopped = true;
    await stopAll().catch(() => undefined);
    throw err;
  }
}
