import type { V1Namespace, V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { billionLaughs, deeplyNested, sharedAnchorRules } from '../../test/support/yaml-bombs.js';
import { describe, expect, it } from 'vitest';

import { makeNode, makePod, ruleSet, type NodeBuilder, type PodBuilder } from '../../test/support/builders.js';
import { StaticCluster } from '../cluster/static.js';
import type { RuleSet } from '../rules/compile.js';
import type { NodeTemplate, Rule, Settings } from '../rules/schema.js';
import { NodeIndex } from '../scheduling/node-index.js';
import { PodIndex, PodReader } from '../scheduling/pods.js';
import type { AdmissionContext } from './context.js';
import type { HandlerResult } from './handler.js';
import type { AdmissionRequest } from './types.js';
import { MAX_WARNING_LENGTH } from './response.js';
import { messageAsWarnings } from './judge.js';
import { handleValidate } from './validate.js';

const UID = '3f1c9a2e-1b7d-4f0e-9c55-0d6b2f7a9e11';

// ---- the cluster ---------------------------------------------------------------------------------------------------

const node = (name: string): NodeBuilder =>
  makeNode(name).label('kubernetes.io/hostname', name).allocatable({ cpu: '4', memory: '16Gi', pods: '110' });

/** Three nodes: two zones of ordinary nodes, and a GPU node that only tolerating pods may use. */
const NODES = (): NodeBuilder[] => [
  node('n1').label('zone', 'a'),
  node('n2').label('zone', 'b'),
  node('gpu-1').label('zone', 'c').taint('dedicated', 'gpu', 'NoSchedule'),
];

/** What every infeasible pod below (`nodeSelector zone=c` without a toleration) gets from the scheduler. */
const NO_FIT = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector.";
const NO_FIT_LINES = [
  '0/3 nodes are available:',
  '  1 node(s) had untolerated taint {dedicated: gpu}',
  "  2 node(s) didn't match Pod's node affinity/selector",
];

const ENFORCE = ruleSet([]);
const mode = (m: NonNullable<NonNullable<Settings['validation']>['mode']>, settings: Settings = {}): RuleSet =>
  ruleSet([], { ...settings, validation: { ...settings.validation, mode: m } });

const cluster = (rules: RuleSet = ENFORCE, nodes: NodeBuilder[] = NODES(), namespaces: V1Namespace[] = []) =>
  new StaticCluster(
    rules,
    nodes.map((n) => n.v1()),
    namespaces,
  );

/** A context whose node view is marked incomplete (an informer that lost its watch) while it still holds nodes. */
const staleCluster = (reason: string, rules: RuleSet = ENFORCE, nodes: NodeBuilder[] = NODES()): AdmissionContext => ({
  rules: () => rules,
  namespaceLabels: () => undefined,
  nodes: () => ({ index: new NodeIndex(nodes.map((n) => n.obj())), incomplete: reason }),
});

// ---- requests ------------------------------------------------------------------------------------------------------

const feasible = (): PodBuilder => makePod('web-0').ns('shop').label('app', 'web').nodeSelector('zone', 'a');
const infeasible = (): PodBuilder => makePod('web-0').ns('shop').label('app', 'web').nodeSelector('zone', 'c');

function podRequest(pod: V1Pod, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: UID,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? 'default',
    operation: 'CREATE',
    userInfo: { username: 'kubernetes-admin' },
    object: pod,
    ...over,
  };
}

/** The pod template of a workload: the pod's labels and spec. */
const template = (pod: PodBuilder): V1PodTemplateSpec => {
  const p = pod.obj();
  return { metadata: { labels: p.metadata?.labels ?? {} }, spec: p.spec };
};

type WorkloadKind = 'Deployment' | 'StatefulSet' | 'ReplicaSet' | 'DaemonSet' | 'Job' | 'CronJob' | 'ReplicationController';

const WORKLOADS: Record<
  WorkloadKind,
  { group: string; version: string; resource: string; spec: (t: V1PodTemplateSpec, replicas?: number) => object }
> = {
  Deployment: {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    spec: (t, replicas = 2) => ({ replicas, selector: { matchLabels: { app: 'web' } }, template: t }),
  },
  StatefulSet: {
    group: 'apps',
    version: 'v1',
    resource: 'statefulsets',
    spec: (t, replicas = 2) => ({ replicas, serviceName: 'web', selector: { matchLabels: { app: 'web' } }, template: t }),
  },
  ReplicaSet: {
    group: 'apps',
    version: 'v1',
    resource: 'replicasets',
    spec: (t, replicas = 2) => ({ replicas, selector: { matchLabels: { app: 'web' } }, template: t }),
  },
  DaemonSet: { group: 'apps', version: 'v1', resource: 'daemonsets', spec: (t) => ({ selector: { matchLabels: { app: 'web' } }, template: t }) },
  Job: { group: 'batch', version: 'v1', resource: 'jobs', spec: (t) => ({ template: t }) },
  CronJob: {
    group: 'batch',
    version: 'v1',
    resource: 'cronjobs',
    spec: (t) => ({ schedule: '*/5 * * * *', jobTemplate: { spec: { template: t } } }),
  },
  ReplicationController: {
    group: '',
    version: 'v1',
    resource: 'replicationcontrollers',
    spec: (t, replicas = 2) => ({ replicas, selector: { app: 'web' }, template: t }),
  },
};

interface WorkloadOptions {
  operation?: AdmissionRequest['operation'];
  /** The old object's template (UPDATE). */
  old?: V1PodTemplateSpec;
  oldReplicas?: number;
  replicas?: number;
  namespace?: string;
  name?: string;
}

function workloadObject(kind: WorkloadKind, t: V1PodTemplateSpec, name: string, namespace: string, replicas?: number): object {
  const w = WORKLOADS[kind];
  return { apiVersion: w.group ? `${w.group}/${w.version}` : w.version, kind, metadata: { name, namespace }, spec: w.spec(t, replicas) };
}

function workloadRequest(kind: WorkloadKind, t: V1PodTemplateSpec, o: WorkloadOptions = {}): AdmissionRequest {
  const w = WORKLOADS[kind];
  const name = o.name ?? 'web';
  const namespace = o.namespace ?? 'shop';
  return {
    uid: UID,
    kind: { group: w.group, version: w.version, kind },
    resource: { group: w.group, version: w.version, resource: w.resource },
    name,
    namespace,
    operation: o.operation ?? 'CREATE',
    object: workloadObject(kind, t, name, namespace, o.replicas),
    ...(o.old ? { oldObject: workloadObject(kind, o.old, name, namespace, o.oldReplicas) } : {}),
  };
}

function configMapRequest(
  data: Record<string, string> | undefined,
  labels: Record<string, string> = { 'placement-webhook/rules': 'true' },
  operation: AdmissionRequest['operation'] = 'UPDATE',
): AdmissionRequest {
  return {
    uid: UID,
    kind: { group: '', version: 'v1', kind: 'ConfigMap' },
    resource: { group: '', version: 'v1', resource: 'configmaps' },
    name: 'placement-rules',
    namespace: 'placement-webhook',
    operation,
    object: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'placement-rules', namespace: 'placement-webhook', labels },
      ...(data ? { data } : {}),
    },
  };
}

/** Validates, and checks the response contract that holds for every request: the uid, and never a patch. */
function validate(request: AdmissionRequest, ctx: AdmissionContext): HandlerResult {
  const result = handleValidate(request, ctx);
  expect(result.response.uid).toBe(request.uid);
  expect(result.response).not.toHaveProperty('patch');
  expect(result.response).not.toHaveProperty('patchType');
  if (!result.response.allowed) expect(result.response.status?.message).toBeTruthy();
  for (const w of result.response.warnings ?? []) expect(w.length).toBeLessThanOrEqual(MAX_WARNING_LENGTH);
  return result;
}

