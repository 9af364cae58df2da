import type { V1Node, V1Pod, V1PodAffinityTerm } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { makeNode, makePod, ruleSet } from '../../test/support/builders.js';
import type { CapacityView } from '../capacity/capacity.js';
import type { RuleSet } from '../rules/compile.js';
import { audit, type Finding } from './audit.js';
import { compareFindings, FINDING_KINDS, hasProblems } from './findings.js';
import { eviction } from './execution.js';

const NO_RULES = ruleSet([]);
const HOST = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';

const worker = (name: string, zone = 'a') => makeNode(name).label(HOST, name).label(ZONE, zone).allocatable({ cpu: '4', memory: '8Gi', pods: '110' });
const bound = (pod: V1Pod, node: string): V1Pod => ({
  ...pod,
  spec: { ...pod.spec, containers: pod.spec?.containers ?? [], nodeName: node },
  status: { phase: 'Running' },
});
const antiAffine = (app: string, key = HOST): V1PodAffinityTerm => ({ labelSelector: { matchLabels: { app } }, topologyKey: key });
const web = (name: string) =>
  makePod(name)
    .label('app', 'web')
    .spec({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [antiAffine('web')] } } });

interface Case {
  name: string;
  nodes: V1Node[];
  pods: V1Pod[];
  rules?: RuleSet;
  workloads?: unknown[];
  capacity?: CapacityView;
  /** The findings expected, as partial objects, in the report's order. */
  want: Partial<Finding>[];
}

