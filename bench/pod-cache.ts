/**
 * The cluster-mode pod cache (`PodCache`, src/cluster/pods.ts) listing and watching the pods of a big cluster —
 * 150,000 pods bound to 5,000 nodes, about 5.4 KB of JSON each — served by the fake API server
 * (test/support/fake-apiserver.ts) in a process of its own. See bench/README.md ("Pod cache").
 *
 *   npx tsx bench/pod-cache.ts [--json]       # PODS=20000 for a quick run; EVENTS=N watch events per round
 *
 * One file, three processes:
 * - the driver (this entry point, or `podCacheBench()` from run.ts) forks the measured process and prints;
 * - `--measure` (forked with --expose-gc): the PodCache under test, its event loop watched; it forks the server;
 * - `--serve`: FakeApiServer with the pods loaded, sending watch events when told to (IPC), so that building and
 *   serializing the API objects never runs on the measured thread.
 *
 * Progress goes to stderr; the report (markdown, or JSON with --json) to stdout.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { PodCache, type PodListStats } from '../src/cluster/pods.js';
import { prng } from './generate.js';

const SELF = fileURLToPath(import.meta.url);

export const POD_CACHE_DEFAULT_PODS = 150_000;
export const POD_CACHE_PODS_PER_NODE = 30;
/** Watch events per round, at most (and at most half the pods: the two rounds touch different pods). */
const DEFAULT_EVENTS = 20_000;
/** Pods of the small server that warms the measured process's code paths before the baseline. */
const WARM_PODS = 600;
const WARM_EVENTS = 200;

const TARGET_BLOCK_MS = 50;
const TARGET_EVENTS_PER_S = 10_000;
const TARGET_RSS_PER_POD = 300;

const READY_TIMEOUT_MS = 15 * 60_000;
const LIST_TIMEOUT_MS = 20 * 60_000;
const ROUND_TIMEOUT_MS = 5 * 60_000;
const RESULT_TIMEOUT_MS = 45 * 60_000;

const SENTINEL_LABEL = 'bench.example/round';

const progress = (role: string, msg: string) => process.stderr.write(`[bench] pod-cache ${role}: ${msg}\n`);

// ---- the pods -----------------------------------------------------------------------------------------------------

/**
 * A workload's replicas share every label (one label set each). Replica counts cycle through these, 25 on average:
 * 150,000 pods are 6,000 workloads, hence 6,000 label sets.
 */
const REPLICAS = [1, 2, 3, 5, 8, 10, 15, 20, 25, 30, 40, 50, 60, 80, 26] as const;
const TEAMS = [
  'checkout',
  'payments',
  'search',
  'catalog',
  'identity',
  'ads',
  'growth',
  'ml',
  'data',
  'platform',
  'media',
  'messaging',
  'fraud',
  'pricing',
  'shipping',
  'support',
  'reviews',
  'loyalty',
  'maps',
  'infra',
];
const STAGES = ['prod', 'staging', 'canary'];
const SIZES = [
  { cpu: '50m', memory: '64Mi' },
  { cpu: '100m', memory: '128Mi' },
  { cpu: '250m', memory: '256Mi' },
  { cpu: '500m', memory: '512Mi' },
  { cpu: '1', memory: '1Gi' },
  { cpu: '2', memory: '4Gi' },
] as const;

