/**
 * `placement-webhook check FILE...`: what the webhook pair would decide for each object, without a cluster.
 * Pods go through /mutate and then, as mutated, through /validate, exactly as the API server calls them;
 * workloads (Deployment, StatefulSet, ...) go through /validate, which applies the rules to their pod template.
 *
 * Input the API server would never send is refused (exit 2, one line per problem, naming file, object and field)
 * rather than judged: a file with no object, an object without `kind`, a field of the wrong shape (what the webhook
 * answers HTTP 400), an invalid quantity (which the webhook, unable to judge, allows with a warning).
 *
 * Besides the webhook pair's answers, `check` says whether the scheduler would bind each pod now (against the pods
 * of `--pods`, or of the cluster with `--kubeconfig`; with neither, as if the nodes were empty), and for a workload
 * how many of its replicas can be placed now: an estimate, by placing hypothetical replicas one at a time on the
 * node the scheduler model picks (at most {@link MAX_SIMULATED_REPLICAS}), which are removed again afterwards.
 */
import { parseArgs } from 'node:util';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { stringify } from 'yaml';
import type { V1Pod } from '@kubernetes/client-node';
import type { ReviewRecord } from '../admission/context.js';
import type { ValidationVerdict } from '../admission/judge.js';
import type { HandlerResult } from '../admission/handler.js';
import { handleMutate } from '../admission/mutate.js';
import { decodePatch } from '../admission/response.js';
import { objectShapeErrors } from '../admission/shape.js';
import type { AdmissionRequest } from '../admission/types.js';
import { handleValidate } from '../admission/validate.js';
import { templatePod, WORKLOAD_KINDS } from '../workloads/workloads.js';
import { workload } from '../admission/request.js';
import type { KubeObject } from '../cluster/objects.js';
import type { StaticCluster } from '../cluster/static.js';
import { fieldError, formatFieldError, type FieldError } from '../util/errors.js';
import { mutatePod } from '../rules/apply.js';
import { withNameLabel } from '../rules/select.js';
import { explain, type GroupExplanation } from '../scheduling/explain.js';
import { podConstraints, type PodConstraints } from '../scheduling/feasibility.js';
import { evaluateNow, podAwareConstraints } from '../scheduling/now.js';
import { PodReader, type PlacedPod } from '../scheduling/pods.js';
import { QuantityError } from '../scheduling/quantity.js';
import { podRequests } from '../scheduling/resources.js';
import { readCluster } from './cluster-read.js';
import { fileName, INPUT_OPTIONS, loadInputs, readObjects, UsageError, type LocatedObject } from './inputs.js';
import { isObject } from '../util/json.js';

/** Most replicas of one workload placed one at a time to count how many fit now. */
export const MAX_SIMULATED_REPLICAS = 1000;

/**
 * What `check` says about one object; `-o json` prints these, keys in this order. Exactly one of `verdict` and
 * `skipped` is present: an object the webhook pair does not judge has no verdict.
 */
export interface CheckResult {
  kind: string;
  namespace: string;
  name: string;
  allowed: boolean;
  /** The denial message; empty when allowed. */
  message: string;
  /** Why the object was not judged (excluded namespace, replicas: 0, another scheduler, validation off, ...). */
  skipped?: string;
  /** Why a judged pod was not mutated (already bound to a node). */
  notMutated?: string;
  /** Whole: the webhook cuts them to 120 characters for the API server, the terminal gets them in full. */
  warnings: string[];
  appliedRules: string[];
  patch: Operation[];
  /** The validating handler's verdict (`fits`, `no-fit`, `unknown`, ...; README "The CLI"), or `rule-denial`. */
  verdict?: ValidationVerdict;
  /** For no-fit: the groups of nodes that came closest and what each lacks. */
  explanation?: GroupExplanation[];
  /** Would the scheduler bind the pod (a workload's pod) now, given the nodes and the pods bound to them. */
  schedulableNow?: boolean;
  /** Why not, in the scheduler's words, when `schedulableNow` is false. */
  pendingMessage?: string;
  /** Replicated workloads: the pods they run at once (`spec.replicas`, a Job's `parallelism`). */
  replicas?: number;
  /** How many of them can be scheduled now (at most {@link MAX_SIMULATED_REPLICAS} are tried). */
  placeableReplicas?: number;
  /** `placeableReplicas` comes from placing replicas one at a time, not from a bound the pod's constraints set. */
  placeableReplicasEstimate?: boolean;
  placement: Pick<NonNullable<V1Pod['spec']>, 'nodeSelector' | 'affinity' | 'tolerations' | 'topologySpreadConstraints'>;
}