const cases: Case[] = [
  {
    name: 'a pod whose node lost the label its nodeSelector asks for fails, and says which node would take it',
    nodes: [worker('n1').label('disk', 'hdd').v1(), worker('n2').label('disk', 'ssd').v1()],
    pods: [bound(makePod('db').nodeSelector('disk', 'ssd').obj(), 'n1')],
    want: [
      {
        kind: 'node-affinity',
        severity: 'fail',
        rule: 'nodeSelector',
        node: 'n1',
        reschedulable: true,
        rescheduleNode: 'n2',
        message: "node n1 no longer matches the pod's nodeSelector disk=ssd (it has disk=hdd)",
      },
    ],
  },
  {
    name: 'a pod whose required node affinity no node satisfies any more cannot be rescheduled',
    nodes: [worker('n1').v1(), worker('n2').v1()],
    pods: [
      bound(
        makePod('gpu')
          .requiredTerms([{ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }])
          .obj(),
        'n1',
      ),
    ],
    want: [
      {
        kind: 'node-affinity',
        severity: 'fail',
        rule: 'requiredDuringScheduling node affinity',
        reschedulable: false,
        rescheduleMessage: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
      },
    ],
  },
  {
    name: 'an untolerated NoExecute taint fails: the pod is about to be evicted',
    nodes: [worker('n1').taint('dedicated', 'db', 'NoExecute').v1(), worker('n2').v1()],
    pods: [bound(makePod('web').obj(), 'n1')],
    want: [{ kind: 'noexecute-taint', severity: 'fail', rule: 'NoExecute taint dedicated=db:NoExecute', reschedulable: true, rescheduleNode: 'n2' }],
  },
  {
    name: 'a NoExecute taint tolerated for a time only warns with the time',
    nodes: [worker('n1').taint('maintenance', undefined, 'NoExecute').v1()],
    pods: [bound(makePod('web').toleration({ key: 'maintenance', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 600 }).obj(), 'n1')],
    want: [
      {
        kind: 'noexecute-taint',
        severity: 'warn',
        message: 'node n1 has taint maintenance:NoExecute: it tolerates it for 600 s only: evicted that long after the taint was added',
        reschedulable: false,
      },
    ],
  },
  {
    name: 'a condition NoExecute taint only warns: the node may recover',
    nodes: [worker('n1').taint('node.kubernetes.io/unreachable', undefined, 'NoExecute').v1(), worker('n2').v1()],
    pods: [bound(makePod('web').obj(), 'n1')],
    want: [{ kind: 'noexecute-taint', severity: 'warn', rule: 'NoExecute taint node.kubernetes.io/unreachable:NoExecute' }],
  },
  {
    name: "a DaemonSet's pod tolerates the not-ready taint its controller adds a toleration for",
    nodes: [worker('n1').taint('node.kubernetes.io/not-ready', undefined, 'NoExecute').v1()],
    pods: [bound(makePod('agent').ownedBy('DaemonSet', 'agent').obj(), 'n1')],
    want: [],
  },
  {
    name: 'an untolerated NoSchedule taint and a cordon are informational',
    nodes: [worker('n1').taint('spot', 'true', 'NoSchedule').unschedulable().v1(), worker('n2').v1()],
    pods: [bound(makePod('web').obj(), 'n1')],
    want: [
      { kind: 'noschedule-taint', severity: 'info', rule: 'NoSchedule taint node.kubernetes.io/unschedulable:NoSchedule' },
      { kind: 'noschedule-taint', severity: 'info', rule: 'NoSchedule taint spot=true:NoSchedule' },
    ],
  },
  {
    name: 'two replicas that landed together despite required anti-affinity each report the other',
    nodes: [worker('n1').v1(), worker('n2').v1()],
    pods: [bound(web('web-1').obj(), 'n1'), bound(web('web-2').obj(), 'n1')],
    want: [
      {
        kind: 'pod-anti-affinity',
        severity: 'warn',
        object: { apiVersion: 'v1', kind: 'Pod', name: 'web-1' },
        message: `the pod shares ${HOST}=n1 with 1 pod(s) its required anti-affinity excludes (web-2)`,
        reschedulable: true,
        rescheduleNode: 'n2',
      },
      {
        kind: 'pod-anti-affinity',
        severity: 'warn',
        object: { apiVersion: 'v1', kind: 'Pod', name: 'web-2' },
        message: `the pod shares ${HOST}=n1 with 1 pod(s) its required anti-affinity excludes (web-1)`,
      },
    ],
  },
  {
    name: 'anti-affinity against other pods only: a pod alone in its domain has no finding',
    nodes: [worker('n1').v1(), worker('n2').v1()],
    pods: [bound(web('web-1').obj(), 'n1'), bound(web('web-2').obj(), 'n2')],
    want: [],
  },
  {
    name: 'required pod affinity whose partner left the zone warns',
    nodes: [worker('n1', 'a').v1(), worker('n2', 'b').v1()],
    pods: [
      bound(
        makePod('cache')
          .label('app', 'cache')
          .spec({
            affinity: {
              podAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: ZONE }],
              },
            },
          })
          .obj(),
        'n1',
      ),
      bound(makePod('web-1').label('app', 'web').obj(), 'n2'),
    ],
    want: [
      {
        kind: 'pod-affinity',
        severity: 'warn',
        message: `no pod the pod's required pod affinity asks for runs in ${ZONE}=a any more`,
        reschedulable: true,
        rescheduleNode: 'n2',
      },
    ],
  },
  {
    name: 'the first of a self-affine group is satisfied by itself',
    nodes: [worker('n1', 'a').v1()],
    pods: [
      bound(
        makePod('solo')
          .label('app', 'web')
          .spec({
            affinity: {
              podAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: ZONE }],
              },
            },
          })
          .obj(),
        'n1',
      ),
    ],
    want: [],
  },
  {
    name: 'a DoNotSchedule spread above maxSkew warns for each pod of the overloaded domain',
    nodes: [worker('n1', 'a').v1(), worker('n2', 'b').v1()],
    pods: ['s-1', 's-2', 's-3'].map((n) =>
      bound(
        makePod(n)
          .label('app', 's')
          .spec({
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: ZONE, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 's' } } },
            ],
          })
          .obj(),
        'n1',
      ),
    ),
    want: ['s-1', 's-2', 's-3'].map((name) => ({
      kind: 'topology-spread' as const,
      object: { apiVersion: 'v1', kind: 'Pod', name },
      message: `${ZONE}=a holds 3 matching pods (this one included), the least loaded domain 0: skew 3, above maxSkew 1`,
      reschedulable: true,
      rescheduleNode: 'n2',
    })),
  },
  {
    name: "whether another node takes the pod keeps the pod's own node as a topology domain (its zone empties as it leaves)",
    nodes: [worker('n1', 'a').v1(), worker('n2', 'b').v1(), worker('n3', 'c').taint('maint', undefined, 'NoExecute').v1()],
    pods: [
      ['k-0', 'n1'],
      ['k-1', 'n2'],
      ['k-2', 'n3'],
    ].map(([n, on]) =>
      bound(
        makePod(n as string)
          .label('app', 'k')
          .spec({
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: ZONE, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'k' } } },
            ],
          })
          .obj(),
        on as string,
      ),
    ),
    want: [
      {
        kind: 'noexecute-taint',
        severity: 'fail',
        object: { apiVersion: 'v1', kind: 'Pod', name: 'k-2' },
        reschedulable: false,
        rescheduleMessage: "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints.",
      },
    ],
  },
  {
    name: 'a ScheduleAnyway spread is never a violation',
    nodes: [worker('n1', 'a').v1(), worker('n2', 'b').v1()],
    pods: ['s-1', 's-2'].map((n) =>
      bound(
        makePod(n)
          .label('app', 's')
          .spec({
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: ZONE, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 's' } } },
            ],
          })
          .obj(),
        'n1',
      ),
    ),
    want: [],
  },
  {
    name: 'a pod a rule matches that lacks its injection drifts, with the patch and the workload to roll out',
    nodes: [worker('n1').label('pool', 'batch').v1()],
    rules: ruleSet([{ name: 'batch-pool', match: { podSelector: { matchLabels: { tier: 'batch' } } }, inject: { nodeSelector: { pool: 'batch' } } }]),
    pods: [bound(makePod('job-abc12').label('tier', 'batch').label('pod-template-hash', 'abc12').ownedBy('ReplicaSet', 'worker-abc12').obj(), 'n1')],
    want: [
      {
        kind: 'drift',
        severity: 'warn',
        rule: 'batch-pool',
        owner: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'worker' },
        patch: [
          { op: 'add', path: '/spec/nodeSelector', value: { pool: 'batch' } },
          { op: 'add', path: '/metadata/annotations', value: { 'placement-webhook/applied-rules': 'batch-pool' } },
        ],
      },
    ],
  },
  {
    name: 'a pod that already has what the rule injects does not drift, annotation or not',
    nodes: [worker('n1').label('pool', 'batch').v1()],
    rules: ruleSet([{ name: 'batch-pool', match: { podSelector: { matchLabels: { tier: 'batch' } } }, inject: { nodeSelector: { pool: 'batch' } } }]),
    pods: [bound(makePod('job').label('tier', 'batch').nodeSelector('pool', 'batch').obj(), 'n1')],
    want: [],
  },
  {
    name: 'a pod whose value came from an earlier version of a rule (onConflict: keep) drifts, without a patch',
    nodes: [worker('n1').label('pool', 'a').v1()],
    rules: ruleSet([{ name: 'pool', match: { podSelector: { matchLabels: { tier: 'batch' } } }, inject: { nodeSelector: { pool: 'b' } } }]),
    pods: [
      bound(
        makePod('job-h1-x')
          .label('tier', 'batch')
          .label('pod-template-hash', 'h1')
          .ownedBy('ReplicaSet', 'job-h1')
          .nodeSelector('pool', 'a')
          .annotation('placement-webhook/applied-rules', 'pool')
          .obj(),
        'n1',
      ),
    ],
    workloads: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'job', namespace: 'default' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { tier: 'batch' } },
          template: { metadata: { labels: { tier: 'batch' } }, spec: { containers: [{ name: 'a', image: 'x' }] } },
        },
      },
    ],
    want: [
      {
        kind: 'drift',
        severity: 'warn',
        rule: 'pool',
        message:
          "rule pool: kept the pod's nodeSelector pool=a (the rule sets pool=b): the pod's value came from an earlier version of the rule (its placement-webhook/applied-rules annotation names it); the next pods of Deployment job get what the rule sets now",
      },
    ],
  },
  {
    name: 'a value the template sets itself, kept by the rule, is not drift; nor is one whose template is not known',
    nodes: [worker('n1').label('pool', 'a').v1()],
    rules: ruleSet([{ name: 'pool', match: { podSelector: { matchLabels: { tier: 'batch' } } }, inject: { nodeSelector: { pool: 'b' } } }]),
    pods: [
      bound(
        makePod('job-h1-x')
          .label('tier', 'batch')
          .label('pod-template-hash', 'h1')
          .ownedBy('ReplicaSet', 'job-h1')
          .nodeSelector('pool', 'a')
          .annotation('placement-webhook/applied-rules', 'pool')
          .obj(),
        'n1',
      ),
      bound(
        makePod('other-h2-y')
          .label('tier', 'batch')
          .label('pod-template-hash', 'h2')
          .ownedBy('ReplicaSet', 'other-h2')
          .nodeSelector('pool', 'a')
          .annotation('placement-webhook/applied-rules', 'pool')
          .obj(),
        'n1',
      ),
    ],
    workloads: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'job', namespace: 'default' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { tier: 'batch' } },
          template: { metadata: { labels: { tier: 'batch' } }, spec: { nodeSelector: { pool: 'a' }, containers: [{ name: 'a', image: 'x' }] } },
        },
      },
    ],
    want: [],
  },
  {
    name: 'a pod that set its own value, which a rule keeps, does not drift',
    nodes: [worker('n1').label('pool', 'a').v1()],
    rules: ruleSet([{ name: 'pool', match: { podSelector: { matchLabels: { tier: 'batch' } } }, inject: { nodeSelector: { pool: 'b' } } }]),
    pods: [bound(makePod('job').label('tier', 'batch').nodeSelector('pool', 'a').obj(), 'n1')],
    want: [],
  },
  {
    name: 'a rule onConflict: reject that would refuse the pod now fails',
    nodes: [worker('n1').label('pool', 'a').v1()],
    rules: ruleSet([
      { name: 'pool-b', onConflict: 'reject', match: { podSelector: { matchLabels: { tier: 'batch' } } }, inject: { nodeSelector: { pool: 'b' } } },
    ]),
    pods: [bound(makePod('job').label('tier', 'batch').nodeSelector('pool', 'a').obj(), 'n1')],
    want: [{ kind: 'rule-denial', severity: 'fail', rule: 'pool-b' }],
  },
  {
    name: 'drift is not looked for in excluded namespaces, execution is',
    nodes: [worker('n1').label('pool', 'a').v1()],
    rules: ruleSet([{ name: 'pool-b', inject: { nodeSelector: { pool: 'b' } } }], { excludedNamespaces: ['kube-system'] }),
    pods: [bound(makePod('dns').ns('kube-system').nodeSelector('disk', 'ssd').obj(), 'n1')],
    want: [{ kind: 'node-affinity', namespace: 'kube-system' }],
  },
  {
    name: 'a Pending pod no node could ever run fails with the scheduler message',
    nodes: [worker('n1').v1()],
    pods: [
      makePod('big')
        .container('app', { resources: { requests: { cpu: '64' } } })
        .obj(),
    ],
    want: [{ kind: 'pending-never', severity: 'fail', rule: 'scheduling', message: 'can never run: 0/1 nodes are available: 1 Insufficient cpu.' }],
  },
  {
    name: 'a Pending pod that fits a node template is Pending now, not never',
    nodes: [worker('n1').v1()],
    rules: ruleSet([], { validation: { nodeTemplates: [{ name: 'big', allocatable: { cpu: '96', memory: '384Gi', pods: '110' } }] } }),
    pods: [
      makePod('big')
        .container('app', { resources: { requests: { cpu: '64' } } })
        .obj(),
    ],
    want: [{ kind: 'pending-now', severity: 'warn' }],
  },
  {
    name: 'a Pending pod no node fits is Pending now, not never, while the addable capacity is not fully known',
    nodes: [worker('n1').v1()],
    capacity: { sources: [], incomplete: 'the NodePools could not be listed' },
    pods: [
      makePod('big')
        .container('app', { resources: { requests: { cpu: '64' } } })
        .obj(),
    ],
    want: [
      {
        kind: 'pending-now',
        severity: 'warn',
        message:
          'no current node fits, and it is not known whether an autoscaler could add one (the NodePools could not be listed): 0/1 nodes are available: 1 Insufficient cpu.',
      },
    ],
  },
  {
    name: 'anti-affinity in a wide domain (a zone of many nodes) is found as in a narrow one',
    nodes: Array.from({ length: 70 }, (_, i) => worker(`z${i}`, i < 69 ? 'a' : 'b').v1()),
    pods: [
      bound(
        makePod('db-1')
          .label('app', 'db')
          .spec({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [antiAffine('db', ZONE)] } } })
          .obj(),
        'z0',
      ),
      bound(
        makePod('db-2')
          .label('app', 'db')
          .spec({ affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [antiAffine('db', ZONE)] } } })
          .obj(),
        'z68',
      ),
    ],
    want: [
      {
        kind: 'pod-anti-affinity',
        object: { apiVersion: 'v1', kind: 'Pod', name: 'db-1' },
        message: `the pod shares ${ZONE}=a with 1 pod(s) its required anti-affinity excludes (db-2)`,
        rescheduleNode: 'z69',
      },
      {
        kind: 'pod-anti-affinity',
        object: { apiVersion: 'v1', kind: 'Pod', name: 'db-2' },
        message: `the pod shares ${ZONE}=a with 1 pod(s) its required anti-affinity excludes (db-1)`,
      },
    ],
  },
  {
    name: 'a Pending pod blocked by anti-affinity now is Pending now',
    nodes: [worker('n1').v1()],
    pods: [bound(web('web-1').obj(), 'n1'), web('web-2').obj()],
    want: [
      {
        kind: 'pending-now',
        severity: 'warn',
        message: "not schedulable now: 0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.",
      },
    ],
  },
  {
    name: 'a Pending pod the model would bind now, a gated pod and a finished one have no finding',
    nodes: [worker('n1').v1()],
    pods: [
      makePod('fresh').obj(),
      {
        ...makePod('gated')
          .spec({ schedulingGates: [{ name: 'x' }] })
          .obj(),
      },
      { ...bound(makePod('done').nodeSelector('x', 'y').obj(), 'n1'), status: { phase: 'Succeeded' } },
    ],
    want: [],
  },
  {
    name: 'a Deployment with more self anti-affine replicas than nodes, and a rollout that can never progress',
    nodes: [worker('n1').v1(), worker('n2').v1()],
    pods: [],
    workloads: [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'default' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: web('x').obj(),
        },
      },
    ],
    want: [
      {
        kind: 'replicas',
        severity: 'warn',
        object: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        rule: `required anti-affinity on ${HOST}`,
      },
      { kind: 'rollout-stuck', severity: 'warn', rule: 'strategy.rollingUpdate' },
    ],
  },
];

