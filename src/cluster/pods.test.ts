import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeApiServer, PODS } from '../../test/support/fake-apiserver.js';
import { PodIndex } from '../scheduling/pods.js';
import { ListBody, PodCache, WatchLines, type LineSource, type PodCacheOptions, type PodListStats } from './pods.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const FAST_BACKOFF = { initialMs: 10, maxMs: 40 };

interface PodOptions {
  /** null: unassigned. */
  node?: string | null;
  phase?: string;
  labels?: Record<string, string>;
  cpu?: string;
  deleting?: boolean;
  podIP?: string;
}

/** A pod as the API server stores it, from `namespace/name`. */
function pod(key: string, o: PodOptions = {}): KubernetesObject {
  const [namespace, name] = key.split('/');
  return {
    metadata: {
      namespace,
      name,
      labels: o.labels ?? { app: name ?? '' },
      ...(o.deleting ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}),
    },
    spec: {
      ...(o.node === null ? {} : { nodeName: o.node ?? 'n1' }),
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1',
          env: [{ name: 'TOKEN', value: 'secret' }],
          resources: { requests: { cpu: o.cpu ?? '100m' } },
        },
      ],
    },
    status: { phase: o.phase ?? 'Running', ...(o.podIP ? { podIP: o.podIP } : {}) },
  } as KubernetesObject;
}

const keys = (cache: PodCache) => [...cache.index.all()].map((p) => `${p.namespace}/${p.name}`).sort();

interface Seen {
  listed: PodListStats[];
  errors: { err: string; retryInMs: number }[];
  rejected: { err: string; pod: string | undefined }[];
}

