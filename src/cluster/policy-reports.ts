/**
 * Audit results published as `PolicyReport`s (`wgpolicyk8s.io/v1alpha2`, the Policy WG's format that Kyverno,
 * Kubewarden and the Policy Reporter UI display): one report per namespace with results, named `placement-webhook`
 * and labelled `app.kubernetes.io/managed-by: placement-webhook`; `results[]` with `policy: placement-webhook`,
 * `rule` the rule or constraint, `result` fail/warn, `resources` and `message`; `summary` counts them.
 *
 * `reconcile(results)` makes the cluster's reports say exactly that, with as few writes as it can:
 * - API discovery (`GET /apis`) first: when `wgpolicyk8s.io/v1alpha2` is not served, nothing else is asked and one
 *   log line says so (again only after it was served meanwhile);
 * - one cluster-wide LIST of the reports it manages (by label), then per namespace: a report that already says the
 *   same is left alone; one that differs is replaced (with the resourceVersion read: a concurrent write makes it a
 *   409 and it is done again at the next reconcile); a missing one is created; a report of a namespace that has no
 *   results any more is deleted. Reports are never duplicated: the name is fixed, and a create that finds one
 *   already there replaces it;
 * - a result keeps the `timestamp` it had when its key (`key`, else rule + resources + message; kept hashed in the
 *   result's `properties` as `placement-webhook/key`) was in the report already, so that a finding that persists
 *   does not rewrite its report at every interval;
 * - at most `MAX_RESULTS` results and `MAX_REPORT_BYTES` of them per report (an object must stay well below etcd's
 *   1.5 MiB), fail ones first; the summary counts them all and the annotation `placement-webhook/results-omitted`
 *   says how many are left out.
 * - Never throws: every failure is logged and counted in the answer (it runs from a timer).
 *
 * API cost per reconcile: 1 discovery GET + 1 LIST, plus one write per report that changed.
 * RBAC: `get, list, create, update, patch, delete` on `policyreports.wgpolicyk8s.io`, cluster-wide (one report per
 * namespace).
 */
import { createHash } from 'node:crypto';
import { ApiException, ApisApi, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isObject, sameJson } from '../util/json.js';

export const POLICY_REPORT = { group: 'wgpolicyk8s.io', version: 'v1alpha2', plural: 'policyreports', kind: 'PolicyReport' } as const;
/** The name of every report, the `policy` and `source` of every result. */
export const REPORT_NAME = 'placement-webhook';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'placement-webhook';
export const OMITTED_ANNOTATION = 'placement-webhook/results-omitted';
/** Results kept in one report, and the most bytes of JSON they may take (etcd refuses objects over 1.5 MiB). */
export const MAX_RESULTS = 1000;
export const MAX_REPORT_BYTES = 1_000_000;

export type PolicyResult = 'fail' | 'warn';
export type PolicySeverity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** An object a result is about (a core `ObjectReference`'s fields). */
export interface ResourceRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
}

/** One result to publish. */
export interface ReportResult {
  readonly namespace: string;
  /** The rule or scheduling constraint. */
  readonly rule: string;
  readonly result: PolicyResult;
  readonly message: string;
  readonly resources: readonly ResourceRef[];
  readonly severity?: PolicySeverity;
  /** What kind of finding it is (e.g. `drift`). */
  readonly category?: string;
  readonly properties?: Readonly<Record<string, string>>;
  /** What identifies the finding from one audit to the next (default: rule, resources and message). */
  readonly key?: string;
}

/** What a reconcile did; `served: false` when the PolicyReport CRD is not served (nothing was written). */
export interface ReconcileOutcome {
  readonly served: boolean;
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly unchanged: number;
  readonly failed: number;
}

interface ReportBody {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string };
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: Record<string, unknown>[];
}

const KEY_PROPERTY = 'placement-webhook/key';

/** A result's identity from one reconcile to the next, as a short hash (kept in its `properties`). */
function keyOf(r: ReportResult): string {
  const key = r.key ?? JSON.stringify([r.rule, r.resources.map((x) => [x.kind, x.namespace ?? '', x.name]), r.message]);
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

const messageOf = (err: unknown): string => {
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        // not JSON
      }
    }
    return `HTTP ${err.code}${isObject(body) && typeof body['message'] === 'string' ? `: ${body['message']}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
};
const codeOf = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

