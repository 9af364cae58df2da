import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { subjectAltNameProblem } from '../server/tls.js';
import { makeDirectory } from './files.js';
import { run } from './run.js';
import { captureOutput } from '../../test/support/output.js';

const { out, err } = captureOutput();
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'certs-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const certs = (...flags: string[]) => run(['certs', '--out', join(dir, 'out'), '--kustomize-dir', join(dir, 'kustomize'), ...flags]);

describe('placement-webhook certs: bad input is exit 2 with one line, and nothing written', () => {
  it.each([
    {
      name: 'a --san that is neither a DNS name nor an IP address',
      flags: ['--san', 'not_valid!'],
      want: '--san: invalid value "not_valid!": not an IP address, nor a DNS name',
    },
    {
      name: 'a --san in upper case (DNS names are checked as Kubernetes checks host names)',
      flags: ['--san', 'Webhook.example.com'],
      want: '--san: invalid value "Webhook.example.com"',
    },
    { name: 'a --san with a wildcard other than in front', flags: ['--san', 'a.*.example.com'], want: '--san: invalid value "a.*.example.com"' },
    { name: 'a --san that is only a wildcard', flags: ['--san', '*'], want: '--san: invalid value "*"' },
    { name: 'a --san with an empty label', flags: ['--san', 'a..example.com'], want: '--san: invalid value "a..example.com"' },
    {
      name: 'a --san with a label longer than 63 characters',
      flags: ['--san', `${'a'.repeat(64)}.example.com`],
      want: 'each label of a DNS name must be no more than 63 characters',
    },
    {
      name: 'a --san that is an IPv6 address with a zone',
      flags: ['--san', 'fe80::1%eth0'],
      want: 'an IPv6 address with a zone cannot be certified',
    },
    { name: 'a --san that is an IPv4 address with leading zeros', flags: ['--san', '010.0.0.1'], want: '--san: invalid value "010.0.0.1"' },
    {
      name: 'a --service in upper case',
      flags: ['--service', 'UPPER'],
      want: '--service: invalid value "UPPER": a Service name (DNS-1035 label) must consist of lower case',
    },
    {
      name: 'a --service that starts with a digit (a Service name is a DNS-1035 label)',
      flags: ['--service', '1webhook'],
      want: '--service: invalid value "1webhook"',
    },
    { name: 'a --service longer than 63 characters', flags: ['--service', 'a'.repeat(64)], want: 'must be no more than 63 characters' },
    {
      name: 'a --namespace with an underscore',
      flags: ['--namespace', 'my_ns'],
      want: '--namespace: invalid value "my_ns": a namespace name (DNS-1123 label)',
    },
    { name: 'a --namespace ending with a dash', flags: ['--namespace', 'ns-'], want: '--namespace: invalid value "ns-"' },
    { name: '--days 0', flags: ['--days', '0'], want: '--days: invalid value "0": must be a whole number of days from 1 to 36500' },
    { name: '--days in exponent notation', flags: ['--days', '1e3'], want: '--days: invalid value "1e3"' },
    { name: '--days beyond a century', flags: ['--days', '36501'], want: '--days: invalid value "36501"' },
    { name: 'an argument', flags: ['extra'], want: 'certs takes no arguments, got "extra"' },
  ])('$name', async ({ flags, want }) => {
    expect(await certs(...flags)).toBe(2);
    const lines = err.join('').trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.startsWith('error: ')).toBe(true);
    expect(lines[0]).toContain(want);
    expect(out.join('')).toBe('');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--out under a regular file', async () => {
    writeFileSync(join(dir, 'file'), '');
    expect(await run(['certs', '--out', join(dir, 'file', 'sub'), '--kustomize-dir', join(dir, 'k')])).toBe(2);
    expect(err.join('')).toBe(`error: --out: cannot create directory ${join(dir, 'file', 'sub')}: ${join(dir, 'file')}: not a directory\n`);
  });

  it('--out naming a regular file', async () => {
    writeFileSync(join(dir, 'file'), '');
    expect(await run(['certs', '--out', join(dir, 'file'), '--kustomize-dir', join(dir, 'k')])).toBe(2);
    expect(err.join('')).toBe(`error: --out: cannot create directory ${join(dir, 'file')}: a file of that name exists\n`);
  });

  it('--out where a file cannot be written: the file is named', async () => {
    await makeDirectory(join(dir, 'out', 'ca.crt'), '--out');
    expect(await certs()).toBe(2);
    expect(err.join('')).toMatch(new RegExp(`^error: cannot write ${join(dir, 'out', 'ca.crt')}: EISDIR: [^\\n]*\\n$`));
  });

  it.skipIf(!existsSync('/proc/self'))(
    "--out under /proc fails at once (Node's recursive mkdir spins there forever)",
    async () => {
      const started = Date.now();
      expect(await run(['certs', '--out', '/proc/placement-webhook-test/certs', '--kustomize-dir', join(dir, 'k')])).toBe(2);
      expect(err.join('')).toBe(
        'error: --out: cannot create directory /proc/placement-webhook-test/certs: /proc/placement-webhook-test: ENOENT: no such file or directory (its parent directory cannot hold new entries)\n',
      );
      expect(Date.now() - started).toBeLessThan(2000);
    },
    10_000,
  );
});

describe('placement-webhook certs: what it writes', () => {
  it('DNS names (a wildcard too), IPv4 and IPv6 addresses become subjectAltNames beside the Service names', async () => {
    expect(await certs('--san', '*.webhook.example.com', '--san', '10.0.0.1', '--san', 'fd00::1', '--san', 'webhook.example.com')).toBe(0);
    const cert = new X509Certificate(readFileSync(join(dir, 'out', 'tls.crt')));
    expect(cert.subjectAltName?.split(', ')).toEqual([
      'DNS:placement-webhook',
      'DNS:placement-webhook.placement-webhook',
      'DNS:placement-webhook.placement-webhook.svc',
      'DNS:placement-webhook.placement-webhook.svc.cluster.local',
      'DNS:*.webhook.example.com',
      'IP Address:10.0.0.1',
      'IP Address:FD00:0:0:0:0:0:0:1',
      'DNS:webhook.example.com',
    ]);
    expect(readdirSync(join(dir, 'kustomize')).sort()).toEqual(['ca-bundle-patch.yaml', 'tls-secret.yaml']);
  });

  it('creates missing directories, parents first', async () => {
    expect(await run(['certs', '--out', join(dir, 'a', 'b', 'c'), '--kustomize-dir', join(dir, 'a', 'k')])).toBe(0);
    expect(readdirSync(join(dir, 'a', 'b', 'c')).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  });
});

describe('subjectAltNameProblem', () => {
  it.each([
    { san: 'localhost', ok: true },
    { san: '127.0.0.1', ok: true },
    { san: '::1', ok: true },
    { san: 'placement-webhook.placement-webhook.svc.cluster.local', ok: true },
    { san: '*.example.com', ok: true },
    { san: '', ok: false },
    { san: '-a.example.com', ok: false },
    { san: 'example.com.', ok: false },
    { san: '*.*.example.com', ok: false },
    { san: '1.2.3', ok: false },
    { san: '10.0.0.256', ok: false },
    { san: 'host-1.example.com', ok: true },
    { san: '1password.example.com', ok: true },
    { san: `${'a.'.repeat(126)}ab`, ok: false },
  ])('$san: valid $ok', ({ san, ok }) => {
    expect(subjectAltNameProblem(san) === undefined).toBe(ok);
  });
});
