import { CoreV1Api, type V1Node } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeApiServer } from '../../test/support/fake-apiserver.js';
import { Informer, type InformerOptions } from './informer.js';

const NODES = '/api/v1/nodes';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Recorded {
  upserts: string[];
  removes: string[];
  listed: string[][];
  retries: number[];
}

describe('Informer', () => {
  let fake: FakeApiServer;
  let informer: Informer<V1Node> | undefined;

  beforeEach(async () => {
    fake = await FakeApiServer.start();
    fake.upsert(NODES, { metadata: { name: 'n1' } });
  });

  afterEach(async () => {
    await informer?.stop();
    informer = undefined;
    await fake.close();
  });

  function start(opts: Partial<InformerOptions<V1Node>> = {}): Recorded {
    const seen: Recorded = { upserts: [], removes: [], listed: [], retries: [] };
    const kubeConfig = fake.kubeConfig();
    const api = kubeConfig.makeApiClient(CoreV1Api);
    informer = new Informer<V1Node>({
      kubeConfig,
      path: NODES,
      list: () => api.listNode(),
      trim: (n) => n,
      handlers: {
        upsert: (n) => seen.upserts.push(n.metadata?.name ?? ''),
        remove: (n) => seen.removes.push(n.metadata?.name ?? ''),
        listed: (names) => seen.listed.push([...names].sort()),
        error: (_err, retryInMs) => seen.retries.push(retryInMs),
        rejected: (err) => {
          throw err;
        },
      },
      ...opts,
    });
    informer.start();
    return seen;
  }

  it('an object a handler or the trim throws on is reported and left out; the informer goes on, without reconnecting', async () => {
    fake.upsert(NODES, { metadata: { name: 'bad-in-list' } });
    const rejected: string[] = [];
    const seen: Recorded = { upserts: [], removes: [], listed: [], retries: [] };
    const kubeConfig = fake.kubeConfig();
    const api = kubeConfig.makeApiClient(CoreV1Api);
    informer = new Informer<V1Node>({
      kubeConfig,
      path: NODES,
      list: () => api.listNode(),
      trim: (n) => {
        if (n.metadata?.name === 'bad-trim') throw new Error('cannot trim');
        return n;
      },
      handlers: {
        upsert: (n) => {
          if (n.metadata?.name?.startsWith('bad')) throw new Error(`poison ${n.metadata.name}`);
          seen.upserts.push(n.metadata?.name ?? '');
        },
        remove: () => undefined,
        listed: (names) => seen.listed.push([...names].sort()),
        error: (_err, retryInMs) => seen.retries.push(retryInMs),
        rejected: (err) => rejected.push(err instanceof Error ? err.message : String(err)),
      },
    });
    informer.start();
    await vi.waitFor(() => expect(fake.openWatches(NODES)).toBe(1));
    fake.upsert(NODES, { metadata: { name: 'bad-in-watch' } });
    fake.upsert(NODES, { metadata: { name: 'bad-trim' } });
    fake.upsert(NODES, { metadata: { name: 'n2' } });
    await vi.waitFor(() => expect(seen.upserts).toEqual(['n1', 'n2']));
    expect(rejected).toEqual(['poison bad-in-list', 'poison bad-in-watch', 'cannot trim']);
    expect(seen.retries).toEqual([]);
    expect(fake.requests(NODES).lists).toBe(1);
  });

  it('lists, then follows the watch', async () => {
    const seen = start();
    await vi.waitFor(() => expect(fake.openWatches(NODES)).toBe(1));
    expect(informer?.synced).toBe(true);
    expect(seen.listed).toEqual([['n1']]);
    fake.upsert(NODES, { metadata: { name: 'n2' } });
    fake.remove(NODES, 'n1');
    await vi.waitFor(() => expect(seen.removes).toEqual(['n1']));
    expect(seen.upserts).toEqual(['n1', 'n2']);
    expect(seen.retries).toEqual([]);
  });

  it('doubles the reconnect delay after each failure up to the cap, and starts again from the initial delay after a contact', async () => {
    fake.down();
    const seen = start({ backoff: { initialMs: 10, maxMs: 40 } });
    await vi.waitFor(() => expect(seen.retries.length).toBeGreaterThanOrEqual(5));
    expect(seen.retries.slice(0, 5)).toEqual([10, 20, 40, 40, 40]);
    expect(informer?.synced).toBe(false);
    expect(informer?.disconnectedMs()).toBeGreaterThan(0);

    fake.up();
    await vi.waitFor(() => expect(informer?.synced).toBe(true));
    await vi.waitFor(() => expect(fake.openWatches(NODES)).toBe(1));
    expect(informer?.disconnectedMs()).toBe(0);

    const before = seen.retries.length;
    fake.down();
    await vi.waitFor(() => expect(seen.retries.length).toBeGreaterThanOrEqual(before + 2));
    expect(seen.retries.slice(before, before + 2)).toEqual([10, 20]);
  });

  it('stops retrying once stopped', async () => {
    fake.down();
    const seen = start({ backoff: { initialMs: 10, maxMs: 10 } });
    await vi.waitFor(() => expect(seen.retries.length).toBeGreaterThanOrEqual(2));
    await informer?.stop();
    const retries = seen.retries.length;
    await sleep(30); // a list already sent when stop() was called still arrives
    const requests = { ...fake.requests(NODES) };
    await sleep(150);
    expect(fake.requests(NODES)).toEqual(requests);
    expect(seen.retries.length).toBe(retries);
  });

  // Regression: ListWatch reports its own abort (stop, or a restart replacing a live watch) as an error. Taken for
  // a failure, the relist's abort scheduled a retry, whose restart aborted the live watch again: a new watch and a
  // "watch failed" warning every backoff delay, forever, after the first relist.
  it('relists without reporting an error, and keeps one watch per relist', async () => {
    const seen = start({ relistMs: 150, backoff: { initialMs: 20, maxMs: 20 } });
    await sleep(700);
    expect(seen.retries).toEqual([]);
    const { lists, watches } = fake.requests(NODES);
    expect(lists).toBeGreaterThanOrEqual(4);
    // the watch of the newest list may still be on its way
    expect(watches === lists || watches === lists - 1).toBe(true);
    expect(fake.openWatches(NODES)).toBeLessThanOrEqual(1);
    expect(seen.listed.every((names) => names.join() === 'n1')).toBe(true);
  });

  it('a relist reconciles a deletion the watch never reported', async () => {
    const seen = start({ relistMs: 150 });
    await vi.waitFor(() => expect(fake.openWatches(NODES)).toBe(1));
    fake.upsert(NODES, { metadata: { name: 'n2' } });
    await vi.waitFor(() => expect(seen.upserts).toContain('n2'));
    fake.remove(NODES, 'n2', { event: false });
    await vi.waitFor(() => expect(seen.listed.at(-1)).toEqual(['n1']));
  });

  it('a 410 on the watch is followed by one relist', async () => {
    const seen = start();
    await vi.waitFor(() => expect(fake.openWatches(NODES)).toBe(1));
    fake.down();
    fake.remove(NODES, 'n1');
    fake.upsert(NODES, { metadata: { name: 'n2' } });
    fake.compact();
    fake.up();
    // the first retry is after the default initial backoff (1 s)
    await vi.waitFor(() => expect(seen.listed).toEqual([['n1'], ['n2']]), { timeout: 3000 });
    expect(seen.removes).toEqual(['n1']);
    expect(fake.requests(NODES).lists).toBe(2);
  });

  // Regression: a list answered after stop() (or after a relist replaced its ListWatch) was applied to the cache and
  // opened a watch that nothing would ever stop.
  it('a list answered after stop() is not applied and opens no watch', async () => {
    fake.listDelayMs = 150;
    const seen = start();
    await sleep(30);
    await informer?.stop();
    await sleep(300);
    expect(seen.upserts).toEqual([]);
    expect(seen.listed).toEqual([]);
    expect(fake.requests(NODES).watches).toBe(0);
  });
});
