import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';

import { makePod, ruleSet, type PodBuilder } from '../../test/support/builders.js';
import { APPLIED_RULES_ANNOTATION, mutatePod, type Mutation } from './apply.js';
import type { RuleSet } from './compile.js';
import type { Static } from '@sinclair/typebox';
import type { Inject, NodeSelectorTerm, OnConflict, Rule } from './schema.js';
import { isDaemonSetPod, MIRROR_POD_ANNOTATION, NAMESPACE_NAME_LABEL, withNameLabel } from './select.js';
import { deepFreeze } from '../util/json.js';

// ---- helpers -----------------------------------------------------------------------------------------------------

const asJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

interface Outcome {
  readonly original: V1Pod;
  readonly result: Mutation;
  readonly spec: V1PodSpec;
  readonly ops: Operation[];
}

/**
 * Mutates a deep-frozen copy of `pod` (so any edit of the input throws) in its namespace, whose labels are
 * `namespaceLabels` plus `kubernetes.io/metadata.name` as the handler passes them. Checks that the patch turns the
 * original into the mutated pod, and that a denied or skipped pod is returned unchanged.
 */
function mutate(pod: V1Pod, rs: RuleSet, namespaceLabels: Record<string, string> = {}): Outcome {
  const original = deepFreeze(structuredClone(pod));
  const namespace = original.metadata?.namespace ?? 'default';
  const result = mutatePod(original, rs, namespace, withNameLabel(namespace, namespaceLabels));
  const ops = fastJsonPatch.compare(original, result.pod);
  expect(fastJsonPatch.applyPatch(asJson(original), asJson(ops), true, false).newDocument).toStrictEqual(asJson(result.pod));
  if (result.denial !== undefined || result.skipped !== undefined) expect(result.pod).toBe(original);
  return { original, result, spec: result.pod.spec ?? { containers: [] }, ops };
}

const r = (name: string, inject: Inject, extra: Partial<Rule> = {}): Rule => ({ name, inject, ...extra });
const annotationOf = (pod: V1Pod) => pod.metadata?.annotations?.[APPLIED_RULES_ANNOTATION];
const requiredTermsOf = (spec: V1PodSpec) => spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
type RuleTerm = Static<typeof NodeSelectorTerm>;
const inTerm = (key: string, ...values: string[]): RuleTerm => ({ matchExpressions: [{ key, operator: 'In', values }] });
const requiredAffinity = (...nodeSelectorTerms: RuleTerm[]): Inject => ({
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } },
});

// ---- conflicts -------------------------------------------------------------------------------------------------

interface ConflictKind {
  readonly field: string;
  readonly pod: PodBuilder;
  readonly inject: Inject;
  /** The part of the spec the conflict is about. */
  readonly read: (spec: V1PodSpec) => unknown;
  readonly podValue: unknown;
  readonly ruleValue: unknown;
  readonly kept: string;
  readonly replaced: string;
  readonly denial: string;
}

