/**
 * settings.compat through the webhook's handlers (in process, a StaticCluster): the plugins' mutation before the
 * rules, refusals, the final pod checked (the rules' injections included), UPDATE, unknown namespaces; and the rules'
 * `onConflict: skip` and `match.podAnnotationSelector`.
 */
import type { V1Namespace, V1Pod, V1Toleration } from '@kubernetes/client-node';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { makeNode, makePod, ruleSet } from '../../test/support/builders.js';
import { handleMutate } from '../admission/mutate.js';
import type { AdmissionRequest } from '../admission/types.js';
import { handleValidate } from '../admission/validate.js';
import { StaticCluster } from '../cluster/static.js';
import { mutatePod } from '../rules/apply.js';
import type { Rule, Settings } from '../rules/schema.js';
import { withNameLabel } from '../rules/select.js';
import { NODE_SELECTOR_ANNOTATION } from './pod-node-selector.js';
import { DEFAULT_TOLERATIONS_ANNOTATION, MEMORY_PRESSURE_TOLERATION, TOLERATIONS_WHITELIST_ANNOTATION } from './pod-toleration-restriction.js';

const namespace = (name: string, annotations: Record<string, string> = {}): V1Namespace => ({ metadata: { name, annotations } });

const NAMESPACES = [
  namespace('web', {
    [NODE_SELECTOR_ANNOTATION]: 'env=prod',
    [DEFAULT_TOLERATIONS_ANNOTATION]: JSON.stringify([{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }]),
    [TOLERATIONS_WHITELIST_ANNOTATION]: JSON.stringify([{ key: 'dedicated', operator: 'Exists' }, MEMORY_PRESSURE_TOLERATION]),
  }),
  namespace('open', { [NODE_SELECTOR_ANNOTATION]: '' }),
  namespace('plain'),
];

const COMPAT: Settings = {
  compat: { podNodeSelector: { clusterDefaultNodeSelector: 'env=dev', web: 'env=prod,zone=a' }, podTolerationRestriction: true },
};

const cluster = (rules: Rule[] = [], settings: Settings = COMPAT) =>
  new StaticCluster(ruleSet(rules, settings), [makeNode('n1').label('env', 'prod').label('env2', 'x').v1()], NAMESPACES);

const request = (pod: V1Pod, operation: 'CREATE' | 'UPDATE' = 'CREATE', oldObject?: V1Pod): AdmissionRequest => ({
  uid: 'u1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  namespace: pod.metadata?.namespace ?? 'default',
  operation,
  object: pod,
  ...(oldObject ? { oldObject } : {}),
});

/** The pod after /mutate (its patch applied), or the denial message. */
function mutated(pod: V1Pod, ctx: StaticCluster): V1Pod | string {
  const r = handleMutate(request(pod), ctx).response;
  if (!r.allowed) return r.status?.message ?? 'denied';
  const ops = r.patch ? (JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as fastJsonPatch.Operation[]) : [];
  return fastJsonPatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
}

const burstable = { resources: { requests: { cpu: '100m' } } };

