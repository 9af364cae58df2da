/**
 * `check --kubeconfig FILE [--context NAME]`: the cluster read once from its API server, as a `StaticCluster`, so
 * that "does this Deployment fit my cluster, and if not why" needs nothing installed.
 *
 * What is read, each list page by page (`limit` 500 and `continue`; a `410` on a continue token starts that list
 * again, at most 3 times):
 * - nodes and namespaces (failing: exit 2, nothing can be judged without them);
 * - the pods, trimmed page by page into one `PodIndex` by one `PodReader`, so the whole pod list is never held;
 *   only pods the scheduler counts are asked for (`status.phase!=Succeeded,status.phase!=Failed`). A list that
 *   fails (RBAC) is a warning: "would it be scheduled now" is then not answered;
 * - Karpenter NodePools (`karpenter.sh/v1`, else `v1beta1`; a 404 means not served) and Cluster API
 *   MachineDeployments and MachineSets (where API discovery shows `cluster.x-k8s.io` served, its preferred version).
 *   A list that fails, or a NodePool that cannot be read, is a warning and makes the capacity incomplete: a pod no
 *   node fits is then not denied for lack of knowledge;
 * - the rules: `--rules FILE`, or `--rules-configmap NS/NAME` (key `rules.yaml`) from the same cluster; with neither,
 *   no rules (said on stderr). Never the bundled examples.
 */
import { ApiException, ApisApi, CoreV1Api, CustomObjectsApi, KubeConfig, type V1Namespace, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { NodePool } from '../capacity/nodepool.js';
import { CLUSTER_API_GROUP } from '../capacity/cluster-api.js';
import { KARPENTER_GROUP, NODEPOOL_VERSIONS, parseNodePool } from '../capacity/nodepool.js';
import { StaticCluster } from '../cluster/static.js';
import { formatFieldError } from '../util/errors.js';
import { compileRules, loadRules, type RuleSet } from '../rules/compile.js';
import { API_VERSION, KIND } from '../rules/schema.js';
import { PodIndex, PodReader } from '../scheduling/pods.js';
import { systemMessage } from './files.js';
import { podIndexOf, readText, UsageError } from './inputs.js';
import { isObject } from '../util/json.js';
import { RULES_CONFIGMAP_KEY } from '../rules/configmap.js';

/** Items per list page. */
export const PAGE_SIZE = 500;
/** Times a list starts again after its continue token expired. */
const MAX_RESTARTS = 3;
/** The kube-scheduler's pod informer selector: finished pods hold nothing on their node. */
const SCHEDULED_PODS = 'status.phase!=Succeeded,status.phase!=Failed';
const CLUSTER_API_PLURALS = ['machinedeployments', 'machinesets'] as const;

export interface ClusterReadOptions {
  readonly kubeconfig: string;
  readonly context?: string | undefined;
  /** A rules file. */
  readonly rules?: string | undefined;
  /** `NAMESPACE/NAME` of a rules ConfigMap in the cluster. */
  readonly rulesConfigMap?: string | undefined;
  readonly pageSize?: number;
  /** Keep the pods as well, each as this returns it (`audit`, `whatif`: drift needs the full spec); the index is built all the same. */
  readonly keepPods?: (pod: unknown) => unknown;
}

export interface ClusterRead {
  readonly cluster: StaticCluster;
  readonly ruleSet: RuleSet;
  /** The reader the pods were read with (for pods added later). */
  readonly podReader: PodReader;
  /** The API server's URL. */
  readonly server: string;
  /** Lines for stderr: what could not be read, and that there are no rules when none were named. */
  readonly warnings: readonly string[];
  /** The full pods, with `keepPods` (empty without it, or when the pod list failed). */
  readonly pods: readonly unknown[];
  readonly counts: {
    readonly nodes: number;
    readonly namespaces: number;
    readonly pods: number;
    readonly nodePools: number;
    readonly machineGroups: number;
  };
}

/** `HTTP 403: nodes is forbidden: ...`, or the system's words for a connection that failed; one line. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    let body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        // not JSON: no message to show
      }
    }
    const message = isObject(body) && typeof body['message'] === 'string' ? body['message'] : undefined;
    return `HTTP ${err.code}${message ? `: ${message}` : ''}`.replace(/\s*\n\s*/g, ' ');
  }
  return systemMessage(err).replace(/\s*\n\s*/g, ' ');
}

const statusCode = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : undefined);

/** One page of a list: its items and the token of the next page. */
interface Page<T> {
  readonly items: readonly T[];
  readonly next: string | undefined;
}

