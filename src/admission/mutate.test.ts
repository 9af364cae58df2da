import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { makeNode, makePod, ruleSet } from '../../test/support/builders.js';
import { StaticCluster } from '../cluster/static.js';
import type { Rule, Settings } from '../rules/schema.js';
import { NodeIndex } from '../scheduling/node-index.js';
import type { AdmissionContext } from './context.js';
import { handleMutate } from './mutate.js';
import type { AdmissionRequest } from './types.js';

const NODEGROUP = 'eks.amazonaws.com/nodegroup';

/** An EKS cluster: on-demand nodes of one node group, spot nodes of another. */
const NODES = () => [
  makeNode('od-1').label(NODEGROUP, 'on-demand-ng').label('lifecycle', 'OnDemand'),
  makeNode('spot-1').label(NODEGROUP, 'spot-ng').label('lifecycle', 'Ec2Spot'),
];

const SPOT_CONSUMERS: Rule = {
  name: 'spot-consumers',
  match: { podSelector: { matchLabels: { app: 'consumer' } } },
  inject: { nodeSelector: { lifecycle: 'Ec2Spot' } },
  onConflict: 'keep',
};

const request = (pod: V1Pod): AdmissionRequest => ({
  uid: 'u1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  namespace: 'default',
  operation: 'CREATE',
  object: pod,
});

const consumer = () => makePod('c').label('app', 'consumer');
const cluster = (rules: Rule[] = [SPOT_CONSUMERS], settings?: Settings) =>
  new StaticCluster(
    ruleSet(rules, settings),
    NODES().map((n) => n.v1()),
  );

describe('the mutating side says when a rule leaves the pod asking for labels no node has', () => {
  it.each<{ name: string; pod: V1Pod; ctx: AdmissionContext; warning: string | undefined }>([
    {
      name: 'a pod pinned to the on-demand node group, given the spot label by a rule: warned, naming the rule',
      pod: consumer().nodeSelector(NODEGROUP, 'on-demand-ng').obj(),
      ctx: cluster(),
      warning: 'rule spot-consumers: no node matches the resulting node selector (eks.amazonaws.com/nodegroup=on-demand-ng, lifecycle=Ec2Spot)',
    },
    {
      name: 'the same pod when a node template has both labels: no warning (an autoscaler can add one)',
      pod: consumer().nodeSelector(NODEGROUP, 'on-demand-ng').obj(),
      ctx: cluster([SPOT_CONSUMERS], {
        validation: { nodeTemplates: [{ name: 'mixed', labels: { [NODEGROUP]: 'on-demand-ng', lifecycle: 'Ec2Spot' } }] },
      }),
      warning: undefined,
    },
    {
      name: 'a pod whose own selector matched nothing before the rules: no warning (validation says why)',
      pod: consumer().nodeSelector(NODEGROUP, 'gpu-ng').obj(),
      ctx: cluster(),
      warning: undefined,
    },
    {
      name: 'a pod the rule sends where nodes exist: no warning',
      pod: consumer().obj(),
      ctx: cluster(),
      warning: undefined,
    },
    {
      name: 'the second of two rules is named when the first still left a node',
      pod: consumer().nodeSelector(NODEGROUP, 'spot-ng').obj(),
      ctx: cluster([
        { name: 'spot', match: { podSelector: { matchLabels: { app: 'consumer' } } }, inject: { nodeSelector: { lifecycle: 'Ec2Spot' } } },
        {
          name: 'zone-a',
          inject: {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
                },
              },
            },
          },
        },
      ]),
      warning:
        'rule zone-a: no node matches the resulting node selector and required node affinity (eks.amazonaws.com/nodegroup=spot-ng, lifecycle=Ec2Spot)',
    },
    {
      name: 'a node list that cannot be trusted: no warning',
      pod: consumer().nodeSelector(NODEGROUP, 'on-demand-ng').obj(),
      ctx: {
        rules: () => ruleSet([SPOT_CONSUMERS]),
        namespaceLabels: () => undefined,
        nodes: () => ({ index: new NodeIndex(NODES().map((n) => n.obj())), incomplete: 'stale' }),
      },
      warning: undefined,
    },
  ])('$name', ({ pod, ctx, warning }) => {
    const r = handleMutate(request(pod), ctx);
    expect(r.response.allowed).toBe(true);
    const lost = (r.response.warnings ?? []).filter((w) => w.includes('no node matches'));
    expect(lost).toEqual(warning === undefined ? [] : [warning]);
    expect(r.record.warnings).toBe(r.warnings.length);
  });
});
