import { describe, expect, it } from 'vitest';
import { run } from './run.js';
import { captureOutput } from '../../test/support/output.js';

const fixture = (name: string) => new URL(`../../test/fixtures/cli/${name}`, import.meta.url).pathname;

const { out, err } = captureOutput();
const stdout = () => out.join('');
const stderrLines = () =>
  err
    .join('')
    .split('\n')
    .filter((l) => l !== '');
const json = () => JSON.parse(stdout()) as Record<string, unknown>[];

/** Three nodes of 4 cpu, no rules. */
const THREE = ['--rules', fixture('rules-none.yaml'), '--nodes', fixture('nodes-three-zones.yaml')];
/** n1 and n2 full, n3 with 3 cpu free. */
const BUSY = ['--pods', fixture('pods-busy.yaml')];

describe('placement-webhook check --pods: would the scheduler bind it now', () => {
  it.each([
    {
      name: 'without --pods, a pod needing a whole node is schedulable now, as if the nodes were empty, and the text says so',
      args: [...THREE, fixture('pod-four-cpu.yaml')],
      want: ['  verdict: fits\n', '  schedulable now: yes (as if the nodes were empty: no --pods given)\n'],
      absent: ['pending:'],
    },
    {
      name: 'with --pods, the same pod is not: every node has too little cpu free beside its pods',
      args: [...THREE, ...BUSY, fixture('pod-four-cpu.yaml')],
      want: ['  verdict: pending\n', '  schedulable now: no\n', '  pending: 0/3 nodes are available: 3 Insufficient cpu.\n'],
      absent: ['as if the nodes were empty'],
    },
    {
      name: 'a pod that fits beside the pods is schedulable now (a finished pod and an unscheduled one take nothing)',
      args: [...THREE, ...BUSY, fixture('pod.yaml')],
      want: ['  schedulable now: yes\n'],
      absent: ['pending:'],
    },
  ])(
    '$name',
    async ({ args, want, absent }) => {
      expect(await run(['check', ...args])).toBe(0);
      for (const w of want) expect(stdout()).toContain(w);
      for (const a of absent) expect(stdout()).not.toContain(a);
    },
    30_000, // the first check loads the rules schema and the scheduler model
  );

  it('-o json: schedulableNow, and pendingMessage when it is false', async () => {
    expect(await run(['check', ...THREE, ...BUSY, '-o', 'json', fixture('pod-four-cpu.yaml'), fixture('pod.yaml')])).toBe(0);
    const [four, small] = json();
    expect(four).toMatchObject({ verdict: 'pending', schedulableNow: false, pendingMessage: '0/3 nodes are available: 3 Insufficient cpu.' });
    expect(small).toMatchObject({ verdict: 'fits', schedulableNow: true });
    expect(small).not.toHaveProperty('pendingMessage');
  });

  it('-o json without --pods says on stderr how schedulableNow was answered', async () => {
    expect(await run(['check', ...THREE, '-o', 'json', fixture('pod.yaml')])).toBe(0);
    expect(stderrLines()).toEqual(['note: schedulableNow and placeableReplicas are answered as if the nodes were empty: no --pods given']);
  });

  it('a pod of --pods bound to a node --nodes does not have is warned about', async () => {
    expect(await run(['check', ...THREE, '--pods', fixture('pods-unknown-node.yaml'), fixture('pod.yaml')])).toBe(0);
    expect(stderrLines()).toEqual([
      `${fixture('pods-unknown-node.yaml')}: warning: 1 pod(s) are bound to nodes not in --nodes (node "gone-1"); no filter counts them`,
    ]);
  });
});

