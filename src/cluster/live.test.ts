import type { KubernetesObject, V1Node } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { looseDoc, rulesDoc, ruleSet } from '../../test/support/builders.js';
import { FakeApiServer, PODS } from '../../test/support/fake-apiserver.js';
import { NodeIndex } from '../scheduling/node-index.js';
import { buildApp } from '../server/app.js';
import { Metrics } from '../server/metrics.js';
import { billionLaughs, deeplyNested, sharedAnchorRules } from '../../test/support/yaml-bombs.js';
import { RULES_CONFIGMAP_KEY as RULES_KEY } from '../rules/configmap.js';
import { LiveCluster, type LiveClusterOptions } from './live.js';
import { RulesChecker } from './rules-checker.js';

const NODES = '/api/v1/nodes';
const NAMESPACES = '/api/v1/namespaces';
const RULES_NS = 'placement-webhook';
const CONFIGMAPS = `/api/v1/namespaces/${RULES_NS}/configmaps`;
const RULES_NAME = 'placement-rules';
const PATHS = [NODES, NAMESPACES, CONFIGMAPS] as const;

const MAX_STALENESS_MS = 300;
const FAST_BACKOFF = { initialMs: 50, maxMs: 100 };

/** A pod CREATE review. */
const podReview = () => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'default',
    operation: 'CREATE',
    object: { metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'x' }] } },
  },
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A node as the API server returns it: status heartbeats, images and managedFields that placement never reads. */
function apiNode(name: string, labels: Record<string, string>, heartbeat = '2024-01-01T00:00:00Z'): V1Node {
  return {
    metadata: {
      name,
      labels,
      annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
      managedFields: [{ manager: 'kubelet', operation: 'Update', apiVersion: 'v1' }],
    },
    spec: { podCIDR: '10.0.0.0/24', taints: [{ key: 'spot', value: 'true', effect: 'NoSchedule' }] },
    status: {
      allocatable: { cpu: '4', memory: '16Gi', pods: '110' },
      capacity: { cpu: '4', memory: '16Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: heartbeat as unknown as Date }],
      images: [{ names: ['registry.example/big:1'], sizeBytes: 123456789 }],
    },
  };
}

const rulesText = (...names: string[]) => stringify(rulesDoc(names.map((name) => ({ name, inject: { nodeSelector: { lifecycle: name } } }))));

const invalidRulesText = stringify(
  looseDoc([{ name: 'broken', inject: { tolerations: [{ key: 'spot', operator: 'Equals', effect: 'NoSchedule' }] } }]),
);

const rulesConfigMap = (text: string): KubernetesObject & { data: Record<string, string> } => ({
  metadata: { name: RULES_NAME },
  data: { [RULES_KEY]: text },
});

async function counter(metrics: Metrics, result: 'success' | 'invalid'): Promise<number> {
  return (await metrics.rulesReloads.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function gauge(g: Metrics['cacheStale'], cache: string): Promise<number | undefined> {
  return (await g.get()).values.find((v) => v.labels.cache === cache)?.value;
}

describe('LiveCluster against a fake API server', () => {
  let fake: FakeApiServer;
  let metrics: Metrics;
  let cluster: LiveCluster | undefined;
  let priorityClasses: string;

  beforeEach(async () => {
    fake = await FakeApiServer.start();
    metrics = new Metrics(false);
    priorityClasses = fake.serve({ group: 'scheduling.k8s.io', version: 'v1', plural: 'priorityclasses', kind: 'PriorityClass' });
    fake.upsert(NODES, apiNode('n1', { zone: 'a' }));
    fake.upsert(NODES, apiNode('n2', { zone: 'b' }));
    fake.upsert(NAMESPACES, { metadata: { name: 'streaming', labels: { team: 'data' } } });
    fake.upsert(NAMESPACES, { metadata: { name: 'default' } });
    fake.upsert(CONFIGMAPS, rulesConfigMap(rulesText('spot')));
    // a ConfigMap beside it that the field selector must leave out
    fake.upsert(CONFIGMAPS, { metadata: { name: 'unrelated' }, data: { [RULES_KEY]: 'not: [valid' } } as KubernetesObject);
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await cluster?.stop();
    cluster = undefined;
    await fake.close();
  });

  function start(opts: Partial<LiveClusterOptions> = {}): LiveCluster {
    cluster = new LiveCluster({
      kubeConfig: fake.kubeConfig(),
      rulesConfigMap: { namespace: RULES_NS, name: RULES_NAME },
      emptyRules: ruleSet([]),
      maxStalenessMs: MAX_STALENESS_MS,
      backoff: FAST_BACKOFF,
      logger: pino({ level: 'silent' }),
      metrics,
      ...opts,
    });
    cluster.start();
    return cluster;
  }

  const ready = (c: LiveCluster) => vi.waitFor(() => expect(c.notReady()).toBeUndefined());
  const watching = () => vi.waitFor(() => PATHS.forEach((p) => expect(fake.openWatches(p)).toBe(1)));
  const ruleNames = (c: LiveCluster) => c.rules().rules.map((r) => r.name);

  describe('a namespace the cache does not have yet', () => {
    it('is read from the API server, so that the first pods of a new namespace get its rules', async () => {
      const c = start();
      await ready(c);
      await watching();
      // Created, but its watch event has not arrived (lost here, late in real life).
      fake.upsert(NAMESPACES, { metadata: { name: 'payments', labels: { team: 'payments' } } }, { event: false });
      expect(c.namespaceLabels('payments')).toBeUndefined();
      await c.ensureNamespace('payments');
      expect(c.namespaceLabels('payments')).toEqual({ team: 'payments' });
      expect(fake.requests(NAMESPACES).gets).toBe(1);
      // Known now: no second read.
      await c.ensureNamespace('payments');
      expect(fake.requests(NAMESPACES).gets).toBe(1);
    });

    it('that does not exist, or an API server that does not answer, leaves the labels unknown without throwing', async () => {
      const c = start();
      await ready(c);
      await c.ensureNamespace('nowhere');
      expect(c.namespaceLabels('nowhere')).toBeUndefined();
      fake.down();
      await c.ensureNamespace('payments');
      expect(c.namespaceLabels('payments')).toBeUndefined();
    });
  });

  describe('first sync', () => {
    it('is not ready until nodes, namespaces and rules are listed, then is', async () => {
      fake.down();
      const c = start();
      expect(c.notReady()).toBe('waiting for the first sync of nodes, namespaces, rules');
      expect(c.nodes().incomplete).toBe('the node list has not been received yet');
      await vi.waitFor(() => expect(fake.requests(NODES).refused).toBeGreaterThanOrEqual(2));
      expect(c.notReady()).toBe('waiting for the first sync of nodes, namespaces, rules');

      fake.up();
      await ready(c);
      expect(c.nodes().incomplete).toBeUndefined();
    });

    it('waits for the rules ConfigMap when it does not exist yet', async () => {
      fake.remove(CONFIGMAPS, RULES_NAME);
      const c = start();
      await vi.waitFor(() => expect(c.notReady()).toBe('rules ConfigMap placement-webhook/placement-rules not found'));
      expect(ruleNames(c)).toEqual([]);

      fake.upsert(CONFIGMAPS, rulesConfigMap(rulesText('late')));
      await ready(c);
      expect(ruleNames(c)).toEqual(['late']);
    });

    it('keeps only the placement fields of nodes, reads namespace labels and puts the rules in force', async () => {
      const c = start();
      await ready(c);
      const { index } = c.nodes();
      expect(index.size).toBe(2);
      expect(index.get('n1')).toEqual({
        name: 'n1',
        labels: { zone: 'a' },
        taints: [{ key: 'spot', value: 'true', effect: 'NoSchedule' }],
        unschedulable: false,
        allocatable: { cpu: '4', memory: '16Gi', pods: '110' },
      });
      expect(c.namespaceLabels('streaming')).toEqual({ team: 'data' });
      expect(c.namespaceLabels('default')).toEqual({});
      expect(c.namespaceLabels('nowhere')).toBeUndefined();
      expect(ruleNames(c)).toEqual(['spot']);
      expect(await counter(metrics, 'success')).toBe(1);
      expect(await counter(metrics, 'invalid')).toBe(0);
      expect((await metrics.nodes.get()).values[0]?.value).toBe(2);
      expect((await metrics.rulesLoaded.get()).values[0]?.value).toBe(1);
    });

    it('takes fixed rules without a rules ConfigMap', async () => {
      const fixed = ruleSet([{ name: 'fixed', inject: { nodeSelector: { a: 'b' } } }]);
      const c = new LiveCluster({
        kubeConfig: fake.kubeConfig(),
        fixedRules: fixed,
        emptyRules: ruleSet([]),
        maxStalenessMs: MAX_STALENESS_MS,
        logger: pino({ level: 'silent' }),
      });
      cluster = c;
      c.start();
      await ready(c);
      expect(c.rules()).toBe(fixed);
      expect(fake.requests(CONFIGMAPS).lists).toBe(0);
    });
  });

  describe('node events', () => {
    it('a label change updates the index', async () => {
      const c = start();
      await ready(c);
      fake.upsert(NODES, apiNode('n1', { zone: 'c', gpu: 'true' }));
      await vi.waitFor(() => expect(c.nodes().index.get('n1')?.labels).toEqual({ zone: 'c', gpu: 'true' }));
      expect(c.nodes().index.withLabel('zone', 'a')?.size ?? 0).toBe(0);
    });

    it('a status heartbeat does not touch the index', async () => {
      const c = start();
      await ready(c);
      await watching();
      const upsert = vi.spyOn(NodeIndex.prototype, 'upsert');
      fake.upsert(NODES, apiNode('n1', { zone: 'a' }, '2024-01-01T00:00:10Z'));
      fake.upsert(NODES, apiNode('n1', { zone: 'a' }, '2024-01-01T00:00:20Z'));
      // events on one watch arrive in order: once n2's change is in, both heartbeats have been handled
      fake.upsert(NODES, apiNode('n2', { zone: 'b', marker: 'x' }));
      await vi.waitFor(() => expect(c.nodes().index.get('n2')?.labels['marker']).toBe('x'));
      expect(upsert.mock.calls.map(([n]) => n.name)).toEqual(['n2']);
    });

    it('a deletion removes the node, and an addition adds one', async () => {
      const c = start();
      await ready(c);
      fake.remove(NODES, 'n2');
      fake.upsert(NODES, apiNode('n3', { zone: 'c' }));
      await vi.waitFor(() => expect([...c.nodes().index.nodes()].map((n) => n.name).sort()).toEqual(['n1', 'n3']));
      expect((await metrics.nodes.get()).values[0]?.value).toBe(2);
    });

    it('namespace label changes and deletions are followed', async () => {
      const c = start();
      await ready(c);
      fake.upsert(NAMESPACES, { metadata: { name: 'streaming', labels: { team: 'ml' } } });
      fake.remove(NAMESPACES, 'default');
      await vi.waitFor(() => expect(c.namespaceLabels('default')).toBeUndefined());
      expect(c.namespaceLabels('streaming')).toEqual({ team: 'ml' });
    });
  });

  describe('rules ConfigMap', () => {
    it('an invalid edit keeps the rules in force, a valid one swaps them', async () => {
      const c = start();
      await ready(c);
      const first = c.rules();

      fake.upsert(CONFIGMAPS, rulesConfigMap(invalidRulesText));
      await vi.waitFor(async () => expect(await counter(metrics, 'invalid')).toBe(1));
      expect(c.rules()).toBe(first);

      fake.upsert(CONFIGMAPS, { metadata: { name: RULES_NAME }, data: { other: 'x' } } as KubernetesObject);
      await vi.waitFor(async () => expect(await counter(metrics, 'invalid')).toBe(2));
      expect(c.rules()).toBe(first);

      fake.upsert(CONFIGMAPS, rulesConfigMap(rulesText('spot', 'gpu')));
      await vi.waitFor(() => expect(ruleNames(c)).toEqual(['spot', 'gpu']));
      expect(await counter(metrics, 'success')).toBe(2);
      expect((await metrics.rulesLoaded.get()).values[0]?.value).toBe(2);
    });

    it('checked in a thread of its own: the same answers, and of two quick edits the later one is in force', { timeout: 30_000 }, async () => {
      const rulesChecker = new RulesChecker();
      try {
        const c = start({ rulesChecker });
        // The first document is checked in the thread too: ready once it is in force.
        await vi.waitFor(() => expect(c.notReady()).toBeUndefined(), { timeout: 10_000 });
        const first = c.rules();
        fake.upsert(CONFIGMAPS, rulesConfigMap(invalidRulesText));
        await vi.waitFor(async () => expect(await counter(metrics, 'invalid')).toBe(1), { timeout: 10_000 });
        expect(c.rules()).toBe(first);
        // The second edit arrives while the first is being checked: the first one's result is dropped.
        fake.upsert(CONFIGMAPS, rulesConfigMap(rulesText('spot', 'gpu')));
        fake.upsert(CONFIGMAPS, rulesConfigMap(rulesText('gpu')));
        await vi.waitFor(() => expect(ruleNames(c)).toEqual(['gpu']), { timeout: 10_000 });
        await sleep(200);
        expect(ruleNames(c)).toEqual(['gpu']);
        expect(rulesChecker.fallbacks).toBe(0);
      } finally {
        await rulesChecker.close();
      }
    });

    it('a deleted ConfigMap keeps the last good rules', async () => {
      const c = start();
      await ready(c);
      const inForce = c.rules();
      fake.remove(CONFIGMAPS, RULES_NAME);
      fake.upsert(CONFIGMAPS, { metadata: { name: 'unrelated' }, data: { [RULES_KEY]: rulesText('other') } } as KubernetesObject);
      await sleep(100);
      expect(c.rules()).toBe(inForce);
      expect(c.notReady()).toBeUndefined();
    });
  });

  describe('the pods bound to nodes', () => {
    /** A pod of `app` bound to `node`, with required anti-affinity against its own app on the hostname. */
    const boundPod = (name: string, node: string) => ({
      metadata: { namespace: 'default', name, labels: { app: 'web' } },
      spec: { nodeName: node, containers: [{ name: 'a', image: 'x', env: [{ name: 'TOKEN', value: 'secret' }] }] },
      status: { phase: 'Running' },
    });
    /** A third replica: both nodes hold one already. */
    const replicaReview = () => {
      const r = podReview();
      return {
        ...r,
        request: {
          ...r.request,
          object: {
            metadata: { name: 'web-3', labels: { app: 'web' } },
            spec: {
              containers: [{ name: 'a', image: 'x' }],
              tolerations: [{ key: 'spot', operator: 'Exists' }],
              affinity: {
                podAntiAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: [
                    { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' },
                  ],
                },
              },
            },
          },
        },
      };
    };
    const warningsOf = async (c: LiveCluster) => {
      const a = buildApp({ ctx: c, logger: pino({ level: 'silent' }) });
      try {
        const res = await a.inject({ method: 'POST', url: '/validate', payload: replicaReview() });
        const { allowed, warnings = [] } = res.json<{ response: { allowed: boolean; warnings?: string[] } }>().response;
        return { allowed, warnings };
      } finally {
        await a.close();
      }
    };

    beforeEach(() => {
      // Nodes with hostname labels, as the kubelet sets them.
      fake.upsert(NODES, apiNode('n1', { zone: 'a', 'kubernetes.io/hostname': 'n1' }));
      fake.upsert(NODES, apiNode('n2', { zone: 'b', 'kubernetes.io/hostname': 'n2' }));
      fake.upsert(PODS, boundPod('web-1', 'n1'));
      fake.upsert(PODS, boundPod('web-2', 'n2'));
    });

    it('readiness does not wait for them; until they are listed there is no pending answer, then there is', async () => {
      fake.refuse(PODS);
      const c = start();
      await ready(c);
      expect(c.pods()?.incomplete).toBe('the pod list has not been received yet');
      const before = await warningsOf(c);
      expect(before.allowed).toBe(true);
      expect(before.warnings).toEqual(['placement-webhook: not checked whether it would be scheduled now: the pod list has not been received yet']);

      fake.accept(PODS);
      await vi.waitFor(() => expect(c.pods()?.incomplete).toBeUndefined());
      expect(c.pods()?.index.size).toBe(2);
      const after = await warningsOf(c);
      expect(after.allowed).toBe(true);
      expect(after.warnings).toEqual(['will stay Pending: 0/2 nodes are available:', "  2 node(s) didn't match pod anti-affinity rules"]);
      c.updateGauges();
      expect((await metrics.pods.get()).values[0]?.value).toBe(2);
      expect(await gauge(metrics.cacheStale, 'pods')).toBe(0);
    });

    it('follows pods as they come and go', async () => {
      const c = start();
      await vi.waitFor(() => expect(c.pods()?.index.size).toBe(2));
      await vi.waitFor(() => expect(fake.openWatches(PODS)).toBe(1));
      fake.remove(PODS, 'default/web-2');
      await vi.waitFor(() => expect(c.pods()?.index.size).toBe(1));
      expect((await warningsOf(c)).warnings).toEqual([]);
    });

    it('a pod cache disconnected beyond the staleness bound gives no pending answer, and says why', async () => {
      const c = start();
      await vi.waitFor(() => expect(c.pods()?.incomplete).toBeUndefined());
      fake.refuse(PODS);
      await vi.waitFor(() => expect(c.pods()?.incomplete).toMatch(/^the pod cache has been disconnected for \d+s$/));
      c.updateGauges();
      expect(await gauge(metrics.cacheStale, 'pods')).toBe(1);
      expect((await warningsOf(c)).warnings).toEqual([
        expect.stringMatching(/^placement-webhook: not checked whether it would be scheduled now: the pod cache has been disconnected/),
      ]);
    });

    it('malformed pods are left out and counted', async () => {
      fake.plant(PODS, { metadata: { namespace: 7, name: 'odd' }, spec: { nodeName: 'n1' }, status: { phase: 'Running' } });
      const c = start();
      await vi.waitFor(() => expect(c.pods()?.incomplete).toBeUndefined());
      expect(c.pods()?.index.size).toBe(2);
      expect((await metrics.objectsRejected.get()).values.find((v) => v.labels.cache === 'pods')?.value).toBe(1);
    });

    it('with watchPods false no pod is read and only "can it ever run" is answered', async () => {
      const c = start({ watchPods: false });
      await ready(c);
      expect(c.pods()).toBeUndefined();
      expect(fake.requests(PODS).lists).toBe(0);
      expect((await warningsOf(c)).warnings).toEqual([]);
    });
  });

  describe('what the API server sends can never stop the webhook', () => {
    const app = (c: LiveCluster) => buildApp({ ctx: c, logger: pino({ level: 'silent' }) });
    const answers = async (c: LiveCluster) => {
      const a = app(c);
      try {
        const res = await a.inject({ method: 'POST', url: '/validate', payload: podReview() });
        return res.statusCode;
      } finally {
        await a.close();
      }
    };

    it('an alias-bomb rules ConfigMap at start: unready with the reason, counted, and no reconnect loop', async () => {
      fake.upsert(CONFIGMAPS, rulesConfigMap(billionLaughs()));
      const c = start();
      await vi.waitFor(() =>
        expect(c.notReady()).toMatch(/^rules ConfigMap placement-webhook\/placement-rules is invalid: YAML aliases expand the document/),
      );
      expect(await counter(metrics, 'invalid')).toBe(1);
      await sleep(300);
      expect(fake.requests(CONFIGMAPS).lists).toBe(1);
      expect(await answers(c)).toBe(200);
      // Fixed: ready.
      fake.upsert(CONFIGMAPS, rulesConfigMap(rulesText('fixed')));
      await ready(c);
      expect(ruleNames(c)).toEqual(['fixed']);
    });

    it('an edit to an alias bomb, or to a document nested too deep, keeps the last good rules and is counted', async () => {
      const c = start();
      await ready(c);
      const inForce = c.rules();
      fake.upsert(CONFIGMAPS, rulesConfigMap(billionLaughs()));
      await vi.waitFor(async () => expect(await counter(metrics, 'invalid')).toBe(1));
      fake.upsert(CONFIGMAPS, rulesConfigMap(deeplyNested(5000)));
      await vi.waitFor(async () => expect(await counter(metrics, 'invalid')).toBe(2));
      expect(c.rules()).toBe(inForce);
      expect(c.notReady()).toBeUndefined();
      expect(await answers(c)).toBe(200);
      // 101 rules sharing one anchor are valid.
      fake.upsert(CONFIGMAPS, rulesConfigMap(sharedAnchorRules(101)));
      await vi.waitFor(() => expect(ruleNames(c)).toHaveLength(101));
    });

    it.each([
      { name: 'a node whose taints are a string', path: NODES, obj: { metadata: { name: 'poison' }, spec: { taints: 'spot' } } },
      { name: 'a node whose labels hold a number', path: NODES, obj: { metadata: { name: 'poison', labels: { zone: 7 } } } },
      {
        name: 'a node whose allocatable is a list and labels null',
        path: NODES,
        obj: { metadata: { name: 'poison', labels: null }, status: { allocatable: [1, 2] } },
      },
      { name: 'a namespace whose labels are a list', path: NAMESPACES, obj: { metadata: { name: 'poison', labels: ['a'] } } },
      { name: 'a rules ConfigMap whose data is a number', path: CONFIGMAPS, obj: { metadata: { name: RULES_NAME }, data: 5 } },
      {
        name: 'a rules ConfigMap whose rules.yaml is an object',
        path: CONFIGMAPS,
        obj: { metadata: { name: RULES_NAME }, data: { [RULES_KEY]: { a: 1 } } },
      },
    ])('$name is left harmless and the server still answers', async ({ path, obj }) => {
      const c = start();
      await ready(c);
      await watching();
      const inForce = c.rules();
      fake.upsert(path, obj as unknown as KubernetesObject);
      await sleep(100);
      expect(await answers(c)).toBe(200);
      expect(c.notReady()).toBeUndefined();
      if (path === CONFIGMAPS) expect(c.rules()).toBe(inForce);
      // Still following events afterwards.
      fake.upsert(NODES, apiNode('after', { zone: 'c' }));
      await vi.waitFor(() => expect(c.nodes().index.get('after')).toBeDefined());
    });

    it('a list holding a poison object syncs the rest', async () => {
      fake.upsert(NODES, { metadata: { name: 'poison' }, spec: { taints: [null, 'x', { key: 5 }] } } as unknown as KubernetesObject);
      const c = start();
      await ready(c);
      expect(c.nodes().index.get('poison')).toEqual({ name: 'poison', labels: {}, taints: [], unschedulable: false, allocatable: {} });
      expect(c.nodes().index.get('n1')).toBeDefined();
    });
  });

  describe('priority classes', () => {
    it('give the priority of a template by its class name, the global default for none, and nothing before they are listed', async () => {
      fake.upsert(priorityClasses, { metadata: { name: 'critical' }, value: 1000 } as KubernetesObject);
      fake.upsert(priorityClasses, { metadata: { name: 'normal' }, value: 10, globalDefault: true } as KubernetesObject);
      const c = start();
      expect(c.priorityOf('critical')).toBeUndefined();
      await ready(c);
      await vi.waitFor(() => expect(c.priorityOf('critical')).toBe(1000));
      expect(c.priorityOf(undefined)).toBe(10);
      expect(c.priorityOf('missing')).toBeUndefined();
      fake.remove(priorityClasses, 'normal');
      await vi.waitFor(() => expect(c.priorityOf(undefined)).toBe(0));
    });
  });

  describe('capacity autoscalers can add', () => {
    const NODEPOOLS = { group: 'karpenter.sh', version: 'v1', plural: 'nodepools', kind: 'NodePool' };
    const pool = (name: string, ready = 'True') =>
      ({
        metadata: { name },
        spec: {
          template: {
            metadata: { labels: { pool: name } },
            spec: { requirements: [{ key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] }] },
          },
        },
        status: { conditions: [{ type: 'Ready', status: ready }] },
      }) as KubernetesObject;
    const sources = (c: LiveCluster) => c.capacity().sources.map((s) => `${s.kind} ${s.name}`);

    it('no NodePool or Cluster API CRD: no capacity, complete, and no request to their paths', async () => {
      fake.unserve('scheduling.k8s.io');
      const c = start();
      await ready(c);
      await vi.waitFor(() => expect(fake.requests('/apis').gets).toBeGreaterThan(0));
      await vi.waitFor(() => expect(c.capacity().incomplete).toBeUndefined());
      expect(c.capacity().sources).toEqual([]);
      expect(c.autoscalerResources()).toEqual([]);
    });

    it('NodePools are read where karpenter.sh is served, incomplete until listed, and dropped when the CRD goes', async () => {
      const path = fake.serve(NODEPOOLS);
      fake.upsert(path, pool('spot'));
      fake.upsert(path, pool('broken', 'False'));
      const c = start();
      await vi.waitFor(() => expect(sources(c)).toEqual(['NodePool spot', 'NodePool broken']));
      expect(c.capacity().incomplete).toBeUndefined();
      expect(c.capacity().sources.find((s) => s.name === 'broken')?.inactive).toBe('it is not Ready (Ready=False)');
      expect(c.autoscalerResources()).toEqual(['karpenter.sh/v1/nodepools']);
      fake.upsert(path, pool('gpu'));
      await vi.waitFor(() => expect(sources(c)).toContain('NodePool gpu'));
      fake.remove(path, 'gpu');
      await vi.waitFor(() => expect(sources(c)).not.toContain('NodePool gpu'));

      fake.unserve('karpenter.sh');
      await vi.waitFor(() => expect(c.autoscalerResources()).toEqual([]));
      expect(c.capacity()).toEqual({ sources: [], incomplete: undefined });
    });

    it('a CRD installed later is picked up at the next discovery; v1beta1 is read when v1 is not served', async () => {
      const c = start({ discoveryMs: 300 });
      await ready(c);
      const path = fake.serve({ ...NODEPOOLS, version: 'v1beta1' });
      fake.upsert(path, pool('late'));
      await vi.waitFor(() => expect(sources(c)).toEqual(['NodePool late']), { timeout: 5000 });
      expect(c.autoscalerResources()).toEqual(['karpenter.sh/v1beta1/nodepools']);
    });

    it('Cluster API groups with scale-from-zero annotations are read', async () => {
      const path = fake.serve({ group: 'cluster.x-k8s.io', version: 'v1beta1', plural: 'machinedeployments', kind: 'MachineDeployment' });
      fake.serve({ group: 'cluster.x-k8s.io', version: 'v1beta1', plural: 'machinesets', kind: 'MachineSet' });
      fake.upsert(path, {
        metadata: {
          name: 'md-gpu',
          namespace: 'infra',
          annotations: {
            'cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size': '3',
            'capacity.cluster-autoscaler.kubernetes.io/cpu': '8',
            'capacity.cluster-autoscaler.kubernetes.io/memory': '32Gi',
            unrelated: 'dropped on arrival',
          },
        },
        spec: { replicas: 0 },
      } as KubernetesObject);
      const c = start();
      await vi.waitFor(() => expect(sources(c)).toEqual(['MachineDeployment infra/md-gpu']));
    });

    it('a NodePool that cannot be read is not used, and the rest are', async () => {
      const path = fake.serve(NODEPOOLS);
      fake.upsert(path, pool('spot'));
      fake.upsert(path, { metadata: { name: 'bad' }, spec: { limits: { cpu: 'lots' } } } as KubernetesObject);
      const c = start();
      await vi.waitFor(() => expect(sources(c)).toEqual(['NodePool spot']));
    });
  });

  describe('API server outages', () => {
    it('reports a disconnected cache after maxStaleness, reconnects by itself, and relists after a 410', async () => {
      const c = start();
      await ready(c);
      await watching();
      c.updateGauges();
      expect(await gauge(metrics.cacheStale, 'nodes')).toBe(0);

      fake.down();
      fake.remove(NODES, 'n2');
      fake.upsert(NODES, apiNode('n3', { zone: 'c' }));
      fake.compact();
      await sleep(MAX_STALENESS_MS + 100);
      expect(c.nodes().incomplete).toMatch(/^the node cache has been disconnected for \d+s$/);
      // still ready, still serving what it knew
      expect(c.notReady()).toBeUndefined();
      expect(c.nodes().index.get('n2')).toBeDefined();
      c.updateGauges();
      for (const cache of ['nodes', 'namespaces', 'rules']) {
        expect(await gauge(metrics.cacheStale, cache)).toBe(1);
        expect(await gauge(metrics.cacheDisconnected, cache)).toBeGreaterThan(MAX_STALENESS_MS / 1000);
      }
      const listsBeforeUp = fake.requests(NODES).lists;

      fake.up();
      await vi.waitFor(() => expect(c.nodes().incomplete).toBeUndefined());
      await vi.waitFor(() => expect([...c.nodes().index.nodes()].map((n) => n.name).sort()).toEqual(['n1', 'n3']));
      // the resumed watch got a 410: exactly one relist of nodes
      expect(fake.requests(NODES).lists).toBe(listsBeforeUp + 1);
      c.updateGauges();
      expect(await gauge(metrics.cacheStale, 'nodes')).toBe(0);
      expect(await gauge(metrics.cacheDisconnected, 'nodes')).toBe(0);
    });

    it('a watch resumed within the retained history gets the missed deletion without relisting', async () => {
      const c = start();
      await ready(c);
      await watching();
      const lists = fake.requests(NODES).lists;
      fake.down();
      fake.remove(NODES, 'n2');
      await sleep(80);
      fake.up();
      await vi.waitFor(() => expect(c.nodes().index.get('n2')).toBeUndefined());
      expect(fake.requests(NODES).lists).toBe(lists);
      expect(c.nodes().incomplete).toBeUndefined();
    });

    it('the periodic relist removes a node whose deletion no watch reported', async () => {
      const c = start({ relistMs: 300 });
      await ready(c);
      fake.remove(NODES, 'n2', { event: false });
      await sleep(100);
      expect(c.nodes().index.get('n2')).toBeDefined();
      await vi.waitFor(() => expect(c.nodes().index.get('n2')).toBeUndefined(), { timeout: 1500 });
      expect(c.nodes().index.get('n1')).toBeDefined();
    });

    it('periodic relists re-read each collection once, without reconnect loops', async () => {
      const c = start({ relistMs: 200, backoff: { initialMs: 20, maxMs: 20 } });
      await ready(c);
      await sleep(900);
      for (const p of PATHS) {
        const { lists, watches, refused } = fake.requests(p);
        expect(refused).toBe(0);
        expect(lists).toBeGreaterThanOrEqual(4);
        expect(lists).toBeLessThanOrEqual(7);
        expect(watches === lists || watches === lists - 1).toBe(true);
      }
      // A replaced watch's connection is seen closed by the server a moment after the new one opens.
      await vi.waitFor(() => PATHS.forEach((p) => expect(fake.openWatches(p)).toBeLessThanOrEqual(1)));
      expect(c.nodes().incomplete).toBeUndefined();
      expect(c.nodes().index.size).toBe(2);
    });
  });

  describe('watch timeouts', () => {
    it('a clean close is followed by a new watch from the last version, without a relist', async () => {
      const c = start();
      await ready(c);
      await watching();
      const before = PATHS.map((p) => ({ ...fake.requests(p) }));

      for (let round = 1; round <= 3; round++) {
        fake.closeWatches();
        await vi.waitFor(() => PATHS.forEach((p, i) => expect(fake.requests(p).watches).toBe((before[i]?.watches ?? 0) + round)));
        await watching();
      }
      PATHS.forEach((p, i) => expect(fake.requests(p).lists).toBe(before[i]?.lists));

      fake.upsert(NODES, apiNode('n1', { zone: 'z' }));
      await vi.waitFor(() => expect(c.nodes().index.get('n1')?.labels).toEqual({ zone: 'z' }));
      expect(c.nodes().incomplete).toBeUndefined();
    });
  });
});
