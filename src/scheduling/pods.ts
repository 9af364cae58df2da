/**
 * The pods bound to nodes, as the scheduler's cache holds them, and kept small: a cluster has 30 pods per node,
 * 150,000 at 5,000 nodes, and placement needs almost nothing of each.
 *
 * Which pods count (after `pkg/scheduler/eventhandlers.go` `assignedPod` and the scheduler's pod informer, whose
 * field selector is `status.phase!=Succeeded,status.phase!=Failed`): every pod with `spec.nodeName` whose phase is
 * not `Succeeded` or `Failed`, of any scheduler, including pods being deleted. Pods bound to a node that does not
 * exist are kept, but no filter sees them (the scheduler's snapshot has only real nodes). Pods being deleted count
 * for resources, ports and inter-pod affinity, but not for topology spread (`countPodsMatchSelector` skips them).
 *
 * What is kept of a pod: namespace, name, node, labels, effective requests, host ports, required anti-affinity
 * terms, priority, and whether it is being deleted. Labels, requests and terms are interned: the replicas of a
 * workload share one object of each, so a pod costs its name and a few references.
 */
import type { V1PodAffinityTerm } from '@kubernetes/client-node';
import { podRequests } from './resources.js';
import type { Labels } from './types.js';
import { isObject } from '../util/json.js';

/** A host port as `HostPortInfo` keeps it: empty IP is 0.0.0.0, empty protocol TCP. */
export interface HostPort {
  readonly ip: string;
  readonly protocol: string;
  readonly port: number;
}

export interface PlacedPod {
  readonly namespace: string;
  readonly name: string;
  readonly nodeName: string;
  readonly labels: Labels;
  /** Effective requests in the scheduler's units (see `./resources.ts`). */
  readonly requests: ReadonlyMap<string, bigint>;
  readonly hostPorts: readonly HostPort[];
  /** Required anti-affinity terms, as written (compiled where they are used). */
  readonly antiAffinity: readonly V1PodAffinityTerm[];
  /** `spec.priority`, 0 when absent (as the scheduler reads it). */
  readonly priority: number;
  /** `metadata.deletionTimestamp` is set. */
  readonly terminating: boolean;
}

export const WILDCARD_IP = '0.0.0.0';
const DEFAULT_PROTOCOL = 'TCP';

const EMPTY_PORTS: readonly HostPort[] = Object.freeze([]);
const EMPTY_TERMS: readonly V1PodAffinityTerm[] = Object.freeze([]);
const EMPTY_LABELS: Labels = Object.freeze({});

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Interns values by a canonical key, so that equal ones are one object. */
class Interner<T> {
  private readonly byKey = new Map<string, T>();
  get size(): number {
    return this.byKey.size;
  }
  intern(key: string, make: () => T): T {
    let v = this.byKey.get(key);
    if (v === undefined) {
      v = make();
      this.byKey.set(key, v);
    }
    return v;
  }
}

/**
 * Reads pods into `PlacedPod`s, sharing what replicas share. One reader per cache: its tables live as long as it
 * does (entries are never evicted; their number is bounded by the distinct label sets, request shapes and terms).
 */
export class PodReader {
  private readonly labels = new Interner<Labels>();
  private readonly requests = new Interner<ReadonlyMap<string, bigint>>();
  private readonly terms = new Interner<readonly V1PodAffinityTerm[]>();
  private readonly ports = new Interner<readonly HostPort[]>();
  private readonly strings = new Interner<string>();

  /** Distinct interned values, for the memory figures. */
  get interned(): { labels: number; requests: number; terms: number } {
    return { labels: this.labels.size, requests: this.requests.size, terms: this.terms.size };
  }

