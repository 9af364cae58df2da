import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FakeApiServer, PODS } from '../../test/support/fake-apiserver.js';
import { run } from './run.js';
import { captureOutput } from '../../test/support/output.js';

const fixture = (name: string) => new URL(`../../test/fixtures/cli/${name}`, import.meta.url).pathname;
const example = (name: string) => new URL(`../../examples/${name}`, import.meta.url).pathname;

const NODES = '/api/v1/nodes';
const NAMESPACES = '/api/v1/namespaces';
const CONFIGMAPS = '/api/v1/namespaces/placement-webhook/configmaps';
/** Pods beyond the busy ones, so that the pod list takes three pages of 500. */
const FILLER_PODS = 1200;

const { out, err } = captureOutput();
const stdout = () => out.join('');
const stderrLines = () =>
  err
    .join('')
    .split('\n')
    .filter((l) => l !== '');
const json = () => JSON.parse(stdout()) as Record<string, unknown>[];

const node = (name: string, zone: string): KubernetesObject =>
  ({
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': zone, lifecycle: 'OnDemand' } },
    status: { allocatable: { cpu: '4', memory: '16Gi', pods: '2000' } },
  }) as KubernetesObject;

const pod = (namespace: string, name: string, nodeName: string | undefined, cpu: string | undefined, phase = 'Running'): KubernetesObject =>
  ({
    metadata: { name, namespace, labels: { app: name.replace(/-\d+$/, '') } },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: 'c', image: 'registry.example.com/c:1', ...(cpu ? { resources: { requests: { cpu } } } : {}) }],
    },
    status: { phase },
  }) as KubernetesObject;

/** Only pods of app=web in shop get lifecycle=OnDemand, which every node has. */
const RULES = stringify({
  apiVersion: 'placement-webhook/v1',
  kind: 'PlacementRules',
  rules: [
    {
      name: 'on-demand-web',
      match: { namespaces: ['shop'], podSelector: { matchLabels: { app: 'web' } } },
      inject: { nodeSelector: { lifecycle: 'OnDemand' } },
    },
  ],
});

let fake: FakeApiServer;
let dir: string;
let kubeconfig: string;
/** Its current context reaches nothing; context `fake` is the fake API server. */
let twoContexts: string;

function writeKubeconfig(file: string, current: string): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'fake', cluster: { server: fake.url, 'insecure-skip-tls-verify': true } },
        { name: 'nowhere', cluster: { server: 'http://127.0.0.1:1', 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'u', user: {} }],
      contexts: [
        { name: 'fake', context: { cluster: 'fake', user: 'u' } },
        { name: 'nowhere', context: { cluster: 'nowhere', user: 'u' } },
      ],
      'current-context': current,
    }),
  );
  return path;
}

