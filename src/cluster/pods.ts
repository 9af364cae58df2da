/**
 * The pods bound to nodes, cluster-wide, kept as `PlacedPod`s in a `PodIndex` (see `../scheduling/pods.ts`) by a
 * list+watch loop of `/api/v1/pods`. Written for clusters of 150,000 pods, whose full list is about 800 MB of JSON
 * (beyond V8's longest string), and whose pods carry env values and secret references.
 *
 * - Nothing of a pod is kept but its `PlacedPod`: each object is read and dropped as it arrives. client-node's
 *   `ListWatch` keeps every object it has seen, so it is not used; the watch stream is client-node's `Watch`.
 * - The list is read page by page (`limit`, default 500, and `continue`). A page is read, put into the index and
 *   dropped before the next one is asked for. Its body is held as bytes and cut into items by a scanner that only
 *   finds where each item begins and ends (`ListBody`); each item is `JSON.parse`d, read and dropped in turn, and
 *   the event loop is given back (`setImmediate`) after every `SLICE_MS` of work and between pages. So a review
 *   waits a few ms at most behind a list, however big the page or the pods, and no page is ever held parsed whole.
 * - Raw bytes over plain `http(s).request` (with `KubeConfig.applyToHTTPSOptions`), not
 *   `CoreV1Api.listPodForAllNamespaces`. For a page of 500 realistic pods (5.4 KB each, 2.7 MB), measured on a
 *   2-core machine under a load average of 6–9: the typed client costs 179 ms of CPU and holds the event loop
 *   134 ms at once (its model deserialisation visits every field of every pod, after a `JSON.parse` of the whole
 *   page), and it turns timestamps into `Date`s, which `PodReader` does not read (a pod being deleted would not
 *   count as terminating). A whole-page `JSON.parse` costs 70 ms of CPU but holds the loop 56 ms. The scanner and
 *   per-item parsing cost 100 ms of CPU and hold the loop 10 ms at most.
 * - A `410` on a `continue` token (the snapshot behind it is compacted) starts the list again, up to 3 times in a
 *   row before that counts as a failure. A page over `maxPageBytes` is asked for again with half the `limit`.
 * - A complete list reconciles: every pod it shows is stamped with the list's generation (a number on the cached
 *   pod itself, not a second set of keys), and once the last page is in, pods with an older stamp are removed. The
 *   watch starts from the list's `resourceVersion`.
 * - Watch (`allowWatchBookmarks=true`, `timeoutSeconds` 5–10 min as client-go's reflector picks them): ADDED and
 *   MODIFIED are read and upserted, or removed when no filter counts the pod (unassigned, `Succeeded`, `Failed`);
 *   DELETED removes; BOOKMARK only moves the resume point. An event that changes nothing placement reads (a status
 *   update: most of them) costs a read and a comparison, not an index update.
 * - The watch ending cleanly resumes from the last resourceVersion; a `410` (status or `ERROR` event) lists again,
 *   at once, or after the backoff delay when it comes before any event of the first watch after a list (the list
 *   outlasted the API server's history: relisting at once would repeat it). Any other failure reconnects from the
 *   last resourceVersion after an exponential backoff (1 s doubling to 30 s, reset by any answer). A watch closed
 *   within 1 s with no event counts as a failure (as in client-go), so a proxy that closes every watch cannot make a
 *   request loop; a watch silent a minute past its timeout is dropped and resumed.
 * - A fresh list every `relistMs` (default 1 h): what a lost event left behind goes.
 * - Only pods the scheduler counts are asked for (`status.phase!=Succeeded,status.phase!=Failed`, its own pod
 *   informer's selector): completed Job pods are never sent, and a pod that completes arrives as DELETED. Without
 *   the selector, `PodReader` leaves such pods out by itself.
 * - No exception escapes a callback, timer or stream handler: an object that cannot be read (not an object, no
 *   name, a namespace that is not a string, a list item that is not JSON, an unknown event type) is left out and
 *   reported to `rejected`; a hook that throws is ignored. Watch lines that are not JSON are dropped by
 *   client-node's `Watch` unreported.
 *
 * The cache reports whether a first list has completed (`synced`) and how long it has been cut off
 * (`disconnectedMs`); nothing waits for it.
 *
 * Cost, on the same loaded machine (an idle one is several times faster):
 * - memory: 280–290 B of heap per pod at 150,000 pods (30 a node, 6,059 label sets): the cached pod 104 B, its
 *   name ~47 B, the index ~115 B (the name maps 42, the label groups' sets 31, the nodes' arrays 15), the rest the
 *   reader's interned values;
 * - a list of 150,000 pods: 33 s, 190 µs of CPU a pod (all threads), most of it `JSON.parse` (70 µs for 5.4 KB);
 * - the event loop during a list of 20,000 pods (the API server in another process): its longest turn 10–24 ms of
 *   CPU (p99 9 ms), 30–45 ms of wall time (the rest is the process waiting for a CPU);
 * - watch events: 22,000–36,000 modified pods a second through read and upsert; 5,000 a second end to end, where
 *   client-node's `Watch` parses each whole pod first.
 */
