import type { V1NodeSelectorRequirement, V1NodeSelectorTerm, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { formatFieldError, type FieldError } from '../util/errors.js';
import { nodeAffinityConstraints } from './feasibility.js';
import {
  compileNodeSelectorTerms,
  parseInt64,
  validateNodeFieldSelectorRequirement,
  validateNodeSelectorRequirement,
  validateNodeSelectorTerms,
  type NodeIdentity,
} from './node-affinity.js';

const summary = (errors: readonly FieldError[]): string[] => errors.map((e) => `${e.type} ${e.path}`);

const node = (name: string, labels: Record<string, string> = {}): NodeIdentity => ({ name, labels });

const expr = (key: string, operator: string, ...values: string[]): V1NodeSelectorRequirement =>
  values.length === 0 ? { key, operator } : { key, operator, values };

const nameIs = (operator: string, ...values: string[]): V1NodeSelectorRequirement => ({
  key: 'metadata.name',
  operator,
  values,
});

/** A term of label expressions; add `matchFields` with {@link withFields}. */
const term = (...matchExpressions: V1NodeSelectorRequirement[]): V1NodeSelectorTerm => ({ matchExpressions });
const withFields = (t: V1NodeSelectorTerm, ...matchFields: V1NodeSelectorRequirement[]): V1NodeSelectorTerm => ({
  ...t,
  matchFields,
});

/** A pod builder in the spirit of the scheduler's test wrappers. */
function makePod() {
  const pod: V1Pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] } };
  const spec = pod.spec ?? { containers: [] };
  const builder = {
    nodeSelector(key: string, value: string) {
      spec.nodeSelector = { ...spec.nodeSelector, [key]: value };
      return builder;
    },
    requiredTerms(...nodeSelectorTerms: V1NodeSelectorTerm[]) {
      spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } };
      return builder;
    },
    obj: (): V1Pod => pod,
  };
  return builder;
}

describe('parseInt64', () => {
  it.each([
    { name: 'plain digits parse', s: '42', want: 42n },
    { name: 'a leading plus sign parses', s: '+7', want: 7n },
    { name: 'a negative number parses', s: '-3', want: -3n },
    { name: 'leading zeros parse', s: '007', want: 7n },
    { name: 'the largest int64 parses exactly', s: '9223372036854775807', want: 9223372036854775807n },
    { name: 'the smallest int64 parses', s: '-9223372036854775808', want: -9223372036854775808n },
    { name: 'one past the largest int64 does not parse', s: '9223372036854775808', want: undefined },
    { name: 'the empty string does not parse', s: '', want: undefined },
    { name: 'a sign alone does not parse', s: '-', want: undefined },
    { name: 'a decimal point does not parse', s: '1.5', want: undefined },
    { name: 'surrounding spaces do not parse', s: ' 7', want: undefined },
    { name: 'a hexadecimal prefix does not parse', s: '0x10', want: undefined },
    { name: 'underscores do not parse', s: '1_000', want: undefined },
    { name: 'a word does not parse', s: 'ten', want: undefined },
  ])('$name', ({ s, want }) => {
    expect(parseInt64(s)).toBe(want);
  });
});

