import type { V1LabelSelector, V1LabelSelectorRequirement } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { formatFieldError, InvalidDocumentError, type FieldError } from '../util/errors.js';
import {
  compileLabelSelector,
  validateDNS1123Subdomain,
  validateLabelKey,
  validateLabels,
  validateLabelSelector,
  validateLabelValue,
} from './labels.js';
import type { Labels } from './types.js';

/** `type path` of each error, enough to tell which rule fired where. */
const summary = (errors: readonly FieldError[]): string[] => errors.map((e) => `${e.type} ${e.path}`);

/** Label maps built from entries, so that `__proto__` is an own key and not the prototype. */
const labels = (...entries: [string, string][]): Labels => Object.fromEntries(entries);

const expr = (key: string, operator: string, ...values: string[]): V1LabelSelectorRequirement =>
  values.length === 0 ? { key, operator } : { key, operator, values };

describe('validateLabelKey', () => {
  it.each([
    { name: 'a plain name is a valid key', key: 'app' },
    { name: 'a single character is a valid key', key: 'a' },
    { name: 'a name may start with a digit', key: '123-abc' },
    { name: 'a name may contain dots, dashes and underscores', key: 'my.name_is-x' },
    { name: 'a DNS subdomain prefix is allowed', key: 'node.kubernetes.io/lifecycle' },
    { name: 'the name part may be upper case', key: 'example.com/MyName' },
    { name: 'a 63-character name is allowed', key: 'a'.repeat(63) },
    { name: 'a 253-character prefix is allowed', key: `${'a'.repeat(253)}/x` },
    { name: 'constructor is an ordinary key', key: 'constructor' },
    { name: 'toString is an ordinary key', key: 'toString' },
    { name: 'hasOwnProperty is an ordinary key', key: 'hasOwnProperty' },
  ])('$name', ({ key }) => {
    expect(validateLabelKey(key, 'key')).toEqual([]);
  });

  it.each([
    { name: 'a tilde in the prefix is invalid', key: 'a~b/c', fragment: 'prefix part a lowercase RFC 1123 subdomain' },
    { name: 'the empty key is invalid', key: '', fragment: 'name part must be non-empty' },
    { name: 'an empty prefix is invalid', key: '/a', fragment: 'prefix part must be non-empty' },
    { name: 'an empty name after the prefix is invalid', key: 'example.com/', fragment: 'name part must be non-empty' },
    { name: 'two slashes are invalid', key: 'a/b/c', fragment: 'with an optional DNS subdomain prefix' },
    { name: 'a name may not start with a dash', key: '-app', fragment: 'name part must consist of' },
    { name: 'a name may not end with a dot', key: 'app.', fragment: 'name part must consist of' },
    { name: 'a name may not contain a space', key: 'my app', fragment: 'name part must consist of' },
    {
      name: 'a 64-character name is invalid',
      key: 'a'.repeat(64),
      fragment: 'name part must be no more than 63 bytes',
    },
    { name: 'an upper-case prefix is invalid', key: 'Example.com/x', fragment: 'prefix part a lowercase RFC 1123' },
    {
      name: 'a 254-character prefix is invalid',
      key: `${'a'.repeat(254)}/x`,
      fragment: 'prefix part must be no more than 253 bytes',
    },
    { name: 'a non-ASCII name is invalid', key: 'café', fragment: 'name part must consist of' },
    {
      name: '__proto__ is invalid because it starts with an underscore',
      key: '__proto__',
      fragment: 'name part must consist of',
    },
  ])('$name', ({ key, fragment }) => {
    const errors = validateLabelKey(key, 'metadata.labels');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.type === 'Invalid' && e.path === 'metadata.labels')).toBe(true);
    expect(errors.map((e) => e.detail).join('\n')).toContain(fragment);
  });

  it('reports the key and the rule it breaks', () => {
    expect(validateLabelKey('a~b/c', 'rules[0].key').map(formatFieldError)).toEqual([
      'rules[0].key: invalid value "a~b/c": prefix part a lowercase RFC 1123 subdomain must consist of lower case ' +
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character " +
        "(e.g. 'example.com'; regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]);
  });
});