describe('audit', () => {
  it.each(cases)('$name', ({ nodes, pods, rules, workloads, capacity, want }) => {
    const { findings } = audit({ nodes, pods, rules: rules ?? NO_RULES, ...(workloads ? { workloads } : {}), ...(capacity ? { capacity } : {}) });
    expect(findings).toHaveLength(want.length);
    want.forEach((w, i) => expect(findings[i]).toMatchObject(w));
  });

  it('covers every audit finding kind in its table', () => {
    const audited = FINDING_KINDS.filter((k) => !['pdb', 'replicas-lost', 'drained', 'evicted', 'node-removed'].includes(k));
    const seen = new Set(cases.flatMap((c) => c.want.map((w) => w.kind)));
    expect(audited.filter((k) => !seen.has(k))).toEqual([]);
  });

  it('notes pods bound to a node the node list does not have, instead of judging them', () => {
    const report = audit({ nodes: [worker('n1').v1()], pods: [bound(makePod('lost').nodeSelector('a', 'b').obj(), 'gone')], rules: NO_RULES });
    expect(report.findings).toEqual([]);
    expect(report.notes).toEqual(['1 object not judged: bound to a node the node list does not have']);
  });

  it('never changes its inputs, and judges a pod without itself in the pod view (it frees its own node)', () => {
    const full = worker('n1').allocatable({ cpu: '1' }).label('disk', 'hdd').v1();
    const pod = bound(
      makePod('db')
        .nodeSelector('disk', 'hdd')
        .toleration({ key: 'x', operator: 'Exists' })
        .container('app', { resources: { requests: { cpu: '1' } } })
        .obj(),
      'n1',
    );
    const tainted = { ...full, spec: { taints: [{ key: 'x', effect: 'NoSchedule' }] } };
    const before = structuredClone(pod);
    const { findings } = audit({ nodes: [tainted], pods: [pod], rules: NO_RULES });
    expect(pod).toEqual(before);
    expect(findings).toEqual([]);
  });

  it('orders findings by namespace, then severity, then kind', () => {
    const { findings } = audit({
      nodes: [worker('n1').taint('spot', 'true', 'NoSchedule').v1()],
      pods: [bound(makePod('a').ns('b-ns').obj(), 'n1'), bound(makePod('b').ns('a-ns').nodeSelector('x', 'y').obj(), 'n1')],
      rules: NO_RULES,
    });
    expect(findings.map((f) => `${f.namespace}:${f.severity}:${f.kind}`)).toEqual([
      'a-ns:fail:node-affinity',
      'a-ns:info:noschedule-taint',
      'b-ns:info:noschedule-taint',
    ]);
    expect([...findings].sort(compareFindings)).toEqual(findings);
    expect(hasProblems(findings)).toBe(true);
    expect(hasProblems(findings.filter((f) => f.severity === 'info'))).toBe(false);
  });
});

