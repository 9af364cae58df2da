/**
 * A list+watch cache of one resource (client-node's ListWatch), made fit for an admission webhook:
 * - objects are trimmed to what placement needs before they are cached (a full Node carries images and
 *   managedFields: tens of MB at 5k nodes);
 * - after a watch error it reconnects with exponential backoff (ListWatch alone stops after an error);
 * - it relists periodically, and every list reconciles deletions the watch may have missed;
 * - it tells whether it has synced and how long it has been disconnected, so callers can refuse to trust it;
 * - an object it cannot trim, or that a handler throws on, is reported and left out: no exception escapes a list,
 *   a watch callback or a timer.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

export interface InformerHandlers<T> {
  upsert(obj: T): void;
  remove(obj: T): void;
  /** After each complete list: the keys (`objectKey`) now present (everything else is gone). */
  listed(keys: ReadonlySet<string>): void;
  error(err: unknown, retryInMs: number): void;
  /**
   * An object that could not be trimmed or handled (a handler threw): it is left out, and the informer goes on.
   * Nothing the API server sends may stop the cache, let alone the process.
   */
  rejected(err: unknown, obj: unknown): void;
}

export interface InformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** API path of the collection, e.g. `/api/v1/nodes`. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly fieldSelector?: string;
  readonly trim: (obj: T) => T;
  readonly handlers: InformerHandlers<T>;
  /** A fresh list every this often (default 10 min). */
  readonly relistMs?: number;
  readonly backoff?: { initialMs: number; maxMs: number };
  readonly now?: () => number;
}

/** Watch that trims objects before ListWatch caches them, and reports when a connection is established. */
class TrimmingWatch<T extends KubernetesObject> extends Watch {
  constructor(
    config: KubeConfig,
    private readonly trim: (obj: T) => T | undefined,
    private readonly onContact: () => void,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    let failed = false;
    const controller = await super.watch(
      path,
      queryParams,
      (phase, obj, raw) => {
        this.onContact();
        if (phase !== 'ADDED' && phase !== 'MODIFIED' && phase !== 'DELETED') return callback(phase, obj, raw);
        const trimmed = this.trim(obj as T);
        if (trimmed !== undefined) callback(phase, trimmed, raw);
      },
      (err) => {
        if (err) failed = true;
        done(err);
      },
    );
    if (!failed) this.onContact();
    return controller;
  }
}

/** An object's key in a cache: `namespace/name` for namespaced objects, `name` otherwise. */
export function objectKey(o: KubernetesObject): string {
  const name = o.metadata?.name ?? '';
  return o.metadata?.namespace ? `${o.metadata.namespace}/${name}` : name;
}

/** Thrown into a ListWatch that a newer one replaced, so that it stops instead of opening a watch. */
class SupersededError extends Error {
  override readonly name = 'SupersededError';
  constructor() {
    super('replaced by a newer list');
  }
}

const isAbort = (err: unknown): boolean => err instanceof Error && err.name === 'AbortError';

export class Informer<T extends KubernetesObject> {
  private listWatch: ListWatch<T> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private relistTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private stopped = true;
  private syncedOnce = false;
  private disconnectedSince: number | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: InformerOptions<T>) {
    this.backoffMs = opts.backoff?.initialMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** True once a first complete list has been received. */
  get synced(): boolean {
    return this.syncedOnce;
  }

  /** Milliseconds since the connection to the API server was lost (0 when connected). */
  disconnectedMs(): number {
    return this.disconnectedSince === undefined ? 0 : this.now() - this.disconnectedSince;
  }

  start(): void {
    this.stopped = false;
    this.connect();
    const relistMs = this.opts.relistMs ?? 10 * 60_000;
    this.relistTimer = setInterval(() => this.relist(), relistMs);
    this.relistTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.relistTimer);
    await this.listWatch?.stop();
  }

  /** Trims an object, or reports it and returns undefined when it cannot be (a malformed object). */
  private trimSafely = (obj: T): T | undefined => {
    try {
      return this.opts.trim(obj);
    } catch (err) {
      this.opts.handlers.rejected(err, obj);
      return undefined;
    }
  };

  /** Runs a handler; an exception is reported with the object and goes no further. */
  private handle(fn: () => void, obj: unknown): void {
    try {
      fn();
    } catch (err) {
      this.opts.handlers.rejected(err, obj);
    }
  }

  private contact = (): void => {
    this.disconnectedSince = undefined;
    this.backoffMs = this.opts.backoff?.initialMs ?? 1000;
  };

  private connect(): void {
    const { opts } = this;
    // Only the newest ListWatch may touch the cache: one replaced by a relist while its list was in flight would
    // otherwise apply that list and open a watch nobody stops.
    const current = () => !this.stopped && this.listWatch === lw;
    const list = async () => {
      const result = await opts.list();
      if (!current()) throw new SupersededError();
      const items = (Array.isArray(result.items) ? result.items : []).map(this.trimSafely).filter((o): o is T => o !== undefined);
      this.contact();
      this.syncedOnce = true;
      this.handle(() => opts.handlers.listed(new Set(items.map(objectKey))), items.length);
      return { ...result, items };
    };
    const watch = new TrimmingWatch<T>(opts.kubeConfig, this.trimSafely, this.contact);
    const lw = new ListWatch<T>(opts.path, watch, list, false, undefined, opts.fieldSelector);
    lw.on('add', (o) => current() && this.handle(() => opts.handlers.upsert(o), o));
    lw.on('update', (o) => current() && this.handle(() => opts.handlers.upsert(o), o));
    lw.on('delete', (o) => current() && this.handle(() => opts.handlers.remove(o), o));
    // An aborted watch is never a failure: ListWatch aborts its own watch when it stops or restarts, and reports
    // that as an error. Retrying on it would restart the live watch, which aborts it again: a reconnect every backoff.
    lw.on('error', (err) => current() && !isAbort(err) && this.retry(err));
    this.listWatch = lw;
    lw.start().catch((err: unknown) => this.retry(err));
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    this.disconnectedSince ??= this.now();
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.backoff?.maxMs ?? 30_000);
    this.opts.handlers.error(err, delay);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.listWatch?.start().catch((e: unknown) => this.retry(e));
    }, delay);
    this.retryTimer.unref();
  }

  /** A fresh ListWatch lists everything again; `listed` then reconciles what the old one may have missed. */
  private relist(): void {
    if (this.stopped) return;
    const old = this.listWatch;
    this.connect();
    old?.stop().catch(() => undefined); // an old watch that fails to stop is of no interest any more
  }
}
