/**
 * `placement-webhook audit`: what is wrong with placement right now (`src/audit/`), against files or a cluster read
 * once. Also the input side of `whatif` (`readAuditSources`), which takes the same inputs.
 *
 * From files: `--nodes` and `--pods` are required (there is nothing to audit without them), `--rules` as for
 * `check`, `--namespaces` and `--nodepools` optional, workloads in FILE.... From a cluster (`--kubeconfig`): nodes,
 * namespaces, pods (full, without `managedFields`), NodePools and Cluster API groups as `check --kubeconfig` reads
 * them, and Deployments, StatefulSets, ReplicaSets, DaemonSets, Jobs and CronJobs listed page by page (a list that
 * fails is a warning: those workloads are not judged, and pods' owners are inferred from their names).
 *
 * Output: text grouped by namespace and severity, or `-o json|yaml` (`{findings, notes}`). Exit 0 with no findings or
 * only `info` ones, 1 with a `warn` or `fail` finding, 2 on bad input. A progress line on stderr (see
 * {@link progressReporter}).
 */
import { parseArgs } from 'node:util';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { objectShapeErrors } from '../admission/shape.js';
import { audit, type AuditInputs, type Finding } from '../audit/audit.js';
import { hasProblems, SEVERITIES, type Severity } from '../audit/findings.js';
import { parseObjects, parsePods, type KubeObject } from '../cluster/objects.js';
import { NodeIndex } from '../scheduling/node-index.js';
import { formatFieldError } from '../util/errors.js';
import { isObject } from '../util/json.js';
import { WORKLOAD_KINDS } from '../workloads/workloads.js';
import { apiErrorMessage, listPages, loadKubeConfig, nextToken, readCluster, PAGE_SIZE } from './cluster-read.js';
import { fileName, INPUT_OPTIONS, loadInputs, readObjects, readText, UsageError } from './inputs.js';

