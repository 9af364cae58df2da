/**
 * A small fake Kubernetes API server over plain HTTP on 127.0.0.1, enough for list+watch clients:
 *
 * - collections `/api/v1/nodes`, `/api/v1/namespaces` and `/api/v1/namespaces/{ns}/configmaps`;
 * - LIST answers `{kind: 'NodeList', apiVersion: 'v1', metadata: {resourceVersion}, items}`; the only field selector
 *   understood is `metadata.name=X` (anything else is a 400, so a client sending an unexpected one fails loudly);
 * - `?watch=true&resourceVersion=N` streams newline-delimited `{type, object}` events after N, then every new change;
 *   a watch from a version older than the retained history gets `ERROR` with a 410 Status and is closed, as the real
 *   API server does after etcd compaction. Without a resourceVersion (or with "0") it starts with an ADDED event per
 *   object, like the real one.
 *
 * Resource versions are one counter for the whole server (as etcd's revision is). Test controls: `upsert`, `remove`,
 * `compact` (forget the history, forcing a 410 on the next resumed watch), `down`/`up` (watches dropped, then 503 for
 * every request), `closeWatches` (a clean close, as the server's watch timeout does), `listDelayMs` (slow lists)
 * and request counters.
 *
 * Pods, for cluster-wide pod caches:
 * - `/api/v1/pods` is the cluster-wide pod collection. Its objects carry their namespace (`default` when absent) and
 *   are keyed `namespace/name`: `remove(PODS, 'team-a/web-1')`. Its field selectors are the API server's for pods:
 *   `metadata.name`, `metadata.namespace`, `spec.nodeName` and `status.phase` with `=`, `==` or `!=`, joined by
 *   commas. A watch with a selector sees an object that stops matching as DELETED (with the new object) and one that
 *   starts matching as ADDED, as the API server's watch cache does.
 * - Paging, on every collection: `limit=N` answers the first N objects and a `continue` token; a request with that
 *   token answers the next N from the same snapshot (the store as it was at the first page, whose resourceVersion
 *   every page carries). `expireContinueTokens()` makes every outstanding token answer `410 Expired`, as the API
 *   server does once etcd has compacted the snapshot's revision; `beforeList` runs as each list page arrives (to
 *   expire tokens or change objects mid-list). Without `limit`, lists are whole, as before.
 * - `load(path, objects)` stores many objects at once (20,000 realistic pods in a few seconds), as if they had
 *   existed before any watch: no events. Each is kept as its JSON bytes (what lists answer) and a summary (metadata,
 *   `spec.nodeName`, `status.phase`: what selectors read and what watches see of it afterwards), so that a big
 *   store costs the heap, the garbage collector and the event loop the fake shares with the client under test
 *   little.
 * - Watches: `allowWatchBookmarks=true` watches get a BOOKMARK with the current resourceVersion on `bookmark()`;
 *   `expireWatches()` sends every open watch an `ERROR` event with a 410 Status and closes it (a watch the server
 *   can no longer serve); `sendRaw` sends an event as it is, and `plant` puts an item as it is into lists
 *   (malformed objects).
 * - Namespaced objects that clients write (`serveWritable`: Leases, PolicyReports): GET, POST, PUT and DELETE of
 *   `/apis/GROUP/VERSION/namespaces/NS/PLURAL[/NAME]`, lists of that and of the cluster-wide `/apis/GROUP/VERSION/PLURAL`
 *   (an equality `labelSelector` is understood). A PUT whose `metadata.resourceVersion` is not the stored one is a
 *   409 Conflict, a POST of an existing name a 409 AlreadyExists, as the API server answers. No watches. `down()`
 *   and `refuse(clusterPath)` apply; `writes(clusterPath)` counts requests by verb; `stored(clusterPath)` the objects.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface StoredEvent {
  readonly rv: number;
  readonly path: string;
  readonly type: EventType;
  readonly object: KubernetesObject;
  /** MODIFIED: the object before the change (a selector may have matched it and not the new one, or the reverse). */
  readonly previous?: KubernetesObject;
}