describe('compileNodeSelectorTerms', () => {
  const spot = node('worker-1', { 'node.kubernetes.io/lifecycle': 'spot', zone: 'a', cores: '16' });

  it.each<{ name: string; terms: V1NodeSelectorTerm[]; node: NodeIdentity; want: boolean }>([
    // In / NotIn
    {
      name: 'In matches a node whose label has one of the values',
      terms: [term(expr('zone', 'In', 'b', 'a'))],
      node: spot,
      want: true,
    },
    {
      name: 'In rejects a node whose label has another value',
      terms: [term(expr('zone', 'In', 'b'))],
      node: spot,
      want: false,
    },
    { name: 'In rejects a node without the label', terms: [term(expr('rack', 'In', 'r1'))], node: spot, want: false },
    {
      name: 'NotIn rejects a node with a listed value',
      terms: [term(expr('zone', 'NotIn', 'a'))],
      node: spot,
      want: false,
    },
    {
      name: 'NotIn matches a node with another value',
      terms: [term(expr('zone', 'NotIn', 'b'))],
      node: spot,
      want: true,
    },
    {
      name: 'NotIn matches a node without the label',
      terms: [term(expr('rack', 'NotIn', 'r1'))],
      node: spot,
      want: true,
    },
    // Exists / DoesNotExist
    {
      name: 'Exists matches a node with the label',
      terms: [term(expr('node.kubernetes.io/lifecycle', 'Exists'))],
      node: spot,
      want: true,
    },
    { name: 'Exists rejects a node without the label', terms: [term(expr('gpu', 'Exists'))], node: spot, want: false },
    {
      name: 'DoesNotExist matches a node without the label',
      terms: [term(expr('gpu', 'DoesNotExist'))],
      node: spot,
      want: true,
    },
    {
      name: 'DoesNotExist rejects a node with the label',
      terms: [term(expr('zone', 'DoesNotExist'))],
      node: spot,
      want: false,
    },
    // Gt / Lt
    { name: 'Gt matches a larger label value', terms: [term(expr('cores', 'Gt', '8'))], node: spot, want: true },
    { name: 'Gt rejects an equal label value', terms: [term(expr('cores', 'Gt', '16'))], node: spot, want: false },
    { name: 'Lt matches a smaller label value', terms: [term(expr('cores', 'Lt', '32'))], node: spot, want: true },
    { name: 'Lt rejects an equal label value', terms: [term(expr('cores', 'Lt', '16'))], node: spot, want: false },
    { name: 'Gt rejects a node without the label', terms: [term(expr('gpus', 'Gt', '0'))], node: spot, want: false },
    { name: 'Lt rejects a node without the label', terms: [term(expr('gpus', 'Lt', '100'))], node: spot, want: false },
    {
      name: 'Gt rejects a non-integer label value',
      terms: [term(expr('cores', 'Gt', '1'))],
      node: node('n', { cores: 'many' }),
      want: false,
    },
    {
      name: 'Lt rejects a non-integer label value',
      terms: [term(expr('cores', 'Lt', '100'))],
      node: node('n', { cores: '1.5' }),
      want: false,
    },
    {
      name: 'Lt compares a negative label value',
      terms: [term(expr('temp', 'Lt', '0'))],
      node: node('n', { temp: '-3' }),
      want: true,
    },
    {
      name: 'Gt accepts a label value with a plus sign',
      terms: [term(expr('cores', 'Gt', '6'))],
      node: node('n', { cores: '+7' }),
      want: true,
    },
    {
      name: 'Gt compares leading zeros numerically',
      terms: [term(expr('cores', 'Gt', '6'))],
      node: node('n', { cores: '007' }),
      want: true,
    },
    {
      name: 'Gt rejects a label value beyond int64',
      terms: [term(expr('big', 'Gt', '1'))],
      node: node('n', { big: '9223372036854775808' }),
      want: false,
    },
    {
      name: 'Gt compares int64 values exactly where doubles would be equal',
      terms: [term(expr('big', 'Gt', '9223372036854775806'))],
      node: node('n', { big: '9223372036854775807' }),
      want: true,
    },
    {
      name: 'a non-integer Gt value makes its term match no node',
      terms: [term(expr('cores', 'Gt', 'ten'))],
      node: spot,
      want: false,
    },
    {
      name: 'a non-integer Lt value makes its term match no node',
      terms: [term(expr('cores', 'Lt', '20.5'))],
      node: spot,
      want: false,
    },
    {
      name: 'a negative Gt value is not a label value, so its term matches no node',
      terms: [term(expr('cores', 'Gt', '-1'))],
      node: spot,
      want: false,
    },
    {
      name: 'Gt with two values makes its term match no node',
      terms: [term(expr('cores', 'Gt', '1', '2'))],
      node: spot,
      want: false,
    },
    {
      name: 'an unparsable requirement spoils its whole term',
      terms: [term(expr('zone', 'In', 'a'), expr('cores', 'Gt', 'ten'))],
      node: spot,
      want: false,
    },
    {
      name: 'an unparsable term does not spoil the other terms',
      terms: [term(expr('cores', 'Gt', 'ten')), term(expr('zone', 'In', 'a'))],
      node: spot,
      want: true,
    },
    // Other parse errors
    {
      name: 'an unsupported operator makes its term match no node',
      terms: [term(expr('zone', 'Equals', 'a'))],
      node: spot,
      want: false,
    },
    {
      name: 'NotIn without values makes its term match no node',
      terms: [term(expr('rack', 'NotIn'))],
      node: spot,
      want: false,
    },
    {
      name: 'Exists with values makes its term match no node',
      terms: [term(expr('zone', 'Exists', 'a'))],
      node: spot,
      want: false,
    },
    {
      name: 'an invalid key makes its term match no node',
      terms: [term(expr('a~b/c', 'DoesNotExist'))],
      node: spot,
      want: false,
    },
    {
      name: 'an invalid value makes its term match no node',
      terms: [term(expr('zone', 'NotIn', 'not valid'))],
      node: spot,
      want: false,
    },
    // Terms and expressions
    {
      name: 'expressions in a term are ANDed',
      terms: [term(expr('zone', 'In', 'a'), expr('gpu', 'Exists'))],
      node: spot,
      want: false,
    },
    {
      name: 'terms are ORed',
      terms: [term(expr('gpu', 'Exists')), term(expr('zone', 'In', 'a'))],
      node: spot,
      want: true,
    },
    { name: 'an empty list of terms matches no node', terms: [], node: spot, want: false },
    { name: 'an empty term matches no node', terms: [{}], node: spot, want: false },
    {
      name: 'a term with empty lists matches no node',
      terms: [{ matchExpressions: [], matchFields: [] }],
      node: spot,
      want: false,
    },
    {
      name: 'an empty term does not stop another term from matching',
      terms: [{}, term(expr('zone', 'Exists'))],
      node: spot,
      want: true,
    },
    // matchFields
    {
      name: 'matchFields In matches the node with that name',
      terms: [withFields({}, nameIs('In', 'worker-1'))],
      node: spot,
      want: true,
    },
    {
      name: 'matchFields In rejects another node',
      terms: [withFields({}, nameIs('In', 'worker-2'))],
      node: spot,
      want: false,
    },
    {
      name: 'matchFields NotIn rejects the named node',
      terms: [withFields({}, nameIs('NotIn', 'worker-1'))],
      node: spot,
      want: false,
    },
    {
      name: 'matchFields NotIn matches another node',
      terms: [withFields({}, nameIs('NotIn', 'worker-2'))],
      node: spot,
      want: true,
    },
    {
      name: 'matchFields and matchExpressions in one term are ANDed',
      terms: [withFields(term(expr('gpu', 'Exists')), nameIs('In', 'worker-1'))],
      node: spot,
      want: false,
    },
    {
      name: 'matchFields with two values makes its term match no node',
      terms: [withFields({}, nameIs('In', 'worker-1', 'worker-2'))],
      node: spot,
      want: false,
    },
    {
      name: 'matchFields with Exists makes its term match no node',
      terms: [withFields({}, nameIs('Exists'))],
      node: spot,
      want: false,
    },
    {
      name: 'matchFields on an unknown field reads it as empty, so In never matches',
      terms: [withFields({}, { key: 'metadata.namespace', operator: 'In', values: ['default'] })],
      node: spot,
      want: false,
    },
    {
      name: 'matchFields on an unknown field reads it as empty, so NotIn matches',
      terms: [withFields({}, { key: 'metadata.namespace', operator: 'NotIn', values: ['default'] })],
      node: spot,
      want: true,
    },
    {
      name: 'a node without a name skips matchFields',
      terms: [withFields({}, nameIs('In', 'worker-1'))],
      node: node(''),
      want: true,
    },
    // Keys that are also names on Object.prototype
    {
      name: 'constructor does not exist on a node without labels',
      terms: [term(expr('constructor', 'DoesNotExist'))],
      node: node('n'),
      want: true,
    },
    {
      name: 'toString is not found on a node without labels',
      terms: [term(expr('toString', 'Exists'))],
      node: node('n'),
      want: false,
    },
    {
      name: 'In on constructor matches an own constructor label',
      terms: [term(expr('constructor', 'In', 'x'))],
      node: node('n', { constructor: 'x' }),
      want: true,
    },
    {
      name: 'an own __proto__ label does not make constructor exist',
      terms: [term(expr('constructor', 'Exists'))],
      node: { name: 'n', labels: JSON.parse('{"__proto__":"x"}') as Record<string, string> },
      want: false,
    },
  ])('$name', ({ terms, node: candidate, want }) => {
    expect(compileNodeSelectorTerms(terms).matches(candidate)).toBe(want);
  });

  it('compiles once and matches many nodes', () => {
    const matcher = compileNodeSelectorTerms([term(expr('cores', 'Gt', '8')), withFields({}, nameIs('In', 'tiny'))]);
    const nodes = [node('big', { cores: '16' }), node('small', { cores: '4' }), node('tiny', { cores: '1' }), node('bare')];
    expect(nodes.filter((n) => matcher.matches(n)).map((n) => n.name)).toEqual(['big', 'tiny']);
  });
});

