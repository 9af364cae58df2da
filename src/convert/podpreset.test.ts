/**
 * The 1.19 PodPreset plugin as an oracle (cases of release-1.19 `plugin/pkg/admission/podpreset/admission_test.go`:
 * TestMergeEnv, TestMergeVolumeMounts, TestMergeVolumes, TestAdmitConflictShouldNotModifyPod, TestExclusionNoAdmit,
 * TestAdmitMirrorPod, TestAdmitEnvFrom, TestAdmitMultiplePodPresets), reading presets, and naming rules.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { makePod } from '../../test/support/builders.js';
import { applyPodPresets, EXCLUDE_ANNOTATION, presetRule, readPodPreset, ruleName, type PodPreset } from './podpreset.js';

const preset = (name: string, spec: Partial<Omit<PodPreset, 'name' | 'namespace' | 'namespaceAssumed'>>, namespace = 'default'): PodPreset => ({
  name,
  namespace,
  namespaceAssumed: false,
  selector: {},
  env: [],
  envFrom: [],
  volumes: [],
  volumeMounts: [],
  ...spec,
});

const containerOf = (pod: V1Pod, i = 0) => pod.spec?.containers[i];

describe('applyPodPresets (the 1.19 plugin)', () => {
  it('adds env, envFrom and volume mounts to every container and init container, volumes to the pod', () => {
    const pod = makePod().container('a').container('b').initContainer('i').obj();
    const got = applyPodPresets(
      pod,
      [
        preset('p', {
          env: [{ name: 'X', value: '1' }],
          envFrom: [{ configMapRef: { name: 'cm' } }],
          volumeMounts: [{ name: 'v', mountPath: '/v' }],
          volumes: [{ name: 'v', emptyDir: {} }],
        }),
      ],
      'default',
    );
    expect(got.applied).toStrictEqual(['p']);
    for (const c of [...(got.pod.spec?.containers ?? []), ...(got.pod.spec?.initContainers ?? [])]) {
      expect(c.env).toStrictEqual([{ name: 'X', value: '1' }]);
      expect(c.envFrom).toStrictEqual([{ configMapRef: { name: 'cm' } }]);
      expect(c.volumeMounts).toStrictEqual([{ name: 'v', mountPath: '/v' }]);
    }
    expect(got.pod.spec?.volumes).toStrictEqual([{ name: 'v', emptyDir: {} }]);
  });

  it.each([
    { name: 'an env var of the same name and another value', container: { env: [{ name: 'X', value: '2' }] }, volumes: undefined },
    {
      name: 'a volume mount of the same name at another path',
      container: { volumeMounts: [{ name: 'v', mountPath: '/elsewhere' }] },
      volumes: undefined,
    },
    { name: 'another volume mounted at the same path', container: { volumeMounts: [{ name: 'w', mountPath: '/v' }] }, volumes: undefined },
    { name: 'a volume of the same name with another source', container: {}, volumes: [{ name: 'v', hostPath: { path: '/x' } }] },
  ])('a conflict — $name — leaves the pod unchanged, every preset included', ({ container, volumes }) => {
    const pod = makePod()
      .container('a', container)
      .spec(volumes ? { volumes } : {})
      .obj();
    const presets = [
      preset('p', { env: [{ name: 'X', value: '1' }], volumeMounts: [{ name: 'v', mountPath: '/v' }], volumes: [{ name: 'v', emptyDir: {} }] }),
      preset('other', { env: [{ name: 'Y', value: '1' }] }),
    ];
    const got = applyPodPresets(pod, presets, 'default');
    expect(got).toStrictEqual({ pod, applied: [], conflict: true });
  });

  it('two presets that conflict with each other leave the pod unchanged', () => {
    const pod = makePod().obj();
    const got = applyPodPresets(
      pod,
      [preset('a', { env: [{ name: 'X', value: '1' }] }), preset('b', { env: [{ name: 'X', value: '2' }] })],
      'default',
    );
    expect(got.conflict).toBe(true);
    expect(got.pod).toBe(pod);
  });

  it('an identical entry is not added again, and is no conflict', () => {
    const pod = makePod()
      .container('a', { env: [{ name: 'X', value: '1' }] })
      .obj();
    const got = applyPodPresets(
      pod,
      [
        preset('p', {
          env: [
            { name: 'X', value: '1' },
            { name: 'Y', value: '2' },
          ],
        }),
      ],
      'default',
    );
    expect(containerOf(got.pod)?.env).toStrictEqual([
      { name: 'X', value: '1' },
      { name: 'Y', value: '2' },
    ]);
  });

  it('envFrom is appended even when the pod already reads the same source (no conflict check)', () => {
    const pod = makePod()
      .container('a', { envFrom: [{ configMapRef: { name: 'cm' } }] })
      .obj();
    const got = applyPodPresets(pod, [preset('p', { envFrom: [{ configMapRef: { name: 'cm' } }] })], 'default');
    expect(containerOf(got.pod)?.envFrom).toStrictEqual([{ configMapRef: { name: 'cm' } }, { configMapRef: { name: 'cm' } }]);
  });

  it.each([
    { name: 'excluded by annotation', pod: makePod().annotation(EXCLUDE_ANNOTATION, 'true').obj() },
    { name: 'a mirror pod', pod: makePod().annotation('kubernetes.io/config.mirror', 'x').obj() },
    { name: 'labels the selector does not match', pod: makePod().label('role', 'backend').obj() },
    { name: 'another namespace', pod: makePod().ns('other').obj() },
  ])('$name: nothing', ({ pod }) => {
    const presets = [
      preset('p', { selector: { matchExpressions: [{ key: 'role', operator: 'NotIn', values: ['backend'] }] }, env: [{ name: 'X', value: '1' }] }),
    ];
    expect(applyPodPresets(pod, presets, pod.metadata?.namespace ?? 'default').applied).toStrictEqual([]);
  });

  it('the exclude annotation counts only when "true"', () => {
    const pod = makePod().annotation(EXCLUDE_ANNOTATION, 'yes').obj();
    expect(applyPodPresets(pod, [preset('p', { env: [{ name: 'X', value: '1' }] })], 'default').applied).toStrictEqual(['p']);
  });
});

describe('readPodPreset', () => {
  it('reads a preset, default namespace assumed when none is named', () => {
    const got = readPodPreset({
      apiVersion: 'settings.k8s.io/v1alpha1',
      kind: 'PodPreset',
      metadata: { name: 'p' },
      spec: { selector: { matchLabels: { a: 'b' } }, env: [{ name: 'X', value: '1' }] },
    });
    expect(got).toStrictEqual({
      ok: true,
      preset: { ...preset('p', { selector: { matchLabels: { a: 'b' } }, env: [{ name: 'X', value: '1' }] }), namespaceAssumed: true },
    });
  });

  it.each([
    { name: 'another kind', o: { kind: 'ConfigMap', metadata: { name: 'x' } }, want: 'kind "ConfigMap" is not PodPreset' },
    {
      name: 'another group',
      o: { apiVersion: 'v1', kind: 'PodPreset', metadata: { name: 'x' } },
      want: 'apiVersion "v1" is not settings.k8s.io/v1alpha1',
    },
    { name: 'no name', o: { kind: 'PodPreset', metadata: {} }, want: 'metadata.name: required value' },
    { name: 'env that is not a list', o: { kind: 'PodPreset', metadata: { name: 'x' }, spec: { env: { name: 'X' } } }, want: 'spec.env: not a list' },
  ])('refuses $name', ({ o, want }) => {
    expect(readPodPreset(o)).toStrictEqual({ ok: false, error: want });
  });
});

describe('ruleName', () => {
  it.each([
    { parts: ['podpreset', 'shop', 'allow-database'], want: 'podpreset-shop-allow-database' },
    { parts: ['podpreset', 'Shop', 'a.b_c'], want: 'podpreset-shop-a-b-c' },
    { parts: ['podpreset', 'x'.repeat(80)], want: `podpreset-${'x'.repeat(53)}` },
  ])('$want', ({ parts, want }) => {
    expect(ruleName(parts, new Set())).toBe(want);
  });

  it('a taken name gets a suffix, still within 63 characters', () => {
    const taken = new Set<string>();
    expect([ruleName(['a', 'b'], taken), ruleName(['a', 'b'], taken), ruleName(['a-b'], taken)]).toStrictEqual(['a-b', 'a-b-2', 'a-b-3']);
    const long = ['p', 'y'.repeat(70)];
    ruleName(long, taken);
    expect(ruleName(long, taken).length).toBeLessThanOrEqual(63);
  });
});

describe('presetRule', () => {
  it('one preset, one rule: its namespace and selector, DaemonSet pods included, onConflict skip, the exclude annotation honoured', () => {
    const rule = presetRule(
      preset('p', { selector: { matchLabels: { role: 'frontend' } }, env: [{ name: 'X', value: '1' }] }, 'shop'),
      'podpreset-shop-p',
    );
    expect(rule).toStrictEqual({
      name: 'podpreset-shop-p',
      description: 'PodPreset shop/p',
      match: {
        namespaces: ['shop'],
        podSelector: { matchLabels: { role: 'frontend' } },
        podAnnotationSelector: { matchExpressions: [{ key: EXCLUDE_ANNOTATION, operator: 'NotIn', values: ['true'] }] },
        includeDaemonSetPods: true,
      },
      inject: { env: [{ name: 'X', value: '1' }] },
      onConflict: 'skip',
    });
  });
});