  /**
   * The pod as placement keeps it, or undefined when no filter counts it: not bound to a node, or terminal
   * (`Succeeded`, `Failed`). Never throws: a pod whose requests cannot be read counts with none.
   */
  read(pod: unknown): PlacedPod | undefined {
    if (!isObject(pod)) return undefined;
    const metadata = isObject(pod['metadata']) ? pod['metadata'] : {};
    const spec = isObject(pod['spec']) ? pod['spec'] : {};
    const status = isObject(pod['status']) ? pod['status'] : {};
    const nodeName = spec['nodeName'];
    const name = metadata['name'];
    if (typeof nodeName !== 'string' || nodeName === '' || typeof name !== 'string') return undefined;
    if (status['phase'] === 'Succeeded' || status['phase'] === 'Failed') return undefined;
    const namespace = typeof metadata['namespace'] === 'string' ? metadata['namespace'] : 'default';
    const priority = spec['priority'];
    return {
      namespace: this.strings.intern(namespace, () => namespace),
      name,
      nodeName: this.strings.intern(nodeName, () => nodeName),
      labels: this.readLabels(metadata['labels']),
      requests: this.readRequests(spec),
      hostPorts: this.readPorts(spec),
      antiAffinity: this.readAntiAffinity(spec),
      priority: typeof priority === 'number' && Number.isInteger(priority) ? priority : 0,
      terminating: typeof metadata['deletionTimestamp'] === 'string' && metadata['deletionTimestamp'] !== '',
    };
  }

  private readLabels(v: unknown): Labels {
    if (!isObject(v)) return EMPTY_LABELS;
    const entries = Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string');
    if (entries.length === 0) return EMPTY_LABELS;
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return this.labels.intern(JSON.stringify(entries), () => Object.freeze(Object.fromEntries(entries)));
  }

  private readRequests(spec: Record<string, unknown>): ReadonlyMap<string, bigint> {
    let requests: Map<string, bigint>;
    try {
      requests = podRequests({ spec } as never);
    } catch {
      requests = new Map();
    }
    const key = [...requests].map(([k, n]) => `${k}=${n}`).join(',');
    return this.requests.intern(key, () => requests);
  }

  private readPorts(spec: Record<string, unknown>): readonly HostPort[] {
    const ports: HostPort[] = [];
    const containers = [
      ...list(spec['containers']),
      // Sidecars (restartable init containers) hold their ports while the pod runs, as the scheduler counts them.
      ...list(spec['initContainers']).filter((c) => isObject(c) && c['restartPolicy'] === 'Always'),
    ];
    for (const c of containers) {
      for (const p of list(isObject(c) ? c['ports'] : undefined)) {
        if (!isObject(p)) continue;
        const hostPort = p['hostPort'];
        if (typeof hostPort !== 'number' || hostPort <= 0) continue;
        const ip = typeof p['hostIP'] === 'string' && p['hostIP'] !== '' ? p['hostIP'] : WILDCARD_IP;
        const protocol = typeof p['protocol'] === 'string' && p['protocol'] !== '' ? p['protocol'] : DEFAULT_PROTOCOL;
        ports.push({ ip, protocol, port: hostPort });
      }
    }
    if (ports.length === 0) return EMPTY_PORTS;
    return this.ports.intern(JSON.stringify(ports), () => Object.freeze(ports));
  }

  private readAntiAffinity(spec: Record<string, unknown>): readonly V1PodAffinityTerm[] {
    const affinity = isObject(spec['affinity']) ? spec['affinity'] : undefined;
    const anti = affinity && isObject(affinity['podAntiAffinity']) ? affinity['podAntiAffinity'] : undefined;
    const terms = list(anti?.['requiredDuringSchedulingIgnoredDuringExecution']).filter(isObject) as unknown as V1PodAffinityTerm[];
    if (terms.length === 0) return EMPTY_TERMS;
    return this.terms.intern(JSON.stringify(terms), () => Object.freeze(structuredClone(terms)));
  }
}

/** Removes `item` from `list` by moving the last element into its place (order is not kept). */
function swapRemove<T>(list: T[], item: T): void {
  const i = list.lastIndexOf(item);
  if (i < 0) return;
  list[i] = list[list.length - 1] as T;
  list.pop();
}