/**
 * Every page of a list, each handed to `each` as it arrives. A `410` on a continue token (the snapshot is gone)
 * calls `restart` and lists again from the start.
 */
export async function listPages<T>(
  fetch: (token: string | undefined) => Promise<Page<T>>,
  each: (item: T) => void,
  restart: () => void,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let token: string | undefined;
    try {
      do {
        const page = await fetch(token);
        for (const item of page.items) each(item);
        token = page.next;
      } while (token);
      return;
    } catch (err) {
      if (token === undefined || statusCode(err) !== 410 || attempt >= MAX_RESTARTS) throw err;
      restart();
    }
  }
}

/** The continue token of a typed list (`_continue`) or of a custom objects list (`continue`). */
export function nextToken(metadata: unknown): string | undefined {
  if (!isObject(metadata)) return undefined;
  const token = metadata['_continue'] ?? metadata['continue'];
  return typeof token === 'string' && token !== '' ? token : undefined;
}

/** A pod as the typed client returns it, with `deletionTimestamp` as JSON has it (the reader reads a string). */
function asJson(pod: V1Pod): unknown {
  const deleted: unknown = pod.metadata?.deletionTimestamp;
  return deleted instanceof Date ? { ...pod, metadata: { ...pod.metadata, deletionTimestamp: deleted.toISOString() } } : pod;
}

