/**
 * The audit in the cluster (`serve --audit-interval D`): every interval, on the replica that holds the audit Lease
 * (see `./leader.ts`), the cluster is read, audited with the engine the `audit` command uses, and published:
 * PolicyReports (see `./policy-reports.ts`) and the `placement_webhook_audit_*` gauges.
 *
 * What is read, per run:
 * - nodes, namespace labels, the rules in force and addable capacity: from the webhook's caches (no request). A node
 *   cache not synced or disconnected beyond `--max-staleness`, or rules not loaded yet, skips the run (the reports
 *   stay as they were: never report from incomplete knowledge);
 * - the pods, whole (drift needs env, volumes, tolerations, affinity, which the pod cache trims away): a LIST page by
 *   page (500 a page, `status.phase!=Succeeded,status.phase!=Failed`), each pod trimmed as it arrives (managedFields,
 *   container statuses and the last-applied annotation dropped);
 * - the workloads (Deployments, StatefulSets, ReplicaSets, DaemonSets, Jobs, CronJobs, ReplicationControllers): one
 *   paged LIST each (a 404 means the version is not served: CronJobs are read as `batch/v1beta1` where `batch/v1`
 *   has none, as on 1.20).
 *   A list that fails otherwise (403, 5xx, a timeout) skips the run and counts it as `error`.
 * Then the engine runs, in slices of about 5 ms (see `slicedAudit`), on a copy of the node index; findings of
 * severity `fail` and `warn` become report results (`info` only counts in the gauges), and the reports are
 * reconciled unless leadership was lost meanwhile. `stop()` aborts a run at its next page or slice (a run of a big
 * cluster takes seconds; shutdown should not wait for it, and nothing is published after it).
 *
 * A run never overlaps the next (a run longer than the interval delays it), starts at once when this replica
 * becomes the leader, is tried again after 5 s when it was skipped (at start, until the caches have synced), and
 * never throws out of its timer.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { hostname } from 'node:os';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { CapacityView } from '../capacity/capacity.js';
import type { RuleSet } from '../rules/compile.js';
import { NodeIndex } from '../scheduling/node-index.js';
import type { Labels } from '../scheduling/types.js';
import type { AuditMetrics } from './metrics.js';
import { isObject } from '../util/json.js';
import { WORKLOAD_KINDS } from '../workloads/workloads.js';
import { podFindings } from '../audit/audit.js';
import { compareFindings, findingKey, ordered, type Finding } from '../audit/findings.js';
import { Owners } from '../audit/owner.js';
import { AuditView, type AuditInputs } from '../audit/view.js';
import { QuantityError } from '../scheduling/quantity.js';
import { workloadFindings } from '../audit/workloads.js';
import { LeaderElector } from './leader.js';
import { SCHEDULER_POD_SELECTOR } from './pods.js';
import { PolicyReports, type ReconcileOutcome, type ReportResult } from './policy-reports.js';

/** Items per list page. */
export const AUDIT_PAGE_SIZE = 500;
/** Times a list starts again after its continue token expired (410). */
const MAX_RESTARTS = 3;
/** After a skipped run, the next one is tried this soon (or at the interval, if shorter): at start, the caches sync. */
export const SKIPPED_RETRY_MS = 5_000;
/** One list page request may take this long. */
const REQUEST_TIMEOUT_MS = 60_000;
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** The audit engine (`slicedAudit` in serve; anything returning the findings of `inputs` in tests). */
export type AuditEngine = (inputs: AuditInputs, signal: AbortSignal) => readonly Finding[] | Promise<readonly Finding[]>;

/** The longest the sliced audit holds the event loop before it lets reviews be answered. */
export const AUDIT_SLICE_MS = 5;

/**
 * The audit of `inputs`, as `audit()` in src/audit/audit.ts computes it (same findings, same order: a test holds them
 * equal), but in slices of at most about `sliceMs`, the event loop given back between them: the webhook shares its
 * loop with admission reviews, which have a 2–5 s timeout, and a cluster's audit takes seconds (about 0.1 ms a pod,
 * building the pod view about 0.01 ms a pod). It repeats `audit()`'s steps with the engine's own parts: the view
 * built with no pods and then filled pod by pod as `AuditView`'s constructor fills it, `podFindings` per pod,
 * `workloadFindings` per workload. Returns the findings and the longest slice in milliseconds.
 */
