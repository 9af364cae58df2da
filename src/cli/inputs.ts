/**
 * Reading the CLI's inputs: the rules document, nodes and namespaces, from files or the embedded examples, and the
 * objects `check` takes. Every failure is a `PlacementError` (exit 2) whose message says which file and what is
 * wrong; warnings about a file that is used anyway go to stderr as it is read.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Node } from '@kubernetes/client-node';
import { CLUSTER_API_GROUP, CLUSTER_API_KINDS, clusterApiCapacity } from '../capacity/cluster-api.js';
import { KARPENTER_GROUP, NODEPOOL_VERSIONS, parseNodePool, type NodePool } from '../capacity/nodepool.js';
import { formatFieldError, InvalidDocumentError, PlacementError, type FieldError } from '../util/errors.js';
import { parseNamespaces, parseObjects, parsePods, type KubeObject } from '../cluster/objects.js';
import { StaticCluster } from '../cluster/static.js';
import { loadRules, type RuleSet } from '../rules/compile.js';
import { PodIndex, PodReader } from '../scheduling/pods.js';
import { loadYaml, OBJECTS_LIMITS } from '../util/yaml.js';
import { namespaceFileProblems, nodeFileProblems, type FileProblems } from './cluster-files.js';
import { isObject } from '../util/json.js';

/** Bad flags, unreadable or invalid input: exit code 2. */
export class UsageError extends PlacementError {
  override name = 'UsageError';
}

/** The package root (holds `examples/`, `certs/`), from `src/cli` or `dist/cli` alike. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXAMPLES = {
  rules: join(PACKAGE_ROOT, 'examples', 'rules.yaml'),
  nodes: join(PACKAGE_ROOT, 'examples', 'nodes.yaml'),
  namespaces: join(PACKAGE_ROOT, 'examples', 'namespaces.yaml'),
} as const;

/** How messages name a file: `-` is stdin. */
export const fileName = (file: string): string => (file === '-' ? 'stdin' : file);