const conflictKinds: ConflictKind[] = [
  {
    field: 'nodeSelector',
    pod: makePod().nodeSelector('zone', 'b'),
    inject: { nodeSelector: { zone: 'a' } },
    read: (s) => s.nodeSelector,
    podValue: { zone: 'b' },
    ruleValue: { zone: 'a' },
    kept: "rule r: kept the pod's nodeSelector zone=b (the rule sets zone=a)",
    replaced: "rule r: replaced the pod's nodeSelector zone=b with zone=a",
    denial: "rule r (onConflict: reject): the pod's nodeSelector has zone=b, the rule requires zone=a",
  },
  {
    field: 'topologySpreadConstraints',
    pod: makePod().spec({ topologySpreadConstraints: [{ maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }] }),
    inject: { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }] },
    read: (s) => s.topologySpreadConstraints,
    podValue: [{ maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }],
    ruleValue: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }],
    kept: "rule r: kept the pod's topologySpreadConstraint zone/DoNotSchedule maxSkew=2 (the rule sets maxSkew=1)",
    replaced: "rule r: replaced the pod's topologySpreadConstraint zone/DoNotSchedule maxSkew=2 with maxSkew=1",
    denial: "rule r (onConflict: reject): the pod's topologySpreadConstraint zone/DoNotSchedule has maxSkew=2, the rule requires maxSkew=1",
  },
  {
    field: 'env',
    pod: makePod().container('app', { env: [{ name: 'TOKEN', value: 'from-pod' }] }),
    inject: { env: [{ name: 'TOKEN', value: 'from-rule' }] },
    read: (s) => s.containers[0]?.env,
    podValue: [{ name: 'TOKEN', value: 'from-pod' }],
    ruleValue: [{ name: 'TOKEN', value: 'from-rule' }],
    kept: "rule r: kept the pod's env TOKEN in container app (the rule sets another value)",
    replaced: "rule r: replaced the pod's env TOKEN in container app",
    denial: "rule r (onConflict: reject): the pod's env TOKEN in container app differs",
  },
  {
    field: 'envFrom',
    pod: makePod()
      .initContainer('init', { envFrom: [{ secretRef: { name: 'creds' }, prefix: 'A_' }] })
      .container('app'),
    inject: { envFrom: [{ secretRef: { name: 'creds' } }] },
    read: (s) => s.initContainers?.[0]?.envFrom,
    podValue: [{ secretRef: { name: 'creds' }, prefix: 'A_' }],
    ruleValue: [{ secretRef: { name: 'creds' } }],
    kept: "rule r: kept the pod's envFrom secret:creds in initContainer init (the rule sets another value)",
    replaced: "rule r: replaced the pod's envFrom secret:creds in initContainer init",
    denial: "rule r (onConflict: reject): the pod's envFrom secret:creds in initContainer init differs",
  },
  {
    field: 'volumeMounts',
    pod: makePod().container('app', { volumeMounts: [{ name: 'scratch', mountPath: '/data' }] }),
    inject: { volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }] },
    read: (s) => s.containers[0]?.volumeMounts,
    podValue: [{ name: 'scratch', mountPath: '/data' }],
    ruleValue: [{ name: 'data', mountPath: '/data', readOnly: true }],
    kept: "rule r: kept the pod's volumeMount /data in container app (the rule sets another value)",
    replaced: "rule r: replaced the pod's volumeMount /data in container app",
    denial: "rule r (onConflict: reject): the pod's volumeMount /data in container app differs",
  },
  {
    field: 'volumes',
    pod: makePod().spec({ volumes: [{ name: 'data', emptyDir: {} }] }),
    inject: { volumes: [{ name: 'data', configMap: { name: 'data' } }] },
    read: (s) => s.volumes,
    podValue: [{ name: 'data', emptyDir: {} }],
    ruleValue: [{ name: 'data', configMap: { name: 'data' } }],
    kept: "rule r: kept the pod's volume data (the rule sets another value)",
    replaced: "rule r: replaced the pod's volume data",
    denial: "rule r (onConflict: reject): the pod's volume data differs",
  },
];

