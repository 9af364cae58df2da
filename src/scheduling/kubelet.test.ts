import { describe, expect, it } from 'vitest';
import { makeNode, makePod } from '../../test/support/builders.js';
import { podConstraints } from './feasibility.js';
import { kubeletFailureReason, kubeletVerdict } from './kubelet.js';

const node = () => makeNode('n1').label('zone', 'a').allocatable({ cpu: '4', memory: '8Gi', pods: '110' });
const requesting = (requests: Record<string, string>) => ({ resources: { requests } });

describe('kubeletVerdict: how the kubelet admits a pod bound to its node', () => {
  it.each([
    { name: 'a plain pod on a plain node is admitted', pod: makePod(), n: node(), want: 'admits' },
    { name: 'a cordoned node admits it (cordons are for the scheduler)', pod: makePod(), n: node().unschedulable(), want: 'admits' },
    {
      name: 'an untolerated NoSchedule taint does not matter',
      pod: makePod(),
      n: node().taint('nvidia.com/gpu', 'true', 'NoSchedule'),
      want: 'admits',
    },
    {
      name: 'an untolerated PreferNoSchedule taint does not matter',
      pod: makePod(),
      n: node().taint('spot', 'true', 'PreferNoSchedule'),
      want: 'admits',
    },
    {
      name: 'an untolerated NoExecute taint rejects it',
      pod: makePod(),
      n: node().taint('dedicated', 'db', 'NoExecute'),
      want: 'rejects',
      reason: 'node(s) had untolerated taint {dedicated: db} (NoExecute)',
    },
    {
      name: 'a tolerated NoExecute taint admits it',
      pod: makePod().toleration({ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }),
      n: node().taint('dedicated', 'db', 'NoExecute'),
      want: 'admits',
    },
    {
      name: 'a not-ready condition taint is transient: admitted, with a warning',
      pod: makePod(),
      n: node().taint('node.kubernetes.io/not-ready', undefined, 'NoExecute'),
      want: 'admits-transient',
    },
    {
      name: 'a nodeSelector the node does not match rejects it',
      pod: makePod().nodeSelector('zone', 'b'),
      n: node(),
      want: 'rejects',
      reason: "node(s) didn't match Pod's node affinity/selector",
    },
    {
      name: 'required node affinity the node does not match rejects it',
      pod: makePod().requiredTerms([{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }]),
      n: node(),
      want: 'rejects',
      reason: "node(s) didn't match Pod's node affinity/selector",
    },
    {
      name: 'more cpu than the node has rejects it, with the amounts',
      pod: makePod().container('app', requesting({ cpu: '8' })),
      n: node(),
      want: 'rejects',
      reason: 'Insufficient cpu (the pod requests 8, the node has 4)',
    },
    {
      name: 'resources are checked before node affinity (the kubelet reports the first failure)',
      pod: makePod()
        .nodeSelector('zone', 'b')
        .container('app', requesting({ memory: '16Gi' })),
      n: node(),
      want: 'rejects',
      reason: 'Insufficient memory (the pod requests 16Gi, the node has 8Gi)',
    },
    {
      name: 'an extended resource the node does not list is not checked (removeMissingExtendedResources)',
      pod: makePod().container('app', requesting({ 'example.com/licence': '1' })),
      n: node(),
      want: 'admits',
    },
    {
      name: 'an extended resource the node lists is checked',
      pod: makePod().container('app', requesting({ 'nvidia.com/gpu': '2' })),
      n: node().allocatable({ 'nvidia.com/gpu': '1' }),
      want: 'rejects',
      reason: 'Insufficient nvidia.com/gpu (the pod requests 2, the node has 1)',
    },
    {
      name: 'hugepages are not extended resources: missing means none',
      pod: makePod().container('app', { resources: { requests: { 'hugepages-2Mi': '2Mi' }, limits: { 'hugepages-2Mi': '2Mi' } } }),
      n: node(),
      want: 'rejects',
      reason: 'Insufficient hugepages-2Mi (the pod requests 2Mi, the node has 0)',
    },
    {
      name: 'a node that accepts no pods rejects it',
      pod: makePod(),
      n: node().allocatable({ pods: '0' }),
      want: 'rejects',
      reason: 'Too many pods (the node accepts no pods)',
    },
  ])('$name', ({ pod, n, want, reason }) => {
    const verdict = kubeletVerdict(podConstraints(pod.spec({ nodeName: 'n1' }).obj()), n.obj());
    expect(verdict.kind).toBe(want);
    if (verdict.kind === 'rejects') expect(kubeletFailureReason(verdict.failure)).toBe(reason);
  });
});