export function loadKubeConfig(file: string, context: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new UsageError(`--kubeconfig ${file}: cannot load the cluster configuration: ${systemMessage(err)}`);
  }
  if (context !== undefined) {
    if (!kc.getContextObject(context)) {
      const known = kc.getContexts().map((c) => JSON.stringify(c.name));
      throw new UsageError(
        `--context: no context ${JSON.stringify(context)} in ${file}; its contexts: ${known.length > 0 ? known.join(', ') : 'none'}`,
      );
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new UsageError(`--kubeconfig ${file}: the current context names no cluster; give --context NAME`);
  return kc;
}

function noRules(): RuleSet {
  const r = compileRules({ apiVersion: API_VERSION, kind: KIND, rules: [] });
  if (!r.ok) throw new Error('the empty rule set does not compile');
  return r.ruleSet;
}

async function readRules(core: CoreV1Api, o: ClusterReadOptions, server: string): Promise<{ ruleSet: RuleSet; warning?: string }> {
  if (o.rules) return { ruleSet: loadRules(await readText(o.rules), o.rules) };
  if (!o.rulesConfigMap)
    return { ruleSet: noRules(), warning: `note: no --rules or --rules-configmap given: judging ${server} without placement rules` };
  const [namespace, name, ...rest] = o.rulesConfigMap.split('/');
  if (!namespace || !name || rest.length > 0)
    throw new UsageError(`--rules-configmap: expected NAMESPACE/NAME, got ${JSON.stringify(o.rulesConfigMap)}`);
  let list;
  try {
    list = await core.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${name}` });
  } catch (err) {
    throw new UsageError(`--rules-configmap ${o.rulesConfigMap}: cannot read it from ${server}: ${apiErrorMessage(err)}`);
  }
  const cm = list.items.find((c) => c.metadata?.name === name);
  if (!cm) throw new UsageError(`--rules-configmap ${o.rulesConfigMap}: not found in ${server}`);
  const text = cm.data?.[RULES_CONFIGMAP_KEY];
  if (typeof text !== 'string') throw new UsageError(`--rules-configmap ${o.rulesConfigMap}: no key ${RULES_CONFIGMAP_KEY}`);
  return { ruleSet: loadRules(text, `configmap ${o.rulesConfigMap}`) };
}

/** Reads the cluster once. Throws a `UsageError` (exit 2) for what leaves nothing to judge by. */
export async function readCluster(o: ClusterReadOptions): Promise<ClusterRead> {
  const kc = loadKubeConfig(o.kubeconfig, o.context);
  const server = kc.getCurrentCluster()?.server ?? o.kubeconfig;
  const limit = o.pageSize ?? PAGE_SIZE;
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const warnings: string[] = [];
  const rules = await readRules(core, o, server);
  if (rules.warning) warnings.push(rules.warning);

  const required = async <T>(what: string, fetch: (token: string | undefined) => Promise<Page<T>>): Promise<T[]> => {
    let items: T[] = [];
    try {
      await listPages(
        fetch,
        (item) => items.push(item),
        () => (items = []),
      );
    } catch (err) {
      throw new UsageError(`--kubeconfig ${o.kubeconfig}: cannot list ${what} of ${server}: ${apiErrorMessage(err)}`);
    }
    return items;
  };
  const nodes = await required<V1Node>('nodes', async (token) => {
    const l = await core.listNode({ limit, ...(token ? { _continue: token } : {}) });
    return { items: l.items, next: nextToken(l.metadata) };
  });
  const namespaces = await required<V1Namespace>('namespaces', async (token) => {
    const l = await core.listNamespace({ limit, ...(token ? { _continue: token } : {}) });
    return { items: l.items, next: nextToken(l.metadata) };
  });

  const podReader = new PodReader();
  let pods = new PodIndex();
  let fullPods: unknown[] = [];
  let podsIncomplete: string | undefined;
  try {
    await listPages(
      async (token) => {
        const l = await core.listPodForAllNamespaces({ limit, fieldSelector: SCHEDULED_PODS, ...(token ? { _continue: token } : {}) });
        // Read into the index and dropped, page by page.
        const items = l.items.map(asJson);
        podIndexOf(items, podReader, pods);
        if (o.keepPods) fullPods.push(...items.map(o.keepPods));
        return { items: [], next: nextToken(l.metadata) };
      },
      () => undefined,
      () => {
        pods = new PodIndex();
        fullPods = [];
      },
    );
  } catch (err) {
    podsIncomplete = `the pods of ${server} could not be listed (${apiErrorMessage(err)})`;
    pods = new PodIndex();
    fullPods = [];
    warnings.push(`warning: ${podsIncomplete}; whether a pod would be scheduled now is not answered`);
  }

  const capacityProblems: string[] = [];
  const listCustom = async (group: string, version: string, plural: string): Promise<unknown[]> => {
    let items: unknown[] = [];
    await listPages(
      async (token) => {
        const l: unknown = await custom.listClusterCustomObject({ group, version, plural, limit, ...(token ? { _continue: token } : {}) });
        return {
          items: isObject(l) && Array.isArray(l['items']) ? (l['items'] as unknown[]) : [],
          next: nextToken(isObject(l) ? l['metadata'] : undefined),
        };
      },
      (item) => items.push(item),
      () => (items = []),
    );
    return items;
  };

  const nodePools: NodePool[] = [];
  for (const version of NODEPOOL_VERSIONS) {
    let objects: unknown[];
    try {
      objects = await listCustom(KARPENTER_GROUP, version, 'nodepools');
    } catch (err) {
      if (statusCode(err) === 404) continue;
      capacityProblems.push(`the NodePools (${KARPENTER_GROUP}/${version}) could not be listed (${apiErrorMessage(err)})`);
      break;
    }
    for (const obj of objects) {
      const { pool, errors } = parseNodePool(obj);
      if (pool) nodePools.push(pool);
      else {
        const name = isObject(obj) && isObject(obj['metadata']) ? obj['metadata']['name'] : undefined;
        capacityProblems.push(
          `NodePool ${typeof name === 'string' ? name : '(unnamed)'} cannot be read (${errors.map(formatFieldError).join('; ')})`,
        );
      }
    }
    break;
  }

  const machineGroups: unknown[] = [];
  let clusterApiVersion: string | undefined;
  try {
    const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
    const g = (groups.groups ?? []).find((x) => x.name === CLUSTER_API_GROUP);
    clusterApiVersion = g ? (g.preferredVersion?.version ?? g.versions[0]?.version) : undefined;
  } catch (err) {
    capacityProblems.push(`API discovery failed, so Cluster API node groups are not known (${apiErrorMessage(err)})`);
  }
  if (clusterApiVersion) {
    for (const plural of CLUSTER_API_PLURALS) {
      try {
        machineGroups.push(...(await listCustom(CLUSTER_API_GROUP, clusterApiVersion, plural)));
      } catch (err) {
        if (statusCode(err) !== 404)
          capacityProblems.push(`the ${plural} (${CLUSTER_API_GROUP}/${clusterApiVersion}) could not be listed (${apiErrorMessage(err)})`);
      }
    }
  }
  for (const p of capacityProblems) warnings.push(`warning: ${p}; a pod no node fits is not denied for it`);

  const ruleSet = rules.ruleSet;
  const cluster = new StaticCluster(ruleSet, nodes, namespaces, {
    pods,
    ...(podsIncomplete ? { podsIncomplete } : {}),
    nodePools,
    machineGroups,
    ...(capacityProblems.length > 0 ? { capacityIncomplete: capacityProblems.join('; ') } : {}),
  });
  return {
    cluster,
    ruleSet,
    podReader,
    server,
    warnings,
    pods: fullPods,
    counts: { nodes: nodes.length, namespaces: namespaces.length, pods: pods.size, nodePools: nodePools.length, machineGroups: machineGroups.length },
  };
}