export async function slicedAudit(
  inputs: AuditInputs,
  sliceMs = AUDIT_SLICE_MS,
  signal?: AbortSignal,
): Promise<{ findings: Finding[]; notes: string[]; longestSliceMs: number }> {
  let sliceStart = performance.now();
  let longest = 0;
  const maybeYield = async () => {
    const now = performance.now();
    if (now - sliceStart < sliceMs) return;
    longest = Math.max(longest, now - sliceStart);
    await new Promise<void>((resolve) => setImmediate(resolve));
    signal?.throwIfAborted();
    sliceStart = performance.now();
  };
  const view = new AuditView({ ...inputs, pods: [] });
  for (const pod of inputs.pods) {
    const placed = view.reader.read(pod);
    if (placed) {
      view.podIndex.upsert(placed);
      view.placed.set(pod, placed);
    }
    await maybeYield();
  }
  const workloads = inputs.workloads ?? [];
  const owners = new Owners(workloads);
  const notes = new Map<string, number>();
  const findings: Finding[] = [];
  for (const pod of inputs.pods) {
    findings.push(...podFindings(pod, view, owners, notes));
    await maybeYield();
  }
  for (const w of workloads) {
    try {
      findings.push(...workloadFindings(w, view));
    } catch (err) {
      if (!(err instanceof QuantityError)) throw err;
      notes.set('workload templates whose requests do not parse', (notes.get('workload templates whose requests do not parse') ?? 0) + 1);
    }
    await maybeYield();
  }
  longest = Math.max(longest, performance.now() - sliceStart);
  return {
    findings: findings.map(ordered).sort(compareFindings),
    notes: [...notes].map(([why, n]) => `${n} ${n === 1 ? 'object' : 'objects'} not judged: ${why}`),
    longestSliceMs: longest,
  };
}

/** What the webhook's caches hold, as the audit reads it (a LiveCluster). */
export interface AuditCaches {
  /** Why the nodes are not to be trusted now, or undefined. */
  nodes(): { index: NodeIndex; incomplete: string | undefined };
  namespaceMap(): ReadonlyMap<string, Labels>;
  rules(): RuleSet;
  /** Why the webhook cannot serve yet (rules not loaded, first sync), or undefined. */
  notReady(): string | undefined;
  capacity(): CapacityView;
}

/** The reads the audit makes of the API server, page by page. */
export interface AuditReader {
  pods(signal?: AbortSignal): Promise<V1Pod[]>;
  workloads(signal?: AbortSignal): Promise<unknown[]>;
}

export interface AuditLoopOptions {
  readonly intervalMs: number;
  readonly caches: AuditCaches;
  readonly reader: AuditReader;
  readonly engine: AuditEngine;
  readonly reports: { reconcile(results: readonly ReportResult[]): Promise<ReconcileOutcome> };
  /** Whether this replica may write now (holds the Lease). */
  readonly isLeader: () => boolean;
  readonly logger: Logger;
  readonly metrics?: AuditMetrics;
  /** After a skipped run, the next is tried this soon (default `SKIPPED_RETRY_MS`, or the interval if shorter). */
  readonly skippedRetryMs?: number;
}

/** A PolicyReport result severity for a finding's. */
const REPORT_SEVERITY = { fail: 'high', warn: 'medium' } as const;

/** The report results of findings: `fail` and `warn` ones; the pod (or workload) as the resource, the rest as properties. */
export function reportResults(findings: readonly Finding[]): ReportResult[] {
  const out: ReportResult[] = [];
  for (const f of findings) {
    if (f.severity === 'info') continue;
    const properties: Record<string, string> = { kind: f.kind };
    if (f.owner) properties['owner'] = `${f.owner.kind}/${f.owner.name}`;
    if (f.node !== undefined) properties['node'] = f.node;
    if (f.reschedulable !== undefined) properties['reschedulable'] = String(f.reschedulable);
    if (f.rescheduleNode !== undefined) properties['rescheduleNode'] = f.rescheduleNode;
    if (f.rescheduleMessage !== undefined) properties['rescheduleMessage'] = f.rescheduleMessage;
    if (f.patch !== undefined) properties['patch'] = JSON.stringify(f.patch);
    out.push({
      namespace: f.namespace,
      rule: f.rule,
      result: f.severity,
      severity: REPORT_SEVERITY[f.severity],
      category: f.kind,
      message: f.message,
      resources: [{ apiVersion: f.object.apiVersion, kind: f.object.kind, name: f.object.name, namespace: f.namespace }],
      properties,
      key: findingKey(f),
    });
  }
  return out;
}