describe('mutatePod: conflicts', () => {
  const cases = conflictKinds.flatMap((k) =>
    (['keep', 'override', 'reject'] as const).map((onConflict: OnConflict) => ({
      name: `${k.field} conflict under onConflict ${onConflict}`,
      kind: k,
      onConflict,
    })),
  );

  it.each(cases)('$name', ({ kind, onConflict }) => {
    const { result, spec } = mutate(kind.pod.obj(), ruleSet([r('r', kind.inject, { onConflict })]));
    switch (onConflict) {
      case 'keep':
        expect(kind.read(spec)).toStrictEqual(kind.podValue);
        expect(result.warnings).toStrictEqual([kind.kept]);
        expect(result.denial).toBeUndefined();
        expect(annotationOf(result.pod)).toBe('r');
        break;
      case 'override':
        expect(kind.read(spec)).toStrictEqual(kind.ruleValue);
        expect(result.warnings).toStrictEqual([kind.replaced]);
        expect(result.denial).toBeUndefined();
        break;
      case 'reject':
        expect(result.denial).toBe(kind.denial);
        expect(result.appliedRules).toStrictEqual([]);
        break;
    }
  });

  it('a conflict under keep does not stop the other fields of the rule being applied', () => {
    const { result, spec } = mutate(
      makePod().nodeSelector('zone', 'b').obj(),
      ruleSet([r('r', { nodeSelector: { zone: 'a', disk: 'ssd' }, tolerations: [{ key: 'spot', operator: 'Exists' }] })]),
    );
    expect(spec.nodeSelector).toStrictEqual({ zone: 'b', disk: 'ssd' });
    expect(spec.tolerations).toStrictEqual([{ key: 'spot', operator: 'Exists' }]);
    expect(result.warnings).toHaveLength(1);
  });

  it('a reject lists every conflict of the rule, and nothing of the rule is applied', () => {
    const { result, ops } = mutate(
      makePod().nodeSelector('zone', 'b').nodeSelector('disk', 'hdd').obj(),
      ruleSet([r('strict', { nodeSelector: { zone: 'a', disk: 'ssd', gpu: 'none' } }, { onConflict: 'reject' })]),
    );
    expect(result.denial).toBe(
      "rule strict (onConflict: reject): the pod's nodeSelector has zone=b, the rule requires zone=a; nodeSelector has disk=hdd, the rule requires disk=ssd",
    );
    expect(ops).toStrictEqual([]);
  });

  it('an env conflict in several containers is reported once per container, values never shown', () => {
    const { result } = mutate(
      makePod()
        .initContainer('init', { env: [{ name: 'TOKEN', value: 'secret-1' }] })
        .container('app', { env: [{ name: 'TOKEN', value: 'secret-2' }] })
        .obj(),
      ruleSet([r('r', { env: [{ name: 'TOKEN', value: 'secret-3' }] })]),
    );
    expect(result.warnings).toStrictEqual([
      "rule r: kept the pod's env TOKEN in initContainer init (the rule sets another value)",
      "rule r: kept the pod's env TOKEN in container app (the rule sets another value)",
    ]);
    expect(result.warnings.join(' ')).not.toMatch(/secret-/);
  });

  it('identical values are no conflict under any onConflict', () => {
    const pod = makePod()
      .nodeSelector('zone', 'a')
      .container('app', { env: [{ name: 'A', value: '1' }], volumeMounts: [{ name: 'v', mountPath: '/v' }] })
      .spec({ volumes: [{ name: 'v', emptyDir: {} }] })
      .obj();
    const inject: Inject = {
      nodeSelector: { zone: 'a' },
      env: [{ name: 'A', value: '1' }],
      volumeMounts: [{ name: 'v', mountPath: '/v' }],
      volumes: [{ name: 'v', emptyDir: {} }],
    };
    const { result, ops } = mutate(pod, ruleSet([r('r', inject, { onConflict: 'reject' })]));
    expect(result.denial).toBeUndefined();
    expect(result.warnings).toStrictEqual([]);
    expect(ops).toStrictEqual([{ op: 'add', path: '/metadata/annotations', value: { [APPLIED_RULES_ANNOTATION]: 'r' } }]);
  });
});

// ---- several rules ----------------------------------------------------------------------------------------------