/** An integer hash of two numbers: per-pod "random" names and digests without generator state. */
function mix(a: number, b: number): number {
  let x = (Math.imul(a ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x2c1b3c6d);
  x ^= x >>> 12;
  x = Math.imul(x, 0x297a2d39);
  x ^= x >>> 15;
  return x >>> 0;
}

const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
function word(seed: number, salt: number, length: number): string {
  let s = '';
  for (let k = 0; k < length; k++) s += ALPHABET[mix(seed, salt * 97 + k) % ALPHABET.length];
  return s;
}
function hex(seed: number, salt: number, length: number): string {
  let s = '';
  for (let k = 0; s.length < length; k++)
    s += mix(seed, salt * 131 + k)
      .toString(16)
      .padStart(8, '0');
  return s.slice(0, length);
}

interface Workload {
  readonly w: number;
  readonly namespace: string;
  readonly team: string;
  readonly product: string;
  readonly app: string;
  readonly hash: string;
  readonly version: string;
  readonly first: number;
  readonly replicas: number;
}

interface Cluster {
  readonly pods: number;
  readonly nodes: number;
  readonly workloads: readonly Workload[];
  /** Pod index → its workload (pods are numbered workload after workload). */
  readonly workloadOf: Int32Array;
  /** Pod index → its node; only where pods are built (the server). */
  readonly nodeOf: Int32Array | undefined;
}

function makeCluster(pods: number, withNodes: boolean): Cluster {
  const workloads: Workload[] = [];
  const workloadOf = new Int32Array(pods);
  for (let w = 0, first = 0; first < pods; w++) {
    const replicas = Math.min(REPLICAS[w % REPLICAS.length] as number, pods - first);
    const team = TEAMS[w % TEAMS.length] as string;
    const stage = STAGES[Math.floor(w / TEAMS.length) % STAGES.length] as string;
    const app = `${team}-${word(w, 1, 4)}-${w}`;
    workloads.push({
      w,
      namespace: `${team}-${stage}`,
      team,
      product: `${team}-${['web', 'core', 'jobs'][w % 3] as string}`,
      app,
      hash: word(w, 2, 10),
      version: `v${1 + (w % 4)}.${w % 17}.${w % 5}`,
      first,
      replicas,
    });
    workloadOf.fill(w, first, first + replicas);
    first += replicas;
  }
  const nodes = Math.ceil(pods / POD_CACHE_PODS_PER_NODE);
  let nodeOf: Int32Array | undefined;
  if (withNodes) {
    // Node slots, shuffled: each node gets (up to) 30 pods, a workload's replicas land on random nodes.
    nodeOf = new Int32Array(pods);
    for (let i = 0; i < pods; i++) nodeOf[i] = Math.floor(i / POD_CACHE_PODS_PER_NODE);
    const rand = prng(7 + pods);
    for (let i = pods - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = nodeOf[i] as number;
      nodeOf[i] = nodeOf[j] as number;
      nodeOf[j] = t;
    }
  }
  return { pods, nodes, workloads, workloadOf, nodeOf };
}

function workloadOf(c: Cluster, i: number): Workload {
  return c.workloads[c.workloadOf[i] as number] as Workload;
}

function podName(wl: Workload, i: number): string {
  return `${wl.app}-${wl.hash}-${word(i, 3, 5)}`;
}

const nodeName = (n: number) => `ip-10-${20 + (n >> 16)}-${(n >> 8) & 255}-${n & 255}.eu-west-1.compute.internal`;

/** The `version` label a relabelling round gives the pods of `wl`. */
const relabeled = (wl: Workload, round: number) => `${wl.version}-r${round}`;

interface Change {
  /** Relabel: `version` becomes `relabeled(wl, round)`. */
  readonly relabel?: number;
  /** Status only: restarts, a new start time and Ready transition. */
  readonly restarts?: number;
  /** The sentinel label (the last event of a round). */
  readonly sentinel?: number;
}

const at = (minute: number, second = 0) =>
  `2026-10-${String(1 + (minute % 28)).padStart(2, '0')}T${String(minute % 24).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}:${String(second % 60).padStart(2, '0')}Z`;

/**
 * Pod `i` as an API server sends it: one container (and a sidecar on a tenth of the workloads), env values and
 * secret references, two probes, volumes, managed fields, a full status — about 5.4 KB of JSON. 2 % of workloads keep their
 * replicas apart with required anti-affinity, 1 % hold a host port.
 */
function podObject(c: Cluster, i: number, change: Change = {}): Record<string, unknown> {
  const wl = workloadOf(c, i);
  const { w, app, team, namespace, hash } = wl;
  const node = c.nodeOf?.[i] ?? 0;
  const name = podName(wl, i);
  const size = SIZES[w % SIZES.length] as (typeof SIZES)[number];
  const labels: Record<string, string> = {
    app,
    'app.kubernetes.io/name': app,
    'app.kubernetes.io/part-of': wl.product,
    'pod-template-hash': hash,
    team,
    version: change.relabel === undefined ? wl.version : relabeled(wl, change.relabel),
  };
  if (change.sentinel !== undefined) labels[SENTINEL_LABEL] = String(change.sentinel);
  const restarts = change.restarts ?? 0;
  const created = at(w, i);
  const started = restarts === 0 ? at(w, i + 4) : at(w + restarts, i + 9);
  const podIP = `10.${100 + (node >> 12)}.${(node >> 4) & 255}.${((node & 15) << 4) + (i % 16)}`;
  const hostIP = `10.${20 + (node >> 16)}.${(node >> 8) & 255}.${node & 255}`;
  const image = `registry.example.com/${team}/${app}:${wl.version}`;
  const sidecar = w % 10 === 0;
  const probe = (path: string, period: number) => ({
    httpGet: { path, port: 'http', scheme: 'HTTP' },
    timeoutSeconds: 2,
    periodSeconds: period,
    failureThreshold: 3,
  });
  const containers: Record<string, unknown>[] = [
    {
      name: 'app',
      image,
      imagePullPolicy: 'IfNotPresent',
      ports: [
        { name: 'http', containerPort: 8080, protocol: 'TCP', ...(w % 100 === 37 ? { hostPort: 8080 } : {}) },
        { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
      ],
      env: [
        { name: 'APP_ENV', value: namespace.slice(team.length + 1) },
        { name: 'LOG_LEVEL', value: 'info' },
        { name: 'DB_HOST', value: `${team}-db.${namespace}.svc` },
        { name: 'DATABASE_PASSWORD', valueFrom: { secretKeyRef: { name: `${app}-db`, key: 'password' } } },
        { name: 'API_KEY', value: `sk_live_${hex(w, 4, 32)}` },
        { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
        { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
      ],
      resources: { requests: { cpu: size.cpu, memory: size.memory }, limits: { memory: size.memory } },
      livenessProbe: probe('/healthz', 10),
      readinessProbe: probe('/ready', 5),
      volumeMounts: [
        { name: 'config', mountPath: '/etc/app', readOnly: true },
        { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
      ],
      securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    },
  ];
  if (sidecar) {
    containers.push({
      name: 'log-shipper',
      image: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2',
      imagePullPolicy: 'IfNotPresent',
      env: [
        { name: 'FLB_LOG_LEVEL', value: 'warn' },
        { name: 'APP_NAME', value: app },
      ],
      resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } },
      volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    });
  }
  const spec: Record<string, unknown> = {
    volumes: [
      { name: 'config', configMap: { name: `${app}-config`, defaultMode: 420 } },
      {
        name: 'kube-api-access',
        projected: {
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          ],
          defaultMode: 420,
        },
      },
    ],
    containers,
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    serviceAccountName: app,
    nodeName: nodeName(node),
    securityContext: { fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
    schedulerName: 'default-scheduler',
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
    priorityClassName: w % 10 === 0 ? 'business-critical' : 'default',
    priority: w % 10 === 0 ? 100_000 : 0,
  };
  if (w % 50 === 3) {
    spec['affinity'] = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app } }, topologyKey: 'kubernetes.io/hostname' }],
      },
    };
  } else if (w % 5 === 1) {
    spec['topologySpreadConstraints'] = [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { app, 'pod-template-hash': hash } },
      },
    ];
  }
  const containerStatus = (cname: string, cimage: string, salt: number) => ({
    name: cname,
    state: { running: { startedAt: started } },
    lastState:
      restarts === 0
        ? {}
        : {
            terminated: {
              exitCode: 137,
              reason: 'OOMKilled',
              startedAt: created,
              finishedAt: started,
              containerID: `containerd://${hex(i, salt + 50, 64)}`,
            },
          },
    ready: true,
    restartCount: restarts,
    image: cimage,
    imageID: `${cimage.split(':')[0] as string}@sha256:${hex(w, salt, 64)}`,
    containerID: `containerd://${hex(i + restarts * 7919, salt, 64)}`,
    started: true,
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      generateName: `${app}-${hash}-`,
      namespace,
      uid: `${hex(i, 5, 8)}-${hex(i, 6, 4)}-4${hex(i, 7, 3)}-8${hex(i, 8, 3)}-${hex(i, 9, 12)}`,
      creationTimestamp: created,
      labels,
      annotations: {
        'kubectl.kubernetes.io/restartedAt': at(w),
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9090',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `${app}-${hash}`,
          uid: `${hex(w, 11, 8)}-${hex(w, 12, 4)}-4aaa-8bbb-${hex(w, 13, 12)}`,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: created,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/restartedAt': {}, 'f:prometheus.io/port': {}, 'f:prometheus.io/scrape': {} },
              'f:generateName': {},
              'f:labels': {
                '.': {},
                'f:app': {},
                'f:app.kubernetes.io/name': {},
                'f:app.kubernetes.io/part-of': {},
                'f:pod-template-hash': {},
                'f:team': {},
                'f:version': {},
              },
              'f:ownerReferences': { '.': {}, [`k:{"uid":"${hex(w, 11, 8)}"}`]: {} },
            },
            'f:spec': {
              'f:containers': {
                'k:{"name":"app"}': {
                  '.': {},
                  'f:env': {},
                  'f:image': {},
                  'f:livenessProbe': {},
                  'f:ports': {},
                  'f:readinessProbe': {},
                  'f:resources': {},
                },
              },
              'f:dnsPolicy': {},
              'f:volumes': {},
            },
          },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: started,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:status': {
              'f:conditions': {},
              'f:containerStatuses': {},
              'f:hostIP': {},
              'f:hostIPs': {},
              'f:phase': {},
              'f:podIP': {},
              'f:podIPs': {},
              'f:startTime': {},
            },
          },
          subresource: 'status',
        },
      ],
    },
    spec,
    status: {
      phase: 'Running',
      conditions: [
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: at(w, i + 1) },
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: started },
        { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: started },
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: created },
      ],
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: at(w, i + 1),
      containerStatuses: [
        containerStatus('app', image, 20),
        ...(sidecar ? [containerStatus('log-shipper', 'public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2', 21)] : []),
      ],
      qosClass: 'Burstable',
    },
  };
}

