import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from './run.js';

const fixture = (name: string) => new URL(`../../test/fixtures/cli/${name}`, import.meta.url).pathname;

let err: string[];
beforeEach(() => {
  err = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('placement-webhook serve --audit-interval: bad values are exit 2 with one line', () => {
  it.each([
    {
      name: 'not a duration',
      flags: ['--rules-configmap', 'ns/rules', '--audit-interval', 'hourly'],
      want: 'error: --audit-interval: invalid duration "hourly"; use e.g. 60s, 2m, 500ms',
    },
    {
      name: 'below one second',
      flags: ['--rules-configmap', 'ns/rules', '--audit-interval', '500ms'],
      want: 'error: --audit-interval: at least 1s, got "500ms"',
    },
    { name: 'zero', flags: ['--rules-configmap', 'ns/rules', '--audit-interval=0'], want: 'error: --audit-interval: at least 1s, got "0"' },
    {
      name: 'in local mode',
      flags: ['--rules', fixture('rules-none.yaml'), '--audit-interval', '5m'],
      want: 'error: --audit-interval: for cluster mode (--kubeconfig, --in-cluster or --rules-configmap)',
    },
  ])('$name', async ({ flags, want }) => {
    expect(await run(['serve', ...flags])).toBe(2);
    const lines = err.join('').trimEnd().split('\n');
    expect(lines).toEqual([want]);
  });

  it('the help names the flag', async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    expect(await run(['serve', '--help'])).toBe(0);
    expect(out.join('')).toContain('--audit-interval D');
  });
});