describe('mutatePod: rules apply in document order, each on the previous result', () => {
  it('a later reject rule sees the value an earlier rule set, and denies naming itself and the key', () => {
    const { result } = mutate(
      makePod().obj(),
      ruleSet([r('zone-a', { nodeSelector: { zone: 'a' } }), r('zone-b', { nodeSelector: { zone: 'b' } }, { onConflict: 'reject' })]),
    );
    expect(result.denial).toBe("rule zone-b (onConflict: reject): the pod's nodeSelector has zone=a, the rule requires zone=b");
  });

  it('contradicting nodeSelectors under keep: the first rule wins and the second warns', () => {
    const { result, spec } = mutate(
      makePod().obj(),
      ruleSet([r('zone-a', { nodeSelector: { zone: 'a' } }), r('zone-b', { nodeSelector: { zone: 'b' } })]),
    );
    expect(spec.nodeSelector).toStrictEqual({ zone: 'a' });
    expect(result.warnings).toStrictEqual(["rule zone-b: kept the pod's nodeSelector zone=a (the rule sets zone=b)"]);
    expect(result.appliedRules).toStrictEqual(['zone-a', 'zone-b']);
  });

  it('contradicting nodeSelectors under override: the last rule wins and warns', () => {
    const { result, spec } = mutate(
      makePod().obj(),
      ruleSet([r('zone-a', { nodeSelector: { zone: 'a' } }), r('zone-b', { nodeSelector: { zone: 'b' } }, { onConflict: 'override' })]),
    );
    expect(spec.nodeSelector).toStrictEqual({ zone: 'b' });
    expect(result.warnings).toStrictEqual(["rule zone-b: replaced the pod's nodeSelector zone=a with zone=b"]);
  });

  it('required node affinity of two rules is ANDed into one term', () => {
    const { spec } = mutate(
      makePod().obj(),
      ruleSet([r('zone', requiredAffinity(inTerm('zone', 'a', 'b'))), r('disk', requiredAffinity(inTerm('disk', 'ssd')))]),
    );
    expect(requiredTermsOf(spec)).toStrictEqual([
      {
        matchExpressions: [
          { key: 'zone', operator: 'In', values: ['a', 'b'] },
          { key: 'disk', operator: 'In', values: ['ssd'] },
        ],
      },
    ]);
  });

  it('a second rule whose terms the first already set changes nothing more', () => {
    const { spec } = mutate(
      makePod()
        .requiredTerms([inTerm('gpu', 'a100')])
        .obj(),
      ruleSet([r('one', requiredAffinity(inTerm('zone', 'a'))), r('two', requiredAffinity(inTerm('zone', 'a')))]),
    );
    expect(requiredTermsOf(spec)).toStrictEqual([
      {
        matchExpressions: [
          { key: 'gpu', operator: 'In', values: ['a100'] },
          { key: 'zone', operator: 'In', values: ['a'] },
        ],
      },
    ]);
  });

  it('the same toleration from two rules, written differently, is added once', () => {
    const { spec } = mutate(
      makePod().obj(),
      ruleSet([
        r('one', { tolerations: [{ key: 'spot', operator: 'Equal', value: 'true', effect: 'NoSchedule' }] }),
        r('two', { tolerations: [{ key: 'spot', value: 'true', effect: 'NoSchedule' }] }),
      ]),
    );
    expect(spec.tolerations).toStrictEqual([{ key: 'spot', operator: 'Equal', value: 'true', effect: 'NoSchedule' }]);
  });

  it('two rules setting one env var differently: the first wins under keep, per container', () => {
    const { spec, result } = mutate(
      makePod().container('a').container('b').obj(),
      ruleSet([r('one', { env: [{ name: 'X', value: '1' }] }), r('two', { env: [{ name: 'X', value: '2' }] })]),
    );
    expect(spec.containers.map((c) => c.env)).toStrictEqual([[{ name: 'X', value: '1' }], [{ name: 'X', value: '1' }]]);
    expect(result.warnings).toHaveLength(2);
  });

  it('a rule that does not match is not applied and not recorded', () => {
    const { spec, result } = mutate(
      makePod().label('app', 'web').obj(),
      ruleSet([
        r('web', { nodeSelector: { tier: 'web' } }, { match: { podSelector: { matchLabels: { app: 'web' } } } }),
        r('db', { nodeSelector: { tier: 'db' } }, { match: { podSelector: { matchLabels: { app: 'db' } } } }),
      ]),
    );
    expect(spec.nodeSelector).toStrictEqual({ tier: 'web' });
    expect(result.appliedRules).toStrictEqual(['web']);
  });
});

// ---- pods left alone --------------------------------------------------------------------------------------------