/** `r` with its keys in the documented order (the order `-o json` and `-o yaml` print). */
function ordered(r: CheckResult): CheckResult {
  return {
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    allowed: r.allowed,
    message: r.message,
    ...(r.skipped !== undefined ? { skipped: r.skipped } : {}),
    ...(r.notMutated !== undefined ? { notMutated: r.notMutated } : {}),
    warnings: r.warnings,
    appliedRules: r.appliedRules,
    patch: r.patch,
    ...(r.skipped === undefined && r.verdict !== undefined ? { verdict: r.verdict } : {}),
    ...(r.skipped === undefined && r.explanation !== undefined ? { explanation: r.explanation } : {}),
    ...(r.skipped === undefined && r.schedulableNow !== undefined ? { schedulableNow: r.schedulableNow } : {}),
    ...(r.skipped === undefined && r.schedulableNow === false && r.pendingMessage !== undefined ? { pendingMessage: r.pendingMessage } : {}),
    ...(r.skipped === undefined && r.replicas !== undefined ? { replicas: r.replicas } : {}),
    ...(r.skipped === undefined && r.placeableReplicas !== undefined ? { placeableReplicas: r.placeableReplicas } : {}),
    ...(r.skipped === undefined && r.placeableReplicas !== undefined && r.placeableReplicasEstimate ? { placeableReplicasEstimate: true } : {}),
    placement: r.placement,
  };
}

/** An object of a file, as `check` names it in messages. */
interface Subject {
  readonly object: KubeObject;
  readonly kind: string;
  readonly group: string;
  readonly namespace: string;
  readonly name: string;
  /** `pod.yaml: Pod default/web` */
  readonly label: string;
}

const SUPPORTED = `check takes Pods and ${WORKLOAD_KINDS.map((k) => k.kind).join(', ')}`;

/**
 * The object at `located`, or the reason `check` refuses it: no `kind`, a kind it does not take, a field placement
 * cannot read (the shape the webhook answers with HTTP 400), an invalid quantity. One line per problem.
 */
function subject(file: string, located: LocatedObject): Subject | string[] {
  const { object: o, at } = located;
  const where = at === '' ? file : `${file}: ${at}`;
  const metadata = isObject(o.metadata) ? o.metadata : {};
  const metaName = typeof metadata.name === 'string' ? metadata.name : undefined;
  if (typeof o.kind !== 'string' || o.kind === '') {
    const named = metaName ? ` (name ${JSON.stringify(metaName)})` : '';
    return [`${where}${named}: kind: required value; ${SUPPORTED}`];
  }
  const kind = o.kind;
  const namespace = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : 'default';
  const generateName = metadata['generateName'];
  const name = metaName ?? (typeof generateName === 'string' ? `${generateName}*` : '');
  const label = `${file}: ${kind} ${namespace}/${name || '(unnamed)'}`;
  const w = WORKLOAD_KINDS.find((k) => k.kind === kind);
  if (kind !== 'Pod' && !w) return [`${label}: unsupported kind; ${SUPPORTED}`];
  const group = w?.group ?? '';
  const shape = mostSpecific(objectShapeErrors(group, kind, o));
  if (shape.length > 0) return shape.map((e) => `${label}: ${formatFieldError(e)}`);
  const quantity = quantityError(o, kind, namespace);
  if (quantity) return [`${label}: ${quantity}`];
  return { object: o, kind, group, namespace, name, label };
}

/**
 * The errors that say most: one per path, and none for a path that holds a more specific error (`spec.tolerations`
 * when `spec.tolerations[0]` is wrong: a schema's union reports every enclosing field too).
 */
