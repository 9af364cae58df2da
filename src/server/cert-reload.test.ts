import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CertificateReloader, certificateNotAfter, checkKeyPair } from './cert-reload.js';
import { generateCertificate, type KeyPair } from './tls.js';

describe('CertificateReloader', () => {
  let dir: string;
  let a: KeyPair;
  let b: KeyPair;
  const reloaded: KeyPair[] = [];
  const errors: string[] = [];
  let reloader: CertificateReloader;

  const write = async (pair: KeyPair) => {
    await writeFile(join(dir, 'tls.crt'), pair.cert);
    await writeFile(join(dir, 'tls.key'), pair.key);
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cert-reload-'));
    a = await generateCertificate({ commonName: 'a', sans: ['127.0.0.1'], days: 1 });
    b = await generateCertificate({ commonName: 'b', sans: ['127.0.0.1'], days: 30 });
    reloaded.length = 0;
    errors.length = 0;
    await write(a);
    reloader = new CertificateReloader(a, {
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
      intervalMs: 60_000,
      onReload: (p) => reloaded.push(p),
      onError: (e) => errors.push(e instanceof Error ? e.message : String(e)),
    });
  });

  afterEach(async () => {
    reloader.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('does nothing while the files are unchanged', async () => {
    expect(await reloader.check()).toBe(false);
    expect(reloaded).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('reloads a new valid pair once', async () => {
    await write(b);
    expect(await reloader.check()).toBe(true);
    expect(reloaded).toEqual([b]);
    expect(await reloader.check()).toBe(false);
  });

  it('refuses a certificate whose key does not match, keeping the current pair', async () => {
    await writeFile(join(dir, 'tls.crt'), b.cert); // key still a's
    expect(await reloader.check()).toBe(false);
    expect(reloaded).toEqual([]);
    expect(errors).toEqual(['the private key does not match the certificate']);
    await write(b);
    expect(await reloader.check()).toBe(true);
  });

  it('refuses garbage and missing files without throwing', async () => {
    await writeFile(join(dir, 'tls.crt'), 'not a certificate');
    expect(await reloader.check()).toBe(false);
    await rm(join(dir, 'tls.key'));
    expect(await reloader.check()).toBe(false);
    expect(errors).toHaveLength(2);
    expect(reloaded).toEqual([]);
  });

  it('reads the expiry of a certificate', () => {
    const days = (certificateNotAfter(b.cert).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThan(31);
    expect(() => checkKeyPair(a)).not.toThrow();
  });
});
