/**
 * Leader election on a `coordination.k8s.io/v1` Lease, so that one replica of many does the work only one may do
 * (writing audit reports). It follows client-go's `tools/leaderelection` (`LeaderElector.tryAcquireOrRenew`,
 * `acquire`, `renew` and `release` in leaderelection.go); `@kubernetes/client-node` 1.4 ships no leader election.
 *
 * - Every `retryPeriod` (jittered by up to 1.2×, as client-go's `JitterFactor`, while not leading) a candidate reads
 *   the Lease. Absent: it creates it, holding it. Held by another identity and not expired: it waits. Expired, empty
 *   (released) or its own: it writes itself as holder (an update carrying the resourceVersion it read, so that of
 *   two candidates only one wins; the other gets a 409 and tries again later).
 * - "Expired" is judged on the local clock, never on the holder's `renewTime`: the lease is valid until
 *   `leaseDurationSeconds` after this process last *saw the record change* (client-go's `observedTime`), which
 *   tolerates clock skew between replicas.
 * - The leader renews every `retryPeriod` with an update from the version it last wrote (one request; on a
 *   conflict it reads and tries again). It stops leading as soon as it sees another holder, and when it has not
 *   renewed for `renewDeadline`: earlier than any other candidate may take over (`leaseDuration` after it last saw a
 *   change), so that two leaders never write at once while clocks run at a similar rate.
 * - `stop()` releases a held Lease (holder emptied, duration 1 s: client-go's `ReleaseOnCancel`), so that another
 *   replica takes over within a retry period rather than a lease duration.
 * - Times are written as MicroTime (`2006-01-02T15:04:05.000000Z`, six fractional digits: the API server refuses
 *   the three of `Date#toISOString`). The Lease is read and written as plain JSON for that reason.
 * - No request, failure or timer throws: a failed request is logged, and leadership is judged at each call of
 *   `isLeader()` (a request that hangs cannot keep a stale leader writing).
 *
 * API cost: a candidate makes one GET per retry period (2 s); the leader one PUT per retry period.
 * RBAC: `get`, `create`, `update` on `leases` in the Lease's namespace.
 */
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isObject } from '../util/json.js';

/** client-go's defaults (`DefaultLeaseDuration`, `DefaultRenewDeadline`, `DefaultRetryPeriod`). */
export const LEASE_DURATION_MS = 15_000;
export const RENEW_DEADLINE_MS = 10_000;
export const RETRY_PERIOD_MS = 2_000;
/** client-go's `JitterFactor`: an acquire attempt waits between 1 and 2.2 retry periods. */
const JITTER_FACTOR = 1.2;

const GROUP = 'coordination.k8s.io';
const VERSION = 'v1';
const PLURAL = 'leases';
const FIELD_MANAGER = 'placement-webhook';

export interface LeaderElectorOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** The Lease's name. */
  readonly name: string;
  /** This candidate's identity, written as `holderIdentity` (the pod's name). */
  readonly identity: string;
  readonly logger: Logger;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Called when this candidate starts / stops leading (never throws out: errors are logged). */
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  /** A monotonic clock in milliseconds (default `performance.now`); wall-clock stamps come from `Date.now`. */
  readonly now?: () => number;
}

/** What a Lease says about its holder (`spec`). */
interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions: number;
}

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  spec: LeaseRecord;
}

/** A Date as a MicroTime: RFC 3339 with exactly six fractional digits, UTC. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The record of a Lease as read; fields of the wrong type read as absent. */
function readRecord(lease: unknown): LeaseRecord {
  const spec = isObject(lease) && isObject(lease['spec']) ? lease['spec'] : {};
  const str = (k: string) => (typeof spec[k] === 'string' ? spec[k] : undefined);
  const num = (k: string) => (typeof spec[k] === 'number' && Number.isFinite(spec[k]) ? spec[k] : 0);
  const acquireTime = str('acquireTime');
  const renewTime = str('renewTime');
  return {
    holderIdentity: str('holderIdentity') ?? '',
    leaseDurationSeconds: num('leaseDurationSeconds'),
    ...(acquireTime ? { acquireTime } : {}),
    ...(renewTime ? { renewTime } : {}),
    leaseTransitions: num('leaseTransitions'),
  };
}

