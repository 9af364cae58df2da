/**
 * Certificates: generation (selfsigned) for development and for `placement-webhook certs`, and the TLS options
 * the server uses (TLS 1.2 at least).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export const MIN_TLS_VERSION = 'TLSv1.2';

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateRequest {
  readonly commonName: string;
  /** DNS names and IP addresses for the subjectAltName extension. */
  readonly sans: readonly string[];
  readonly days?: number;
  /** Sign with this CA; self-signed when absent. */
  readonly ca?: KeyPair;
  readonly isCa?: boolean;
}

export async function generateCertificate(req: CertificateRequest): Promise<KeyPair> {
  const notBeforeDate = new Date(Date.now() - 5 * 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + (req.days ?? 365) * 86_400_000);
  const altNames = req.sans.map((san) => (isIP(san) ? { type: 7 as const, ip: san } : { type: 2 as const, value: san }));
  const result = await generate([{ name: 'commonName', value: req.commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ...(req.ca ? { ca: { cert: req.ca.cert, key: req.ca.key } } : {}),
    extensions: req.isCa
      ? [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
        ]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          ...(altNames.length > 0 ? [{ name: 'subjectAltName' as const, altNames }] : []),
        ],
  });
  return { cert: result.cert, key: result.private };
}

export const DEV_CERT_FILE = 'localhost.crt';
export const DEV_KEY_FILE = 'localhost.key';

/**
 * The development certificate for `localhost` and `127.0.0.1` in `dir`: generated on first use, reused after.
 * Returns the files and whether they were just created.
 */
export async function ensureDevCertificate(dir: string): Promise<{ certFile: string; keyFile: string; created: boolean }> {
  const certFile = join(dir, DEV_CERT_FILE);
  const keyFile = join(dir, DEV_KEY_FILE);
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile, created: false };
  const pair = await generateCertificate({ commonName: 'localhost', sans: ['localhost', '127.0.0.1'], days: 365 });
  await mkdir(dir, { recursive: true });
  await writeFile(keyFile, pair.key, { mode: 0o600 });
  await writeFile(certFile, pair.cert);
  return { certFile, keyFile, created: true };
}

export async function readKeyPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { cert, key };
}