describe('PodCache against a fake API server', () => {
  let fake: FakeApiServer;
  let caches: PodCache[];

  beforeEach(async () => {
    fake = await FakeApiServer.start();
    caches = [];
  });

  afterEach(async () => {
    await Promise.all(caches.map((c) => c.stop()));
    await fake.close();
  });

  function start(opts: Partial<PodCacheOptions> = {}): { cache: PodCache; seen: Seen } {
    const seen: Seen = { listed: [], errors: [], rejected: [] };
    const cache = new PodCache({
      kubeConfig: fake.kubeConfig(),
      logger: pino({ level: 'silent' }),
      backoff: FAST_BACKOFF,
      onListed: (stats) => seen.listed.push(stats),
      onError: (err, retryInMs) => seen.errors.push({ err: err.message, retryInMs }),
      rejected: (err, p) => seen.rejected.push({ err: err.message, pod: p }),
      ...opts,
    });
    caches.push(cache);
    cache.start();
    return { cache, seen };
  }

  const watching = () => vi.waitFor(() => expect(fake.openWatches(PODS)).toBe(1));

  describe('listing', () => {
    it('the first sync reads every page, and the cache is synced only once the last one is in', async () => {
      for (let i = 0; i < 12; i++) fake.upsert(PODS, pod(`ns/p${String(i).padStart(2, '0')}`));
      const { cache, seen } = start({ pageSize: 5 });
      const duringList: { page: number; synced: boolean; size: number }[] = [];
      fake.beforeList = ({ page }) => duringList.push({ page, synced: cache.synced, size: cache.size });
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      expect(duringList).toEqual([
        { page: 1, synced: false, size: 0 },
        { page: 2, synced: false, size: 5 },
        { page: 3, synced: false, size: 10 },
      ]);
      expect(cache.size).toBe(12);
      expect(fake.requests(PODS)).toMatchObject({ lists: 3, continued: 2 });
      expect(seen.listed).toMatchObject([{ pods: 12, items: 12, pages: 3, removed: 0, restarts: 0 }]);
      await watching();
      fake.upsert(PODS, pod('ns/late'));
      await vi.waitFor(() => expect(cache.index.get('ns', 'late')).toBeDefined());
      expect(seen.errors).toEqual([]);
    });

    it('keeps nothing of a pod but what placement reads', async () => {
      fake.upsert(PODS, pod('ns/p', { labels: { app: 'web' }, cpu: '250m', podIP: '10.0.0.1' }));
      const { cache } = start();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      const kept = cache.index.get('ns', 'p');
      expect(kept).toMatchObject({ namespace: 'ns', name: 'p', nodeName: 'n1', labels: { app: 'web' }, priority: 0, terminating: false });
      expect(kept?.requests.get('cpu')).toBe(250n);
      expect(JSON.stringify(kept, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toMatch(/secret|TOKEN|10\.0\.0\.1|containers/);
    });

    it('a page too big to hold is asked for again with half the limit, from the same place', async () => {
      for (let i = 0; i < 20; i++) fake.upsert(PODS, pod(`ns/p${i}`));
      const onePod = JSON.stringify(fake.upsert(PODS, pod('ns/p0'))).length;
      const { cache, seen } = start({ pageSize: 8, maxPageBytes: onePod * 5 });
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      expect(cache.size).toBe(20);
      // 8 → 4 pods a page: one refused request, then 5 pages
      expect(seen.listed).toMatchObject([{ pages: 5, items: 20 }]);
      expect(fake.requests(PODS).lists).toBe(6);
    });
  });

  describe('which pods count', () => {
    const cases = [
      { name: 'a running pod bound to a node is kept', pod: pod('ns/p'), kept: true },
      { name: 'a pending pod bound to a node is kept', pod: pod('ns/p', { phase: 'Pending' }), kept: true },
      { name: 'a pod being deleted is kept, as terminating', pod: pod('ns/p', { deleting: true }), kept: true },
      { name: 'an unassigned pod is left out', pod: pod('ns/p', { node: null, phase: 'Pending' }), kept: false },
      { name: 'a Succeeded pod is left out', pod: pod('ns/p', { phase: 'Succeeded' }), kept: false },
      { name: 'a Failed pod is left out', pod: pod('ns/p', { phase: 'Failed' }), kept: false },
    ];
    const selectors = [
      { selector: 'the scheduler’s field selector', fieldSelector: undefined },
      { selector: 'no field selector', fieldSelector: '' },
    ];

    it.each(cases.flatMap((c) => selectors.map((s) => ({ ...c, ...s }))))(
      '$name, listed or watched, with $selector',
      async ({ pod: p, kept, fieldSelector }) => {
        fake.upsert(PODS, structuredClone({ ...p, metadata: { ...p.metadata, name: 'listed' } }));
        const { cache, seen } = start(fieldSelector === undefined ? {} : { fieldSelector });
        await vi.waitFor(() => expect(cache.synced).toBe(true));
        await watching();
        fake.upsert(PODS, structuredClone({ ...p, metadata: { ...p.metadata, name: 'watched' } }));
        fake.upsert(PODS, pod('ns/marker'));
        await vi.waitFor(() => expect(cache.index.get('ns', 'marker')).toBeDefined());
        expect(keys(cache)).toEqual([...(kept ? ['ns/listed'] : []), 'ns/marker', ...(kept ? ['ns/watched'] : [])]);
        if (kept && p.metadata?.deletionTimestamp) expect(cache.index.get('ns', 'watched')?.terminating).toBe(true);
        expect(seen.rejected).toEqual([]);
      },
    );

    it.each(selectors)('a pod that completes is removed, and one bound later is added, with $selector', async ({ fieldSelector }) => {
      fake.upsert(PODS, pod('ns/job'));
      fake.upsert(PODS, pod('ns/pending', { node: null, phase: 'Pending' }));
      const { cache } = start(fieldSelector === undefined ? {} : { fieldSelector });
      await vi.waitFor(() => expect(keys(cache)).toEqual(['ns/job']));
      await watching();
      fake.upsert(PODS, pod('ns/job', { phase: 'Succeeded' }));
      fake.upsert(PODS, pod('ns/pending', { node: 'n2', phase: 'Pending' }));
      await vi.waitFor(() => expect(keys(cache)).toEqual(['ns/pending']));
      expect(cache.index.onNode('n2')?.pods.map((p) => p.name)).toEqual(['pending']);
      expect(cache.index.onNode('n1')).toBeUndefined();
    });

    it('pods are keyed namespace/name: one name in two namespaces is two pods, and deleting one keeps the other', async () => {
      fake.upsert(PODS, pod('team-a/web', { node: 'n1' }));
      fake.upsert(PODS, pod('team-b/web', { node: 'n2' }));
      const { cache } = start();
      await vi.waitFor(() => expect(keys(cache)).toEqual(['team-a/web', 'team-b/web']));
      await watching();
      fake.upsert(PODS, pod('team-b/web', { node: 'n2', labels: { app: 'web', v: '2' } }));
      fake.remove(PODS, 'team-a/web');
      await vi.waitFor(() => expect(keys(cache)).toEqual(['team-b/web']));
      expect(cache.index.get('team-b', 'web')?.labels).toEqual({ app: 'web', v: '2' });
      expect(cache.index.onNode('n1')).toBeUndefined();
    });
  });

  describe('following the watch', () => {
    it('a deletion on the watch removes the pod', async () => {
      fake.upsert(PODS, pod('ns/a'));
      fake.upsert(PODS, pod('ns/b'));
      const { cache } = start();
      await vi.waitFor(() => expect(cache.size).toBe(2));
      await watching();
      fake.remove(PODS, 'ns/a');
      await vi.waitFor(() => expect(keys(cache)).toEqual(['ns/b']));
      expect(cache.index.onNode('n1')?.requested.get('cpu')).toBe(100n);
    });

    it('an update that changes nothing placement reads leaves the index alone; one that does updates it', async () => {
      fake.upsert(PODS, pod('ns/a'));
      const { cache } = start();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      await watching();
      const before = cache.index.get('ns', 'a');
      const upsert = vi.spyOn(PodIndex.prototype, 'upsert');
      fake.upsert(PODS, pod('ns/a', { podIP: '10.0.0.7' }));
      fake.upsert(PODS, pod('ns/a', { podIP: '10.0.0.8' }));
      fake.upsert(PODS, pod('ns/a', { cpu: '2' }));
      await vi.waitFor(() => expect(cache.index.get('ns', 'a')?.requests.get('cpu')).toBe(2000n));
      expect(upsert).toHaveBeenCalledTimes(1);
      expect(before).not.toBe(cache.index.get('ns', 'a'));
      upsert.mockRestore();
    });

    it('a clean end of the watch resumes from the last resourceVersion, without a relist', async () => {
      fake.upsert(PODS, pod('ns/a'));
      const { cache, seen } = start();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      for (let round = 1; round <= 3; round++) {
        await watching();
        fake.upsert(PODS, pod(`ns/r${round}`));
        await vi.waitFor(() => expect(cache.index.get('ns', `r${round}`)).toBeDefined());
        fake.closeWatches();
        await vi.waitFor(() => expect(fake.requests(PODS).watches).toBe(round + 1));
      }
      expect(fake.requests(PODS).lists).toBe(1);
      expect(seen.errors).toEqual([]);
      expect(cache.disconnectedMs()).toBe(0);
    });

    it('a watch closed at once with no event is retried after the backoff delay', async () => {
      const { cache, seen } = start();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      await watching();
      fake.closeWatches();
      await vi.waitFor(() => expect(seen.errors).toEqual([{ err: 'the pod watch closed at once, with no event', retryInMs: 10 }]));
      await watching();
      expect(fake.requests(PODS).lists).toBe(1);
    });

    it('a bookmark moves the resume point: after a compaction, the resumed watch needs no relist', async () => {
      fake.upsert(PODS, pod('ns/a'));
      const { cache } = start();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      await watching();
      fake.upsert(PODS, pod('ns/b'));
      await vi.waitFor(() => expect(cache.size).toBe(2));
      // Changes the pod watch does not see move the store's version past the last pod event.
      fake.upsert('/api/v1/nodes', { metadata: { name: 'n1' } });
      fake.upsert('/api/v1/nodes', { metadata: { name: 'n2' } });
      fake.bookmark(PODS);
      await sleep(50);
      fake.compact();
      fake.closeWatches();
      await vi.waitFor(() => expect(fake.requests(PODS).watches).toBe(2));
      await watching();
      fake.upsert(PODS, pod('ns/c'));
      await vi.waitFor(() => expect(cache.size).toBe(3));
      expect(fake.requests(PODS).lists).toBe(1);
    });

    it('a 410 on the open watch relists, and the relist reconciles what the watch missed', async () => {
      fake.upsert(PODS, pod('ns/a'));
      fake.upsert(PODS, pod('ns/b'));
      const { cache, seen } = start();
      await vi.waitFor(() => expect(cache.size).toBe(2));
      await watching();
      fake.upsert(PODS, pod('ns/b', { labels: { v: '2' } }));
      await vi.waitFor(() => expect(cache.index.get('ns', 'b')?.labels).toEqual({ v: '2' }));
      fake.remove(PODS, 'ns/a', { event: false });
      fake.upsert(PODS, pod('ns/c'), { event: false });
      fake.expireWatches(PODS);
      await vi.waitFor(() => expect(keys(cache)).toEqual(['ns/b', 'ns/c']));
      expect(fake.requests(PODS).lists).toBe(2);
      expect(seen.listed.at(-1)).toMatchObject({ pods: 2, removed: 1 });
      expect(seen.errors).toEqual([]);
      await watching();
    });

    it('a 410 on the first watch after a list, before any event, relists only after the backoff delay', async () => {
      fake.upsert(PODS, pod('ns/a'));
      const { cache, seen } = start();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      await watching();
      fake.expireWatches(PODS);
      await vi.waitFor(() => expect(fake.requests(PODS).lists).toBe(2));
      expect(seen.errors).toEqual([{ err: 'too old resource version: the watch can no longer be served', retryInMs: 10 }]);
      await watching();
    });

    it('an ERROR event other than 410 reconnects after the backoff delay, from the last resourceVersion', async () => {
      fake.upsert(PODS, pod('ns/a'));
      const { cache, seen } = start();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      await watching();
      fake.sendRaw(PODS, 'ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'internal error', code: 500 });
      await vi.waitFor(() => expect(seen.errors).toEqual([{ err: 'internal error (500)', retryInMs: 10 }]));
      await vi.waitFor(() => expect(fake.requests(PODS).watches).toBe(2));
      fake.upsert(PODS, pod('ns/b'));
      await vi.waitFor(() => expect(cache.size).toBe(2));
      expect(fake.requests(PODS).lists).toBe(1);
    });

    it('a burst of 3,000 events is applied a slice at a time: never more than 256 events in one turn of the event loop', async () => {
      const n = 3000;
      for (let i = 0; i < n; i++) fake.upsert(PODS, pod(`ns/p${i}`));
      const { cache } = start();
      await vi.waitFor(() => expect(cache.size).toBe(n));
      await watching();
      const turns = countPerTurn(PodIndex.prototype, 'upsert');
      try {
        // Written in one go: the cache reads them in a few big socket reads.
        for (let i = 0; i < n; i++) fake.upsert(PODS, pod(`ns/p${i}`, { labels: { app: `p${i}`, v: '2' } }));
        await vi.waitFor(() => expect(cache.index.get('ns', `p${n - 1}`)?.labels).toEqual({ app: `p${n - 1}`, v: '2' }), { timeout: 20_000 });
      } finally {
        turns.stop();
      }
      expect(turns.total).toBe(n);
      expect(turns.most).toBeLessThanOrEqual(256);
      expect(turns.busy).toBeGreaterThanOrEqual(Math.ceil(n / 256));
      expect([...cache.index.all()].every((p) => p.labels['v'] === '2')).toBe(true);
    }, 30_000);

    it('the periodic relist removes a pod whose deletion no watch reported, and keeps the others as they were', async () => {
      fake.upsert(PODS, pod('ns/a'));
      fake.upsert(PODS, pod('ns/b'));
      const { cache, seen } = start({ relistMs: 200 });
      await vi.waitFor(() => expect(cache.size).toBe(2));
      await watching();
      const b = cache.index.get('ns', 'b');
      fake.remove(PODS, 'ns/a', { event: false });
      await sleep(50);
      expect(cache.index.get('ns', 'a')).toBeDefined();
      await vi.waitFor(() => expect(keys(cache)).toEqual(['ns/b']), { timeout: 2000 });
      expect(seen.listed[1]).toMatchObject({ pods: 1, removed: 1 });
      // an unchanged pod is stamped, not replaced
      expect(cache.index.get('ns', 'b')).toBe(b);
      expect(seen.errors).toEqual([]);
    });
  });

  describe('API server trouble', () => {
    it('an expired continue token mid-list starts the list again, and the list ends consistent', async () => {
      for (let i = 0; i < 20; i++) fake.upsert(PODS, pod(`ns/p${String(i).padStart(2, '0')}`));
      let expired = false;
      fake.beforeList = ({ page }) => {
        if (page !== 3 || expired) return;
        expired = true;
        // Between the first pages and the third: the snapshot is compacted, and pods come and go.
        fake.expireContinueTokens();
        fake.remove(PODS, 'ns/p01');
        fake.remove(PODS, 'ns/p17');
        fake.upsert(PODS, pod('ns/new'));
      };
      const { cache, seen } = start({ pageSize: 5 });
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      const want = [
        ...Array.from({ length: 20 }, (_, i) => `ns/p${String(i).padStart(2, '0')}`).filter((k) => k !== 'ns/p01' && k !== 'ns/p17'),
        'ns/new',
      ].sort();
      expect(keys(cache)).toEqual(want);
      expect(seen.listed).toMatchObject([{ pods: 19, restarts: 1, pages: 4 }]);
      // 2 pages, a refused third, then 4 pages
      expect(fake.requests(PODS)).toMatchObject({ lists: 7, continued: 5 });
      expect(seen.errors).toEqual([]);
      await watching();
      fake.remove(PODS, 'ns/new');
      await vi.waitFor(() => expect(cache.index.get('ns', 'new')).toBeUndefined());
    });

    it('continue tokens that keep expiring fail the list after 3 restarts, and it is tried again after the backoff delay', async () => {
      for (let i = 0; i < 6; i++) fake.upsert(PODS, pod(`ns/p${i}`));
      let expiries = 0;
      fake.beforeList = ({ page }) => {
        if (page === 2 && expiries < 5) {
          expiries++;
          fake.expireContinueTokens();
        }
      };
      const { cache, seen } = start({ pageSize: 4 });
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      expect(seen.errors).toHaveLength(1);
      expect(seen.errors[0]?.err).toMatch(/^the pod list expired 4 times before it was complete: /);
      expect(seen.listed).toMatchObject([{ pods: 6, restarts: 1 }]);
    });

    it('API server down: reconnects with growing delays, disconnectedMs grows, and both reset once it answers', async () => {
      fake.upsert(PODS, pod('ns/a'));
      const { cache, seen } = start();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      await watching();
      expect(cache.disconnectedMs()).toBe(0);

      fake.down();
      fake.upsert(PODS, pod('ns/b'));
      await vi.waitFor(() => expect(seen.errors.length).toBeGreaterThanOrEqual(4));
      expect(seen.errors.slice(0, 4).map((e) => e.retryInMs)).toEqual([10, 20, 40, 40]);
      const first = cache.disconnectedMs();
      expect(first).toBeGreaterThan(0);
      await sleep(60);
      expect(cache.disconnectedMs()).toBeGreaterThan(first);
      expect(cache.synced).toBe(true);
      expect(cache.index.get('ns', 'a')).toBeDefined();

      fake.up();
      await vi.waitFor(() => expect(cache.index.get('ns', 'b')).toBeDefined());
      expect(cache.disconnectedMs()).toBe(0);
      // the watch resumed within the retained history: no relist
      expect(fake.requests(PODS).lists).toBe(1);

      const before = seen.errors.length;
      fake.down();
      await vi.waitFor(() => expect(seen.errors.length).toBeGreaterThanOrEqual(before + 2));
      expect(seen.errors.slice(before, before + 2).map((e) => e.retryInMs)).toEqual([10, 20]);
    });

    it('an API server down at start: not synced, disconnected, and synced once it answers', async () => {
      fake.upsert(PODS, pod('ns/a'));
      fake.down();
      const { cache, seen } = start();
      await vi.waitFor(() => expect(seen.errors.length).toBeGreaterThanOrEqual(2));
      expect(cache.synced).toBe(false);
      expect(cache.disconnectedMs()).toBeGreaterThan(0);
      fake.up();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      expect(cache.disconnectedMs()).toBe(0);
      expect(keys(cache)).toEqual(['ns/a']);
    });

    it('changes made while the server was down beyond its history are picked up by a relist after the 410', async () => {
      fake.upsert(PODS, pod('ns/a'));
      fake.upsert(PODS, pod('ns/b'));
      const { cache } = start();
      await vi.waitFor(() => expect(cache.size).toBe(2));
      await watching();
      fake.down();
      fake.remove(PODS, 'ns/a');
      fake.upsert(PODS, pod('ns/c'));
      fake.compact();
      await sleep(30);
      fake.up();
      await vi.waitFor(() => expect(keys(cache)).toEqual(['ns/b', 'ns/c']));
      expect(fake.requests(PODS).lists).toBe(2);
    });
  });

  describe('what the API server sends can never stop the cache', () => {
    const malformed: { name: string; item: unknown; pod?: string }[] = [
      { name: 'null', item: null },
      { name: 'a string', item: 'pod' },
      { name: 'a number', item: 7 },
      { name: 'a list', item: [{ metadata: { name: 'x' } }] },
      { name: 'a pod without metadata', item: { spec: { nodeName: 'n1' } } },
      { name: 'a pod whose metadata is a string', item: { metadata: 'x' } },
      { name: 'a pod whose name is a number', item: { metadata: { name: 5 }, spec: { nodeName: 'n1' } } },
      { name: 'a pod whose namespace is an object', item: { metadata: { name: 'x', namespace: { a: 1 } }, spec: { nodeName: 'n1' } } },
    ];

    it('malformed list items are skipped and counted; the rest is listed, without a retry', async () => {
      fake.upsert(PODS, pod('ns/good'));
      for (const m of malformed) fake.plant(PODS, m.item);
      // odd but readable: kept, with what can be read
      fake.plant(PODS, { metadata: { name: 'odd', namespace: 'ns', labels: [1] }, spec: { nodeName: 'n1', containers: 'x', priority: 'high' } });
      const { cache, seen } = start({ pageSize: 3 });
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      expect(seen.rejected).toHaveLength(malformed.length);
      expect(keys(cache)).toEqual(['ns/good', 'ns/odd']);
      expect(cache.index.get('ns', 'odd')).toMatchObject({ labels: {}, priority: 0 });
      expect(seen.errors).toEqual([]);
      expect(seen.listed).toMatchObject([{ items: malformed.length + 2 }]);
    });

    it('malformed watch events are skipped and counted, and the watch goes on without reconnecting', async () => {
      const { cache, seen } = start();
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      await watching();
      for (const m of malformed) {
        fake.sendRaw(PODS, 'ADDED', m.item);
        fake.sendRaw(PODS, 'DELETED', m.item);
      }
      fake.sendRaw(PODS, 'RESIZED', { metadata: { name: 'x', namespace: 'ns' } });
      fake.upsert(PODS, pod('ns/after'));
      await vi.waitFor(() => expect(cache.index.get('ns', 'after')).toBeDefined());
      expect(seen.rejected).toHaveLength(malformed.length * 2 + 1);
      expect(seen.rejected.at(-1)).toEqual({ err: 'a watch event of unknown type "RESIZED"', pod: 'ns/x' });
      expect(seen.errors).toEqual([]);
      expect(fake.requests(PODS)).toMatchObject({ lists: 1, watches: 1 });
    });

    it('hooks that throw change nothing', async () => {
      fake.upsert(PODS, pod('ns/a'));
      fake.plant(PODS, null);
      const boom = () => {
        throw new Error('hook');
      };
      const { cache } = start({ onListed: boom, rejected: boom, onError: boom });
      await vi.waitFor(() => expect(cache.synced).toBe(true));
      await watching();
      fake.upsert(PODS, pod('ns/b'));
      await vi.waitFor(() => expect(cache.size).toBe(2));
    });
  });

  describe('stop()', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it.each([
      { name: 'while watching', setup: async (f: FakeApiServer) => f, wait: 'watch' },
      { name: 'while a list page is in flight', setup: async (f: FakeApiServer) => ((f.listDelayMs = 200), f), wait: 'list' },
      { name: 'while waiting to reconnect', setup: async (f: FakeApiServer) => (f.down(), f), wait: 'error' },
    ] as const)('$name: leaves no open watch, request or timer, and is idempotent', async ({ setup, wait }) => {
      fake.upsert(PODS, pod('ns/a'));
      await setup(fake);
      // The cache's timers, and the fake's (its delayed list answer), are counted.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
      const { cache, seen } = start({ backoff: { initialMs: 60_000, maxMs: 60_000 } });
      if (wait === 'watch') await watching();
      if (wait === 'list') await vi.waitFor(() => expect(fake.requests(PODS).lists).toBe(1));
      if (wait === 'error') await vi.waitFor(() => expect(seen.errors).toHaveLength(1));
      await cache.stop();
      await cache.stop();
      // in flight: the fake's answer, not yet sent, is the one timer left
      expect(vi.getTimerCount()).toBe(wait === 'list' ? 1 : 0);
      vi.useRealTimers();
      const requests = { ...fake.requests(PODS) };
      await sleep(300);
      expect(fake.openWatches(PODS)).toBe(0);
      expect(fake.requests(PODS)).toEqual(requests);
      if (wait === 'list') {
        expect(cache.synced).toBe(false);
        expect(cache.size).toBe(0);
      }
    });
  });

  describe('connections', () => {
    it('the pages of a list and the watches after it share one keep-alive connection', async () => {
      for (let i = 0; i < 12; i++) fake.upsert(PODS, pod(`ns/p${i}`));
      const listedAt = String(fake.resourceVersion);
      const proxy = await CountingProxy.start(fake.url);
      try {
        const { cache, seen } = start({ pageSize: 5, kubeConfig: kubeConfigFor(proxy.url) });
        await vi.waitFor(() => expect(cache.synced).toBe(true));
        await watching();
        fake.upsert(PODS, pod('ns/early'));
        await vi.waitFor(() => expect(cache.index.get('ns', 'early')).toBeDefined());
        fake.closeWatches();
        await vi.waitFor(() => expect(fake.requests(PODS).watches).toBe(2));
        await watching();
        fake.upsert(PODS, pod('ns/late'));
        await vi.waitFor(() => expect(cache.index.get('ns', 'late')).toBeDefined());
        expect(fake.requests(PODS)).toMatchObject({ lists: 3, watches: 2 });
        expect(proxy.connections).toBe(1);
        expect(seen.errors).toEqual([]);
        const [watch] = proxy.requests.filter((r) => r.includes('watch='));
        const params = new URL(watch ?? '', 'http://x').searchParams;
        expect(Object.fromEntries([...params].filter(([k]) => k !== 'timeoutSeconds'))).toEqual({
          watch: '1',
          allowWatchBookmarks: 'true',
          resourceVersion: listedAt,
          fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed',
        });
        const timeoutSeconds = Number(params.get('timeoutSeconds'));
        expect(timeoutSeconds).toBeGreaterThanOrEqual(300);
        expect(timeoutSeconds).toBeLessThan(600);
        // A relist reuses it too.
        cache.index.remove('ns', 'p0');
        fake.expireWatches(PODS);
        await vi.waitFor(() => expect(cache.index.get('ns', 'p0')).toBeDefined());
        expect(fake.requests(PODS).lists).toBe(6);
        expect(proxy.connections).toBe(1);
        await cache.stop();
        // stop() closes the idle connection as well.
        await vi.waitFor(() => expect(proxy.open).toBe(0));
      } finally {
        await proxy.close();
      }
    });

    it('a kept-alive connection reset as a page is asked for over it: the page is asked for again at once, without an error', async () => {
      for (let i = 0; i < 6; i++) fake.upsert(PODS, pod(`ns/p${i}`));
      const proxy = await CountingProxy.start(fake.url);
      try {
        let first = true;
        // Before the second page: the connection the first page came over is closed, as an idle one would be.
        fake.beforeList = ({ page }) => {
          if (page === 2 && first) {
            first = false;
            proxy.resetAll();
          }
        };
        const { cache, seen } = start({ pageSize: 2, kubeConfig: kubeConfigFor(proxy.url) });
        await vi.waitFor(() => expect(cache.synced).toBe(true));
        expect(cache.size).toBe(6);
        expect(seen.listed).toMatchObject([{ pages: 3, restarts: 0 }]);
        expect(seen.errors).toEqual([]);
        expect(proxy.connections).toBeGreaterThanOrEqual(2);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('a big cluster', () => {
    it('a list of 20,000 realistic pods in pages of 500 never holds the event loop more than 50 ms', async () => {
      fake.load(PODS, realisticPods(20_000, 700) as Iterable<KubernetesObject>);
      const { cache, seen } = start();
      const loop = watchEventLoop();
      try {
        await vi.waitFor(() => expect(cache.synced).toBe(true), { timeout: 60_000, interval: 20 });
      } finally {
        loop.stop();
      }
      expect(cache.size).toBe(20_000);
      expect(seen.listed).toMatchObject([{ pages: 40, items: 20_000 }]);
      // Busy time includes the fake API server's own work, which shares this thread.
      if (loop.longestBusyMs !== undefined) expect(loop.longestBusyMs).toBeLessThanOrEqual(50);
      else expect(loop.longestGapMs).toBeLessThanOrEqual(250);
    }, 120_000);
  });
});

describe('PodCache against a scripted API server', () => {
  /** Answers each request with the next handler of its kind (list or watch); the last one answers the rest. */
  async function scripted(handlers: {
    list: ((res: ServerResponse) => void)[];
    watch: ((res: ServerResponse, req: IncomingMessage) => void)[];
  }): Promise<{ server: Server; url: string; counts: { list: number; watch: number } }> {
    const counts = { list: 0, watch: 0 };
    const server = createServer((req, res) => {
      const watch = new URL(req.url ?? '/', 'http://x').searchParams.get('watch') === '1';
      const list = watch ? handlers.watch : handlers.list;
      const n = watch ? counts.watch++ : counts.list++;
      const handler = list[Math.min(n, list.length - 1)];
      handler?.(res, req);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, counts };
  }
  const emptyList = (rv: string) => (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'PodList', metadata: { resourceVersion: rv }, items: [] }));
  };
  const opened = (res: ServerResponse, lines: string[] = []) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    for (const l of lines) res.write(l);
  };
  const added = (name: string, rv: string) =>
    `${JSON.stringify({ type: 'ADDED', object: { ...pod(`ns/${name}`), metadata: { namespace: 'ns', name, resourceVersion: rv } } })}\n`;

  let servers: Server[] = [];
  let caches: PodCache[] = [];
  afterEach(async () => {
    await Promise.all(caches.map((c) => c.stop()));
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    servers = [];
    caches = [];
  });
  function start(url: string, opts: Partial<PodCacheOptions> = {}): { cache: PodCache; seen: Seen } {
    const seen: Seen = { listed: [], errors: [], rejected: [] };
    const cache = new PodCache({
      kubeConfig: kubeConfigFor(url),
      logger: pino({ level: 'silent' }),
      backoff: FAST_BACKOFF,
      onListed: (stats) => seen.listed.push(stats),
      onError: (err, retryInMs) => seen.errors.push({ err: err.message, retryInMs }),
      rejected: (err, p) => seen.rejected.push({ err: err.message, pod: p }),
      ...opts,
    });
    caches.push(cache);
    cache.start();
    return { cache, seen };
  }

  it('a watch line that is not JSON is reported and skipped; a last line without its newline is still an event', async () => {
    const api = await scripted({
      list: [emptyList('1')],
      watch: [
        (res) => {
          opened(res, ['{"type":"ADDED","object":{"metadata":{"na', 'me":"x"\n', added('a', '3'), '\n']);
          res.end(added('b', '4').trimEnd());
        },
        (res) => opened(res),
      ],
    });
    servers.push(api.server);
    const { cache, seen } = start(api.url);
    await vi.waitFor(() => expect(keys(cache)).toEqual(['ns/a', 'ns/b']));
    expect(seen.rejected).toHaveLength(1);
    expect(seen.rejected[0]?.err).toMatch(/^a watch event that is not JSON: /);
    // resumed from the last event's version
    await vi.waitFor(() => expect(api.counts.watch).toBe(2));
    expect(seen.errors).toEqual([]);
  });

  it('a watch the server does not answer fails after requestTimeoutMs and is retried after the backoff delay', async () => {
    const api = await scripted({ list: [emptyList('1')], watch: [() => undefined, (res) => opened(res, [added('a', '2')])] });
    servers.push(api.server);
    const { cache, seen } = start(api.url, { requestTimeoutMs: 150 });
    await vi.waitFor(() => expect(cache.index.get('ns', 'a')).toBeDefined());
    expect(seen.errors).toEqual([{ err: 'pod watch: no answer for 150 ms', retryInMs: 10 }]);
  });

  it('a watch answered 410 lists again; one answered 500 reconnects after the backoff delay', async () => {
    const status = (code: number, message: string) => (res: ServerResponse) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message, code }));
    };
    const api = await scripted({
      list: [emptyList('1'), emptyList('5')],
      // the first watch ends as the server's watch timeout ends it: cleanly, after an event (resumed at once)
      watch: [
        (res) => {
          opened(res, [added('a', '2')]);
          setTimeout(() => res.end(), 50);
        },
        status(500, 'etcd is sad'),
        (res) => res.destroy(),
        status(410, 'too old resource version'),
        (res) => opened(res),
      ],
    });
    servers.push(api.server);
    const { cache, seen } = start(api.url);
    await vi.waitFor(() => expect(cache.index.get('ns', 'a')).toBeDefined());
    await vi.waitFor(() => expect(api.counts.list).toBe(2));
    // The reset after the 500 came on a reused keep-alive connection before any answer: asked again at once, unreported.
    expect(seen.errors).toEqual([{ err: 'etcd is sad (500)', retryInMs: 10 }]);
    await vi.waitFor(() => expect(api.counts.watch).toBe(5));
    // the relist found no pod
    expect(cache.size).toBe(0);
  });
});

