import { describe, expect, it } from 'vitest';
import { run } from './run.js';
import { parseLabel, parseTaint, splitChanges } from './whatif.js';
import { captureOutput } from '../../test/support/output.js';

const DEMO = 'test/replay/audit/demo';
const inputs = ['--rules', `${DEMO}/rules.yaml`, '--nodes', `${DEMO}/nodes.yaml`, '--pods', `${DEMO}/pods.yaml`];

const { out, err } = captureOutput();

describe('splitChanges', () => {
  it('keeps the changes in the order given and leaves the rest to parseArgs', () => {
    expect(splitChanges(['--drain', 'n1', '--rules', 'r.yaml', '--taint', 'n2', 'k=v:NoExecute', '--label=x', '--cordon=n3', 'w.yaml'])).toEqual({
      changes: [
        { flag: '--drain', values: ['n1'] },
        { flag: '--taint', values: ['n2', 'k=v:NoExecute'] },
        { flag: '--cordon', values: ['n3'] },
      ],
      rest: ['--rules', 'r.yaml', '--label=x', 'w.yaml'],
    });
  });

  it.each([
    [['--taint', 'n1'], '--taint takes a node and a taint (key=value:Effect)'],
    [['--label', 'n1', '--drain', 'n2'], '--label takes a node and a label (key=value or key-)'],
    [['--drain'], '--drain takes a value'],
  ])('refuses %j', (argv, want) => {
    expect(() => splitChanges(argv)).toThrow(want);
  });
});

describe('parseTaint and parseLabel', () => {
  it.each([
    ['k=v:NoExecute', { kind: 'taint', node: 'n', taint: { key: 'k', value: 'v', effect: 'NoExecute' } }],
    ['k:NoSchedule', { kind: 'taint', node: 'n', taint: { key: 'k', effect: 'NoSchedule' } }],
    ['k:NoSchedule-', { kind: 'taint', node: 'n', taint: { key: 'k', effect: 'NoSchedule' }, remove: true }],
    ['k-', { kind: 'taint', node: 'n', taint: { key: 'k', effect: '' }, remove: true }],
  ])('reads the taint %s', (spec, want) => {
    expect(parseTaint('n', spec)).toEqual(want);
  });

  it.each([
    ['k=v', 'expected key=value:Effect'],
    ['k=v:Sometimes', 'unsupported effect "Sometimes"'],
    ['bad key=v:NoSchedule', '--taint n bad key=v:NoSchedule: key'],
  ])('refuses the taint %s', (spec, want) => {
    expect(() => parseTaint('n', spec)).toThrow(want);
  });

  it.each([
    ['zone=a', { kind: 'label', node: 'n', key: 'zone', value: 'a' }],
    ['zone=', { kind: 'label', node: 'n', key: 'zone', value: '' }],
    ['zone-', { kind: 'label', node: 'n', key: 'zone', value: undefined }],
  ])('reads the label %s', (spec, want) => {
    expect(parseLabel('n', spec)).toEqual(want);
  });

  it('refuses a label without a value', () => {
    expect(() => parseLabel('n', 'zone')).toThrow('expected key=value, or key- to remove it');
  });
});

describe('whatif (command line)', { timeout: 30_000 }, () => {
  it.each([
    { name: 'without a change', args: [...inputs], want: 'error: whatif needs a change' },
    { name: 'with a node the cluster does not have', args: [...inputs, '--drain', 'worker-9'], want: 'error: drain worker-9: no node "worker-9"' },
    {
      name: 'with a taint of no effect',
      args: [...inputs, '--taint', 'worker-1', 'k=v'],
      want: 'error: --taint worker-1 k=v: expected key=value:Effect',
    },
    {
      name: 'with a PDB file holding something else',
      args: [...inputs, '--drain', 'worker-2', '--pdbs', `${DEMO}/rules.yaml`],
      want: 'kind: expected PodDisruptionBudget',
    },
    { name: 'with rules-after that do not compile', args: [...inputs, '--rules-after', `${DEMO}/nodes.yaml`], want: 'error: ' },
  ])('exits 2 $name, saying why', async ({ args, want }) => {
    expect(await run(['whatif', ...args])).toBe(2);
    expect(err.join('')).toContain(want);
    expect(err.join('')).not.toContain('    at ');
  });

  it('prints what the change causes as JSON, with the changes applied', async () => {
    expect(await run(['whatif', ...inputs, '--remove-node', 'spot-1', '-o', 'json'])).toBe(0);
    expect(JSON.parse(out.join(''))).toEqual({ changes: ['remove node spot-1'], findings: [], notes: [] });
  });
});
