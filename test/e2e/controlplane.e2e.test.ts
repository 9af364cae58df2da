/**
 * Smoke test for the end-to-end harness: a real kube-apiserver and
 * kube-scheduler bind pods to API-only Nodes, and report why a pod fits
 * nowhere. The scheduler's messages are printed so that the webhook's own
 * messages can be compared with them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from './support/controlplane.js';

const NS = 'smoke';

interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface Pod {
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: PodCondition[] };
}

interface EventList {
  items: { reason?: string; message?: string; involvedObject?: { name?: string } }[];
}

function node(name: string, labels: Record<string, string>, taints: object[] = []): object {
  const resources = { cpu: '4', memory: '16Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', ...labels } },
    spec: { taints },
    status: {
      capacity: resources,
      allocatable: resources,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'kubelet is posting ready status',
          lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      ],
    },
  };
}

function pod(name: string, opts: { cpu: string; nodeSelector?: Record<string, string> }): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: {
      ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
      containers: [
        {
          name: 'main',
          image: 'registry.k8s.io/pause:3.2',
          resources: { requests: { cpu: opts.cpu, memory: '64Mi' } },
        },
      ],
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('real control plane', () => {
  let cp: ControlPlane;

  async function kubectlOk(args: string[], input?: string): Promise<string> {
    const res = await cp.kubectl(args, input);
    if (res.code !== 0) {
      throw new Error(`kubectl ${args.join(' ')} failed (${res.code}): ${res.stderr}`);
    }
    return res.stdout;
  }

  async function create(obj: object): Promise<void> {
    await kubectlOk(['create', '-f', '-'], JSON.stringify(obj));
  }

  async function getPod(name: string): Promise<Pod> {
    const res = await cp.api('GET', `/api/v1/namespaces/${NS}/pods/${name}`);
    expect(res.status).toBe(200);
    return res.body as Pod;
  }

  async function waitForPod(name: string, done: (p: Pod) => boolean, timeoutMs = 60_000): Promise<Pod> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = await getPod(name);
      if (done(p)) return p;
      if (Date.now() > deadline) {
        throw new Error(
          `pod ${name} did not reach the expected state: ${JSON.stringify(p.status)}\n` + `kube-scheduler log:\n${cp.logTail('kube-scheduler')}`,
        );
      }
      await sleep(250);
    }
  }

  /** Waits for PodScheduled=False and a FailedScheduling event; returns both messages. */
  async function unschedulable(name: string): Promise<{ condition: string; event: string }> {
    const p = await waitForPod(name, (x) => (x.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.message));
    expect(p.spec.nodeName).toBeUndefined();
    expect(p.status?.phase).toBe('Pending');
    const cond = (p.status?.conditions ?? []).find((c) => c.type === 'PodScheduled');
    expect(cond?.reason).toBe('Unschedulable');

    const deadline = Date.now() + 30_000;
    for (;;) {
      const out = await kubectlOk([
        'get',
        'events',
        '-n',
        NS,
        '--field-selector',
        `involvedObject.name=${name},reason=FailedScheduling`,
        '-o',
        'json',
      ]);
      const ev = (JSON.parse(out) as EventList).items[0];
      if (ev?.message) return { condition: cond?.message ?? '', event: ev.message };
      if (Date.now() > deadline) throw new Error(`no FailedScheduling event for ${name}`);
      await sleep(250);
    }
  }

  beforeAll(async () => {
    cp = await startControlPlane({ withScheduler: true });
    await kubectlOk(['create', 'namespace', NS]);
    await create(node('spot-node', { lifecycle: 'Ec2Spot' }));
    await create(node('ondemand-node', { lifecycle: 'OnDemand' }));
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  it('exposes the nodes with their allocatable resources and RBAC', async () => {
    const out = await kubectlOk(['get', 'nodes', '-o', 'json']);
    const nodes = (JSON.parse(out) as { items: { metadata: { name: string }; status: { allocatable: Record<string, string> } }[] }).items;
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual(['ondemand-node', 'spot-node']);
    expect(nodes[0]?.status.allocatable['cpu']).toBe('4');

    // RBAC is enforced: a service account without bindings may not list pods.
    const denied = await cp.kubectl(['auth', 'can-i', 'list', 'pods', '--as=system:serviceaccount:placement-webhook:placement-webhook']);
    expect(denied.stdout.trim()).toBe('no');
    expect(denied.code).not.toBe(0);
    const allowed = await cp.kubectl(['auth', 'can-i', 'list', 'pods']);
    expect(allowed.stdout.trim()).toBe('yes');
  });

  it('binds a pod with nodeSelector lifecycle=Ec2Spot to the spot node', async () => {
    await create(pod('spot-pod', { cpu: '100m', nodeSelector: { lifecycle: 'Ec2Spot' } }));
    const p = await waitForPod('spot-pod', (x) => Boolean(x.spec.nodeName));
    expect(p.spec.nodeName).toBe('spot-node');
  });

  it('leaves a pod that fits no node Pending with a FailedScheduling reason', async () => {
    await create(pod('too-big', { cpu: '64' }));
    const { condition, event } = await unschedulable('too-big');
    console.log(`kube-scheduler FailedScheduling (insufficient cpu, 2 nodes):\n  condition: ${condition}\n  event:     ${event}`);
    expect(condition.startsWith('0/2 nodes are available:')).toBe(true);
    expect(event.startsWith('0/2 nodes are available:')).toBe(true);
    expect(condition).toContain('Insufficient cpu');
  });

  it('reports an untolerated taint on the only matching node', async () => {
    await create(node('gpu-node', { accelerator: 'gpu' }, [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }]));
    await create(pod('needs-gpu', { cpu: '100m', nodeSelector: { accelerator: 'gpu' } }));
    const { condition, event } = await unschedulable('needs-gpu');
    console.log(`kube-scheduler FailedScheduling (untolerated taint, 3 nodes):\n  condition: ${condition}\n  event:     ${event}`);
    expect(condition.startsWith('0/3 nodes are available:')).toBe(true);
    expect(condition).toContain('taint');
  });
});
