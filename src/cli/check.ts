/**
 * `placement-webhook check FILE...`: what the webhook pair would decide for each object, without a cluster.
 * Pods go through /mutate and then, as mutated, through /validate, exactly as the API server calls them;
 * workloads (Deployment, StatefulSet, ...) go through /validate, which applies the rules to their pod template.
 */
import { parseArgs } from 'node:util';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { stringify } from 'yaml';
import type { V1Pod } from '@kubernetes/client-node';
import { handleMutate } from '../admission/mutate.js';
import { decodePatch } from '../admission/response.js';
import type { AdmissionRequest } from '../admission/types.js';
import { handleValidate } from '../admission/validate.js';
import { templatePod, workload, WORKLOAD_KINDS } from '../workloads/workloads.js';
import { parseObjects, type KubeObject } from '../cluster/objects.js';
import type { StaticCluster } from '../cluster/static.js';
import { InvalidDocumentError, PlacementError } from '../errors.js';
import { mutatePod } from '../rules/apply.js';
import { withNameLabel } from '../rules/select.js';
import { explain, type GroupExplanation } from '../scheduling/explain.js';
import { podConstraints } from '../scheduling/feasibility.js';
import { INPUT_OPTIONS, loadInputs, readText, UsageError } from './inputs.js';

export interface CheckResult {
  kind: string;
  namespace: string;
  name: string;
  allowed: boolean;
  message: string;
  skipped?: string;
  warnings: string[];
  appliedRules: string[];
  patch: Operation[];
  /** fits | fits-transient | fits-template | no-fit | no-nodes | unknown | rule-denial (absent: not checked) */
  verdict?: string;
  explanation?: GroupExplanation[];
  placement: Pick<NonNullable<V1Pod['spec']>, 'nodeSelector' | 'affinity' | 'tolerations' | 'topologySpreadConstraints'>;
}

function request(o: KubeObject, index: number, object: unknown = o): AdmissionRequest {
  const kind = o.kind ?? 'Pod';
  const w = WORKLOAD_KINDS.find((k) => k.kind === kind);
  const group = w?.group ?? '';
  const plural = w?.resource ?? `${kind.toLowerCase()}s`;
  return {
    uid: `check-${index}`,
    kind: { group, version: 'v1', kind },
    resource: { group, version: 'v1', resource: plural },
    namespace: o.metadata?.namespace || 'default',
    ...(o.metadata?.name ? { name: o.metadata.name } : {}),
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

/** One object through the webhook pair. */
export function checkObject(o: KubeObject, index: number, cluster: StaticCluster): CheckResult {
  const kind = o.kind ?? 'Pod';
  const namespace = o.metadata?.namespace || 'default';
  const name = o.metadata?.name ?? (typeof o.metadata?.['generateName'] === 'string' ? `${o.metadata['generateName']}*` : '');
  const base = { kind, namespace, name };

  if (kind !== 'Pod') {
    const req = request(o, index);
    const w = workload(req);
    if (!w) throw new UsageError(`${kind} ${name}: unsupported kind; check takes Pods and ${WORKLOAD_KINDS.map((k) => k.kind).join(', ')}`);
    const { response, record } = handleValidate(req, cluster);
    const simulated = w.template
      ? mutatePod(templatePod(w.template, namespace, w.daemonSet), cluster.rules(), namespace, withNameLabel(namespace, cluster.namespaceLabels(namespace)))
      : undefined;
    return {
      ...base,
      allowed: response.allowed,
      message: response.status?.message ?? '',
      ...(record.decision === 'skipped' && record.reason ? { skipped: record.reason } : {}),
      warnings: response.warnings ?? [],
      appliedRules: [...(simulated?.appliedRules ?? [])],
      patch: [],
      ...(record.verdict ? { verdict: record.verdict } : {}),
      ...(record.verdict === 'no-fit' && simulated ? { explanation: explanationFor(simulated.pod, cluster) } : {}),
      placement: simulated ? placementOf(simulated.pod) : {},
    };
  }

  const pod = o as V1Pod;
  const mutation = handleMutate(request(o, index), cluster);
  const patch = decodePatch(mutation.response) ?? [];
  const mutated = fastJsonPatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
  const warnings = [...(mutation.response.warnings ?? [])];
  const result: CheckResult = {
    ...base,
    allowed: mutation.response.allowed,
    message: mutation.response.status?.message ?? '',
    ...(mutation.record.decision === 'skipped' && mutation.record.reason ? { skipped: mutation.record.reason } : {}),
    warnings,
    appliedRules: [...(mutation.record.appliedRules ?? [])],
    patch,
    placement: placementOf(mutated),
  };
  if (!mutation.response.allowed) return { ...result, verdict: 'rule-denial' };
  const validation = handleValidate(request(o, index, mutated), cluster);
  result.allowed = validation.response.allowed;
  result.message = validation.response.status?.message ?? '';
  result.warnings.push(...(validation.response.warnings ?? []));
  if (validation.record.verdict) result.verdict = validation.record.verdict;
  if (validation.record.verdict === 'no-fit') result.explanation = explanationFor(mutated, cluster);
  return result;
}

const indent = (text: string, by: string) => text.trimEnd().split('\n').map((l) => `${by}${l}`).join('\n');

export function formatText(r: CheckResult): string {
  const lines = [`${r.kind} ${r.namespace}/${r.name || '(unnamed)'}: ${r.allowed ? 'allowed' : 'DENIED'}`];
  if (r.skipped) lines.push(`  skipped: ${r.skipped}`);
  if (!r.allowed) lines.push(`  message: ${r.message}`);
  lines.push(`  rules applied: ${r.appliedRules.length > 0 ? r.appliedRules.join(', ') : '(none)'}`);
  if (r.verdict) lines.push(`  verdict: ${r.verdict}`);
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

export async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...INPUT_OPTIONS,
      output: { type: 'string', short: 'o', default: 'text' },
    },
  });
  const output = values.output;
  if (output !== 'text' && output !== 'json' && output !== 'yaml') {
    throw new UsageError(`-o: unsupported value ${JSON.stringify(output)}; supported values: "text", "json", "yaml"`);
  }
  if (positionals.length === 0) throw new UsageError('check needs at least one FILE (or - for stdin)');
  const inputs = await loadInputs(values);
  if (inputs.usingExamples) process.stderr.write('note: no --rules given; using the examples in examples/\n');

  const objects: KubeObject[] = [];
  for (const file of positionals) objects.push(...parseObjects(await readText(file), file));
  let results: CheckResult[];
  try {
    results = objects.map((o, i) => checkObject(o, i, inputs.cluster));
  } catch (err) {
    if (err instanceof PlacementError && !(err instanceof UsageError)) {
      throw new UsageError(err instanceof InvalidDocumentError ? err.message : `invalid object: ${err.message}`);
    }
    throw err;
  }
  if (output === 'json') process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else if (output === 'yaml') process.stdout.write(stringify(results));
  else process.stdout.write(`${results.map(formatText).join('\n\n')}\n`);
  return results.every((r) => r.allowed) ? 0 : 1;
}
