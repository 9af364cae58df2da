import { describe, expect, it } from 'vitest';
import { makePod } from '../../test/support/builders.js';
import { Owners } from './owner.js';

const rs = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: {
    name: 'api-7d9f',
    namespace: 'shop',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api', uid: 'u', controller: true }],
  },
};
const job = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: {
    name: 'report-1',
    namespace: 'shop',
    ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: 'u', controller: true }],
  },
};

describe('Owners', () => {
  const owners = new Owners([rs, job]);
  it.each([
    { name: 'a pod without a controller has no owner', pod: makePod('p').ns('shop').obj(), want: undefined },
    {
      name: "a DaemonSet's pod: the DaemonSet",
      pod: makePod('p').ns('shop').ownedBy('DaemonSet', 'agent').obj(),
      want: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent' },
    },
    {
      name: 'a ReplicaSet among the workloads: its Deployment',
      pod: makePod('p').ns('shop').ownedBy('ReplicaSet', 'api-7d9f').obj(),
      want: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
    },
    {
      name: 'a ReplicaSet not given: the Deployment its name and pod-template-hash imply',
      pod: makePod('p').ns('shop').label('pod-template-hash', 'abc12').ownedBy('ReplicaSet', 'web-abc12').obj(),
      want: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
    },
    {
      name: 'a ReplicaSet whose name does not end with the hash: itself',
      pod: makePod('p').ns('shop').label('pod-template-hash', 'zz').ownedBy('ReplicaSet', 'custom').obj(),
      want: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'custom' },
    },
    {
      name: 'a Job among the workloads: its CronJob',
      pod: makePod('p').ns('shop').ownedBy('Job', 'report-1').obj(),
      want: { apiVersion: 'batch/v1', kind: 'CronJob', name: 'report' },
    },
    {
      name: 'the same ReplicaSet name in another namespace is not the one given',
      pod: makePod('p').ns('other').ownedBy('ReplicaSet', 'api-7d9f').obj(),
      want: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'api-7d9f' },
    },
  ])('$name', ({ pod, want }) => {
    expect(owners.ownerOf(pod, pod.metadata?.namespace ?? 'default')).toEqual(want);
  });
});
