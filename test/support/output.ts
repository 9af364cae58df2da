import { afterEach, beforeEach, vi } from 'vitest';

/**
 * What the code under test writes to stdout and stderr, caught for each test of the file that calls this (at its top
 * level): the arrays are emptied before each test, and the streams restored after it.
 */
export function captureOutput(): { readonly out: string[]; readonly err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  beforeEach(() => {
    out.length = 0;
    err.length = 0;
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err.push(String(chunk));
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  return { out, err };
}