describe('mutatePod: pods left alone', () => {
  const spot = r('spot', { nodeSelector: { lifecycle: 'spot' } });

  it.each<{ name: string; pod: V1Pod; rules: Rule[]; settings?: Parameters<typeof ruleSet>[1]; skipped: string }>([
    {
      name: 'a pod in kube-system (excluded by default)',
      pod: makePod().ns('kube-system').obj(),
      rules: [spot],
      skipped: 'namespace kube-system is excluded',
    },
    {
      name: 'a pod in kube-node-lease (excluded by default)',
      pod: makePod().ns('kube-node-lease').obj(),
      rules: [spot],
      skipped: 'namespace kube-node-lease is excluded',
    },
    {
      name: 'a pod in a namespace excluded by the settings',
      pod: makePod().ns('platform').obj(),
      rules: [spot],
      settings: { excludedNamespaces: ['platform'] },
      skipped: 'namespace platform is excluded',
    },
    {
      name: 'a mirror pod',
      pod: makePod().annotation(MIRROR_POD_ANNOTATION, 'abc123').obj(),
      rules: [spot],
      skipped: 'mirror pod (managed by a kubelet)',
    },
    {
      name: 'a pod already bound to a node (the kubelet would reject injected placement its node does not match)',
      pod: makePod().spec({ nodeName: 'node-1' }).obj(),
      rules: [spot],
      skipped: 'already bound to node node-1',
    },
    {
      name: 'a mirror pod even when a rule includes DaemonSet pods',
      pod: makePod().annotation(MIRROR_POD_ANNOTATION, '').ownedBy('Node', 'n1').obj(),
      rules: [r('all', { nodeSelector: { a: 'b' } }, { match: { includeDaemonSetPods: true } })],
      skipped: 'mirror pod (managed by a kubelet)',
    },
  ])('$name is skipped unchanged', ({ pod, rules, settings, skipped }) => {
    const { result, ops } = mutate(pod, ruleSet(rules, settings));
    expect(result.skipped).toBe(skipped);
    expect(ops).toStrictEqual([]);
  });

  it('a pod without spec is skipped', () => {
    const { result } = mutate({ metadata: { name: 'p', namespace: 'default' } }, ruleSet([spot]));
    expect(result.skipped).toBe('the pod has no spec');
  });

  it('with explicit settings, kube-system is no longer excluded by default', () => {
    const { result } = mutate(makePod().ns('kube-system').obj(), ruleSet([spot], { excludedNamespaces: ['platform'] }));
    expect(result.skipped).toBeUndefined();
    expect(result.appliedRules).toStrictEqual(['spot']);
  });

  it.each<{ name: string; pod: V1Pod; rules: Rule[]; applied: string[] }>([
    { name: 'a DaemonSet pod gets no rule that does not opt in', pod: makePod().ownedBy('DaemonSet', 'agent').obj(), rules: [spot], applied: [] },
    {
      name: 'a DaemonSet pod gets the rules that opt in with includeDaemonSetPods, and only those',
      pod: makePod().ownedBy('DaemonSet', 'agent').obj(),
      rules: [spot, r('ds', { tolerations: [{ operator: 'Exists' }] }, { match: { includeDaemonSetPods: true } })],
      applied: ['ds'],
    },
    {
      name: 'a pod of an extensions/v1beta1 DaemonSet is a DaemonSet pod',
      pod: makePod().ownedBy('DaemonSet', 'agent', 'extensions/v1beta1').obj(),
      rules: [spot],
      applied: [],
    },
    { name: 'a ReplicaSet pod gets the rules', pod: makePod().ownedBy('ReplicaSet', 'web-abc').obj(), rules: [spot], applied: ['spot'] },
    {
      name: 'an owner of kind DaemonSet from another API group is not a DaemonSet',
      pod: makePod().ownedBy('DaemonSet', 'x', 'example.com/v1').obj(),
      rules: [spot],
      applied: ['spot'],
    },
  ])('$name', ({ pod, rules, applied }) => {
    const { result, ops, original } = mutate(pod, ruleSet(rules));
    expect(result.appliedRules).toStrictEqual(applied);
    expect(result.skipped).toBeUndefined();
    if (applied.length === 0) {
      expect(ops).toStrictEqual([]);
      expect(result.pod).toBe(original);
    }
  });

  it('an ownerReference without apiVersion (mutation runs before validation) does not throw', () => {
    const pod = makePod().obj();
    pod.metadata = { ...pod.metadata, ownerReferences: [{ kind: 'DaemonSet', name: 'x', uid: 'u' } as never] };
    expect(isDaemonSetPod(pod)).toBe(false);
    expect(mutate(pod, ruleSet([spot])).result.appliedRules).toStrictEqual(['spot']);
  });

  it('a pod no rule matches is returned as it was, without the annotation', () => {
    const { result, ops, original } = mutate(makePod().obj(), ruleSet([r('x', { nodeSelector: { a: 'b' } }, { match: { namespaces: ['other'] } })]));
    expect(result.pod).toBe(original);
    expect(result.appliedRules).toStrictEqual([]);
    expect(ops).toStrictEqual([]);
  });
});

