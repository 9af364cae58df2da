import type { KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../../test/support/fake-apiserver.js';
import { MAX_REPORT_BYTES, MAX_RESULTS, OMITTED_ANNOTATION, POLICY_REPORT, PolicyReports, reportFor, type ReportResult } from './policy-reports.js';

interface Report extends KubernetesObject {
  summary: Record<string, number>;
  results: {
    rule: string;
    result: string;
    message: string;
    policy: string;
    source: string;
    resources: unknown[];
    timestamp: { seconds: number };
    properties: Record<string, string>;
  }[];
}

const result = (namespace: string, name: string, over: Partial<ReportResult> = {}): ReportResult => ({
  namespace,
  rule: 'node-affinity',
  result: 'fail',
  message: `pod ${name}: its node no longer matches its required node affinity`,
  resources: [{ apiVersion: 'v1', kind: 'Pod', name, namespace }],
  category: 'violated',
  ...over,
});

/** A logger whose lines are kept. */
function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

describe('reportFor', () => {
  it('is one report named placement-webhook, results sorted (fail first), summary counting them, timestamps kept by key', () => {
    const r = reportFor('team-a', [result('team-a', 'b', { result: 'warn', rule: 'drift' }), result('team-a', 'a')], undefined, 100);
    expect(r.metadata).toEqual({ name: 'placement-webhook', namespace: 'team-a', labels: { 'app.kubernetes.io/managed-by': 'placement-webhook' } });
    expect(r.summary).toEqual({ pass: 0, fail: 1, warn: 1, error: 0, skip: 0 });
    expect(r.results.map((x) => [x['result'], x['rule'], x['policy'], x['source']])).toEqual([
      ['fail', 'node-affinity', 'placement-webhook', 'placement-webhook'],
      ['warn', 'drift', 'placement-webhook', 'placement-webhook'],
    ]);
    const again = reportFor('team-a', [result('team-a', 'a'), result('team-a', 'c')], r, 200);
    expect(again.results.map((x) => x['timestamp'])).toEqual([
      { seconds: 100, nanos: 0 },
      { seconds: 200, nanos: 0 },
    ]);
  });

  it(`keeps at most ${MAX_RESULTS} results, counts them all, and says how many are left out`, () => {
    const many = Array.from({ length: MAX_RESULTS + 5 }, (_, i) => result('big', `p-${String(i).padStart(5, '0')}`));
    const r = reportFor('big', many, undefined, 1);
    expect(r.results).toHaveLength(MAX_RESULTS);
    expect(r.summary.fail).toBe(MAX_RESULTS + 5);
    expect(r.metadata.annotations).toEqual({ [OMITTED_ANNOTATION]: '5' });
  });

  it(`keeps the results within ${MAX_REPORT_BYTES} bytes, fail ones first`, () => {
    const big = (i: number, outcome: 'fail' | 'warn') => result('big', `p-${i}`, { result: outcome, properties: { patch: 'x'.repeat(5000) } });
    const r = reportFor('big', [...Array.from({ length: 300 }, (_, i) => big(i, 'warn')), big(1000, 'fail')], undefined, 1);
    expect(JSON.stringify(r.results).length).toBeLessThanOrEqual(MAX_REPORT_BYTES + 300);
    expect(r.results.length).toBeLessThan(300);
    expect(r.results[0]?.['result']).toBe('fail');
    expect(r.summary).toMatchObject({ fail: 1, warn: 300 });
    expect(Number(r.metadata.annotations?.[OMITTED_ANNOTATION])).toBe(301 - r.results.length);
  });
});

describe('PolicyReports against a fake API server', () => {
  let fake: FakeApiServer;
  let reports: string;
  let clock: number;
  let log: ReturnType<typeof recordingLogger>;
  let publisher: PolicyReports;

  beforeEach(async () => {
    fake = await FakeApiServer.start();
    reports = fake.serveWritable(POLICY_REPORT);
    clock = 1_700_000_000_000;
    log = recordingLogger();
    publisher = new PolicyReports({ kubeConfig: fake.kubeConfig(), logger: log.logger, now: () => clock });
  });

  afterEach(async () => {
    await fake.close();
  });

  const stored = (ns: string) => fake.stored(reports).get(`${ns}/placement-webhook`) as Report | undefined;

  it('creates one report per namespace with results, updates it in place, leaves it alone when nothing changed, deletes it when its findings are gone', async () => {
    const first = await publisher.reconcile([result('team-a', 'web-1'), result('team-b', 'db-0', { result: 'warn', rule: 'drift' })]);
    expect(first).toEqual({ served: true, created: 2, updated: 0, deleted: 0, unchanged: 0, failed: 0 });
    expect(stored('team-a')?.summary).toMatchObject({ fail: 1, warn: 0 });
    expect(stored('team-a')?.results[0]).toMatchObject({
      policy: 'placement-webhook',
      rule: 'node-affinity',
      result: 'fail',
      resources: [{ kind: 'Pod', name: 'web-1', namespace: 'team-a' }],
    });
    expect(stored('team-b')?.summary).toMatchObject({ fail: 0, warn: 1 });

    // The same findings a minute later: no write at all.
    clock += 60_000;
    const writesBefore = { ...fake.writes(reports) };
    expect(await publisher.reconcile([result('team-a', 'web-1'), result('team-b', 'db-0', { result: 'warn', rule: 'drift' })])).toMatchObject({
      unchanged: 2,
      created: 0,
      updated: 0,
    });
    expect(fake.writes(reports)).toMatchObject({ create: writesBefore.create, update: writesBefore.update, delete: writesBefore.delete });

    // One more finding in team-a; team-b's is gone.
    const before = stored('team-a')?.metadata?.resourceVersion;
    expect(await publisher.reconcile([result('team-a', 'web-1'), result('team-a', 'web-2')])).toMatchObject({ updated: 1, deleted: 1, created: 0 });
    const a = stored('team-a');
    expect(a?.metadata?.resourceVersion).not.toBe(before);
    expect(a?.summary.fail).toBe(2);
    // web-1's result kept the time it was first reported; web-2's is new.
    expect(a?.results.map((r) => r.timestamp.seconds)).toEqual([1_700_000_000, 1_700_000_060]);
    expect(stored('team-b')).toBeUndefined();
    expect([...fake.stored(reports).keys()]).toEqual(['team-a/placement-webhook']);

    // Everything fixed: no report left.
    expect(await publisher.reconcile([])).toMatchObject({ deleted: 1 });
    expect(fake.stored(reports).size).toBe(0);
  });

  it('costs one discovery GET and one LIST per reconcile, plus a write per changed report', async () => {
    await publisher.reconcile([result('team-a', 'web-1')]);
    await publisher.reconcile([result('team-a', 'web-1')]);
    expect(fake.requests('/apis').gets).toBe(2);
    expect(fake.writes(reports)).toEqual({ get: 0, list: 2, create: 1, update: 0, delete: 0 });
  });

  it('never makes a second report: a report made meanwhile by another writer is replaced, and reports it does not manage are left alone', async () => {
    // Another leader's report, written after this one listed (simulated: it is not labelled, so the list misses it).
    fake.putWritable(reports, { metadata: { name: 'placement-webhook', namespace: 'team-a' }, results: [] } as KubernetesObject);
    fake.putWritable(reports, { metadata: { name: 'kyverno-pol', namespace: 'team-a', labels: { 'app.kubernetes.io/managed-by': 'kyverno' } } });
    expect(await publisher.reconcile([result('team-a', 'web-1')])).toMatchObject({ updated: 1, created: 0, failed: 0 });
    expect(stored('team-a')?.results).toHaveLength(1);
    expect(fake.stored(reports).has('team-a/kyverno-pol')).toBe(true);
    await publisher.reconcile([]);
    expect([...fake.stored(reports).keys()]).toEqual(['team-a/kyverno-pol']);
  });

  it('does nothing when the CRD is not served, and says so in one log line (not one per reconcile)', async () => {
    fake.unserve(POLICY_REPORT.group);
    for (let i = 0; i < 3; i++)
      expect(await publisher.reconcile([result('team-a', 'web-1')])).toEqual({
        served: false,
        created: 0,
        updated: 0,
        deleted: 0,
        unchanged: 0,
        failed: 0,
      });
    expect(log.lines.filter((l) => String(l['msg']).includes('not served'))).toHaveLength(1);
    expect(fake.writes(reports)).toEqual({ get: 0, list: 0, create: 0, update: 0, delete: 0 });
    // Installed later: written at the next reconcile.
    fake.serveWritable(POLICY_REPORT);
    expect(await publisher.reconcile([result('team-a', 'web-1')])).toMatchObject({ served: true, created: 1 });
  });

  it('never throws: the API server down, or one namespace refusing writes, is logged and counted', async () => {
    fake.down();
    expect(await publisher.reconcile([result('team-a', 'web-1')])).toMatchObject({ failed: 1, created: 0 });
    fake.up();
    fake.refuse(reports);
    expect(await publisher.reconcile([result('team-a', 'web-1')])).toMatchObject({ failed: 1 });
    fake.accept(reports);
    expect(await publisher.reconcile([result('team-a', 'web-1')])).toMatchObject({ created: 1, failed: 0 });
    expect(log.lines.some((l) => l['level'] === 40 && String(l['msg']).startsWith('policy reports:'))).toBe(true);
  });
});
