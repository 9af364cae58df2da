/**
 * Capacity the cluster's autoscalers can add, read from the API server: Karpenter NodePools and Cluster API
 * MachineDeployments/MachineSets, each followed by an informer once API discovery shows its group is served.
 *
 * - Discovery (`GET /apis`, which every authenticated client may read) runs at start and every minute,
 *   and again as soon as a watch is told its resource is gone: a group that appears gets an informer, one that
 *   disappears (CRD removed) loses it and its cache — no error loop against a resource that is not there.
 * - Karpenter: `karpenter.sh/v1` when served, else `v1beta1`. Cluster API: the group's preferred version.
 * - Objects are trimmed on arrival to what `capacity/` reads.
 * - Until a served resource has been listed, and while its watch is disconnected beyond the staleness bound, the
 *   view is *incomplete*: validation then does not deny a pod no live node fits (it might be for that capacity).
 *
 * RBAC: `get/list/watch` on `nodepools.karpenter.sh`, `machinedeployments.cluster.x-k8s.io` and
 * `machinesets.cluster.x-k8s.io` (none needed when those CRDs are absent).
 */
import { ApisApi, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AddableCapacity, CapacityView } from '../capacity/capacity.js';
import { CLUSTER_API_GROUP, clusterApiCapacity } from '../capacity/cluster-api.js';
import { byWeight, KARPENTER_GROUP, NODEPOOL_VERSIONS, nodePoolCapacity, parseNodePool, type NodePool } from '../capacity/nodepool.js';
import { Informer, objectKey } from './informer.js';
import { isObject } from '../util/json.js';

/** A resource read for capacity. */
interface Watched {
  readonly what: string;
  readonly group: string;
  readonly plural: string;
  /** Which served version to read, given the served ones (newest first as discovery lists them). */
  readonly pick: (served: readonly string[], preferred: string | undefined) => string | undefined;
  readonly trim: (o: KubernetesObject) => KubernetesObject;
}

const keep = (o: unknown, keys: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(keys.filter((k) => isObject(o) && o[k] !== undefined).map((k) => [k, (o as Record<string, unknown>)[k]]));

function trimMetadata(o: KubernetesObject, annotationPrefixes: readonly string[] = []): Record<string, unknown> {
  const m = keep(o.metadata, ['name', 'namespace', 'resourceVersion', 'deletionTimestamp']);
  const annotations = isObject(o.metadata?.annotations) ? o.metadata.annotations : {};
  const kept = Object.entries(annotations).filter(([k]) => annotationPrefixes.some((p) => k.startsWith(p)));
  const owners = Array.isArray(o.metadata?.ownerReferences) ? o.metadata.ownerReferences.map((r) => keep(r, ['kind', 'name'])) : [];
  return { ...m, ...(kept.length > 0 ? { annotations: Object.fromEntries(kept) } : {}), ...(owners.length > 0 ? { ownerReferences: owners } : {}) };
}

const NODEPOOLS: Watched = {
  what: 'NodePools',
  group: KARPENTER_GROUP,
  plural: 'nodepools',
  pick: (served) => NODEPOOL_VERSIONS.find((v) => served.includes(v)),
  trim: (o) => {
    const obj = o as KubernetesObject & Record<string, unknown>;
    const template = isObject(obj['spec']) ? obj['spec']['template'] : undefined;
    return {
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: trimMetadata(o),
      spec: {
        ...keep(obj['spec'], ['weight', 'limits']),
        template: {
          metadata: keep(isObject(template) ? template['metadata'] : undefined, ['labels']),
          spec: keep(isObject(template) ? template['spec'] : undefined, ['requirements', 'taints']),
        },
      },
      status: keep(obj['status'], ['resources', 'conditions']),
    } as KubernetesObject;
  },
};

const clusterApi = (plural: string): Watched => ({
  what: plural,
  group: CLUSTER_API_GROUP,
  plural,
  pick: (served, preferred) => preferred ?? served[0],
  trim: (o) => {
    const obj = o as KubernetesObject & Record<string, unknown>;
    return {
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: trimMetadata(o, ['capacity.cluster-autoscaler.kubernetes.io/', `${CLUSTER_API_GROUP}/cluster-api-autoscaler-node-group-`]),
      spec: keep(obj['spec'], ['replicas']),
    } as KubernetesObject;
  },
});

/** How often discovery runs: one small GET, so a CRD installed later is read within a minute. */
export const DISCOVERY_MS = 60_000;

const WATCHED: readonly Watched[] = [NODEPOOLS, clusterApi('machinedeployments'), clusterApi('machinesets')];

export interface AutoscalersOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly maxStalenessMs: number;
  readonly relistMs?: number;
  /** How often API discovery is asked which groups are served (default 60 s). */
  readonly discoveryMs?: number;
  readonly backoff?: { initialMs: number; maxMs: number };
  /** Called when an object is left out as malformed (for the metric). */
  readonly rejected?: (cache: string) => void;
}

interface Running {
  readonly version: string;
  readonly informer: Informer<KubernetesObject>;
  readonly objects: Map<string, KubernetesObject>;
}

export class Autoscalers {
  private readonly running = new Map<Watched, Running>();
  private readonly apis: ApisApi;
  private readonly custom: CustomObjectsApi;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private discovering: Promise<void> | undefined;
  /** Discovery has answered at least once (before that, nothing is known to be served: incomplete). */
  private discovered = false;
  private view: CapacityView = { sources: [], incomplete: 'API discovery has not answered yet' };
  private dirty = true;