/** Per node: its pods, and what they use. */
export interface NodeUsage {
  readonly pods: PlacedPod[];
  /** Sum of the pods' requests, per resource. */
  readonly requested: Map<string, bigint>;
}

/** A set of pods sharing one label set in one namespace (the unit selectors are matched against). */
export interface LabelGroup {
  readonly namespace: string;
  readonly labels: Labels;
  /** Its pods (an array: a few bytes a pod, where a Set entry costs tens; removal is a swap with the last). */
  readonly pods: PlacedPod[];
}

/**
 * The pods bound to nodes, indexed for the pod-aware filters: per node (pods, summed requests), and per namespace
 * by label set, with `key=value` postings over the label sets, so that a selector is matched once per distinct
 * label set and its candidates come from one posting. Updated incrementally, one pod event at a time.
 */
export class PodIndex {
  private readonly byKey = new Map<string, Map<string, PlacedPod>>();
  private readonly byNode = new Map<string, NodeUsage>();
  /** namespace → label set (interned object) → group */
  private readonly groups = new Map<string, Map<Labels, LabelGroup>>();
  /** namespace → `key=value` → groups with that label */
  private readonly postings = new Map<string, Map<string, Set<LabelGroup>>>();
  /** Pods with required anti-affinity terms (existing pods' terms are checked against every incoming pod). */
  private readonly antiAffine = new Set<PlacedPod>();
  /**
   * The same pods by a `key=value` each of their terms requires of the pods it selects: an incoming pod can only be
   * selected by the terms filed under one of its own labels, or by those that require no single value.
   */
  private readonly antiByLabel = new Map<string, Set<PlacedPod>>();
  private readonly antiUnkeyed = new Set<PlacedPod>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(namespace: string, name: string): PlacedPod | undefined {
    return this.byKey.get(namespace)?.get(name);
  }

  /** Adds or replaces a pod (by namespace and name). */
  upsert(pod: PlacedPod): void {
    const existing = this.get(pod.namespace, pod.name);
    if (existing === pod) return;
    if (existing) this.unlink(existing);
    else this.count++;
    let names = this.byKey.get(pod.namespace);
    if (!names) {
      names = new Map();
      this.byKey.set(pod.namespace, names);
    }
    names.set(pod.name, pod);
    this.link(pod);
  }

  remove(namespace: string, name: string): void {
    const pod = this.get(namespace, name);
    if (!pod) return;
    this.unlink(pod);
    const names = this.byKey.get(namespace);
    names?.delete(name);
    if (names?.size === 0) this.byKey.delete(namespace);
    this.count--;
  }

  /** Every pod, for reconciling a fresh list. */
  *all(): IterableIterator<PlacedPod> {
    for (const names of this.byKey.values()) yield* names.values();
  }

  onNode(nodeName: string): NodeUsage | undefined {
    return this.byNode.get(nodeName);
  }

  /** Existing pods with required anti-affinity terms. */
  withAntiAffinity(): ReadonlySet<PlacedPod> {
    return this.antiAffine;
  }

  /** The pods whose required anti-affinity may select a pod with `labels` (a superset: each term is still to be checked). */
  *antiAffinityFor(labels: Labels): IterableIterator<PlacedPod> {
    const seen = new Set<PlacedPod>();
    for (const p of this.antiUnkeyed) {
      seen.add(p);
      yield p;
    }
    for (const [k, v] of Object.entries(labels)) {
      for (const p of this.antiByLabel.get(`${k}=${v}`) ?? []) {
        if (seen.has(p)) continue;
        seen.add(p);
        yield p;
      }
    }
  }

  /** The label groups of a namespace holding label `key=value`; undefined when none. */
  groupsWith(namespace: string, key: string, value: string): ReadonlySet<LabelGroup> | undefined {
    return this.postings.get(namespace)?.get(`${key}=${value}`);
  }

  /** Every label group of a namespace. */
  groupsIn(namespace: string): Iterable<LabelGroup> {
    return this.groups.get(namespace)?.values() ?? [];
  }