/** Which objects a request selects (its field selector). */
type Matcher = (o: KubernetesObject) => boolean;

interface OpenWatch {
  readonly path: string;
  readonly matches: Matcher;
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
}

/** A paged list being served: the snapshot taken at its first page. */
interface Continuation {
  readonly path: string;
  readonly rv: number;
  readonly items: readonly unknown[];
}

/** A list page request, as `beforeList` sees it. */
export interface ListRequest {
  readonly path: string;
  /** 1 for a first page, 2 for the page after it, and so on. */
  readonly page: number;
}

export interface RequestCounts {
  lists: number;
  watches: number;
  /** Requests answered 503 because the server was down. */
  refused: number;
  /** Single-object GETs (a namespace by name). */
  gets: number;
  /** List requests with a `continue` token (pages after the first; they are counted in `lists` too). */
  continued: number;
}

/** Requests on a writable resource (`serveWritable`), by verb. */
export interface WriteCounts {
  get: number;
  list: number;
  create: number;
  update: number;
  delete: number;
}

export interface FakeApiServerOptions {
  /** Events kept for resuming watches (default: all). A watch from before the oldest kept one gets a 410. */
  readonly retainEvents?: number;
}

const COLLECTION = /^\/api\/v1\/(?:nodes|namespaces|namespaces\/([^/]+)\/configmaps)$/;

const KINDS: Readonly<Record<string, string>> = { nodes: 'Node', namespaces: 'Namespace', configmaps: 'ConfigMap' };

/** The cluster-wide pod collection. */
export const PODS = '/api/v1/pods';

/** Cluster-wide collections of namespaced objects, keyed `namespace/name`, and their kinds. */
const NAMESPACED: ReadonlyMap<string, string> = new Map([[PODS, 'Pod']]);

/** Fields a pod field selector may name, and how to read them. */
const POD_FIELDS: Readonly<Record<string, (o: KubernetesObject) => unknown>> = {
  'metadata.name': (o) => o.metadata?.name,
  'metadata.namespace': (o) => o.metadata?.namespace,
  'spec.nodeName': (o) => field(o, 'spec', 'nodeName'),
  'status.phase': (o) => field(o, 'status', 'phase'),
};

/** Outstanding continue tokens kept at most (the oldest are forgotten, and answer 410). */
const MAX_CONTINUATIONS = 64;

function field(o: unknown, ...path: string[]): unknown {
  let v = o;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** `a=x,b!=y` over `fields`; a string is the reason it cannot be parsed. */
function parseFieldSelector(text: string, fields: Readonly<Record<string, (o: KubernetesObject) => unknown>>): Matcher | string {
  const tests: Matcher[] = [];
  for (const part of text.split(',')) {
    const m = /^([^=!]+)(!=|==|=)(.*)$/.exec(part);
    if (!m) return `invalid field selector "${text}"`;
    const [, name = '', op, value = ''] = m;
    const read = fields[name];
    if (!read) return `field label not supported: ${name}`;
    // An absent field reads as empty, as the API server's field sets hold every supported field.
    const str = (o: KubernetesObject) => {
      const v = read(o);
      return typeof v === 'string' ? v : '';
    };
    tests.push(op === '!=' ? (o) => str(o) !== value : (o) => str(o) === value);
  }
  return (o) => tests.every((t) => t(o));
}

/** `/apis/karpenter.sh/v1/nodepools` → its group, version and plural. */
const CUSTOM_COLLECTION = /^\/apis\/([^/]+)\/([^/]+)\/([^/]+)$/;

/** A collection of an API group the fake serves besides the core one (a CRD). */
export interface CustomResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
}

function status(res: ServerResponse, code: number, message: string, reason?: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, ...(reason ? { reason } : {}), code }));
}