// ---- measuring ----------------------------------------------------------------------------------------------------

let schedstat: number | null | undefined;
const schedBuf = Buffer.alloc(128);
/** Nanoseconds this thread has spent on a CPU, in ms (Linux `/proc/thread-self/schedstat`); undefined elsewhere. */
function threadCpuMs(): number | undefined {
  if (schedstat === undefined) {
    try {
      schedstat = openSync('/proc/thread-self/schedstat', 'r');
    } catch {
      schedstat = null;
    }
  }
  if (schedstat === null) return undefined;
  const n = readSync(schedstat, schedBuf, 0, schedBuf.length, 0);
  const text = schedBuf.toString('latin1', 0, n);
  return Number(text.slice(0, text.indexOf(' '))) / 1e6;
}

const processCpuMs = (since?: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e3;
};

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number;
}

export interface LoopStats {
  /** perf_hooks monitorEventLoopDelay (1 ms resolution): the longest timer delay, in ms (the 1 ms period included). */
  readonly eldMaxMs: number;
  readonly eldP99Ms: number;
  /** Ticks of a 1 ms setInterval. */
  readonly ticks: number;
  /** The longest wall-clock gap between two ticks, and this thread's CPU time within it. */
  readonly gapMaxMs: number;
  readonly gapMaxCpuMs: number | undefined;
  readonly gapP99Ms: number;
  /** The most CPU time this thread spent between two ticks (the longest turn that held the loop), and p99. */
  readonly cpuPerGapMaxMs: number | undefined;
  readonly cpuPerGapP99Ms: number | undefined;
  readonly gapsOver50Ms: number;
  readonly cpuGapsOver50Ms: number | undefined;
  /** Garbage collections meanwhile (perf_hooks 'gc' entries: wall time of each pause on this thread). */
  readonly gcCount: number;
  readonly gcMaxMs: number;
  readonly gcTotalMs: number;
}

