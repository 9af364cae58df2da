/**
 * `placement-webhook whatif`: what a change to nodes or rules would break (`src/audit/whatif.ts`), with the inputs of
 * `audit` and the changes as flags, applied in the order given:
 *   --cordon NODE, --drain NODE, --remove-node NODE           (each repeatable)
 *   --taint NODE key[=value]:Effect    add a taint (replacing one of the same key and effect); key[=value]:Effect- or
 *                                      key- removes, as `kubectl taint` does
 *   --label NODE key=value | key-      set or remove a label
 *   --nodes-after FILE                 the node list after the change (nodes it lacks are removed)
 *   --rules-after FILE                 the rules after the change
 *   --pdbs FILE                        PodDisruptionBudgets for drains (from a cluster they are listed)
 * Output: what the change causes, text grouped by namespace and severity or `-o json|yaml` (`{changes, findings,
 * notes}`). Exit 0 when the change breaks nothing (no finding, or only info ones), 1 when it does, 2 on bad input.
 */
import { parseArgs } from 'node:util';
import type { V1Taint } from '@kubernetes/client-node';
import { whatIf, type Change } from '../audit/whatif.js';
import { hasProblems } from '../audit/findings.js';
import { toPlacementNode } from '../scheduling/placement-node.js';
import { loadRules } from '../rules/compile.js';
import { validateLabelKey, validateLabelValue } from '../scheduling/labels.js';
import { TAINT_EFFECTS } from '../scheduling/taints.js';
import { formatFieldError } from '../util/errors.js';
import { AUDIT_OPTIONS, counts, formatFindings, outputFormat, PROGRESS_MIN_OBJECTS, readAuditSources, writeReport } from './audit.js';
import { nodeFileProblems } from './cluster-files.js';
import { fileName, readNodesFile, readText, UsageError } from './inputs.js';

/** Flags that take a node and one more value. */
const PAIRED = ['--taint', '--label'] as const;
/** Flags that take one value and are changes (kept in order). */
const SINGLE = ['--cordon', '--drain', '--remove-node', '--nodes-after', '--rules-after'] as const;

/** A change flag as written, before its files are read. */
interface ChangeFlag {
  readonly flag: string;
  readonly values: readonly string[];
}

/** The change flags in order, and the other arguments for `parseArgs`. A `--` ends the flags. */
export function splitChanges(argv: readonly string[]): { changes: ChangeFlag[]; rest: string[] } {
  const changes: ChangeFlag[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const [name, inline] =
      arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if ((PAIRED as readonly string[]).includes(name) && inline === undefined) {
      const node = argv[i + 1];
      const spec = argv[i + 2];
      if (node === undefined || spec === undefined || node.startsWith('--') || spec.startsWith('--'))
        throw new UsageError(`${name} takes a node and a ${name === '--taint' ? 'taint (key=value:Effect)' : 'label (key=value or key-)'}`);
      changes.push({ flag: name, values: [node, spec] });
      i += 2;
    } else if ((SINGLE as readonly string[]).includes(name)) {
      const value = inline ?? argv[i + 1];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`${name} takes a value`);
      changes.push({ flag: name, values: [value] });
      if (inline === undefined) i++;
    } else rest.push(arg);
  }
  return { changes, rest };
}

const problems = (errors: readonly { path: string }[], what: string) => {
  if (errors.length > 0) throw new UsageError(errors.map((e) => `${what}: ${formatFieldError(e as never)}`).join('\n'));
};

/** `key=value:Effect`, `key:Effect`; with a trailing `-` (or just `key-`), a removal. */
export function parseTaint(node: string, spec: string): Change {
  const remove = spec.endsWith('-');
  const body = remove ? spec.slice(0, -1) : spec;
  const colon = body.lastIndexOf(':');
  const head = colon < 0 ? body : body.slice(0, colon);
  const effect = colon < 0 ? '' : body.slice(colon + 1);
  const eq = head.indexOf('=');
  const key = eq < 0 ? head : head.slice(0, eq);
  const value = eq < 0 ? undefined : head.slice(eq + 1);
  const what = `--taint ${node} ${spec}`;
  if (!remove && effect === '') throw new UsageError(`${what}: expected key=value:Effect (Effect: ${TAINT_EFFECTS.join(', ')})`);
  if (effect !== '' && !(TAINT_EFFECTS as readonly string[]).includes(effect))
    throw new UsageError(
      `${what}: unsupported effect ${JSON.stringify(effect)}; supported values: ${TAINT_EFFECTS.map((e) => JSON.stringify(e)).join(', ')}`,
    );
  problems([...validateLabelKey(key, 'key'), ...(value !== undefined ? validateLabelValue(value, 'value') : [])], what);
  const taint: V1Taint = { key, effect, ...(value ? { value } : {}) };
  return { kind: 'taint', node, taint, ...(remove ? { remove } : {}) };
}

