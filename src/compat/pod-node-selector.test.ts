/**
 * Cases of kubernetes v1.20 `plugin/pkg/admission/podnodeselector/admission_test.go` (TestPodAdmission) and of
 * `labels.ConvertSelectorToLabelsMap`, as tables.
 */
import { describe, expect, it } from 'vitest';
import {
  admitNodeSelector,
  CONFLICT_MESSAGE,
  configProblems,
  namespaceNodeSelector,
  NODE_SELECTOR_ANNOTATION,
  parseSelectorMap,
  validateNodeSelector,
  WHITELIST_MESSAGE,
} from './pod-node-selector.js';

describe('parseSelectorMap (ConvertSelectorToLabelsMap)', () => {
  it.each([
    { name: 'the empty string is the empty map', text: '', want: {} },
    { name: 'pairs separated by commas', text: 'env=dev,zone=a', want: { env: 'dev', zone: 'a' } },
    { name: 'spaces around keys and values are trimmed', text: ' env = dev , zone=a', want: { env: 'dev', zone: 'a' } },
    { name: 'an empty value is allowed', text: 'env=', want: { env: '' } },
    { name: 'a prefixed key', text: 'node.example.com/pool=spot', want: { 'node.example.com/pool': 'spot' } },
    { name: 'a later pair with the same key wins', text: 'env=a,env=b', want: { env: 'b' } },
  ])('$name', ({ text, want }) => {
    expect(parseSelectorMap(text)).toStrictEqual({ ok: true, value: want });
  });

  it.each([
    { name: 'a part without =', text: 'env' },
    { name: 'a part with two =', text: 'env==dev' },
    { name: 'a trailing comma', text: 'env=dev,' },
    { name: 'set-based syntax', text: 'env in (dev)' },
    { name: 'an invalid key', text: '-env=dev' },
    { name: 'an invalid value', text: 'env=dev!' },
  ])('$name is an error', ({ text }) => {
    expect(parseSelectorMap(text).ok).toBe(false);
  });
});

describe('namespaceNodeSelector (getNodeSelectorMap)', () => {
  const config = { clusterDefaultNodeSelector: 'env=prod' };
  it.each([
    { name: 'the annotation when present', annotations: { [NODE_SELECTOR_ANNOTATION]: 'env=dev' }, want: { env: 'dev' } },
    { name: 'an annotation set to "" opts out of the cluster default', annotations: { [NODE_SELECTOR_ANNOTATION]: '' }, want: {} },
    { name: 'the cluster default without the annotation', annotations: {}, want: { env: 'prod' } },
    { name: 'other annotations do not count', annotations: { other: 'x' }, want: { env: 'prod' } },
  ])('$name', ({ annotations, want }) => {
    expect(namespaceNodeSelector(annotations as Record<string, string>, config)).toStrictEqual({ ok: true, value: want });
  });

  it('no cluster default and no annotation: the empty selector', () => {
    expect(namespaceNodeSelector({}, {})).toStrictEqual({ ok: true, value: {} });
  });

  it('an annotation that does not parse is an error naming it', () => {
    const got = namespaceNodeSelector({ [NODE_SELECTOR_ANNOTATION]: 'env' }, config);
    expect(got.ok).toBe(false);
    expect(!got.ok && got.error).toContain(NODE_SELECTOR_ANNOTATION);
  });
});

describe('admitNodeSelector (Admit)', () => {
  it.each([
    { name: 'the namespace pairs are added to a pod without nodeSelector', pod: undefined, ns: { env: 'dev' }, want: { env: 'dev' }, changed: true },
    { name: 'both sets are kept', pod: { zone: 'a' }, ns: { env: 'dev' }, want: { env: 'dev', zone: 'a' }, changed: true },
    { name: 'a pod that has the same pair is unchanged', pod: { env: 'dev' }, ns: { env: 'dev' }, want: { env: 'dev' }, changed: false },
    { name: 'an empty namespace selector changes nothing', pod: { zone: 'a' }, ns: {}, want: { zone: 'a' }, changed: false },
  ])('$name', ({ pod, ns, want, changed }) => {
    const got = admitNodeSelector(pod as Record<string, string> | undefined, ns as Record<string, string>);
    expect(got).toStrictEqual({ kind: 'admitted', nodeSelector: want, changed });
  });

  it('a pod whose nodeSelector has another value for a namespace key is refused', () => {
    expect(admitNodeSelector({ env: 'prod' }, { env: 'dev' })).toStrictEqual({ kind: 'refused', message: CONFLICT_MESSAGE });
  });
});

describe('validateNodeSelector (Validate, on the final pod)', () => {
  const config = { clusterDefaultNodeSelector: '', team: 'env=dev,zone=a' };
  it.each([
    { name: 'within the whitelist', ns: 'team', pod: { env: 'dev' }, want: undefined },
    { name: 'a pair outside the whitelist is refused', ns: 'team', pod: { env: 'dev', gpu: 'true' }, want: WHITELIST_MESSAGE },
    { name: 'a whitelisted key with another value is refused', ns: 'team', pod: { env: 'prod' }, want: WHITELIST_MESSAGE },
    { name: 'a namespace without whitelist allows anything', ns: 'other', pod: { gpu: 'true' }, want: undefined },
    { name: 'no nodeSelector passes any whitelist', ns: 'team', pod: undefined, want: undefined },
  ])('$name', ({ ns, pod, want }) => {
    expect(validateNodeSelector(pod as Record<string, string> | undefined, ns, {}, config)).toBe(want);
  });

  it('a final pod conflicting with the namespace selector (a later mutation) is refused', () => {
    expect(validateNodeSelector({ env: 'prod' }, 'team', { env: 'dev' }, config)).toBe(CONFLICT_MESSAGE);
  });

  it('configuration problems are found before any pod', () => {
    expect(configProblems({ clusterDefaultNodeSelector: 'env', ok: 'a=b' }).map((p) => p.key)).toStrictEqual(['clusterDefaultNodeSelector']);
  });
});