// ---- namespaces -----------------------------------------------------------------------------------------------------

describe('mutatePod: namespace matching', () => {
  const byName = (operator: 'In' | 'NotIn') =>
    ruleSet([
      r(
        'streaming',
        { nodeSelector: { pool: 'media' } },
        {
          match: { namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator, values: ['streaming'] }] } },
        },
      ),
    ]);

  it.each<{ name: string; rs: RuleSet; namespace: string; labels: Record<string, string>; applied: string[] }>([
    {
      name: 'kubernetes.io/metadata.name In matches the named namespace',
      rs: byName('In'),
      namespace: 'streaming',
      labels: {},
      applied: ['streaming'],
    },
    { name: 'kubernetes.io/metadata.name In does not match another namespace', rs: byName('In'), namespace: 'batch', labels: {}, applied: [] },
    { name: 'kubernetes.io/metadata.name NotIn skips the named namespace', rs: byName('NotIn'), namespace: 'streaming', labels: {}, applied: [] },
    {
      name: 'a forged kubernetes.io/metadata.name label cannot make another namespace match',
      rs: byName('In'),
      namespace: 'batch',
      labels: { [NAMESPACE_NAME_LABEL]: 'streaming' },
      applied: [],
    },
    {
      name: 'a namespaceSelector on a team label matches a namespace carrying it',
      rs: ruleSet([r('media', { nodeSelector: { pool: 'media' } }, { match: { namespaceSelector: { matchLabels: { team: 'media' } } } })]),
      namespace: 'streaming',
      labels: { team: 'media' },
      applied: ['media'],
    },
    {
      name: 'a namespaceSelector on a team label does not match a namespace without it',
      rs: ruleSet([r('media', { nodeSelector: { pool: 'media' } }, { match: { namespaceSelector: { matchLabels: { team: 'media' } } } })]),
      namespace: 'streaming',
      labels: { team: 'search' },
      applied: [],
    },
    {
      name: 'namespaces, namespaceSelector and podSelector must all hold',
      rs: ruleSet([
        r(
          'all',
          { nodeSelector: { pool: 'media' } },
          {
            match: { namespaces: ['streaming'], namespaceSelector: { matchLabels: { team: 'media' } }, podSelector: { matchLabels: { app: 'x' } } },
          },
        ),
      ]),
      namespace: 'streaming',
      labels: { team: 'media' },
      applied: ['all'],
    },
  ])('$name', ({ rs, namespace, labels, applied }) => {
    const { result } = mutate(makePod().ns(namespace).label('app', 'x').obj(), rs, labels);
    expect(result.appliedRules).toStrictEqual(applied);
  });

  it('withNameLabel adds the name label over any other value', () => {
    expect(withNameLabel('a', { team: 't', [NAMESPACE_NAME_LABEL]: 'b' })).toStrictEqual({ team: 't', [NAMESPACE_NAME_LABEL]: 'a' });
    expect(withNameLabel('a', undefined)).toStrictEqual({ [NAMESPACE_NAME_LABEL]: 'a' });
  });
});

// ---- the cross-product guard ---------------------------------------------------------------------------------------