export class FakeApiServer {
  private readonly server: Server;
  private readonly objects = new Map<string, Map<string, KubernetesObject>>();
  private events: StoredEvent[] = [];
  /** The oldest resourceVersion a watch can resume from. */
  private oldestResumable = 0;
  private rv = 0;
  private isDown = false;
  /** Collections answered 503 while the rest is served (`refuse`). */
  private readonly refused = new Set<string>();
  /** LIST answers are sent this late (their content is taken when the request arrives). */
  listDelayMs = 0;
  private readonly watches = new Set<OpenWatch>();
  private readonly counts = new Map<string, RequestCounts>();
  /** Custom collections served now, by path. */
  private readonly custom = new Map<string, CustomResource>();
  /** Objects' JSON, serialized once (at `load`, or at the first list that answers them). */
  private readonly serialized = new WeakMap<object, Buffer>();
  private readonly continuations = new Map<number, Continuation>();
  private nextContinuation = 1;
  /** Items lists answer as they are (`plant`), by path. */
  private readonly planted = new Map<string, unknown[]>();
  /** Runs as each list page request arrives, before it is answered. */
  beforeList: ((request: ListRequest) => void) | undefined;
  /** Writable namespaced resources (`serveWritable`) by cluster-wide path, their objects and request counts. */
  private readonly writable = new Map<string, CustomResource>();
  private readonly writableObjects = new Map<string, Map<string, KubernetesObject>>();
  private readonly writeCounts = new Map<string, WriteCounts>();