const allowedPlain = { uid: UID, allowed: true };
const deniedWith = (message: string) => ({ uid: UID, allowed: false, status: { code: 403, reason: 'Forbidden', message } });
const allowedWarning = (...warnings: string[]) => ({ uid: UID, allowed: true, warnings });

// ---- pods ----------------------------------------------------------------------------------------------------------

describe('pods', () => {
  it('a pod for another scheduler (Fargate, Volcano) is not judged: its nodes may not exist before it is scheduled', () => {
    const r = validate(podRequest(infeasible().spec({ schedulerName: 'fargate-scheduler' }).obj()), cluster());
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toEqual({ decision: 'skipped', reason: 'scheduled by fargate-scheduler, not default-scheduler' });
    // Naming the default scheduler explicitly changes nothing.
    expect(validate(podRequest(infeasible().spec({ schedulerName: 'default-scheduler' }).obj()), cluster()).response.allowed).toBe(false);
  });

  it('a Deployment whose pods go to another scheduler is not judged either', () => {
    const r = validate(workloadRequest('Deployment', template(infeasible().spec({ schedulerName: 'volcano' }))), cluster());
    expect(r.record).toEqual({ decision: 'skipped', reason: 'scheduled by volcano, not default-scheduler' });
  });

  it('a pod some node runs is allowed without remark', () => {
    const r = validate(podRequest(feasible().obj()), cluster());
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'fits' });
  });

  it('enforce: a pod no node runs is denied with 403 and the scheduler’s message', () => {
    const r = validate(podRequest(infeasible().obj()), cluster());
    expect(r.response).toEqual(deniedWith(NO_FIT));
    expect(r.record).toMatchObject({ decision: 'denied', verdict: 'no-fit', reason: NO_FIT });
  });

  it('the default mode is enforce', () => {
    expect(ENFORCE.validation.mode).toBe('enforce');
    expect(validate(podRequest(infeasible().obj()), cluster(mode('enforce'))).response).toEqual(deniedWith(NO_FIT));
  });

  it.each([{ dryRun: true }, { dryRun: false }])('dryRun $dryRun gets the same decision', ({ dryRun }) => {
    expect(validate(podRequest(infeasible().obj(), { dryRun }), cluster()).response).toEqual(deniedWith(NO_FIT));
    expect(validate(podRequest(feasible().obj(), { dryRun }), cluster()).response).toEqual(allowedPlain);
  });

  it('warn: allowed, with the message as warning lines', () => {
    const r = validate(podRequest(infeasible().obj()), cluster(mode('warn')));
    expect(r.response).toEqual(allowedWarning(...NO_FIT_LINES));
    expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'no-fit', reason: NO_FIT });
  });

  it('warn: a feasible pod gets no warning', () => {
    expect(validate(podRequest(feasible().obj()), cluster(mode('warn'))).response).toEqual(allowedPlain);
  });

  it('warn: lines longer than 120 characters are cut with an ellipsis, the denial message is not', () => {
    const key = `example.com/${'k'.repeat(60)}`;
    const value = 'v'.repeat(63);
    const nodes = [node('n1').taint(key, value, 'NoSchedule')];
    const message = `0/1 nodes are available: 1 node(s) had untolerated taint {${key}: ${value}}.`;
    const warned = validate(podRequest(makePod().obj()), cluster(mode('warn'), nodes)).response.warnings ?? [];
    expect(warned).toHaveLength(2);
    expect(warned[0]).toBe('0/1 nodes are available:');
    expect(warned[1]).toHaveLength(MAX_WARNING_LENGTH);
    expect(warned[1]).toBe(`  1 node(s) had untolerated taint {${key}: ${value}}`.slice(0, MAX_WARNING_LENGTH - 1) + '…');
    expect(validate(podRequest(makePod().obj()), cluster(ENFORCE, nodes)).response).toEqual(deniedWith(message));
  });

  it('off: allowed without checking', () => {
    const r = validate(podRequest(infeasible().obj()), cluster(mode('off')));
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toEqual({ decision: 'skipped', reason: 'validation mode off' });
  });

  it('a pod that fits only on nodes with a condition taint is allowed with a warning', () => {
    const nodes = [node('n1').label('zone', 'a').taint('node.kubernetes.io/not-ready', undefined, 'NoExecute'), node('n2').label('zone', 'b')];
    const r = validate(podRequest(feasible().obj()), cluster(ENFORCE, nodes));
    expect(r.response).toEqual(
      allowedWarning('fits only nodes with condition taint node.kubernetes.io/not-ready', '  it may wait until they recover (e.g. node n1)'),
    );
    expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'fits-transient' });
  });

  it.each([
    'node.kubernetes.io/unreachable',
    'node.kubernetes.io/memory-pressure',
    'node.kubernetes.io/disk-pressure',
    'node.kubernetes.io/pid-pressure',
    'node.kubernetes.io/network-unavailable',
  ])('a pod that fits only on nodes tainted %s is allowed, never denied', (key) => {
    const r = validate(podRequest(makePod().obj()), cluster(ENFORCE, [node('n1').taint(key, undefined, 'NoSchedule')]));
    expect(r.response.allowed).toBe(true);
    expect(r.response.warnings).toEqual([`fits only nodes with condition taint ${key}`, '  it may wait until they recover (e.g. node n1)']);
  });

  describe('node templates', () => {
    const gpuPool: NodeTemplate = {
      name: 'gpu-pool',
      labels: { zone: 'c', accelerator: 't4' },
      allocatable: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': 1 },
    };
    const withTemplates = (templates: NodeTemplate[], m: 'enforce' | 'warn' = 'enforce') =>
      ruleSet([], { validation: { mode: m, nodeTemplates: templates } });
    const gpuPod = () =>
      makePod('train')
        .ns('ml')
        .nodeSelector('accelerator', 't4')
        .container('train', { resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } } });
    const GPU_NO_FIT =
      "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector.";

    it('no live node fits but a template does: allowed with a warning naming the template', () => {
      const r = validate(podRequest(gpuPod().obj()), cluster(withTemplates([gpuPool])));
      expect(r.response).toEqual(allowedWarning('no current node fits; nodes of template gpu-pool would (an autoscaler must add one)'));
      expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'fits-template', reason: GPU_NO_FIT });
    });

    it('a template names no pods: it accepts 110', () => {
      const noPods = { name: 'big', allocatable: { cpu: '64' } };
      const r = validate(
        podRequest(
          makePod()
            .container('app', { resources: { requests: { cpu: '32' } } })
            .obj(),
        ),
        cluster(withTemplates([noPods])),
      );
      expect(r.response.allowed).toBe(true);
      expect(r.response.warnings).toEqual(['no current node fits; nodes of template big would (an autoscaler must add one)']);
    });

    it('a template that accepts no pods does not fit', () => {
      const zeroPods = { name: 'broken', allocatable: { cpu: '64', pods: '0' } };
      const r = validate(
        podRequest(
          makePod()
            .container('app', { resources: { requests: { cpu: '32' } } })
            .obj(),
        ),
        cluster(withTemplates([zeroPods])),
      );
      expect(r.response).toEqual({
        ...deniedWith('0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.'),
        warnings: ['node template broken: Too many pods'],
      });
    });

    it('a template is judged by the same filters: an untolerated taint keeps the pod off it', () => {
      const tainted: NodeTemplate = { ...gpuPool, taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] };
      expect(validate(podRequest(gpuPod().obj()), cluster(withTemplates([tainted]))).response).toEqual({
        ...deniedWith(GPU_NO_FIT),
        warnings: ['node template gpu-pool: node(s) had untolerated taint {nvidia.com/gpu: present}'],
      });
      const tolerating = gpuPod().toleration({ key: 'nvidia.com/gpu', operator: 'Exists' });
      expect(validate(podRequest(tolerating.obj()), cluster(withTemplates([tainted]))).response.allowed).toBe(true);
    });

    it('the first template that fits is named', () => {
      const small = { name: 'small', labels: { accelerator: 't4' }, allocatable: { cpu: '1', 'nvidia.com/gpu': 0 } };
      const r = validate(podRequest(gpuPod().obj()), cluster(withTemplates([small, gpuPool])));
      expect(r.response.warnings).toEqual(['no current node fits; nodes of template gpu-pool would (an autoscaler must add one)']);
    });

    it('unknown is not zero: a template that states no resources does not refuse a pod with requests, and says what went unchecked', () => {
      const bare: NodeTemplate = { name: 'bare', labels: { accelerator: 't4' } };
      const r = validate(
        podRequest(
          gpuPod()
            .container('more', { resources: { requests: { cpu: '2', memory: '4Gi' } } })
            .obj(),
        ),
        cluster(withTemplates([bare])),
      );
      expect(r.response).toEqual(
        allowedWarning(
          'no current node fits; nodes of template bare would (an autoscaler must add one)',
          '  cpu, memory, nvidia.com/gpu not checked: the template does not state it',
        ),
      );
    });

    it('a stated resource still constrains: a template with too little cpu does not fit', () => {
      const small: NodeTemplate = { name: 'small', labels: { accelerator: 't4' }, allocatable: { cpu: '1' } };
      const r = validate(
        podRequest(
          gpuPod()
            .container('more', { resources: { requests: { cpu: '2' } } })
            .obj(),
        ),
        cluster(withTemplates([small])),
      );
      expect(r.response.allowed).toBe(false);
      expect(r.response.warnings).toEqual(['node template small: Insufficient cpu']);
    });

    it('a template also turns warn mode’s message into the template warning', () => {
      const r = validate(podRequest(gpuPod().obj()), cluster(withTemplates([gpuPool], 'warn')));
      expect(r.response).toEqual(allowedWarning('no current node fits; nodes of template gpu-pool would (an autoscaler must add one)'));
    });

    it('templates are not consulted while a live node fits', () => {
      const r = validate(podRequest(feasible().obj()), cluster(withTemplates([gpuPool])));
      expect(r.response).toEqual(allowedPlain);
    });
  });

  describe('incomplete knowledge never denies', () => {
    it('no node list at all: allowed with a warning saying so', () => {
      const r = validate(podRequest(infeasible().obj()), new StaticCluster(ENFORCE, undefined));
      expect(r.response).toEqual(allowedWarning('placement-webhook: node feasibility not checked: no node list was given (--nodes)'));
      expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'unknown' });
    });

    it('an empty node list: allowed with a warning', () => {
      const r = validate(podRequest(infeasible().obj()), new StaticCluster(ENFORCE, []));
      expect(r.response).toEqual(allowedWarning('placement-webhook: node feasibility not checked: no nodes are known yet'));
      expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'no-nodes' });
    });

    it('a stale node view: allowed with a warning giving the reason, although its nodes would deny', () => {
      const r = validate(podRequest(infeasible().obj()), staleCluster('node watch disconnected for 6m0s'));
      expect(r.response).toEqual(allowedWarning('placement-webhook: node feasibility not checked: node watch disconnected for 6m0s'));
    });

    it('a stale node view with a long reason still gives one line of at most 120 characters', () => {
      const r = validate(podRequest(infeasible().obj()), staleCluster(`disconnected: ${'x'.repeat(200)}`));
      expect(r.response.warnings).toHaveLength(1);
      expect(r.response.warnings?.[0]).toHaveLength(MAX_WARNING_LENGTH);
    });

    it('a stale view of an empty cluster is stale first', () => {
      const r = validate(podRequest(infeasible().obj()), staleCluster('never synced', ENFORCE, []));
      expect(r.response).toEqual(allowedWarning('placement-webhook: node feasibility not checked: never synced'));
    });
  });

  describe('DaemonSet pods only ever warn', () => {
    it('a DaemonSet-owned pod no node runs is allowed with the message as warnings, in enforce mode', () => {
      const r = validate(podRequest(infeasible().ownedBy('DaemonSet', 'agent').obj()), cluster());
      expect(r.response).toEqual(allowedWarning(...NO_FIT_LINES));
      expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'no-fit' });
    });

    it('an extensions/v1beta1 DaemonSet owner counts too', () => {
      const r = validate(podRequest(infeasible().ownedBy('DaemonSet', 'agent', 'extensions/v1beta1').obj()), cluster());
      expect(r.response.allowed).toBe(true);
    });

    it('pods of other owners are denied', () => {
      expect(validate(podRequest(infeasible().ownedBy('ReplicaSet', 'web-7d9f').obj()), cluster()).response).toEqual(deniedWith(NO_FIT));
      expect(validate(podRequest(infeasible().ownedBy('Job', 'batch-1').obj()), cluster()).response).toEqual(deniedWith(NO_FIT));
    });

    it('a DaemonSet kind of another API group is not a DaemonSet', () => {
      expect(validate(podRequest(infeasible().ownedBy('DaemonSet', 'agent', 'example.com/v1').obj()), cluster()).response.allowed).toBe(false);
    });
  });

  describe('what is left alone', () => {
    it.each<{ name: string; request: AdmissionRequest; ctx?: AdmissionContext; reason: string }>([
      { name: 'UPDATE', request: podRequest(infeasible().obj(), { operation: 'UPDATE' }), reason: 'operation UPDATE' },
      { name: 'DELETE', request: podRequest(infeasible().obj(), { operation: 'DELETE' }), reason: 'operation DELETE' },
      { name: 'CONNECT', request: podRequest(infeasible().obj(), { operation: 'CONNECT' }), reason: 'operation CONNECT' },
      { name: 'a subresource', request: podRequest(infeasible().obj(), { subResource: 'binding' }), reason: 'subresource binding' },
      { name: 'no object', request: podRequest(infeasible().obj(), { object: null }), reason: 'no object in the request' },
      {
        name: 'kube-system, excluded by default',
        request: podRequest(infeasible().ns('kube-system').obj()),
        reason: 'namespace kube-system is excluded',
      },
      {
        name: 'a namespace the settings exclude',
        request: podRequest(infeasible().ns('batch').obj()),
        ctx: cluster(ruleSet([], { excludedNamespaces: ['batch'] })),
        reason: 'namespace batch is excluded',
      },
      {
        name: 'the namespace of the pod when the request names none',
        request: podRequest(infeasible().ns('kube-system').obj(), { namespace: '' }),
        reason: 'namespace kube-system is excluded',
      },
      {
        name: 'a mirror pod',
        request: podRequest(infeasible().annotation('kubernetes.io/config.mirror', 'abc').obj()),
        reason: 'mirror pod (managed by a kubelet)',
      },
    ])('$name: allowed, skipped', ({ request, ctx, reason }) => {
      const r = validate(request, ctx ?? cluster());
      expect(r.response).toEqual(allowedPlain);
      expect(r.record).toEqual({ decision: 'skipped', reason });
    });

    it('a pod whose requests cannot be read is allowed with a warning', () => {
      const pod = infeasible()
        .container('app', { resources: { requests: { cpu: 'lots' } } })
        .obj();
      const r = validate(podRequest(pod), cluster());
      expect(r.response.allowed).toBe(true);
      expect(r.response.warnings).toHaveLength(1);
      expect(r.response.warnings?.[0]).toMatch(
        /^placement-webhook: not checked: spec\.containers\[0\]\.resources\.requests\.cpu: invalid value "lots"/,
      );
    });

    it('a kind that is not validated is allowed', () => {
      const request: AdmissionRequest = {
        uid: UID,
        kind: { group: '', version: 'v1', kind: 'Service' },
        resource: { group: '', version: 'v1', resource: 'services' },
        operation: 'CREATE',
        object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' } },
      };
      const r = validate(request, cluster());
      expect(r.response).toEqual(allowedPlain);
      expect(r.record).toEqual({ decision: 'skipped', reason: 'kind Service is not validated' });
    });
  });
});