describe('mutatePod: the node-affinity term limit', () => {
  const podTerms = (n: number) => Array.from({ length: n }, (_, i) => inTerm('rack', `r${i}`));
  const ruleTerms = (n: number) => Array.from({ length: n }, (_, i) => inTerm('zone', `z${i}`));

  it('a pod with 9 terms and a rule with 8 (72 combined) is denied with a clear message', () => {
    const { result, ops } = mutate(makePod().requiredTerms(podTerms(9)).obj(), ruleSet([r('zones', requiredAffinity(...ruleTerms(8)))]));
    expect(result.denial).toBe(
      "rule zones cannot be applied: combining the pod's 9 required node-affinity terms with the rule's 8 gives more than 64 terms, the limit",
    );
    expect(ops).toStrictEqual([]);
  });

  it('the limit applies whatever onConflict says', () => {
    const { result } = mutate(
      makePod().requiredTerms(podTerms(9)).obj(),
      ruleSet([r('zones', requiredAffinity(...ruleTerms(8)), { onConflict: 'override' })]),
    );
    expect(result.denial).toMatch(/^rule zones cannot be applied: /);
  });

  it('a pod with 8 terms and a rule with 8 gives exactly 64 terms and is allowed', () => {
    const { result, spec } = mutate(makePod().requiredTerms(podTerms(8)).obj(), ruleSet([r('zones', requiredAffinity(...ruleTerms(8)))]));
    expect(result.denial).toBeUndefined();
    expect(requiredTermsOf(spec)).toHaveLength(64);
  });

  it('a second rule that pushes the combination over the limit is the one named', () => {
    const { result } = mutate(
      makePod().requiredTerms(podTerms(4)).obj(),
      ruleSet([
        r('first', requiredAffinity(...ruleTerms(4))),
        r('second', requiredAffinity(inTerm('a', '1'), inTerm('b', '1'), inTerm('c', '1'), inTerm('d', '1'), inTerm('e', '1'))),
      ]),
    );
    expect(result.denial).toBe(
      "rule second cannot be applied: combining the pod's 16 required node-affinity terms with the rule's 5 gives more than 64 terms, the limit",
    );
  });
});

// ---- the applied-rules annotation -----------------------------------------------------------------------------------

describe('mutatePod: the applied-rules annotation', () => {
  const abc = ruleSet([
    r('c-first', { nodeSelector: { c: '1' } }),
    r('a-second', { nodeSelector: { a: '1' } }, { match: { podSelector: { matchLabels: { a: 'yes' } } } }),
    r('b-third', { nodeSelector: { b: '1' } }),
  ]);

  it.each<{ name: string; pod: PodBuilder; want: string; ops?: Operation[] }>([
    {
      name: 'names the matching rules in document order, not alphabetically',
      pod: makePod().label('a', 'yes'),
      want: 'c-first,a-second,b-third',
    },
    { name: 'leaves out rules that did not match', pod: makePod(), want: 'c-first,b-third' },
    {
      name: 'merges with a previous value in document order (a reinvocation after a label change)',
      pod: makePod().annotation(APPLIED_RULES_ANNOTATION, 'a-second'),
      want: 'c-first,a-second,b-third',
    },
    {
      name: 'keeps names no longer in the rules after the known ones',
      pod: makePod().annotation(APPLIED_RULES_ANNOTATION, 'retired,b-third'),
      want: 'c-first,b-third,retired',
    },
    {
      name: 'normalises spaces and empty entries of a previous value',
      pod: makePod().annotation(APPLIED_RULES_ANNOTATION, ' b-third, ,c-first '),
      want: 'c-first,b-third',
    },
    {
      name: 'is added with its map when the pod has no annotations',
      pod: makePod(),
      want: 'c-first,b-third',
      ops: [
        { op: 'add', path: '/spec/nodeSelector', value: { c: '1', b: '1' } },
        { op: 'add', path: '/metadata/annotations', value: { [APPLIED_RULES_ANNOTATION]: 'c-first,b-third' } },
      ],
    },
    {
      name: 'is added beside other annotations, its / escaped as ~1',
      pod: makePod().annotation('team', 'x').nodeSelector('c', '1').nodeSelector('b', '1'),
      want: 'c-first,b-third',
      ops: [{ op: 'add', path: '/metadata/annotations/placement-webhook~1applied-rules', value: 'c-first,b-third' }],
    },
    {
      name: 'is replaced in place when it changes',
      pod: makePod().annotation(APPLIED_RULES_ANNOTATION, 'c-first').nodeSelector('c', '1').nodeSelector('b', '1'),
      want: 'c-first,b-third',
      ops: [{ op: 'replace', path: '/metadata/annotations/placement-webhook~1applied-rules', value: 'c-first,b-third' }],
    },
    {
      name: 'is not touched when already right',
      pod: makePod().annotation(APPLIED_RULES_ANNOTATION, 'c-first,b-third').nodeSelector('c', '1').nodeSelector('b', '1'),
      want: 'c-first,b-third',
      ops: [],
    },
  ])('$name', ({ pod, want, ops }) => {
    const got = mutate(pod.obj(), abc);
    expect(annotationOf(got.result.pod)).toBe(want);
    if (ops !== undefined) expect(got.ops).toStrictEqual(ops);
  });

  it('replaces annotations: null with a map', () => {
    const pod = makePod().obj();
    pod.metadata = { ...pod.metadata, annotations: null as never };
    const got = mutate(pod, ruleSet([r('x', {})]));
    expect(got.ops).toStrictEqual([{ op: 'replace', path: '/metadata/annotations', value: { [APPLIED_RULES_ANNOTATION]: 'x' } }]);
  });

  it('is added to a pod without metadata', () => {
    const got = mutate({ spec: { containers: [{ name: 'app' }] } }, ruleSet([r('x', { nodeSelector: { a: 'b' } })]));
    expect(got.result.pod.metadata).toStrictEqual({ annotations: { [APPLIED_RULES_ANNOTATION]: 'x' } });
  });

  it('a matching rule that injects nothing still records itself', () => {
    const got = mutate(makePod().obj(), ruleSet([r('audit', {})]));
    expect(got.ops).toStrictEqual([{ op: 'add', path: '/metadata/annotations', value: { [APPLIED_RULES_ANNOTATION]: 'audit' } }]);
  });
});