  private constructor(private readonly opts: FakeApiServerOptions) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const fake = new FakeApiServer(opts);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** A KubeConfig whose current context is this server (no credentials). */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
      currentContext: 'c',
    });
    return kc;
  }

  /**
   * Serves a custom resource (as if its CRD were installed): listed in `/apis` discovery, its collection at
   * `/apis/GROUP/VERSION/PLURAL` (cluster-wide). Returns that path.
   */
  serve(resource: CustomResource): string {
    const path = `/apis/${resource.group}/${resource.version}/${resource.plural}`;
    this.custom.set(path, resource);
    return path;
  }

  /** Stops serving every version of `group` (its CRD removed): gone from discovery, open watches cut, 404 after. */
  unserve(group: string): void {
    for (const [path, r] of this.custom) {
      if (r.group !== group) continue;
      this.custom.delete(path);
      this.objects.delete(path);
      for (const w of this.watches) {
        if (w.path === path) {
          w.res.end();
          this.watches.delete(w);
        }
      }
    }
  }

  /** `Node` for `/api/v1/nodes`, a custom resource's kind for its path. */
  private kindOf(path: string): string {
    const custom = this.custom.get(path);
    if (custom) return custom.kind;
    const namespaced = NAMESPACED.get(path);
    if (namespaced) return namespaced;
    const last = path.slice(path.lastIndexOf('/') + 1);
    const kind = KINDS[last];
    if (kind === undefined || !COLLECTION.test(path)) throw new Error(`not a collection served by the fake API server: ${path}`);
    return kind;
  }

  private apiVersionOf(path: string): string {
    const custom = this.custom.get(path);
    return custom ? `${custom.group}/${custom.version}` : 'v1';
  }

  /** The current resourceVersion of the whole store. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** Watches open now, on `path` or on any collection. */
  openWatches(path?: string): number {
    return [...this.watches].filter((w) => path === undefined || w.path === path).length;
  }

  /** Requests seen on `path` so far (a live object: read it again after waiting). */
  requests(path: string): Readonly<RequestCounts> {
    return this.countsOf(path);
  }

  /**
   * Creates or replaces `obj` (by `metadata.name`; by `namespace/name` in `/api/v1/pods`) in the collection at
   * `path`, and notifies watchers.
   */
  upsert(path: string, obj: KubernetesObject, { event = true }: { event?: boolean } = {}): KubernetesObject {
    const kind = this.kindOf(path);
    const name = obj.metadata?.name;
    if (!name) throw new Error('upsert: metadata.name is required');
    const namespace = COLLECTION.exec(path)?.[1] ?? obj.metadata?.namespace ?? (NAMESPACED.has(path) ? 'default' : undefined);
    const key = NAMESPACED.has(path) ? `${namespace}/${name}` : name;
    const items = this.collection(path);
    const previous = items.get(key);
    const type: EventType = previous ? 'MODIFIED' : 'ADDED';
    const rv = ++this.rv;
    const stored: KubernetesObject = structuredClone({
      ...obj,
      apiVersion: this.apiVersionOf(path),
      kind,
      metadata: { ...obj.metadata, name, ...(namespace ? { namespace } : {}), resourceVersion: String(rv) },
    });
    items.set(key, stored);
    if (event) this.record({ rv, path, type, object: stored, ...(previous ? { previous } : {}) });
    return stored;
  }

  /**
   * Stores many objects at once, as if they had existed before any watch (no events): for big lists. Lists answer
   * each object whole (with kind, apiVersion, namespace and a resourceVersion); what is kept of it otherwise, and
   * what watches see of it once it changes, is its summary: metadata (name, namespace, resourceVersion, labels),
   * `spec.nodeName` and `status.phase`. The objects are not changed.
   */
  load(path: string, objects: Iterable<KubernetesObject>): void {
    const kind = this.kindOf(path);
    const apiVersion = this.apiVersionOf(path);
    const namespaced = NAMESPACED.has(path);
    const items = this.collection(path);
    for (const obj of objects) {
      const metadata = obj.metadata ?? {};
      const name = metadata.name;
      if (!name) throw new Error('load: metadata.name is required');
      const namespace = COLLECTION.exec(path)?.[1] ?? metadata.namespace ?? (namespaced ? 'default' : undefined);
      const stored = { ...obj, apiVersion, kind, metadata: { ...metadata, ...(namespace ? { namespace } : {}), resourceVersion: String(++this.rv) } };
      const nodeName = field(obj, 'spec', 'nodeName');
      const phase = field(obj, 'status', 'phase');
      const summary: KubernetesObject = {
        apiVersion,
        kind,
        metadata: {
          name,
          ...(namespace ? { namespace } : {}),
          resourceVersion: stored.metadata.resourceVersion,
          ...(metadata.labels ? { labels: { ...metadata.labels } } : {}),
        },
        ...(typeof nodeName === 'string' ? { spec: { nodeName } } : {}),
        ...(typeof phase === 'string' ? { status: { phase } } : {}),
      };
      items.set(namespaced ? `${namespace}/${name}` : name, summary);
      this.serialized.set(summary, Buffer.from(JSON.stringify(stored)));
    }
  }

  /** An item that lists of `path` answer as it is, whatever it is (a malformed object); watches never see it. */
  plant(path: string, item: unknown): void {
    this.kindOf(path);
    const items = this.planted.get(path) ?? [];
    items.push(item);
    this.planted.set(path, items);
  }

  /** Sends an event as it is to every open watch of `path` (not stored: resumed watches never see it again). */
  sendRaw(path: string, type: string, object: unknown): void {
    for (const w of this.watches) if (w.path === path) w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** Sends a BOOKMARK with the current resourceVersion to every open watch of `path` that asked for bookmarks. */
  bookmark(path: string): void {
    for (const w of this.watches) {
      if (w.path === path && w.bookmarks)
        send(w.res, 'BOOKMARK', { kind: this.kindOf(path), apiVersion: this.apiVersionOf(path), metadata: { resourceVersion: String(this.rv) } });
    }
  }

  /** Every open watch (of `path`) gets an ERROR event with a 410 Status and is closed: its client must relist. */
  expireWatches(path?: string): void {
    for (const w of this.watches) {
      if (path !== undefined && w.path !== path) continue;
      send(w.res, 'ERROR', gone(`too old resource version: the watch can no longer be served`));
      w.res.end();
      this.watches.delete(w);
    }
  }

  /** Every continue token handed out so far answers `410 Expired` from now on. */
  expireContinueTokens(): void {
    this.continuations.clear();
  }

  /**
   * Deletes `name` from the collection at `path`, and notifies watchers. With `{ event: false }` no watch ever hears
   * of it (as if the event were lost): only a new list shows that it is gone. In `/api/v1/pods`, `name` is
   * `namespace/name`.
   */
  remove(path: string, name: string, { event = true }: { event?: boolean } = {}): void {
    if (NAMESPACED.has(path) && !name.includes('/')) throw new Error(`remove: objects of ${path} are keyed namespace/name, not "${name}"`);
    const items = this.collection(path);
    const old = items.get(name);
    if (!old) throw new Error(`remove: ${path}/${name} does not exist`);
    items.delete(name);
    const rv = ++this.rv;
    if (!event) return;
    this.record({ rv, path, type: 'DELETED', object: structuredClone({ ...old, metadata: { ...old.metadata, resourceVersion: String(rv) } }) });
  }

  /** Forgets every event so far: a watch resumed from any earlier version now gets a 410 and must relist. */
  compact(): void {
    this.events = [];
    this.oldestResumable = this.rv;
  }

  /** The API server goes away: open watches are cut (connection reset) and every request gets a 503 until `up()`. */
  down(): void {
    this.isDown = true;
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
  }

  up(): void {
    this.isDown = false;
  }

  /** One collection's list and watch requests get a 503 (its open watches are cut) until `accept(path)`. */
  refuse(path: string): void {
    this.refused.add(path);
    for (const w of this.watches) {
      if (w.path !== path) continue;
      w.res.destroy();
      this.watches.delete(w);
    }
  }

  accept(path: string): void {
    this.refused.delete(path);
  }

  /** Ends every open watch cleanly, as the API server does when a watch reaches its timeout. */
  closeWatches(): void {
    for (const w of this.watches) w.res.end();
    this.watches.clear();
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private collection(path: string): Map<string, KubernetesObject> {
    let items = this.objects.get(path);
    if (!items) {
      items = new Map();
      this.objects.set(path, items);
    }
    return items;
  }

  private countsOf(path: string): RequestCounts {
    let c = this.counts.get(path);
    if (!c) {
      c = { lists: 0, watches: 0, refused: 0, gets: 0, continued: 0 };
      this.counts.set(path, c);
    }
    return c;
  }

  private record(event: StoredEvent): void {
    this.events.push(event);
    const keep = this.opts.retainEvents;
    if (keep !== undefined && this.events.length > keep) {
      const dropped = this.events.splice(0, this.events.length - keep);
      const last = dropped[dropped.length - 1];
      if (last) this.oldestResumable = last.rv;
    }
    for (const w of this.watches) {
      if (w.path !== event.path) continue;
      const seen = seenAs(w.matches, event);
      if (seen) send(w.res, seen, event.object);
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    if (this.handleWritable(req, res, url)) return;
    const single = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && single) {
      this.countsOf('/api/v1/namespaces').gets++;
      if (this.isDown) return status(res, 503, 'the fake API server is down');
      const ns = this.collection('/api/v1/namespaces').get(decodeURIComponent(single[1] ?? ''));
      if (!ns) return status(res, 404, `namespaces "${single[1]}" not found`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ns));
      return;
    }
    if (req.method === 'GET' && path === '/apis') {
      this.countsOf('/apis').gets++;
      if (this.isDown) return status(res, 503, 'the fake API server is down');
      const groups = new Map<string, string[]>();
      for (const r of this.custom.values()) groups.set(r.group, [...new Set([...(groups.get(r.group) ?? []), r.version])]);
      const list = {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...groups].map(([name, versions]) => ({
          name,
          versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
          preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
        })),
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(list));
      return;
    }
    const served = COLLECTION.test(path) || NAMESPACED.has(path) || (CUSTOM_COLLECTION.test(path) && this.custom.has(path));
    if (req.method !== 'GET' || !served) return status(res, 404, `${req.method} ${path} is not served`);
    const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const counts = this.countsOf(path);
    if (watching) counts.watches++;
    else counts.lists++;
    if (this.isDown || this.refused.has(path)) {
      counts.refused++;
      return status(res, 503, 'the fake API server is down');
    }

    let matches: Matcher = () => true;
    const selector = url.searchParams.get('fieldSelector');
    if (selector && NAMESPACED.has(path)) {
      const parsed = parseFieldSelector(selector, POD_FIELDS);
      if (typeof parsed === 'string') return status(res, 400, parsed);
      matches = parsed;
    } else if (selector) {
      const m = /^metadata\.name=([^,]+)$/.exec(selector);
      if (!m) return status(res, 400, `unsupported field selector "${selector}"`);
      const name = m[1];
      matches = (o) => o.metadata?.name === name;
    }

    if (!watching) return this.list(path, url, matches, counts, res);

    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const from = url.searchParams.get('resourceVersion');
    if (from === null || from === '' || from === '0') {
      for (const o of this.collection(path).values()) if (matches(o)) send(res, 'ADDED', o);
    } else {
      const since = Number(from);
      if (!Number.isInteger(since) || since < this.oldestResumable) {
        send(res, 'ERROR', gone(`too old resource version: ${from} (${this.oldestResumable})`));
        res.end();
        return;
      }
      for (const e of this.events) {
        if (e.rv <= since || e.path !== path) continue;
        const seen = seenAs(matches, e);
        if (seen) send(res, seen, e.object);
      }
    }
    const bookmarks = url.searchParams.get('allowWatchBookmarks') === 'true';
    const watch: OpenWatch = { path, matches, bookmarks, res };
    this.watches.add(watch);
    res.on('close', () => this.watches.delete(watch));
  }

  /** Answers a list request: whole, or one page of a snapshot (`limit`, `continue`). */
  private list(path: string, url: URL, matches: Matcher, counts: RequestCounts, res: ServerResponse): void {
    const limitText = url.searchParams.get('limit');
    const limit = limitText === null ? 0 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) return status(res, 400, `invalid limit "${limitText}"`);
    const token = url.searchParams.get('continue');
    let id: number | undefined;
    let offset = 0;
    let page = 1;
    if (token) {
      counts.continued++;
      const rv = url.searchParams.get('resourceVersion');
      if (rv !== null && rv !== '') return status(res, 400, 'specifying resource version is not allowed when using continue');
      const decoded = decodeContinue(token);
      if (!decoded) return status(res, 400, `continue key is not valid: "${token}"`);
      ({ id, offset, page } = decoded);
    }
    // The hook may expire tokens or change objects: what it does is seen by this very request.
    this.beforeList?.({ path, page });
    let snapshot: Continuation;
    if (id === undefined) {
      const items: unknown[] = [...this.collection(path).values()].filter(matches);
      items.push(...(this.planted.get(path) ?? []));
      snapshot = { path, rv: this.rv, items };
    } else {
      const found = this.continuations.get(id);
      if (!found) {
        return status(
          res,
          410,
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
          'Expired',
        );
      }
      if (found.path !== path) return status(res, 400, `continue key is not valid: it belongs to ${found.path}`);
      snapshot = found;
    }
    const end = limit > 0 ? Math.min(offset + limit, snapshot.items.length) : snapshot.items.length;
    const pageItems = snapshot.items.slice(offset, end);
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.rv) };
    if (end < snapshot.items.length) {
      if (id === undefined) {
        id = this.nextContinuation++;
        this.continuations.set(id, snapshot);
        for (const old of this.continuations.keys()) {
          if (this.continuations.size <= MAX_CONTINUATIONS) break;
          this.continuations.delete(old);
        }
      }
      metadata['continue'] = encodeContinue(id, end, page + 1);
      metadata['remainingItemCount'] = snapshot.items.length - end;
    } else if (id !== undefined) {
      this.continuations.delete(id);
    }
    const head = JSON.stringify({ kind: `${this.kindOf(path)}List`, apiVersion: this.apiVersionOf(path), metadata });
    const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)},"items":[`)];
    const comma = Buffer.from(',');
    pageItems.forEach((o, i) => {
      if (i > 0) parts.push(comma);
      parts.push(this.toJson(o));
    });
    parts.push(Buffer.from(']}'));
    const body = Buffer.concat(parts);
    const answer = () => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (this.listDelayMs > 0) setTimeout(answer, this.listDelayMs);
    else answer();
  }

  /** JSON of an item, serialized once per stored object (stored objects are replaced, never changed). */
  private toJson(o: unknown): Buffer {
    if (o === null || typeof o !== 'object') return Buffer.from(JSON.stringify(o) ?? 'null');
    let json = this.serialized.get(o);
    if (json === undefined) {
      json = Buffer.from(JSON.stringify(o));
      this.serialized.set(o, json);
    }
    return json;
  }

  /**
   * Serves a namespaced resource that clients write (see the module header); listed in `/apis` discovery. Returns
   * the cluster-wide path `/apis/GROUP/VERSION/PLURAL`, which names it in `writes`, `stored`, `refuse` and `unserve`.
   */
  serveWritable(resource: CustomResource): string {
    const path = this.serve(resource);
    this.writable.set(path, resource);
    return path;
  }

  /** Requests on a writable resource so far, by verb (a live object). */
  writes(path: string): Readonly<WriteCounts> {
    let c = this.writeCounts.get(path);
    if (!c) {
      c = { get: 0, list: 0, create: 0, update: 0, delete: 0 };
      this.writeCounts.set(path, c);
    }
    return c;
  }

  /** The objects of a writable resource, by `namespace/name`. */
  stored(path: string): ReadonlyMap<string, KubernetesObject> {
    return this.writableObjects.get(path) ?? new Map();
  }

  /** Stores `obj` (namespaced, by `metadata.namespace/name`) in a writable resource, as another client's write would. */
  putWritable(path: string, obj: KubernetesObject): KubernetesObject {
    const resource = this.writable.get(path);
    const name = obj.metadata?.name;
    const namespace = obj.metadata?.namespace;
    if (!resource || !name || !namespace) throw new Error(`putWritable: ${path} is not writable, or the object has no namespace/name`);
    const items = this.writableObjects.get(path) ?? new Map<string, KubernetesObject>();
    this.writableObjects.set(path, items);
    const stored = structuredClone({
      ...obj,
      apiVersion: `${resource.group}/${resource.version}`,
      kind: resource.kind,
      metadata: { ...obj.metadata, resourceVersion: String(++this.rv) },
    });
    items.set(`${namespace}/${name}`, stored);
    return stored;
  }

  /** Answers a request on a writable resource; false when `url` is not one. */
  private handleWritable(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const m = /^\/apis\/([^/]+)\/([^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return false;
    const [, group, version, ns, plural, name] = m;
    const path = `/apis/${group}/${version}/${plural}`;
    const resource = this.writable.get(path);
    if (!resource) return false;
    if (!this.custom.has(path)) {
      // Unserved (its CRD removed): its objects are gone with it, and the request is a 404.
      this.writableObjects.delete(path);
      return false;
    }
    if (name !== undefined && ns === undefined) return false;
    const namespace = ns === undefined ? undefined : decodeURIComponent(ns);
    const items = this.writableObjects.get(path) ?? new Map<string, KubernetesObject>();
    this.writableObjects.set(path, items);
    const counts = this.writes(path) as WriteCounts;
    const answer = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const method = req.method ?? 'GET';
    const verb =
      method === 'GET'
        ? name === undefined
          ? 'list'
          : 'get'
        : method === 'POST'
          ? 'create'
          : method === 'PUT'
            ? 'update'
            : method === 'DELETE'
              ? 'delete'
              : undefined;
    if (verb === undefined) {
      status(res, 405, `${method} is not supported`);
      return true;
    }
    counts[verb]++;
    if (this.isDown || this.refused.has(path)) {
      status(res, 503, 'the fake API server is down');
      return true;
    }
    const what = `${resource.plural}.${resource.group} "${name ?? ''}"`;
    const key = `${namespace ?? ''}/${name ?? ''}`;
    if (verb === 'list') {
      const selector = url.searchParams.get('labelSelector');
      const wanted = selector ? selector.split(',').map((t) => t.split('=') as [string, string]) : [];
      const list = [...items.values()].filter(
        (o) => (namespace === undefined || o.metadata?.namespace === namespace) && wanted.every(([k, v]) => o.metadata?.labels?.[k] === v),
      );
      answer(200, {
        apiVersion: `${resource.group}/${resource.version}`,
        kind: `${resource.kind}List`,
        metadata: { resourceVersion: String(this.rv) },
        items: list,
      });
      return true;
    }
    if (verb === 'get' || verb === 'delete') {
      const found = items.get(key);
      if (!found) status(res, 404, `${what} not found`, 'NotFound');
      else {
        if (verb === 'delete') items.delete(key);
        answer(200, verb === 'get' ? found : { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      }
      return true;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: KubernetesObject;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubernetesObject;
      } catch {
        return status(res, 400, 'the body is not JSON');
      }
      const bodyName = body.metadata?.name;
      const objectKey = `${namespace ?? ''}/${verb === 'create' ? (bodyName ?? '') : (name ?? '')}`;
      if (!bodyName || (verb === 'update' && bodyName !== name))
        return status(res, 400, 'metadata.name is missing or does not match the URL', 'BadRequest');
      const existing = items.get(objectKey);
      if (verb === 'create' && existing)
        return status(res, 409, `${resource.plural}.${resource.group} "${bodyName}" already exists`, 'AlreadyExists');
      if (verb === 'update' && !existing) return status(res, 404, `${what} not found`, 'NotFound');
      if (
        verb === 'update' &&
        body.metadata?.resourceVersion !== undefined &&
        body.metadata.resourceVersion !== existing?.metadata?.resourceVersion
      ) {
        return status(
          res,
          409,
          `Operation cannot be fulfilled on ${resource.plural}.${resource.group} "${bodyName}": the object has been modified; please apply your changes to the latest version and try again`,
          'Conflict',
        );
      }
      const stored: KubernetesObject = {
        ...body,
        apiVersion: `${resource.group}/${resource.version}`,
        kind: resource.kind,
        metadata: { ...body.metadata, name: bodyName, ...(namespace ? { namespace } : {}), resourceVersion: String(++this.rv) },
      };
      items.set(objectKey, stored);
      answer(verb === 'create' ? 201 : 200, stored);
    });
    return true;
  }
}

/** How a watch with selector `matches` sees a stored event, if at all. */
function seenAs(matches: Matcher, e: StoredEvent): EventType | undefined {
  const now = matches(e.object);
  if (e.type !== 'MODIFIED' || e.previous === undefined) return now ? e.type : undefined;
  const before = matches(e.previous);
  if (before && now) return 'MODIFIED';
  if (now) return 'ADDED';
  return before ? 'DELETED' : undefined;
}

function encodeContinue(id: number, offset: number, page: number): string {
  return Buffer.from(JSON.stringify({ v: 'fake/v1', id, offset, page })).toString('base64url');
}

function decodeContinue(token: string): { id: number; offset: number; page: number } | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    const [id, offset, page] = [field(v, 'id'), field(v, 'offset'), field(v, 'page')];
    return typeof id === 'number' && typeof offset === 'number' && typeof page === 'number' ? { id, offset, page } : undefined;
  } catch {
    return undefined;
  }
}

function gone(message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', message, code: 410 };
}

function send(res: ServerResponse, type: EventType | 'ERROR' | 'BOOKMARK', object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}