// ---- workloads -----------------------------------------------------------------------------------------------------

describe('workloads', () => {
  const CHECKED: WorkloadKind[] = ['Deployment', 'StatefulSet', 'ReplicaSet', 'Job', 'CronJob', 'ReplicationController'];

  it.each(CHECKED)('%s CREATE with a template no node runs is denied, naming the workload', (kind) => {
    const r = validate(workloadRequest(kind, template(infeasible())), cluster());
    expect(r.response).toEqual(deniedWith(`${kind} web: ${NO_FIT}`));
    expect(r.record).toMatchObject({ decision: 'denied', verdict: 'no-fit', reason: NO_FIT });
  });

  it.each(CHECKED)('%s CREATE with a template some node runs is allowed', (kind) => {
    expect(validate(workloadRequest(kind, template(feasible())), cluster()).response).toEqual(allowedPlain);
  });

  it.each(CHECKED)('%s UPDATE that changes the template is judged', (kind) => {
    const r = validate(workloadRequest(kind, template(infeasible()), { operation: 'UPDATE', old: template(feasible()) }), cluster());
    expect(r.response).toEqual(deniedWith(`${kind} web: ${NO_FIT}`));
  });

  it.each(CHECKED.filter((k) => !['Job', 'CronJob'].includes(k)))(
    '%s UPDATE that only changes the replicas is never refused as "can never run": warnings only',
    (kind) => {
      const r = validate(
        workloadRequest(kind, template(infeasible()), { operation: 'UPDATE', old: template(infeasible()), oldReplicas: 1, replicas: 5 }),
        cluster(),
      );
      expect(r.response.allowed).toBe(true);
      expect(r.response.warnings?.[0]).toBe(`${kind} web: 0/3 nodes are available:`);
    },
  );

  it.each(CHECKED)('%s UPDATE that changes neither template, replicas nor strategy is skipped', (kind) => {
    const r = validate(
      workloadRequest(kind, template(infeasible()), { operation: 'UPDATE', old: template(infeasible()), oldReplicas: 5, replicas: 5 }),
      cluster(),
    );
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toEqual({ decision: 'skipped', reason: 'pod template, replicas and strategy unchanged' });
  });

  it.each(CHECKED.filter((k) => !['Job', 'CronJob'].includes(k)))(
    '%s scaled up from zero replicas is judged, though its template is unchanged',
    (kind) => {
      const r = validate(
        workloadRequest(kind, template(infeasible()), { operation: 'UPDATE', old: template(infeasible()), oldReplicas: 0, replicas: 3 }),
        cluster(),
      );
      expect(r.response).toEqual(deniedWith(`${kind} web: ${NO_FIT}`));
    },
  );

  it('an UPDATE whose old object had no template is judged', () => {
    const request = workloadRequest('Deployment', template(infeasible()), { operation: 'UPDATE' });
    request.oldObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: {} };
    expect(validate(request, cluster()).response).toEqual(deniedWith(`Deployment web: ${NO_FIT}`));
  });

  it('dryRun gets the same decision', () => {
    const request = { ...workloadRequest('Deployment', template(infeasible())), dryRun: true };
    expect(validate(request, cluster()).response).toEqual(deniedWith(`Deployment web: ${NO_FIT}`));
  });

  it.each(['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController'] as const)('%s with replicas: 0 is skipped', (kind) => {
    const r = validate(workloadRequest(kind, template(infeasible()), { replicas: 0 }), cluster());
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toEqual({ decision: 'skipped', reason: 'replicas: 0' });
  });

  it('a workload in an excluded namespace is skipped', () => {
    const r = validate(workloadRequest('Deployment', template(infeasible()), { namespace: 'kube-system' }), cluster());
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toEqual({ decision: 'skipped', reason: 'namespace kube-system is excluded' });
  });

  it('off: skipped', () => {
    const r = validate(workloadRequest('Deployment', template(infeasible())), cluster(mode('off')));
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toEqual({ decision: 'skipped', reason: 'validation mode off' });
  });

  it('warn: allowed, the warning lines prefixed with the workload', () => {
    const r = validate(workloadRequest('Deployment', template(infeasible())), cluster(mode('warn')));
    expect(r.response).toEqual(allowedWarning(`Deployment web: ${NO_FIT_LINES[0]}`, ...NO_FIT_LINES.slice(1)));
  });

  it('a template that fits only on condition-tainted nodes is allowed with a warning naming the workload', () => {
    const nodes = [node('n1').label('zone', 'a').taint('node.kubernetes.io/unreachable', undefined, 'NoExecute')];
    const r = validate(workloadRequest('StatefulSet', template(feasible())), cluster(ENFORCE, nodes));
    expect(r.response).toEqual(
      allowedWarning(
        'StatefulSet web: fits only nodes with condition taint node.kubernetes.io/unreachable',
        '  it may wait until they recover (e.g. node n1)',
      ),
    );
    expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'fits-transient' });
  });

  it('a template judged without nodes is allowed with a warning', () => {
    expect(validate(workloadRequest('Job', template(infeasible())), new StaticCluster(ENFORCE, undefined)).response.allowed).toBe(true);
    expect(validate(workloadRequest('Job', template(infeasible())), staleCluster('stale')).response.allowed).toBe(true);
  });

  it.each<{ operation: AdmissionRequest['operation'] }>([{ operation: 'DELETE' }, { operation: 'CONNECT' }])(
    '$operation is skipped',
    ({ operation }) => {
      const r = validate(workloadRequest('Deployment', template(infeasible()), { operation }), cluster());
      expect(r.response).toEqual(allowedPlain);
      expect(r.record).toEqual({ decision: 'skipped', reason: `operation ${operation}` });
    },
  );

  it('a workload without a template is skipped', () => {
    const request = workloadRequest('Deployment', template(infeasible()));
    request.object = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 1 } };
    const r = validate(request, cluster());
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toEqual({ decision: 'skipped', reason: 'no pod template' });
  });

  it('the workload is named from its metadata when the request has no name', () => {
    const request = { ...workloadRequest('Deployment', template(infeasible())), name: '' };
    expect(validate(request, cluster()).response.status?.message).toBe(`Deployment web: ${NO_FIT}`);
  });

  describe('DaemonSets only ever warn', () => {
    it('CREATE with a template no node runs: allowed with the message as warnings, in enforce mode', () => {
      const r = validate(workloadRequest('DaemonSet', template(infeasible()), { name: 'agents' }), cluster());
      expect(r.response).toEqual(allowedWarning(`DaemonSet agents: ${NO_FIT_LINES[0]}`, ...NO_FIT_LINES.slice(1)));
      expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'no-fit' });
    });

    it('its template is judged with the tolerations the DaemonSet controller adds (cordoned and pressured nodes fit)', () => {
      const nodes = [
        node('cordoned').label('zone', 'a').unschedulable().taint('node.kubernetes.io/unschedulable', undefined, 'NoSchedule'),
        node('pressured').label('zone', 'b').taint('node.kubernetes.io/memory-pressure', undefined, 'NoSchedule'),
      ];
      for (const zone of ['a', 'b']) {
        const pod = makePod('agent').ns('shop').label('app', 'agent').nodeSelector('zone', zone);
        const r = validate(workloadRequest('DaemonSet', template(pod), { name: 'agents' }), cluster(ENFORCE, nodes));
        expect(r.response, zone).toEqual(allowedPlain);
        expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'fits' });
      }
      // A Deployment with the same template does not get them.
      const pod = makePod('web').ns('shop').label('app', 'web').nodeSelector('zone', 'a');
      expect(validate(workloadRequest('Deployment', template(pod)), cluster(ENFORCE, nodes)).response.allowed).toBe(false);
    });

    it('UPDATE that changes the template: the same warnings', () => {
      const r = validate(
        workloadRequest('DaemonSet', template(infeasible()), { name: 'agents', operation: 'UPDATE', old: template(feasible()) }),
        cluster(),
      );
      expect(r.response.allowed).toBe(true);
      expect(r.response.warnings?.[0]).toBe(`DaemonSet agents: ${NO_FIT_LINES[0]}`);
    });
  });

  describe('our own rules are applied to the template first', () => {
    const spotNodes = () => [
      node('ondemand-1').label('lifecycle', 'on-demand'),
      node('spot-1').label('lifecycle', 'spot').taint('spot', 'true', 'NoSchedule'),
    ];
    const toSpot = (over: Partial<Rule> = {}, inject: Rule['inject'] = {}): Rule => ({
      name: 'web-on-spot',
      match: { podSelector: { matchLabels: { app: 'web' } } },
      inject: { nodeSelector: { lifecycle: 'spot' }, ...inject },
      ...over,
    });
    const SPOT_NO_FIT = "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {spot: true}.";
    const web = () => makePod().label('app', 'web');

    it('a Deployment whose pods the rules send to spot nodes is judged against spot nodes', () => {
      const r = validate(workloadRequest('Deployment', template(web())), cluster(ruleSet([toSpot()]), spotNodes()));
      expect(r.response).toEqual(deniedWith(`Deployment web: ${SPOT_NO_FIT}`));
    });

    it('the same Deployment is allowed when the rule also injects the toleration', () => {
      const rules = ruleSet([toSpot({}, { tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }] })]);
      expect(validate(workloadRequest('Deployment', template(web())), cluster(rules, spotNodes())).response).toEqual(allowedPlain);
    });

    it('a Deployment the rule does not match is judged as written', () => {
      const other = makePod().label('app', 'other');
      expect(validate(workloadRequest('Deployment', template(other)), cluster(ruleSet([toSpot()]), spotNodes())).response).toEqual(allowedPlain);
    });

    it('rules see the namespace labels of the cluster', () => {
      const rule = toSpot({ match: { namespaceSelector: { matchLabels: { cost: 'low' } } } });
      const namespaces: V1Namespace[] = [{ metadata: { name: 'shop', labels: { cost: 'low' } } }];
      const r = validate(workloadRequest('Deployment', template(makePod())), cluster(ruleSet([rule]), spotNodes(), namespaces));
      expect(r.response).toEqual(deniedWith(`Deployment web: ${SPOT_NO_FIT}`));
      const elsewhere = validate(
        workloadRequest('Deployment', template(makePod()), { namespace: 'other' }),
        cluster(ruleSet([rule]), spotNodes(), namespaces),
      );
      expect(elsewhere.response).toEqual(allowedPlain);
    });

    it('a rule conflict with onConflict: reject denies the workload', () => {
      const rules = ruleSet([toSpot({ onConflict: 'reject' })]);
      const r = validate(workloadRequest('Deployment', template(web().nodeSelector('lifecycle', 'on-demand'))), cluster(rules, spotNodes()));
      // The wording of the conflict itself belongs to the rules module; here it only has to be passed on whole.
      expect(r.response).toMatchObject({ uid: UID, allowed: false, status: { code: 403, reason: 'Forbidden' } });
      expect(r.response.status?.message).toMatch(
        /^Deployment web: its pods would be rejected: rule web-on-spot \(onConflict: reject\): .*on-demand.*spot$/,
      );
      expect(r.response.warnings).toBeUndefined();
      expect(r.record).toMatchObject({ decision: 'denied', verdict: 'rule-denial' });
    });

    it('a rule conflict with onConflict: keep leaves the template’s value, which is judged', () => {
      const rules = ruleSet([toSpot({ onConflict: 'keep' })]);
      const r = validate(workloadRequest('Deployment', template(web().nodeSelector('lifecycle', 'on-demand'))), cluster(rules, spotNodes()));
      expect(r.response).toEqual(allowedPlain);
    });

    it('a DaemonSet is only warned about a rule conflict', () => {
      const rules = ruleSet([toSpot({ onConflict: 'reject', match: { podSelector: { matchLabels: { app: 'web' } }, includeDaemonSetPods: true } })]);
      const r = validate(
        workloadRequest('DaemonSet', template(web().nodeSelector('lifecycle', 'on-demand')), { name: 'agents' }),
        cluster(rules, spotNodes()),
      );
      expect(r.response.allowed).toBe(true);
      expect(r.response.warnings).toHaveLength(1);
      expect(r.response.warnings?.[0]).toMatch(/^DaemonSet agents: its pods will be rejected: rule web-on-spot \(onConflict: reject\): /);
      expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'rule-denial' });
    });

    it('a DaemonSet template only gets rules that include DaemonSet pods', () => {
      const r = validate(workloadRequest('DaemonSet', template(web()), { name: 'agents' }), cluster(ruleSet([toSpot()]), spotNodes()));
      expect(r.response).toEqual(allowedPlain);
      const opted = ruleSet([toSpot({ match: { podSelector: { matchLabels: { app: 'web' } }, includeDaemonSetPods: true } })]);
      const warned = validate(workloadRequest('DaemonSet', template(web()), { name: 'agents' }), cluster(opted, spotNodes()));
      expect(warned.response.allowed).toBe(true);
      expect(warned.response.warnings?.[0]).toBe('DaemonSet agents: 0/2 nodes are available:');
    });
  });
});

