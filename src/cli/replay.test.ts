import { describe, expect, it } from 'vitest';
import { captureOutput } from '../../test/support/output.js';
import { run } from './run.js';

const fixture = (name: string) => new URL(`../../test/fixtures/cli/${name}`, import.meta.url).pathname;

const { out } = captureOutput();

interface Replayed {
  review: { response: { allowed: boolean; warnings?: string[]; status?: { message?: string } } };
}
const replayed = () => (JSON.parse(out.join('')) as Replayed[])[0]?.review.response;

const THREE = ['--rules', fixture('rules-none.yaml'), '--nodes', fixture('nodes-three-zones.yaml'), '--endpoint', 'validate'];

describe('placement-webhook replay --nodepools and --pods: the routes with addable capacity and a pod cache', () => {
  it.each([
    {
      name: 'with --nodepools, a pod only a NodePool fits is allowed with a warning naming the pool',
      args: [...THREE, '--nodepools', fixture('nodepools.yaml'), fixture('review-spot-pod.json')],
      code: 0,
      want: {
        allowed: true,
        warnings: [
          'no current node fits; NodePool spot can provision one (Karpenter adds it)',
          '  cpu checked only against its limits (instance sizes are not known in the cluster)',
        ],
      },
    },
    {
      name: 'without --nodepools the same pod is denied',
      args: [...THREE, fixture('review-spot-pod.json')],
      code: 1,
      want: { allowed: false, status: { message: "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector." } },
    },
    {
      name: 'with --pods, a pod no node has room for now is allowed with a warning that it will stay Pending',
      args: [...THREE, '--pods', fixture('pods-busy.yaml'), fixture('review-four-cpu-pod.json')],
      code: 0,
      want: { allowed: true, warnings: ['will stay Pending: 0/3 nodes are available:', '  3 Insufficient cpu'] },
    },
    {
      name: 'without --pods, as the webhook without a pod cache: not asked, no warning',
      args: [...THREE, fixture('review-four-cpu-pod.json')],
      code: 0,
      want: { allowed: true, warnings: [] },
    },
  ])(
    '$name',
    async ({ args, code, want }) => {
      expect(await run(['replay', ...args])).toBe(code);
      const { warnings, ...rest } = want;
      const response = replayed();
      expect(response).toMatchObject(rest);
      // An answer without warnings leaves the field out.
      if (warnings) expect(response?.warnings ?? []).toEqual(warnings);
    },
    30_000,
  );
});