describe('nodeAffinityConstraints: GetRequiredNodeAffinity, the matcher the filters use', () => {
  const gpuNode = node('gpu-1', { accelerator: 'nvidia', zone: 'a' });
  const cpuNode = node('cpu-1', { zone: 'b' });

  it.each<{ name: string; pod: V1Pod; node: NodeIdentity; want: boolean }>([
    { name: 'a pod without constraints fits any node', pod: makePod().obj(), node: cpuNode, want: true },
    { name: 'a pod without a spec fits any node', pod: { metadata: { name: 'p' } }, node: cpuNode, want: true },
    {
      name: 'an empty nodeSelector does not restrict',
      pod: { spec: { containers: [], nodeSelector: {} } },
      node: cpuNode,
      want: true,
    },
    {
      name: 'a nodeSelector matches a node with that label',
      pod: makePod().nodeSelector('zone', 'a').obj(),
      node: gpuNode,
      want: true,
    },
    {
      name: 'a nodeSelector rejects a node with another value',
      pod: makePod().nodeSelector('zone', 'a').obj(),
      node: cpuNode,
      want: false,
    },
    {
      name: 'a nodeSelector rejects a node without the label',
      pod: makePod().nodeSelector('accelerator', 'nvidia').obj(),
      node: cpuNode,
      want: false,
    },
    {
      name: 'every nodeSelector entry must match',
      pod: makePod().nodeSelector('zone', 'a').nodeSelector('accelerator', 'amd').obj(),
      node: gpuNode,
      want: false,
    },
    {
      name: 'a nodeSelector on constructor rejects a node without labels',
      pod: makePod().nodeSelector('constructor', 'Object').obj(),
      node: node('n'),
      want: false,
    },
    {
      name: 'required affinity alone matches',
      pod: makePod()
        .requiredTerms(term(expr('accelerator', 'Exists')))
        .obj(),
      node: gpuNode,
      want: true,
    },
    {
      name: 'required affinity alone rejects',
      pod: makePod()
        .requiredTerms(term(expr('accelerator', 'Exists')))
        .obj(),
      node: cpuNode,
      want: false,
    },
    {
      name: 'a node must satisfy the nodeSelector even when the affinity matches',
      pod: makePod()
        .nodeSelector('zone', 'b')
        .requiredTerms(term(expr('accelerator', 'Exists')))
        .obj(),
      node: gpuNode,
      want: false,
    },
    {
      name: 'a node must satisfy the affinity even when the nodeSelector matches',
      pod: makePod()
        .nodeSelector('zone', 'a')
        .requiredTerms(term(expr('accelerator', 'DoesNotExist')))
        .obj(),
      node: gpuNode,
      want: false,
    },
    {
      name: 'a node satisfying both the nodeSelector and the affinity fits',
      pod: makePod()
        .nodeSelector('zone', 'a')
        .requiredTerms(term(expr('accelerator', 'In', 'nvidia')))
        .obj(),
      node: gpuNode,
      want: true,
    },
    {
      name: 'required affinity with no terms matches no node',
      pod: makePod().requiredTerms().obj(),
      node: gpuNode,
      want: false,
    },
    {
      name: 'node affinity without a required part does not restrict',
      pod: { spec: { containers: [], affinity: { nodeAffinity: {} } } },
      node: cpuNode,
      want: true,
    },
  ])('$name', ({ pod, node: candidate, want }) => {
    expect(nodeAffinityConstraints(pod.spec).affinity.matches(candidate)).toBe(want);
  });
});