beforeAll(async () => {
  fake = await FakeApiServer.start();
  dir = mkdtempSync(join(tmpdir(), 'check-cluster-test-'));
  kubeconfig = writeKubeconfig('kubeconfig', 'fake');
  twoContexts = writeKubeconfig('kubeconfig-two-contexts', 'nowhere');
  for (const [name, zone] of [
    ['n1', 'eu-west-1a'],
    ['n2', 'eu-west-1b'],
    ['n3', 'eu-west-1c'],
  ] as const)
    fake.upsert(NODES, node(name, zone));
  for (const name of ['shop', 'other', 'placement-webhook'])
    fake.upsert(NAMESPACES, { metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });
  fake.upsert(CONFIGMAPS, { metadata: { name: 'rules' }, data: { 'rules.yaml': RULES } } as KubernetesObject);
  // As pods-busy.yaml: n1 and n2 full, 3 cpu free on n3; a finished pod (the list does not even ask for it).
  fake.upsert(PODS, pod('other', 'batch-1', 'n1', '4'));
  fake.upsert(PODS, pod('other', 'batch-2', 'n2', '4'));
  fake.upsert(PODS, pod('other', 'small', 'n3', '1'));
  fake.upsert(PODS, pod('other', 'finished', 'n3', '4', 'Succeeded'));
  fake.upsert(PODS, pod('other', 'waiting', undefined, '4', 'Pending'));
  fake.load(
    PODS,
    Array.from({ length: FILLER_PODS }, (_, i) => pod('other', `filler-${i}`, `n${(i % 3) + 1}`, undefined)),
  );
  // Karpenter still on v1beta1: v1 answers 404.
  const nodePools = fake.serve({ group: 'karpenter.sh', version: 'v1beta1', plural: 'nodepools', kind: 'NodePool' });
  fake.upsert(nodePools, {
    metadata: { name: 'spot' },
    spec: { template: { spec: { requirements: [{ key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] }] } } },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  } as KubernetesObject);
  const machineDeployments = fake.serve({ group: 'cluster.x-k8s.io', version: 'v1beta1', plural: 'machinedeployments', kind: 'MachineDeployment' });
  fake.serve({ group: 'cluster.x-k8s.io', version: 'v1beta1', plural: 'machinesets', kind: 'MachineSet' });
  fake.upsert(machineDeployments, {
    metadata: {
      name: 'md-batch',
      namespace: 'infra',
      annotations: {
        'cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size': '0',
        'cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size': '5',
        'capacity.cluster-autoscaler.kubernetes.io/cpu': '16',
        'capacity.cluster-autoscaler.kubernetes.io/memory': '64Gi',
        'capacity.cluster-autoscaler.kubernetes.io/labels': 'pool=batch',
      },
    },
    spec: { replicas: 0 },
  } as KubernetesObject);
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  fake.beforeList = undefined;
});

const FILES = [fixture('deployment-web.yaml'), fixture('pod-four-cpu.yaml'), fixture('pod-spot-capacity.yaml'), fixture('pod-batch-pool.yaml')];

describe('placement-webhook check --kubeconfig: the cluster read once, nothing installed', () => {
  it('judges against its nodes, its pods (listed page by page), its NodePools and Cluster API groups, with the rules of its ConfigMap', async () => {
    const pages = fake.requests(PODS).lists;
    expect(await run(['check', '--kubeconfig', kubeconfig, '--rules-configmap', 'placement-webhook/rules', '-o', 'json', ...FILES])).toBe(0);
    const [web, four, spot, batch] = json();
    expect(web).toMatchObject({
      kind: 'Deployment',
      appliedRules: ['on-demand-web'],
      verdict: 'fits',
      schedulableNow: true,
      replicas: 5,
      placeableReplicas: 3,
      placeableReplicasEstimate: true,
    });
    expect(four).toMatchObject({ verdict: 'pending', schedulableNow: false, pendingMessage: '0/3 nodes are available: 3 Insufficient cpu.' });
    expect(spot).toMatchObject({
      allowed: true,
      verdict: 'fits-nodepool',
      warnings: [
        'no current node fits; NodePool spot can provision one (Karpenter adds it)',
        '  cpu checked only against its limits (instance sizes are not known in the cluster)',
      ],
    });
    expect(batch).toMatchObject({
      allowed: true,
      verdict: 'fits-template',
      warnings: ['no current node fits; MachineDeployment infra/md-batch can add one (cluster-autoscaler scales it up)'],
    });
    // 1,203 pods the scheduler counts, 500 a page: three pages, each read into the index as it arrived.
    expect(fake.requests(PODS).lists - pages).toBe(3);
    expect(stderrLines()).toEqual([]);
  }, 30_000);

  it('the text output has no "as if the nodes were empty": the pods are the cluster\'s', async () => {
    expect(await run(['check', '--kubeconfig', kubeconfig, fixture('pod-four-cpu.yaml')])).toBe(0);
    expect(stdout()).toContain('  schedulable now: no\n  pending: 0/3 nodes are available: 3 Insufficient cpu.\n');
  }, 30_000);

  it('a continue token that expires in the middle of the pod list starts the list again, and the answer is the same', async () => {
    let expired = false;
    fake.beforeList = ({ path, page }) => {
      if (path === PODS && page === 2 && !expired) {
        expired = true;
        fake.expireContinueTokens();
      }
    };
    const pages = fake.requests(PODS).lists;
    expect(await run(['check', '--kubeconfig', kubeconfig, '-o', 'json', fixture('deployment-web.yaml')])).toBe(0);
    expect(expired).toBe(true);
    // One page, then the expired one, then three more.
    expect(fake.requests(PODS).lists - pages).toBe(5);
    expect(json()[0]).toMatchObject({ placeableReplicas: 3 });
  }, 30_000);

  it('without --rules or --rules-configmap there are no rules, and stderr says so; the bundled examples are never used', async () => {
    expect(await run(['check', '--kubeconfig', kubeconfig, '-o', 'json', fixture('deployment-web.yaml'), example('pods/consumer.yaml')])).toBe(0);
    const [web, consumer] = json();
    expect(web).toMatchObject({ appliedRules: [] });
    expect(consumer).toMatchObject({ appliedRules: [] });
    expect(stderrLines()).toEqual([`note: no --rules or --rules-configmap given: judging ${fake.url} without placement rules`]);
  }, 30_000);

  it('--rules FILE gives the rules instead (the example consumer then asks for spot nodes, which this cluster has not)', async () => {
    expect(await run(['check', '--kubeconfig', kubeconfig, '--rules', example('rules.yaml'), '-o', 'json', example('pods/consumer.yaml')])).toBe(1);
    expect(json()[0]).toMatchObject({ allowed: false, appliedRules: ['spot-consumers'], verdict: 'no-fit' });
  }, 30_000);

  it('--context picks a context other than the current one', async () => {
    expect(await run(['check', '--kubeconfig', twoContexts, fixture('pod.yaml')])).toBe(2);
    expect(stderrLines()).toEqual([expect.stringMatching(/^error: --kubeconfig .*: cannot list nodes of http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/)]);
    err.length = 0;
    out.length = 0;
    expect(await run(['check', '--kubeconfig', twoContexts, '--context', 'fake', fixture('pod.yaml')])).toBe(0);
    expect(stdout()).toContain('Pod default/web: allowed');
  }, 30_000);
});