/** Watches the event loop: how long the code running on it keeps a 1 ms timer waiting, in wall and CPU time. */
class LoopMonitor {
  private readonly eld = monitorEventLoopDelay({ resolution: 1 });
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private lastCpu: number | undefined;
  private readonly gaps: number[] = [];
  private readonly cpuGaps: number[] = [];
  private gapMax = 0;
  private gapMaxCpu: number | undefined;
  private gcCount = 0;
  private gcMax = 0;
  private gcTotal = 0;
  private readonly gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      this.gcCount++;
      this.gcTotal += e.duration;
      if (e.duration > this.gcMax) this.gcMax = e.duration;
    }
  });

  start(): void {
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.eld.enable();
    this.lastTick = performance.now();
    this.lastCpu = threadCpuMs();
    this.timer = setInterval(() => this.tick(), 1);
  }

  private tick(): void {
    const now = performance.now();
    const cpu = threadCpuMs();
    const gap = now - this.lastTick;
    const cpuGap = cpu !== undefined && this.lastCpu !== undefined ? cpu - this.lastCpu : undefined;
    this.gaps.push(gap);
    if (cpuGap !== undefined) this.cpuGaps.push(cpuGap);
    if (gap > this.gapMax) {
      this.gapMax = gap;
      this.gapMaxCpu = cpuGap;
    }
    this.lastTick = now;
    this.lastCpu = cpu;
  }

  stop(): LoopStats {
    clearInterval(this.timer);
    this.tick();
    this.eld.disable();
    for (const e of this.gcObserver.takeRecords()) {
      this.gcCount++;
      this.gcTotal += e.duration;
      if (e.duration > this.gcMax) this.gcMax = e.duration;
    }
    this.gcObserver.disconnect();
    const hasCpu = this.cpuGaps.length > 0;
    let cpuMax = 0;
    for (const g of this.cpuGaps) if (g > cpuMax) cpuMax = g;
    return {
      eldMaxMs: this.eld.max / 1e6,
      eldP99Ms: this.eld.percentile(99) / 1e6,
      ticks: this.gaps.length,
      gapMaxMs: this.gapMax,
      gapMaxCpuMs: this.gapMaxCpu,
      gapP99Ms: percentile(this.gaps, 0.99),
      cpuPerGapMaxMs: hasCpu ? cpuMax : undefined,
      cpuPerGapP99Ms: hasCpu ? percentile(this.cpuGaps, 0.99) : undefined,
      gapsOver50Ms: this.gaps.filter((g) => g > TARGET_BLOCK_MS).length,
      cpuGapsOver50Ms: hasCpu ? this.cpuGaps.filter((g) => g > TARGET_BLOCK_MS).length : undefined,
      gcCount: this.gcCount,
      gcMaxMs: this.gcMax,
      gcTotalMs: this.gcTotal,
    };
  }
}

// ---- IPC ----------------------------------------------------------------------------------------------------------

interface Message {
  readonly type: string;
  readonly [k: string]: unknown;
}