/** The `timestamp` a result had in `existing`, by key. */
function timestampsOf(existing: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const results = isObject(existing) && Array.isArray(existing['results']) ? (existing['results'] as unknown[]) : [];
  for (const r of results) {
    if (!isObject(r) || !isObject(r['properties'])) continue;
    const key = r['properties'][KEY_PROPERTY];
    if (typeof key === 'string' && r['timestamp'] !== undefined) out.set(key, r['timestamp']);
  }
  return out;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const resourceNames = (r: ReportResult) => r.resources.map((x) => `${x.kind}/${x.name}`).join(',');
/** fail first, then by rule, resource and message: a stable order, so that an unchanged report compares equal. */
const order = (a: ReportResult, b: ReportResult) =>
  (a.result === b.result ? 0 : a.result === 'fail' ? -1 : 1) ||
  cmp(a.rule, b.rule) ||
  cmp(resourceNames(a), resourceNames(b)) ||
  cmp(a.message, b.message) ||
  cmp(keyOf(a), keyOf(b));

/** The report for one namespace's results (sorted, capped), keeping the timestamps of results already reported. */
export function reportFor(namespace: string, results: readonly ReportResult[], existing: unknown, nowSeconds: number): ReportBody {
  const stamps = timestampsOf(existing);
  const sorted = [...results].sort(order);
  const built: Record<string, unknown>[] = [];
  let bytes = 0;
  for (const r of sorted) {
    if (built.length >= MAX_RESULTS) break;
    const result = resultFor(r, stamps, nowSeconds);
    bytes += JSON.stringify(result).length;
    if (bytes > MAX_REPORT_BYTES) break;
    built.push(result);
  }
  const omitted = sorted.length - built.length;
  return {
    apiVersion: `${POLICY_REPORT.group}/${POLICY_REPORT.version}`,
    kind: POLICY_REPORT.kind,
    metadata: {
      name: REPORT_NAME,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
      ...(omitted > 0 ? { annotations: { [OMITTED_ANNOTATION]: String(omitted) } } : {}),
    },
    summary: {
      pass: 0,
      fail: sorted.filter((r) => r.result === 'fail').length,
      warn: sorted.filter((r) => r.result === 'warn').length,
      error: 0,
      skip: 0,
    },
    results: built,
  };
}

function resultFor(r: ReportResult, stamps: ReadonlyMap<string, unknown>, nowSeconds: number): Record<string, unknown> {
  const key = keyOf(r);
  return {
    source: REPORT_NAME,
    policy: REPORT_NAME,
    rule: r.rule,
    result: r.result,
    ...(r.severity ? { severity: r.severity } : {}),
    ...(r.category ? { category: r.category } : {}),
    message: r.message,
    resources: r.resources.map((x) => ({ ...x })),
    properties: { ...(r.properties ?? {}), [KEY_PROPERTY]: key },
    timestamp: stamps.get(key) ?? { seconds: nowSeconds, nanos: 0 },
  };
}

/** Whether `existing` already says what `desired` says (server-set metadata aside). */
function sameReport(existing: unknown, desired: ReportBody): boolean {
  if (!isObject(existing)) return false;
  const m = isObject(existing['metadata']) ? existing['metadata'] : {};
  const labels = isObject(m['labels']) ? m['labels'] : {};
  const annotations = isObject(m['annotations']) ? m['annotations'] : {};
  return (
    labels[MANAGED_BY_LABEL] === MANAGED_BY &&
    annotations[OMITTED_ANNOTATION] === desired.metadata.annotations?.[OMITTED_ANNOTATION] &&
    sameJson(existing['summary'], desired.summary) &&
    sameJson(existing['results'] ?? [], desired.results)
  );
}

export interface PolicyReportsOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Wall clock in milliseconds (result timestamps). */
  readonly now?: () => number;
}

export class PolicyReports {
  private readonly custom: CustomObjectsApi;
  private readonly apis: ApisApi;
  /** Whether the CRD was served at the last discovery (undefined before the first): the log line is said once. */
  private served: boolean | undefined;

  constructor(private readonly opts: PolicyReportsOptions) {
    this.custom = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.apis = opts.kubeConfig.makeApiClient(ApisApi);
  }

  /** Whether `wgpolicyk8s.io/v1alpha2` is served now; undefined when discovery failed. */
  async isServed(): Promise<boolean | undefined> {
    try {
      const list = await this.apis.getAPIVersions();
      const group = (list.groups ?? []).find((g) => g.name === POLICY_REPORT.group);
      return (group?.versions ?? []).some((v) => v.version === POLICY_REPORT.version);
    } catch (err) {
      this.opts.logger.warn({ err: messageOf(err) }, 'policy reports: API discovery failed; reports not updated');
      return undefined;
    }
  }