/** A pod as the audit keeps it: what the API server sent, less what no placement question reads. */
export function trimPod(pod: Record<string, unknown>): V1Pod {
  const metadata = isObject(pod['metadata']) ? { ...pod['metadata'] } : {};
  delete metadata['managedFields'];
  if (isObject(metadata['annotations']) && LAST_APPLIED in metadata['annotations']) {
    const { [LAST_APPLIED]: _, ...rest } = metadata['annotations'];
    metadata['annotations'] = rest;
  }
  const status = isObject(pod['status']) ? pod['status'] : {};
  const kept = Object.fromEntries(
    ['phase', 'conditions', 'nominatedNodeName', 'reason'].filter((k) => status[k] !== undefined).map((k) => [k, status[k]]),
  );
  return { ...pod, apiVersion: 'v1', kind: 'Pod', metadata, status: kept };
}

/** A workload as the audit keeps it: managedFields and the last-applied annotation dropped. */
function trimWorkload(o: Record<string, unknown>, apiVersion: string, kind: string): Record<string, unknown> {
  const metadata = isObject(o['metadata']) ? { ...o['metadata'] } : {};
  delete metadata['managedFields'];
  if (isObject(metadata['annotations']) && LAST_APPLIED in metadata['annotations']) {
    const { [LAST_APPLIED]: _, ...rest } = metadata['annotations'];
    metadata['annotations'] = rest;
  }
  return { ...o, apiVersion, kind, metadata };
}

/** An HTTP status from the API server. */
export class ApiStatusError extends Error {
  override readonly name = 'ApiStatusError';
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** Lists of the API server as plain JSON (no typed client: no Date objects, no per-field deserialization). */
export class ClusterAuditReader implements AuditReader {
  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly pageSize = AUDIT_PAGE_SIZE,
  ) {}

  async pods(signal?: AbortSignal): Promise<V1Pod[]> {
    return this.list('/api/v1/pods', { fieldSelector: SCHEDULER_POD_SELECTOR }, (o) => trimPod(o), signal);
  }