import http from 'node:http';
import https from 'node:https';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { PodIndex, PodReader, type PlacedPod } from '../scheduling/pods.js';

export const PODS_PATH = '/api/v1/pods';
/** The kube-scheduler's pod informer selector: terminal pods hold nothing on their node. */
export const SCHEDULER_POD_SELECTOR = 'status.phase!=Succeeded,status.phase!=Failed';

const DEFAULT_PAGE_SIZE = 500;
const DEFAULT_RELIST_MS = 60 * 60_000;
const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 30_000 } as const;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_PAGE_BYTES = 64 * 1024 * 1024;
/** Longest stretch of list work before the event loop is given back. */
const SLICE_MS = 5;
/** Times a list starts again after expired continue tokens before it counts as a failure (and waits the backoff). */
const MAX_LIST_RESTARTS = 3;
/** A watch closed sooner than this with no event counts as a failure. */
const SHORT_WATCH_MS = 1000;
/** Watch timeouts asked of the API server (client-go's reflector: 5 min × (1 + random)). */
const MIN_WATCH_TIMEOUT_S = 300;
/** How long past its timeout a silent watch is kept before it is dropped and resumed. */
const WATCHDOG_GRACE_S = 60;

export interface PodListStats {
  /** Pods in the index once the list is complete. */
  readonly pods: number;
  /** Items the list returned, counted by placement or not. */
  readonly items: number;
  readonly pages: number;
  /** Pods the index held that the list no longer shows, now removed. */
  readonly removed: number;
  /** Times the list started over (an expired continue token). */
  readonly restarts: number;
  readonly durationMs: number;
  /** Longest stretch the list held the event loop (reading a page, reconciling). */
  readonly longestBlockMs: number;
}

export interface PodCacheOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** `limit` of each list page (default 500). */
  readonly pageSize?: number;
  /** A fresh list every this often (default 1 h). */
  readonly relistMs?: number;
  /** Reconnect delays (default 1 s doubling up to 30 s). */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Clock of `disconnectedMs` (default `Date.now`). */
  readonly now?: () => number;
  /** Field selector of the list and watch (default the scheduler's, {@link SCHEDULER_POD_SELECTOR}; '' for none). */
  readonly fieldSelector?: string;
  /** A list page request silent this long fails (default 60 s). */
  readonly requestTimeoutMs?: number;
  /** A page body over this many bytes is asked for again with half the limit (default 64 MiB). */
  readonly maxPageBytes?: number;
  /** After each complete list. */
  readonly onListed?: (stats: PodListStats) => void;
  /** A list or watch failed; the next attempt is in `retryInMs`. */
  readonly onError?: (err: Error, retryInMs: number) => void;
  /** An object left out because it cannot be read; `pod` is `namespace/name` when known. */
  readonly rejected?: (err: Error, pod: string | undefined) => void;
}