function resourceVersionOf(lease: unknown): string | undefined {
  const m = isObject(lease) && isObject(lease['metadata']) ? lease['metadata'] : {};
  return typeof m['resourceVersion'] === 'string' ? m['resourceVersion'] : undefined;
}

const codeOf = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);
const messageOf = (err: unknown): string => (err instanceof ApiException ? `HTTP ${err.code}` : err instanceof Error ? err.message : String(err));

type Attempt = 'leading' | 'held-by-other' | 'failed';

export class LeaderElector {
  private readonly api: CustomObjectsApi;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  /** The record last seen or written, when (local clock) it was first seen as it is, and its resourceVersion. */
  private observed: { record: LeaseRecord; raw: string; at: number; resourceVersion: string | undefined } | undefined;
  private leading = false;
  /** When this candidate last wrote itself as holder (local clock). */
  private renewedAt = -Infinity;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.leaseDurationMs = opts.leaseDurationMs ?? LEASE_DURATION_MS;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? RENEW_DEADLINE_MS;
    this.retryPeriodMs = opts.retryPeriodMs ?? RETRY_PERIOD_MS;
    this.now = opts.now ?? (() => performance.now());
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs * JITTER_FACTOR)) {
      // client-go's NewLeaderElector refuses the same.
      throw new Error('leader election: leaseDuration must exceed renewDeadline, which must exceed 1.2 × retryPeriod');
    }
  }

  get identity(): string {
    return this.opts.identity;
  }

  /** True while this candidate holds the Lease and has renewed it within the renew deadline. */
  isLeader(): boolean {
    return this.leading && this.now() - this.renewedAt < this.renewDeadlineMs;
  }

  /** The holder last seen ('' when none). */
  leader(): string {
    return this.observed?.record.holderIdentity ?? '';
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops trying, and releases the Lease if it is held. Never throws. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running; // bounded by the renew deadline (see tick)
    this.setLeading(false, 'stopping');
    // Also when an acquisition completed as it stopped: the Lease may say it is ours even if we never led.
    await this.release();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => (this.running = undefined));
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let result: Attempt = 'failed';
    try {
      // A request that hangs must not stop the rounds: after the renew deadline this round has failed.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<Attempt>((resolve) => (timer = setTimeout(() => resolve('failed'), this.renewDeadlineMs)));
      result = await Promise.race([this.tryAcquireOrRenew(), timeout]).finally(() => clearTimeout(timer));
    } catch (err) {
      this.opts.logger.warn({ lease: this.describe(), err: messageOf(err) }, 'leader election: attempt failed');
    }
    if (this.stopped) return;
    if (result === 'leading') {
      this.renewedAt = this.now();
      this.setLeading(true, 'acquired');
    } else if (result === 'held-by-other') {
      this.setLeading(false, `held by ${this.leader()}`);
    } else if (this.leading && this.now() - this.renewedAt >= this.renewDeadlineMs) {
      this.setLeading(false, `not renewed for ${this.renewDeadlineMs / 1000}s`);
    }
    const wait = this.leading ? this.retryPeriodMs : this.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR);
    this.schedule(wait);
  }

  private setLeading(leading: boolean, why: string): void {
    if (leading === this.leading) return;
    this.leading = leading;
    const { logger, identity } = this.opts;
    logger.info({ lease: this.describe(), identity, why }, leading ? 'leader election: leading' : 'leader election: not leading');
    try {
      (leading ? this.opts.onStartedLeading : this.opts.onStoppedLeading)?.();
    } catch (err) {
      logger.error({ err: messageOf(err) }, 'leader election: callback failed');
    }
  }

  private describe(): string {
    return `${this.opts.namespace}/${this.opts.name}`;
  }

  private see(lease: unknown): LeaseRecord {
    const record = readRecord(lease);
    const raw = JSON.stringify(record);
    if (this.observed?.raw !== raw) this.observed = { record, raw, at: this.now(), resourceVersion: undefined };
    this.observed.resourceVersion = resourceVersionOf(lease);
    return record;
  }

  private lease(record: LeaseRecord, resourceVersion: string | undefined): Lease {
    const { namespace, name } = this.opts;
    return {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'Lease',
      metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}), labels: { 'app.kubernetes.io/managed-by': 'placement-webhook' } },
      spec: record,
    };
  }

  private async write(record: LeaseRecord, resourceVersion: string): Promise<void> {
    const { namespace, name } = this.opts;
    const written: unknown = await this.api.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
      body: this.lease(record, resourceVersion),
      fieldManager: FIELD_MANAGER,
    });
    this.see(written);
  }

  /** One round of client-go's `tryAcquireOrRenew`. */
  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { namespace, name, identity } = this.opts;
    const stamp = microTime(Date.now());
    const mine = (acquireTime: string | undefined, transitions: number): LeaseRecord => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(this.leaseDurationMs / 1000),
      acquireTime: acquireTime ?? stamp,
      renewTime: stamp,
      leaseTransitions: transitions,
    });

    // 1. The leader renews from the version it wrote last (one request while nobody else writes).
    const seen = this.observed;
    if (this.isLeader() && seen?.record.holderIdentity === identity && seen.resourceVersion) {
      try {
        await this.write(mine(seen.record.acquireTime, seen.record.leaseTransitions), seen.resourceVersion);
        return 'leading';
      } catch (err) {
        this.opts.logger.debug(
          { lease: this.describe(), err: messageOf(err) },
          'leader election: renewal from the last version failed; reading the Lease',
        );
      }
    }

    // 2. Read it, or create it.
    let current: unknown;
    try {
      current = await this.api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name });
    } catch (err) {
      if (codeOf(err) !== 404) throw err;
      const created: unknown = await this.api.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        body: this.lease(mine(undefined, 0), undefined),
        fieldManager: FIELD_MANAGER,
      });
      this.see(created);
      return 'leading';
    }
    const record = this.see(current);
    const observedAt = this.observed?.at ?? this.now();

    // 3. Held by someone else, and not expired by what this process has seen.
    const valid = observedAt + record.leaseDurationSeconds * 1000 > this.now();
    if (record.holderIdentity !== '' && record.holderIdentity !== identity && valid) return 'held-by-other';

    // 4. Take it (or renew it): only one of several candidates writing the version read succeeds.
    const already = record.holderIdentity === identity;
    const version = resourceVersionOf(current);
    if (!version) throw new Error('the Lease has no resourceVersion');
    try {
      await this.write(mine(already ? record.acquireTime : undefined, already ? record.leaseTransitions : record.leaseTransitions + 1), version);
    } catch (err) {
      if (codeOf(err) === 409) return 'failed';
      throw err;
    }
    return 'leading';
  }

  /** client-go's `release`: the holder emptied, so that the next candidate need not wait for the lease to expire. */
  private async release(): Promise<void> {
    const seen = this.observed;
    if (!seen || seen.record.holderIdentity !== this.opts.identity || !seen.resourceVersion) return;
    const stamp = microTime(Date.now());
    try {
      await this.write(
        { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp, leaseTransitions: seen.record.leaseTransitions },
        seen.resourceVersion,
      );
      this.opts.logger.info({ lease: this.describe() }, 'leader election: lease released');
    } catch (err) {
      this.opts.logger.warn(
        { lease: this.describe(), err: messageOf(err) },
        'leader election: the lease could not be released; it expires on its own',
      );
    }
  }
}