  /** Makes the reports say `results` (see the module header). Never throws. */
  async reconcile(results: readonly ReportResult[]): Promise<ReconcileOutcome> {
    const log = this.opts.logger;
    const outcome = { served: false, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0 };
    const served = await this.isServed();
    if (served === undefined) return { ...outcome, failed: 1 };
    if (!served) {
      if (this.served !== false)
        log.info(
          { resource: `${POLICY_REPORT.plural}.${POLICY_REPORT.group}/${POLICY_REPORT.version}` },
          'policy reports: the PolicyReport CRD is not served; no reports are written',
        );
      this.served = false;
      return outcome;
    }
    if (this.served !== true)
      log.info(
        { resource: `${POLICY_REPORT.plural}.${POLICY_REPORT.group}/${POLICY_REPORT.version}` },
        'policy reports: the PolicyReport CRD is served; writing reports',
      );
    this.served = true;
    outcome.served = true;

    const { group, version, plural } = POLICY_REPORT;
    const existing = new Map<string, unknown>();
    try {
      const list: unknown = await this.custom.listClusterCustomObject({ group, version, plural, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` });
      const items = isObject(list) && Array.isArray(list['items']) ? (list['items'] as unknown[]) : [];
      for (const item of items) {
        const m = isObject(item) && isObject(item['metadata']) ? item['metadata'] : undefined;
        if (m && m['name'] === REPORT_NAME && typeof m['namespace'] === 'string') existing.set(m['namespace'], item);
      }
    } catch (err) {
      log.warn({ err: messageOf(err) }, 'policy reports: the existing reports could not be listed; reports not updated');
      return { ...outcome, failed: 1 };
    }

    const byNamespace = new Map<string, ReportResult[]>();
    for (const r of results) {
      const list = byNamespace.get(r.namespace) ?? [];
      list.push(r);
      byNamespace.set(r.namespace, list);
    }
    const nowSeconds = Math.floor((this.opts.now ?? Date.now)() / 1000);

    for (const [namespace, list] of [...byNamespace].sort(([a], [b]) => cmp(a, b))) {
      const current = existing.get(namespace);
      const desired = reportFor(namespace, list, current, nowSeconds);
      if (current !== undefined && sameReport(current, desired)) {
        outcome.unchanged++;
        continue;
      }
      try {
        if (current === undefined) {
          try {
            await this.custom.createNamespacedCustomObject({ group, version, namespace, plural, body: desired, fieldManager: MANAGED_BY });
            outcome.created++;
            continue;
          } catch (err) {
            // Made meanwhile (by a leader before this one): replace it, never a second report.
            if (codeOf(err) !== 409) throw err;
          }
        }
        const version0 = await this.resourceVersion(namespace, current);
        await this.custom.replaceNamespacedCustomObject({
          group,
          version,
          namespace,
          plural,
          name: REPORT_NAME,
          body: { ...desired, metadata: { ...desired.metadata, resourceVersion: version0 } },
          fieldManager: MANAGED_BY,
        });
        outcome.updated++;
      } catch (err) {
        outcome.failed++;
        log.warn({ namespace, err: messageOf(err) }, 'policy reports: the report could not be written; trying again at the next audit');
      }
    }

    for (const namespace of existing.keys()) {
      if (byNamespace.has(namespace)) continue;
      try {
        await this.custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: REPORT_NAME });
        outcome.deleted++;
      } catch (err) {
        if (codeOf(err) === 404) continue;
        outcome.failed++;
        log.warn({ namespace, err: messageOf(err) }, 'policy reports: the report could not be deleted; trying again at the next audit');
      }
    }
    return outcome;
  }

  /** The resourceVersion of the report in `namespace`: from the list, else read now. */
  private async resourceVersion(namespace: string, listed: unknown): Promise<string | undefined> {
    const fromList = isObject(listed) && isObject(listed['metadata']) ? listed['metadata']['resourceVersion'] : undefined;
    if (typeof fromList === 'string') return fromList;
    const { group, version, plural } = POLICY_REPORT;
    const current: unknown = await this.custom.getNamespacedCustomObject({ group, version, namespace, plural, name: REPORT_NAME });
    const rv = isObject(current) && isObject(current['metadata']) ? current['metadata']['resourceVersion'] : undefined;
    return typeof rv === 'string' ? rv : undefined;
  }
}
