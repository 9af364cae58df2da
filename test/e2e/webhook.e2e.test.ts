/**
 * placement-webhook through a real kube-apiserver, kube-scheduler and kube-controller-manager: the webhook runs as
 * its own process in cluster mode (informers, rules ConfigMap), registered with the manifests of webhook-config/.
 */
import { readFileSync } from 'node:fs';
import { copyFile, cp as cp_r, readFile, writeFile } from 'node:fs/promises';
import { writeCertificates } from '../../src/cli/certs.js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { startControlPlane, type ControlPlane } from './support/controlplane.js';
import { billionLaughs } from '../support/yaml-bombs.js';
import { baseManifest, makeCerts, REPO_ROOT, startWebhook, webhookConfigurations, type Webhook, type WebhookCerts } from './support/webhook.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const json = (o: unknown) => JSON.stringify(o);

interface Pod {
  metadata: { name: string; namespace: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: {
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    tolerations?: { key?: string; value?: string; effect?: string }[];
    affinity?: Record<string, unknown>;
    containers: { env?: { name: string; value?: string }[] }[];
  };
}

function nodesFromExamples(): object[] {
  const list = parse(readFileSync(path.join(REPO_ROOT, 'examples', 'nodes.yaml'), 'utf8')) as { items: Record<string, unknown>[] };
  return list.items.map((n) => {
    const status = n['status'] as { allocatable: Record<string, string> };
    return { ...n, status: { capacity: status.allocatable, allocatable: status.allocatable } };
  });
}

function pod(name: string, namespace: string, labels: Record<string, string>, extra: { requests?: Record<string, string>; spec?: object } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.2', resources: { requests: extra.requests ?? { cpu: '100m', memory: '64Mi' } } }],
      ...(extra.spec ?? {}),
    },
  };
}

function deployment(name: string, namespace: string, labels: Record<string, string>, replicas: number, requests = { cpu: '100m', memory: '64Mi' }) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.2', resources: { requests } }] },
      },
    },
  };
}

const NODEPOOL_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'nodepools.karpenter.sh' },
  spec: {
    group: 'karpenter.sh',
    scope: 'Cluster',
    names: { kind: 'NodePool', listKind: 'NodePoolList', plural: 'nodepools', singular: 'nodepool' },
    versions: [
      { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
    ],
  },
};

/** A Karpenter NodePool of arm64 spot capacity, Ready. */
const ARM_POOL = {
  apiVersion: 'karpenter.sh/v1',
  kind: 'NodePool',
  metadata: { name: 'arm-spot' },
  spec: {
    template: {
      metadata: { labels: { lifecycle: 'Ec2Spot' } },
      spec: {
        requirements: [
          { key: 'kubernetes.io/arch', operator: 'In', values: ['arm64'] },
          { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot'] },
        ],
        taints: [{ key: 'spot', value: 'true', effect: 'NoSchedule' }],
        nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'default' },
      },
    },
    limits: { cpu: '1000' },
  },
  status: { resources: { cpu: '0' }, conditions: [{ type: 'Ready', status: 'True' }] },
};

/** The three nodes of the workload scenario: a Deployment's pods may use these and no other. */
const THREE_NODES = ['ondemand-a-1', 'ondemand-b-1', 'spot-a-1'];

/**
 * A Deployment whose replicas keep apart (required anti-affinity against their own labels on the hostname) and may
 * use only THREE_NODES; `strategy` as given (none: the default 25 % / 25 %).
 */
function spreadOut(name: string, replicas: number, strategy?: object) {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      ...(strategy ? { strategy } : {}),
      template: {
        metadata: { labels },
        spec: {
          tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }],
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: THREE_NODES }] }],
              },
            },
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' }],
            },
          },
          containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.2', resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
        },
      },
    },
  };
}

/** Rolls one replica at a time out of the way first: a rollout that progresses with one replica per node. */
const ONE_AT_A_TIME = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } };

const EXAMPLE_RULES = readFileSync(path.join(REPO_ROOT, 'examples', 'rules.yaml'), 'utf8');