describe('WatchLines', () => {
  function source(): PassThrough & { complete: boolean } {
    return Object.assign(new PassThrough(), { complete: false });
  }
  function read(res: LineSource, maxLineBytes = 1 << 20): { lines: string[]; ended: () => boolean; errors: Error[]; w: WatchLines } {
    const lines: string[] = [];
    const errors: Error[] = [];
    let ended = false;
    const w = new WatchLines(
      res,
      maxLineBytes,
      (l) => lines.push(l.toString('utf8')),
      () => (ended = true),
      (e) => errors.push(e),
    );
    return { lines, ended: () => ended, errors, w };
  }

  it('cuts chunks into lines wherever they split, skips empty lines, and applies none in the turn that read them', async () => {
    const res = source();
    const r = read(res);
    res.write('{"a":1}\n{"b"');
    res.write(':"é');
    res.write(Buffer.from('𝄞"}\n\n\n{"c":3}\n'));
    // whatever the data handlers did in this turn, no line is applied before a turn of its own
    expect(r.lines).toEqual([]);
    await vi.waitFor(() => expect(r.lines).toEqual(['{"a":1}', '{"b":"é𝄞"}', '{"c":3}']));
    res.complete = true;
    res.end('{"d":4}');
    await vi.waitFor(() => expect(r.ended()).toBe(true));
    expect(r.lines.at(-1)).toBe('{"d":4}');
    expect(r.errors).toEqual([]);
  });

  it('a burst in one chunk is applied at most 256 lines a turn, in order', async () => {
    const res = source();
    const turns: number[] = [];
    let inTurn = 0;
    const seen: number[] = [];
    const w = new WatchLines(
      res,
      1 << 20,
      (l) => {
        inTurn++;
        seen.push(Number(l.toString()));
      },
      () => undefined,
      () => undefined,
    );
    let ticking = true;
    const tick = () => {
      if (inTurn > 0) turns.push(inTurn);
      inTurn = 0;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    res.write(`${Array.from({ length: 2000 }, (_, i) => String(i)).join('\n')}\n`);
    await vi.waitFor(() => expect(seen).toHaveLength(2000));
    ticking = false;
    expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(Math.max(...turns)).toBeLessThanOrEqual(256);
    expect(turns.length).toBeGreaterThanOrEqual(8);
    w.close();
  });

  it('pauses the response while more than 8 MiB wait, and resumes it once they are applied', async () => {
    const res = source();
    const pauses = vi.spyOn(res, 'pause');
    const resumes = vi.spyOn(res, 'resume');
    const r = read(res);
    const line = `${'x'.repeat(64 * 1024)}\n`;
    for (let i = 0; i < 200; i++) res.write(line);
    await vi.waitFor(() => expect(r.lines).toHaveLength(200), { timeout: 10_000 });
    expect(pauses).toHaveBeenCalled();
    expect(resumes.mock.calls.length).toBeGreaterThanOrEqual(pauses.mock.calls.length);
    expect(res.isPaused()).toBe(false);
    r.w.close();
  });

  it('a line longer than the limit fails the stream; close() stops everything', async () => {
    const res = source();
    const r = read(res, 100);
    res.write('{"a":1}\n');
    res.write('x'.repeat(101));
    await vi.waitFor(() => expect(r.errors.map((e) => e.message)).toEqual(['a pod watch event of more than 100 bytes']));
    expect(res.destroyed).toBe(true);
    const res2 = source();
    const r2 = read(res2);
    res2.write('{"a":1}\n');
    r2.w.close();
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    expect(r2.lines).toEqual([]);
    expect(r2.ended()).toBe(false);
  });

  it('a stream closed before it is complete fails', async () => {
    const res = source();
    const r = read(res);
    res.destroy();
    await vi.waitFor(() => expect(r.errors.map((e) => e.message)).toEqual(['pod watch: the connection closed mid-stream']));
  });
});

describe('ListBody', () => {
  const bodies: { name: string; body: string }[] = [
    {
      name: 'a list as the API server writes it',
      body: JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '5', continue: 'abc' },
        items: [{ a: 1 }, { b: [1, 2, { c: '}' }] }],
      }),
    },
    { name: 'items before the metadata', body: JSON.stringify({ items: [{ a: 1 }], metadata: { resourceVersion: '9' } }) },
    {
      name: 'strings holding quotes, backslashes and brackets',
      body: JSON.stringify({ items: [{ s: 'a"]},{\\' }, { t: '\\' }, { u: '\\"' }, { v: '[{' }], metadata: {} }),
    },
    {
      name: 'unicode and whitespace',
      body: JSON.stringify({ metadata: { é: 'ü' }, items: [{ name: 'pod-é-𝄞', labels: { ключ: '值' } }, {}] }, null, 2),
    },
    { name: 'an empty list', body: '{"kind":"PodList","items":[],"metadata":{"resourceVersion":"1"}}' },
    { name: 'items that are not objects', body: JSON.stringify({ items: [null, 1, -2.5e3, 'x', true, [1, [2]], {}] }) },
    {
      name: 'an items key inside an item or the metadata',
      body: JSON.stringify({ metadata: { items: [1] }, items: [{ items: [2], metadata: { items: {} } }] }),
    },
    { name: 'items that is not a list', body: JSON.stringify({ items: null, metadata: { resourceVersion: '1' } }) },
    { name: 'no items at all', body: JSON.stringify({ kind: 'Status', code: 410 }) },
    { name: 'not an object', body: '[1,2]' },
  ];

  it.each(bodies)('$name: the items and envelope are those JSON.parse reads', ({ body }) => {
    const list = new ListBody(Buffer.from(body));
    const items: unknown[] = [];
    for (let text = list.nextItem(); text !== undefined; text = list.nextItem()) items.push(JSON.parse(text));
    const whole: unknown = JSON.parse(body);
    const isList = whole !== null && typeof whole === 'object' && !Array.isArray(whole) && Array.isArray((whole as { items?: unknown }).items);
    expect(items).toEqual(isList ? (whole as { items: unknown[] }).items : []);
    expect(list.envelope()).toEqual(isList ? { ...whole, items: [] } : whole);
  });

  it.each([
    { name: 'a body cut inside an item', body: '{"items":[{"a":1},{"b":' },
    { name: 'a body cut inside a string', body: '{"items":[{"a":"x' },
    { name: 'a body cut after an item', body: '{"items":[{"a":1}' },
  ])('$name throws a SyntaxError', ({ body }) => {
    const list = new ListBody(Buffer.from(body));
    expect(() => {
      while (list.nextItem() !== undefined);
      list.envelope();
    }).toThrow(SyntaxError);
  });
});

