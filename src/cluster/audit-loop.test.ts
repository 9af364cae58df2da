import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ruleSet } from '../../test/support/builders.js';
import { FakeApiServer, PODS } from '../../test/support/fake-apiserver.js';
import { audit } from '../audit/audit.js';
import type { Finding } from '../audit/findings.js';
import { loadRules } from '../rules/compile.js';
import { parseNamespaces, parseNodes, parseObjects, parsePods } from './objects.js';
import type { AuditInputs } from '../audit/view.js';
import { NO_CAPACITY } from '../capacity/capacity.js';
import { NodeIndex } from '../scheduling/node-index.js';
import { Metrics } from '../server/metrics.js';
import {
  AuditLoop,
  ClusterAuditReader,
  leaderIdentity,
  reportResults,
  slicedAudit,
  trimPod,
  webhookNamespace,
  type AuditCaches,
  type AuditLoopOptions,
} from './audit-loop.js';
import { POLICY_REPORT, PolicyReports, type ReportResult } from './policy-reports.js';

const silent = pino({ level: 'silent' });

const finding = (over: Partial<Finding> = {}): Finding => ({
  kind: 'node-affinity',
  severity: 'fail',
  namespace: 'team-a',
  object: { apiVersion: 'v1', kind: 'Pod', name: 'web-1' },
  owner: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
  node: 'n1',
  rule: 'requiredDuringScheduling node affinity',
  message: 'pod web-1 runs on n1, which no longer matches its required node affinity',
  reschedulable: true,
  rescheduleNode: 'n2',
  ...over,
});

const caches = (over: Partial<AuditCaches> = {}): AuditCaches => ({
  nodes: () => ({
    index: new NodeIndex([{ name: 'n1', labels: { zone: 'a' }, taints: [], unschedulable: false, allocatable: { cpu: '4' } }]),
    incomplete: undefined,
  }),
  namespaceMap: () => new Map([['team-a', { team: 'a' }]]),
  rules: () => ruleSet([]),
  notReady: () => undefined,
  capacity: () => NO_CAPACITY,
  ...over,
});

async function gauge(
  metrics: Metrics,
  name: 'auditFindings' | 'auditLeader' | 'auditLastSuccess',
): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  return (await metrics[name].get()).values.map((v) => ({ labels: { ...v.labels }, value: v.value }));
}

describe('slicedAudit', () => {
  const snapshot = (file: string) => readFileSync(new URL(`../../test/replay/audit/demo/${file}`, import.meta.url), 'utf8');
  const inputs = () => ({
    nodes: parseNodes(snapshot('nodes.yaml'), 'nodes.yaml'),
    pods: parsePods(snapshot('pods.yaml'), 'pods.yaml'),
    namespaces: parseNamespaces(snapshot('namespaces.yaml'), 'namespaces.yaml'),
    rules: loadRules(snapshot('rules.yaml'), 'rules.yaml'),
    workloads: parseObjects(snapshot('workloads.yaml'), 'workloads.yaml'),
  });

  it.each([0, 1, 1000])('finds what audit() finds, in the same order, with the same notes (slices of %i ms)', async (sliceMs) => {
    const want = audit(inputs());
    expect(want.findings.length).toBeGreaterThan(10);
    const got = await slicedAudit(inputs(), sliceMs);
    expect(got.findings).toEqual(want.findings);
    expect(got.notes).toEqual(want.notes);
  });

  it('gives the event loop back between slices: timers run during the audit, and no slice is much longer than asked', async () => {
    const one = inputs();
    // The snapshot's pods twenty times over (renamed), for an audit of some length.
    const pods = Array.from({ length: 20 }, (_, i) =>
      one.pods.map((p) => ({ ...p, metadata: { ...p.metadata, name: `${p.metadata?.name ?? 'p'}-${i}` } })),
    ).flat();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const got = await slicedAudit({ ...one, pods }, 5);
      const during = ticks;
      expect(during).toBeGreaterThan(0);
      expect(got.longestSliceMs).toBeLessThan(100);
    } finally {
      clearInterval(timer);
    }
  });
});