/** The flags `audit` and `whatif` share. */
export const AUDIT_OPTIONS = {
  ...INPUT_OPTIONS,
  output: { type: 'string', short: 'o', default: 'text' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'rules-configmap': { type: 'string' },
} as const;

export type Output = 'text' | 'json' | 'yaml';

export function outputFormat(value: string | undefined): Output {
  if (value === 'text' || value === 'json' || value === 'yaml') return value;
  throw new UsageError(`-o: unsupported value ${JSON.stringify(value)}; supported values: "text", "json", "yaml"`);
}

/** What the audit (and the what-if) judges, and what it was read from. */
export interface AuditSources {
  readonly inputs: AuditInputs & { readonly workloads: readonly unknown[] };
  /** PodDisruptionBudgets: from the cluster, or `--pdbs` (whatif). */
  readonly pdbs: readonly unknown[];
  /** `the cluster at https://...` or `files`. */
  readonly source: string;
}

const label = (file: string, o: KubeObject) =>
  `${file}: ${o.kind ?? 'object'} ${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? '(unnamed)'}`;

/** The pods of `--pods`, each checked as the webhook checks a pod's shape; every problem refuses the file. */
async function readPods(file: string): Promise<V1Pod[]> {
  const name = fileName(file);
  const pods = parsePods(await readText(file), name);
  const problems: string[] = [];
  for (const pod of pods) {
    if (!pod.metadata?.name) problems.push(`${name}: Pod in namespace ${pod.metadata?.namespace ?? 'default'}: metadata.name: required value`);
    for (const e of objectShapeErrors('', 'Pod', pod)) problems.push(`${label(name, pod as KubeObject)}: ${formatFieldError(e)}`);
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return pods;
}

const SUPPORTED = `FILE... takes ${WORKLOAD_KINDS.map((k) => k.kind).join(', ')} (pods go in --pods)`;

/** The workloads of FILE...: workload kinds only, each of a shape the webhook reads. */
async function readWorkloads(files: readonly string[]): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  const problems: string[] = [];
  for (const file of files) {
    for (const { object: o, at } of await readObjects(file)) {
      const where = at === '' ? fileName(file) : `${fileName(file)}: ${at}`;
      const kind = WORKLOAD_KINDS.find((k) => k.kind === o.kind);
      if (!kind) {
        problems.push(`${where}: kind: ${o.kind === undefined ? 'required value' : `unsupported value ${JSON.stringify(o.kind)}`}; ${SUPPORTED}`);
        continue;
      }
      if (!o.metadata?.name) problems.push(`${where}: metadata.name: required value`);
      for (const e of objectShapeErrors(kind.group, kind.kind, o)) problems.push(`${label(fileName(file), o)}: ${formatFieldError(e)}`);
      out.push(o);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return out;
}

/** PodDisruptionBudgets from a file (`policy/v1`). */
export async function readPdbs(file: string): Promise<KubeObject[]> {
  const name = fileName(file);
  const objects = parseObjects(await readText(file), name);
  const problems = objects
    .map((o, i) =>
      o.kind !== 'PodDisruptionBudget'
        ? `${name}: objects[${i}].kind: expected PodDisruptionBudget, got ${o.kind === undefined ? 'none' : JSON.stringify(o.kind)}`
        : !o.metadata?.name
          ? `${name}: objects[${i}].metadata.name: required value`
          : undefined,
    )
    .filter((p): p is string => p !== undefined);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return objects;
}

/** What is kept of a pod read from the API server: everything placement and drift read (no managedFields). */
function keptPod(pod: unknown): unknown {
  if (!isObject(pod) || !isObject(pod['metadata'])) return pod;
  const { managedFields: _, ...metadata } = pod['metadata'];
  const status = isObject(pod['status']) ? { phase: pod['status']['phase'], conditions: pod['status']['conditions'] } : undefined;
  return { ...pod, metadata, ...(status ? { status } : {}) };
}

/** The kinds listed from a cluster: group, versions (the first served is used: CronJobs are v1beta1 before 1.21), plural, kind. */
const CLUSTER_WORKLOADS = [
  ['apps', ['v1'], 'deployments', 'Deployment'],
  ['apps', ['v1'], 'statefulsets', 'StatefulSet'],
  ['apps', ['v1'], 'replicasets', 'ReplicaSet'],
  ['apps', ['v1'], 'daemonsets', 'DaemonSet'],
  ['batch', ['v1'], 'jobs', 'Job'],
  ['batch', ['v1', 'v1beta1'], 'cronjobs', 'CronJob'],
] as const;
/** PodDisruptionBudgets: policy/v1 since 1.21, v1beta1 before. */
const PDB_VERSIONS = ['v1', 'v1beta1'] as const;

async function readFromCluster(
  values: Record<string, string | boolean | undefined>,
  positionals: readonly string[],
  withPdbs: boolean,
): Promise<AuditSources> {
  const kubeconfig = values['kubeconfig'] as string;
  for (const flag of ['nodes', 'namespaces', 'pods', 'nodepools'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} is for files; with --kubeconfig the cluster's own are read`);
  }
  if (positionals.length > 0) throw new UsageError("FILE... is for files; with --kubeconfig the cluster's workloads are read");
  const rules = values['rules'] as string | undefined;
  const rulesConfigMap = values['rules-configmap'] as string | undefined;
  if (rules !== undefined && rulesConfigMap !== undefined) throw new UsageError('--rules and --rules-configmap: give one of them');
  const context = values['context'] as string | undefined;
  const read = await readCluster({ kubeconfig, context, rules, rulesConfigMap, keepPods: keptPod });
  for (const w of read.warnings) process.stderr.write(`${w}\n`);
  const podsState = read.cluster.pods();
  if (!podsState || podsState.incomplete)
    throw new UsageError(`--kubeconfig ${kubeconfig}: ${podsState?.incomplete ?? 'the pods could not be listed'}: there is nothing to audit`);
  const custom = loadKubeConfig(kubeconfig, context).makeApiClient(CustomObjectsApi);
  const listVersion = async (group: string, version: string, plural: string, kind: string): Promise<unknown[]> => {
    let items: unknown[] = [];
    await listPages(
      async (token) => {
        const l: unknown = await custom.listClusterCustomObject({ group, version, plural, limit: PAGE_SIZE, ...(token ? { _continue: token } : {}) });
        const page = isObject(l) && Array.isArray(l['items']) ? (l['items'] as unknown[]) : [];
        // List items carry no kind: the list's kind says it.
        return {
          items: page.map((o) => (isObject(o) ? { apiVersion: `${group}/${version}`, kind, ...o } : o)),
          next: nextToken(isObject(l) ? l['metadata'] : undefined),
        };
      },
      (item) => items.push(item),
      () => (items = []),
    );
    return items;
  };
  const list = async (group: string, versions: readonly string[], plural: string, kind: string): Promise<unknown[]> => {
    for (const [i, version] of versions.entries()) {
      try {
        return await listVersion(group, version, plural, kind);
      } catch (err) {
        if (err instanceof ApiException && err.code === 404 && i < versions.length - 1) continue;
        process.stderr.write(`warning: the ${plural} of ${read.server} could not be listed (${apiErrorMessage(err)}); they are not judged\n`);
      }
    }
    return [];
  };
  const workloads: unknown[] = [];
  for (const [group, versions, plural, kind] of CLUSTER_WORKLOADS) workloads.push(...(await list(group, versions, plural, kind)));
  const pdbs = withPdbs ? await list('policy', PDB_VERSIONS, 'poddisruptionbudgets', 'PodDisruptionBudget') : [];
  return {
    inputs: {
      nodes: read.cluster.nodes().index,
      pods: read.pods as V1Pod[],
      namespaces: (n) => read.cluster.namespaceLabels(n),
      rules: read.ruleSet,
      workloads,
      capacity: read.cluster.capacity(),
    },
    pdbs,
    source: `the cluster at ${read.server}`,
  };
}

/** The inputs of `audit` and `whatif`, from files or a cluster. `pdbsFile`: whatif's `--pdbs`. */
export async function readAuditSources(
  values: Record<string, string | boolean | undefined>,
  positionals: readonly string[],
  options: { withPdbs?: boolean; pdbsFile?: string } = {},
): Promise<AuditSources> {
  if (values['kubeconfig'] !== undefined) {
    const sources = await readFromCluster(values, positionals, options.withPdbs === true && options.pdbsFile === undefined);
    return options.pdbsFile === undefined ? sources : { ...sources, pdbs: await readPdbs(options.pdbsFile) };
  }
  if (values['context'] !== undefined) throw new UsageError('--context needs --kubeconfig');
  if (values['rules-configmap'] !== undefined) throw new UsageError('--rules-configmap needs --kubeconfig: the ConfigMap is read from that cluster');
  if (values['nodes'] === undefined || values['pods'] === undefined)
    throw new UsageError('--nodes and --pods are required (or --kubeconfig): there is nothing to audit without them');
  const given = { rules: values['rules'], nodes: values['nodes'], namespaces: values['namespaces'], nodepools: values['nodepools'] } as Record<
    string,
    string | undefined
  >;
  const loaded = await loadInputs(given, 'empty');
  const pods = await readPods(values['pods'] as string);
  const workloads = await readWorkloads(positionals);
  const { cluster } = loaded;
  if (values['namespaces'] === undefined && loaded.ruleSet.rules.length > 0) {
    process.stderr.write('note: no --namespaces given: rules that match namespaces by label match no pod, so no drift is found for them\n');
  }
  return {
    inputs: {
      nodes: cluster.nodes().index,
      pods,
      namespaces: (n) => cluster.namespaceLabels(n),
      rules: loaded.ruleSet,
      workloads,
      capacity: cluster.capacity(),
    },
    pdbs: options.pdbsFile === undefined ? [] : await readPdbs(options.pdbsFile),
    source: 'files',
  };
}

/** Objects above which a progress line is written even when stderr is not a terminal. */
export const PROGRESS_MIN_OBJECTS = 10_000;

/**
 * The progress line: on a terminal, one line rewritten in place (`audit: 12000/150000 objects`) and cleared at the
 * end; otherwise, only for {@link PROGRESS_MIN_OBJECTS} objects or more, a line at every tenth. Nothing for small
 * inputs written to a file or a pipe, so that scripts read clean stderr.
 */
export function progressReporter(command: string, stream: NodeJS.WriteStream = process.stderr): ((done: number, total: number) => void) | undefined {
  let lastTenth = -1;
  return (done, total) => {
    if (stream.isTTY) {
      stream.write(done >= total ? '\r\x1b[K' : `\r${command}: ${done}/${total} objects`);
      return;
    }
    if (total < PROGRESS_MIN_OBJECTS) return;
    const tenth = Math.floor((done * 10) / total);
    if (tenth === lastTenth) return;
    lastTenth = tenth;
    stream.write(`${command}: ${done}/${total} objects\n`);
  };
}

const SEVERITY_HEADING: Readonly<Record<Severity, string>> = { fail: 'FAIL', warn: 'WARN', info: 'INFO' };

/** One finding as text lines (indented by the caller). */
export function findingLines(f: Finding): string[] {
  const owner = f.owner ? ` (${f.owner.kind} ${f.owner.name})` : '';
  const node = f.node ? ` on ${f.node}` : '';
  const lines = [`${f.object.kind} ${f.object.name}${owner}${node}: ${f.kind} [${f.rule}]`, `  ${f.message}`];
  if (f.reschedulable === true) lines.push(`  could be rescheduled now: yes (e.g. on ${f.rescheduleNode ?? '?'})`);
  if (f.reschedulable === false && !(f.rescheduleMessage && f.message.includes(f.rescheduleMessage)))
    lines.push(`  could be rescheduled now: no: ${f.rescheduleMessage ?? ''}`);
  if (f.patch && f.patch.length > 0) {
    lines.push('  patch:');
    for (const op of f.patch) lines.push(`    ${op.op} ${op.path}${'value' in op ? ` ${JSON.stringify(op.value)}` : ''}`);
  }
  return lines;
}

/** Findings grouped by namespace, then severity, with a summary line. */
export function formatFindings(findings: readonly Finding[], summary: string): string {
  const out: string[] = [];
  const namespaces = [...new Set(findings.map((f) => f.namespace))];
  for (const ns of namespaces) {
    out.push(`namespace ${ns}`);
    for (const severity of SEVERITIES) {
      const these = findings.filter((f) => f.namespace === ns && f.severity === severity);
      if (these.length === 0) continue;
      out.push(`  ${SEVERITY_HEADING[severity]}`);
      for (const f of these) out.push(...findingLines(f).map((l) => `    ${l}`));
    }
  }
  out.push(summary);
  return `${out.join('\n')}\n`;
}

/** `2 fail, 1 warn, 0 info` */
export function counts(findings: readonly Finding[]): string {
  return SEVERITIES.map((s) => `${findings.filter((f) => f.severity === s).length} ${s}`).join(', ');
}

export const nodeCount = (inputs: AuditInputs): number => (inputs.nodes instanceof NodeIndex ? inputs.nodes.size : inputs.nodes.length);

/** Writes the report in the chosen format. */
export function writeReport(output: Output, report: Record<string, unknown>, text: string): void {
  if (output === 'json') process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (output === 'yaml') process.stdout.write(stringify(report));
  else process.stdout.write(text);
}

export async function auditCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: AUDIT_OPTIONS });
  const output = outputFormat(values.output);
  const { inputs } = await readAuditSources(values, positionals);
  const onProgress = progressReporter('audit');
  const report = audit(inputs, onProgress ? { onProgress } : {});
  for (const n of report.notes) process.stderr.write(`note: ${n}\n`);
  const what = `${inputs.pods.length} pods, ${inputs.workloads.length} workloads, ${nodeCount(inputs)} nodes`;
  const summary =
    report.findings.length === 0
      ? `no findings (${what})`
      : `${report.findings.length} ${report.findings.length === 1 ? 'finding' : 'findings'}: ${counts(report.findings)} (${what})`;
  writeReport(output, { findings: report.findings, notes: report.notes }, formatFindings(report.findings, summary));
  return hasProblems(report.findings) ? 1 : 0;
}
