/**
 * The pods bound to nodes, cluster-wide, kept as `PlacedPod`s in a `PodIndex` (see `../scheduling/pods.ts`) by a
 * list+watch loop of `/api/v1/pods`. Written for clusters of 150,000 pods, whose full list is about 800 MB of JSON
 * (beyond V8's longest string), and whose pods carry env values and secret references.
 *
 * - Nothing of a pod is kept but its `PlacedPod`: each object is read and dropped as it arrives. client-node's
 *   `ListWatch` keeps every object it has seen, so it is not used; nor is its `Watch`, which parses each event
 *   whole and hands over every event of a socket read in that same turn of the event loop.
 * - The list is read page by page (`limit`, default 500, and `continue`). A page is read, put into the index and
 *   dropped before the next one is asked for. Its body is held as bytes and cut into items by a scanner that only
 *   finds where each item begins and ends (`ListBody`); each item is `JSON.parse`d, read and dropped in turn, and
 *   the event loop is given back (`setImmediate`) after every `SLICE_MS` of work and between pages. So a review
 *   waits a few ms at most behind a list, however big the page or the pods, and no page is ever held parsed whole.
 * - Raw bytes over plain `http(s).request` (with `KubeConfig.applyToHTTPSOptions`) and one keep-alive agent for
 *   the pages of every list and the watches (one connection, one TLS handshake, not one per page), not
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
 * - The watch is a request of its own over the same agent (`watch=1&allowWatchBookmarks=true&resourceVersion=…`,
 *   the list's field selector): its newline-delimited events are queued as bytes and applied in slices of at most
 *   256 events or 5 ms (`WatchLines`), each in a turn of its own, so that a burst of events (hundreds arrive in one
 *   socket read) holds the loop no longer than a list does; the response is paused while 8 MiB wait.
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
 *   name, a namespace that is not a string, a list item or watch event that is not JSON, an unknown event type) is
 *   left out and reported to `rejected`; a hook that throws is ignored.
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
import type { Readable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { PodIndex, PodReader, type PlacedPod } from '../scheduling/pods.js';
import { isObject } from '../util/json.js';

export const PODS_PATH = '/api/v1/pods';
/** The kube-scheduler's pod informer selector: terminal pods hold nothing on their node. */
export const SCHEDULER_POD_SELECTOR = 'status.phase!=Succeeded,status.phase!=Failed';

const DEFAULT_PAGE_SIZE = 500;
const DEFAULT_RELIST_MS = 60 * 60_000;
const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 30_000 } as const;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_PAGE_BYTES = 64 * 1024 * 1024;
/** Longest stretch of list or watch work before the event loop is given back. */
const SLICE_MS = 5;
/** Most watch events applied in one turn of the event loop (or fewer, when {@link SLICE_MS} is up first). */
const SLICE_EVENTS = 256;
/** Bytes of watch events waiting to be applied above which the response is paused, and below which it resumes. */
const QUEUE_PAUSE_BYTES = 8 * 1024 * 1024;
const QUEUE_RESUME_BYTES = 2 * 1024 * 1024;
/** TCP keep-alive probes on an open watch, as client-node's `Watch` sets them. */
const TCP_KEEPALIVE_MS = 30_000;
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
  /**
   * Longest stretch the list held the event loop (reading a page, reconciling), in wall time: on a loaded machine
   * it includes time the thread waited for a CPU.
   */
  readonly longestBlockWallMs: number;
  /** @deprecated the same figure as {@link longestBlockWallMs}, under its former name. */
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