/**
 * The longest gaps between ticks of a 1 ms interval: in wall time, and in time this thread spent on a CPU (Linux,
 * `/proc/thread-self/schedstat`; undefined elsewhere). Wall time is what a review waits, but on a loaded machine it
 * mostly measures how long the process was not scheduled (gaps of 100 ms with 4 ms of CPU); busy time is what the
 * code holding the loop costs, which is what the design bounds.
 */
function watchEventLoop(): { stop(): void; longestGapMs: number; longestBusyMs: number | undefined } {
  const onCpuMs = (): number | undefined => {
    try {
      return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
    } catch {
      return undefined;
    }
  };
  let lastTick = performance.now();
  let lastCpu = onCpuMs();
  const result = {
    longestGapMs: 0,
    longestBusyMs: lastCpu === undefined ? undefined : 0,
    stop: () => clearInterval(ticker),
  };
  const ticker = setInterval(() => {
    const now = performance.now();
    const cpu = onCpuMs();
    result.longestGapMs = Math.max(result.longestGapMs, now - lastTick);
    if (cpu !== undefined && lastCpu !== undefined) result.longestBusyMs = Math.max(result.longestBusyMs ?? 0, cpu - lastCpu);
    lastTick = now;
    lastCpu = cpu;
  }, 1);
  return result;
}

