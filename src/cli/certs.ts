/**
 * `placement-webhook certs`: a CA and a serving certificate for the webhook Service, as PEM files, plus what
 * `kubectl apply -k webhook-config/` needs: the TLS Secret and a patch that sets the caBundle of both webhook
 * configurations.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { generateCertificate, subjectAltNameProblem } from '../server/tls.js';
import { makeDirectory, writeOutput } from './files.js';
import { UsageError } from './inputs.js';

export const MUTATING_CONFIGURATION = 'placement-webhook';
export const VALIDATING_CONFIGURATION = 'placement-webhook';
export const MUTATING_WEBHOOKS = ['mutate.placement-webhook.io'];
export const VALIDATING_WEBHOOKS = [
  'validate-pods.placement-webhook.io',
  'validate-workloads.placement-webhook.io',
  'validate-rules.placement-webhook.io',
];
export const TLS_SECRET = 'placement-webhook-tls';

export interface CertsOptions {
  service: string;
  namespace: string;
  out: string;
  /** Where the kustomize Secret and caBundle patch go (webhook-config/generated). */
  kustomizeDir: string;
  sans: string[];
  days: number;
}

/** Longest validity accepted, in days (the CA gets twice as long): a century. */
export const MAX_DAYS = 36_500;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_MAX_LENGTH = 63;

/**
 * Why the flags cannot make a certificate for a Service; undefined when they can. A Service name is a DNS-1035
 * label (as the API server validates it: it starts with a letter), a namespace name a DNS-1123 label, and each
 * `--san` a DNS name or an IP address.
 */
export function certsOptionsProblem(o: Pick<CertsOptions, 'service' | 'namespace' | 'sans'>): string | undefined {
  const label = (flag: string, value: string, pattern: RegExp, kind: string, rule: string) => {
    if (value.length > LABEL_MAX_LENGTH)
      return `${flag}: invalid value ${JSON.stringify(value)}: must be no more than ${LABEL_MAX_LENGTH} characters`;
    if (!pattern.test(value))
      return `${flag}: invalid value ${JSON.stringify(value)}: a ${kind} must consist of lower case alphanumeric characters or '-', ${rule}`;
    return undefined;
  };
  const service = label(
    '--service',
    o.service,
    DNS1035_LABEL,
    'Service name (DNS-1035 label)',
    "start with a letter and end with an alphanumeric character (e.g. 'placement-webhook')",
  );
  if (service) return service;
  const namespace = label(
    '--namespace',
    o.namespace,
    DNS1123_LABEL,
    'namespace name (DNS-1123 label)',
    "and start and end with an alphanumeric character (e.g. 'placement-webhook')",
  );
  if (namespace) return namespace;
  for (const san of o.sans) {
    const problem = subjectAltNameProblem(san);
    if (problem) return `--san: invalid value ${JSON.stringify(san)}: ${problem}`;
  }
  return undefined;
}

export function serviceSans(service: string, namespace: string, extra: readonly string[]): string[] {
  return [...new Set([service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, ...extra])];
}

/**
 * Writes the certificates and the kustomize files. Throws a `UsageError` for options {@link certsOptionsProblem}
 * refuses and for a directory or file that cannot be written; directories are created before any key is made.
 */
export async function writeCertificates(o: CertsOptions): Promise<string[]> {
  const problem = certsOptionsProblem(o);
  if (problem) throw new UsageError(problem);
  await makeDirectory(o.out, '--out');
  await makeDirectory(o.kustomizeDir, '--kustomize-dir');
  const ca = await generateCertificate({ commonName: `${o.service}-ca`, sans: [], days: o.days * 2, isCa: true });
  const sans = serviceSans(o.service, o.namespace, o.sans);
  const serving = await generateCertificate({ commonName: `${o.service}.${o.namespace}.svc`, sans, days: o.days, ca });
  const caBundle = Buffer.from(ca.cert).toString('base64');

  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: TLS_SECRET, namespace: o.namespace, labels: { 'app.kubernetes.io/name': 'placement-webhook' } },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(serving.cert).toString('base64'),
      'tls.key': Buffer.from(serving.key).toString('base64'),
      'ca.crt': caBundle,
    },
  };
  const patch = [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: MUTATING_CONFIGURATION },
      webhooks: MUTATING_WEBHOOKS.map((name) => ({ name, clientConfig: { caBundle } })),
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: VALIDATING_CONFIGURATION },
      webhooks: VALIDATING_WEBHOOKS.map((name) => ({ name, clientConfig: { caBundle } })),
    },
  ];
  const files: [string, string, number?][] = [
    [join(o.out, 'ca.crt'), ca.cert],
    [join(o.out, 'ca.key'), ca.key, 0o600],
    [join(o.out, 'tls.crt'), serving.cert],
    [join(o.out, 'tls.key'), serving.key, 0o600],
    [
      join(o.kustomizeDir, 'tls-secret.yaml'),
      `# Generated by placement-webhook certs: the serving certificate for ${sans.join(', ')}\n${stringify(secret)}`,
      0o600,
    ],
    [
      join(o.kustomizeDir, 'ca-bundle-patch.yaml'),
      `# Generated by placement-webhook certs: the CA that signed the serving certificate\n${patch.map((p) => stringify(p)).join('---\n')}`,
    ],
  ];
  for (const [file, content, mode] of files) await writeOutput(file, content, mode);
  return files.map(([f]) => f);
}

export async function certs(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      service: { type: 'string', default: 'placement-webhook' },
      namespace: { type: 'string', default: 'placement-webhook' },
      out: { type: 'string', default: 'certs' },
      'kustomize-dir': { type: 'string', default: join('webhook-config', 'generated') },
      san: { type: 'string', multiple: true, default: [] },
      days: { type: 'string', default: '365' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`certs takes no arguments, got ${JSON.stringify(positionals[0])}`);
  const days = /^[0-9]{1,6}$/.test(values.days) ? Number(values.days) : NaN;
  if (!(days >= 1 && days <= MAX_DAYS)) {
    throw new UsageError(`--days: invalid value ${JSON.stringify(values.days)}: must be a whole number of days from 1 to ${MAX_DAYS}`);
  }
  const written = await writeCertificates({
    service: values.service,
    namespace: values.namespace,
    out: values.out,
    kustomizeDir: values['kustomize-dir'],
    sans: values.san,
    days,
  });
  for (const f of written) process.stdout.write(`wrote ${f}\n`);
  return 0;
}