// ---- the input pod and idempotence -------------------------------------------------------------------------------

describe('mutatePod: the input and a second pass', () => {
  const everything = ruleSet([
    r('placement', {
      nodeSelector: { 'node.kubernetes.io/lifecycle': 'spot' },
      tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }],
      ...requiredAffinity(inTerm('zone', 'a', 'b'), inTerm('zone', 'c')),
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    }),
    r('runtime', {
      affinity: {
        nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: inTerm('disk', 'ssd') }] },
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }] },
      },
      env: [{ name: 'REGION', value: 'eu' }],
      envFrom: [{ configMapRef: { name: 'defaults' } }],
      volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
      volumes: [{ name: 'cache', emptyDir: {} }],
    }),
  ]);
  const rich = () =>
    makePod('rich')
      .ns('streaming')
      .label('app', 'web')
      .annotation('team', 'media')
      .nodeSelector('a~b/c', 'x')
      .toleration({ key: 'gpu', operator: 'Exists' })
      .requiredTerms([inTerm('gpu', 'a100'), { matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['3'] }] }])
      .initContainer('init', { env: [{ name: 'A', value: '1' }] })
      .container('app', { volumeMounts: [{ name: 'data', mountPath: '/data' }] })
      .container('sidecar')
      .spec({ volumes: [{ name: 'data', emptyDir: {} }] });

  it('never modifies the input pod (it is frozen) and returns a different object when it mutates', () => {
    const { result, original } = mutate(rich().obj(), everything);
    expect(result.denial).toBeUndefined();
    expect(result.pod).not.toBe(original);
    expect(original).toStrictEqual(rich().obj());
  });

  it('applies everything in one pass and nothing in the second', () => {
    const first = mutate(rich().obj(), everything);
    expect(requiredTermsOf(first.spec)).toHaveLength(4);
    expect(first.spec.containers.map((c) => c.env)).toStrictEqual([[{ name: 'REGION', value: 'eu' }], [{ name: 'REGION', value: 'eu' }]]);
    const second = mutate(first.result.pod, everything);
    expect(second.ops).toStrictEqual([]);
    expect(second.result.pod).toStrictEqual(first.result.pod);
    expect(second.result.warnings).toStrictEqual([]);
  });

  it('the whole patch of a pod with nothing set applies to the JSON the API server sent', () => {
    const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: 'default' }, spec: { containers: [{ name: 'app' }] } };
    const { ops } = mutate(pod, everything);
    // Existing objects are diffed first (the container), then the fields they lacked are added whole.
    expect(ops.map((o) => `${o.op} ${o.path}`)).toStrictEqual([
      'add /spec/containers/0/env',
      'add /spec/containers/0/envFrom',
      'add /spec/containers/0/volumeMounts',
      'add /spec/nodeSelector',
      'add /spec/affinity',
      'add /spec/tolerations',
      'add /spec/topologySpreadConstraints',
      'add /spec/volumes',
      'add /metadata/annotations',
    ]);
  });
});
