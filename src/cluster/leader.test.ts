import type { KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeApiServer } from '../../test/support/fake-apiserver.js';
import { LeaderElector, microTime, type LeaderElectorOptions } from './leader.js';

const NS = 'placement-webhook';
const NAME = 'placement-webhook-audit';
const TIMING = { leaseDurationMs: 600, renewDeadlineMs: 400, retryPeriodMs: 100 };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

describe('LeaderElector against a fake API server', () => {
  let fake: FakeApiServer;
  let leases: string;
  const electors: LeaderElector[] = [];

  beforeEach(async () => {
    fake = await FakeApiServer.start();
    leases = fake.serveWritable({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' });
  });

  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop()));
    await fake.close();
  });

  const elector = (identity: string, extra: Partial<LeaderElectorOptions> = {}) => {
    const e = new LeaderElector({
      kubeConfig: fake.kubeConfig(),
      namespace: NS,
      name: NAME,
      identity,
      logger: pino({ level: 'silent' }),
      ...TIMING,
      ...extra,
    });
    electors.push(e);
    return e;
  };
  const lease = () => fake.stored(leases).get(`${NS}/${NAME}`) as (KubernetesObject & { spec: LeaseSpec }) | undefined;

  it('writes MicroTime with six fractional digits, as the API server parses it', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 67))).toBe('2026-01-02T03:04:05.067000Z');
  });

  it('refuses timings client-go refuses (the leader must give up before another may take over)', () => {
    expect(() => elector('a', { leaseDurationMs: 400, renewDeadlineMs: 400 })).toThrow(/leaseDuration must exceed renewDeadline/);
    expect(() => elector('a', { renewDeadlineMs: 100, retryPeriodMs: 100 })).toThrow(/1.2 × retryPeriod/);
  });

  it('a lone candidate creates the Lease, holds it and renews it every retry period', async () => {
    const started = vi.fn();
    const a = elector('pod-a', { onStartedLeading: started });
    a.start();
    await vi.waitFor(() => expect(a.isLeader()).toBe(true));
    expect(started).toHaveBeenCalledTimes(1);
    const first = lease();
    expect(first?.spec).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(first?.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(first?.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'placement-webhook' });
    await sleep(450);
    const later = lease();
    expect(later?.spec.renewTime).not.toBe(first?.spec.renewTime);
    expect(later?.spec.acquireTime).toBe(first?.spec.acquireTime);
    // Renewals are one PUT each: no read while nobody else writes.
    const counts = fake.writes(leases);
    expect(counts.update).toBeGreaterThanOrEqual(3);
    expect(counts.get).toBeLessThanOrEqual(1);
  });

  it('of two candidates one leads at a time; when it stops it releases the Lease and the other takes over at once', async () => {
    const a = elector('pod-a');
    a.start();
    await vi.waitFor(() => expect(a.isLeader()).toBe(true));
    const b = elector('pod-b');
    b.start();
    for (let i = 0; i < 8; i++) {
      await sleep(50);
      expect(a.isLeader() && b.isLeader()).toBe(false);
      expect(b.isLeader()).toBe(false);
    }
    expect(b.leader()).toBe('pod-a');
    await a.stop();
    expect(lease()?.spec.holderIdentity).toBe('');
    const released = performance.now();
    await vi.waitFor(() => expect(b.isLeader()).toBe(true));
    // An empty holder is taken at the next attempt, not after a lease duration.
    expect(performance.now() - released).toBeLessThan(TIMING.leaseDurationMs);
    expect(lease()?.spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 1 });
  });

  it('three candidates started at once: exactly one leads, and never two at the same instant', async () => {
    const all = ['pod-a', 'pod-b', 'pod-c'].map((id) => elector(id));
    for (const e of all) e.start();
    await vi.waitFor(() => expect(all.filter((e) => e.isLeader())).toHaveLength(1));
    for (let i = 0; i < 20; i++) {
      expect(all.filter((e) => e.isLeader()).length).toBeLessThanOrEqual(1);
      await sleep(25);
    }
    const leader = all.find((e) => e.isLeader());
    expect(lease()?.spec.holderIdentity).toBe(leader?.identity);
    expect(lease()?.spec.leaseTransitions).toBe(0);
  });

  it("a crashed holder's Lease is taken only a lease duration after it was last seen to change, whatever its renewTime says", async () => {
    // Renewed "an hour ago" by another replica's clock: the local clock decides, from when the record was first seen.
    const old = microTime(Date.now() - 3_600_000);
    fake.putWritable(leases, {
      metadata: { name: NAME, namespace: NS },
      spec: { holderIdentity: 'crashed', leaseDurationSeconds: 1, renewTime: old, acquireTime: old, leaseTransitions: 4 },
    } as KubernetesObject);
    const b = elector('pod-b');
    const t0 = performance.now();
    b.start();
    await vi.waitFor(() => expect(b.leader()).toBe('crashed'));
    await sleep(500);
    expect(b.isLeader()).toBe(false);
    await vi.waitFor(() => expect(b.isLeader()).toBe(true), { timeout: 3000 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(lease()?.spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 5 });
  });

  it('a leader that cannot renew stops leading after the renew deadline, before anyone else may take over, and leads again later', async () => {
    const stopped = vi.fn();
    const a = elector('pod-a', { onStoppedLeading: stopped });
    a.start();
    await vi.waitFor(() => expect(a.isLeader()).toBe(true));
    fake.refuse(leases);
    const cut = performance.now();
    await vi.waitFor(() => expect(a.isLeader()).toBe(false));
    const after = performance.now() - cut;
    expect(after).toBeLessThan(TIMING.leaseDurationMs);
    await vi.waitFor(() => expect(stopped).toHaveBeenCalledTimes(1));
    fake.accept(leases);
    await vi.waitFor(() => expect(a.isLeader()).toBe(true), { timeout: 3000 });
  });

  it('a leader that finds another holder in the Lease stops leading at once', async () => {
    const a = elector('pod-a');
    a.start();
    await vi.waitFor(() => expect(a.isLeader()).toBe(true));
    const current = lease();
    fake.putWritable(leases, {
      metadata: { name: NAME, namespace: NS },
      spec: { ...current?.spec, holderIdentity: 'usurper', renewTime: microTime(Date.now()) },
    } as KubernetesObject);
    await vi.waitFor(() => expect(a.isLeader()).toBe(false), { timeout: 1000 });
    expect(a.leader()).toBe('usurper');
  });

  it('nothing escapes when the Lease resource is not served at all (404 on every request)', async () => {
    fake.unserve('coordination.k8s.io');
    const a = elector('pod-a');
    a.start();
    await sleep(400);
    expect(a.isLeader()).toBe(false);
  });
});
