import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { progressReporter, PROGRESS_MIN_OBJECTS } from './audit.js';
import { run } from './run.js';
import { captureOutput } from '../../test/support/output.js';

const DEMO = 'test/replay/audit/demo';
const dir = mkdtempSync(join(tmpdir(), 'audit-cli-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const { out, err } = captureOutput();

const base = ['--rules', `${DEMO}/rules.yaml`, '--nodes', `${DEMO}/nodes.yaml`];

describe('audit (command line)', { timeout: 30_000 }, () => {
  it.each([
    {
      name: 'without --pods',
      args: [...base],
      want: 'error: --nodes and --pods are required (or --kubeconfig): there is nothing to audit without them',
    },
    {
      name: 'with --context but no --kubeconfig',
      args: [...base, '--pods', `${DEMO}/pods.yaml`, '--context', 'x'],
      want: 'error: --context needs --kubeconfig',
    },
    {
      name: 'with an unknown output format',
      args: [...base, '--pods', `${DEMO}/pods.yaml`, '-o', 'xml'],
      want: 'error: -o: unsupported value "xml"',
    },
    {
      name: 'with a pod of the wrong shape',
      args: [...base, '--pods', file('bad-pods.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [], tolerations: 3}\n')],
      want: 'error: ',
    },
    {
      name: 'with a Pod among the workloads',
      args: [...base, '--pods', `${DEMO}/pods.yaml`, file('pod.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n')],
      want: 'pods go in --pods',
    },
    {
      name: 'with files and --kubeconfig',
      args: ['--kubeconfig', file('kc', ''), '--nodes', `${DEMO}/nodes.yaml`],
      want: "error: --nodes is for files; with --kubeconfig the cluster's own are read",
    },
  ])('exits 2 $name, saying why', async ({ args, want }) => {
    expect(await run(['audit', ...args])).toBe(2);
    expect(err.join('')).toContain(want);
    expect(err.join('')).not.toContain('    at ');
  });

  it('exits 0 on a clean cluster, and says so', async () => {
    const pods = file(
      'clean.yaml',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: demo}\nspec: {nodeName: worker-2, containers: [{name: a, image: x}]}\nstatus: {phase: Running}\n',
    );
    expect(await run(['audit', ...base, '--pods', pods])).toBe(0);
    expect(out.join('')).toBe('no findings (1 pods, 0 workloads, 6 nodes)\n');
  });

  it('exits 0 when every finding is informational', async () => {
    const pods = file(
      'info.yaml',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: demo}\nspec: {nodeName: worker-1, containers: [{name: a, image: x}]}\nstatus: {phase: Running}\n',
    );
    expect(await run(['audit', ...base, '--pods', pods, '-o', 'yaml'])).toBe(0);
    expect(out.join('')).toContain('kind: noschedule-taint');
  });
});

describe('progressReporter', () => {
  const stream = (isTTY: boolean) => {
    const lines: string[] = [];
    return { lines, s: { isTTY, write: (t: string) => lines.push(t) } as unknown as NodeJS.WriteStream };
  };

  it('rewrites one line on a terminal and clears it at the end', () => {
    const { lines, s } = stream(true);
    const p = progressReporter('audit', s);
    p?.(1000, 3000);
    p?.(3000, 3000);
    expect(lines).toEqual(['\raudit: 1000/3000 objects', '\r\x1b[K']);
  });

  it('is silent for small inputs off a terminal, and writes a line as each tenth begins for large ones', () => {
    const small = stream(false);
    progressReporter('audit', small.s)?.(1000, 3000);
    expect(small.lines).toEqual([]);
    const large = stream(false);
    const p = progressReporter('audit', large.s);
    const total = PROGRESS_MIN_OBJECTS * 2;
    for (let done = 1000; done <= total; done += 1000) p?.(done, total);
    expect(large.lines).toHaveLength(11);
    expect(large.lines[10]).toBe(`audit: ${total}/${total} objects\n`);
  });
});