/** A request on a kept-alive connection that the server had closed meanwhile: safe to send again at once. */
class ReusedConnectionError extends Error {
  override readonly name = 'ReusedConnectionError';
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

const isReset = (err: Error): boolean => (err as NodeJS.ErrnoException).code === 'ECONNRESET';

class StoppedError extends Error {
  override readonly name = 'StoppedError';
  constructor() {
    super('stopped');
  }
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** namespace and name of a pod-shaped object, as `PodReader` keys it (no namespace: `default`); throws when it has none. */
function podRef(obj: unknown): { namespace: string; name: string } {
  if (!isObject(obj))
    throw new MalformedPodError(`a pod that is ${obj === null ? 'null' : Array.isArray(obj) ? 'a list' : `a ${typeof obj}`}, not an object`);
  const metadata = obj['metadata'];
  if (!isObject(metadata)) throw new MalformedPodError('a pod without metadata');
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
  const metadata = isObject(obj) ? obj['metadata'] : undefined;
  const rv = isObject(metadata) ? metadata['resourceVersion'] : undefined;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

/** The error a Status object stands for (a watch ERROR event, a failed request's body). */
function statusError(status: unknown, fallback: string): Error {
  const code = isObject(status) && typeof status['code'] === 'number' ? status['code'] : undefined;
  const text = isObject(status) && typeof status['message'] === 'string' ? status['message'] : fallback;
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

const NEWLINE = 0x0a;

/** A response body, as `WatchLines` reads it (an `http.IncomingMessage`). */
export type LineSource = Readable & { readonly complete: boolean };

/**
 * A watch response's newline-delimited events, applied a slice at a time. A read from the socket only cuts its
 * bytes into lines and queues them; the lines are applied in turns of their own (`setImmediate`), each ending after
 * {@link SLICE_EVENTS} events or {@link SLICE_MS}, whichever comes first, so a burst of events (hundreds arrive in
 * one read) never holds the event loop longer than a slice. While more than {@link QUEUE_PAUSE_BYTES} wait, the
 * response is paused (TCP flow control then slows the API server down), and resumed below
 * {@link QUEUE_RESUME_BYTES}.
 *
 * `onEnd` runs once the response has ended and every line is applied; `onError` when it fails (the queue is dropped:
 * the watch resumes from the last event applied). `close()` drops everything; nothing runs after it.
 */
export class WatchLines {
  private queue: (Buffer | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private paused = false;
  private ended = false;
  private closed = false;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly res: LineSource,
    private readonly maxLineBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onEnd: () => void,
    private readonly onError: (err: Error) => void,
  ) {
    res.on('data', (chunk: Buffer) => this.push(chunk));
    res.on('end', () => {
      if (this.closed) return;
      // A last line without its newline is still an event.
      if (this.partialBytes > 0) this.enqueue(Buffer.concat(this.partial, this.partialBytes));
      this.partial = [];
      this.partialBytes = 0;
      this.ended = true;
      this.schedule();
    });
    res.on('error', (err) => this.fail(err));
    res.on('close', () => {
      if (!res.complete) this.fail(new Error('pod watch: the connection closed mid-stream'));
    });
  }

  /** Lines waiting to be applied. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  close(): void {
    this.closed = true;
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
    this.queue = [];
    this.head = 0;
    this.partial = [];
    this.res.destroy();
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.close();
    this.onError(err);
  }

  private push(chunk: Buffer): void {
    if (this.closed) return;
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      if (this.partialBytes === 0) this.enqueue(chunk.subarray(start, nl));
      else {
        this.partial.push(chunk.subarray(start, nl));
        this.enqueue(Buffer.concat(this.partial, this.partialBytes + nl - start));
        this.partial = [];
        this.partialBytes = 0;
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.partial.push(chunk.subarray(start));
      this.partialBytes += chunk.length - start;
      if (this.partialBytes > this.maxLineBytes) return this.fail(new Error(`a pod watch event of more than ${this.maxLineBytes} bytes`));
    }
    if (!this.paused && this.queuedBytes > QUEUE_PAUSE_BYTES) {
      this.paused = true;
      this.res.pause();
    }
    this.schedule();
  }

  private enqueue(line: Buffer): void {
    if (line.length === 0) return;
    this.queue.push(line);
    this.queuedBytes += line.length;
  }

  private schedule(): void {
    if (this.immediate === undefined && !this.closed) this.immediate = setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    this.immediate = undefined;
    const started = performance.now();
    for (let n = 0; this.head < this.queue.length;) {
      const line = this.queue[this.head] as Buffer;
      this.queue[this.head++] = undefined;
      this.queuedBytes -= line.length;
      this.onLine(line);
      if (this.closed) return;
      if (++n === SLICE_EVENTS || performance.now() - started >= SLICE_MS) break;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.paused && this.queuedBytes < QUEUE_RESUME_BYTES) {
      this.paused = false;
      this.res.resume();
    }
    if (this.head < this.queue.length) this.schedule();
    else if (this.ended) {
      this.closed = true;
      this.onEnd();
    }
  };
}

/** Reads a failed request's body (at most 1 MiB) and hands over what it parses to, if anything. */
function readStatus(res: http.IncomingMessage, done: (status: unknown) => void): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let called = false;
  const finish = () => {
    if (called) return;
    called = true;
    let status: unknown;
    try {
      status = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      status = undefined;
    }
    done(status);
  };
  res.on('data', (chunk: Buffer) => {
    if (bytes > 1024 * 1024) return;
    bytes += chunk.length;
    chunks.push(chunk);
  });
  res.on('end', finish);
  res.on('close', finish);
  res.on('error', finish);
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
  /** The keep-alive agents of the list and watch requests (see `connection()`). */
  private httpAgent: http.Agent | undefined;
  private httpsAgent: https.Agent | undefined;

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
    // Idle kept-alive connections too.
    this.httpAgent?.destroy();
    this.httpsAgent?.destroy();
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
        if (restarts === MAX_LIST_RESTARTS)
          throw new Error(`the pod list expired ${restarts + 1} times before it was complete: ${err.message}`, { cause: err });
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
      const longestBlockWallMs = Math.round(Math.max(listed.longestBlockMs, reconciled.longestBlockMs) * 10) / 10;
      const stats = {
        pods: this.index.size,
        items: listed.items,
        pages: listed.pages,
        removed: reconciled.removed,
        restarts,
        durationMs: Math.round(performance.now() - started),
        longestBlockWallMs,
      } as PodListStats;
      // Not enumerable: logs and spreads show the figure once.
      Object.defineProperty(stats, 'longestBlockMs', { value: longestBlockWallMs, enumerable: false });
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
  private async applyPage(
    body: Buffer,
    generation: number,
  ): Promise<{ resourceVersion: string; continueToken: string | undefined; items: number; longestBlockMs: number }> {
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
    const metadata = isObject(envelope) ? envelope['metadata'] : undefined;
    const resourceVersion = isObject(metadata) ? metadata['resourceVersion'] : undefined;
    if (typeof resourceVersion !== 'string' || resourceVersion === '') throw new Error('the pod list has no metadata.resourceVersion');
    const token = isObject(metadata) ? metadata['continue'] : undefined;
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
    for (let i = 0; i < stale.length; i++) {
      const pod = stale[i] as PlacedPod;
      this.index.remove(pod.namespace, pod.name);
      if (i % 256 === 255 && performance.now() - sliceStart >= SLICE_MS) {
        longestBlockMs = Math.max(longestBlockMs, performance.now() - sliceStart);
        await immediate();
        sliceStart = performance.now();
      }
    }
    longestBlockMs = Math.max(longestBlockMs, performance.now() - sliceStart);
    return { removed: stale.length, longestBlockMs };
  }

  /**
   * Where requests go and how: the kubeconfig's credentials and TLS settings, read again for every request (tokens
   * and certificate files may be rotated), sent over the cache's own keep-alive agent, so that the pages of a list
   * and the watches after it share one connection (one TLS handshake, not one per page). An https agent keeps its
   * idle connections apart by TLS settings (`https.Agent#getName`), so rotated credentials get a connection of
   * their own. A cluster reached through a proxy uses the agent the kubeconfig makes for it, one per request.
   */
  private async connection(): Promise<{ server: string; options: https.RequestOptions; release: () => void }> {
    const kc = this.opts.kubeConfig;
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const options: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    const made = options.agent;
    const destroyMade = () => {
      if (made instanceof http.Agent) made.destroy();
    };
    if (this.stopped) {
      destroyMade();
      throw new StoppedError();
    }
    if (cluster.proxyUrl) return { server: cluster.server, options, release: destroyMade };
    // The kubeconfig's agent has no connection yet: dropping it closes nothing.
    destroyMade();
    const secure = !cluster.server.startsWith('http:');
    let agent = secure ? this.httpsAgent : this.httpAgent;
    if (agent === undefined) {
      agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
      if (secure) this.httpsAgent = agent as https.Agent;
      else this.httpAgent = agent;
    }
    options.agent = agent;
    return { server: cluster.server, options, release: () => undefined };
  }

  /** GET of one list page, as bytes. */
  private async fetchPage(limit: number, token: string | undefined): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.fetchPageOnce(limit, token);
      } catch (err) {
        // An idle keep-alive connection the server closed as it was reused: the request never reached it.
        if (attempt === 0 && err instanceof ReusedConnectionError && !this.stopped) continue;
        throw err instanceof ReusedConnectionError ? err.cause : err;
      }
    }
  }