describe('eviction (the taint eviction controller)', () => {
  const t = (key: string, effect = 'NoExecute') => ({ key, effect });
  it.each([
    { name: 'no NoExecute taint: stays', taints: [t('a', 'NoSchedule')], tolerations: [], want: undefined },
    { name: 'untolerated: now', taints: [t('a')], tolerations: [], want: { kind: 'now', taint: t('a') } },
    { name: 'tolerated forever: stays', taints: [t('a')], tolerations: [{ key: 'a', operator: 'Exists' }], want: undefined },
    {
      name: 'the least tolerationSeconds wins',
      taints: [t('a'), t('b')],
      tolerations: [
        { key: 'a', operator: 'Exists', tolerationSeconds: 60 },
        { key: 'b', operator: 'Exists', tolerationSeconds: 30 },
      ],
      want: { kind: 'after', seconds: 30, taint: t('b') },
    },
    {
      name: 'a negative tolerationSeconds means now-ish (0)',
      taints: [t('a')],
      tolerations: [{ key: 'a', operator: 'Exists', tolerationSeconds: -5 }],
      want: { kind: 'after', seconds: 0, taint: t('a') },
    },
    {
      name: "each taint's first tolerating toleration is the one used",
      taints: [t('a')],
      tolerations: [{ operator: 'Exists' }, { key: 'a', operator: 'Exists', tolerationSeconds: 10 }],
      want: undefined,
    },
  ])('$name', ({ taints, tolerations, want }) => {
    expect(eviction(taints, tolerations)).toEqual(want);
  });
});