describe('placement-webhook check: how many replicas can be placed now', () => {
  it.each([
    {
      name: '5 replicas of 1 cpu all fit empty nodes: an estimate',
      args: [...THREE, fixture('deployment-web.yaml')],
      line: 'replicas: 5, placeable now: 5 (an estimate: replicas placed one at a time)',
      want: { replicas: 5, placeableReplicas: 5, placeableReplicasEstimate: true },
    },
    {
      name: 'beside the pods of --pods, 3 of them fit (n3 has 3 cpu free)',
      args: [...THREE, ...BUSY, fixture('deployment-web.yaml')],
      line: 'replicas: 5, placeable now: 3 (an estimate: replicas placed one at a time)',
      want: { replicas: 5, placeableReplicas: 3, placeableReplicasEstimate: true },
    },
    {
      name: 'one replica per node on 3 empty nodes: 3, exactly (the bound of its own anti-affinity), not an estimate',
      args: [...THREE, fixture('deployment-one-per-node.yaml')],
      line: 'replicas: 5, placeable now: 3\n',
      want: { replicas: 5, placeableReplicas: 3 },
    },
    {
      name: 'one replica per node beside the pods: only n3 has room for one, an estimate below the bound',
      args: [...THREE, ...BUSY, fixture('deployment-one-per-node.yaml')],
      line: 'replicas: 5, placeable now: 1 (an estimate: replicas placed one at a time)',
      want: { replicas: 5, placeableReplicas: 1, placeableReplicasEstimate: true },
    },
    {
      name: "a Job's parallelism is its replicas: 4 pods of 3 cpu, one fits beside the pods",
      args: [...THREE, ...BUSY, fixture('job-parallel.yaml')],
      line: 'replicas: 4, placeable now: 1 (an estimate',
      want: { replicas: 4, placeableReplicas: 1, placeableReplicasEstimate: true },
    },
    {
      name: 'more replicas than the simulation places: at least 1,000',
      args: ['--rules', fixture('rules-none.yaml'), '--nodes', fixture('nodes-roomy.yaml'), fixture('deployment-many.yaml')],
      line: 'replicas: 1500, placeable now: at least 1000 (an estimate: replicas placed one at a time, at most 1000)',
      want: { replicas: 1500, placeableReplicas: 1000, placeableReplicasEstimate: true },
    },
    {
      name: 'a Deployment no node can run: none can be placed',
      args: [...THREE, fixture('infeasible.yaml')],
      line: 'replicas: 2, placeable now: 0 (an estimate',
      want: {
        kind: 'Deployment',
        allowed: false,
        verdict: 'no-fit',
        schedulableNow: false,
        replicas: 2,
        placeableReplicas: 0,
        placeableReplicasEstimate: true,
      },
    },
  ])('$name', async ({ args, line, want }) => {
    await run(['check', ...args]);
    expect(stdout()).toContain(`  ${line}`);
    out.length = 0;
    await run(['check', ...args, '-o', 'json']);
    const r = json().find((x) => x['kind'] !== 'Pod');
    expect(r).toMatchObject(want);
    if (!('placeableReplicasEstimate' in want)) expect(r).not.toHaveProperty('placeableReplicasEstimate');
  });

  it('the hypothetical replicas are removed afterwards: the same Deployment twice gets the same answer', async () => {
    expect(
      await run(['check', ...THREE, ...BUSY, '-o', 'json', fixture('deployment-web.yaml'), fixture('deployment-web.yaml'), fixture('pod.yaml')]),
    ).toBe(0);
    const [first, second, pod] = json();
    expect(first?.['placeableReplicas']).toBe(3);
    expect(second?.['placeableReplicas']).toBe(3);
    expect(pod).toMatchObject({ schedulableNow: true });
  });

  it('a pod and a DaemonSet have no replicas', async () => {
    expect(await run(['check', ...THREE, '-o', 'json', fixture('pod.yaml')])).toBe(0);
    expect(json()[0]).not.toHaveProperty('replicas');
  });
});

describe('placement-webhook check --nodepools, and Cluster API node groups in --nodes: capacity an autoscaler can add', () => {
  it.each([
    {
      name: 'a pod only a NodePool fits is allowed, and the text names the pool',
      args: [...THREE, '--nodepools', fixture('nodepools.yaml'), fixture('pod-spot-capacity.yaml')],
      code: 0,
      want: [
        'Pod shop/spot-worker: allowed',
        '  verdict: fits-nodepool\n',
        '  warning: no current node fits; NodePool spot can provision one (Karpenter adds it)\n',
      ],
    },
    {
      name: 'without --nodepools the same pod is denied',
      args: [...THREE, fixture('pod-spot-capacity.yaml')],
      code: 1,
      want: ['Pod shop/spot-worker: DENIED', '  verdict: no-fit\n'],
    },
    {
      name: 'a v1beta1 NodePool serves too: a GPU pod that tolerates its taint',
      args: [...THREE, '--nodepools', fixture('nodepools.yaml'), fixture('pod-gpu-capacity.yaml')],
      code: 0,
      want: ['  verdict: fits-nodepool\n', 'NodePool gpu can provision one'],
    },
    {
      name: 'a NodePool without status counts as not Ready: not denied, and said',
      args: [...THREE, '--nodepools', fixture('nodepool-no-status.yaml'), fixture('pod-spot-capacity.yaml')],
      code: 0,
      want: ['  warning: no current node fits; NodePool spot would, but it is not Ready (no Ready condition)\n'],
    },
    {
      name: 'a MachineDeployment in --nodes that cluster-autoscaler scales from zero serves a pod no node fits',
      args: ['--rules', fixture('rules-none.yaml'), '--nodes', fixture('nodes-and-machine-groups.yaml'), fixture('pod-batch-pool.yaml')],
      code: 0,
      want: [
        '  verdict: fits-template\n',
        '  warning: no current node fits; MachineDeployment infra/md-batch can add one (cluster-autoscaler scales it up)\n',
      ],
    },
  ])('$name', async ({ args, code, want }) => {
    expect(await run(['check', ...args])).toBe(code);
    for (const w of want) expect(stdout()).toContain(w);
  });

  it('Cluster API groups that add nothing are named on stderr, with the reason', async () => {
    const file = fixture('nodes-and-machine-groups.yaml');
    expect(await run(['check', '--rules', fixture('rules-none.yaml'), '--nodes', file, fixture('pod.yaml')])).toBe(0);
    expect(stderrLines()).toEqual([
      `${file}: warning: MachineSet infra/md-batch-7d9f: not used as capacity an autoscaler can add: it belongs to a MachineDeployment, which is the node group`,
      `${file}: warning: MachineDeployment infra/md-plain: not used as capacity an autoscaler can add: cluster-autoscaler does not scale it from zero (that needs the cluster-api-autoscaler-node-group-max-size annotation above 0 and the capacity cpu and memory annotations)`,
    ]);
  });

  it('a NodePool without status is warned about', async () => {
    expect(await run(['check', ...THREE, '--nodepools', fixture('nodepool-no-status.yaml'), fixture('pod.yaml')])).toBe(0);
    expect(stderrLines()).toEqual([
      `${fixture('nodepool-no-status.yaml')}: NodePool spot: warning: no status: it counts as not Ready, and its limits as unused (kubectl get nodepools -o yaml has the status)`,
    ]);
  });
});