describe('reportResults', () => {
  it('fail and warn findings become results (the pod as resource, the rest as properties); info ones do not', () => {
    const results = reportResults([
      finding(),
      finding({
        kind: 'drift',
        severity: 'warn',
        rule: 'spot-consumers',
        object: { apiVersion: 'v1', kind: 'Pod', name: 'c-0' },
        patch: [{ op: 'add', path: '/spec/nodeSelector', value: { lifecycle: 'Ec2Spot' } }],
      }),
      finding({ kind: 'noschedule-taint', severity: 'info' }),
    ]);
    expect(results).toEqual([
      {
        namespace: 'team-a',
        rule: 'requiredDuringScheduling node affinity',
        result: 'fail',
        severity: 'high',
        category: 'node-affinity',
        message: 'pod web-1 runs on n1, which no longer matches its required node affinity',
        resources: [{ apiVersion: 'v1', kind: 'Pod', name: 'web-1', namespace: 'team-a' }],
        properties: { kind: 'node-affinity', owner: 'Deployment/web', node: 'n1', reschedulable: 'true', rescheduleNode: 'n2' },
        key: expect.any(String) as string,
      },
      expect.objectContaining({
        result: 'warn',
        severity: 'medium',
        category: 'drift',
        properties: expect.objectContaining({ patch: '[{"op":"add","path":"/spec/nodeSelector","value":{"lifecycle":"Ec2Spot"}}]' }),
      }),
    ]);
  });
});

describe('who and where the replica is', () => {
  it('the namespace: POD_NAMESPACE first, else (outside a pod) the fallback', () => {
    expect(webhookNamespace({ POD_NAMESPACE: 'infra' }, 'placement-webhook')).toBe('infra');
    expect(webhookNamespace({}, 'rules-ns')).toBe(
      existsSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace') ? expect.any(String) : 'rules-ns',
    );
  });

  it('the identity: POD_NAME, else the host name with a suffix no other process shares', () => {
    expect(leaderIdentity({ POD_NAME: 'placement-webhook-7d9f-abcde' })).toBe('placement-webhook-7d9f-abcde');
    const a = leaderIdentity({});
    expect(a.startsWith(`${hostname()}_`)).toBe(true);
    expect(leaderIdentity({})).not.toBe(a);
  });
});

describe('trimPod', () => {
  it('keeps the spec and metadata, drops managedFields, container statuses and the last-applied annotation', () => {
    const pod = trimPod({
      metadata: {
        name: 'p',
        namespace: 'a',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{...}', keep: 'x' },
        managedFields: [{}],
        ownerReferences: [{ kind: 'ReplicaSet', name: 'r', controller: true }],
      },
      spec: { nodeName: 'n1', containers: [{ name: 'c', env: [{ name: 'A', value: 'b' }] }] },
      status: { phase: 'Running', containerStatuses: [{ name: 'c' }], conditions: [{ type: 'Ready', status: 'True' }] },
    });
    expect(pod).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'a', annotations: { keep: 'x' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'r', controller: true }] },
      spec: { nodeName: 'n1', containers: [{ name: 'c', env: [{ name: 'A', value: 'b' }] }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
  });
});