// ---- the rules ConfigMap -------------------------------------------------------------------------------------------

describe('the rules ConfigMap', () => {
  const doc = (rules: string) => `apiVersion: placement-webhook/v1\nkind: PlacementRules\nrules:\n${rules}`;
  const VALID = doc('  - name: spot\n    inject:\n      nodeSelector: {lifecycle: spot}\n');

  it.each<AdmissionRequest['operation']>(['CREATE', 'UPDATE'])('a valid document on %s is allowed', (operation) => {
    const r = validate(configMapRequest({ 'rules.yaml': VALID }, undefined, operation), cluster());
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toEqual({ decision: 'allowed', warnings: 0 });
  });

  it('a valid document with lint warnings is allowed with them', () => {
    const r = validate(configMapRequest({ 'rules.yaml': doc('  - name: marker\n    inject: {}\n') }), cluster());
    expect(r.response).toEqual(
      allowedWarning('rules.yaml: rules[0].inject: injects nothing: the rule only records itself in the applied-rules annotation'),
    );
  });

  it('an invalid document is denied with every lint error and its field path', () => {
    const text = doc(
      [
        '  - name: Bad_Name',
        '    inject:',
        '      nodeSelector: {lifecycle: spot}',
        '  - name: spot',
        '    inject:',
        '      tolerations: [{key: spot, operator: Exists, value: "true"}]',
        '  - name: spot',
        '    inject:',
        '      nodeSelector: {zone: a}',
        '',
      ].join('\n'),
    );
    const r = validate(configMapRequest({ 'rules.yaml': text }), cluster());
    expect(r.response.allowed).toBe(false);
    const causes = [
      {
        reason: 'FieldValueInvalid',
        field: 'data[rules.yaml].rules[0].name',
        message: `invalid value "Bad_Name": a DNS-1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`,
      },
      {
        reason: 'FieldValueForbidden',
        field: 'data[rules.yaml].rules[1].inject.tolerations[0].value',
        message: "must be empty when `operator` is 'Exists'",
      },
      { reason: 'FieldValueDuplicate', field: 'data[rules.yaml].rules[2].name', message: 'duplicate value "spot"' },
    ];
    // kubectl prints "The ConfigMap "placement-rules" is invalid:" and one line per cause.
    expect(r.response.status?.details).toEqual({ kind: 'ConfigMap', name: 'placement-rules', causes });
    expect(r.response.status?.message).toBe(`ConfigMap "placement-rules" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`);
    expect(r.response.status).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(r.record.decision).toBe('denied');
  });

  it('a structural error is denied with its field path', () => {
    const r = validate(configMapRequest({ 'rules.yaml': doc('  - name: spot\n    inject:\n      nodeSelektor: {lifecycle: spot}\n') }), cluster());
    expect(r.response.allowed).toBe(false);
    expect(r.response.status?.message).toBe('ConfigMap "placement-rules" is invalid: data[rules.yaml].rules[0].inject.nodeSelektor: unknown field');
  });

  it('a YAML syntax error is denied with its line and column', () => {
    const r = validate(configMapRequest({ 'rules.yaml': doc('  - name: spot\n    inject: {nodeSelector: {a: b}\n') }), cluster());
    expect(r.response.allowed).toBe(false);
    expect(r.response.status?.message).toMatch(/^ConfigMap "placement-rules" is invalid: data\[rules\.yaml\]: YAML line 6, column 1: /);
  });

  it.each([
    { name: 'an alias bomb', text: billionLaughs(), want: /data\[rules\.yaml\]: YAML aliases expand the document to more than \d+ nodes/ },
    {
      name: 'collections nested 5,000 deep',
      text: deeplyNested(5000),
      want: /data\[rules\.yaml\]: YAML line 3, column 107: nested more than 100 levels deep/,
    },
  ])('$name is denied as invalid (422) with the reason, not a 500', ({ text, want }) => {
    const r = validate(configMapRequest({ 'rules.yaml': text }), cluster());
    expect(r.response.allowed).toBe(false);
    expect(r.response.status?.code).toBe(422);
    expect(r.response.status?.message).toMatch(want);
  });

  it('101 rules sharing one anchor are allowed', () => {
    const r = validate(configMapRequest({ 'rules.yaml': sharedAnchorRules(101) }), cluster());
    expect(r.response.allowed).toBe(true);
  });

  it('a validation response cuts each warning to the API line length; the result keeps them whole', () => {
    const r = validate(
      configMapRequest({
        'rules.yaml': 'apiVersion: placement-webhook/v1\nkind: PlacementRules\nsettings: {excludedNamespaces: [team-a]}\nrules: []\n',
      }),
      cluster(),
    );
    expect(r.response.warnings?.every((w) => w.length <= MAX_WARNING_LENGTH)).toBe(true);
    expect(r.warnings.some((w) => w.length > MAX_WARNING_LENGTH)).toBe(true);
  });

  it('an empty document is denied', () => {
    const r = validate(configMapRequest({ 'rules.yaml': '' }), cluster());
    expect(r.response.allowed).toBe(false);
    expect(r.response.status?.message).toContain('the rules document is empty');
  });

  it('a labelled ConfigMap without the rules.yaml key is denied as invalid (422)', () => {
    for (const data of [undefined, {}, { 'rules.yml': VALID }] as (Record<string, string> | undefined)[]) {
      const r = validate(configMapRequest(data), cluster());
      expect(r.response).toEqual({
        uid: UID,
        allowed: false,
        status: {
          code: 422,
          reason: 'Invalid',
          message: 'ConfigMap "placement-rules" is invalid: data[rules.yaml]: required value: the placement rules document',
          details: {
            kind: 'ConfigMap',
            name: 'placement-rules',
            causes: [{ reason: 'FieldValueRequired', field: 'data[rules.yaml]', message: 'required value: the placement rules document' }],
          },
        },
      });
    }
  });

  it.each<{ name: string; labels: Record<string, string> }>([
    { name: 'no labels', labels: {} },
    { name: 'the label set to false', labels: { 'placement-webhook/rules': 'false' } },
    { name: 'another label', labels: { app: 'placement-webhook' } },
  ])('a ConfigMap with $name is allowed whatever it holds', ({ labels }) => {
    const r = validate(configMapRequest({ 'rules.yaml': 'not: [valid' }, labels), cluster());
    expect(r.response).toEqual(allowedPlain);
    expect(r.record).toEqual({ decision: 'skipped', reason: 'not a rules ConfigMap' });
  });

  it('DELETE of the rules ConfigMap is allowed', () => {
    const r = validate(configMapRequest({ 'rules.yaml': 'not: [valid' }, undefined, 'DELETE'), cluster());
    expect(r.response).toEqual(allowedPlain);
  });

  it('is checked whatever the validation mode', () => {
    const r = validate(configMapRequest({ 'rules.yaml': doc('  - name: Bad_Name\n    inject: {nodeSelector: {a: b}}\n') }), cluster(mode('off')));
    expect(r.response.allowed).toBe(false);
  });
});

