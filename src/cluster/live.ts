/**
 * The cluster as the API server tells it: nodes, namespaces and the rules ConfigMap, kept by informers.
 *
 * - Nodes feed the node index incrementally; an update that changes nothing placement reads (a status heartbeat)
 *   costs a comparison, not an index update.
 * - A valid rules edit is swapped in atomically (one reference); an invalid one keeps the last good rules, logs
 *   every error and counts it.
 * - Capacity autoscalers can add (Karpenter NodePools, Cluster API groups) is read where served (see
 *   `./autoscalers.ts`).
 * - The pods bound to nodes (see `./pods.ts`), for "would it be scheduled now": not part of readiness (a list of
 *   150k pods takes a while, and "can it ever run" does not need them); until listed, and while disconnected longer
 *   than `maxStalenessMs`, the pod view is incomplete and there are no "pending" answers.
 * - Ready once nodes, namespaces and rules have been listed. A cache disconnected longer than `maxStalenessMs` makes
 *   the node view incomplete, and validation then allows with a warning instead of denying.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  SchedulingV1Api,
  type KubeConfig,
  type V1ConfigMap,
  type V1Namespace,
  type V1Node,
  type V1PriorityClass,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AdmissionContext, NodeView, PodsState } from '../admission/context.js';
import type { AdmissionRequest } from '../admission/types.js';
import { formatFieldError } from '../util/errors.js';
import { listedWarnings, parseRules, type CompileResult, type RuleSet } from '../rules/compile.js';
import { sameJson } from '../util/json.js';
import { NodeIndex } from '../scheduling/node-index.js';
import type { Labels } from '../scheduling/types.js';
import type { ClusterMetrics } from './metrics.js';
import { NO_CAPACITY, type CapacityView } from '../capacity/capacity.js';
import { Autoscalers } from './autoscalers.js';
import { Informer } from './informer.js';
import { PodCache } from './pods.js';
import type { RulesChecker } from './rules-checker.js';
import { withNameLabel } from '../rules/select.js';
import { compatAnnotations } from '../compat/index.js';
import { toPlacementNode } from '../scheduling/placement-node.js';
import { stringMap } from '../util/json.js';
import { RULES_CONFIGMAP_KEY } from '../rules/configmap.js';

/** Longest /readyz reason (an invalid document may have hundreds of errors; the log has them all). */
const MAX_READY_REASON = 1000;
/** How long a scale review waits for its workload to be read from the API server. */
export const SCALE_LOOKUP_MS = 1000;
/** How long a review waits for a namespace missing from the cache to be read from the API server. */
export const NAMESPACE_LOOKUP_MS = 1000;

export interface LiveClusterOptions {
  readonly kubeConfig: KubeConfig;
  /** `NAMESPACE/NAME` of the rules ConfigMap; absent when rules come from a file (`fixedRules`). */
  readonly rulesConfigMap?: { namespace: string; name: string };
  readonly fixedRules?: RuleSet;
  /** Rules in force until the ConfigMap is read (no rules). */
  readonly emptyRules: RuleSet;
  readonly maxStalenessMs: number;
  readonly relistMs?: number;
  /** Reconnect delays of every informer (default: 1 s doubling up to 30 s). */
  readonly backoff?: { initialMs: number; maxMs: number };
  readonly logger: Logger;
  readonly metrics?: ClusterMetrics;
  /** Read Karpenter NodePools and Cluster API groups as capacity autoscalers can add (default true). */
  readonly watchAutoscalers?: boolean;
  /** How often API discovery is asked for those (default 60 s). */
  readonly discoveryMs?: number;
  /** How long a review waits for the workload of a `scale` subresource to be read (default 1 s). */
  readonly scaleLookupMs?: number;
  /** Checks rules documents off the review path (see `rules-checker.ts`); absent: on this thread, at once. */
  readonly rulesChecker?: RulesChecker;
  /** Keep the pods bound to nodes, for "would it be scheduled now" (default true). */
  readonly watchPods?: boolean;
  /** A fresh list of the pods every this often (default 1 h: a relist of 150k pods is not cheap). */
  readonly podRelistMs?: number;
}