/** The next message of `type` from a child of ours, or a rejection when it fails, exits or is silent `timeoutMs`. */
function nextMessage<T extends Message>(from: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => finish(new Error(`no ${type} message within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: unknown) => {
      const msg = m as Message | null;
      if (msg?.type === type) finish(undefined, msg as T);
      else if (msg?.type === 'failed') finish(new Error(`child failed: ${String(msg['error'])}`));
    };
    const onExit = (code: number | null) => finish(new Error(`exited (code ${code}) before sending ${type}`));
    function finish(err: Error | undefined, value?: T) {
      clearTimeout(timer);
      from.off('message', onMessage);
      from.off('exit', onExit);
      if (err) reject(err);
      else resolvePromise(value as T);
    }
    from.on('message', onMessage);
    from.on('exit', onExit);
  });
}

function ask<T extends Message>(child: ChildProcess, msg: Message, reply: string, timeoutMs = ROUND_TIMEOUT_MS): Promise<T> {
  const answer = nextMessage<T>(child, reply, timeoutMs);
  child.send(msg);
  return answer;
}

/** This process's node flags without those of the measured process (gc, profiles, heap size). */
function loaderArgv(): string[] {
  return process.execArgv.filter((a) => a !== '--expose-gc' && !a.startsWith('--cpu-prof') && !a.startsWith('--max-old-space-size'));
}

function forkSelf(role: '--serve' | '--measure', env: Record<string, string>, extraExecArgv: string[]): ChildProcess {
  const child = fork(SELF, [role], {
    execArgv: [...loaderArgv(), ...extraExecArgv],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  child.on('error', (err) => progress('driver', `${role}: ${err.message}`));
  return child;
}

/** Asks a child of ours to stop, then signals it (by its handle) if it has not exited within 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.connected) child.send({ type: 'stop' }, () => undefined);
  const timer = setTimeout(() => child.kill('SIGTERM'), 10_000);
  await exited;
  clearTimeout(timer);
}

function sendToParent(msg: Message): Promise<void> {
  return new Promise<void>((r) => {
    if (!process.send) return r();
    process.send(msg, () => r());
  });
}

const immediate = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or a rejection after `timeoutMs` (the timer cleared either way). */
async function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- the server process -------------------------------------------------------------------------------------------

type Target = 'main' | 'warm';
type RoundKind = 'labels' | 'status';

interface ReadyMessage extends Message {
  type: 'ready';
  url: string;
  warmUrl: string;
  pods: number;
  nodes: number;
  meanPodBytes: number;
  generateMs: number;
}

async function serve(): Promise<void> {
  const { FakeApiServer, PODS } = await import('../test/support/fake-apiserver.js');
  const pods = Number(process.env['BENCH_PODS']);
  const started = performance.now();
  const clusters: Record<Target, Cluster> = { main: makeCluster(pods, true), warm: makeCluster(Math.min(WARM_PODS, pods), true) };
  // Events are sent with sendRaw (see below): none is kept for resumed watches.
  const servers = { main: await FakeApiServer.start({ retainEvents: 0 }), warm: await FakeApiServer.start({ retainEvents: 0 }) };
  let sampled = 0;
  let sampledBytes = 0;
  function* objects(c: Cluster): Generator<KubernetesObject> {
    for (let i = 0; i < c.pods; i++) {
      const o = podObject(c, i);
      if (i % 97 === 0) {
        sampled++;
        sampledBytes += Buffer.byteLength(JSON.stringify(o));
      }
      if (i % 20_000 === 19_999) progress('server', `${i + 1} pods built`);
      yield o;
    }
  }
  servers.warm.load(PODS, objects(clusters.warm));
  sampled = 0;
  sampledBytes = 0;
  servers.main.load(PODS, objects(clusters.main));
  const generateMs = performance.now() - started;
  progress('server', `${pods} pods loaded in ${(generateMs / 1000).toFixed(1)} s, ${(sampledBytes / sampled).toFixed(0)} B of JSON each`);

  const prepared = new Map<number, { target: Target; objects: KubernetesObject[] }>();
  const handle = async (msg: Message): Promise<void> => {
    switch (msg.type) {
      case 'prepare': {
        // The round's objects are built and stored now (upsert without event: resourceVersions, store consistent),
        // so that the round itself costs this process only their serialization.
        const target = msg['target'] as Target;
        const kind = msg['kind'] as RoundKind;
        const round = msg['round'] as number;
        const from = msg['from'] as number;
        const n = msg['n'] as number;
        const c = clusters[target];
        const fake = servers[target];
        const t0 = performance.now();
        const list: KubernetesObject[] = [];
        for (let i = from; i < from + n; i++) {
          const change: Change = kind === 'labels' ? { relabel: round } : { restarts: round };
          list.push(fake.upsert(PODS, podObject(c, i, change), { event: false }));
        }
        list.push(fake.upsert(PODS, podObject(c, c.pods - 1, { sentinel: round }), { event: false }));
        prepared.set(round, { target, objects: list });
        process.send?.({ type: 'prepared', round, ms: performance.now() - t0 });
        return;
      }
      case 'go': {
        const round = msg['round'] as number;
        const p = prepared.get(round);
        if (!p) throw new Error(`round ${round} was not prepared`);
        prepared.delete(round);
        const fake = servers[p.target];
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        // In batches, so that the socket drains while the rest is serialized (as a real API server streams).
        for (let k = 0; k < p.objects.length; k++) {
          fake.sendRaw(PODS, 'MODIFIED', p.objects[k]);
          if (k % 100 === 99) await immediate();
        }
        process.send?.({ type: 'emitted', round, wallMs: performance.now() - t0, cpuMs: processCpuMs(cpu0) });
        return;
      }
      case 'watches':
        process.send?.({ type: 'watches', n: servers[msg['target'] as Target].openWatches(PODS) });
        return;
      case 'usage':
        process.send?.({ type: 'usage', cpuMs: processCpuMs() });
        return;
      case 'stop':
        await Promise.all([servers.main.close(), servers.warm.close()]);
        process.disconnect?.();
        return;
      default:
        throw new Error(`unknown command ${msg.type}`);
    }
  };
  process.on('message', (m) => {
    handle(m as Message).catch((err: unknown) => {
      progress('server', `failed: ${err instanceof Error ? err.message : String(err)}`);
      process.send?.({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
    });
  });
  // Gone with the parent.
  process.on('disconnect', () => {
    void Promise.all([servers.main.close(), servers.warm.close()]).finally(() => process.exit(0));
  });
  const ready: ReadyMessage = {
    type: 'ready',
    url: servers.main.url,
    warmUrl: servers.warm.url,
    pods,
    nodes: clusters.main.nodes,
    meanPodBytes: sampledBytes / sampled,
    generateMs,
  };
  process.send?.(ready);
}

// ---- the measured process -----------------------------------------------------------------------------------------

export interface EventRound {
  readonly kind: RoundKind;
  readonly what: string;
  /** Events of the round (the sentinel that marks its end not counted). */
  readonly events: number;
  /** From the command to the server until the cache's index shows the round's last event. */
  readonly wallMs: number;
  readonly perSecond: number;
  /** This thread's CPU per event, and the whole process's (GC threads included), in µs. */
  readonly threadCpuUsPerEvent: number | undefined;
  readonly processCpuUsPerEvent: number;
  /** The server's work sending the events (wall, CPU): if near `wallMs`, the server was the bottleneck. */
  readonly serverSendMs: number;
  readonly serverCpuMs: number;
  /** Pods of the round the index does not show as the round left them (should be 0). */
  readonly mismatched: number;
  readonly loop: LoopStats;
  readonly met: boolean;
}

export interface PodCacheResult {
  readonly date: string;
  readonly node: string;
  readonly cpus: number;
  /** 1, 5, 15-minute load averages before and after: the machine may be busy with other work. */
  readonly loadAverageAtStart: number[];
  readonly loadAverageAtEnd: number[];
  readonly pods: number;
  readonly nodes: number;
  readonly meanPodJsonBytes: number;
  /** Distinct label sets (namespace, labels) in the index after the list. */
  readonly labelSets: number;
  readonly serverGenerateMs: number;
  readonly list: {
    readonly wallMs: number;
    readonly stats: PodListStats;
    readonly threadCpuUsPerPod: number | undefined;
    readonly processCpuUsPerPod: number;
    readonly serverCpuUsPerPod: number;
    readonly loop: LoopStats;
    /** The figure judged: CPU time per gap where the thread's CPU time is readable, else the wall-clock gap. */
    readonly longestBlockMs: number;
    readonly longestBlockBasis: 'cpu' | 'wall';
    readonly met: boolean;
  };
  readonly memory: {
    readonly gcExposed: boolean;
    readonly heapBytesPerPod: number;
    readonly rssBytesPerPod: number;
    readonly externalBytesPerPod: number;
    /**
     * The figure judged: RSS per pod, or heap + external per pod when larger — the baseline's RSS may hold pages
     * freed since (module loading, the warm-up) that the cache then reuses, and the cache's data is in the heap.
     */
    readonly judgedBytesPerPod: number;
    readonly baselineRssMiB: number;
    readonly baselineHeapMiB: number;
    readonly met: boolean;
  };
  readonly events: EventRound[];
}

function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'bench', server, skipTLSVerify: true }],
    users: [{ name: 'bench' }],
    contexts: [{ name: 'bench', cluster: 'bench', user: 'bench' }],
    currentContext: 'bench',
  });
  return kc;
}

const gc = (globalThis as { gc?: () => void }).gc;

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await immediate();
  }
  return process.memoryUsage();
}

/** Resolves once `cond()` holds, checked every ms; rejects after `timeoutMs`. */
function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise<void>((resolvePromise, reject) => {
    const deadline = performance.now() + timeoutMs;
    const timer = setInterval(() => {
      if (cond()) {
        clearInterval(timer);
        resolvePromise();
      } else if (performance.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`${what}: not within ${timeoutMs} ms`));
      }
    }, 1);
  });
}

interface Started {
  readonly cache: PodCache;
  readonly listed: Promise<PodListStats>;
}

function startCache(url: string, onListed?: (stats: PodListStats) => void): Started {
  let done: (s: PodListStats) => void = () => undefined;
  const listed = new Promise<PodListStats>((r) => (done = r));
  const cache = new PodCache({
    kubeConfig: kubeConfigFor(url),
    logger: pino({ level: 'silent' }),
    onListed: (stats) => {
      onListed?.(stats);
      done(stats);
    },
    onError: (err, retryInMs) => progress('measure', `pod cache error (retry in ${retryInMs} ms): ${err.message}`),
    rejected: (err, pod) => progress('measure', `pod rejected ${pod ?? ''}: ${err.message}`),
  });
  cache.start();
  return { cache, listed };
}

async function watchOpen(server: ChildProcess, target: Target): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    const w = await ask<Message & { n: number }>(server, { type: 'watches', target }, 'watches');
    if (w.n >= 1) return;
    await sleep(20);
  }
  throw new Error('the pod cache opened no watch within 60 s');
}

let nextRound = 1;

async function eventRound(
  server: ChildProcess,
  cache: PodCache,
  target: Target,
  c: Cluster,
  kind: RoundKind,
  from: number,
  n: number,
): Promise<EventRound> {
  const round = nextRound++;
  await ask(server, { type: 'prepare', target, kind, round, from, n }, 'prepared');
  const sentinel = workloadOf(c, c.pods - 1);
  const sentinelName = podName(sentinel, c.pods - 1);
  const tag = String(round);
  const loop = new LoopMonitor();
  loop.start();
  const t0 = performance.now();
  const thread0 = threadCpuMs();
  const cpu0 = process.cpuUsage();
  const emitted = nextMessage<Message & { wallMs: number; cpuMs: number }>(server, 'emitted', ROUND_TIMEOUT_MS);
  server.send({ type: 'go', round });
  await until(() => cache.index.get(sentinel.namespace, sentinelName)?.labels[SENTINEL_LABEL] === tag, ROUND_TIMEOUT_MS, `round ${round} (${kind})`);
  const wallMs = performance.now() - t0;
  const thread1 = threadCpuMs();
  const processMs = processCpuMs(cpu0);
  const loopStats = loop.stop();
  const sent = await emitted;
  let mismatched = 0;
  for (let i = from; i < from + n; i++) {
    const wl = workloadOf(c, i);
    const p = cache.index.get(wl.namespace, podName(wl, i));
    const version = kind === 'labels' ? relabeled(wl, round) : wl.version;
    if (p?.labels['version'] !== version) mismatched++;
  }
  const perSecond = n / (wallMs / 1000);
  return {
    kind,
    what: kind === 'labels' ? 'MODIFIED, `version` label changed' : 'MODIFIED, status only (restarts, start time)',
    events: n,
    wallMs,
    perSecond,
    threadCpuUsPerEvent: thread0 !== undefined && thread1 !== undefined ? ((thread1 - thread0) * 1e3) / n : undefined,
    processCpuUsPerEvent: (processMs * 1e3) / n,
    serverSendMs: sent.wallMs,
    serverCpuMs: sent.cpuMs,
    mismatched,
    loop: loopStats,
    met: mismatched === 0 && perSecond >= TARGET_EVENTS_PER_S,
  };
}

async function measure(): Promise<void> {
  const pods = Number(process.env['BENCH_PODS']);
  const events = Number(process.env['BENCH_EVENTS']);
  const loadAverageAtStart = os.loadavg();
  // The server's heap holds the summaries, its external memory the pods' JSON (~750 MB at 150k), and each round's
  // objects once prepared.
  const server = forkSelf('--serve', { BENCH_PODS: String(pods) }, ['--max-old-space-size=8192']);
  try {
    const ready = await nextMessage<ReadyMessage>(server, 'ready', READY_TIMEOUT_MS);
    const c = makeCluster(pods, false);
    const warmCluster = makeCluster(Math.min(WARM_PODS, pods), false);

    // Warm-up on the small server: list, watch, both kinds of events; then the cache is dropped. Compiled code and
    // lazily loaded module state are then part of the baseline, not of the figures.
    {
      const warm = startCache(ready.warmUrl);
      await withTimeout(warm.listed, LIST_TIMEOUT_MS, 'the warm-up list');
      await watchOpen(server, 'warm');
      const n = Math.min(WARM_EVENTS, Math.floor((warmCluster.pods - 1) / 2));
      await eventRound(server, warm.cache, 'warm', warmCluster, 'labels', 0, n);
      await eventRound(server, warm.cache, 'warm', warmCluster, 'status', n, n);
      await warm.cache.stop();
    }
    const before = await settle();

    // (a, b) the list, the event loop watched throughout.
    progress('measure', `listing ${pods} pods (load average ${loadAverageAtStart.map((l) => l.toFixed(1)).join(' ')})`);
    const serverCpu0 = (await ask<Message & { cpuMs: number }>(server, { type: 'usage' }, 'usage')).cpuMs;
    const loop = new LoopMonitor();
    let listEnd = { wallMs: 0, thread: undefined as number | undefined, processMs: 0, loop: undefined as LoopStats | undefined };
    loop.start();
    const t0 = performance.now();
    const thread0 = threadCpuMs();
    const cpu0 = process.cpuUsage();
    const main = startCache(ready.url, () => {
      // Synchronously at the end of the list, before the watch starts.
      listEnd = { wallMs: performance.now() - t0, thread: threadCpuMs(), processMs: processCpuMs(cpu0), loop: loop.stop() };
    });
    const stats = await withTimeout(main.listed, LIST_TIMEOUT_MS, 'the list');
    const serverCpu1 = (await ask<Message & { cpuMs: number }>(server, { type: 'usage' }, 'usage')).cpuMs;
    const loopStats = listEnd.loop as LoopStats;
    progress(
      'measure',
      `listed ${stats.pods} pods in ${(listEnd.wallMs / 1000).toFixed(1)} s; longest gap ${loopStats.gapMaxMs.toFixed(1)} ms wall, ${loopStats.cpuPerGapMaxMs?.toFixed(1) ?? '–'} ms CPU`,
    );

    // (d) memory, right after the list (before events add label sets).
    const after = await settle();
    let labelSets = 0;
    for (const ns of main.cache.index.namespaces()) for (const _ of main.cache.index.groupsIn(ns)) labelSets++;

    // (c) watch events, end to end.
    await watchOpen(server, 'main');
    const n = Math.min(events, Math.floor((pods - 1) / 2));
    const rounds: EventRound[] = [];
    for (const [kind, from] of [
      ['labels', 0],
      ['status', n],
    ] as const) {
      const r = await eventRound(server, main.cache, 'main', c, kind, from, n);
      progress(
        'measure',
        `${r.events} ${kind} events: ${r.perSecond.toFixed(0)}/s (server sent them in ${r.serverSendMs.toFixed(0)} ms)${r.mismatched > 0 ? `, ${r.mismatched} not applied` : ''}`,
      );
      rounds.push(r);
    }
    await main.cache.stop();

    const judgedCpu = loopStats.cpuPerGapMaxMs;
    const longestBlockMs = judgedCpu ?? loopStats.gapMaxMs;
    const perPod = (k: keyof NodeJS.MemoryUsage) => (after[k] - before[k]) / stats.pods;
    const judgedBytesPerPod = Math.max(perPod('rss'), perPod('heapUsed') + perPod('external'));
    const result: PodCacheResult = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg(),
      pods: stats.pods,
      nodes: ready.nodes,
      meanPodJsonBytes: ready.meanPodBytes,
      labelSets,
      serverGenerateMs: ready.generateMs,
      list: {
        wallMs: listEnd.wallMs,
        stats,
        threadCpuUsPerPod: thread0 !== undefined && listEnd.thread !== undefined ? ((listEnd.thread - thread0) * 1e3) / stats.pods : undefined,
        processCpuUsPerPod: (listEnd.processMs * 1e3) / stats.pods,
        serverCpuUsPerPod: ((serverCpu1 - serverCpu0) * 1e3) / stats.pods,
        loop: loopStats,
        longestBlockMs,
        longestBlockBasis: judgedCpu === undefined ? 'wall' : 'cpu',
        met: longestBlockMs <= TARGET_BLOCK_MS,
      },
      memory: {
        gcExposed: gc !== undefined,
        heapBytesPerPod: perPod('heapUsed'),
        rssBytesPerPod: perPod('rss'),
        externalBytesPerPod: perPod('external'),
        judgedBytesPerPod,
        baselineRssMiB: before.rss / 2 ** 20,
        baselineHeapMiB: before.heapUsed / 2 ** 20,
        met: judgedBytesPerPod <= TARGET_RSS_PER_POD,
      },
      events: rounds,
    };
    await sendToParent({ type: 'result', result });
  } finally {
    await stopChild(server);
  }
  // Nothing is left running but the channel to the driver.
  process.disconnect?.();
}

// ---- the driver ---------------------------------------------------------------------------------------------------

export interface PodCacheBenchOptions {
  /** Pods in the cluster (default 150,000), 30 a node. */
  readonly pods?: number;
  /** Watch events per round (default 20,000, at most half the pods). */
  readonly events?: number;
}

/** Runs the benchmark in fresh processes (the measured one with --expose-gc) and returns its figures. */
export async function podCacheBench(opts: PodCacheBenchOptions = {}): Promise<PodCacheResult> {
  const pods = Math.max(10, Math.floor(opts.pods ?? POD_CACHE_DEFAULT_PODS));
  const events = Math.max(1, Math.floor(opts.events ?? DEFAULT_EVENTS));
  const child = forkSelf('--measure', { BENCH_PODS: String(pods), BENCH_EVENTS: String(events) }, ['--expose-gc']);
  try {
    const m = await nextMessage<Message & { result: PodCacheResult }>(child, 'result', RESULT_TIMEOUT_MS);
    return m.result;
  } finally {
    await stopChild(child);
  }
}

const f = (x: number | undefined, digits = 1) =>
  x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mark = (met: boolean) => (met ? 'met' : '**MISSED**');

/** The figures as markdown (a section of run.ts's report, or this file's output). */
export function podCacheMarkdown(r: PodCacheResult): string {
  const l = r.list;
  const loop = l.loop;
  const m = r.memory;
  const busy = (r.loadAverageAtStart[0] ?? 0) > r.cpus * 0.5;
  const out: string[] = [];
  out.push(`## Pod cache (cluster mode): ${f(r.pods, 0)} pods on ${f(r.nodes, 0)} nodes, fake API server in its own process`, '');
  out.push(
    `${r.date} · node ${r.node} · ${r.cpus} cpus · load average ${r.loadAverageAtStart.map((x) => x.toFixed(1)).join(' / ')} at start, ${r.loadAverageAtEnd.map((x) => x.toFixed(1)).join(' / ')} at end (1 / 5 / 15 min)` +
      `${busy ? ' — **other processes were using the CPU: wall-clock figures are noisy**' : ''}. ` +
      `Pods of ${f(r.meanPodJsonBytes, 0)} B of JSON on average, ${f(r.labelSets, 0)} label sets; the server built and loaded them in ${f(r.serverGenerateMs / 1000)} s.`,
    '',
  );
  out.push('| figure | value | target | |', '|---|---:|---|---|');
  out.push(
    `| list: longest event-loop block, this thread's CPU time per 1 ms-timer gap (ms) | ${f(loop.cpuPerGapMaxMs)} | ≤ ${TARGET_BLOCK_MS}${l.longestBlockBasis === 'cpu' ? '' : ' (judged on wall time: no schedstat)'} | ${mark(l.met)} |`,
  );
  out.push(`| list: longest gap, wall clock (ms) / its CPU time (ms) | ${f(loop.gapMaxMs)} / ${f(loop.gapMaxCpuMs)} | | |`);
  out.push(`| list: monitorEventLoopDelay max / p99 (ms) | ${f(loop.eldMaxMs)} / ${f(loop.eldP99Ms)} | | |`);
  out.push(
    `| list: gap p99, wall / CPU (ms); gaps over ${TARGET_BLOCK_MS} ms, wall / CPU | ${f(loop.gapP99Ms)} / ${f(loop.cpuPerGapP99Ms)}; ${loop.gapsOver50Ms} / ${loop.cpuGapsOver50Ms ?? '–'} of ${f(loop.ticks, 0)} | | |`,
  );
  out.push(`| list: longest slice as the cache measures it (ms) | ${f(l.stats.longestBlockMs)} | | |`);
  out.push(`| list: garbage collections, longest pause / total (ms) | ${loop.gcCount}, ${f(loop.gcMaxMs)} / ${f(loop.gcTotalMs, 0)} | | |`);
  out.push(`| list: total time (s), ${l.stats.pages} pages | ${f(l.wallMs / 1000)} | | |`);
  out.push(`| list: CPU per pod, this thread / the whole process (µs) | ${f(l.threadCpuUsPerPod)} / ${f(l.processCpuUsPerPod)} | | |`);
  out.push(`| list: the server's CPU per pod (µs) | ${f(l.serverCpuUsPerPod)} | | |`);
  for (const e of r.events) {
    out.push(
      `| watch: ${f(e.events, 0)} events, ${e.what}, applied per second | ${f(e.perSecond, 0)} | ≥ ${f(TARGET_EVENTS_PER_S, 0)} | ${mark(e.met)} |`,
    );
    out.push(
      `| watch (${e.kind}): CPU per event, this thread / process (µs); server sending (ms wall / CPU); longest loop turn (ms CPU); longest GC pause (ms)${e.mismatched > 0 ? `; **${e.mismatched} pods not as sent**` : ''} | ${f(e.threadCpuUsPerEvent)} / ${f(e.processCpuUsPerEvent)}; ${f(e.serverSendMs, 0)} / ${f(e.serverCpuMs, 0)}; ${f(e.loop.cpuPerGapMaxMs)}; ${f(e.loop.gcMaxMs)} | | |`,
    );
  }
  out.push(
    `| memory after the list: RSS per pod, or heap + external when larger (B) | ${f(m.judgedBytesPerPod, 0)} | ≤ ${TARGET_RSS_PER_POD} | ${mark(m.met)} |`,
  );
  out.push(
    `| memory after the list: RSS / heap / external per pod (B); baseline RSS / heap (MiB)${m.gcExposed ? '' : ' — **gc not exposed**'} | ${f(m.rssBytesPerPod, 0)} / ${f(m.heapBytesPerPod, 0)} / ${f(m.externalBytesPerPod, 0)}; ${f(m.baselineRssMiB)} / ${f(m.baselineHeapMiB)} | | |`,
  );
  out.push('');
  return out.join('\n');
}

/** The targets, in the shape of run.ts's report targets. */
export function podCacheTargets(r: PodCacheResult): { name: string; value: number; target: string; met: boolean }[] {
  return [
    {
      name: `pod cache list of ${r.pods} pods: longest event-loop block (ms, ${r.list.longestBlockBasis === 'cpu' ? 'thread CPU' : 'wall'})`,
      value: r.list.longestBlockMs,
      target: `≤ ${TARGET_BLOCK_MS}`,
      met: r.list.met,
    },
    ...r.events.map((e) => ({
      name: `pod cache watch events applied per second (${e.kind})`,
      value: e.perSecond,
      target: `≥ ${TARGET_EVENTS_PER_S}`,
      met: e.met,
    })),
    {
      name: 'pod cache RSS per pod after the list (B; heap + external when larger)',
      value: r.memory.judgedBytesPerPod,
      target: `≤ ${TARGET_RSS_PER_POD}`,
      met: r.memory.met,
    },
  ];
}

async function cli(): Promise<void> {
  const json = process.argv.includes('--json');
  const pods = process.env['PODS'] === undefined ? POD_CACHE_DEFAULT_PODS : Number(process.env['PODS']);
  const events = process.env['EVENTS'] === undefined ? DEFAULT_EVENTS : Number(process.env['EVENTS']);
  if (!Number.isFinite(pods) || pods < 10 || !Number.isFinite(events) || events < 1) {
    process.stderr.write('PODS must be a number ≥ 10, EVENTS ≥ 1\n');
    process.exit(2);
  }
  const r = await podCacheBench({ pods, events });
  process.stdout.write(json ? `${JSON.stringify(r, null, 2)}\n` : podCacheMarkdown(r));
}

// ---- entry --------------------------------------------------------------------------------------------------------

if (resolve(process.argv[1] ?? '') === SELF) {
  const role = process.argv[2];
  const run = role === '--serve' ? serve : role === '--measure' ? measure : cli;
  const name = role === '--serve' ? 'server' : role === '--measure' ? 'measure' : 'driver';
  run().catch(async (err: unknown) => {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    progress(name, `failed: ${text}`);
    if (role !== undefined && role.startsWith('--')) await sendToParent({ type: 'failed', error: text });
    if (schedstat) closeSync(schedstat);
    process.exit(1);
  });
}