/** A cached pod: the `PlacedPod`, stamped with the generation of the list (or the watch after it) that last showed it. */
interface CachedPod extends PlacedPod {
  generation: number;
}

/** Every field of a `PlacedPod` (a field added there must be added here: two pods are equal when all are). */
const PLACED_FIELDS = Object.keys({
  namespace: true,
  name: true,
  nodeName: true,
  labels: true,
  requests: true,
  hostPorts: true,
  antiAffinity: true,
  priority: true,
  terminating: true,
} satisfies Record<keyof PlacedPod, true>) as (keyof PlacedPod)[];

/**
 * Whether two pods read by the same `PodReader` are the same to placement. Labels, requests, ports and terms are
 * interned by the reader, so identity is equality.
 */
function samePlacement(a: PlacedPod, b: PlacedPod): boolean {
  return PLACED_FIELDS.every((k) => a[k] === b[k]);
}

/** The pod as cached: one object, its fields in place, with the generation stamp. */
function stamped(p: PlacedPod, generation: number): CachedPod {
  return {
    namespace: p.namespace,
    name: p.name,
    nodeName: p.nodeName,
    labels: p.labels,
    requests: p.requests,
    hostPorts: p.hostPorts,
    antiAffinity: p.antiAffinity,
    priority: p.priority,
    terminating: p.terminating,
    generation,
  };
}

/** An object the cache cannot read. */
export class MalformedPodError extends Error {
  override readonly name = 'MalformedPodError';
}

/** 410 Gone: the resourceVersion or continue token is too old; the list must start again. */
class GoneError extends Error {
  override readonly name = 'GoneError';
}

class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

class PageTooLargeError extends Error {
  override readonly name = 'PageTooLargeError';
}

