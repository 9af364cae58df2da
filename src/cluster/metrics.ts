import type { Counter, Gauge } from 'prom-client';

/**
 * The metrics the live cluster keeps up to date: its caches and the rules reloads. The server's registry
 * (`server/metrics.ts`) holds them; this is what the cluster needs of it, so that the dependency points down.
 */
export interface ClusterMetrics {
  readonly rulesLoaded: Gauge;
  readonly rulesReloads: Counter<'result'>;
  readonly rulesLastSuccess: Gauge;
  readonly nodes: Gauge;
  readonly pods: Gauge;
  readonly objectsRejected: Counter<'cache'>;
  readonly cacheStale: Gauge<'cache'>;
  readonly cacheDisconnected: Gauge<'cache'>;
}

/** The metrics of the in-cluster audit (`audit-loop.ts`), also held by the server's registry. */
export interface AuditMetrics {
  readonly auditFindings: Gauge<'kind' | 'severity'>;
  readonly auditRuns: Counter<'result'>;
  readonly auditLastSuccess: Gauge;
  readonly auditDuration: Gauge<'phase'>;
  readonly auditLeader: Gauge;
}