describe('validateLabelValue', () => {
  it.each([
    { name: 'the empty string is a valid value', value: '' },
    { name: 'a word is a valid value', value: 'spot' },
    { name: 'digits are a valid value', value: '12345' },
    { name: 'underscores and dots inside are allowed', value: 'my_value.v1' },
    { name: 'a 63-character value is allowed', value: 'x'.repeat(63) },
  ])('$name', ({ value }) => {
    expect(validateLabelValue(value, 'v')).toEqual([]);
  });

  it.each([
    { name: 'a negative number is not a label value', value: '-1' },
    { name: 'a leading underscore is invalid', value: '_a' },
    { name: 'a trailing dash is invalid', value: 'a-' },
    { name: 'a space is invalid', value: 'a b' },
    { name: 'a slash is invalid', value: 'a/b' },
    { name: 'a 64-character value is invalid', value: 'x'.repeat(64) },
  ])('$name', ({ value }) => {
    expect(summary(validateLabelValue(value, 'v'))).toContain('Invalid v');
  });
});

describe('validateDNS1123Subdomain', () => {
  it.each([
    { name: 'a node name is a subdomain', value: 'worker-1.example.com', valid: true },
    { name: 'upper case is not a subdomain', value: 'Worker-1', valid: false },
    { name: 'an underscore is not a subdomain', value: 'worker_1', valid: false },
    { name: 'the empty string is not a subdomain', value: '', valid: false },
    { name: 'a 254-character name is not a subdomain', value: 'a'.repeat(254), valid: false },
  ])('$name', ({ value, valid }) => {
    expect(validateDNS1123Subdomain(value, 'name').length === 0).toBe(valid);
  });
});

describe('validateLabels', () => {
  it.each([
    { name: 'no labels are valid', map: undefined, want: [] },
    {
      name: 'valid labels produce no errors',
      map: labels(['app', 'web'], ['node.kubernetes.io/lifecycle', 'spot']),
      want: [],
    },
    {
      name: 'constructor and toString are validated as ordinary keys',
      map: labels(['constructor', 'x'], ['toString', 'y']),
      want: [],
    },
    {
      name: 'an own __proto__ key is validated like any other key',
      map: JSON.parse('{"__proto__":"x","app":"web"}') as Labels,
      want: ['Invalid metadata.labels.__proto__'],
    },
    {
      name: 'an invalid key is reported at its entry',
      map: labels(['a~b/c', 'x']),
      want: ['Invalid metadata.labels["a~b/c"]'],
    },
    {
      name: 'an invalid value is reported at its entry',
      map: labels(['tier', '-1']),
      want: ['Invalid metadata.labels.tier'],
    },
  ])('$name', ({ map, want }) => {
    expect(summary(validateLabels(map, 'metadata.labels'))).toEqual(want);
  });
});