describe('ClusterAuditReader against a fake API server', () => {
  let fake: FakeApiServer;
  beforeEach(async () => {
    fake = await FakeApiServer.start();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('lists the unfinished pods page by page, whole, and lists again from the start when a continue token expires', async () => {
    for (let i = 0; i < 7; i++) {
      fake.upsert(PODS, {
        metadata: { name: `p${i}`, namespace: 'a', managedFields: [{}] },
        spec: { nodeName: 'n1', containers: [{ name: 'c', env: [{ name: 'E', value: 'v' }] }] },
        status: { phase: i === 6 ? 'Succeeded' : 'Running' },
      } as KubernetesObject);
    }
    let expired = false;
    fake.beforeList = ({ page }) => {
      if (page === 3 && !expired) {
        expired = true;
        fake.expireContinueTokens();
      }
    };
    const pods = await new ClusterAuditReader(fake.kubeConfig(), 2).pods();
    expect(pods.map((p) => p.metadata?.name).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    expect(pods[0]?.spec?.containers[0]?.env).toEqual([{ name: 'E', value: 'v' }]);
    expect(pods[0]?.metadata?.managedFields).toBeUndefined();
    // 3 pages, one of them refused, then 3 again.
    expect(fake.requests(PODS).lists).toBe(3 + 3);
  });

  it('lists every workload kind served, with kind and apiVersion set; a kind not served is none; CronJobs from batch/v1beta1 where batch/v1 has none', async () => {
    const deployments = fake.serve({ group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' });
    const cronjobs = fake.serve({ group: 'batch', version: 'v1beta1', plural: 'cronjobs', kind: 'CronJob' });
    fake.upsert(deployments, { metadata: { name: 'web', namespace: 'a' }, spec: { replicas: 2 } } as KubernetesObject);
    fake.upsert(cronjobs, { metadata: { name: 'nightly', namespace: 'b' }, spec: {} } as KubernetesObject);
    const workloads = (await new ClusterAuditReader(fake.kubeConfig()).workloads()) as KubernetesObject[];
    expect(workloads.map((w) => [w.apiVersion, w.kind, w.metadata?.name])).toEqual([
      ['apps/v1', 'Deployment', 'web'],
      ['batch/v1beta1', 'CronJob', 'nightly'],
    ]);
  });

  it('a list that fails otherwise is an error', async () => {
    fake.down();
    await expect(new ClusterAuditReader(fake.kubeConfig()).pods()).rejects.toThrow(/HTTP 503/);
  });
});

describe('AuditLoop', () => {
  let metrics: Metrics;
  let leader: boolean;
  let published: ReportResult[][];
  let engine: ReturnType<typeof vi.fn<(inputs: AuditInputs) => readonly Finding[]>>;
  let reads: number;
  const loops: AuditLoop[] = [];

  beforeEach(() => {
    metrics = new Metrics(false);
    leader = true;
    published = [];
    reads = 0;
    engine = vi.fn<(inputs: AuditInputs) => readonly Finding[]>(() => [finding()]);
  });
  afterEach(async () => {
    await Promise.all(loops.splice(0).map((l) => l.stop()));
  });

  const loop = (over: Partial<AuditLoopOptions> = {}) => {
    const l = new AuditLoop({
      intervalMs: 60_000,
      caches: caches(),
      reader: {
        pods: async () => {
          reads++;
          return [{ metadata: { name: 'web-1', namespace: 'team-a' }, spec: { nodeName: 'n1', containers: [] } }];
        },
        workloads: async () => [],
      },
      engine,
      reports: {
        reconcile: async (results) => {
          published.push([...results]);
          return { served: true, created: results.length, updated: 0, deleted: 0, unchanged: 0, failed: 0 };
        },
      },
      isLeader: () => leader,
      logger: silent,
      metrics,
      ...over,
    });
    loops.push(l);
    return l;
  };

  it('audits the caches and the pods read, publishes reports and gauges', async () => {
    const l = loop();
    const r = await l.runOnce();
    expect(r.result).toBe('success');
    const inputs = engine.mock.calls[0]?.[0];
    expect(inputs?.pods.map((p) => p.metadata?.name)).toEqual(['web-1']);
    expect(inputs?.namespaces).toEqual(new Map([['team-a', { team: 'a' }]]));
    expect(published).toHaveLength(1);
    expect(published[0]?.[0]).toMatchObject({ namespace: 'team-a', result: 'fail', category: 'node-affinity' });
    expect(await gauge(metrics, 'auditFindings')).toEqual([{ labels: { kind: 'node-affinity', severity: 'fail' }, value: 1 }]);
    expect((await gauge(metrics, 'auditLastSuccess'))[0]?.value).toBeGreaterThan(0);
  });

  it('a finding gone is a 0 in its gauge, not a vanished series', async () => {
    const l = loop();
    await l.runOnce();
    engine.mockReturnValue([]);
    await l.runOnce();
    expect(await gauge(metrics, 'auditFindings')).toEqual([{ labels: { kind: 'node-affinity', severity: 'fail' }, value: 0 }]);
    expect(published[1]).toEqual([]);
  });

  it('a replica that does not lead reads nothing and writes nothing; its gauges go when it stops leading', async () => {
    const l = loop();
    await l.runOnce();
    leader = false;
    l.notLeading();
    expect(await l.runOnce()).toEqual({ result: 'not-leader' });
    expect(reads).toBe(1);
    expect(await gauge(metrics, 'auditFindings')).toEqual([]);
    expect(await gauge(metrics, 'auditLeader')).toEqual([{ labels: {}, value: 0 }]);
  });

  it('leadership lost during the run publishes nothing', async () => {
    const l = loop({
      engine: () => {
        leader = false;
        return [finding()];
      },
    });
    expect(await l.runOnce()).toEqual({ result: 'not-leader' });
    expect(published).toHaveLength(0);
  });

  it.each([
    {
      name: 'the node cache is stale',
      over: { caches: caches({ nodes: () => ({ index: new NodeIndex(), incomplete: 'the node cache has been disconnected for 90s' }) }) },
      result: 'skipped',
    },
    { name: 'the rules are not loaded', over: { caches: caches({ notReady: () => 'waiting for the first sync of rules' }) }, result: 'skipped' },
    {
      name: 'the pods cannot be listed',
      over: { reader: { pods: () => Promise.reject(new Error('GET /api/v1/pods: HTTP 403: forbidden')), workloads: async () => [] } },
      result: 'error',
    },
    {
      name: 'the engine throws',
      over: {
        engine: () => {
          throw new Error('boom');
        },
      },
      result: 'error',
    },
  ])('$name: the run is $result, the reports and gauges stay as they were', async ({ over, result }) => {
    const l = loop(over);
    expect((await l.runOnce()).result).toBe(result);
    expect(published).toHaveLength(0);
    expect((await metrics.auditRuns.get()).values.find((v) => v.labels.result === result)?.value).toBe(1);
  });

  it('runs do not overlap', async () => {
    let release = () => undefined as void;
    const l = loop({ reader: { pods: () => new Promise((r) => (release = () => r([]))), workloads: async () => [] } });
    const first = l.runOnce();
    expect(await l.runOnce()).toEqual({ result: 'busy' });
    release();
    expect((await first).result).toBe('success');
  });

  it('runs every interval, and at once when this replica becomes the leader', async () => {
    leader = false;
    const l = loop({ intervalMs: 100 });
    l.start();
    await new Promise((r) => setTimeout(r, 250));
    expect(engine).not.toHaveBeenCalled();
    leader = true;
    l.leading();
    await vi.waitFor(() => expect(engine).toHaveBeenCalledTimes(1), { timeout: 80 });
    await vi.waitFor(() => expect(engine.mock.calls.length).toBeGreaterThanOrEqual(3), { timeout: 1000 });
  });

  it('stop() aborts a run at its next slice: it ends soon, and publishes nothing', async () => {
    const snapshot = (file: string) => readFileSync(new URL(`../../test/replay/audit/demo/${file}`, import.meta.url), 'utf8');
    const one = parsePods(snapshot('pods.yaml'), 'pods.yaml');
    const pods = Array.from({ length: 200 }, (_, i) =>
      one.map((p) => ({ ...p, metadata: { ...p.metadata, name: `${p.metadata?.name ?? 'p'}-${i}` } })),
    ).flat();
    let sliced = 0;
    const l = loop({
      reader: { pods: async () => pods, workloads: async () => [] },
      engine: async (inputs, signal) => {
        const r = await slicedAudit(
          { ...inputs, nodes: parseNodes(snapshot('nodes.yaml'), 'nodes.yaml'), rules: loadRules(snapshot('rules.yaml'), 'rules.yaml') },
          1,
          signal,
        );
        sliced++;
        return r.findings;
      },
    });
    const run = l.runOnce();
    await new Promise((r) => setTimeout(r, 30));
    const t0 = performance.now();
    await l.stop();
    expect(performance.now() - t0).toBeLessThan(200);
    expect(await run).toEqual({ result: 'stopped' });
    expect(sliced).toBe(0);
    expect(published).toHaveLength(0);
  });

  it('stop() aborts a run while it lists', async () => {
    const l = loop({
      reader: {
        pods: (signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason as Error))),
        workloads: async () => [],
      },
    });
    const run = l.runOnce();
    await l.stop();
    expect(await run).toEqual({ result: 'stopped' });
    expect((await metrics.auditRuns.get()).values.find((v) => v.labels.result === 'error')?.value).toBeUndefined();
  });

  it('a run skipped while the caches sync is tried again soon, not an interval later', async () => {
    let synced = false;
    const l = loop({
      intervalMs: 60_000,
      skippedRetryMs: 50,
      caches: caches({ notReady: () => (synced ? undefined : 'waiting for the first sync of nodes') }),
    });
    l.start();
    l.leading();
    await vi.waitFor(() => expect(reads).toBe(0));
    await new Promise((r) => setTimeout(r, 20));
    synced = true;
    await vi.waitFor(() => expect(engine).toHaveBeenCalledTimes(1), { timeout: 500 });
  });

  it('end to end against a fake API server: findings become PolicyReports, and go when the findings go', async () => {
    const fake = await FakeApiServer.start();
    try {
      const reports = fake.serveWritable(POLICY_REPORT);
      const l = loop({
        reader: new ClusterAuditReader(fake.kubeConfig()),
        reports: new PolicyReports({ kubeConfig: fake.kubeConfig(), logger: silent }),
      });
      await l.runOnce();
      const report = fake.stored(reports).get('team-a/placement-webhook') as KubernetesObject & {
        results: unknown[];
        summary: Record<string, number>;
      };
      expect(report.summary).toMatchObject({ fail: 1, warn: 0 });
      expect(report.results).toHaveLength(1);
      engine.mockReturnValue([]);
      await l.runOnce();
      expect(fake.stored(reports).size).toBe(0);
    } finally {
      await fake.close();
    }
  });
});
