/**
 * The in-cluster audit (`serve --audit-interval`) against a real kube-apiserver: two webhook replicas run as the
 * webhook's own ServiceAccount (RBAC of webhook-config/base and webhook-config/audit, nothing more), one of them
 * holds the Lease and publishes PolicyReports (the CRD installed as Kyverno would). Proven here:
 * - a node relabelled under a pod with required node affinity: the finding is in the PolicyReport within one
 *   interval, and gone (the report deleted) after relabelling back;
 * - a pod created while the webhook is unreachable (failurePolicy: Ignore let it through unmutated) shows as drift;
 * - one replica writes; when it stops, the other takes over and keeps the same report (updated, not duplicated).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startControlPlane, type ControlPlane } from './support/controlplane.js';
import { makeCerts, REPO_ROOT, startWebhook, webhookConfigurations, type Webhook, type WebhookCerts } from './support/webhook.js';

const INTERVAL_S = 3;
/** Beyond one interval: the node watch to deliver the change, one run (list, audit, publish). */
const SLACK_MS = 4000;
const SA = 'system:serviceaccount:placement-webhook:placement-webhook';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const json = (o: unknown) => JSON.stringify(o);

interface Report {
  metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> };
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results?: {
    policy: string;
    rule: string;
    result: string;
    category?: string;
    message: string;
    resources: { kind: string; name: string; namespace?: string }[];
    properties?: Record<string, string>;
  }[];
}

function node(name: string, labels: Record<string, string>) {
  const allocatable = { cpu: '4', memory: '16Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } },
    status: { capacity: allocatable, allocatable },
  };
}

function pod(name: string, namespace: string, labels: Record<string, string>, spec: object = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.2', resources: { requests: { cpu: '100m', memory: '64Mi' } } }], ...spec },
  };
}

const SSD_AFFINITY = {
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: 'disktype', operator: 'In', values: ['ssd'] }] }],
    },
  },
};