/** Pods as the API server sends them (about 5 KB each): labels app, pod-template-hash, team, version; requests. */
function* realisticPods(count: number, nodes: number): Generator<Record<string, unknown>> {
  let seed = 1;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const word = (n: number) => Array.from({ length: n }, () => 'bcdfghjklmnpqrstvwxz2456789'[Math.floor(random() * 27)]).join('');
  for (let made = 0, w = 0; made < count; w++) {
    const replicas = Math.min([1, 2, 3, 5, 10, 20, 30, 50][w % 8] ?? 1, count - made);
    const team = `team-${w % 50}`;
    const namespace = `${team}-ns-${w % 300}`;
    const app = `app-${w}`;
    const hash = word(10);
    for (let i = 0; i < replicas; i++, made++) {
      const name = `${app}-${hash}-${word(5)}`;
      yield {
        metadata: {
          name,
          generateName: `${app}-${hash}-`,
          namespace,
          uid: `${hash}-0000-4000-8000-${word(12)}`,
          creationTimestamp: '2024-05-01T10:00:00Z',
          labels: { app, 'pod-template-hash': hash, team, version: 'v1.4.2' },
          annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T09:59:00Z', 'prometheus.io/scrape': 'true' },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${hash}`, uid: `${hash}-rs`, controller: true, blockOwnerDeletion: true },
          ],
          managedFields: [
            {
              manager: 'kube-controller-manager',
              operation: 'Update',
              apiVersion: 'v1',
              time: '2024-05-01T10:00:00Z',
              fieldsType: 'FieldsV1',
              fieldsV1: {
                'f:metadata': {
                  'f:generateName': {},
                  'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {}, 'f:team': {}, 'f:version': {} },
                },
                'f:spec': {
                  'f:containers': {
                    'k:{"name":"app"}': {
                      '.': {},
                      'f:env': {},
                      'f:image': {},
                      'f:ports': {},
                      'f:resources': { '.': {}, 'f:limits': {}, 'f:requests': {} },
                    },
                  },
                  'f:dnsPolicy': {},
                  'f:restartPolicy': {},
                },
              },
            },
            {
              manager: 'kubelet',
              operation: 'Update',
              apiVersion: 'v1',
              time: '2024-05-01T10:00:05Z',
              fieldsType: 'FieldsV1',
              subresource: 'status',
              fieldsV1: {
                'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:hostIP': {}, 'f:phase': {}, 'f:podIP': {}, 'f:startTime': {} },
              },
            },
          ],
        },
        spec: {
          volumes: [
            {
              name: 'kube-api-access',
              projected: {
                sources: [
                  { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
                  { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
                ],
                defaultMode: 420,
              },
            },
          ],
          containers: [
            {
              name: 'app',
              image: `registry.example.com/${team}/${app}:v1.4.2`,
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              env: [
                { name: 'LOG_LEVEL', value: 'info' },
                { name: 'DB_HOST', value: `postgres.${namespace}.svc.cluster.local` },
                { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: `${app}-db`, key: 'password' } } },
                { name: 'API_TOKEN', value: 'sk-live-5f2a9c1e7d3b4a6f8e0c2d4b6a8f0e1c' },
              ],
              resources: {
                requests: { cpu: ['100m', '250m', '500m', '1'][w % 4], memory: ['128Mi', '512Mi', '1Gi'][w % 3] },
                limits: { memory: '2Gi' },
              },
              volumeMounts: [{ name: 'kube-api-access', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
              livenessProbe: {
                httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' },
                timeoutSeconds: 1,
                periodSeconds: 10,
                successThreshold: 1,
                failureThreshold: 3,
              },
              readinessProbe: {
                httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' },
                timeoutSeconds: 1,
                periodSeconds: 5,
                successThreshold: 1,
                failureThreshold: 3,
              },
              terminationMessagePath: '/dev/termination-log',
              imagePullPolicy: 'IfNotPresent',
            },
          ],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          serviceAccountName: 'default',
          nodeName: `node-${Math.floor(random() * nodes)}`,
          schedulerName: 'default-scheduler',
          tolerations: [
            { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
            { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
          ],
          ...(w % 100 === 7
            ? {
                affinity: {
                  podAntiAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: [
                      { labelSelector: { matchLabels: { app } }, topologyKey: 'kubernetes.io/hostname' },
                    ],
                  },
                },
              }
            : {}),
          priority: 0,
        },
        status: {
          phase: 'Running',
          conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
            type,
            status: 'True',
            lastProbeTime: null,
            lastTransitionTime: '2024-05-01T10:00:08Z',
          })),
          hostIP: '10.0.12.34',
          podIP: '10.1.2.3',
          podIPs: [{ ip: '10.1.2.3' }],
          startTime: '2024-05-01T10:00:01Z',
          containerStatuses: [
            {
              name: 'app',
              state: { running: { startedAt: '2024-05-01T10:00:04Z' } },
              ready: true,
              restartCount: 0,
              image: `registry.example.com/${team}/${app}:v1.4.2`,
              imageID: `registry.example.com/${team}/${app}@sha256:4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0`,
              containerID: 'containerd://0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9',
              started: true,
            },
          ],
          qosClass: 'Burstable',
        },
      };
    }
  }
}