describe('validateNodeSelectorRequirement', () => {
  it.each<{ name: string; requirement: V1NodeSelectorRequirement; want: string[] }>([
    { name: 'In with values is valid', requirement: expr('node.kubernetes.io/lifecycle', 'In', 'spot'), want: [] },
    { name: 'NotIn with values is valid', requirement: expr('zone', 'NotIn', 'a', 'b'), want: [] },
    { name: 'Exists without values is valid', requirement: expr('gpu', 'Exists'), want: [] },
    { name: 'DoesNotExist without values is valid', requirement: expr('gpu', 'DoesNotExist'), want: [] },
    { name: 'Gt with one integer is valid', requirement: expr('cores', 'Gt', '8'), want: [] },
    { name: 'Lt with one integer is valid', requirement: expr('cores', 'Lt', '64'), want: [] },
    { name: 'In without values needs some', requirement: expr('zone', 'In'), want: ['Required r.values'] },
    {
      name: 'NotIn with an empty list needs values',
      requirement: { key: 'zone', operator: 'NotIn', values: [] },
      want: ['Required r.values'],
    },
    {
      name: 'Exists with values is forbidden',
      requirement: expr('gpu', 'Exists', 'yes'),
      want: ['Forbidden r.values'],
    },
    {
      name: 'DoesNotExist with values is forbidden',
      requirement: expr('gpu', 'DoesNotExist', 'yes'),
      want: ['Forbidden r.values'],
    },
    { name: 'Gt without a value needs one', requirement: expr('cores', 'Gt'), want: ['Required r.values'] },
    {
      name: 'Lt with two values needs exactly one',
      requirement: expr('cores', 'Lt', '1', '2'),
      want: ['Required r.values'],
    },
    {
      name: 'Gt with a word is not an integer',
      requirement: expr('cores', 'Gt', 'ten'),
      want: ['Invalid r.values[0]'],
    },
    {
      name: 'Lt with a decimal is not an integer',
      requirement: expr('cores', 'Lt', '1.5'),
      want: ['Invalid r.values[0]'],
    },
    {
      name: 'Gt beyond int64 is not an integer',
      requirement: expr('cores', 'Gt', '99999999999999999999'),
      want: ['Invalid r.values[0]'],
    },
    {
      name: 'Gt with a negative number is not a label value',
      requirement: expr('temp', 'Gt', '-1'),
      want: ['Invalid r.values[0]'],
    },
    {
      name: 'an unsupported operator is reported',
      requirement: expr('zone', 'Equals', 'a'),
      want: ['NotSupported r.operator'],
    },
    { name: 'an invalid key is reported', requirement: expr('a~b/c', 'Exists'), want: ['Invalid r.key'] },
    {
      name: 'an invalid value is reported at its index',
      requirement: expr('zone', 'In', 'a', 'b c'),
      want: ['Invalid r.values[1]'],
    },
  ])('$name', ({ requirement, want }) => {
    expect(summary(validateNodeSelectorRequirement(requirement, 'r'))).toEqual(want);
  });

  it('lists the supported operators', () => {
    expect(validateNodeSelectorRequirement(expr('zone', 'Equals', 'a'), 'r').map(formatFieldError)).toEqual([
      'r.operator: unsupported value "Equals"; supported values: "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"',
    ]);
  });
});