describe('validateLabelSelector', () => {
  it.each<{ name: string; selector: V1LabelSelector | undefined; want: string[] }>([
    { name: 'an omitted selector is valid', selector: undefined, want: [] },
    { name: 'an empty selector is valid', selector: {}, want: [] },
    {
      name: 'a selector using every operator correctly is valid',
      selector: {
        matchLabels: { app: 'web' },
        matchExpressions: [expr('tier', 'In', 'a', 'b'), expr('env', 'NotIn', 'dev'), expr('gpu', 'Exists'), expr('spot', 'DoesNotExist')],
      },
      want: [],
    },
    {
      name: 'In without values is required to have some',
      selector: { matchExpressions: [expr('k', 'In')] },
      want: ['Required s.matchExpressions[0].values'],
    },
    {
      name: 'NotIn with an empty list is required to have values',
      selector: { matchExpressions: [{ key: 'k', operator: 'NotIn', values: [] }] },
      want: ['Required s.matchExpressions[0].values'],
    },
    {
      name: 'Exists with values is forbidden',
      selector: { matchExpressions: [expr('k', 'Exists', 'v')] },
      want: ['Forbidden s.matchExpressions[0].values'],
    },
    {
      name: 'DoesNotExist with values is forbidden',
      selector: { matchExpressions: [expr('k', 'DoesNotExist', 'v')] },
      want: ['Forbidden s.matchExpressions[0].values'],
    },
    {
      name: 'Gt is not a label selector operator',
      selector: { matchExpressions: [expr('k', 'Gt', '1')] },
      want: ['NotSupported s.matchExpressions[0].operator'],
    },
    {
      name: 'an invalid key in an expression is reported at the key',
      selector: { matchExpressions: [expr('a~b/c', 'Exists')] },
      want: ['Invalid s.matchExpressions[0].key'],
    },
    {
      name: 'an invalid value in an expression is reported at the value',
      selector: { matchExpressions: [expr('k', 'In', 'ok', 'not ok')] },
      want: ['Invalid s.matchExpressions[0].values[1]'],
    },
    {
      name: 'an invalid matchLabels entry is reported at its key',
      selector: { matchLabels: { 'a~b/c': 'x' } },
      want: ['Invalid s.matchLabels["a~b/c"]'],
    },
  ])('$name', ({ selector, want }) => {
    expect(summary(validateLabelSelector(selector, 's'))).toEqual(want);
  });

  it('lists the supported operators for an unknown one', () => {
    const errors = validateLabelSelector({ matchExpressions: [expr('k', 'Equals', 'v')] }, 'rules[2].match');
    expect(errors.map(formatFieldError)).toEqual([
      'rules[2].match.matchExpressions[0].operator: unsupported value "Equals"; ' + 'supported values: "In", "NotIn", "Exists", "DoesNotExist"',
    ]);
  });
});