  namespaces(): Iterable<string> {
    return this.groups.keys();
  }

  private link(pod: PlacedPod): void {
    let usage = this.byNode.get(pod.nodeName);
    if (!usage) {
      usage = { pods: [], requested: new Map() };
      this.byNode.set(pod.nodeName, usage);
    }
    usage.pods.push(pod);
    for (const [r, n] of pod.requests) usage.requested.set(r, (usage.requested.get(r) ?? 0n) + n);
    let groups = this.groups.get(pod.namespace);
    if (!groups) {
      groups = new Map();
      this.groups.set(pod.namespace, groups);
    }
    let group = groups.get(pod.labels);
    if (!group) {
      group = { namespace: pod.namespace, labels: pod.labels, pods: [] };
      groups.set(pod.labels, group);
      let postings = this.postings.get(pod.namespace);
      if (!postings) {
        postings = new Map();
        this.postings.set(pod.namespace, postings);
      }
      for (const [k, v] of Object.entries(pod.labels)) {
        const key = `${k}=${v}`;
        let set = postings.get(key);
        if (!set) {
          set = new Set();
          postings.set(key, set);
        }
        set.add(group);
      }
    }
    group.pods.push(pod);
    if (pod.antiAffinity.length > 0) {
      this.antiAffine.add(pod);
      for (const key of antiAffinityKeys(pod)) {
        if (key === undefined) this.antiUnkeyed.add(pod);
        else {
          let set = this.antiByLabel.get(key);
          if (!set) {
            set = new Set();
            this.antiByLabel.set(key, set);
          }
          set.add(pod);
        }
      }
    }
  }

  private unlink(pod: PlacedPod): void {
    const usage = this.byNode.get(pod.nodeName);
    if (usage) {
      swapRemove(usage.pods, pod);
      for (const [r, n] of pod.requests) {
        const left = (usage.requested.get(r) ?? 0n) - n;
        if (left === 0n) usage.requested.delete(r);
        else usage.requested.set(r, left);
      }
      if (usage.pods.length === 0) this.byNode.delete(pod.nodeName);
    }
    const groups = this.groups.get(pod.namespace);
    const group = groups?.get(pod.labels);
    if (group) {
      swapRemove(group.pods, pod);
      if (group.pods.length === 0) {
        groups?.delete(pod.labels);
        const postings = this.postings.get(pod.namespace);
        for (const [k, v] of Object.entries(pod.labels)) {
          const key = `${k}=${v}`;
          const set = postings?.get(key);
          set?.delete(group);
          if (set?.size === 0) postings?.delete(key);
        }
        if (groups?.size === 0) {
          this.groups.delete(pod.namespace);
          this.postings.delete(pod.namespace);
        }
      }
    }
    if (this.antiAffine.delete(pod)) {
      for (const key of antiAffinityKeys(pod)) {
        if (key === undefined) this.antiUnkeyed.delete(pod);
        else {
          const set = this.antiByLabel.get(key);
          set?.delete(pod);
          if (set?.size === 0) this.antiByLabel.delete(key);
        }
      }
    }
  }
}

/**
 * For each required anti-affinity term of a pod, a `key=value` the term requires of the pods it selects (its first
 * `matchLabels` entry, or an `In` with one value), or undefined when it requires none. A term without a selector
 * selects nothing and is left out.
 */
function antiAffinityKeys(pod: PlacedPod): (string | undefined)[] {
  const keys: (string | undefined)[] = [];
  for (const t of pod.antiAffinity) {
    const sel = t.labelSelector;
    if (sel == null) continue;
    const [first] = Object.entries(sel.matchLabels ?? {});
    const single = (sel.matchExpressions ?? []).find((e) => e.operator === 'In' && e.values?.length === 1);
    keys.push(first ? `${first[0]}=${first[1]}` : single ? `${single.key}=${single.values?.[0] as string}` : undefined);
  }
  return keys;
}