// ---- the response contract -----------------------------------------------------------------------------------------

describe('every response', () => {
  it.each<{ name: string; request: AdmissionRequest; ctx: AdmissionContext }>([
    { name: 'an allowed pod', request: podRequest(feasible().obj()), ctx: cluster() },
    { name: 'a denied pod', request: podRequest(infeasible().obj()), ctx: cluster() },
    { name: 'a warned pod', request: podRequest(infeasible().obj()), ctx: cluster(mode('warn')) },
    { name: 'a skipped pod', request: podRequest(infeasible().obj(), { operation: 'UPDATE' }), ctx: cluster() },
    { name: 'a pod without nodes to judge by', request: podRequest(infeasible().obj()), ctx: new StaticCluster(ENFORCE, undefined) },
    { name: 'a denied Deployment', request: workloadRequest('Deployment', template(infeasible())), ctx: cluster() },
    { name: 'a warned DaemonSet', request: workloadRequest('DaemonSet', template(infeasible())), ctx: cluster() },
    { name: 'a denied rules ConfigMap', request: configMapRequest({}), ctx: cluster() },
    {
      name: 'an allowed rules ConfigMap',
      request: configMapRequest({ 'rules.yaml': 'apiVersion: placement-webhook/v1\nkind: PlacementRules\nrules: []\n' }),
      ctx: cluster(),
    },
  ])('carries the request uid and no patch: $name', ({ request, ctx }) => {
    for (const uid of [UID, 'another-uid']) {
      const r = validate({ ...request, uid }, ctx);
      expect(r.response.uid).toBe(uid);
    }
  });
});