describe('the in-cluster audit against a real control plane', () => {
  let cp: ControlPlane;
  let certs: WebhookCerts;
  const replicas: Webhook[] = [];

  async function kubectl(args: string[], input?: string) {
    return cp.kubectl(args, input);
  }

  async function kubectlOk(args: string[], input?: string): Promise<string> {
    const r = await cp.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n${replicas.map((w) => w.logTail(20)).join('\n')}`);
    return r.stdout;
  }

  async function report(namespace: string): Promise<Report | undefined> {
    const r = await kubectl(['get', 'policyreports.wgpolicyk8s.io', '-n', namespace, 'placement-webhook', '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as Report) : undefined;
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${replicas.map((w) => w.logTail(30)).join('\n---\n')}`);
      await sleep(200);
    }
  }

  /** A kubeconfig for the webhook's ServiceAccount (a TokenRequest token): the replicas have only its RBAC. */
  async function serviceAccountKubeconfig(): Promise<string> {
    const res = await cp.api('POST', '/api/v1/namespaces/placement-webhook/serviceaccounts/placement-webhook/token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 7200 },
    });
    const token = (res.body as { status?: { token?: string } } | undefined)?.status?.token;
    if (res.status !== 201 || !token) throw new Error(`TokenRequest failed: ${res.status} ${res.text}`);
    const file = path.join(cp.dir, 'webhook-sa.kubeconfig');
    await writeFile(
      file,
      json({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'e2e', cluster: { server: cp.server, 'certificate-authority': cp.caFile } }],
        users: [{ name: 'webhook', user: { token } }],
        contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'webhook' } }],
        'current-context': 'e2e',
      }),
      { mode: 0o600 },
    );
    return file;
  }

  async function startReplica(name: string, kubeconfig: string): Promise<Webhook> {
    // Who the replica is and where its Lease lives, as the Deployment's downward API says it.
    const saved = { POD_NAME: process.env['POD_NAME'], POD_NAMESPACE: process.env['POD_NAMESPACE'] };
    process.env['POD_NAME'] = name;
    process.env['POD_NAMESPACE'] = 'placement-webhook';
    try {
      const w = await startWebhook({ kubeconfig, certs, dir: cp.dir, extraArgs: [`--audit-interval=${INTERVAL_S}s`, '--watch-autoscalers=false'] });
      replicas.push(w);
      return w;
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  const leaseHolder = async () =>
    (
      JSON.parse(await kubectlOk(['get', 'lease', '-n', 'placement-webhook', 'placement-webhook-audit', '-o', 'json'])) as {
        spec: { holderIdentity?: string };
      }
    ).spec.holderIdentity;

  const metric = async (w: Webhook, line: RegExp) => {
    const text = (await w.get('/metrics')).text;
    return text.split('\n').find((l) => line.test(l));
  };

  beforeAll(async () => {
    cp = await startControlPlane();
    certs = await makeCerts(path.join(cp.dir, 'webhook-certs'));
    for (const file of ['namespace.yaml', 'serviceaccount.yaml', 'rbac.yaml', 'rules-configmap.yaml']) {
      await kubectlOk(['apply', '-f', path.join(REPO_ROOT, 'webhook-config', 'base', file)]);
    }
    await kubectlOk(['apply', '-f', path.join(REPO_ROOT, 'webhook-config', 'audit', 'rbac.yaml')]);
    for (const ns of ['kube-system', 'kube-node-lease', 'default'])
      await kubectlOk(['label', 'namespace', ns, `kubernetes.io/metadata.name=${ns}`, '--overwrite']);
    for (const ns of ['streaming', 'audit-a']) {
      await kubectlOk(['create', 'namespace', ns]);
      await kubectlOk(['label', 'namespace', ns, `kubernetes.io/metadata.name=${ns}`]);
    }
    await kubectlOk(['create', '-f', '-'], json(node('ssd-1', { disktype: 'ssd' })));
    await kubectlOk(['create', '-f', '-'], json(node('hdd-1', { disktype: 'hdd' })));
    await kubectlOk(['apply', '-f', path.join(REPO_ROOT, 'test', 'e2e', 'support', 'policyreport-crd.yaml')]);
    await waitFor(
      'the PolicyReport CRD to be served',
      async () => ((await kubectl(['get', 'policyreports.wgpolicyk8s.io', '-A'])).code === 0 ? true : undefined),
      30_000,
    );

    const kubeconfig = await serviceAccountKubeconfig();
    await startReplica('placement-webhook-a', kubeconfig);
    await startReplica('placement-webhook-b', kubeconfig);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(replicas.map((w) => w.stop()));
    await cp?.stop();
  }, 60_000);

  it('the ServiceAccount may do what the audit needs and nothing more', async () => {
    const can = async (...args: string[]) => (await kubectl(['auth', 'can-i', `--as=${SA}`, ...args])).stdout.trim();
    for (const r of [
      'deployments.apps',
      'statefulsets.apps',
      'replicasets.apps',
      'daemonsets.apps',
      'jobs.batch',
      'cronjobs.batch',
      'replicationcontrollers',
      'pods',
    ]) {
      expect(await can('list', r, '-A'), r).toBe('yes');
    }
    expect(await can('delete', 'deployments.apps', '-n', 'audit-a')).toBe('no');
    for (const verb of ['get', 'list', 'create', 'update', 'delete'])
      expect(await can(verb, 'policyreports.wgpolicyk8s.io', '-n', 'audit-a'), verb).toBe('yes');
    expect(await can('patch', 'policyreports.wgpolicyk8s.io', '-n', 'audit-a')).toBe('no');
    expect(await can('update', 'leases.coordination.k8s.io/placement-webhook-audit', '-n', 'placement-webhook')).toBe('yes');
    expect(await can('update', 'leases.coordination.k8s.io/other', '-n', 'placement-webhook')).toBe('no');
    expect(await can('create', 'leases.coordination.k8s.io', '-n', 'default')).toBe('no');
  });

  it("without kustomize components, the component's patch applies to the base Deployment with kubectl patch", async () => {
    await kubectlOk(['apply', '-f', path.join(REPO_ROOT, 'webhook-config', 'base', 'deployment.yaml')]);
    const patch = await readFile(path.join(REPO_ROOT, 'webhook-config', 'audit', 'deployment-patch.yaml'), 'utf8');
    await kubectlOk(['-n', 'placement-webhook', 'patch', 'deployment', 'placement-webhook', '--type', 'json', '--patch', patch]);
    const d = JSON.parse(await kubectlOk(['-n', 'placement-webhook', 'get', 'deployment', 'placement-webhook', '-o', 'json'])) as {
      spec: { template: { spec: { containers: { args: string[]; env: { name: string; valueFrom: { fieldRef: { fieldPath: string } } }[] }[] } } };
    };
    const [c] = d.spec.template.spec.containers;
    expect(c?.args).toContain('--audit-interval=5m');
    expect(c?.env.map((e) => [e.name, e.valueFrom.fieldRef.fieldPath])).toEqual([
      ['POD_NAME', 'metadata.name'],
      ['POD_NAMESPACE', 'metadata.namespace'],
    ]);
    await kubectlOk(['-n', 'placement-webhook', 'delete', 'deployment', 'placement-webhook']);
  });

  it('one replica holds the Lease and leads; the other does not', async () => {
    const holder = await waitFor('a Lease holder', async () => (await leaseHolder()) || undefined, 30_000);
    expect(['placement-webhook-a', 'placement-webhook-b']).toContain(holder);
    const leaders = await Promise.all(replicas.map((w) => metric(w, /^placement_webhook_audit_leader /)));
    expect(leaders.sort()).toEqual(['placement_webhook_audit_leader 0', 'placement_webhook_audit_leader 1']);
  });

  it('a node relabelled under a pod with required affinity: the finding is in the PolicyReport within one interval, and gone after relabelling back', async () => {
    await kubectlOk(['create', '-f', '-'], json(pod('fast-0', 'audit-a', { app: 'fast' }, { nodeName: 'ssd-1', affinity: SSD_AFFINITY })));
    // Sound at first: no report for the namespace after a full interval and a run.
    await sleep(INTERVAL_S * 1000 + SLACK_MS);
    expect(await report('audit-a')).toBeUndefined();

    await kubectlOk(['label', 'node', 'ssd-1', 'disktype=hdd', '--overwrite']);
    const relabelled = Date.now();
    const r = await waitFor(
      'the node-affinity finding in the report',
      async () => {
        const rep = await report('audit-a');
        return rep?.results?.some((x) => x.category === 'node-affinity') ? rep : undefined;
      },
      INTERVAL_S * 1000 + SLACK_MS,
    );
    const tookMs = Date.now() - relabelled;
    expect(tookMs).toBeLessThanOrEqual(INTERVAL_S * 1000 + SLACK_MS);
    expect(r.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('placement-webhook');
    const result = r.results?.find((x) => x.category === 'node-affinity');
    expect(result).toMatchObject({ policy: 'placement-webhook', result: 'fail', resources: [{ kind: 'Pod', name: 'fast-0', namespace: 'audit-a' }] });
    expect(result?.properties?.['node']).toBe('ssd-1');
    expect(r.summary.fail).toBeGreaterThanOrEqual(1);
    // One report per namespace, whatever the number of runs since.
    await sleep(INTERVAL_S * 1000 * 2);
    const all = JSON.parse(await kubectlOk(['get', 'policyreports.wgpolicyk8s.io', '-n', 'audit-a', '-o', 'json'])) as { items: Report[] };
    expect(all.items.map((x) => x.metadata.name)).toEqual(['placement-webhook']);

    await kubectlOk(['label', 'node', 'ssd-1', 'disktype=ssd', '--overwrite']);
    await waitFor('the report to be gone', async () => ((await report('audit-a')) === undefined ? true : undefined), INTERVAL_S * 1000 + SLACK_MS);
  });

  it('a pod created while the webhook is unreachable shows as drift, with the patch the webhook would apply', async () => {
    // The webhook registered at a port nothing listens on: the API server calls it, fails, and (Ignore) admits the pod.
    const dead = await freePort();
    for (const cfg of webhookConfigurations(dead, certs.caBundle)) await kubectlOk(['apply', '-f', '-'], json(cfg));
    await kubectlOk(['create', '-f', '-'], json(pod('consumer-0', 'streaming', { app: 'stream-consumer' })));
    const created = JSON.parse(await kubectlOk(['get', 'pod', '-n', 'streaming', 'consumer-0', '-o', 'json'])) as {
      spec: { nodeSelector?: Record<string, string> };
    };
    expect(created.spec.nodeSelector).toBeUndefined();

    const r = await waitFor(
      'the drift finding in the report',
      async () => {
        const rep = await report('streaming');
        return rep?.results?.some((x) => x.category === 'drift') ? rep : undefined;
      },
      INTERVAL_S * 1000 + SLACK_MS,
    );
    const drift = r.results?.find((x) => x.category === 'drift');
    expect(drift).toMatchObject({
      policy: 'placement-webhook',
      rule: 'spot-consumers',
      result: 'warn',
      resources: [{ kind: 'Pod', name: 'consumer-0', namespace: 'streaming' }],
    });
    expect(JSON.parse(drift?.properties?.['patch'] ?? '[]')).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: '/spec/nodeSelector', value: { lifecycle: 'Ec2Spot' } })]),
    );
    const leader = await waitFor(
      'the leader',
      async () => {
        for (const w of replicas) if ((await metric(w, /^placement_webhook_audit_leader /))?.endsWith(' 1')) return w;
        return undefined;
      },
      5000,
    );
    expect(await metric(leader, /^placement_webhook_audit_findings\{kind="drift",severity="warn"\}/)).toBe(
      'placement_webhook_audit_findings{kind="drift",severity="warn"} 1',
    );
    for (const cfg of webhookConfigurations(dead, certs.caBundle)) await kubectl(['delete', '-f', '-'], json(cfg));
  });

  it('when the leader stops, the other replica takes the Lease and keeps the same report up to date', async () => {
    const holder = await leaseHolder();
    const leaderIndex = holder === 'placement-webhook-a' ? 0 : 1;
    const before = await report('streaming');
    expect(before).toBeDefined();
    await replicas[leaderIndex]?.stop();
    await waitFor(
      'the other replica to hold the Lease',
      async () => ((await leaseHolder()) === (leaderIndex === 0 ? 'placement-webhook-b' : 'placement-webhook-a') ? true : undefined),
      15_000,
    );
    // The new leader writes: a second drifted pod lands in the same report.
    await kubectlOk(['create', '-f', '-'], json(pod('consumer-1', 'streaming', { app: 'stream-consumer' })));
    const r = await waitFor(
      'consumer-1 in the report',
      async () => {
        const rep = await report('streaming');
        return rep?.results?.some((x) => x.resources[0]?.name === 'consumer-1') ? rep : undefined;
      },
      INTERVAL_S * 1000 + SLACK_MS + 3000,
    );
    const all = JSON.parse(await kubectlOk(['get', 'policyreports.wgpolicyk8s.io', '-n', 'streaming', '-o', 'json'])) as { items: Report[] };
    expect(all.items).toHaveLength(1);
    expect(
      r.results
        ?.filter((x) => x.category === 'drift')
        .map((x) => x.resources[0]?.name)
        .sort(),
    ).toEqual(['consumer-0', 'consumer-1']);
  });
});