describe('validateNodeFieldSelectorRequirement', () => {
  it.each<{ name: string; requirement: V1NodeSelectorRequirement; want: string[] }>([
    { name: 'In on metadata.name with one node name is valid', requirement: nameIs('In', 'worker-1'), want: [] },
    {
      name: 'NotIn on metadata.name with one node name is valid',
      requirement: nameIs('NotIn', 'worker-1.example.com'),
      want: [],
    },
    {
      name: 'only metadata.name may be selected',
      requirement: { key: 'metadata.namespace', operator: 'In', values: ['x'] },
      want: ['NotSupported f.key'],
    },
    {
      name: 'Exists is not a field selector operator',
      requirement: nameIs('Exists'),
      want: ['NotSupported f.operator'],
    },
    { name: 'two values are one too many', requirement: nameIs('In', 'a', 'b'), want: ['Required f.values'] },
    { name: 'no value is one too few', requirement: nameIs('NotIn'), want: ['Required f.values'] },
    {
      name: 'a value that is not a node name is invalid',
      requirement: nameIs('In', 'Worker_1'),
      want: ['Invalid f.values[0]'],
    },
  ])('$name', ({ requirement, want }) => {
    expect(summary(validateNodeFieldSelectorRequirement(requirement, 'f'))).toEqual(want);
  });
});

describe('validateNodeSelectorTerms', () => {
  const path = 'required.nodeSelectorTerms';

  it.each<{ name: string; terms: V1NodeSelectorTerm[] | undefined; want: string[] }>([
    { name: 'a valid term produces no errors', terms: [term(expr('zone', 'In', 'a'))], want: [] },
    { name: 'a term with only matchFields is valid', terms: [withFields({}, nameIs('In', 'n1'))], want: [] },
    { name: 'an empty list needs a term', terms: [], want: [`Required ${path}`] },
    { name: 'a missing list needs a term', terms: undefined, want: [`Required ${path}`] },
    { name: 'an empty term is forbidden', terms: [term(expr('zone', 'Exists')), {}], want: [`Forbidden ${path}[1]`] },
    {
      name: 'a term with empty lists is forbidden',
      terms: [{ matchExpressions: [], matchFields: [] }],
      want: [`Forbidden ${path}[0]`],
    },
    {
      name: 'errors carry the path of the term and the requirement',
      terms: [term(expr('zone', 'In', 'a')), withFields(term(expr('cores', 'Gt', 'ten')), nameIs('Exists'))],
      want: [`Invalid ${path}[1].matchExpressions[0].values[0]`, `NotSupported ${path}[1].matchFields[0].operator`],
    },
  ])('$name', ({ terms, want }) => {
    expect(summary(validateNodeSelectorTerms(terms, path))).toEqual(want);
  });

  it('explains why an empty term is forbidden', () => {
    expect(validateNodeSelectorTerms([{}], 'terms').map(formatFieldError)).toEqual(['terms[0]: an empty term matches no node']);
  });
});