/** name, namespace and resourceVersion when they are strings, as every cached object keeps them. */
function trimMetadata(o: { metadata?: unknown }): { name: string; namespace?: string; resourceVersion: string } {
  const m = o.metadata !== null && typeof o.metadata === 'object' ? (o.metadata as Record<string, unknown>) : {};
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    name: str(m['name']),
    ...(typeof m['namespace'] === 'string' ? { namespace: m['namespace'] } : {}),
    resourceVersion: str(m['resourceVersion']),
  };
}

/** Only what placement reads of a Node, in the shape it relies on (see `toPlacementNode`). */
function trimNode(n: V1Node): V1Node {
  const p = toPlacementNode(n);
  return {
    metadata: { ...trimMetadata(n), labels: { ...p.labels } },
    spec: { taints: p.taints.map((t) => ({ ...t })), unschedulable: p.unschedulable },
    status: { allocatable: { ...p.allocatable } },
  };
}

function trimNamespace(ns: V1Namespace): V1Namespace {
  const annotations = compatAnnotations(ns.metadata?.annotations);
  return {
    metadata: { ...trimMetadata(ns), labels: stringMap(ns.metadata?.labels), ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
  };
}

function trimConfigMap(cm: V1ConfigMap): V1ConfigMap {
  const text: unknown = cm.data !== null && typeof cm.data === 'object' ? cm.data[RULES_CONFIGMAP_KEY] : undefined;
  return { metadata: trimMetadata(cm), ...(typeof text === 'string' ? { data: { [RULES_CONFIGMAP_KEY]: text } } : {}) };
}

function objectName(obj: unknown): string | undefined {
  if (obj === null || typeof obj !== 'object') return undefined;
  const { name, namespace } = trimMetadata(obj);
  return namespace ? `${namespace}/${name}` : name;
}

export class LiveCluster implements AdmissionContext {
  private readonly index = new NodeIndex();
  private namespaces = new Map<string, Labels>();
  /** The annotations `settings.compat` reads, by namespace; replaced with `namespaces`, never edited in place. */
  private namespaceAnnotationMap = new Map<string, Readonly<Record<string, string>>>();
  private ruleSet: RuleSet;
  private rulesLoaded: boolean;
  private readonly coreApi: CoreV1Api;
  /** resourceVersion of the rules ConfigMap last read (valid or not). */
  private rulesVersion: string | undefined;
  /** Counts rules ConfigMap reads: a check that finishes after a later read began is dropped. */
  private rulesGeneration = 0;
  /** What is wrong with the rules ConfigMap last read (absent, invalid); undefined once a read succeeded. */
  private rulesProblem: string | undefined;
  private readonly informers: {
    nodes: Informer<V1Node>;
    namespaces: Informer<V1Namespace>;
    priorityClasses: Informer<V1PriorityClass>;
    rules?: Informer<V1ConfigMap>;
  };
  /** PriorityClass name → value, and the global default's value. */
  private priorityClasses = new Map<string, number>();
  private defaultPriority: { name: string; value: number } | undefined;
  private readonly customApi: CustomObjectsApi;
  private readonly autoscalers: Autoscalers | undefined;
  private readonly podCache: PodCache | undefined;
  private readonly namespaceLabelsOf = (ns: string): Labels => withNameLabel(ns, this.namespaces.get(ns));

  constructor(private readonly opts: LiveClusterOptions) {
    this.ruleSet = opts.fixedRules ?? opts.emptyRules;
    this.rulesLoaded = opts.fixedRules !== undefined;
    const api = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.coreApi = api;
    const log = opts.logger;
    const onError = (cache: string) => (err: unknown, retryInMs: number) =>
      log.warn({ cache, err: err instanceof Error ? err.message : String(err), retryInMs }, 'watch failed; reconnecting');
    const onRejected = (cache: string) => (err: unknown, obj: unknown) => {
      opts.metrics?.objectsRejected.inc({ cache });
      log.error({ cache, object: objectName(obj), err: err instanceof Error ? err.message : String(err) }, 'object left out of the cache: malformed');
    };

    const nodes = new Informer<V1Node>({
      kubeConfig: opts.kubeConfig,
      path: '/api/v1/nodes',
      list: () => api.listNode(),
      trim: trimNode,
      ...(opts.relistMs ? { relistMs: opts.relistMs } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      handlers: {
        upsert: (n) => {
          const placement = toPlacementNode(n);
          if (!sameJson(this.index.get(placement.name), placement)) this.index.upsert(placement);
          opts.metrics?.nodes.set(this.index.size);
        },
        remove: (n) => {
          this.index.remove(n.metadata?.name ?? '');
          opts.metrics?.nodes.set(this.index.size);
        },
        listed: (names) => {
          for (const n of [...this.index.nodes()]) if (!names.has(n.name)) this.index.remove(n.name);
          opts.metrics?.nodes.set(this.index.size);
        },
        error: onError('nodes'),
        rejected: onRejected('nodes'),
      },
    });

    const namespaces = new Informer<V1Namespace>({
      kubeConfig: opts.kubeConfig,
      path: '/api/v1/namespaces',
      list: () => api.listNamespace(),
      trim: trimNamespace,
      ...(opts.relistMs ? { relistMs: opts.relistMs } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      handlers: {
        upsert: (ns) => {
          const next = new Map(this.namespaces);
          next.set(ns.metadata?.name ?? '', { ...(ns.metadata?.labels ?? {}) });
          this.namespaces = next;
          this.namespaceAnnotationMap = new Map(this.namespaceAnnotationMap).set(
            ns.metadata?.name ?? '',
            compatAnnotations(ns.metadata?.annotations),
          );
        },
        remove: (ns) => {
          const next = new Map(this.namespaces);
          next.delete(ns.metadata?.name ?? '');
          this.namespaces = next;
          const annotations = new Map(this.namespaceAnnotationMap);
          annotations.delete(ns.metadata?.name ?? '');
          this.namespaceAnnotationMap = annotations;
        },
        listed: (names) => {
          this.namespaces = new Map([...this.namespaces].filter(([name]) => names.has(name)));
          this.namespaceAnnotationMap = new Map([...this.namespaceAnnotationMap].filter(([name]) => names.has(name)));
        },
        error: onError('namespaces'),
        rejected: onRejected('namespaces'),
      },
    });

    const priorityClasses = new Informer<V1PriorityClass>({
      kubeConfig: opts.kubeConfig,
      path: '/apis/scheduling.k8s.io/v1/priorityclasses',
      list: () => opts.kubeConfig.makeApiClient(SchedulingV1Api).listPriorityClass(),
      trim: (pc) => ({
        metadata: { name: pc.metadata?.name ?? '', resourceVersion: pc.metadata?.resourceVersion ?? '' },
        value: typeof pc.value === 'number' ? pc.value : 0,
        globalDefault: pc.globalDefault === true,
      }),
      ...(opts.relistMs ? { relistMs: opts.relistMs } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      handlers: {
        upsert: (pc) => this.setPriorityClass(pc.metadata?.name ?? '', pc),
        remove: (pc) => this.setPriorityClass(pc.metadata?.name ?? '', undefined),
        listed: (names) => {
          for (const name of [...this.priorityClasses.keys()]) if (!names.has(name)) this.setPriorityClass(name, undefined);
        },
        error: onError('priorityclasses'),
        rejected: onRejected('priorityclasses'),
      },
    });
    this.informers = { nodes, namespaces, priorityClasses };
    this.customApi = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.autoscalers =
      opts.watchAutoscalers === false
        ? undefined
        : new Autoscalers({
            kubeConfig: opts.kubeConfig,
            logger: log,
            maxStalenessMs: opts.maxStalenessMs,
            ...(opts.relistMs ? { relistMs: opts.relistMs } : {}),
            ...(opts.discoveryMs ? { discoveryMs: opts.discoveryMs } : {}),
            ...(opts.backoff ? { backoff: opts.backoff } : {}),
            rejected: (cache) => opts.metrics?.objectsRejected.inc({ cache }),
          });
    this.podCache =
      opts.watchPods === false
        ? undefined
        : new PodCache({
            kubeConfig: opts.kubeConfig,
            logger: log,
            ...(opts.podRelistMs ? { relistMs: opts.podRelistMs } : {}),
            ...(opts.backoff ? { backoff: opts.backoff } : {}),
            onError: (err, retryInMs) => onError('pods')(err, retryInMs),
            rejected: (err, pod) => {
              opts.metrics?.objectsRejected.inc({ cache: 'pods' });
              log.error({ cache: 'pods', object: pod, err: err.message }, 'object left out of the cache: malformed');
            },
            onListed: (stats) => {
              opts.metrics?.pods.set(stats.pods);
              log.info({ cache: 'pods', ...stats }, 'pods listed');
            },
          });
    const cm = opts.rulesConfigMap;
    if (cm) {
      this.informers.rules = new Informer<V1ConfigMap>({
        kubeConfig: opts.kubeConfig,
        path: `/api/v1/namespaces/${encodeURIComponent(cm.namespace)}/configmaps`,
        fieldSelector: `metadata.name=${cm.name}`,
        list: () => api.listNamespacedConfigMap({ namespace: cm.namespace, fieldSelector: `metadata.name=${cm.name}` }),
        trim: trimConfigMap,
        ...(opts.relistMs ? { relistMs: opts.relistMs } : {}),
        ...(opts.backoff ? { backoff: opts.backoff } : {}),
        handlers: {
          upsert: (c) => this.loadRules(c),
          remove: () => log.error({ configMap: `${cm.namespace}/${cm.name}` }, 'rules ConfigMap deleted; keeping the last good rules'),
          listed: (keys) => {
            if (keys.has(`${cm.namespace}/${cm.name}`)) return;
            this.rulesProblem = 'not found';
            log.error({ configMap: `${cm.namespace}/${cm.name}` }, 'rules ConfigMap not found');
          },
          error: onError('rules'),
          rejected: onRejected('rules'),
        },
      });
    }
  }

  /**
   * Reads the rules ConfigMap. Never throws: an invalid document, however it fails, keeps the last good rules. With
   * a `rulesChecker`, the document is checked in its thread and compiled a batch of rules per turn (reviews go on
   * meanwhile with the rules in force); an edit that arrives before the check of an earlier one is done wins.
   */
  private loadRules(cm: V1ConfigMap): void {
    const resourceVersion = cm.metadata?.resourceVersion;
    // A relist delivers the same ConfigMap again: nothing to reload.
    if (resourceVersion !== undefined && resourceVersion === this.rulesVersion) return;
    this.rulesVersion = resourceVersion;
    const where = { configMap: `${cm.metadata?.namespace}/${cm.metadata?.name}`, resourceVersion };
    const text = cm.data?.[RULES_CONFIGMAP_KEY];
    const generation = ++this.rulesGeneration;
    const failed = (err: unknown): CompileResult => ({
      ok: false,
      errors: [{ type: 'Invalid', path: '', detail: err instanceof Error ? err.message : String(err) }],
      warnings: [],
    });
    if (typeof text !== 'string') {
      this.applyRules(
        { ok: false, errors: [{ type: 'Required', path: `data["${RULES_CONFIGMAP_KEY}"]`, detail: 'required value' }], warnings: [] },
        where,
      );
      return;
    }
    const checker = this.opts.rulesChecker;
    if (checker) {
      checker.compile(text).then(
        (result) => generation === this.rulesGeneration && this.applyRules(result, where),
        (err: unknown) => generation === this.rulesGeneration && this.applyRules(failed(err), where),
      );
      return;
    }
    let result: CompileResult;
    try {
      result = parseRules(text);
    } catch (err) {
      // parseRules reports every problem as data; should that ever fail, the document is invalid all the same.
      result = failed(err);
    }
    this.applyRules(result, where);
  }

  /** Puts a checked document in force, or keeps the last good rules and says why. */
  private applyRules(result: CompileResult, where: { configMap: string; resourceVersion: string | undefined }): void {
    const { logger: log, metrics } = this.opts;
    logRulesWarnings(log, where, result);
    if (!result.ok) {
      metrics?.rulesReloads.inc({ result: 'invalid' });
      this.rulesProblem = `is invalid: ${result.errors.map(formatFieldError).join('; ')}`;
      log.error({ ...where, errors: result.errors.map(formatFieldError) }, 'invalid rules; keeping the last good rules');
      return;
    }
    this.ruleSet = result.ruleSet;
    this.rulesLoaded = true;
    this.rulesProblem = undefined;
    metrics?.rulesReloads.inc({ result: 'success' });
    metrics?.rulesLoaded.set(result.ruleSet.rules.length);
    metrics?.rulesLastSuccess.set(Date.now() / 1000);
    log.info({ ...where, rules: result.ruleSet.rules.length }, 'rules loaded');
  }

  start(): void {
    this.opts.metrics?.rulesLoaded.set(this.ruleSet.rules.length);
    this.informers.nodes.start();
    this.informers.namespaces.start();
    this.informers.priorityClasses.start();
    this.informers.rules?.start();
    this.autoscalers?.start();
    this.podCache?.start();
  }

  async stop(): Promise<void> {
    await Promise.all([
      this.informers.nodes.stop(),
      this.informers.namespaces.stop(),
      this.informers.priorityClasses.stop(),
      this.informers.rules?.stop(),
      this.autoscalers?.stop(),
      this.podCache?.stop(),
    ]);
  }

  private setPriorityClass(name: string, pc: V1PriorityClass | undefined): void {
    if (pc === undefined) {
      this.priorityClasses.delete(name);
      if (this.defaultPriority?.name === name) this.defaultPriority = undefined;
      return;
    }
    this.priorityClasses.set(name, pc.value);
    if (pc.globalDefault) this.defaultPriority = { name, value: pc.value };
    else if (this.defaultPriority?.name === name) this.defaultPriority = undefined;
  }

  /**
   * The priority the Priority admission plugin will give a pod of this class (`priorityClassName`; none: the global
   * default class, else 0). Undefined while the classes are not listed, or for a class that does not exist.
   */
  priorityOf(className: string | undefined): number | undefined {
    if (!this.informers.priorityClasses.synced) return undefined;
    if (className === undefined || className === '') return this.defaultPriority?.value ?? 0;
    return this.priorityClasses.get(className);
  }

  /** The workload of a `scale` subresource request, read from the API server within `scaleLookupMs`. */
  async scaled(request: AdmissionRequest): Promise<unknown> {
    const { group, resource } = request.resource;
    const name = request.name;
    const namespace = request.namespace;
    if (!name || !namespace) return undefined;
    const read =
      group === '' && resource === 'replicationcontrollers'
        ? this.coreApi.readNamespacedReplicationController({ name, namespace })
        : group === 'apps'
          ? (this.customApi.getNamespacedCustomObject({ group, version: 'v1', namespace, plural: resource, name }) as Promise<unknown>)
          : undefined;
    if (!read) return undefined;
    read.catch(() => undefined); // a late failure after the timeout is of no interest
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), this.opts.scaleLookupMs ?? SCALE_LOOKUP_MS).unref());
    try {
      return await Promise.race([read, timeout]);
    } catch (err) {
      this.opts.logger.warn(
        { resource, namespace, name, err: err instanceof Error ? err.message : String(err) },
        'the scaled workload could not be read; the scale is not judged',
      );
      return undefined;
    }
  }

  capacity(): CapacityView {
    return this.autoscalers?.capacity() ?? NO_CAPACITY;
  }

  /** Autoscaler resources being read now (`group/version/plural`). */
  autoscalerResources(): string[] {
    return this.autoscalers?.watching() ?? [];
  }

  /** Why the webhook cannot serve yet, or undefined when it can. */
  notReady(): string | undefined {
    const cm = this.opts.rulesConfigMap;
    // Staying unready is right (old replicas keep serving; a rollout with a broken ConfigMap stalls visibly), but the
    // reason must say what to fix.
    if (!this.rulesLoaded && cm && this.rulesProblem) {
      const why = `rules ConfigMap ${cm.namespace}/${cm.name} ${this.rulesProblem}`;
      return why.length <= MAX_READY_REASON ? why : `${why.slice(0, MAX_READY_REASON - 1)}…`;
    }
    const waiting = [
      this.informers.nodes.synced ? undefined : 'nodes',
      this.informers.namespaces.synced ? undefined : 'namespaces',
      this.rulesLoaded ? undefined : 'rules',
    ].filter((x) => x !== undefined);
    return waiting.length === 0 ? undefined : `waiting for the first sync of ${waiting.join(', ')}`;
  }

  /** Refreshes the staleness gauges (called on each scrape and review). */
  updateGauges(): void {
    const m = this.opts.metrics;
    if (!m) return;
    const caches: [string, { disconnectedMs(): number }][] = [
      ...Object.entries(this.informers),
      ...(this.podCache ? [['pods', this.podCache] as [string, PodCache]] : []),
    ];
    for (const [name, cache] of caches) {
      const ms = cache.disconnectedMs();
      m.cacheDisconnected.set({ cache: name }, ms / 1000);
      m.cacheStale.set({ cache: name }, ms > this.opts.maxStalenessMs ? 1 : 0);
    }
    if (this.podCache) m.pods.set(this.podCache.size);
  }

  /** The pods bound to nodes; undefined when the pod cache is off (`--watch-pods=false`). */
  pods(): PodsState | undefined {
    const cache = this.podCache;
    if (!cache) return undefined;
    let incomplete: string | undefined;
    if (!cache.synced) incomplete = 'the pod list has not been received yet';
    else if (cache.disconnectedMs() > this.opts.maxStalenessMs)
      incomplete = `the pod cache has been disconnected for ${Math.round(cache.disconnectedMs() / 1000)}s`;
    return { index: cache.index, namespaceLabels: this.namespaceLabelsOf, incomplete };
  }

  rules(): RuleSet {
    return this.ruleSet;
  }

  namespaceLabels(name: string): Labels | undefined {
    return this.namespaces.get(name);
  }

  namespaceAnnotations(name: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.has(name) ? (this.namespaceAnnotationMap.get(name) ?? {}) : undefined;
  }

  /** Every cached namespace's labels, by name (a snapshot: the map is replaced, never changed, on each event). */
  namespaceMap(): ReadonlyMap<string, Labels> {
    return this.namespaces;
  }

  async ensureNamespace(name: string): Promise<void> {
    if (this.namespaces.has(name)) return;
    try {
      const read = this.coreApi.readNamespace({ name });
      read.catch(() => undefined); // a late failure after the timeout is of no interest
      const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), NAMESPACE_LOOKUP_MS).unref());
      const ns = await Promise.race([read, timeout]);
      // Not there (yet), or the informer delivered it meanwhile (then its version is the one to keep).
      if (ns && !this.namespaces.has(name)) {
        const next = new Map(this.namespaces);
        next.set(name, { ...(ns.metadata?.labels ?? {}) });
        this.namespaces = next;
        this.namespaceAnnotationMap = new Map(this.namespaceAnnotationMap).set(name, compatAnnotations(ns.metadata?.annotations));
      }
    } catch (err) {
      this.opts.logger.debug({ namespace: name, err: err instanceof Error ? err.message : String(err) }, 'namespace lookup failed');
    }
  }

  nodes(): NodeView {
    const nodes = this.informers.nodes;
    let incomplete: string | undefined;
    if (!nodes.synced) incomplete = 'the node list has not been received yet';
    else if (nodes.disconnectedMs() > this.opts.maxStalenessMs) {
      incomplete = `the node cache has been disconnected for ${Math.round(nodes.disconnectedMs() / 1000)}s`;
    }
    return { index: this.index, incomplete };
  }
}

/**
 * The warnings of a rules document, one line each up to `LISTED_WARNINGS`, then one line with how many more: a
 * document whose rules overlap pairwise can have tens of thousands, and logging them all would hold the thread.
 */
export function logRulesWarnings(log: Logger, where: object, result: CompileResult): void {
  const { listed, more } = listedWarnings(result);
  for (const w of listed) log.warn({ ...where, warning: formatFieldError(w) }, 'rules warning');
  if (more > 0) log.warn({ ...where, more }, 'more rules warnings not logged (placement-webhook lint lists them all)');
}