function mostSpecific(errors: readonly FieldError[]): FieldError[] {
  const byPath = new Map<string, FieldError>();
  for (const e of errors) {
    const path = e.path.replace(/^\./, '');
    if (!byPath.has(path)) byPath.set(path, { ...e, path });
  }
  const paths = [...byPath.keys()];
  const encloses = (outer: string, inner: string) =>
    inner !== outer && (outer === '' || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`));
  return [...byPath.values()].filter((e) => !paths.some((p) => encloses(e.path, p)));
}

/** The first invalid quantity of the pod, or of the workload's pod template, with its path from the object's root. */
function quantityError(o: KubeObject, kind: string, namespace: string): string | undefined {
  const w = WORKLOAD_KINDS.find((k) => k.kind === kind);
  let pod: V1Pod = o;
  let prefix = '';
  if (w) {
    const template = w.templatePath.reduce<unknown>((cur, key) => (isObject(cur) ? cur[key] : undefined), o);
    if (!isObject(template)) return undefined;
    pod = templatePod(template, namespace, w.daemonSet);
    prefix = `${w.templatePath.join('.')}.`;
  }
  try {
    podRequests(pod);
    return undefined;
  } catch (err) {
    if (!(err instanceof QuantityError)) throw err;
    return formatFieldError(fieldError.invalid(`${prefix}${err.path}`, err.input, err.why));
  }
}

function request(s: Subject, index: number, object: unknown = s.object): AdmissionRequest {
  const w = WORKLOAD_KINDS.find((k) => k.kind === s.kind);
  const plural = w?.resource ?? `${s.kind.toLowerCase()}s`;
  return {
    uid: `check-${index}`,
    kind: { group: s.group, version: 'v1', kind: s.kind },
    resource: { group: s.group, version: 'v1', resource: plural },
    namespace: s.namespace,
    ...(s.object.metadata?.name ? { name: s.object.metadata.name } : {}),
    operation: 'CREATE',
    object,
  };
}

function placementOf(pod: V1Pod): CheckResult['placement'] {
  const spec = pod.spec ?? { containers: [] };
  return {
    ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
    ...(spec.affinity ? { affinity: spec.affinity } : {}),
    ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
    ...(spec.topologySpreadConstraints ? { topologySpreadConstraints: spec.topologySpreadConstraints } : {}),
  };
}

function explanationFor(pod: V1Pod, cluster: StaticCluster): GroupExplanation[] {
  return explain(podConstraints(pod), [...cluster.nodes().index.nodes()]);
}

/** What `check` judges with: the cluster, and the reader its pods were read with (for the simulated replicas). */
export interface CheckContext {
  readonly cluster: StaticCluster;
  readonly podReader: PodReader;
}

/** The pod (a workload's pod after the rules) as the scheduler model reads it, when the nodes and pods are known. */
interface NowSubject {
  readonly pod: V1Pod;
  readonly constraints: PodConstraints;
  readonly namespace: string;
  readonly priority: number | undefined;
}

/** The nodes and pods, when both can be trusted for "would it be scheduled now". */
function nowView(cluster: StaticCluster) {
  const nodes = cluster.nodes();
  const pods = cluster.pods();
  if (nodes.incomplete || nodes.index.size === 0 || !pods || pods.incomplete) return undefined;
  return { nodes: nodes.index, pods };
}

/**
 * Would the scheduler bind it now: the handler's answer, or (when the rules' `pending: off` left the question
 * unasked) the scheduler model's, for a pod that can run and is not bound to a node.
 */
function schedulableNow(
  record: ReviewRecord,
  s: NowSubject | undefined,
  cluster: StaticCluster,
): Pick<CheckResult, 'schedulableNow' | 'pendingMessage'> {
  if (record.schedulableNow !== undefined) {
    return { schedulableNow: record.schedulableNow, ...(record.pendingMessage !== undefined ? { pendingMessage: record.pendingMessage } : {}) };
  }
  const view = nowView(cluster);
  if (!s || !view || s.constraints.nodeName !== undefined || (record.verdict !== 'fits' && record.verdict !== 'fits-transient')) return {};
  const now = evaluateNow(s.constraints, podAwareConstraints(s.pod, s.namespace, s.priority), view.nodes, view.pods);
  if (now.kind === 'fits') return { schedulableNow: true };
  if (now.kind === 'no-fit') return { schedulableNow: false, pendingMessage: now.message };
  return {};
}

/** A name no real pod can have (a `/`), for the hypothetical replicas. */
const simulatedName = (i: number) => `placement-webhook/check-replica-${i}`;

/**
 * How many replicas of the pod can be scheduled now: hypothetical replicas placed one at a time, each on the node
 * the scheduler model picks for it (so that they count for resources, ports, spread and inter-pod affinity of the
 * next), until one does not fit or `replicas` (at most {@link MAX_SIMULATED_REPLICAS}) are placed; removed again
 * afterwards. Undefined when the nodes or pods are not known.
 */
export function simulateReplicas(s: NowSubject, replicas: number, cluster: StaticCluster, reader: PodReader): number | undefined {
  const view = nowView(cluster);
  if (!view) return undefined;
  const aware = podAwareConstraints(s.pod, s.namespace, s.priority);
  const added: PlacedPod[] = [];
  const index = view.pods.index;
  try {
    while (added.length < Math.min(replicas, MAX_SIMULATED_REPLICAS)) {
      const now = evaluateNow(s.constraints, aware, view.nodes, view.pods);
      if (now.kind !== 'fits') break;
      const placed = reader.read({
        metadata: { name: simulatedName(added.length), namespace: s.namespace, labels: s.pod.metadata?.labels ?? {} },
        spec: { ...s.pod.spec, nodeName: now.node },
      });
      if (!placed) break;
      index.upsert(placed);
      added.push(placed);
    }
  } finally {
    for (const p of added) index.remove(p.namespace, p.name);
  }
  return added.length;
}

/**
 * The replicas of a judged workload, and how many can be placed now: the simulation's count, or the bound the
 * handler found in the pod's own constraints (self anti-affinity, a minDomains spread) when that is lower or equal
 * (then the figure is exact, not an estimate).
 */
function replicaAnswer(
  record: ReviewRecord,
  replicas: number,
  s: NowSubject | undefined,
  ctx: CheckContext,
): Pick<CheckResult, 'replicas' | 'placeableReplicas' | 'placeableReplicasEstimate'> {
  const simulated = s ? simulateReplicas(s, replicas, ctx.cluster, ctx.podReader) : undefined;
  const bound = record.placeableReplicas;
  if (simulated === undefined) return bound === undefined ? { replicas } : { replicas, placeableReplicas: bound };
  if (bound !== undefined && bound <= simulated) return { replicas, placeableReplicas: bound };
  return { replicas, placeableReplicas: simulated, placeableReplicasEstimate: true };
}

/** What a validation result adds: the verdict, or why there is none. */
function judged(result: HandlerResult, pod: V1Pod | undefined, cluster: StaticCluster): Pick<CheckResult, 'skipped' | 'verdict' | 'explanation'> {
  const { record } = result;
  if (record.decision === 'skipped') return { skipped: record.reason ?? 'not validated' };
  return {
    verdict: record.verdict ?? 'unknown',
    ...(record.verdict === 'no-fit' && pod ? { explanation: explanationFor(pod, cluster) } : {}),
  };
}

/** The pod as the scheduler model reads it; undefined when its constraints cannot be read (then it was not judged). */
function nowSubject(pod: V1Pod, namespace: string, priority: number | undefined): NowSubject | undefined {
  try {
    return { pod, constraints: podConstraints(pod), namespace, priority };
  } catch (err) {
    if (err instanceof QuantityError) return undefined;
    throw err;
  }
}

/** One object, which {@link subject} accepted, through the webhook pair. */
function checkSubject(s: Subject, index: number, ctx: CheckContext): CheckResult {
  const { cluster } = ctx;
  const base = { kind: s.kind, namespace: s.namespace, name: s.name };

  if (s.kind !== 'Pod') {
    const req = request(s, index);
    const w = workload(req);
    if (!w) throw new Error(`${s.label}: not a workload`); // subject() accepts only workload kinds besides Pod
    const validation = handleValidate(req, cluster);
    const simulated = w.template
      ? mutatePod(
          templatePod(w.template, s.namespace, w.daemonSet),
          cluster.rules(),
          s.namespace,
          withNameLabel(s.namespace, cluster.namespaceLabels(s.namespace)),
        )
      : undefined;
    const verdict = judged(validation, simulated?.pod, cluster);
    const judgedPod = verdict.skipped === undefined && verdict.verdict !== 'rule-denial' && simulated && !simulated.denial;
    // A template carries a class name at most: its pods' priority is not known here.
    const now = judgedPod
      ? nowSubject(simulated.pod, s.namespace, typeof simulated.pod.spec?.priority === 'number' ? simulated.pod.spec.priority : undefined)
      : undefined;
    const replicated = judgedPod && !w.daemonSet && w.replicas !== undefined;
    return ordered({
      ...base,
      allowed: validation.response.allowed,
      message: validation.response.status?.message ?? '',
      warnings: [...validation.warnings],
      appliedRules: [...(simulated?.appliedRules ?? [])],
      patch: [],
      ...verdict,
      ...(judgedPod ? schedulableNow(validation.record, now, cluster) : {}),
      ...(replicated ? replicaAnswer(validation.record, w.replicas ?? 1, now, ctx) : {}),
      placement: simulated ? placementOf(simulated.pod) : {},
    });
  }

  const pod = s.object as V1Pod;
  const mutation = handleMutate(request(s, index), cluster);
  const patch = decodePatch(mutation.response) ?? [];
  const mutated = fastJsonPatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
  const mutationSkipped = mutation.record.decision === 'skipped' ? (mutation.record.reason ?? 'not mutated') : undefined;
  const result: CheckResult = {
    ...base,
    allowed: mutation.response.allowed,
    message: mutation.response.status?.message ?? '',
    warnings: [...mutation.warnings],
    appliedRules: [...(mutation.record.appliedRules ?? [])],
    patch,
    placement: placementOf(mutated),
  };
  if (!mutation.response.allowed) return ordered({ ...result, verdict: 'rule-denial' });
  // The API server refuses a pod without a spec before any validating webhook sees it.
  if (!isObject(pod.spec)) return ordered({ ...result, skipped: mutationSkipped ?? 'the pod has no spec' });
  const validation = handleValidate(request(s, index, mutated), cluster);
  const verdict = judged(validation, mutated, cluster);
  // The Priority admission plugin has set spec.priority by the time validation runs (0 without a class).
  const priority = typeof mutated.spec?.priority === 'number' ? mutated.spec.priority : 0;
  return ordered({
    ...result,
    allowed: validation.response.allowed,
    message: validation.response.status?.message ?? '',
    warnings: [...result.warnings, ...validation.warnings],
    ...verdict,
    ...(mutationSkipped !== undefined && mutationSkipped !== verdict.skipped ? { notMutated: mutationSkipped } : {}),
    ...(verdict.skipped === undefined ? schedulableNow(validation.record, nowSubject(mutated, s.namespace, priority), cluster) : {}),
  });
}

/**
 * Every object of `files` through the webhook pair, in order. Throws a `UsageError` listing every object `check`
 * refuses (one line each) before judging any.
 */
export async function checkFiles(files: readonly string[], cluster: StaticCluster, podReader: PodReader = new PodReader()): Promise<CheckResult[]> {
  const subjects: Subject[] = [];
  const problems: string[] = [];
  for (const file of files) {
    for (const located of await readObjects(file)) {
      const s = subject(fileName(file), located);
      if (Array.isArray(s)) problems.push(...s);
      else subjects.push(s);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return subjects.map((s, i) => checkSubject(s, i, { cluster, podReader }));
}

const indent = (text: string, by: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${by}${l}`)
    .join('\n');

/**
 * `r` as text. `podsNote` qualifies the "schedulable now" answer (`as if the nodes were empty: no --pods given`).
 */
export function formatText(r: CheckResult, podsNote?: string): string {
  const lines = [`${r.kind} ${r.namespace}/${r.name || '(unnamed)'}: ${r.allowed ? 'allowed' : 'DENIED'}`];
  if (r.skipped !== undefined) lines.push(`  skipped: ${r.skipped}`);
  if (r.notMutated !== undefined) lines.push(`  not mutated: ${r.notMutated}`);
  if (!r.allowed) lines.push(`  message: ${r.message}`);
  lines.push(`  rules applied: ${r.appliedRules.length > 0 ? r.appliedRules.join(', ') : '(none)'}`);
  if (r.skipped === undefined && r.verdict !== undefined) lines.push(`  verdict: ${r.verdict}`);
  if (r.schedulableNow !== undefined) {
    lines.push(`  schedulable now: ${r.schedulableNow ? 'yes' : 'no'}${podsNote ? ` (${podsNote})` : ''}`);
    if (!r.schedulableNow && r.pendingMessage) lines.push(`  pending: ${r.pendingMessage}`);
  }
  if (r.replicas !== undefined) {
    const capped = r.placeableReplicas === MAX_SIMULATED_REPLICAS && r.replicas > MAX_SIMULATED_REPLICAS;
    const placeable =
      r.placeableReplicas === undefined
        ? 'not known'
        : `${capped ? 'at least ' : ''}${r.placeableReplicas}${r.placeableReplicasEstimate ? ` (an estimate: replicas placed one at a time${capped ? `, at most ${MAX_SIMULATED_REPLICAS}` : ''})` : ''}`;
    lines.push(`  replicas: ${r.replicas}, placeable now: ${placeable}`);
  }
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  if (r.explanation && r.explanation.length > 0) {
    lines.push('  closest nodes:');
    for (const g of r.explanation) {
      const what = `${g.count} node${g.count === 1 ? '' : 's'}${g.description ? ` ${g.description}` : ''}`;
      lines.push(`    ${what}: ${g.lacks.join('; ')}`);
    }
  }
  if (r.patch.length > 0) {
    lines.push('  patch:');
    for (const op of r.patch) lines.push(`    ${op.op} ${op.path}${'value' in op ? ` ${JSON.stringify(op.value)}` : ''}`);
  }
  if (Object.keys(r.placement).length > 0) lines.push('  placement:', indent(stringify(r.placement), '    '));
  return lines.join('\n');
}

/** What `check` judges against: files (or the examples), or a cluster read once through a kubeconfig. */
async function checkContext(values: Record<string, string | undefined>): Promise<CheckContext & { podsNote: string | undefined }> {
  const kubeconfig = values['kubeconfig'];
  if (kubeconfig === undefined) {
    if (values['context'] !== undefined) throw new UsageError('--context needs --kubeconfig');
    if (values['rules-configmap'] !== undefined)
      throw new UsageError('--rules-configmap needs --kubeconfig: the ConfigMap is read from that cluster');
    const inputs = await loadInputs(values, 'empty');
    if (inputs.usingExamples) process.stderr.write('note: no --rules given; using the examples in examples/\n');
    return { cluster: inputs.cluster, podReader: inputs.podReader, podsNote: inputs.podsGiven ? undefined : NO_PODS_NOTE };
  }
  for (const flag of ['nodes', 'namespaces', 'pods', 'nodepools'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} is for files; with --kubeconfig the cluster's own are read`);
  }
  if (values['rules'] !== undefined && values['rules-configmap'] !== undefined)
    throw new UsageError('--rules and --rules-configmap: give one of them');
  const read = await readCluster({ kubeconfig, context: values['context'], rules: values['rules'], rulesConfigMap: values['rules-configmap'] });
  for (const w of read.warnings) process.stderr.write(`${w}\n`);
  return { cluster: read.cluster, podReader: read.podReader, podsNote: undefined };
}

/** How "schedulable now" is qualified without `--pods`. */
export const NO_PODS_NOTE = 'as if the nodes were empty: no --pods given';

export async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...INPUT_OPTIONS,
      output: { type: 'string', short: 'o', default: 'text' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      'rules-configmap': { type: 'string' },
    },
  });
  const output = values.output;
  if (output !== 'text' && output !== 'json' && output !== 'yaml') {
    throw new UsageError(`-o: unsupported value ${JSON.stringify(output)}; supported values: "text", "json", "yaml"`);
  }
  if (positionals.length === 0) throw new UsageError('check needs at least one FILE (or - for stdin)');
  const ctx = await checkContext(values);

  const results = await checkFiles(positionals, ctx.cluster, ctx.podReader);
  if (output !== 'text' && ctx.podsNote && results.some((r) => r.schedulableNow !== undefined))
    process.stderr.write(`note: schedulableNow and placeableReplicas are answered ${ctx.podsNote}\n`);
  if (output === 'json') process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else if (output === 'yaml') process.stdout.write(stringify(results));
  else process.stdout.write(`${results.map((r) => formatText(r, ctx.podsNote)).join('\n\n')}\n`);
  return results.every((r) => r.allowed) ? 0 : 1;
}