describe('settings.compat through /mutate', () => {
  it.each<{ name: string; pod: V1Pod; nodeSelector: Record<string, string>; tolerations: V1Toleration[] | undefined }>([
    {
      name: "the namespace's selector and default tolerations are merged",
      pod: makePod('a').ns('web').obj(),
      nodeSelector: { env: 'prod' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }],
    },
    {
      name: 'a pod that is not BestEffort gets the memory-pressure toleration too',
      pod: makePod('a').ns('web').container('app', burstable).obj(),
      nodeSelector: { env: 'prod' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }, { ...MEMORY_PRESSURE_TOLERATION }],
    },
    {
      name: 'a namespace without the annotation gets the cluster default',
      pod: makePod('a').ns('plain').obj(),
      nodeSelector: { env: 'dev' },
      tolerations: undefined,
    },
    { name: 'an annotation set to "" opts out of the cluster default', pod: makePod('a').ns('open').obj(), nodeSelector: {}, tolerations: undefined },
    {
      name: "pods already bound to a node get the plugins' changes too",
      pod: makePod('a').ns('plain').spec({ nodeName: 'n1' }).obj(),
      nodeSelector: { env: 'dev' },
      tolerations: undefined,
    },
  ])('$name', ({ pod, nodeSelector, tolerations }) => {
    const got = mutated(pod, cluster());
    expect(typeof got === 'string' ? got : { nodeSelector: got.spec?.nodeSelector ?? {}, tolerations: got.spec?.tolerations }).toStrictEqual({
      nodeSelector,
      tolerations,
    });
  });

  it("a pod whose nodeSelector conflicts with the namespace is refused, in the plugin's words", () => {
    expect(mutated(makePod('a').ns('web').nodeSelector('env', 'dev').obj(), cluster())).toBe(
      'PodNodeSelector: pod node label selector conflicts with its namespace node label selector',
    );
  });

  it('our rules apply after the plugins, and see the pod as they left it', () => {
    const rule: Rule = { name: 'zone', match: { namespaces: ['web'] }, inject: { nodeSelector: { zone: 'a', env: 'other' } }, onConflict: 'keep' };
    const got = mutated(makePod('a').ns('web').obj(), cluster([rule]));
    expect(typeof got !== 'string' && got.spec?.nodeSelector).toStrictEqual({ env: 'prod', zone: 'a' });
  });

  it('without settings.compat nothing changes (the annotations are ignored)', () => {
    const got = mutated(makePod('a').ns('web').obj(), cluster([], {}));
    expect(typeof got !== 'string' && got.spec).toStrictEqual(makePod('a').ns('web').obj().spec);
  });

  it('a namespace that is not known gets nothing and no refusal, with a warning', () => {
    const r = handleMutate(request(makePod('a').ns('nowhere').nodeSelector('env', 'x').obj()), cluster()).response;
    expect(r.allowed).toBe(true);
    expect(r.patch).toBeUndefined();
    expect(r.warnings?.[0]).toContain('namespace nowhere is not known');
  });

  it('is idempotent: the mutated pod mutates no further', () => {
    const once = mutated(
      makePod('a').ns('web').container('app', burstable).toleration({ key: 'dedicated', operator: 'Equal', value: 'x', effect: 'NoSchedule' }).obj(),
      cluster(),
    );
    expect(typeof once).not.toBe('string');
    expect(handleMutate(request(once as V1Pod), cluster()).response.patch).toBeUndefined();
  });
});

describe('settings.compat through /validate: the final pod', () => {
  const validate = (pod: V1Pod, rules: Rule[] = [], operation: 'CREATE' | 'UPDATE' = 'CREATE', old?: V1Pod) =>
    handleValidate(request(pod, operation, old), cluster(rules)).response;

  it('a toleration a rule added outside the whitelist gets the pod refused', () => {
    const rule: Rule = { name: 'gpu', match: { namespaces: ['web'] }, inject: { tolerations: [{ key: 'gpu', operator: 'Exists' }] } };
    const pod = mutated(makePod('a').ns('web').obj(), cluster([rule])) as V1Pod;
    const r = validate(pod, [rule]);
    expect(r.allowed).toBe(false);
    expect(r.status?.message).toBe(
      'PodTolerationRestriction: pod tolerations (possibly merged with namespace default tolerations) conflict with its namespace whitelist',
    );
  });

  it("a nodeSelector pair outside the namespace's whitelist gets the pod refused, at /mutate and at /validate", () => {
    const pod = makePod('a').ns('web').nodeSelector('gpu', 'true').obj();
    const words = 'PodNodeSelector: pod node label selector labels conflict with its namespace whitelist';
    expect(mutated(pod, cluster())).toBe(words);
    expect(validate(pod).status?.message).toBe(words);
  });

  it('refusals do not depend on validation.mode', () => {
    const ctx = cluster([], { ...COMPAT, validation: { mode: 'off' } });
    const pod = makePod('a').ns('web').toleration({ key: 'gpu', operator: 'Exists' }).obj();
    expect(handleValidate(request(pod), ctx).response.allowed).toBe(false);
  });

  it.each([
    { name: 'an UPDATE adding a toleration outside the whitelist is refused', add: { key: 'gpu', operator: 'Exists' }, allowed: false },
    { name: 'an UPDATE adding one within it is allowed', add: { key: 'dedicated', operator: 'Exists' }, allowed: true },
  ])('$name', ({ add, allowed }) => {
    const old = makePod('a').ns('web').toleration({ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }).obj();
    const updated = structuredClone(old);
    updated.spec?.tolerations?.push(add);
    expect(validate(updated, [], 'UPDATE', old).allowed).toBe(allowed);
  });

  it('an UPDATE that does not change the tolerations is not checked (a whitelist tightened since)', () => {
    const old = makePod('a').ns('web').toleration({ key: 'gpu', operator: 'Exists' }).obj();
    const updated = structuredClone(old);
    updated.metadata = { ...updated.metadata, labels: { a: 'b' } };
    expect(validate(updated, [], 'UPDATE', old).allowed).toBe(true);
  });
});