/**
 * Counts calls of `target[method]` per turn of the event loop: a `setImmediate` chain ticks once a turn (in the
 * check phase, as the cache's slices run), and the calls between two ticks are one turn's. `most` is the largest
 * count, `busy` the turns with any call.
 */
function countPerTurn<T extends object>(target: T, method: keyof T & string): { stop(): void; total: number; most: number; busy: number } {
  const spy = vi.spyOn(target as Record<string, (...args: unknown[]) => unknown>, method);
  let last = 0;
  let running = true;
  const result = {
    total: 0,
    most: 0,
    busy: 0,
    stop: () => {
      running = false;
      tick();
      spy.mockRestore();
    },
  };
  const tick = () => {
    const calls = spy.mock.calls.length;
    const inTurn = calls - last;
    last = calls;
    result.total = calls;
    if (inTurn > 0) result.busy++;
    result.most = Math.max(result.most, inTurn);
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return result;
}

/** A KubeConfig for an API server at `url` (plain HTTP, no credentials). */
function kubeConfigFor(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}

/** A TCP proxy in front of an HTTP server that counts the connections made to it and the request lines sent. */
class CountingProxy {
  connections = 0;
  readonly requests: string[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: TcpServer) {}

  static async start(target: string): Promise<CountingProxy> {
    const { hostname, port } = new URL(target);
    const server = createTcpServer();
    const proxy = new CountingProxy(server);
    server.on('connection', (client) => {
      proxy.connections++;
      const upstream = connect(Number(port), hostname);
      proxy.sockets.add(client);
      client.on('data', (chunk: Buffer) => {
        for (const m of chunk.toString('latin1').matchAll(/^GET (\S+) HTTP\/1\.1$/gm)) proxy.requests.push(m[1] ?? '');
      });
      client.pipe(upstream).pipe(client);
      const close = () => {
        proxy.sockets.delete(client);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close);
      upstream.on('close', close);
      client.on('error', close);
      upstream.on('error', close);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Connections open now. */
  get open(): number {
    return this.sockets.size;
  }

  /** Cuts every connection (a reset, as a server closing idle ones does to a request racing it). */
  resetAll(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
