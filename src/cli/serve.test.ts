import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it, vi } from 'vitest';
import { generateCertificate } from '../server/tls.js';
import { run } from './run.js';

const fixture = (name: string) => new URL(`../../test/fixtures/cli/${name}`, import.meta.url).pathname;

let dir: string;
let busy: Server;
let busyPort: number;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
  const a = await generateCertificate({ commonName: 'a', sans: ['127.0.0.1'], days: 1 });
  const b = await generateCertificate({ commonName: 'b', sans: ['127.0.0.1'], days: 1 });
  writeFileSync(join(dir, 'a.crt'), a.cert);
  writeFileSync(join(dir, 'a.key'), a.key);
  writeFileSync(join(dir, 'b.key'), b.key);
  writeFileSync(join(dir, 'not-pem'), 'hello\n');
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const address = busy.address();
  busyPort = typeof address === 'object' && address ? address.port : 0;
});
afterAll(async () => {
  await new Promise((resolve) => busy.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

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

describe('placement-webhook serve: bad input is exit 2 with one line, not a crash', () => {
  const pair = (cert: string, key: string) => ['--tls-cert', join(dir, cert), '--tls-key', join(dir, key)];
  it.each([
    {
      name: 'a certificate file that does not exist',
      flags: () => pair('missing.crt', 'a.key'),
      want: () => `error: --tls-cert: cannot read ${join(dir, 'missing.crt')}: ENOENT: no such file or directory`,
    },
    {
      name: 'a certificate file that is not PEM',
      flags: () => pair('not-pem', 'a.key'),
      want: () => `error: --tls-cert ${join(dir, 'not-pem')} --tls-key ${join(dir, 'a.key')}: not a usable certificate and key: `,
    },
    {
      name: 'a key that does not match the certificate',
      flags: () => pair('a.crt', 'b.key'),
      want: () =>
        `error: --tls-cert ${join(dir, 'a.crt')} --tls-key ${join(dir, 'b.key')}: not a usable certificate and key: the private key does not match the certificate`,
    },
    {
      name: 'a port another process listens on',
      flags: () => ['--host', '127.0.0.1', '--port', String(busyPort), ...pair('a.crt', 'a.key')],
      want: () => `error: --host 127.0.0.1 --port ${busyPort}: cannot listen: listen EADDRINUSE: address already in use`,
    },
    {
      name: 'a kubeconfig that does not exist',
      flags: () => ['--kubeconfig', join(dir, 'missing'), '--rules-configmap', 'ns/rules'],
      want: () => `error: --kubeconfig ${join(dir, 'missing')}: cannot load the cluster configuration: ENOENT: no such file or directory`,
    },
    { name: 'a port out of range', flags: () => ['--port', '70000'], want: () => 'error: --port: invalid value "70000"' },
    {
      name: 'a --pods file that does not exist (local mode reads it before serving)',
      flags: () => ['--rules', fixture('rules-none.yaml'), '--pods', join(dir, 'missing-pods.yaml')],
      want: () => `error: cannot read ${join(dir, 'missing-pods.yaml')}: ENOENT: no such file or directory`,
    },
    {
      name: 'a --nodepools file with a NodePool that cannot be read',
      flags: () => ['--rules', fixture('rules-none.yaml'), '--nodepools', fixture('nodepool-no-operator.yaml')],
      want: () =>
        `error: ${fixture('nodepool-no-operator.yaml')}: NodePool broken: spec.template.spec.requirements[0]: cannot be read as a requirement`,
    },
    {
      name: 'a --watch-pods that is neither true nor false',
      flags: () => ['--rules-configmap', 'ns/rules', '--watch-pods=sometimes'],
      want: () => 'error: --watch-pods: expected true or false, got "sometimes"',
    },
    {
      name: '--pods in cluster mode',
      flags: () => ['--rules-configmap', 'ns/rules', '--pods', fixture('pods-busy.yaml')],
      want: () => 'error: --pods: for local mode; in cluster mode they come from the API server',
    },
  ])(
    '$name',
    async ({ flags, want }) => {
      expect(await run(['serve', ...flags()])).toBe(2);
      const lines = err.join('').trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]?.startsWith(want())).toBe(true);
    },
    30_000,
  );
});