class StoppedError extends Error {
  override readonly name = 'StoppedError';
  constructor() {
    super('stopped');
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** namespace and name of a pod-shaped object, as `PodReader` keys it (no namespace: `default`); throws when it has none. */
function podRef(obj: unknown): { namespace: string; name: string } {
  if (!isRecord(obj)) throw new MalformedPodError(`a pod that is ${obj === null ? 'null' : Array.isArray(obj) ? 'a list' : `a ${typeof obj}`}, not an object`);
  const metadata = obj['metadata'];
  if (!isRecord(metadata)) throw new MalformedPodError('a pod without metadata');
  const name = metadata['name'];
  if (typeof name !== 'string' || name === '') throw new MalformedPodError('a pod whose metadata.name is not a non-empty string');
  const namespace = metadata['namespace'];
  if (namespace !== undefined && typeof namespace !== 'string') throw new MalformedPodError(`pod ${name}: metadata.namespace is not a string`);
  return { namespace: namespace ?? 'default', name };
}

/** `namespace/name` of an object when it has them, for reports. */
function refOf(obj: unknown): string | undefined {
  try {
    const { namespace, name } = podRef(obj);
    return `${namespace}/${name}`;
  } catch {
    return undefined;
  }
}

function resourceVersionOf(obj: unknown): string | undefined {
  const metadata = isRecord(obj) ? obj['metadata'] : undefined;
  const rv = isRecord(metadata) ? metadata['resourceVersion'] : undefined;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/** The error a Status object stands for (a watch ERROR event, a failed request's body). */
function statusError(status: unknown, fallback: string): Error {
  const code = isRecord(status) && typeof status['code'] === 'number' ? status['code'] : undefined;
  const text = isRecord(status) && typeof status['message'] === 'string' ? status['message'] : fallback;
  return code === 410 ? new GoneError(text) : new HttpStatusError(code === undefined ? text : `${text} (${code})`, code ?? 0);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * A list's JSON body, cut into the texts of its `items` one at a time, without parsing them: the scanner follows
 * strings (with their escapes) and brackets only, so an item costs a pass over its bytes before its own
 * `JSON.parse`. The rest of the body (kind, metadata) is parsed by `envelope()` with the items left out.
 *
 * UTF-8 is safe to scan byte by byte (no byte of a multi-byte character is below 0x80). An item that is not valid
 * JSON is found as long as its brackets and quotes balance, and fails its own `JSON.parse`; a body whose structure
 * does not balance (truncated) throws `SyntaxError`. An `items` key written with escapes is not recognised: the
 * whole body is then the envelope.
 */
export class ListBody {
  private pos = 0;
  private state: 'start' | 'items' | 'after' | 'none' = 'start';
  private itemsOpen = -1;
  private itemsClose = -1;

  constructor(private readonly body: Buffer) {}

  /** The next item's JSON text, or undefined after the last one. */
  nextItem(): string | undefined {
    if (this.state === 'start') this.findItems();
    if (this.state !== 'items') return undefined;
    const b = this.body;
    let i = this.skipSpace(this.pos);
    if (b[i] === CLOSE_BRACKET) {
      this.itemsClose = i;
      this.pos = i + 1;
      this.state = 'after';
      return undefined;
    }
    const end = this.skipValue(i);
    const text = b.toString('utf8', i, end);
    i = this.skipSpace(end);
    if (b[i] === COMMA) i++;
    else if (b[i] !== CLOSE_BRACKET) throw new SyntaxError(`list body: expected "," or "]" at byte ${i}`);
    this.pos = i;
    return text;
  }

  /** The body without its items (`items: []`), parsed; call it after the last item. */
  envelope(): unknown {
    while (this.nextItem() !== undefined);
    const b = this.body;
    if (this.itemsOpen < 0) return JSON.parse(b.toString('utf8'));
    return JSON.parse(b.toString('utf8', 0, this.itemsOpen + 1) + b.toString('utf8', this.itemsClose));
  }

  /** Walks the top-level object's members up to the `items` array. */
  private findItems(): void {
    const b = this.body;
    let i = this.skipSpace(0);
    this.state = 'none';
    if (b[i] !== OPEN_BRACE) return;
    i = this.skipSpace(i + 1);
    while (b[i] === QUOTE) {
      const keyEnd = this.skipString(i);
      const isItems = keyEnd - i === 7 && b.toString('latin1', i + 1, i + 6) === 'items';
      i = this.skipSpace(keyEnd);
      if (b[i] !== COLON) return;
      i = this.skipSpace(i + 1);
      if (isItems && b[i] === OPEN_BRACKET) {
        this.itemsOpen = i;
        this.pos = i + 1;
        this.state = 'items';
        return;
      }
      i = this.skipSpace(this.skipValue(i));
      if (b[i] !== COMMA) return;
      i = this.skipSpace(i + 1);
    }
  }

  private skipSpace(i: number): number {
    const b = this.body;
    while (isSpace(b[i])) i++;
    return i;
  }

  /** The end of the string opening at `i`. */
  private skipString(i: number): number {
    const b = this.body;
    const n = b.length;
    i++;
    while (i < n) {
      const c = b[i];
      if (c === QUOTE) return i + 1;
      i += c === BACKSLASH ? 2 : 1;
    }
    throw new SyntaxError('list body: a string does not end');
  }

  /** The end of the value starting at `i`: an object, an array, a string, or a literal. */
  private skipValue(i: number): number {
    const b = this.body;
    const n = b.length;
    const first = b[i];
    if (first === QUOTE) return this.skipString(i);
    if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
      const start = i;
      while (i < n) {
        const c = b[i];
        if (c === COMMA || c === CLOSE_BRACKET || c === CLOSE_BRACE || isSpace(c)) break;
        i++;
      }
      if (i === start) throw new SyntaxError(`list body: a value is missing at byte ${i}`);
      return i;
    }
    let depth = 0;
    while (i < n) {
      let c = b[i];
      if (c === QUOTE) {
        // skipString, inlined: strings are most of the bytes
        i++;
        while ((c = b[i]) !== QUOTE) {
          if (i >= n) throw new SyntaxError('list body: a string does not end');
          i += c === BACKSLASH ? 2 : 1;
        }
        i++;
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1;
      i++;
    }
    throw new SyntaxError('list body: an object or array does not end');
  }
}

/** What a watch in progress can be told. */
interface WatchSession {
  /** Ends the watch without error (stop, relist). */
  end(): void;
}

/**
 * The cluster-wide cache of pods bound to nodes (see the module header). `start()` once; `stop()` ends every
 * request, watch and timer. `index` is to be read, never changed, by others.
 */
export class PodCache {
  readonly index = new PodIndex();
  private readonly reader = new PodReader();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly pageSize: number;
  private readonly relistMs: number;
  private readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  private readonly fieldSelector: string;
  private started = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private syncedOnce = false;
  private disconnectedSince: number | undefined;
  private backoffMs: number;
  /** Of the list in progress or last completed; the watch after it stamps pods with it too. */
  private generation = 0;
  /** Where the watch resumes; undefined: a list is needed. */
  private resourceVersion: string | undefined;
  private relistDue = false;
  /** Watch events applied since the last complete list. */
  private eventsSinceList = 0;
  private relistTimer: NodeJS.Timeout | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private watchSession: WatchSession | undefined;
  private listRequest: http.ClientRequest | undefined;

  constructor(private readonly opts: PodCacheOptions) {
    this.log = opts.logger.child({ cache: 'pods' });
    this.now = opts.now ?? Date.now;
    this.pageSize = Math.max(1, Math.floor(opts.pageSize ?? DEFAULT_PAGE_SIZE));
    // setTimeout takes at most 2^31 - 1 ms (beyond, it fires at once)
    this.relistMs = Math.min(Math.max(opts.relistMs ?? DEFAULT_RELIST_MS, 10), 2 ** 31 - 1);
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.backoffMs = this.backoff.initialMs;
    this.fieldSelector = opts.fieldSelector ?? SCHEDULER_POD_SELECTOR;
  }

  /** True once a first complete list has been put into the index. */
  get synced(): boolean {
    return this.syncedOnce;
  }

  /** Pods in the index. */
  get size(): number {
    return this.index.size;
  }

  /** Milliseconds since the API server last answered, when a request has failed since (0 when connected). */
  disconnectedMs(): number {
    return this.disconnectedSince === undefined ? 0 : this.now() - this.disconnectedSince;
  }

  /** Starts listing and watching (once; a stopped cache stays stopped). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.loop = this.run().catch((err: unknown) => this.log.error({ err: message(err) }, 'pod cache loop ended unexpectedly'));
  }

  /** Ends the list or watch in progress and every timer; resolves once nothing is left running. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.relistTimer);
    clearTimeout(this.sleepTimer);
    this.wake?.();
    this.watchSession?.end();
    this.listRequest?.destroy(new StoppedError());
    await this.loop;
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped) {
        try {
          if (this.resourceVersion === undefined || this.relistDue) await this.list();
          else await this.watchOnce(this.resourceVersion);
        } catch (err) {
          if (this.stopped) break;
          if (err instanceof GoneError) {
            this.resourceVersion = undefined;
            // A 410 before any event of the first watch after a list means the list took longer than the history
            // the API server keeps: listing again at once would repeat it, a full list each time.
            if (this.eventsSinceList === 0) await this.failed(err);
            else this.log.info({ err: err.message }, 'pod watch expired; listing again');
            continue;
          }
          await this.failed(asError(err));
        }
      }
    } finally {
      clearTimeout(this.relistTimer);
      clearTimeout(this.sleepTimer);
    }
  }

  /** The API server answered: connected again, and the next failure waits the initial delay. */
  private contact(): void {
    this.disconnectedSince = undefined;
    this.backoffMs = this.backoff.initialMs;
  }

  private async failed(err: Error): Promise<void> {
    this.disconnectedSince ??= this.now();
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.backoff.maxMs);
    this.hook(() => this.opts.onError?.(err, delay));
    this.log.warn({ err: err.message, retryInMs: delay }, 'pod list or watch failed; retrying');
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, delay);
      this.sleepTimer.unref();
    });
    this.wake = undefined;
  }