describe('placement-webhook check --kubeconfig: what leaves nothing to judge by is exit 2, one line', () => {
  it.each([
    {
      name: 'a kubeconfig that does not exist',
      args: () => ['--kubeconfig', join(dir, 'missing')],
      want: () => `error: --kubeconfig ${join(dir, 'missing')}: cannot load the cluster configuration: ENOENT: no such file or directory`,
    },
    {
      name: 'a context the kubeconfig does not have',
      args: () => ['--kubeconfig', kubeconfig, '--context', 'prod'],
      want: () => `error: --context: no context "prod" in ${kubeconfig}; its contexts: "fake", "nowhere"`,
    },
    {
      name: 'a rules ConfigMap that does not exist',
      args: () => ['--kubeconfig', kubeconfig, '--rules-configmap', 'placement-webhook/missing'],
      want: () => `error: --rules-configmap placement-webhook/missing: not found in ${fake.url}`,
    },
    {
      name: 'a rules ConfigMap named without its namespace',
      args: () => ['--kubeconfig', kubeconfig, '--rules-configmap', 'rules'],
      want: () => 'error: --rules-configmap: expected NAMESPACE/NAME, got "rules"',
    },
    {
      name: '--pods with --kubeconfig',
      args: () => ['--kubeconfig', kubeconfig, '--pods', fixture('pods-busy.yaml')],
      want: () => "error: --pods is for files; with --kubeconfig the cluster's own are read",
    },
  ])(
    '$name',
    async ({ args, want }) => {
      expect(await run(['check', ...args(), fixture('pod.yaml')])).toBe(2);
      expect(stdout()).toBe('');
      const lines = stderrLines();
      expect(lines).toHaveLength(1);
      expect(lines[0]?.startsWith(want())).toBe(true);
    },
    30_000,
  );
});
