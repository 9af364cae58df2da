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
}

interface OpenWatch {
  readonly path: string;
  readonly name: string | undefined;
  readonly res: ServerResponse;
}

export interface RequestCounts {
  lists: number;
  watches: number;
  /** Requests answered 503 because the server was down. */
  refused: number;
  /** Single-object GETs (a namespace by name). */
  gets: number;
}

export interface FakeApiServerOptions {
  /** Events kept for resuming watches (default: all). A watch from before the oldest kept one gets a 410. */
  readonly retainEvents?: number;
}

const COLLECTION = /^\/api\/v1\/(?:nodes|namespaces|namespaces\/([^/]+)\/configmaps)$/;

const KINDS: Readonly<Record<string, string>> = { nodes: 'Node', namespaces: 'Namespace', configmaps: 'ConfigMap' };

/** `/apis/karpenter.sh/v1/nodepools` → its group, version and plural. */
const CUSTOM_COLLECTION = /^\/apis\/([^/]+)\/([^/]+)\/([^/]+)$/;

/** A collection of an API group the fake serves besides the core one (a CRD). */
export interface CustomResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
}

function status(res: ServerResponse, code: number, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code }));
}

export class FakeApiServer {
  private readonly server: Server;
  private readonly objects = new Map<string, Map<string, KubernetesObject>>();
  private events: StoredEvent[] = [];
  /** The oldest resourceVersion a watch can resume from. */
  private oldestResumable = 0;
  private rv = 0;
  private isDown = false;
  /** LIST answers are sent this late (their content is taken when the request arrives). */
  listDelayMs = 0;
  private readonly watches = new Set<OpenWatch>();
  private readonly counts = new Map<string, RequestCounts>();
  /** Custom collections served now, by path. */
  private readonly custom = new Map<string, CustomResource>();

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

  /** Creates or replaces `obj` (by `metadata.name`) in the collection at `path`, and notifies watchers. */
  upsert(path: string, obj: KubernetesObject, { event = true }: { event?: boolean } = {}): KubernetesObject {
    const kind = this.kindOf(path);
    const name = obj.metadata?.name;
    if (!name) throw new Error('upsert: metadata.name is required');
    const namespace = COLLECTION.exec(path)?.[1] ?? obj.metadata?.namespace;
    const items = this.collection(path);
    const type: EventType = items.has(name) ? 'MODIFIED' : 'ADDED';
    const rv = ++this.rv;
    const stored: KubernetesObject = structuredClone({
      ...obj,
      apiVersion: this.apiVersionOf(path),
      kind,
      metadata: { ...obj.metadata, name, ...(namespace ? { namespace } : {}), resourceVersion: String(rv) },
    });
    items.set(name, stored);
    if (event) this.record({ rv, path, type, object: stored });
    return stored;
  }

  /**
   * Deletes `name` from the collection at `path`, and notifies watchers. With `{ event: false }` no watch ever hears
   * of it (as if the event were lost): only a new list shows that it is gone.
   */
  remove(path: string, name: string, { event = true }: { event?: boolean } = {}): void {
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
      c = { lists: 0, watches: 0, refused: 0, gets: 0 };
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
      if (w.path === event.path && (w.name === undefined || w.name === event.object.metadata?.name)) send(w.res, event.type, event.object);
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
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
    const served = COLLECTION.test(path) || (CUSTOM_COLLECTION.test(path) && this.custom.has(path));
    if (req.method !== 'GET' || !served) return status(res, 404, `${req.method} ${path} is not served`);
    const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const counts = this.countsOf(path);
    if (watching) counts.watches++;
    else counts.lists++;
    if (this.isDown) {
      counts.refused++;
      return status(res, 503, 'the fake API server is down');
    }

    let name: string | undefined;
    const selector = url.searchParams.get('fieldSelector');
    if (selector) {
      const m = /^metadata\.name=([^,]+)$/.exec(selector);
      if (!m) return status(res, 400, `unsupported field selector "${selector}"`);
      name = m[1];
    }
    const items = [...this.collection(path).values()].filter((o) => name === undefined || o.metadata?.name === name);

    if (!watching) {
      const body = JSON.stringify({ kind: `${this.kindOf(path)}List`, apiVersion: this.apiVersionOf(path), metadata: { resourceVersion: String(this.rv) }, items });
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      };
      if (this.listDelayMs > 0) setTimeout(answer, this.listDelayMs);
      else answer();
      return;
    }

    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const from = url.searchParams.get('resourceVersion');
    if (from === null || from === '' || from === '0') {
      for (const o of items) send(res, 'ADDED', o);
    } else {
      const since = Number(from);
      if (!Number.isInteger(since) || since < this.oldestResumable) {
        send(res, 'ERROR', {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'Expired',
          message: `too old resource version: ${from} (${this.oldestResumable})`,
          code: 410,
        });
        res.end();
        return;
      }
      for (const e of this.events) {
        if (e.rv > since && e.path === path && (name === undefined || e.object.metadata?.name === name)) send(res, e.type, e.object);
      }
    }
    const watch: OpenWatch = { path, name, res };
    this.watches.add(watch);
    res.on('close', () => this.watches.delete(watch));
  }
}

function send(res: ServerResponse, type: EventType | 'ERROR', object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}
