/**
 * `audit --kubeconfig` and `whatif --kubeconfig` against a real kube-apiserver (no scheduler, no controllers: pods are
 * bound by `spec.nodeName`, workloads are objects only): everything is read from the API server once — nodes,
 * namespaces, pods, the rules ConfigMap, Deployments, ReplicaSets and PodDisruptionBudgets through their API groups —
 * and judged as from files. Proven here:
 * - a node relabelled under a pod with a nodeSelector is a `node-affinity` finding, with the node that would take it;
 * - a pod created while no webhook ran (nothing mutated it) is `drift`, with the patch the webhook would apply;
 * - a Deployment whose replicas cannot all be placed is a `replicas` finding;
 * - `whatif --drain` places the drained pods and reports the PodDisruptionBudget that would hold the drain (the 1.20
 *   API server serves them as policy/v1beta1 only, and CronJobs as batch/v1beta1: the older versions are read).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Finding } from '../../src/audit/findings.js';
import { run } from '../../src/cli/run.js';
import { startControlPlane, type ControlPlane } from './support/controlplane.js';

const json = (o: unknown) => JSON.stringify(o);
const RULES_CONFIGMAP = 'placement-rules/rules';

const RULES = `apiVersion: placement-webhook/v1
kind: PlacementRules
rules:
  - name: batch-ssd
    match:
      podSelector: {matchLabels: {tier: batch}}
    inject:
      nodeSelector: {disktype: ssd}
`;

function node(name: string, disktype: string) {
  const allocatable = { cpu: '4', memory: '16Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, disktype } },
    status: { capacity: allocatable, allocatable },
  };
}

function pod(name: string, nodeName: string, labels: Record<string, string>, spec: object = {}, owner?: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      labels,
      ...(owner
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: '6f1c1a52-0000-4000-8000-000000000001', controller: true },
            ],
          }
        : {}),
    },
    spec: {
      nodeName,
      containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.2', resources: { requests: { cpu: '100m', memory: '64Mi' } } }],
      ...spec,
    },
  };
}

const ANTI = {
  podAntiAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' }],
  },
};

describe('audit and whatif against a real API server', () => {
  let cp: ControlPlane;
  let out: string[] = [];
  let err: string[] = [];

  async function kubectlOk(args: string[], input?: string): Promise<string> {
    const r = await cp.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  beforeAll(async () => {
    cp = await startControlPlane();
    await kubectlOk(['create', 'namespace', 'placement-rules']);
    await kubectlOk(['create', 'configmap', 'rules', '-n', 'placement-rules', `--from-literal=rules.yaml=${RULES}`]);
    await kubectlOk(['create', 'namespace', 'shop']);
    await kubectlOk(['create', '-f', '-'], json(node('ssd-1', 'ssd')));
    await kubectlOk(['create', '-f', '-'], json(node('ssd-2', 'ssd')));
    await kubectlOk(['create', '-f', '-'], json(pod('db-0', 'ssd-1', { app: 'db' }, { nodeSelector: { disktype: 'ssd' } })));
    await kubectlOk(['create', '-f', '-'], json(pod('report-0', 'ssd-2', { tier: 'batch' })));
    for (const [n, on] of [
      ['web-6b8f4c-a', 'ssd-1'],
      ['web-6b8f4c-b', 'ssd-2'],
    ] as const) {
      await kubectlOk(['create', '-f', '-'], json(pod(n, on, { app: 'web', 'pod-template-hash': '6b8f4c' }, { affinity: ANTI }, 'web-6b8f4c')));
    }
    await kubectlOk(
      ['create', '-f', '-'],
      json({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'shop' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { affinity: ANTI, containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.2' }] },
          },
        },
      }),
    );
    await kubectlOk(
      ['create', '-f', '-'],
      json({
        apiVersion: 'policy/v1beta1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'web', namespace: 'shop' },
        spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } },
      }),
    );
    // Relabelled after its pod was bound: the nodeSelector no longer holds.
    await kubectlOk(['label', 'node', 'ssd-1', 'disktype=hdd', '--overwrite']);
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  beforeEach(() => {
    out = [];
    err = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (out.push(String(c)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (err.push(String(c)), true));
  });
  afterEach(() => vi.restoreAllMocks());

  const findings = () => (JSON.parse(out.join('')) as { findings: Finding[] }).findings;

  it('audit: the relabelled node, the unmutated pod and the Deployment that cannot place its replicas', async () => {
    const code = await run(['audit', '--kubeconfig', cp.kubeconfigPath, '--rules-configmap', RULES_CONFIGMAP, '-o', 'json']);
    expect(
      err.filter((l) => l.startsWith('error') || l.startsWith('warning')),
      err.join(''),
    ).toEqual([]);
    expect(code).toBe(1);
    const f = findings();
    expect(f.find((x) => x.kind === 'node-affinity')).toMatchObject({
      object: { kind: 'Pod', name: 'db-0' },
      node: 'ssd-1',
      reschedulable: true,
      rescheduleNode: 'ssd-2',
    });
    expect(f.find((x) => x.kind === 'drift')).toMatchObject({
      object: { name: 'report-0' },
      rule: 'batch-ssd',
      patch: expect.arrayContaining([{ op: 'add', path: '/spec/nodeSelector', value: { disktype: 'ssd' } }]),
    });
    expect(f.find((x) => x.kind === 'replicas')).toMatchObject({ object: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' } });
  });

  it('whatif --drain: the drained replica has nowhere to go, and the PodDisruptionBudget would hold the drain', async () => {
    const code = await run(['whatif', '--kubeconfig', cp.kubeconfigPath, '--rules-configmap', RULES_CONFIGMAP, '--drain', 'ssd-2', '-o', 'json']);
    expect(code).toBe(1);
    const f = findings();
    expect(f.find((x) => x.object.name === 'web-6b8f4c-b')).toMatchObject({
      kind: 'drained',
      reschedulable: false,
      owner: { kind: 'Deployment', name: 'web' },
    });
    expect(f.find((x) => x.kind === 'pdb')).toMatchObject({
      object: { kind: 'PodDisruptionBudget', name: 'web' },
      rule: 'minAvailable 2',
      severity: 'fail',
    });
    expect(f.find((x) => x.kind === 'replicas-lost')?.message).toContain('(required anti-affinity on kubernetes.io/hostname)');
  });
});