  async workloads(signal?: AbortSignal): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const k of WORKLOAD_KINDS) {
      const versions = k.group === '' ? ['v1'] : k.kind === 'CronJob' ? ['v1', 'v1beta1'] : ['v1'];
      for (const version of versions) {
        const apiVersion = k.group === '' ? version : `${k.group}/${version}`;
        const path = k.group === '' ? `/api/${version}/${k.resource}` : `/apis/${k.group}/${version}/${k.resource}`;
        try {
          out.push(...(await this.list(path, {}, (o) => trimWorkload(o, apiVersion, k.kind), signal)));
          break;
        } catch (err) {
          if (err instanceof ApiStatusError && err.code === 404) continue; // not served in this version
          throw err;
        }
      }
    }
    return out;
  }

  /** Every page of the list at `path`; a 410 on a continue token lists again from the start. */
  private async list<T>(path: string, query: Record<string, string>, each: (o: Record<string, unknown>) => T, signal?: AbortSignal): Promise<T[]> {
    for (let attempt = 0; ; attempt++) {
      const items: T[] = [];
      let token: string | undefined;
      try {
        do {
          signal?.throwIfAborted();
          const page = await this.get(path, { ...query, limit: String(this.pageSize), ...(token ? { continue: token } : {}) }, signal);
          const list = isObject(page) && Array.isArray(page['items']) ? (page['items'] as unknown[]) : [];
          for (const item of list) if (isObject(item)) items.push(each(item));
          const meta = isObject(page) && isObject(page['metadata']) ? page['metadata'] : {};
          token = typeof meta['continue'] === 'string' && meta['continue'] !== '' ? meta['continue'] : undefined;
        } while (token);
        return items;
      } catch (err) {
        if (!(err instanceof ApiStatusError && err.code === 410 && token !== undefined && attempt < MAX_RESTARTS)) throw err;
      }
    }
  }

  private async get(path: string, query: Record<string, string>, signal?: AbortSignal): Promise<unknown> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const options: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(options);
    const url = new URL(`${cluster.server.replace(/\/$/, '')}${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https.request : http.request)(
        url,
        {
          ...options,
          method: 'GET',
          headers: { ...options.headers, accept: 'application/json' },
          timeout: REQUEST_TIMEOUT_MS,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            let body: unknown;
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              body = undefined;
            }
            if (res.statusCode === 200 && body !== undefined) return resolve(body);
            const message = isObject(body) && typeof body['message'] === 'string' ? `: ${body['message']}` : '';
            reject(new ApiStatusError(`GET ${path}: HTTP ${res.statusCode ?? 0}${message}`, res.statusCode ?? 0));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer for ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end();
    });
  }
}

/** How one run ended. */
export type RunResult =
  | { readonly result: 'not-leader' | 'busy' | 'stopped' }
  | { readonly result: 'skipped' | 'error'; readonly why: string }
  | { readonly result: 'success'; readonly findings: readonly Finding[]; readonly published: ReconcileOutcome | undefined };

export class AuditLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RunResult> | undefined;
  /** Aborts the run in progress (`stop`). */
  private abort: AbortController | undefined;
  private stopped = true;
  /** Gauge label pairs set so far: set to 0 when a later run finds none of them (a series never vanishes). */
  private readonly seen = new Set<string>();

  constructor(private readonly opts: AuditLoopOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (!this.opts.isLeader()) this.opts.metrics?.auditLeader.set(0);
    this.schedule();
  }

  /** Stops the loop, and aborts the run in progress at its next page or slice (nothing published after). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
    await this.running;
  }

  /** To be called when this replica becomes the leader: an audit now rather than an interval later. */
  leading(): void {
    this.opts.metrics?.auditLeader.set(1);
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), 0);
    this.timer.unref();
  }

  /** To be called when this replica stops leading: its gauges no longer describe the cluster. */
  notLeading(): void {
    const m = this.opts.metrics;
    if (!m) return;
    m.auditLeader.set(0);
    m.auditFindings.reset();
    this.seen.clear();
  }

  private schedule(ms = this.opts.intervalMs): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let result: RunResult['result'] = 'error';
    try {
      result = (await this.runOnce()).result;
    } catch (err) {
      // runOnce reports every failure as data; should that ever fail, the next interval tries again.
      this.opts.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'audit: run failed');
    } finally {
      this.schedule(result === 'skipped' ? Math.min(this.opts.intervalMs, this.opts.skippedRetryMs ?? SKIPPED_RETRY_MS) : this.opts.intervalMs);
    }
  }

  /** One audit, now (unless one is running, or this replica does not lead). Never throws. */
  runOnce(): Promise<RunResult> {
    if (this.running) return Promise.resolve({ result: 'busy' });
    if (!this.opts.isLeader()) return Promise.resolve({ result: 'not-leader' });
    const abort = new AbortController();
    this.abort = abort;
    const run = this.run(abort.signal).finally(() => {
      this.running = undefined;
      this.abort = undefined;
    });
    this.running = run;
    return run;
  }

  private async run(signal: AbortSignal): Promise<RunResult> {
    const { caches, reader, logger: log, metrics } = this.opts;
    const notReady = caches.notReady();
    const nodes = caches.nodes();
    const incomplete = notReady ?? nodes.incomplete;
    if (incomplete !== undefined) {
      metrics?.auditRuns.inc({ result: 'skipped' });
      // Waiting for the first sync is how every start begins; a stale cache is worth a warning.
      (notReady === undefined ? log.warn.bind(log) : log.info.bind(log))(
        { why: incomplete },
        'audit: skipped, the cluster view is incomplete; reports unchanged',
      );
      return { result: 'skipped', why: incomplete };
    }
    const t0 = performance.now();
    let pods: V1Pod[];
    let workloads: unknown[];
    try {
      pods = await reader.pods(signal);
      workloads = await reader.workloads(signal);
    } catch (err) {
      if (signal.aborted) return { result: 'stopped' };
      const why = err instanceof Error ? err.message : String(err);
      metrics?.auditRuns.inc({ result: 'error' });
      log.warn({ err: why }, 'audit: the pods or workloads could not be listed; reports unchanged');
      return { result: 'error', why };
    }
    const t1 = performance.now();
    let findings: readonly Finding[];
    try {
      // A copy: the live index changes under watches, and the engine must not change the webhook's.
      const index = new NodeIndex([...caches.nodes().index.nodes()]);
      findings = await this.opts.engine(
        { nodes: index, pods, namespaces: caches.namespaceMap(), rules: caches.rules(), workloads, capacity: caches.capacity() },
        signal,
      );
    } catch (err) {
      if (signal.aborted) return { result: 'stopped' };
      const why = err instanceof Error ? err.message : String(err);
      metrics?.auditRuns.inc({ result: 'error' });
      log.error({ err: why }, 'audit: the engine failed; reports unchanged');
      return { result: 'error', why };
    }
    const t2 = performance.now();
    if (signal.aborted) return { result: 'stopped' };
    if (!this.opts.isLeader()) {
      log.info('audit: leadership lost during the run; nothing published');
      return { result: 'not-leader' };
    }
    this.setGauges(findings);
    const published = await this.opts.reports.reconcile(reportResults(findings));
    const t3 = performance.now();
    metrics?.auditDuration.set({ phase: 'read' }, (t1 - t0) / 1000);
    metrics?.auditDuration.set({ phase: 'audit' }, (t2 - t1) / 1000);
    metrics?.auditDuration.set({ phase: 'publish' }, (t3 - t2) / 1000);
    metrics?.auditRuns.inc({ result: 'success' });
    metrics?.auditLastSuccess.set(Date.now() / 1000);
    log.info(
      {
        pods: pods.length,
        workloads: workloads.length,
        findings: findings.length,
        readMs: Math.round(t1 - t0),
        auditMs: Math.round(t2 - t1),
        publishMs: Math.round(t3 - t2),
        reports: published,
      },
      'audit: done',
    );
    return { result: 'success', findings, published };
  }

  private setGauges(findings: readonly Finding[]): void {
    const m = this.opts.metrics;
    if (!m) return;
    const counts = new Map<string, number>();
    for (const f of findings) {
      const key = JSON.stringify([f.kind, f.severity]);
      counts.set(key, (counts.get(key) ?? 0) + 1);
      this.seen.add(key);
    }
    for (const key of this.seen) {
      const [kind, severity] = JSON.parse(key) as [string, string];
      m.auditFindings.set({ kind, severity }, counts.get(key) ?? 0);
    }
  }
}

/** The audit Lease's name, in the webhook's namespace. */
export const AUDIT_LEASE = 'placement-webhook-audit';
const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The webhook's namespace, where the Lease lives: `POD_NAMESPACE` (the Deployment sets it from the downward API),
 * else the service account's namespace when in a pod, else `fallback` (the rules ConfigMap's namespace).
 */
export function webhookNamespace(env: NodeJS.ProcessEnv, fallback: string): string {
  if (env['POD_NAMESPACE']) return env['POD_NAMESPACE'];
  try {
    const ns = readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
    if (ns !== '') return ns;
  } catch {
    // not in a pod
  }
  return fallback;
}

/**
 * This replica's identity in the Lease: `POD_NAME` (from the downward API); outside a pod the host name and a random
 * suffix, so that two processes on one machine never share one (as kube-controller-manager does).
 */
export function leaderIdentity(env: NodeJS.ProcessEnv): string {
  return env['POD_NAME'] || `${hostname()}_${randomUUID()}`;
}

export interface ClusterAuditOptions {
  readonly kubeConfig: KubeConfig;
  readonly caches: AuditCaches;
  readonly engine: AuditEngine;
  readonly intervalMs: number;
  /** Where the Lease lives, and who this replica is. */
  readonly namespace: string;
  readonly identity: string;
  readonly logger: Logger;
  readonly metrics?: AuditMetrics;
  /** Lease timings (client-go's defaults otherwise). */
  readonly lease?: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
}

/** The audit of `serve --audit-interval`: the loop, its Lease and its reports, started and stopped together. */
export class ClusterAudit {
  private readonly elector: LeaderElector;
  private readonly loop: AuditLoop;

  constructor(opts: ClusterAuditOptions) {
    const logger = opts.logger.child({ component: 'audit' });
    this.elector = new LeaderElector({
      kubeConfig: opts.kubeConfig,
      namespace: opts.namespace,
      name: AUDIT_LEASE,
      identity: opts.identity,
      logger,
      ...(opts.lease ?? {}),
      onStartedLeading: () => this.loop.leading(),
      onStoppedLeading: () => this.loop.notLeading(),
    });
    this.loop = new AuditLoop({
      intervalMs: opts.intervalMs,
      caches: opts.caches,
      reader: new ClusterAuditReader(opts.kubeConfig),
      engine: opts.engine,
      reports: new PolicyReports({ kubeConfig: opts.kubeConfig, logger }),
      isLeader: () => this.elector.isLeader(),
      logger,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    });
  }

  start(): void {
    this.loop.start();
    this.elector.start();
  }

  /** Ends the run in progress, then releases the Lease (nothing is written after another replica may lead). */
  async stop(): Promise<void> {
    await this.loop.stop();
    await this.elector.stop();
  }
}