export async function readText(file: string): Promise<string> {
  try {
    return file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${fileName(file)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The flags that name the inputs, for `parseArgs` (check, replay; serve has its own list). */
export const INPUT_OPTIONS = {
  rules: { type: 'string' },
  nodes: { type: 'string' },
  namespaces: { type: 'string' },
  pods: { type: 'string' },
  nodepools: { type: 'string' },
} as const;

export interface InputFiles {
  rules?: string | undefined;
  nodes?: string | undefined;
  namespaces?: string | undefined;
  pods?: string | undefined;
  nodepools?: string | undefined;
}

/**
 * What stands for pods that were not given: `empty` answers "would it be scheduled now" as if the nodes were empty
 * (`check`); `unknown` leaves that question unasked (`serve`, `replay`: the webhook without a pod cache).
 */
export type WithoutPods = 'empty' | 'unknown';

export interface Inputs {
  readonly ruleSet: RuleSet;
  readonly cluster: StaticCluster;
  readonly files: { readonly rules: string; readonly nodes: string | undefined; readonly namespaces: string | undefined };
  /** True when the embedded examples stand in for files that were not given. */
  readonly usingExamples: boolean;
  /** True when `--pods` was given. */
  readonly podsGiven: boolean;
  /** The reader the pods were read with, for pods added later (the replicas `check` simulates). */
  readonly podReader: PodReader;
}

/** Throws the errors (each line one problem), writes the warnings to stderr. */
function report(problems: FileProblems): void {
  if (problems.errors.length > 0) throw new UsageError(problems.errors.join('\n'));
  for (const w of problems.warnings) process.stderr.write(`${w}\n`);
}

/**
 * Loads rules, nodes (and Cluster API node groups), namespaces, pods and NodePools. With none of them given, the
 * embedded examples are used, so that `npm start` on a fresh clone serves something meaningful. Nodes and
 * namespaces get the checks of `cluster-files.ts`: errors refuse the file, warnings go to stderr.
 */
export async function loadInputs(given: InputFiles, withoutPods: WithoutPods = 'unknown'): Promise<Inputs> {
  const usingExamples = !given.rules && !given.nodes && !given.namespaces && !given.pods && !given.nodepools;
  const files = usingExamples ? { ...EXAMPLES } : { rules: given.rules, nodes: given.nodes, namespaces: given.namespaces };
  const rulesFile = files.rules;
  if (!rulesFile) throw new UsageError('--rules FILE is required when --nodes, --namespaces, --pods or --nodepools is given');
  try {
    const ruleSet = loadRules(await readText(rulesFile), fileName(rulesFile));
    const nodesFile = files.nodes ? readNodesFile(await readText(files.nodes), fileName(files.nodes)) : undefined;
    const nodes = nodesFile?.nodes;
    if (nodes && files.nodes) report(nodeFileProblems(nodes, fileName(files.nodes)));
    const namespaces = files.namespaces ? parseNamespaces(await readText(files.namespaces), fileName(files.namespaces)) : [];
    if (files.namespaces) report(namespaceFileProblems(namespaces, fileName(files.namespaces)));
    const podReader = new PodReader();
    let pods: PodIndex | undefined;
    if (given.pods) {
      const name = fileName(given.pods);
      pods = podIndexOf(parsePods(await readText(given.pods), name), podReader);
      if (nodes) for (const w of unknownNodeWarnings(pods, nodes)) process.stderr.write(`${name}: warning: ${w}\n`);
    } else if (withoutPods === 'empty') pods = new PodIndex();
    const nodePools = given.nodepools ? readNodePoolsFile(await readText(given.nodepools), fileName(given.nodepools)) : [];
    return {
      ruleSet,
      cluster: new StaticCluster(ruleSet, nodes, namespaces, { ...(pods ? { pods } : {}), nodePools, machineGroups: nodesFile?.machineGroups ?? [] }),
      files: { ...files, rules: rulesFile },
      usingExamples,
      podsGiven: given.pods !== undefined,
      podReader,
    };
  } catch (err) {
    if (err instanceof PlacementError && !(err instanceof UsageError) && !(err instanceof InvalidDocumentError)) throw new UsageError(err.message);
    throw err;
  }
}

/** The pods as placement keeps them (`PodReader`), indexed; pods no filter counts (unbound, finished) are left out. */
export function podIndexOf(pods: Iterable<unknown>, reader: PodReader, index: PodIndex = new PodIndex()): PodIndex {
  for (const pod of pods) {
    const placed = reader.read(pod);
    if (placed) index.upsert(placed);
  }
  return index;
}

/** `3 pod(s) are bound to nodes not in --nodes (node "x", ...); no filter counts them`, or nothing. */
export function unknownNodeWarnings(pods: PodIndex, nodes: readonly V1Node[]): string[] {
  const known = new Set(nodes.map((n) => n.metadata?.name ?? ''));
  const missing = new Map<string, number>();
  for (const p of pods.all()) if (!known.has(p.nodeName)) missing.set(p.nodeName, (missing.get(p.nodeName) ?? 0) + 1);
  if (missing.size === 0) return [];
  const count = [...missing.values()].reduce((a, b) => a + b, 0);
  const names = [...missing.keys()]
    .slice(0, 3)
    .map((n) => JSON.stringify(n))
    .join(', ');
  return [`${count} pod(s) are bound to nodes not in --nodes (node ${names}${missing.size > 3 ? ', ...' : ''}); no filter counts them`];
}

const groupOf = (apiVersion: unknown): string | undefined =>
  typeof apiVersion === 'string' && apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : undefined;

/** What a `--nodes` file holds: Nodes, and the Cluster API node groups (MachineDeployments, MachineSets). */
export interface NodesFile {
  readonly nodes: V1Node[];
  readonly machineGroups: KubeObject[];
}

/**
 * Nodes and Cluster API MachineDeployments/MachineSets, told apart by kind (an object without kind is a Node, as
 * `parseNodes` reads it). Anything else, an unnamed object, or a MachineDeployment of another API group is refused.
 * A group cluster-autoscaler does not scale from zero is warned about on stderr (it adds nothing).
 */
export function readNodesFile(text: string, source: string): NodesFile {
  const objects = parseObjects(text, source);
  const errors: FieldError[] = [];
  const nodes: V1Node[] = [];
  const machineGroups: KubeObject[] = [];
  objects.forEach((o, i) => {
    const at = `objects[${i}]`;
    if (!o.metadata?.name) errors.push({ type: 'Required', path: `${at}.metadata.name`, detail: 'required value' });
    if (o.kind === undefined || o.kind === 'Node') nodes.push(o);
    else if ((CLUSTER_API_KINDS as readonly string[]).includes(o.kind)) {
      const group = groupOf(o.apiVersion);
      if (o.apiVersion !== undefined && group !== CLUSTER_API_GROUP) {
        errors.push({ type: 'Invalid', path: `${at}.apiVersion`, detail: `expected ${CLUSTER_API_GROUP}/..., got ${JSON.stringify(o.apiVersion)}` });
      } else machineGroups.push(o);
    } else
      errors.push({ type: 'Invalid', path: `${at}.kind`, detail: `expected Node, ${CLUSTER_API_KINDS.join(' or ')}, got ${JSON.stringify(o.kind)}` });
  });
  if (errors.length > 0) throw new InvalidDocumentError(source, errors);
  for (const g of machineGroups) {
    if (clusterApiCapacity(g) !== undefined) continue;
    const owned =
      g.kind === 'MachineSet' &&
      Array.isArray(g.metadata?.['ownerReferences']) &&
      (g.metadata['ownerReferences'] as unknown[]).some((r) => isObject(r) && r['kind'] === 'MachineDeployment');
    const why = owned
      ? 'it belongs to a MachineDeployment, which is the node group'
      : 'cluster-autoscaler does not scale it from zero (that needs the cluster-api-autoscaler-node-group-max-size annotation above 0 and the capacity cpu and memory annotations)';
    process.stderr.write(
      `${source}: warning: ${g.kind} ${g.metadata?.namespace ? `${g.metadata.namespace}/` : ''}${g.metadata?.name ?? ''}: not used as capacity an autoscaler can add: ${why}\n`,
    );
  }
  return { nodes, machineGroups };
}

const NODEPOOL_API_VERSIONS = NODEPOOL_VERSIONS.map((v) => `${KARPENTER_GROUP}/${v}`);

/**
 * Karpenter NodePools (`karpenter.sh/v1` or `v1beta1`; YAML or JSON, several documents or a List). A pool that cannot
 * be read (a requirement or a limit that does not parse), another kind or version, refuses the file: a pool read
 * without what it constrains would be wider than the real one. A pool without a status counts as not Ready, as
 * Karpenter counts it; that is warned about on stderr (`kubectl get nodepools -o yaml` has the status).
 */
export function readNodePoolsFile(text: string, source: string): NodePool[] {
  const objects = parseObjects(text, source);
  const problems: string[] = [];
  const pools: NodePool[] = [];
  objects.forEach((o, i) => {
    const label = `${source}: ${o.metadata?.name ? `${typeof o.kind === 'string' ? o.kind : 'object'} ${o.metadata.name}` : `objects[${i}]`}`;
    if (o.kind !== 'NodePool') {
      problems.push(`${label}: kind: expected NodePool, got ${o.kind === undefined ? 'none' : JSON.stringify(o.kind)}`);
      return;
    }
    if (o.apiVersion !== undefined && !NODEPOOL_API_VERSIONS.includes(o.apiVersion)) {
      problems.push(
        `${label}: apiVersion: unsupported value ${JSON.stringify(o.apiVersion)}; supported values: ${NODEPOOL_API_VERSIONS.map((v) => JSON.stringify(v)).join(', ')}`,
      );
      return;
    }
    const { pool, errors } = parseNodePool(o);
    if (!pool) {
      // A quantity's own message names its path already.
      const line = (e: FieldError) => (e.path !== '' && e.detail.startsWith(`${e.path}: `) ? e.detail : formatFieldError(e));
      problems.push(...errors.map((e) => `${label}: ${line(e)}; the NodePool cannot be read`));
      return;
    }
    if (!isObject(o['status']))
      process.stderr.write(
        `${label}: warning: no status: it counts as not Ready, and its limits as unused (kubectl get nodepools -o yaml has the status)\n`,
      );
    if (pool.deleting) process.stderr.write(`${label}: warning: being deleted: Karpenter ignores it\n`);
    pools.push(pool);
  });
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  if (pools.length === 0) throw new UsageError(`no objects in ${source}`);
  return pools;
}

/** One object of a file `check` reads, and where it is: `document 2`, `items[0]`, `document 2: items[0]`, or ''. */
export interface LocatedObject {
  readonly object: KubeObject;
  readonly at: string;
}

/**
 * Every object in `file` (YAML or JSON, several documents, `v1 List`s flattened), with where each one is. Throws an
 * `InvalidDocumentError` for text that does not parse or a document that is not an object, and a `UsageError`
 * for a file that holds no object at all (empty, or only `---`).
 */
export async function readObjects(file: string): Promise<LocatedObject[]> {
  const name = fileName(file);
  const loaded = loadYaml(await readText(file), OBJECTS_LIMITS);
  if (!loaded.ok) throw new InvalidDocumentError(name, loaded.errors);
  const many = loaded.values.length > 1;
  const out: LocatedObject[] = [];
  const errors: FieldError[] = [];
  for (const { value, document } of loaded.values) {
    const doc = many ? `document ${document}` : '';
    const add = (v: unknown, at: string) => {
      if (isObject(v)) out.push({ object: v, at });
      else errors.push({ type: 'Invalid', path: at, detail: 'not a Kubernetes object' });
    };
    if (isObject(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && Array.isArray(value['items'])) {
      (value['items'] as unknown[]).forEach((item, i) => add(item, doc === '' ? `items[${i}]` : `${doc}: items[${i}]`));
    } else add(value, doc);
  }
  if (errors.length > 0) throw new InvalidDocumentError(name, errors);
  if (out.length === 0) throw new UsageError(`no objects in ${name}`);
  return out;
}