describe('placement-webhook check: bad --pods, --nodepools, --nodes and cluster flags are exit 2, one line per problem', () => {
  it.each([
    {
      name: 'a NodePool that cannot be read: a requirement without operator, a limit that is no quantity',
      args: [...THREE, '--nodepools', fixture('nodepools-unreadable.yaml')],
      want: [
        `${fixture('nodepools-unreadable.yaml')}: NodePool broken: spec.template.spec.requirements[0]: cannot be read as a requirement (key "karpenter.sh/capacity-type", operator undefined); the NodePool cannot be read`,
        `${fixture('nodepools-unreadable.yaml')}: NodePool broken: spec.limits.cpu: invalid value "lots": quantities must match`,
      ],
    },
    {
      name: 'a Provisioner, and a NodePool of a version not read',
      args: [...THREE, '--nodepools', fixture('nodepools-provisioner.yaml')],
      want: [
        `${fixture('nodepools-provisioner.yaml')}: Provisioner default: kind: expected NodePool, got "Provisioner"`,
        `${fixture('nodepools-provisioner.yaml')}: NodePool old: apiVersion: unsupported value "karpenter.sh/v1alpha5"; supported values: "karpenter.sh/v1", "karpenter.sh/v1beta1"`,
      ],
    },
    {
      name: 'a --nodes file with a Pod, and a MachineSet of another API group',
      args: ['--rules', fixture('rules-none.yaml'), '--nodes', fixture('nodes-with-a-pod.yaml')],
      want: [
        `${fixture('nodes-with-a-pod.yaml')}: objects[1].kind: expected Node, MachineDeployment or MachineSet, got "Pod"`,
        `${fixture('nodes-with-a-pod.yaml')}: objects[2].apiVersion: expected cluster.x-k8s.io/..., got "machine.openshift.io/v1beta1"`,
      ],
    },
    {
      name: 'a --pods file with a Node',
      args: [...THREE, '--pods', fixture('pods-with-a-node.yaml')],
      want: [`${fixture('pods-with-a-node.yaml')}: objects[0].kind: expected Pod, got "Node"`],
    },
    { name: 'a --pods file that cannot be read', args: [...THREE, '--pods', '/nonexistent/pods.yaml'], want: ['cannot read /nonexistent/pods.yaml'] },
    {
      name: '--pods without --rules',
      args: ['--pods', fixture('pods-busy.yaml')],
      want: ['--rules FILE is required when --nodes, --namespaces, --pods or --nodepools is given'],
    },
    { name: '--context without --kubeconfig', args: [...THREE, '--context', 'prod'], want: ['--context needs --kubeconfig'] },
    {
      name: '--rules-configmap without --kubeconfig',
      args: ['--rules-configmap', 'ns/rules'],
      want: ['--rules-configmap needs --kubeconfig: the ConfigMap is read from that cluster'],
    },
    {
      name: '--kubeconfig with --nodes',
      args: ['--kubeconfig', '/nonexistent/kubeconfig', '--nodes', fixture('nodes-three-zones.yaml')],
      want: ["--nodes is for files; with --kubeconfig the cluster's own are read"],
    },
    {
      name: '--kubeconfig with both --rules and --rules-configmap',
      args: ['--kubeconfig', '/nonexistent/kubeconfig', '--rules', fixture('rules-none.yaml'), '--rules-configmap', 'ns/rules'],
      want: ['--rules and --rules-configmap: give one of them'],
    },
  ])('$name', async ({ args, want }) => {
    expect(await run(['check', ...args, fixture('pod.yaml')])).toBe(2);
    expect(stdout()).toBe('');
    const lines = stderrLines().filter((l) => l.startsWith('error: '));
    expect(lines).toHaveLength(want.length);
    lines.forEach((line, i) => expect(line).toContain(want[i]));
  });
});
