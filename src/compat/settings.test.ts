/**
 * `settings.compat` in a rules document: what compiles to what, and the field errors of configurations the plugins
 * would refuse (PodTolerationRestriction's `ValidateConfiguration`; a PodNodeSelector selector that does not parse).
 */
import { describe, expect, it } from 'vitest';
import { looseDoc } from '../../test/support/builders.js';
import { compileRules } from '../rules/compile.js';
import { formatFieldError } from '../util/errors.js';

const compile = (compat: unknown) => compileRules(looseDoc([], { compat }));

describe('settings.compat', () => {
  it.each([
    { name: 'absent: both off', compat: undefined, want: {} },
    {
      name: 'true: enabled with an empty configuration',
      compat: { podNodeSelector: true, podTolerationRestriction: true },
      want: { podNodeSelector: {}, podTolerationRestriction: {} },
    },
    { name: 'false: off', compat: { podNodeSelector: false }, want: {} },
    {
      name: "the plugins' configurations as given",
      compat: {
        podNodeSelector: { clusterDefaultNodeSelector: 'env=dev', team: 'env=dev' },
        podTolerationRestriction: { whitelist: [{ key: 'a', operator: 'Exists' }] },
      },
      want: {
        podNodeSelector: { clusterDefaultNodeSelector: 'env=dev', team: 'env=dev' },
        podTolerationRestriction: { whitelist: [{ key: 'a', operator: 'Exists' }] },
      },
    },
  ])('$name', ({ compat, want }) => {
    const got = compileRules(looseDoc([], compat === undefined ? undefined : { compat }));
    expect(got.ok && got.ruleSet.compat).toStrictEqual(want);
  });

  it.each([
    {
      name: 'a string',
      compat: { podNodeSelector: 'yes' },
      want: ['settings.compat.podNodeSelector: must be a boolean or object, got string "yes"'],
    },
    { name: 'an unknown plugin', compat: { podPreset: true }, want: ['settings.compat.podPreset: unknown field'] },
    {
      name: 'a selector that does not parse',
      compat: { podNodeSelector: { clusterDefaultNodeSelector: 'env' } },
      want: ['settings.compat.podNodeSelector.clusterDefaultNodeSelector: invalid value "env": invalid selector: [env]'],
    },
    {
      name: 'a toleration the API server would refuse',
      compat: { podTolerationRestriction: { default: [{ key: 'a', operator: 'Equals' }] } },
      want: ['settings.compat.podTolerationRestriction.default[0].operator: unsupported value "Equals"; supported values: "Equal", "Exists"'],
    },
    {
      name: 'an unknown field of the configuration',
      compat: { podTolerationRestriction: { defaults: [] } },
      want: ['settings.compat.podTolerationRestriction.defaults: unknown field'],
    },
  ])('$name is an error', ({ compat, want }) => {
    const got = compile(compat);
    expect(got.ok ? [] : got.errors.map(formatFieldError)).toStrictEqual(want);
  });

  it('a PodNodeSelector key that is no namespace name is a warning (never read)', () => {
    const got = compile({ podNodeSelector: { Team_A: 'env=dev' } });
    expect(got.ok).toBe(true);
    expect(got.warnings.map(formatFieldError)).toStrictEqual([
      'settings.compat.podNodeSelector.Team_A: neither clusterDefaultNodeSelector nor a namespace name: never read',
    ]);
  });
});