  constructor(private readonly opts: AutoscalersOptions) {
    this.apis = opts.kubeConfig.makeApiClient(ApisApi);
    this.custom = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  start(): void {
    this.stopped = false;
    void this.discover();
    this.timer = setInterval(() => void this.discover(), this.opts.discoveryMs ?? DISCOVERY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.running.values()].map((r) => r.informer.stop()));
    this.running.clear();
  }

  /** Which resources are being read now, as `group/version/plural`. */
  watching(): string[] {
    return [...this.running].map(([w, r]) => `${w.group}/${r.version}/${w.plural}`);
  }

  /** Asks discovery again now (e.g. after a watch was told its resource is gone). Never throws. */
  discover(): Promise<void> {
    this.discovering ??= this.discoverOnce().finally(() => {
      this.discovering = undefined;
    });
    return this.discovering;
  }

  private async discoverOnce(): Promise<void> {
    if (this.stopped) return;
    let groups: Map<string, { served: string[]; preferred: string | undefined }>;
    try {
      const list = await this.apis.getAPIVersions();
      groups = new Map(
        (list.groups ?? []).map((g) => [g.name, { served: (g.versions ?? []).map((v) => v.version), preferred: g.preferredVersion?.version }]),
      );
    } catch (err) {
      this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'API discovery failed; autoscaler capacity unchanged');
      return;
    }
    if (this.stopped) return;
    for (const w of WATCHED) {
      const g = groups.get(w.group);
      const version = g ? w.pick(g.served, g.preferred) : undefined;
      const current = this.running.get(w);
      if (current && current.version === version) continue;
      if (current) {
        this.running.delete(w);
        this.dirty = true;
        this.opts.logger.info({ resource: `${w.group}/${current.version}/${w.plural}` }, 'no longer served; autoscaler capacity from it dropped');
        await current.informer.stop();
      }
      if (version) this.follow(w, version);
    }
    this.discovered = true;
    this.dirty = true;
  }

  private follow(w: Watched, version: string): void {
    const objects = new Map<string, KubernetesObject>();
    const resource = `${w.group}/${version}/${w.plural}`;
    const changed = () => {
      this.dirty = true;
    };
    const informer = new Informer<KubernetesObject>({
      kubeConfig: this.opts.kubeConfig,
      path: `/apis/${w.group}/${version}/${w.plural}`,
      list: async () =>
        (await this.custom.listClusterCustomObject({ group: w.group, version, plural: w.plural })) as KubernetesListObject<KubernetesObject>,
      trim: w.trim,
      ...(this.opts.relistMs ? { relistMs: this.opts.relistMs } : {}),
      ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
      handlers: {
        upsert: (o) => {
          objects.set(objectKey(o), o);
          changed();
        },
        remove: (o) => {
          objects.delete(objectKey(o));
          changed();
        },
        listed: (keys) => {
          for (const k of [...objects.keys()]) if (!keys.has(k)) objects.delete(k);
          changed();
        },
        error: (err, retryInMs) => {
          const gone = /\b404\b|not found/i.test(err instanceof Error ? err.message : String(err));
          if (gone) void this.discover();
          else this.opts.logger.warn({ resource, err: err instanceof Error ? err.message : String(err), retryInMs }, 'watch failed; reconnecting');
        },
        rejected: (err, obj) => {
          this.opts.rejected?.(w.plural);
          this.opts.logger.error(
            {
              resource,
              object: isObject(obj) ? objectKey(obj as KubernetesObject) : undefined,
              err: err instanceof Error ? err.message : String(err),
            },
            'object left out: malformed',
          );
        },
      },
    });
    this.running.set(w, { version, informer, objects });
    this.opts.logger.info({ resource }, 'served; reading it for autoscaler capacity');
    informer.start();
  }

  /** The capacity known now: NodePools by weight, then Cluster API groups; incomplete while something is unknown. */
  capacity(): CapacityView {
    const unsynced = [...this.running].filter(([, r]) => !r.informer.synced || r.informer.disconnectedMs() > this.opts.maxStalenessMs);
    const incomplete = !this.discovered
      ? 'API discovery has not answered yet'
      : unsynced.length > 0
        ? `the ${unsynced.map(([w]) => w.what).join(' and ')} ${unsynced.length === 1 ? 'list has' : 'lists have'} not been received, or the watch is disconnected`
        : undefined;
    if (this.dirty) {
      this.dirty = false;
      const pools: NodePool[] = [];
      const groups: AddableCapacity[] = [];
      for (const [w, r] of this.running) {
        for (const o of r.objects.values()) {
          if (w === NODEPOOLS) {
            const { pool, errors } = parseNodePool(o);
            if (pool) pools.push(pool);
            else
              this.opts.logger.warn(
                { nodePool: o.metadata?.name, errors: errors.map((e) => `${e.path}: ${e.detail}`) },
                'NodePool not used: it cannot be read',
              );
          } else {
            const c = clusterApiCapacity(o);
            if (c) groups.push(c);
          }
        }
      }
      const sources = [
        ...pools
          .sort(byWeight)
          .map(nodePoolCapacity)
          .filter((c): c is AddableCapacity => c !== undefined),
        ...groups,
      ];
      this.view = { sources, incomplete: undefined };
    }
    return incomplete === this.view.incomplete ? this.view : { ...this.view, incomplete };
  }
}