/** `key=value`, or `key-` for a removal. */
export function parseLabel(node: string, spec: string): Change {
  const what = `--label ${node} ${spec}`;
  if (spec.endsWith('-') && !spec.includes('=')) {
    const key = spec.slice(0, -1);
    problems(validateLabelKey(key, 'key'), what);
    return { kind: 'label', node, key, value: undefined };
  }
  const eq = spec.indexOf('=');
  if (eq < 0) throw new UsageError(`${what}: expected key=value, or key- to remove it`);
  const key = spec.slice(0, eq);
  const value = spec.slice(eq + 1);
  problems([...validateLabelKey(key, 'key'), ...validateLabelValue(value, 'value')], what);
  return { kind: 'label', node, key, value };
}

async function readChange(c: ChangeFlag): Promise<Change> {
  const [a, b] = c.values as [string, string];
  switch (c.flag) {
    case '--taint':
      return parseTaint(a, b);
    case '--label':
      return parseLabel(a, b);
    case '--cordon':
      return { kind: 'cordon', node: a };
    case '--drain':
      return { kind: 'drain', node: a };
    case '--remove-node':
      return { kind: 'remove-node', node: a };
    case '--nodes-after': {
      const name = fileName(a);
      const { nodes } = readNodesFile(await readText(a), name);
      const found = nodeFileProblems(nodes, name);
      if (found.errors.length > 0) throw new UsageError(found.errors.join('\n'));
      for (const w of found.warnings) process.stderr.write(`${w}\n`);
      return { kind: 'nodes-after', nodes: nodes.map(toPlacementNode) };
    }
    default:
      return { kind: 'rules-after', rules: loadRules(await readText(a), fileName(a)) };
  }
}

export async function whatif(argv: string[]): Promise<number> {
  const split = splitChanges(argv);
  const { values, positionals } = parseArgs({ args: split.rest, allowPositionals: true, options: { ...AUDIT_OPTIONS, pdbs: { type: 'string' } } });
  const output = outputFormat(values.output);
  if (split.changes.length === 0)
    throw new UsageError('whatif needs a change: --cordon, --drain, --remove-node, --taint, --label, --nodes-after or --rules-after');
  const changes: Change[] = [];
  for (const c of split.changes) changes.push(await readChange(c));
  const drains = changes.some((c) => c.kind === 'drain');
  const sources = await readAuditSources(values, positionals, { withPdbs: drains, ...(values.pdbs !== undefined ? { pdbsFile: values.pdbs } : {}) });
  const objects = sources.inputs.pods.length + sources.inputs.workloads.length;
  if (process.stderr.isTTY || objects >= PROGRESS_MIN_OBJECTS)
    process.stderr.write(`whatif: ${objects} objects, audited before and after the change\n`);
  const report = whatIf({ ...sources.inputs, changes, pdbs: sources.pdbs });
  for (const n of report.notes) process.stderr.write(`note: ${n}\n`);
  const head = `what if: ${report.changes.join(', ')}\n`;
  const breaks = hasProblems(report.findings);
  const summary =
    report.findings.length === 0
      ? 'the change breaks nothing: no new findings'
      : `${breaks ? 'the change breaks something' : 'the change breaks nothing'}: ${report.findings.length} new ${report.findings.length === 1 ? 'finding' : 'findings'}: ${counts(report.findings)}`;
  writeReport(
    output,
    { changes: report.changes, findings: report.findings, notes: report.notes },
    `${head}${formatFindings(report.findings, summary)}`,
  );
  return breaks ? 1 : 0;
}