describe('compileLabelSelector', () => {
  const web = labels(['app', 'web'], ['tier', 'frontend']);

  it.each<{ name: string; selector: V1LabelSelector | undefined; labels: Labels; want: boolean }>([
    { name: 'an omitted selector matches everything', selector: undefined, labels: web, want: true },
    { name: 'an omitted selector matches an object without labels', selector: undefined, labels: {}, want: true },
    { name: 'an empty selector matches everything', selector: {}, labels: web, want: true },
    {
      name: 'a selector with empty lists matches everything',
      selector: { matchLabels: {}, matchExpressions: [] },
      labels: {},
      want: true,
    },
    { name: 'matchLabels matches an equal value', selector: { matchLabels: { app: 'web' } }, labels: web, want: true },
    {
      name: 'matchLabels rejects a different value',
      selector: { matchLabels: { app: 'db' } },
      labels: web,
      want: false,
    },
    { name: 'matchLabels rejects a missing key', selector: { matchLabels: { zone: 'a' } }, labels: web, want: false },
    {
      name: 'matchLabels with an empty value rejects a missing key',
      selector: { matchLabels: { zone: '' } },
      labels: web,
      want: false,
    },
    {
      name: 'In matches one of its values',
      selector: { matchExpressions: [expr('tier', 'In', 'backend', 'frontend')] },
      labels: web,
      want: true,
    },
    {
      name: 'In rejects a value not listed',
      selector: { matchExpressions: [expr('tier', 'In', 'backend')] },
      labels: web,
      want: false,
    },
    {
      name: 'In rejects a missing key',
      selector: { matchExpressions: [expr('zone', 'In', 'a')] },
      labels: web,
      want: false,
    },
    {
      name: 'NotIn rejects a listed value',
      selector: { matchExpressions: [expr('tier', 'NotIn', 'frontend')] },
      labels: web,
      want: false,
    },
    {
      name: 'NotIn matches a value not listed',
      selector: { matchExpressions: [expr('tier', 'NotIn', 'backend')] },
      labels: web,
      want: true,
    },
    {
      name: 'NotIn matches a missing key',
      selector: { matchExpressions: [expr('zone', 'NotIn', 'a')] },
      labels: web,
      want: true,
    },
    {
      name: 'Exists matches a present key',
      selector: { matchExpressions: [expr('app', 'Exists')] },
      labels: web,
      want: true,
    },
    {
      name: 'Exists matches a present key with an empty value',
      selector: { matchExpressions: [expr('gpu', 'Exists')] },
      labels: labels(['gpu', '']),
      want: true,
    },
    {
      name: 'Exists rejects a missing key',
      selector: { matchExpressions: [expr('zone', 'Exists')] },
      labels: web,
      want: false,
    },
    {
      name: 'DoesNotExist matches a missing key',
      selector: { matchExpressions: [expr('zone', 'DoesNotExist')] },
      labels: web,
      want: true,
    },
    {
      name: 'DoesNotExist rejects a present key',
      selector: { matchExpressions: [expr('app', 'DoesNotExist')] },
      labels: web,
      want: false,
    },
    {
      name: 'matchLabels and matchExpressions are ANDed',
      selector: { matchLabels: { app: 'web' }, matchExpressions: [expr('tier', 'In', 'backend')] },
      labels: web,
      want: false,
    },
    {
      name: 'all expressions must hold',
      selector: { matchExpressions: [expr('app', 'Exists'), expr('tier', 'In', 'frontend'), expr('zone', 'DoesNotExist')] },
      labels: web,
      want: true,
    },
    {
      name: 'constructor is not found on an object without labels',
      selector: { matchExpressions: [expr('constructor', 'Exists')] },
      labels: {},
      want: false,
    },
    {
      name: 'toString does not exist on an object without labels',
      selector: { matchExpressions: [expr('toString', 'DoesNotExist')] },
      labels: {},
      want: true,
    },
    {
      name: 'hasOwnProperty is not found on an object without labels',
      selector: { matchLabels: { hasOwnProperty: 'x' } },
      labels: {},
      want: false,
    },
    {
      name: 'an own __proto__ label does not hide a missing constructor label',
      selector: { matchExpressions: [expr('constructor', 'DoesNotExist')] },
      labels: JSON.parse('{"__proto__":"x"}') as Labels,
      want: true,
    },
    {
      name: 'In on constructor matches an own constructor label',
      selector: { matchExpressions: [expr('constructor', 'In', 'v')] },
      labels: labels(['constructor', 'v']),
      want: true,
    },
  ])('$name', ({ selector, labels: objectLabels, want }) => {
    expect(compileLabelSelector(selector).matches(objectLabels)).toBe(want);
  });

  it('compiles once and matches many label sets', () => {
    const matcher = compileLabelSelector({ matchExpressions: [expr('tier', 'In', 'frontend', 'backend')] });
    const results = [labels(['tier', 'frontend']), labels(['tier', 'db']), labels(['tier', 'backend']), {}].map((l) => matcher.matches(l));
    expect(results).toEqual([true, false, true, false]);
  });

  it('rejects __proto__ as a selector key rather than reading the prototype', () => {
    expect(() => compileLabelSelector({ matchLabels: labels(['__proto__', 'x']) })).toThrow(/matchLabels\.__proto__/);
  });

  it('throws every problem of an invalid selector', () => {
    const compile = (): unknown => compileLabelSelector({ matchExpressions: [expr('k', 'In'), expr('a~b/c', 'Exists')] });
    expect(compile).toThrow(InvalidDocumentError);
    try {
      compile();
    } catch (error) {
      expect(error instanceof InvalidDocumentError && summary(error.errors)).toEqual([
        'Required matchExpressions[0].values',
        'Invalid matchExpressions[1].key',
      ]);
    }
  });
});