  private async fetchPageOnce(limit: number, token: string | undefined): Promise<Buffer> {
    const { server, options, release } = await this.connection();
    const url = new URL(`${server}${PODS_PATH}`);
    url.searchParams.set('limit', String(limit));
    if (token !== undefined) url.searchParams.set('continue', token);
    if (this.fieldSelector !== '') url.searchParams.set('fieldSelector', this.fieldSelector);
    const timeoutMs = this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const maxBytes = this.opts.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        let settled = false;
        let answered = false;
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
            answered = true;
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
        request.on('error', (err) => settle(!answered && request.reusedSocket && isReset(err) ? new ReusedConnectionError(err) : err));
        this.listRequest = request;
        request.end();
      });
    } finally {
      this.listRequest = undefined;
      release();
    }
  }

  // ---- watch ----

  /**
   * One watch from `from`, until it ends: resolves on a clean end, rejects on a failure (GoneError for a 410). The
   * stream is read by a {@link WatchLines}: events are applied a slice at a time, never in the turn that read them.
   */
  private watchOnce(from: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const started = performance.now();
      const timeoutSeconds = Math.floor(MIN_WATCH_TIMEOUT_S * (1 + Math.random()));
      let events = 0;
      let settled = false;
      let request: http.ClientRequest | undefined;
      let lines: WatchLines | undefined;
      let release = () => undefined as void;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        if (this.watchSession === session) this.watchSession = undefined;
        lines?.close();
        request?.destroy();
        release();
        if (err) reject(err);
        else resolve();
      };
      const session: WatchSession = { end: () => finish() };
      this.watchSession = session;
      const watchdog = setTimeout(
        () => {
          this.log.info({ timeoutSeconds }, 'pod watch silent past its timeout; resuming');
          finish();
        },
        (timeoutSeconds + WATCHDOG_GRACE_S) * 1000,
      );
      watchdog.unref();
      const onLine = (line: Buffer) => {
        events++;
        this.contact();
        let event: unknown;
        try {
          event = JSON.parse(line.toString('utf8'));
        } catch (err) {
          this.reject(new MalformedPodError(`a watch event that is not JSON: ${message(err)}`), undefined);
          return;
        }
        const obj = isObject(event) ? event['object'] : undefined;
        try {
          const failure = this.watchEvent(isObject(event) ? event['type'] : undefined, obj);
          if (failure) finish(failure);
        } catch (err) {
          this.reject(err, refOf(obj));
        }
      };
      const onEnd = () => {
        if (events === 0 && performance.now() - started < SHORT_WATCH_MS) finish(new Error('the pod watch closed at once, with no event'));
        else finish();
      };
      const open = async (attempt: number): Promise<void> => {
        const conn = await this.connection();
        release = conn.release;
        if (settled) return release();
        const url = new URL(`${conn.server}${PODS_PATH}`);
        url.searchParams.set('watch', '1');
        url.searchParams.set('allowWatchBookmarks', 'true');
        url.searchParams.set('resourceVersion', from);
        url.searchParams.set('timeoutSeconds', String(timeoutSeconds));
        if (this.fieldSelector !== '') url.searchParams.set('fieldSelector', this.fieldSelector);
        const timeoutMs = this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
        let answered = false;
        const req = (url.protocol === 'https:' ? https.request : http.request)(
          url,
          // The timeout bounds the wait for an answer; once the stream is open, the watchdog takes over.
          { ...conn.options, method: 'GET', headers: { ...conn.options.headers, accept: 'application/json' }, timeout: timeoutMs },
          (res) => {
            answered = true;
            req.setTimeout(0);
            if (settled) return;
            if (res.statusCode !== 200) {
              readStatus(res, (status) => {
                const fallback = `pod watch: HTTP ${res.statusCode ?? 0} ${res.statusMessage ?? ''}`.trim();
                const err = statusError(status, fallback);
                finish(res.statusCode === 410 && !(err instanceof GoneError) ? new GoneError(err.message) : err);
              });
              return;
            }
            this.contact(); // the API server answered 200: the watch is open
            // Dead peers are found by TCP keep-alive probes; a live but silent one by the watchdog.
            req.socket?.setKeepAlive(true, TCP_KEEPALIVE_MS);
            lines = new WatchLines(res, this.opts.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES, onLine, onEnd, finish);
          },
        );
        request = req;
        req.on('timeout', () => req.destroy(new Error(`pod watch: no answer for ${timeoutMs} ms`)));
        req.on('error', (err) => {
          if (settled) return;
          if (!answered && attempt === 0 && req.reusedSocket && isReset(err)) {
            // An idle keep-alive connection the server closed as it was reused: the request never reached it.
            release();
            open(1).catch((e: unknown) => finish(asError(e)));
            return;
          }
          finish(err);
        });
        req.end();
      };
      open(0).catch((err: unknown) => finish(asError(err)));
    });
  }

  /** Applies one watch event; returns the error that ends the watch (an ERROR event), if any. */
  private watchEvent(type: unknown, obj: unknown): Error | undefined {
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