describe('placement-webhook against a real control plane', () => {
  let cp: ControlPlane;
  let certs: WebhookCerts;
  let webhook: Webhook | undefined;

  async function kubectl(args: string[], input?: string) {
    return cp.kubectl(args, input);
  }

  async function kubectlOk(args: string[], input?: string): Promise<string> {
    const r = await cp.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\nwebhook log:\n${webhook?.logTail(20) ?? ''}`);
    return r.stdout;
  }

  async function getPod(ns: string, name: string): Promise<Pod> {
    return JSON.parse(await kubectlOk(['get', 'pod', '-n', ns, name, '-o', 'json'])) as Pod;
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(250);
    }
  }

  async function rulesConfigMap(rulesYaml: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const [cm] = baseManifest('rules-configmap.yaml') as { data: Record<string, string> }[];
    if (!cm) throw new Error('no rules ConfigMap in webhook-config/base');
    return kubectl(['apply', '-f', '-'], json({ ...cm, data: { 'rules.yaml': rulesYaml } }));
  }

  beforeAll(async () => {
    cp = await startControlPlane({ withScheduler: true, withControllerManager: true });
    certs = await makeCerts(path.join(cp.dir, 'webhook-certs'));

    // What `kubectl apply -k webhook-config/` installs, minus what needs a kubelet (Deployment, Service, PDB).
    for (const file of ['namespace.yaml', 'serviceaccount.yaml', 'rbac.yaml', 'rules-configmap.yaml']) {
      await kubectlOk(['apply', '-f', path.join(REPO_ROOT, 'webhook-config', 'base', file)]);
    }
    // Kubernetes 1.20 does not label namespaces with their name yet: do what the README tells 1.20 users to do.
    for (const ns of ['kube-system', 'kube-node-lease', 'default']) {
      await kubectlOk(['label', 'namespace', ns, `kubernetes.io/metadata.name=${ns}`, '--overwrite']);
    }
    for (const [ns, team] of [
      ['streaming', 'data'],
      ['payments', 'payments'],
      ['ml', 'research'],
    ] as const) {
      await kubectlOk(['create', 'namespace', ns]);
      await kubectlOk(['label', 'namespace', ns, `kubernetes.io/metadata.name=${ns}`, `team=${team}`]);
    }
    for (const node of nodesFromExamples()) await kubectlOk(['create', '-f', '-'], json(node));

    // Karpenter's NodePool CRD needs a newer API server than 1.20 (CEL validation rules): a minimal CRD of the same
    // group, version, kind and scope stands in for it (status is kept in the object, as 1.20 kubectl cannot write a
    // status subresource).
    await kubectlOk(['apply', '-f', '-'], json(NODEPOOL_CRD));
    await waitFor('the NodePool CRD to be served', async () => ((await kubectl(['get', 'nodepools.karpenter.sh'])).code === 0 ? true : undefined));

    webhook = await startWebhook({ kubeconfig: cp.kubeconfigPath, certs, dir: cp.dir, extraArgs: ['--max-staleness=10s'] });
    for (const cfg of webhookConfigurations(webhook.port, certs.caBundle)) await kubectlOk(['apply', '-f', '-'], json(cfg));
    // The API server picks up new webhook configurations asynchronously.
    await waitFor('the mutating webhook to be called', async () => {
      const r = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], json(pod('probe', 'streaming', { app: 'stream-consumer' })));
      return r.code === 0 && (JSON.parse(r.stdout) as Pod).spec.nodeSelector?.['lifecycle'] === 'Ec2Spot' ? true : undefined;
    });
  }, 240_000);

  afterAll(async () => {
    await webhook?.stop();
    await cp?.stop();
  }, 60_000);

  it('a pod gets the rules placement, and the scheduler binds it to a node of the intended group', async () => {
    await kubectlOk(['create', '-f', '-'], json(pod('consumer-0', 'streaming', { app: 'stream-consumer' })));
    const p = await getPod('streaming', 'consumer-0');
    expect(p.spec.nodeSelector).toEqual({ lifecycle: 'Ec2Spot' });
    expect(p.spec.tolerations).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'spot', value: 'true', effect: 'NoSchedule' })]));
    expect(p.metadata.annotations?.['placement-webhook/applied-rules']).toBe('spot-consumers');
    const bound = await waitFor('consumer-0 to be bound', async () => (await getPod('streaming', 'consumer-0')).spec.nodeName);
    expect(['spot-a-1', 'spot-b-1']).toContain(bound);
  });

  it('the pods of a Deployment get the placement and land on the intended nodes', async () => {
    await kubectlOk(['apply', '-f', '-'], json(deployment('producers', 'streaming', { app: 'stream-producer' }, 2)));
    const pods = await waitFor(
      'two bound producer pods',
      async () => {
        const list = JSON.parse(await kubectlOk(['get', 'pods', '-n', 'streaming', '-l', 'app=stream-producer', '-o', 'json'])) as { items: Pod[] };
        return list.items.length === 2 && list.items.every((x) => x.spec.nodeName) ? list.items : undefined;
      },
      60_000,
    );
    for (const p of pods) {
      expect(p.spec.nodeSelector).toEqual({ lifecycle: 'OnDemand' });
      expect(p.metadata.annotations?.['placement-webhook/applied-rules']).toBe('on-demand-producers');
      expect(['ondemand-a-1', 'ondemand-b-1', 'gpu-a-1', 'payments-a-1']).toContain(p.spec.nodeName);
      // The GPU and payments nodes are tainted: producers do not tolerate them.
      expect(['ondemand-a-1', 'ondemand-b-1']).toContain(p.spec.nodeName);
    }
  });

  it('PodPreset-style env reaches every container of pods in a selected namespace', async () => {
    await kubectlOk(['create', '-f', '-'], json(pod('ledger-0', 'payments', { app: 'ledger' })));
    const p = await getPod('payments', 'ledger-0');
    expect(p.spec.containers[0]?.env).toEqual([{ name: 'TEAM', value: 'payments' }]);
    expect(p.spec.nodeSelector).toEqual({ dedicated: 'payments' });
    const bound = await waitFor('ledger-0 to be bound', async () => (await getPod('payments', 'ledger-0')).spec.nodeName);
    expect(bound).toBe('payments-a-1');
  });

  it('a pod no node can run is denied with the scheduler-style message', async () => {
    const r = await kubectl(['create', '-f', '-'], json(pod('huge', 'streaming', { app: 'stream-consumer' }, { requests: { memory: '64Gi' } })));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('0/6 nodes are available: ');
    expect(r.stderr).toContain('2 Insufficient memory');
    expect(r.stderr).toContain("node(s) didn't match Pod's node affinity/selector");
    const gone = await kubectl(['get', 'pod', '-n', 'streaming', 'huge']);
    expect(gone.code).not.toBe(0);
  });

  it('a Deployment whose pods no node can run is denied at apply, with the same reasons', async () => {
    const r = await kubectl(
      ['apply', '-f', '-'],
      json(deployment('too-big', 'streaming', { app: 'stream-consumer' }, 3, { cpu: '64', memory: '64Mi' })),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Deployment too-big: 0/6 nodes are available: ');
    expect(r.stderr).toContain('2 Insufficient cpu');
  });

  it('a pod created bound to a tainted node is judged as its kubelet admits it: allowed, and denied only for what the kubelet refuses', async () => {
    // gpu-a-1 has a NoSchedule taint the pod does not tolerate: the kubelet ignores it.
    const bound = await kubectl(
      ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
      json(pod('bound', 'default', { app: 'x' }, { spec: { nodeName: 'gpu-a-1' } })),
    );
    expect(bound.code, bound.stderr).toBe(0);
    const tooBig = await kubectl(
      ['create', '--dry-run=server', '-f', '-'],
      json(pod('bound-big', 'default', { app: 'x' }, { requests: { cpu: '512' }, spec: { nodeName: 'gpu-a-1' } })),
    );
    expect(tooBig.code).not.toBe(0);
    expect(tooBig.stderr).toContain('the kubelet on gpu-a-1 would reject this pod: Insufficient cpu');
    const nowhere = await kubectl(
      ['create', '--dry-run=server', '-f', '-'],
      json(pod('bound-nowhere', 'default', { app: 'x' }, { spec: { nodeName: 'no-such-node' } })),
    );
    expect(nowhere.code, nowhere.stderr).toBe(0);
    expect(nowhere.stderr).toContain('which does not exist');
  });

  it('a pod no node fits but a Karpenter NodePool does is allowed with a warning naming it; without the pool it is denied', async () => {
    // streaming consumers get lifecycle=Ec2Spot and the spot toleration from the rules; no spot node is arm64.
    const armConsumer = () =>
      json(pod('arm-consumer', 'streaming', { app: 'stream-consumer' }, { spec: { nodeSelector: { 'kubernetes.io/arch': 'arm64' } } }));
    const before = await kubectl(['create', '--dry-run=server', '-f', '-'], armConsumer());
    expect(before.code).not.toBe(0);
    expect(before.stderr).toContain('0/6 nodes are available: ');

    await kubectlOk(['apply', '-f', '-'], json(ARM_POOL));
    const allowed = await waitFor('the NodePool to be read', async () => {
      const r = await kubectl(['create', '--dry-run=server', '-f', '-'], armConsumer());
      return r.code === 0 ? r : undefined;
    });
    expect(allowed.stderr).toContain('no current node fits; NodePool arm-spot can provision one (Karpenter adds it)');

    // A pod the pool cannot take (a custom label it does not declare) is denied, and the warning says why.
    const other = await kubectl(
      ['create', '--dry-run=server', '-f', '-'],
      json(pod('arm-team', 'streaming', { app: 'stream-consumer' }, { spec: { nodeSelector: { 'kubernetes.io/arch': 'arm64', team: 'x' } } })),
    );
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('incompatible with nodepool "arm-spot", incompatible requirements, label "team" does not have known values');

    // What the webhook's ServiceAccount may do with NodePools (while the CRD is served, so that kubectl knows it).
    const sa = 'system:serviceaccount:placement-webhook:placement-webhook';
    for (const verb of ['get', 'list', 'watch'])
      expect((await kubectl(['auth', 'can-i', `--as=${sa}`, verb, 'nodepools.karpenter.sh'])).stdout.trim()).toBe('yes');
    expect((await kubectl(['auth', 'can-i', `--as=${sa}`, 'create', 'nodepools.karpenter.sh'])).stdout.trim()).toBe('no');

    await kubectlOk(['delete', 'nodepool', 'arm-spot']);
    await waitFor('the deleted NodePool to be forgotten', async () => {
      const r = await kubectl(['create', '--dry-run=server', '-f', '-'], armConsumer());
      return r.code !== 0 && r.stderr.includes('0/6 nodes are available: ') ? true : undefined;
    });

    // The CRD removed: the webhook keeps working, and does not loop on the missing resource.
    await kubectlOk(['delete', 'crd', 'nodepools.karpenter.sh']);
    await sleep(3000);
    const still = JSON.parse(
      await kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], json(pod('c', 'streaming', { app: 'stream-consumer' }))),
    ) as Pod;
    expect(still.spec.nodeSelector).toEqual({ lifecycle: 'Ec2Spot' });
    const denied = await kubectl(['create', '--dry-run=server', '-f', '-'], armConsumer());
    expect(denied.code).not.toBe(0);
    const log = webhook?.logTail(400) ?? '';
    expect(log).toContain('no longer served; autoscaler capacity from it dropped');
    expect(log.match(/"resource":"karpenter.sh\/v1\/nodepools".*watch failed/g) ?? []).toHaveLength(0);
  });

  it('kubectl apply --dry-run=server gets the same answers and creates nothing', async () => {
    const denied = await kubectl(
      ['apply', '--dry-run=server', '-f', '-'],
      json(pod('huge-dry', 'streaming', { app: 'stream-consumer' }, { requests: { memory: '64Gi' } })),
    );
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('0/6 nodes are available: ');
    const allowed = await kubectl(
      ['apply', '--dry-run=server', '-o', 'json', '-f', '-'],
      json(pod('consumer-dry', 'streaming', { app: 'stream-consumer' })),
    );
    expect(allowed.code).toBe(0);
    expect((JSON.parse(allowed.stdout) as Pod).spec.nodeSelector).toEqual({ lifecycle: 'Ec2Spot' });
    expect((await kubectl(['get', 'pod', '-n', 'streaming', 'consumer-dry'])).code).not.toBe(0);
  });

  it('namespaces excluded by the webhook configuration are left untouched', async () => {
    // The GPU rule matches any namespace by pod label; kube-system is excluded.
    await kubectlOk(['create', '-f', '-'], json(pod('gpu-probe', 'kube-system', { accelerator: 't4' })));
    const p = await getPod('kube-system', 'gpu-probe');
    expect(p.spec.tolerations ?? []).not.toEqual(expect.arrayContaining([expect.objectContaining({ key: 'nvidia.com/gpu' })]));
    expect(p.metadata.annotations?.['placement-webhook/applied-rules']).toBeUndefined();
    // And the same pod elsewhere is mutated.
    const elsewhere = JSON.parse(
      await kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], json(pod('gpu-probe', 'ml', { accelerator: 't4' }))),
    ) as Pod;
    expect(elsewhere.metadata.annotations?.['placement-webhook/applied-rules']).toBe('gpu-workloads');
  });

  it('an invalid rules edit is rejected at apply with field paths, and the running rules stay', async () => {
    const bad = EXAMPLE_RULES.replace('operator: Equal, value: "true"', 'operator: Equals, value: "true"').replace(
      'name: gpu-workloads',
      'name: GPU_workloads',
    );
    const r = await rulesConfigMap(bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('rules[0].inject.tolerations[0].operator: unsupported value "Equals"; supported values: "Equal", "Exists"');
    expect(r.stderr).toContain('rules[2].name: invalid value "GPU_workloads"');
    const still = JSON.parse(
      await kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], json(pod('c', 'streaming', { app: 'stream-consumer' }))),
    ) as Pod;
    expect(still.spec.nodeSelector).toEqual({ lifecycle: 'Ec2Spot' });
  });

  it('an alias-bomb rules edit is refused at apply with the reason; a replica that receives it anyway stays up on the last good rules', async () => {
    const refused = await rulesConfigMap(billionLaughs());
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('YAML aliases expand the document to more than');
    const running = webhook;
    if (!running) throw new Error('webhook not running');
    const invalidBefore = Number(
      /placement_webhook_rules_reloads_total\{result="invalid"\} (\d+)/.exec((await running.get('/metrics')).text)?.[1] ?? 0,
    );
    // Validation off (the validating configuration removed), so that the edit reaches the running webhook.
    await kubectlOk(['delete', 'validatingwebhookconfiguration', 'placement-webhook']);
    try {
      await waitFor('the API server to stop calling the validating webhook', async () => {
        const r = await rulesConfigMap(billionLaughs());
        return r.code === 0 ? true : undefined;
      });
      await waitFor('the webhook to count the invalid document', async () => {
        const m = await running.get('/metrics');
        const n = Number(/placement_webhook_rules_reloads_total\{result="invalid"\} (\d+)/.exec(m.text)?.[1] ?? 0);
        return n > invalidBefore ? true : undefined;
      });
      expect((await running.get('/healthz')).status).toBe(200);
      expect((await running.get('/readyz')).status).toBe(200);
      const still = JSON.parse(
        await kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], json(pod('c', 'streaming', { app: 'stream-consumer' }))),
      ) as Pod;
      expect(still.spec.nodeSelector).toEqual({ lifecycle: 'Ec2Spot' });
      expect(running.logTail(200)).toContain('invalid rules; keeping the last good rules');
    } finally {
      await kubectlOk(['apply', '-f', '-'], json(baseManifest('rules-configmap.yaml')[0]));
      for (const cfg of webhookConfigurations(running.port, certs.caBundle)) await kubectlOk(['apply', '-f', '-'], json(cfg));
    }
    await waitFor('the validating webhook to refuse the bomb again', async () =>
      (await rulesConfigMap(billionLaughs())).code !== 0 ? true : undefined,
    );
  });

  it('a valid rules edit changes behaviour within seconds', async () => {
    const edited = EXAMPLE_RULES.replace('lifecycle: Ec2Spot', 'lifecycle: OnDemand');
    const started = Date.now();
    const r = await rulesConfigMap(edited);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(
      'the edited rules to apply',
      async () => {
        const p = JSON.parse(
          await kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], json(pod('c', 'streaming', { app: 'stream-consumer' }))),
        ) as Pod;
        return p.spec.nodeSelector?.['lifecycle'] === 'OnDemand' ? true : undefined;
      },
      10_000,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    const restored = await rulesConfigMap(EXAMPLE_RULES);
    expect(restored.code, restored.stderr).toBe(0);
    await waitFor(
      'the original rules to apply again',
      async () => {
        const p = JSON.parse(
          await kubectlOk(['create', '--dry-run=server', '-o', 'json', '-f', '-'], json(pod('c', 'streaming', { app: 'stream-consumer' }))),
        ) as Pod;
        return p.spec.nodeSelector?.['lifecycle'] === 'Ec2Spot' ? true : undefined;
      },
      10_000,
    );
  });

  describe('whole workloads: replicas the nodes cannot all take, and rollouts that cannot progress', () => {
    const warnings = (stderr: string) =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('Warning: '))
        .map((l) => l.slice('Warning: '.length));
    const boundReplicas = async (app: string) => {
      const list = JSON.parse(await kubectlOk(['get', 'pods', '-n', 'default', '-l', `app=${app}`, '-o', 'json'])) as { items: Pod[] };
      return list.items.filter((p) => p.spec.nodeName !== undefined).length;
    };

    it('warns at apply and at kubectl scale when more replicas than nodes keep apart; pending: deny refuses both', async () => {
      // 3 replicas on 3 nodes, a rollout that can progress: nothing to say.
      const three = await kubectl(['apply', '-f', '-'], json(spreadOut('demo-app', 3, ONE_AT_A_TIME)));
      expect(three.code, three.stderr).toBe(0);
      expect(warnings(three.stderr)).toEqual([]);
      await waitFor('3 replicas bound by the scheduler', async () => ((await boundReplicas('demo-app')) === 3 ? true : undefined), 60_000);
      // The pod cache has seen them once a fourth replica would be refused by them.
      const scaled = await kubectl(['scale', 'deployment', '-n', 'default', 'demo-app', '--replicas', '5']);
      expect(scaled.code, scaled.stderr).toBe(0);
      // The next replica would stay Pending (each of the 3 nodes holds one), and 2 of the 5 always will.
      expect(warnings(scaled.stderr)).toEqual([
        'Deployment demo-app: will stay Pending: 0/6 nodes are available:',
        "  1 node(s) didn't match Pod's node affinity/selector",
        '  1 node(s) had untolerated taint {dedicated: payments}',
        '  1 node(s) had untolerated taint {nvidia.com/gpu: present}',
        "  3 node(s) didn't match pod anti-affinity rules",
        'Deployment demo-app: 5 replicas, but at most 3 can be placed: 2 will stay Pending',
        '  required anti-affinity on kubernetes.io/hostname; 3 nodes can run its pods',
      ]);
      // The scheduler agrees: 3 bound, 2 Pending.
      await waitFor('5 replicas created', async () => {
        const list = JSON.parse(await kubectlOk(['get', 'pods', '-n', 'default', '-l', 'app=demo-app', '-o', 'json'])) as { items: Pod[] };
        return list.items.length === 5 ? true : undefined;
      });
      await sleep(2000);
      expect(await boundReplicas('demo-app')).toBe(3);

      // A new Deployment of 5 such replicas: the same answer at apply.
      const five = await kubectl(['apply', '--dry-run=server', '-f', '-'], json(spreadOut('demo-five', 5, ONE_AT_A_TIME)));
      expect(five.code, five.stderr).toBe(0);
      expect(warnings(five.stderr)).toEqual([
        'Deployment demo-five: 5 replicas, but at most 3 can be placed: 2 will stay Pending',
        '  required anti-affinity on kubernetes.io/hostname; 3 nodes can run its pods',
      ]);

      // pending: deny — for clusters without an autoscaler — refuses both.
      await kubectlOk(['scale', 'deployment', '-n', 'default', 'demo-app', '--replicas', '3']);
      const deny = EXAMPLE_RULES.replace('    mode: enforce\n', '    mode: enforce\n    pending: deny\n');
      expect(deny).not.toBe(EXAMPLE_RULES);
      expect((await rulesConfigMap(deny)).code).toBe(0);
      try {
        const refusedApply = await waitFor(
          'pending: deny to apply',
          async () => {
            const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], json(spreadOut('demo-five', 5, ONE_AT_A_TIME)));
            return r.code !== 0 ? r : undefined;
          },
          10_000,
        );
        expect(refusedApply.stderr).toContain(
          'Deployment demo-five: 5 replicas, but at most 3 can be placed (required anti-affinity on kubernetes.io/hostname; 3 nodes can run its pods): 2 will stay Pending.',
        );
        const refusedScale = await kubectl(['scale', 'deployment', '-n', 'default', 'demo-app', '--replicas', '5']);
        expect(refusedScale.code).not.toBe(0);
        expect(refusedScale.stderr).toContain('Deployment demo-app: 5 replicas, but at most 3 can be placed');
        const after = JSON.parse(await kubectlOk(['get', 'deployment', '-n', 'default', 'demo-app', '-o', 'json'])) as { spec: { replicas: number } };
        expect(after.spec.replicas).toBe(3);
      } finally {
        expect((await rulesConfigMap(EXAMPLE_RULES)).code).toBe(0);
        await waitFor(
          'pending: warn again',
          async () => {
            const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], json(spreadOut('demo-five', 5, ONE_AT_A_TIME)));
            return r.code === 0 ? true : undefined;
          },
          10_000,
        );
        await kubectl(['delete', 'deployment', '-n', 'default', 'demo-app', '--wait=false']);
      }
    }, 120_000);

    it('a Deployment with one replica per node and the default strategy is told its rollout can never progress, and how to fix it', async () => {
      // The default strategy, for 3 replicas: maxSurge 25 % → 1, maxUnavailable 25 % → 0.
      const stuck = await kubectl(['apply', '--dry-run=server', '-f', '-'], json(spreadOut('rollout-stuck', 3)));
      expect(stuck.code, stuck.stderr).toBe(0);
      expect(warnings(stuck.stderr)).toEqual([
        'Deployment rollout-stuck: a rolling update can never progress (maxSurge 1, maxUnavailable 0):',
        '  all 3 domain(s) of kubernetes.io/hostname its pods may use hold a replica: a new pod has nowhere to go',
        '  fix: set strategy.rollingUpdate.maxUnavailable: 1 (maxSurge: 0 only together with a maxUnavailable above 0)',
      ]);
      // The fix it gives is accepted without a word.
      const fixed = await kubectl(
        ['apply', '--dry-run=server', '-f', '-'],
        json(spreadOut('rollout-stuck', 3, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } })),
      );
      expect(fixed.code, fixed.stderr).toBe(0);
      expect(warnings(fixed.stderr)).toEqual([]);
    });
  });

  it('serves metrics that count the reviews and the rules reloads', async () => {
    const m = await webhook?.get('/metrics');
    expect(m?.status).toBe(200);
    expect(m?.text).toMatch(/placement_webhook_reviews_total\{endpoint="mutate",decision="patched",kind="Pod"\} [1-9]/);
    expect(m?.text).toMatch(/placement_webhook_rules_reloads_total\{result="success"\} [1-9]/);
    expect(m?.text).toMatch(/placement_webhook_node_cache_nodes 6/);
  });

  it('the whole install (kubectl apply -k webhook-config/, after placement-webhook certs) is accepted by the API server', async () => {
    const copy = path.join(cp.dir, 'webhook-config');
    await cp_r(path.join(REPO_ROOT, 'webhook-config'), copy, { recursive: true });
    await writeCertificates({
      service: 'placement-webhook',
      namespace: 'placement-webhook',
      out: path.join(cp.dir, 'install-certs'),
      kustomizeDir: path.join(copy, 'generated'),
      sans: [],
      days: 1,
    });
    // What the README tells 1.20 users to do: this API server has no policy/v1.
    const pdb = path.join(copy, 'base', 'pdb.yaml');
    await writeFile(pdb, (await readFile(pdb, 'utf8')).replace('apiVersion: policy/v1\n', 'apiVersion: policy/v1beta1\n'));
    const r = await kubectl(['apply', '--dry-run=server', '-k', copy]);
    expect(r.code, r.stderr).toBe(0);
    for (const kind of [
      'deployment.apps/placement-webhook',
      'poddisruptionbudget.policy/placement-webhook',
      'service/placement-webhook',
      'mutatingwebhookconfiguration.admissionregistration.k8s.io/placement-webhook',
      'validatingwebhookconfiguration.admissionregistration.k8s.io/placement-webhook',
      'secret/placement-webhook-tls',
    ]) {
      expect(r.stdout).toContain(kind);
    }
  });

  it('the ServiceAccount of the manifests can do exactly what its RBAC grants', async () => {
    const sa = 'system:serviceaccount:placement-webhook:placement-webhook';
    const can = async (...args: string[]) => (await kubectl(['auth', 'can-i', `--as=${sa}`, ...args])).stdout.trim();
    for (const verb of ['get', 'list', 'watch']) {
      expect(await can(verb, 'nodes')).toBe('yes');
      expect(await can(verb, 'namespaces')).toBe('yes');
      expect(await can(verb, 'configmaps/placement-webhook-rules', '-n', 'placement-webhook')).toBe('yes');
    }
    expect(await can('list', 'configmaps', '-n', 'placement-webhook')).toBe('no');
    expect(await can('get', 'configmaps/other', '-n', 'placement-webhook')).toBe('no');
    expect(await can('get', 'configmaps/placement-webhook-rules', '-n', 'default')).toBe('no');
    expect(await can('update', 'configmaps/placement-webhook-rules', '-n', 'placement-webhook')).toBe('no');
    for (const verb of ['get', 'list', 'watch']) {
      expect(await can(verb, 'pods', '-A')).toBe('yes');
      expect(await can(verb, 'priorityclasses.scheduling.k8s.io')).toBe('yes');
    }
    expect(await can('get', 'deployments.apps', '-A')).toBe('yes');
    expect(await can('list', 'deployments.apps', '-A')).toBe('no');
    for (const [verb, resource] of [
      ['create', 'nodes'],
      ['patch', 'nodes'],
      ['delete', 'namespaces'],
      ['delete', 'pods'],
      ['update', 'deployments.apps'],
      ['get', 'secrets'],
      ['create', 'pods'],
    ]) {
      expect(await can(verb as string, resource as string, '-A')).toBe('no');
    }
  });

  it('a rotated certificate is served without a restart, and the API server keeps calling the webhook', async () => {
    const running = webhook;
    if (!running) throw new Error('webhook not running');
    const rotated = await makeCerts(path.join(cp.dir, 'webhook-certs-rotated'));
    // What the kubelet does when the Secret changes: the mounted files are replaced.
    await copyFile(rotated.keyFile, certs.keyFile);
    await copyFile(rotated.certFile, certs.certFile);
    for (const cfg of webhookConfigurations(running.port, rotated.caBundle)) await kubectlOk(['apply', '-f', '-'], json(cfg));
    await waitFor('the webhook to serve the new certificate', async () => {
      const m = await running.get('/metrics').catch(() => undefined); // only the old CA is trusted by this client
      return m === undefined ? true : /placement_webhook_tls_certificate_reloads_total\{result="success"\} 1/.test(m.text) ? true : undefined;
    });
    await waitFor('a pod mutated through the new certificate', async () => {
      const r = await kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], json(pod('c', 'streaming', { app: 'stream-consumer' })));
      return r.code === 0 && (JSON.parse(r.stdout) as Pod).spec.nodeSelector?.['lifecycle'] === 'Ec2Spot' ? true : undefined;
    });
    expect(running.logTail(200)).toContain('serving certificate reloaded');
    expect(running.logTail(400).match(/"msg":"serving"/g)).toHaveLength(1);
  });

  it('with the webhook stopped, failurePolicy Ignore admits pods unmutated and unvalidated', async () => {
    await webhook?.stop();
    webhook = undefined;
    await kubectlOk(['create', '-f', '-'], json(pod('consumer-down', 'streaming', { app: 'stream-consumer' })));
    const p = await getPod('streaming', 'consumer-down');
    expect(p.spec.nodeSelector).toBeUndefined();
    expect(p.metadata.annotations?.['placement-webhook/applied-rules']).toBeUndefined();
    await kubectlOk(['create', '-f', '-'], json(pod('huge-down', 'streaming', { app: 'stream-consumer' }, { requests: { memory: '64Gi' } })));
    // The documented configuration really is what the API server used.
    const cfg = parseAllDocuments(readFileSync(path.join(REPO_ROOT, 'webhook-config', 'base', 'mutating.yaml'), 'utf8'))[0]?.toJS() as {
      webhooks: { failurePolicy: string }[];
    };
    expect(cfg.webhooks[0]?.failurePolicy).toBe('Ignore');
  });
});
