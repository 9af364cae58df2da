/**
 * `placement-webhook check FILE...`: what the webhook would do to each pod, without a cluster.
 */
import { parseArgs } from 'node:util';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { stringify } from 'yaml';
import type { V1Pod } from '@kubernetes/client-node';
import { handleMutate } from '../admission/mutate.js';
import { decodePatch } from '../admission/response.js';
import type { AdmissionRequest } from '../admission/types.js';
import { parsePods } from '../cluster/objects.js';
import type { StaticCluster } from '../cluster/static.js';
import { loadInputs, readText, UsageError } from './inputs.js';

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
  placement: Pick<NonNullable<V1Pod['spec']>, 'nodeSelector' | 'affinity' | 'tolerations' | 'topologySpreadConstraints'>;
}

function podRequest(pod: V1Pod, index: number): AdmissionRequest {
  const namespace = pod.metadata?.namespace || 'default';
  return {
    uid: `check-${index}`,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace,
    operation: 'CREATE',
    object: pod,
  };
}

/** Runs one pod through the mutating handler exactly as the webhook would. */
export function checkPod(pod: V1Pod, index: number, cluster: StaticCluster): CheckResult {
  const request = podRequest(pod, index);
  const { response, record } = handleMutate(request, cluster);
  const patch = decodePatch(response) ?? [];
  const mutated = fastJsonPatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
  const spec = mutated.spec ?? { containers: [] };
  return {
    kind: 'Pod',
    namespace: request.namespace ?? 'default',
    name: pod.metadata?.name ?? (pod.metadata?.generateName ? `${pod.metadata.generateName}*` : ''),
    allowed: response.allowed,
    message: response.status?.message ?? '',
    ...(record.decision === 'skipped' && record.reason ? { skipped: record.reason } : {}),
    warnings: response.warnings ?? [],
    appliedRules: [...(record.appliedRules ?? [])],
    patch,
    placement: {
      ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
      ...(spec.affinity ? { affinity: spec.affinity } : {}),
      ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
      ...(spec.topologySpreadConstraints ? { topologySpreadConstraints: spec.topologySpreadConstraints } : {}),
    },
  };
}

const indent = (text: string, by: string) => text.trimEnd().split('\n').map((l) => `${by}${l}`).join('\n');

export function formatText(r: CheckResult): string {
  const lines = [`${r.kind} ${r.namespace}/${r.name || '(unnamed)'}: ${r.allowed ? 'allowed' : 'DENIED'}`];
  if (r.skipped) lines.push(`  skipped: ${r.skipped}`);
  if (!r.allowed) lines.push(`  message: ${r.message}`);
  lines.push(`  rules applied: ${r.appliedRules.length > 0 ? r.appliedRules.join(', ') : '(none)'}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  if (r.patch.length > 0) {
    lines.push('  patch:');
    for (const op of r.patch) {
      const value = 'value' in op ? ` ${JSON.stringify(op.value)}` : '';
      lines.push(`    ${op.op} ${op.path}${value}`);
    }
  }
  if (Object.keys(r.placement).length > 0) lines.push('  placement:', indent(stringify(r.placement), '    '));
  return lines.join('\n');
}

export async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      rules: { type: 'string' },
      nodes: { type: 'string' },
      namespaces: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'text' },
    },
  });
  const output = values.output;
  if (output !== 'text' && output !== 'json' && output !== 'yaml') {
    throw new UsageError(`-o: unsupported value ${JSON.stringify(output)}; supported values: "text", "json", "yaml"`);
  }
  if (positionals.length === 0) throw new UsageError('check needs at least one FILE (or - for stdin)');
  const inputs = await loadInputs(values);
  if (inputs.usingExamples) process.stderr.write('note: no --rules given; using the example rules in examples/\n');

  const pods: V1Pod[] = [];
  for (const file of positionals) {
    try {
      pods.push(...parsePods(await readText(file), file));
    } catch (err) {
      throw err instanceof UsageError ? err : new UsageError(err instanceof Error ? err.message : String(err));
    }
  }
  const results = pods.map((pod, i) => checkPod(pod, i, inputs.cluster));
  if (output === 'json') process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else if (output === 'yaml') process.stdout.write(stringify(results));
  else process.stdout.write(`${results.map(formatText).join('\n\n')}\n`);
  return results.every((r) => r.allowed) ? 0 : 1;
}
