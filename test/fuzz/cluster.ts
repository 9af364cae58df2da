/**
 * The cluster the fuzz suite's app runs on: one app for every case, whose rule set and node list each case picks
 * (the fixture rules and nodes of the replay suites, rules that inject everything, or rules made up by the case),
 * so that building an app is not the cost of a case.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { AdmissionContext, NodeView, PodsState } from '../../src/admission/context.js';
import type { AdmissionRequest } from '../../src/admission/types.js';
import { parseNamespaces, parseNodes } from '../../src/cluster/objects.js';
import { StaticCluster } from '../../src/cluster/static.js';
import { loadRules, type RuleSet } from '../../src/rules/compile.js';
import { PodIndex, PodReader } from '../../src/scheduling/pods.js';
import type { Labels } from '../../src/scheduling/types.js';
import { withNameLabel } from '../../src/rules/select.js';
import { buildApp } from '../../src/server/app.js';
import { CLUSTER_FILES, VALIDATE_CLUSTER_FILES } from '../support/fixtures.js';
import { FIXTURE_PODS } from './fixtures.js';
import { cloneJson } from './json.js';

const read = (file: string) => readFileSync(file, 'utf8');
const rules = (file: string) => loadRules(read(file), file);

export const INJECTING_RULES_FILE = fileURLToPath(new URL('./injecting-rules.yaml', import.meta.url));

/** The rule sets a case may run under. */
export const RULE_SETS = {
  fixture: rules(CLUSTER_FILES.rules),
  validate: rules(VALIDATE_CLUSTER_FILES.rules),
  validateWarn: rules(VALIDATE_CLUSTER_FILES.rulesWarn),
  injecting: rules(INJECTING_RULES_FILE),
} as const satisfies Record<string, RuleSet>;

export type RuleSetName = keyof typeof RULE_SETS;
export const RULE_SET_NAMES = Object.keys(RULE_SETS) as RuleSetName[];

const namespaces = parseNamespaces(read(CLUSTER_FILES.namespaces), CLUSTER_FILES.namespaces);
const view = (cluster: StaticCluster) => cluster.nodes();

/** The node lists a case may run against: the two fixture clusters', none at all (not synced), an empty one. */
export const NODE_VIEWS = {
  fixture: view(new StaticCluster(RULE_SETS.fixture, parseNodes(read(CLUSTER_FILES.nodes), CLUSTER_FILES.nodes))),
  validate: view(new StaticCluster(RULE_SETS.fixture, parseNodes(read(VALIDATE_CLUSTER_FILES.nodes), VALIDATE_CLUSTER_FILES.nodes))),
  unsynced: view(new StaticCluster(RULE_SETS.fixture)),
  empty: view(new StaticCluster(RULE_SETS.fixture, [])),
} as const satisfies Record<string, NodeView>;

export type NodeViewName = keyof typeof NODE_VIEWS;
export const NODE_VIEW_NAMES = Object.keys(NODE_VIEWS) as NodeViewName[];

const nsLabels = new Map(namespaces.map((ns) => [ns.metadata?.name ?? '', { ...(ns.metadata?.labels ?? {}) }]));
const namespaceLabelsOf = (name: string): Labels => withNameLabel(name, nsLabels.get(name));

/** The fixture pods, bound round-robin to the nodes of both fixture clusters (as the pod cache would hold them). */
function boundPods(): PodIndex {
  const index = new PodIndex();
  const reader = new PodReader();
  const nodes = [...NODE_VIEWS.fixture.index.nodes(), ...NODE_VIEWS.validate.index.nodes()].map((n) => n.name);
  FIXTURE_PODS.forEach((p, i) => {
    const pod = cloneJson(p) as { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
    pod.metadata = { ...pod.metadata, name: `bound-${i}` };
    pod.spec = { ...pod.spec, nodeName: nodes[i % nodes.length] };
    const placed = reader.read(pod);
    if (placed) index.upsert(placed);
  });
  return index;
}

/** The pod caches a case may run with: none (the cache is off), the fixture pods bound to nodes, one not synced. */
export const PODS_STATES = {
  off: undefined,
  bound: { index: boundPods(), namespaceLabels: namespaceLabelsOf, incomplete: undefined },
  unsynced: { index: new PodIndex(), namespaceLabels: namespaceLabelsOf, incomplete: 'the pod cache has not listed the pods yet' },
} as const satisfies Record<string, PodsState | undefined>;

export type PodsStateName = keyof typeof PODS_STATES;
export const PODS_STATE_NAMES = Object.keys(PODS_STATES) as PodsStateName[];

/** A rule set, a node list, a pod cache, and what the API server holds for a `scale` request's workload. */
export interface World {
  readonly rules: RuleSet;
  readonly nodes: NodeView;
  readonly pods: PodsState | undefined;
  readonly scaled: unknown;
}

/** The context of the fuzz app: the fixture namespaces, and the world of the case running now. */
export class FuzzCluster implements AdmissionContext {
  private readonly labels: ReadonlyMap<string, Labels>;
  private world: World = { rules: RULE_SETS.fixture, nodes: NODE_VIEWS.fixture, pods: undefined, scaled: undefined };

  constructor() {
    const base = new StaticCluster(RULE_SETS.fixture, [], namespaces);
    this.labels = new Map(namespaces.map((ns) => [ns.metadata?.name ?? '', base.namespaceLabels(ns.metadata?.name ?? '') ?? {}]));
  }

  pods(): PodsState | undefined {
    return this.world.pods;
  }

  /** The workload of the world, whatever the request (undefined: it could not be read). */
  scaled(_request: AdmissionRequest): Promise<unknown> {
    return Promise.resolve(this.world.scaled === undefined ? undefined : cloneJson(this.world.scaled));
  }

  /** The world of the next requests (cases run one at a time; handlers are synchronous). */
  use(world: World): void {
    this.world = world;
  }

  rules(): RuleSet {
    return this.world.rules;
  }

  namespaceLabels(name: string): Labels | undefined {
    return this.labels.get(name);
  }

  nodes(): NodeView {
    return this.world.nodes;
  }
}

/**
 * A ready app on a fresh `FuzzCluster`; close it after the suite. The lines it logs at level error (a route that
 * threw, with the error and its stack) are collected in `errors`, for the caller to read and clear.
 */
export async function fuzzApp(): Promise<{ app: FastifyInstance; cluster: FuzzCluster; errors: string[] }> {
  const cluster = new FuzzCluster();
  const errors: string[] = [];
  const app = buildApp({ ctx: cluster, logger: pino({ level: 'error' }, { write: (line: string) => errors.push(line) }) });
  await app.ready();
  return { app, cluster, errors };
}