describe('messageAsWarnings', () => {
  it('splits the head and each reason onto its own line, prefixing only the head', () => {
    expect(messageAsWarnings('Job x: ', '0/12 nodes are available: 10 node(s) were unschedulable, 2 Insufficient cpu.')).toEqual([
      'Job x: 0/12 nodes are available:',
      '  10 node(s) were unschedulable',
      '  2 Insufficient cpu',
    ]);
  });

  it('keeps a message of another shape on one line, whole (the response cuts it, see below)', () => {
    expect(messageAsWarnings('', 'something else')).toEqual(['something else']);
    const long = messageAsWarnings('p: ', 'x'.repeat(300));
    expect(long).toHaveLength(1);
    expect(long[0]).toHaveLength(303);
  });
});

// ---- would it be scheduled now -------------------------------------------------------------------------------------

describe('would the scheduler bind it now (the pod cache)', () => {
  const HOST = 'kubernetes.io/hostname';
  const webAnti = () =>
    makePod('web-9')
      .ns('shop')
      .label('app', 'web')
      .spec({
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: HOST }],
          },
        },
      });
  const replica = (name: string, nodeName: string, priority = 0) => makePod(name).ns('shop').label('app', 'web').spec({ nodeName, priority }).obj();
  /** The fixture's nodes, each holding one web replica; the GPU node is tainted, so two plain nodes are candidates. */
  const withPods = (rules: RuleSet, pods: V1Pod[], incomplete?: string): AdmissionContext => {
    const base = cluster(rules);
    const index = new PodIndex();
    const reader = new PodReader();
    for (const p of pods) {
      const r = reader.read(p);
      if (r) index.upsert(r);
    }
    return {
      rules: () => rules,
      namespaceLabels: (n) => base.namespaceLabels(n),
      nodes: () => base.nodes(),
      pods: () => ({ index, namespaceLabels: () => ({}), incomplete }),
    };
  };
  const FULL = [replica('web-1', 'n1'), replica('web-2', 'n2'), replica('web-3', 'gpu-1')];
  const PENDING = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match pod anti-affinity rules.";
  const pending = (m: 'warn' | 'deny' | 'off', mode: 'enforce' | 'warn' = 'enforce') => ruleSet([], { validation: { mode, pending: m } });

  it('a pod that can run but is kept off every node by pods already there is allowed with the scheduler message', () => {
    const r = validate(podRequest(webAnti().obj()), withPods(pending('warn'), FULL));
    expect(r.response.allowed).toBe(true);
    expect(r.response.warnings).toEqual([
      'will stay Pending: 0/3 nodes are available:',
      '  1 node(s) had untolerated taint {dedicated: gpu}',
      "  2 node(s) didn't match pod anti-affinity rules",
    ]);
    expect(r.record).toMatchObject({ decision: 'allowed', verdict: 'pending', reason: PENDING });
  });

  it('with room on one node it is allowed without remark', () => {
    const r = validate(podRequest(webAnti().obj()), withPods(pending('warn'), FULL.slice(1)));
    expect(r.response).toEqual(allowedPlain);
    expect(r.record.verdict).toBe('fits');
  });

  it('pending: deny refuses it in mode enforce', () => {
    expect(validate(podRequest(webAnti().obj()), withPods(pending('deny'), FULL)).response).toEqual(deniedWith(`will stay Pending: ${PENDING}`));
  });

  it('pending: deny only warns in mode warn, and never while the pod cache is not synced', () => {
    expect(validate(podRequest(webAnti().obj()), withPods(pending('deny', 'warn'), FULL)).response.allowed).toBe(true);
    const stale = validate(podRequest(webAnti().obj()), withPods(pending('deny'), FULL, 'the pod list has not been received yet'));
    expect(stale.response).toEqual(
      allowedWarning('placement-webhook: not checked whether it would be scheduled now: the pod list has not been received yet'),
    );
  });

  it('pending: off answers only "can it ever run"', () => {
    const r = validate(podRequest(webAnti().obj()), withPods(pending('off'), FULL));
    expect(r.response).toEqual(allowedPlain);
  });

  it('a pod of higher priority than the pods in its way may preempt them: said, and never denied', () => {
    const r = validate(podRequest(webAnti().spec({ priority: 1000 }).obj()), withPods(pending('deny'), FULL));
    expect(r.response.allowed).toBe(true);
    expect(r.response.warnings).toContain('  unless the scheduler preempts lower-priority pods: 2 node(s) could take it then');
  });

  it("a workload's template is judged the same way, as a pod of the namespace", () => {
    const r = validate(workloadRequest('Deployment', template(webAnti()), { replicas: 4 }), withPods(pending('warn'), FULL));
    expect(r.response.allowed).toBe(true);
    expect(r.response.warnings?.[0]).toBe('Deployment web: will stay Pending: 0/3 nodes are available:');
  });

  it('a pod bound to a node whose pods leave too little room: the kubelet would reject it now', () => {
    const big = makePod('big')
      .ns('shop')
      .container('c', { resources: { requests: { cpu: '3' } } })
      .spec({ nodeName: 'n1' })
      .obj();
    const busy = makePod('busy')
      .ns('shop')
      .container('c', { resources: { requests: { cpu: '2' } } })
      .spec({ nodeName: 'n1' })
      .obj();
    const r = validate(podRequest(big), withPods(pending('warn'), [busy]));
    expect(r.response.allowed).toBe(true);
    expect(r.response.warnings).toEqual(['the kubelet on n1 would reject this pod now: Insufficient cpu (the pod requests 3, 2 is free)']);
    expect(validate(podRequest(big), withPods(pending('deny'), [busy])).response.allowed).toBe(false);
  });
});

