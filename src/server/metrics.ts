/**
 * Prometheus metrics (prom-client), on a registry of their own so that tests can build many apps.
 * Names follow Prometheus conventions: `placement_webhook_` prefix, base units, `_total` counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { workloadKind } from '../workloads/workloads.js';

/**
 * The `kind` label of a review: `Pod`, `ConfigMap`, a workload kind, or `other`. Labels come from fixed sets, never
 * from request data: anyone who reaches the port could otherwise grow /metrics without bound.
 */
export function metricKind(kind: { group: string; kind: string }): string {
  if (kind.group === '' && (kind.kind === 'Pod' || kind.kind === 'ConfigMap')) return kind.kind;
  return workloadKind(kind.group, kind.kind)?.kind ?? 'other';
}

export class Metrics {
  readonly registry = new Registry();

  readonly reviews = new Counter({
    name: 'placement_webhook_reviews_total',
    help: 'Admission reviews answered, by endpoint, decision (allowed, patched, denied, skipped, error, bad_request) and kind (Pod, ConfigMap, a workload kind, or other)',
    labelNames: ['endpoint', 'decision', 'kind'] as const,
    registers: [this.registry],
  });

  readonly reviewDuration = new Histogram({
    name: 'placement_webhook_review_duration_seconds',
    help: 'Time to answer an admission review, from body parsed to response built',
    labelNames: ['endpoint'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly rulesLoaded = new Gauge({
    name: 'placement_webhook_rules_loaded',
    help: 'Rules in the rule set in force',
    registers: [this.registry],
  });

  readonly rulesReloads = new Counter({
    name: 'placement_webhook_rules_reloads_total',
    help: 'Rules documents read, by result (success, invalid)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly rulesLastSuccess = new Gauge({
    name: 'placement_webhook_rules_last_success_timestamp_seconds',
    help: 'When the rule set in force was loaded',
    registers: [this.registry],
  });

  readonly nodes = new Gauge({
    name: 'placement_webhook_node_cache_nodes',
    help: 'Nodes in the node cache',
    registers: [this.registry],
  });

  readonly pods = new Gauge({
    name: 'placement_webhook_pod_cache_pods',
    help: 'Pods bound to nodes in the pod cache',
    registers: [this.registry],
  });

  readonly objectsRejected = new Counter({
    name: 'placement_webhook_cache_objects_rejected_total',
    help: 'Objects from the API server left out of a cache because they are malformed, by cache',
    labelNames: ['cache'] as const,
    registers: [this.registry],
  });

  readonly cacheStale = new Gauge({
    name: 'placement_webhook_cache_stale',
    help: '1 when a cache (nodes, namespaces, priorityclasses, rules, pods) is disconnected for longer than --max-staleness',
    labelNames: ['cache'] as const,
    registers: [this.registry],
  });

  readonly cacheDisconnected = new Gauge({
    name: 'placement_webhook_cache_disconnected_seconds',
    help: 'How long a cache has been disconnected from the API server (0 when connected)',
    labelNames: ['cache'] as const,
    registers: [this.registry],
  });

  readonly certificateExpiry = new Gauge({
    name: 'placement_webhook_tls_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the serving certificate in use',
    registers: [this.registry],
  });

  readonly certificateReloads = new Counter({
    name: 'placement_webhook_tls_certificate_reloads_total',
    help: 'Serving certificate reloads from disk, by result (success, error)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly auditFindings = new Gauge({
    name: 'placement_webhook_audit_findings',
    help: 'Findings of the last in-cluster audit (serve --audit-interval), by kind and severity (fail, warn, info); exported by the replica that leads',
    labelNames: ['kind', 'severity'] as const,
    registers: [this.registry],
  });

  readonly auditRuns = new Counter({
    name: 'placement_webhook_audit_runs_total',
    help: 'In-cluster audits, by result (success; skipped: inputs incomplete; error: inputs could not be read)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly auditLastSuccess = new Gauge({
    name: 'placement_webhook_audit_last_success_timestamp_seconds',
    help: 'When the last in-cluster audit whose findings were published finished',
    registers: [this.registry],
  });

  readonly auditDuration = new Gauge({
    name: 'placement_webhook_audit_duration_seconds',
    help: 'How long the last in-cluster audit took, by phase (read: listing pods and workloads; audit: the engine, on the event loop; publish: the reports)',
    labelNames: ['phase'] as const,
    registers: [this.registry],
  });

  readonly auditLeader = new Gauge({
    name: 'placement_webhook_audit_leader',
    help: '1 while this replica holds the audit Lease (only the leader audits and writes reports)',
    registers: [this.registry],
  });

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'placement_webhook_' });
  }
}