describe('onConflict: skip', () => {
  const preset: Rule = {
    name: 'preset',
    inject: {
      env: [{ name: 'DB_PORT', value: '6379' }],
      volumes: [{ name: 'cache', emptyDir: {} }],
      volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
    },
    onConflict: 'skip',
  };
  const apply = (pod: V1Pod, rules: Rule[]) => mutatePod(pod, ruleSet(rules), 'default', withNameLabel('default', {}));

  it('applies everything when nothing conflicts', () => {
    const got = apply(makePod().obj(), [preset]);
    expect(got.appliedRules).toStrictEqual(['preset']);
    expect(got.pod.spec?.containers[0]?.env).toStrictEqual([{ name: 'DB_PORT', value: '6379' }]);
    expect(got.pod.spec?.volumes).toStrictEqual([{ name: 'cache', emptyDir: {} }]);
  });

  it('applies nothing of the rule when one injection conflicts, and says so', () => {
    const pod = makePod()
      .container('app', { env: [{ name: 'DB_PORT', value: '5432' }] })
      .obj();
    const got = apply(pod, [preset]);
    expect(got.pod).toBe(pod);
    expect(got.appliedRules).toStrictEqual([]);
    expect(got.warnings).toStrictEqual(["rule preset (onConflict: skip): not applied: the pod's env DB_PORT in container app differs"]);
  });

  it('a skipped rule does not keep later rules from applying', () => {
    const later: Rule = { name: 'later', inject: { nodeSelector: { a: 'b' } } };
    const pod = makePod()
      .container('app', { env: [{ name: 'DB_PORT', value: '5432' }] })
      .obj();
    const got = apply(pod, [preset, later]);
    expect(got.appliedRules).toStrictEqual(['later']);
    expect(got.pod.spec?.nodeSelector).toStrictEqual({ a: 'b' });
    expect(got.pod.spec?.volumes).toBeUndefined();
  });
});

describe('match.podAnnotationSelector', () => {
  const rule: Rule = {
    name: 'not-excluded',
    match: {
      podAnnotationSelector: { matchExpressions: [{ key: 'podpreset.admission.kubernetes.io/exclude', operator: 'NotIn', values: ['true'] }] },
    },
    inject: { nodeSelector: { a: 'b' } },
  };
  it.each([
    { name: 'a pod without the annotation matches', pod: makePod().obj(), applied: ['not-excluded'] },
    {
      name: 'a pod annotated "false" matches',
      pod: makePod().annotation('podpreset.admission.kubernetes.io/exclude', 'false').obj(),
      applied: ['not-excluded'],
    },
    { name: 'a pod annotated "true" does not', pod: makePod().annotation('podpreset.admission.kubernetes.io/exclude', 'true').obj(), applied: [] },
  ])('$name', ({ pod, applied }) => {
    expect(mutatePod(pod, ruleSet([rule]), 'default', withNameLabel('default', {})).appliedRules).toStrictEqual(applied);
  });
});