// ---- whole workloads -----------------------------------------------------------------------------------------------

describe('whole workloads', () => {
  const HOST = 'kubernetes.io/hostname';
  const three = () => [node('w1'), node('w2'), node('w3')];
  const selfAnti = () =>
    makePod('web')
      .label('app', 'web')
      .spec({
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: HOST }],
          },
        },
      });
  const withPods = (rules: RuleSet, nodes: NodeBuilder[], pods: V1Pod[] = []): AdmissionContext => {
    const base = cluster(rules, nodes);
    const index = new PodIndex();
    const reader = new PodReader();
    for (const p of pods) {
      const r = reader.read(p);
      if (r) index.upsert(r);
    }
    return {
      rules: () => rules,
      namespaceLabels: (n) => base.namespaceLabels(n),
      nodes: () => base.nodes(),
      pods: () => ({ index, namespaceLabels: () => ({}), incomplete: undefined }),
      // No PriorityClasses: every pod's priority is 0, so none can preempt another.
      priorityOf: () => 0,
    };
  };
  const deploy = (replicas: number, strategy?: object, over: WorkloadOptions = {}) => {
    const r = workloadRequest('Deployment', template(selfAnti()), { replicas, ...over });
    if (strategy) (r.object as { spec: Record<string, unknown> }).spec['strategy'] = strategy;
    return r;
  };
  const WARN = ruleSet([]);
  const DENY = ruleSet([], { validation: { pending: 'deny' } });

  it('5 replicas with required self anti-affinity on hostname over 3 nodes: 2 will stay Pending', () => {
    const r = validate(deploy(5, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }), withPods(WARN, three()));
    expect(r.response.allowed).toBe(true);
    expect(r.response.warnings).toEqual([
      'Deployment web: 5 replicas, but at most 3 can be placed: 2 will stay Pending',
      '  required anti-affinity on kubernetes.io/hostname; 3 nodes can run its pods',
    ]);
    expect(r.record).toMatchObject({ replicas: 5, placeableReplicas: 3 });
  });

  it('pending: deny refuses it', () => {
    const r = validate(deploy(5, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }), withPods(DENY, three()));
    expect(r.response.allowed).toBe(false);
    expect(r.response.status?.message).toContain('5 replicas, but at most 3 can be placed');
  });

  it('as many replicas as nodes with maxUnavailable 0: a rolling update can never progress, with the fix', () => {
    const r = validate(deploy(3, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }), withPods(WARN, three()));
    expect(r.response.warnings).toEqual([
      'Deployment web: a rolling update can never progress (maxSurge 1, maxUnavailable 0):',
      '  all 3 domain(s) of kubernetes.io/hostname its pods may use hold a replica: a new pod has nowhere to go',
      '  fix: set strategy.rollingUpdate.maxUnavailable: 1 (maxSurge: 0 only together with a maxUnavailable above 0)',
    ]);
  });

  it('the default strategy (25%) with 3 replicas rounds maxUnavailable down to 0: stuck too', () => {
    expect(validate(deploy(3), withPods(WARN, three())).warnings[0]).toContain('a rolling update can never progress');
  });

  it.each([
    { name: 'maxUnavailable 1', strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }, replicas: 3, nodes: 3 },
    { name: 'the default 25% of 4 replicas (maxUnavailable 1)', strategy: undefined, replicas: 4, nodes: 4 },
    {
      name: 'both zero (read as unavailable 1)',
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } },
      replicas: 3,
      nodes: 3,
    },
    { name: 'Recreate', strategy: { type: 'Recreate' }, replicas: 3, nodes: 3 },
    { name: 'fewer replicas than nodes', strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } }, replicas: 2, nodes: 3 },
  ])('a rollout that can progress is not warned about: $name', ({ strategy, replicas, nodes }) => {
    const r = validate(
      deploy(replicas, strategy),
      withPods(
        WARN,
        Array.from({ length: nodes }, (_, i) => node(`w${i}`)),
      ),
    );
    expect(r.warnings).toEqual([]);
  });

  it('a node template that fits lifts a hostname-keyed bound (each new node is a new domain)', () => {
    const rules = ruleSet([], { validation: { nodeTemplates: [{ name: 'more' }] } });
    const r = validate(deploy(5, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } }), withPods(rules, three()));
    expect(r.warnings).toEqual([]);
    expect(r.record.placeableReplicas).toBeUndefined();
  });

  it('a domain held by a pod of another workload that the term matches is closed to every replica', () => {
    const other = makePod('other').ns('shop').label('app', 'web').label('owner', 'other').spec({ nodeName: 'w1' }).obj();
    const r = validate(deploy(3, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }, { name: 'web' }), withPods(WARN, three(), [other]));
    // The workload's selector is app=web, which matches "other" too: it counts as one of its replicas.
    expect(r.record.placeableReplicas).toBe(3);
    const selectorOther = deploy(3, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    (selectorOther.object as { spec: { selector: unknown } }).spec.selector = { matchLabels: { app: 'web', owner: 'me' } };
    const r2 = validate(selectorOther, withPods(WARN, three(), [other]));
    expect(r2.record.placeableReplicas).toBe(2);
  });

  it('an eligible node without the topology key bounds nothing: anti-affinity never conflicts there', () => {
    const r = validate(
      deploy(5, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } }),
      withPods(WARN, [...three(), makeNode('no-hostname-label').allocatable({ cpu: '4', memory: '16Gi', pods: '110' })]),
    );
    expect(r.warnings).toEqual([]);
    expect(r.record.placeableReplicas).toBeUndefined();
  });

  it('a StatefulSet with OrderedReady: the pods after the first unplaceable ordinal are never created', () => {
    const r = validate(workloadRequest('StatefulSet', template(selfAnti()), { replicas: 5 }), withPods(WARN, three()));
    expect(r.warnings).toContain(
      '  its pods are created one by one (podManagementPolicy OrderedReady): web-3 will stay Pending, and those after it are never created',
    );
  });

  it('a spread with minDomains over fewer domains holds at most maxSkew per domain', () => {
    const pod = makePod('web')
      .label('app', 'web')
      .spec({
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', minDomains: 3, labelSelector: { matchLabels: { app: 'web' } } },
        ],
      });
    const r = validate(
      workloadRequest('Deployment', template(pod), { replicas: 4 }),
      withPods(WARN, [node('a').label('zone', 'a'), node('b').label('zone', 'b')]),
    );
    expect(r.warnings).toContain('  topology spread on zone with minDomains 3 over 2 domain(s), maxSkew 1');
    expect(r.warnings).toContain('Deployment web: 4 replicas, but at most 2 can be placed: 2 will stay Pending');
  });

  describe('kubectl scale (the scale subresource)', () => {
    const scaleRequest = (from: number, to: number): AdmissionRequest => ({
      uid: UID,
      kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      subResource: 'scale',
      name: 'web',
      namespace: 'shop',
      operation: 'UPDATE',
      object: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web', namespace: 'shop' }, spec: { replicas: to } },
      oldObject: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web', namespace: 'shop' }, spec: { replicas: from } },
    });
    const current = () => deploy(3, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }).object;

    it('scaling from 3 to 5 gets the workload answer, read from the workload', () => {
      const r = handleValidate(scaleRequest(3, 5), withPods(WARN, three()), { scaled: current() });
      expect(r.response.allowed).toBe(true);
      expect(r.warnings).toEqual([
        'Deployment web: 5 replicas, but at most 3 can be placed: 2 will stay Pending',
        '  required anti-affinity on kubernetes.io/hostname; 3 nodes can run its pods',
      ]);
    });

    it('pending: deny refuses the scale', () => {
      expect(handleValidate(scaleRequest(3, 5), withPods(DENY, three()), { scaled: current() }).response.allowed).toBe(false);
    });

    describe('with a replica on each of the 3 nodes', () => {
      const replicas = () => ['w1', 'w2', 'w3'].map((n, i) => makePod(`web-${i}`).ns('shop').label('app', 'web').spec({ nodeName: n }).obj());
      const NEXT_PENDING = ['Deployment web: will stay Pending: 0/3 nodes are available:', "  3 node(s) didn't match pod anti-affinity rules"];

      it('scaling up: the next replica would stay Pending now, and 2 of 5 always will', () => {
        const r = handleValidate(scaleRequest(3, 5), withPods(WARN, three(), replicas()), { scaled: current() });
        expect(r.warnings).toEqual([
          ...NEXT_PENDING,
          'Deployment web: 5 replicas, but at most 3 can be placed: 2 will stay Pending',
          '  required anti-affinity on kubernetes.io/hostname; 3 nodes can run its pods',
        ]);
        expect(r.record).toMatchObject({ schedulableNow: false, replicas: 5, placeableReplicas: 3 });
      });

      it('scaling down is never refused, even with pending: deny, and has no next replica to ask about', () => {
        const five = deploy(5, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } }).object;
        const r = handleValidate(scaleRequest(5, 4), withPods(DENY, three(), replicas()), { scaled: five });
        expect(r.response.allowed).toBe(true);
        expect(r.warnings).toEqual([
          'Deployment web: 4 replicas, but at most 3 can be placed: 1 will stay Pending',
          '  required anti-affinity on kubernetes.io/hostname; 3 nodes can run its pods',
        ]);
        expect(r.record.schedulableNow).toBeUndefined();
      });

      it('a new template with the same replicas is not refused for its own old replicas: its pods replace them', () => {
        const strategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } };
        const oldTemplate = template(selfAnti());
        const request = deploy(3, strategy, { operation: 'UPDATE', old: oldTemplate, oldReplicas: 3 });
        (
          (request.object as { spec: { template: V1PodTemplateSpec } }).spec.template.spec as { containers: { image?: string }[] }
        ).containers[0]!.image = 'registry.example/web:2';
        (request.oldObject as { spec: Record<string, unknown> }).spec['strategy'] = strategy;
        const r = validate(request, withPods(DENY, three(), replicas()));
        expect(r.response.allowed).toBe(true);
        expect(r.warnings).toEqual([]);
      });

      it('pending: deny refuses a scale-up by the next replica', () => {
        const r = handleValidate(scaleRequest(3, 4), withPods(DENY, three(), replicas()), { scaled: current() });
        expect(r.response.allowed).toBe(false);
        expect(r.response.status?.message).toBe(
          "Deployment web: will stay Pending: 0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. " +
            'Deployment web: 4 replicas, but at most 3 can be placed (required anti-affinity on kubernetes.io/hostname; 3 nodes can run its pods): 1 will stay Pending.',
        );
      });
    });

    it('a workload that could not be read: the scale is allowed unjudged', () => {
      const r = handleValidate(scaleRequest(3, 5), withPods(DENY, three()), {});
      expect(r.response).toEqual(allowedPlain);
      expect(r.record.decision).toBe('skipped');
    });

    it('a scale of an infeasible template is never refused as "can never run"', () => {
      const infeasibleDeployment = workloadRequest('Deployment', template(infeasible()), { replicas: 2 }).object;
      const r = handleValidate(scaleRequest(2, 4), cluster(ENFORCE), { scaled: infeasibleDeployment });
      expect(r.response.allowed).toBe(true);
    });
  });

  it('a ReplicaSet owned by a Deployment is not judged (its Deployment is)', () => {
    const request = workloadRequest('ReplicaSet', template(infeasible()));
    (request.object as { metadata: Record<string, unknown> }).metadata['ownerReferences'] = [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u', controller: true },
    ];
    const r = validate(request, cluster());
    expect(r.response).toEqual(allowedPlain);
    expect(r.record.reason).toBe('owned by a Deployment, which is judged instead');
  });
});
