import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FakeApiServer, PODS } from '../../test/support/fake-apiserver.js';
import type { Finding } from '../audit/findings.js';
import { run } from './run.js';
import { captureOutput } from '../../test/support/output.js';

const NODES = '/api/v1/nodes';
const NAMESPACES = '/api/v1/namespaces';
const CONFIGMAPS = '/api/v1/namespaces/placement-webhook/configmaps';

const { out, err } = captureOutput();

const RULES = stringify({
  apiVersion: 'placement-webhook/v1',
  kind: 'PlacementRules',
  rules: [{ name: 'batch-ssd', match: { podSelector: { matchLabels: { tier: 'batch' } } }, inject: { nodeSelector: { disk: 'ssd' } } }],
});

const obj = (o: Record<string, unknown>) => o as KubernetesObject;
const pod = (name: string, node: string, extra: Record<string, unknown> = {}, labels: Record<string, string> = {}) =>
  obj({
    metadata: {
      name,
      namespace: 'shop',
      labels: { app: name.split('-')[0] as string, 'pod-template-hash': 'h1', ...labels },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name.split('-')[0] as string}-h1`, uid: 'u', controller: true }],
      managedFields: [{ manager: 'kubectl' }],
    },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '500m' } } }], ...extra },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });

let fake: FakeApiServer;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  fake = await FakeApiServer.start();
  dir = mkdtempSync(join(tmpdir(), 'audit-cluster-test-'));
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: fake.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: {} }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u' } }],
      'current-context': 'fake',
    }),
  );
  fake.upsert(
    NODES,
    obj({
      metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1', disk: 'hdd' } },
      status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
    }),
  );
  fake.upsert(
    NODES,
    obj({
      metadata: { name: 'n2', labels: { 'kubernetes.io/hostname': 'n2', disk: 'ssd' } },
      status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
    }),
  );
  fake.upsert(NAMESPACES, obj({ metadata: { name: 'shop' } }));
  fake.upsert(CONFIGMAPS, obj({ metadata: { name: 'rules' }, data: { 'rules.yaml': RULES } }));
  fake.upsert(PODS, pod('db-1', 'n1', { nodeSelector: { disk: 'ssd' } }));
  fake.upsert(PODS, pod('report-1', 'n2', {}, { tier: 'batch' }));
  fake.upsert(PODS, pod('web-1', 'n1'));
  fake.upsert(PODS, pod('web-2', 'n2'));
  for (const [group, plural, kind] of [
    ['apps', 'deployments', 'Deployment'],
    ['apps', 'statefulsets', 'StatefulSet'],
    ['apps', 'replicasets', 'ReplicaSet'],
    ['apps', 'daemonsets', 'DaemonSet'],
    ['batch', 'jobs', 'Job'],
    ['batch', 'cronjobs', 'CronJob'],
    ['policy', 'poddisruptionbudgets', 'PodDisruptionBudget'],
  ] as const) {
    const path = fake.serve({ group, version: 'v1', plural, kind });
    if (kind === 'Deployment') {
      fake.upsert(
        path,
        obj({
          metadata: { name: 'web', namespace: 'shop' },
          spec: {
            replicas: 3,
            selector: { matchLabels: { app: 'web' } },
            template: {
              metadata: { labels: { app: 'web' } },
              spec: {
                containers: [{ name: 'c', image: 'x' }],
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
        }),
      );
    }
    if (kind === 'PodDisruptionBudget')
      fake.upsert(path, obj({ metadata: { name: 'web', namespace: 'shop' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } } }));
  }
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit --kubeconfig', { timeout: 30_000 }, () => {
  it('reads the cluster once, workloads included, and audits it as files', async () => {
    const code = await run(['audit', '--kubeconfig', kubeconfig, '--rules-configmap', 'placement-webhook/rules', '-o', 'json']);
    expect(code).toBe(1);
    const { findings } = JSON.parse(out.join('')) as { findings: Finding[] };
    expect(findings.map((f) => `${f.kind} ${f.object.kind}/${f.object.name}`)).toEqual([
      'node-affinity Pod/db-1',
      'drift Pod/report-1',
      'replicas Deployment/web',
      'rollout-stuck Deployment/web',
    ]);
    expect(findings[0]).toMatchObject({ owner: { kind: 'Deployment', name: 'db' }, reschedulable: true, rescheduleNode: 'n2' });
    expect(err.join('')).toBe('');
  });

  it('refuses files beside --kubeconfig', async () => {
    expect(await run(['audit', '--kubeconfig', kubeconfig, 'deployment.yaml'])).toBe(2);
    expect(err.join('')).toContain("FILE... is for files; with --kubeconfig the cluster's workloads are read");
  });
});

describe('whatif --kubeconfig', { timeout: 30_000 }, () => {
  it("reads the cluster's PodDisruptionBudgets for a drain (one that allows no disruption stops it)", async () => {
    expect(await run(['whatif', '--kubeconfig', kubeconfig, '--drain', 'n1', '-o', 'json'])).toBe(1);
    const { findings } = JSON.parse(out.join('')) as { findings: Finding[] };
    expect(findings.find((f) => f.kind === 'pdb')).toMatchObject({
      object: { kind: 'PodDisruptionBudget', name: 'web' },
      rule: 'minAvailable 2',
      severity: 'fail',
    });
    expect(findings.find((f) => f.object.name === 'web-1')).toMatchObject({ kind: 'drained', reschedulable: true, rescheduleNode: 'n2' });
  });
});