  /** Runs a caller's hook; what it throws is of no concern to the cache. */
  private hook(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.debug({ err: message(err) }, 'a pod cache hook threw');
    }
  }

  private reject(err: unknown, pod: string | undefined): void {
    const e = asError(err);
    this.log.warn({ pod, err: e.message }, 'pod left out of the cache: malformed');
    this.hook(() => this.opts.rejected?.(e, pod));
  }

  // ---- list ----

  private async list(): Promise<void> {
    clearTimeout(this.relistTimer);
    const started = performance.now();
    let restarts = 0;
    for (;;) {
      const generation = ++this.generation;
      let listed: { resourceVersion: string; items: number; pages: number; longestBlockMs: number };
      try {
        listed = await this.listPages(generation);
      } catch (err) {
        if (!(err instanceof GoneError) || this.stopped) throw err;
        if (restarts === MAX_LIST_RESTARTS) throw new Error(`the pod list expired ${restarts + 1} times before it was complete: ${err.message}`);
        restarts++;
        this.log.info({ err: err.message, restarts }, 'pod list continue token expired; listing from the start');
        continue;
      }
      const reconciled = await this.reconcile(generation);
      if (this.stopped) throw new StoppedError();
      this.resourceVersion = listed.resourceVersion;
      this.relistDue = false;
      this.eventsSinceList = 0;
      this.syncedOnce = true;
      this.relistTimer = setTimeout(() => {
        this.relistDue = true;
        this.watchSession?.end();
      }, this.relistMs);
      this.relistTimer.unref();
      const stats: PodListStats = {
        pods: this.index.size,
        items: listed.items,
        pages: listed.pages,
        removed: reconciled.removed,
        restarts,
        durationMs: Math.round(performance.now() - started),
        longestBlockMs: Math.round(Math.max(listed.longestBlockMs, reconciled.longestBlockMs) * 10) / 10,
      };
      this.log.info(stats, 'pods listed');
      this.hook(() => this.opts.onListed?.(stats));
      return;
    }
  }

  /** Every page of one list, into the index, stamped `generation`. */
  private async listPages(generation: number): Promise<{ resourceVersion: string; items: number; pages: number; longestBlockMs: number }> {
    let token: string | undefined;
    let limit = this.pageSize;
    let pages = 0;
    let items = 0;
    let longestBlockMs = 0;
    for (;;) {
      let body: Buffer;
      try {
        body = await this.fetchPage(limit, token);
      } catch (err) {
        if (err instanceof HttpStatusError && err.status === 410 && token !== undefined) throw new GoneError(err.message);
        if (err instanceof PageTooLargeError && limit > 1 && !this.stopped) {
          limit = Math.max(1, Math.floor(limit / 2));
          this.log.warn({ err: err.message, limit }, 'pod list page too large; asking for smaller pages');
          continue;
        }
        throw err;
      }
      this.contact();
      // The page arrived in a turn of the loop that read its bytes: reading it starts in a turn of its own.
      await immediate();
      if (this.stopped) throw new StoppedError();
      const page = await this.applyPage(body, generation);
      pages++;
      items += page.items;
      longestBlockMs = Math.max(longestBlockMs, page.longestBlockMs);
      if (page.continueToken === undefined) return { resourceVersion: page.resourceVersion, items, pages, longestBlockMs };
      token = page.continueToken;
      await immediate();
      if (this.stopped) throw new StoppedError();
    }
  }

  /** One page's body into the index, an item at a time, giving the event loop back every `SLICE_MS`. */
  private async applyPage(body: Buffer, generation: number): Promise<{ resourceVersion: string; continueToken: string | undefined; items: number; longestBlockMs: number }> {
    const list = new ListBody(body);
    let sliceStart = performance.now();
    let longestBlockMs = 0;
    let items = 0;
    for (let text = list.nextItem(); text !== undefined; text = list.nextItem()) {
      items++;
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (err) {
        this.reject(new MalformedPodError(`a list item that is not JSON: ${message(err)}`), undefined);
        continue;
      }
      this.apply(obj, generation);
      const elapsed = performance.now() - sliceStart;
      if (elapsed >= SLICE_MS) {
        longestBlockMs = Math.max(longestBlockMs, elapsed);
        await immediate();
        if (this.stopped) throw new StoppedError();
        sliceStart = performance.now();
      }
    }
    const envelope = list.envelope();
    longestBlockMs = Math.max(longestBlockMs, performance.now() - sliceStart);
    const metadata = isRecord(envelope) ? envelope['metadata'] : undefined;
    const resourceVersion = isRecord(metadata) ? metadata['resourceVersion'] : undefined;
    if (typeof resourceVersion !== 'string' || resourceVersion === '') throw new Error('the pod list has no metadata.resourceVersion');
    const token = isRecord(metadata) ? metadata['continue'] : undefined;
    return { resourceVersion, continueToken: typeof token === 'string' && token !== '' ? token : undefined, items, longestBlockMs };
  }

  /** Removes the pods a complete list of `generation` did not show. */
  private async reconcile(generation: number): Promise<{ removed: number; longestBlockMs: number }> {
    const stale: PlacedPod[] = [];
    let sliceStart = performance.now();
    let longestBlockMs = 0;
    let n = 0;
    // Nothing else changes the index while a list runs (the watch waits for it), so pausing mid-way is safe.
    for (const pod of this.index.all()) {
      if ((pod as CachedPod).generation !== generation) stale.push(pod);
      if (++n % 1024 === 0 && performance.now() - sliceStart >= SLICE_MS) {
        longestBlockMs = Math.max(longestBlockMs, performance.now() - sliceStart);
        await immediate();
        sliceStart = performance.now();
      }
    }
    for (const pod of stale) this.index.remove(pod.namespace, pod.name);
    longestBlockMs = Math.max(longestBlockMs, performance.now() - sliceStart);
    return { removed: stale.length, longestBlockMs };
  }

  /** GET of one list page, as bytes. */
  private async fetchPage(limit: number, token: string | undefined): Promise<Buffer> {
    const kc = this.opts.kubeConfig;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(`${cluster.server}${PODS_PATH}`);
    url.searchParams.set('limit', String(limit));
    if (token !== undefined) url.searchParams.set('continue', token);
    if (this.fieldSelector !== '') url.searchParams.set('fieldSelector', this.fieldSelector);
    const options: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    if (this.stopped) throw new StoppedError();
    const timeoutMs = this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const maxBytes = this.opts.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
    const agent = options.agent;
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        let settled = false;
        const settle = (err: Error | undefined, body?: Buffer) => {
          if (settled) return;
          settled = true;
          if (err) reject(err);
          else resolve(body ?? Buffer.alloc(0));
        };
        const request = (url.protocol === 'https:' ? https.request : http.request)(
          url,
          { ...options, method: 'GET', headers: { ...options.headers, accept: 'application/json' }, timeout: timeoutMs },
          (res) => {
            const chunks: Buffer[] = [];
            let bytes = 0;
            res.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              if (bytes > maxBytes) {
                settle(new PageTooLargeError(`a pod list page of more than ${maxBytes} bytes (limit ${limit})`));
                request.destroy();
                return;
              }
              chunks.push(chunk);
            });
            res.on('end', () => {
              const body = Buffer.concat(chunks, bytes);
              if (res.statusCode === 200) return settle(undefined, body);
              let status: unknown;
              try {
                status = JSON.parse(body.toString('utf8'));
              } catch {
                status = undefined;
              }
              const err = statusError(status, `pod list: HTTP ${res.statusCode ?? 0} ${res.statusMessage ?? ''}`.trim());
              settle(err instanceof GoneError ? new HttpStatusError(err.message, 410) : err);
            });
            res.on('error', (err) => settle(err));
            res.on('close', () => settle(new Error('pod list: the connection closed before the page was complete')));
          },
        );
        request.on('timeout', () => request.destroy(new Error(`pod list: no answer for ${timeoutMs} ms`)));
        request.on('error', (err) => settle(err));
        this.listRequest = request;
        request.end();
      });
    } finally {
      this.listRequest = undefined;
      if (agent instanceof http.Agent) agent.destroy();
    }
  }

  // ---- watch ----

  /** One watch from `from`, until it ends: resolves on a clean end, rejects on a failure (GoneError for a 410). */
  private watchOnce(from: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const started = performance.now();
      const timeoutSeconds = Math.floor(MIN_WATCH_TIMEOUT_S * (1 + Math.random()));
      let events = 0;
      let settled = false;
      let controller: AbortController | undefined;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        if (this.watchSession === session) this.watchSession = undefined;
        controller?.abort();
        if (err) reject(err);
        else resolve();
      };
      const session: WatchSession = { end: () => finish() };
      this.watchSession = session;
      const watchdog = setTimeout(() => {
        this.log.info({ timeoutSeconds }, 'pod watch silent past its timeout; resuming');
        finish();
      }, (timeoutSeconds + WATCHDOG_GRACE_S) * 1000);
      watchdog.unref();
      const params = {
        resourceVersion: from,
        allowWatchBookmarks: true,
        timeoutSeconds,
        ...(this.fieldSelector !== '' ? { fieldSelector: this.fieldSelector } : {}),
      };
      const onEvent = (type: string, obj: unknown) => {
        if (settled) return;
        events++;
        this.contact();
        try {
          const failure = this.watchEvent(type, obj);
          if (failure) finish(failure);
        } catch (err) {
          this.reject(err, refOf(obj));
        }
      };
      const onDone = (err: unknown) => {
        if (settled) return;
        if (err) {
          const status = isRecord(err) && typeof err['statusCode'] === 'number' ? err['statusCode'] : undefined;
          finish(status === 410 ? new GoneError(message(err)) : asError(err));
        } else if (events === 0 && performance.now() - started < SHORT_WATCH_MS) {
          finish(new Error('the pod watch closed at once, with no event'));
        } else {
          finish();
        }
      };
      new Watch(this.opts.kubeConfig).watch(PODS_PATH, params, onEvent, onDone).then(
        (c) => {
          controller = c;
          if (settled) c.abort();
          else this.contact(); // the API server answered 200: the watch is open
        },
        (err: unknown) => finish(asError(err)),
      );
    });
  }

  /** Applies one watch event; returns the error that ends the watch (an ERROR event), if any. */
  private watchEvent(type: string, obj: unknown): Error | undefined {
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.apply(obj, this.generation);
        break;
      case 'DELETED':
        try {
          const { namespace, name } = podRef(obj);
          this.index.remove(namespace, name);
        } catch (err) {
          this.reject(err, undefined);
        }
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR':
        return statusError(obj, 'the pod watch sent an ERROR event');
      default:
        this.reject(new MalformedPodError(`a watch event of unknown type ${JSON.stringify(type)}`), refOf(obj));
        return undefined;
    }
    this.eventsSinceList++;
    const rv = resourceVersionOf(obj);
    if (rv !== undefined) this.resourceVersion = rv;
    return undefined;
  }

  // ---- the index ----

  /** A listed, added or modified pod: upserted, stamped, or removed when no filter counts it. */
  private apply(obj: unknown, generation: number): void {
    try {
      const { namespace, name } = podRef(obj);
      const placed = this.reader.read(obj);
      if (placed === undefined) {
        this.index.remove(namespace, name);
        return;
      }
      const existing = this.index.get(placed.namespace, placed.name) as CachedPod | undefined;
      if (existing !== undefined && samePlacement(existing, placed)) {
        existing.generation = generation;
        return;
      }
      this.index.upsert(stamped(placed, generation));
    } catch (err) {
      this.reject(err, refOf(obj));
    }
  }
}
