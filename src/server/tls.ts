/**
 * Certificates: generation (selfsigned) for development and for `placement-webhook certs`, and the TLS options
 * the server uses (TLS 1.2 at least).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { PlacementError } from '../util/errors.js';

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

const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_NAME = new RegExp(`^(\\*\\.)?${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const DNS_NAME_MAX_LENGTH = 253;
const DNS_LABEL_MAX_LENGTH = 63;

/**
 * Why `san` cannot be a subjectAltName; undefined when it can. A SAN is an IPv4 or IPv6 address (without a zone:
 * `fe80::1%eth0` names an interface of one machine, which no certificate can mean), or a DNS name: a lowercase
 * RFC 1123 subdomain (what Kubernetes accepts as a host name) of at most 253 characters and labels of at most 63,
 * whose last label is not a number, optionally a wildcard `*.` in front (`*.example.com`: one more label, as TLS
 * clients match it).
 */
export function subjectAltNameProblem(san: string): string | undefined {
  if (san.includes('%') && isIP(san.slice(0, san.indexOf('%'))) === 6) return 'an IPv6 address with a zone cannot be certified';
  if (isIP(san) !== 0) return undefined;
  if (san.length > DNS_NAME_MAX_LENGTH) return `a DNS name must be no more than ${DNS_NAME_MAX_LENGTH} characters`;
  if (!DNS_NAME.test(san)) {
    return (
      'not an IP address, nor a DNS name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric ' +
      "characters, '-' or '.', and must start and end with an alphanumeric character, optionally after '*.' " +
      "(e.g. 'example.com', '*.example.com', '10.0.0.1', 'fd00::1')"
    );
  }
  const labels = san.split('.');
  if (labels.some((label) => label.length > DNS_LABEL_MAX_LENGTH))
    return `each label of a DNS name must be no more than ${DNS_LABEL_MAX_LENGTH} characters`;
  // RFC 1123 2.1: a host name never has the form of an address; `010.0.0.1` is neither.
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? ''))
    return 'not an IP address (IPv4: four decimal numbers 0-255 without leading zeros), nor a DNS name (the last label of a DNS name is not a number)';
  return undefined;
}

/** Generates a key pair and certificate. Throws a `PlacementError` for a SAN that is neither a DNS name nor an IP. */
export async function generateCertificate(req: CertificateRequest): Promise<KeyPair> {
  for (const san of req.sans) {
    const problem = subjectAltNameProblem(san);
    if (problem) throw new PlacementError(`subjectAltName ${JSON.stringify(san)}: ${problem}`);
  }
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
