/**
 * `placement-webhook templates from-asg FILE` and `templates from-eks-nodegroup FILE...`: node templates
 * (`settings.validation.nodeTemplates`) from what AWS says of a cluster's node groups, converted by
 * `capacity/aws.ts` (nothing guessed: what the input does not state is said, not made up).
 *
 * Output: YAML to paste under `settings.validation.nodeTemplates`, with a comment above each entry naming its
 * source and what the input did not state, and one for each group left out (at its max size) saying why. Or, with
 * `--merge RULES`, that list rewritten in place in the rules file through the yaml library's Document API, so
 * that comments and formatting elsewhere stay: an entry of the same name is replaced, a new one appended, the
 * others kept. The result is linted first; a document that would be invalid is not written (exit 2).
 *
 * What the converters report (a taint tag that is not `value:Effect`, a group without a name) goes to stderr as
 * warnings; input that is not such an answer at all is exit 2.
 */
import { parseArgs } from 'node:util';
import { Document, isMap, isScalar, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { DEFAULT_ASG_TAG, fromAutoScalingGroups, fromEksNodegroup, parseTagSpec, type Conversion } from '../capacity/aws.js';
import { formatFieldError, InvalidDocumentError } from '../util/errors.js';
import { compileRules, parseRules } from '../rules/compile.js';
import { API_VERSION, KIND, type NodeTemplate } from '../rules/schema.js';
import { loadYaml, OBJECTS_LIMITS } from '../util/yaml.js';
import { writeOutput } from './files.js';
import { fileName, readText, UsageError } from './inputs.js';
import { isObject } from '../util/json.js';

export const SUBCOMMANDS = ['from-asg', 'from-eks-nodegroup'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** Where the templates go in a rules document. */
const TEMPLATES_PATH = ['settings', 'validation', 'nodeTemplates'] as const;
/** How documents are written back: as they were read (no padding in `[a]`, long lines kept). */
const TO_STRING = { flowCollectionPadding: false, lineWidth: 0 } as const;

/** One converted group, with the file it came from. */
interface Converted {
  readonly conversion: Conversion;
  readonly file: string;
}

/** The one JSON (or YAML) document of `file`. */
async function readAnswer(file: string): Promise<unknown> {
  const name = fileName(file);
  const loaded = loadYaml(await readText(file), OBJECTS_LIMITS);
  if (!loaded.ok) throw new InvalidDocumentError(name, loaded.errors);
  if (loaded.values.length !== 1) throw new UsageError(`${name}: expected one JSON document, found ${loaded.values.length}`);
  return loaded.values[0]?.value;
}

const warn = (file: string, problem: string) => process.stderr.write(`${fileName(file)}: warning: ${problem}\n`);

async function fromAsg(file: string, tag: string): Promise<Converted[]> {
  const json = await readAnswer(file);
  if (!isObject(json) || !Array.isArray(json['AutoScalingGroups'])) {
    throw new UsageError(`${fileName(file)}: not the output of aws autoscaling describe-auto-scaling-groups (no AutoScalingGroups list)`);
  }
  const { conversions, problems } = fromAutoScalingGroups(json, tag);
  for (const p of problems) warn(file, p);
  if (conversions.length === 0) process.stderr.write(`${fileName(file)}: note: no Auto Scaling group carries the tag ${tag}\n`);
  return conversions.map((conversion) => ({ conversion, file }));
}

async function fromEks(files: readonly string[]): Promise<Converted[]> {
  const out: Converted[] = [];
  const refused: string[] = [];
  for (const file of files) {
    const { conversion, problems } = fromEksNodegroup(await readAnswer(file));
    if (!conversion) {
      refused.push(...problems.map((p) => `${fileName(file)}: ${p}`));
      continue;
    }
    for (const p of problems) warn(file, p);
    out.push({ conversion, file });
  }
  if (refused.length > 0) throw new UsageError(refused.join('\n'));
  return out;
}

/** The comment above an entry: where it came from, and what the input did not state. */
function entryComment(c: Extract<Conversion, { kind: 'template' }>, file: string): string {
  const lines = [`${c.source} (${fileName(file)})`];
  if (c.unstated.length > 0) lines.push('not in the input:', ...c.unstated.map((u) => `  ${u}`));
  return lines.map((l) => ` ${l}`).join('\n');
}

const leftOut = (c: Extract<Conversion, { kind: 'skipped' }>, file?: string) =>
  `left out: ${c.source}${file === undefined ? '' : ` (${fileName(file)})`}: ${c.why}`;

/**
 * The entries as YAML nodes of `doc`, each with its comment; a left-out group's comment goes above the next entry
 * (the rest are returned, for the end of the list).
 */
function entryNodes(
  doc: Document,
  converted: readonly Converted[],
  withLeftOut: boolean,
): { nodes: { template: NodeTemplate; node: YAMLMap }[]; trailing: string[] } {
  const nodes: { template: NodeTemplate; node: YAMLMap }[] = [];
  let pending: string[] = [];
  for (const { conversion: c, file } of converted) {
    if (c.kind === 'skipped') {
      if (withLeftOut) pending.push(` ${leftOut(c, file)}`);
      continue;
    }
    const node = doc.createNode(c.template, { aliasDuplicateObjects: false }) as YAMLMap;
    node.commentBefore = [...pending, entryComment(c, file)].join('\n');
    pending = [];
    nodes.push({ template: c.template, node });
  }
  return { nodes, trailing: pending };
}

/** The lint errors of the templates alone, each naming the template's source. */
function templateErrors(converted: readonly Converted[]): string[] {
  const entries = converted.flatMap(({ conversion: c, file }) => (c.kind === 'template' ? [{ c, file }] : []));
  const result = compileRules({
    apiVersion: API_VERSION,
    kind: KIND,
    settings: { validation: { nodeTemplates: entries.map((e) => e.c.template) } },
    rules: [],
  });
  if (result.ok) return [];
  return result.errors.map((e) => {
    const m = /^settings\.validation\.nodeTemplates\[(\d+)\]\.?/.exec(e.path);
    const entry = m ? entries[Number(m[1])] : undefined;
    if (!m || !entry) return formatFieldError(e);
    return `${fileName(entry.file)}: ${entry.c.source}: ${formatFieldError({ ...e, path: e.path.slice(m[0].length) })}`;
  });
}

/** The YAML to paste under `settings.validation.nodeTemplates`. */
export function templatesYaml(converted: readonly Converted[], header: string): string {
  const doc = new Document([]);
  const seq = doc.contents as YAMLSeq;
  const { nodes, trailing } = entryNodes(doc, converted, true);
  // A blank line between entries, as one writes such a list by hand.
  nodes.forEach((n, i) => {
    if (i > 0) n.node.spaceBefore = true;
  });
  seq.items.push(...nodes.map((n) => n.node));
  if (trailing.length > 0) seq.comment = trailing.join('\n');
  doc.commentBefore = header;
  return doc.toString(TO_STRING);
}

const nameOf = (item: unknown): unknown => (isMap(item) ? item.get('name') : undefined);

/**
 * `text` (a valid rules document) with the templates merged into its `settings.validation.nodeTemplates`: an entry
 * of the same name replaced, a new one appended, the others kept, and everything else as it was.
 */
export function mergeTemplates(text: string, converted: readonly Converted[]): { text: string; replaced: number; added: number } {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (!isMap(doc.contents)) throw new UsageError('the rules document is not a map');
  // Block style along the path, so that entries carry their comments.
  for (let depth = 1; depth < TEMPLATES_PATH.length; depth++) {
    const node = doc.getIn(TEMPLATES_PATH.slice(0, depth), true);
    if (isMap(node)) node.flow = false;
  }
  let seq = doc.getIn(TEMPLATES_PATH, true);
  if (seq === undefined || seq === null || (isScalar(seq) && seq.value === null)) {
    doc.setIn(TEMPLATES_PATH, doc.createNode([]));
    seq = doc.getIn(TEMPLATES_PATH, true);
  }
  if (!isSeq(seq)) throw new UsageError(`${TEMPLATES_PATH.join('.')} is not a list`);
  // The parser gives the comment above the first entry to the list: it belongs to the entry (and goes with it).
  const first: unknown = seq.items[0];
  if (seq.commentBefore && (isMap(first) || isScalar(first) || isSeq(first))) {
    first.commentBefore = first.commentBefore ? `${seq.commentBefore}\n${first.commentBefore}` : seq.commentBefore;
    seq.commentBefore = null;
  }
  const { nodes } = entryNodes(doc, converted, false);
  let replaced = 0;
  let added = 0;
  for (const { template, node } of nodes) {
    const i = seq.items.findIndex((item) => nameOf(item) === template.name);
    if (i >= 0) {
      seq.items[i] = node;
      replaced++;
    } else {
      seq.items.push(node);
      added++;
    }
  }
  if (seq.items.length > 0) seq.flow = false;
  let merged: string;
  try {
    merged = doc.toString(TO_STRING);
  } catch (err) {
    // An anchor inside a replaced entry that the document uses elsewhere (`labels: &spot ...`, `*spot` in a rule).
    throw new UsageError(`the merged document would be invalid: ${err instanceof Error ? err.message : String(err)}: nothing written`);
  }
  return { text: merged, replaced, added };
}

function sourcesHeader(sub: Subcommand, files: readonly string[], tag: string): string {
  const what =
    sub === 'from-asg'
      ? `aws autoscaling describe-auto-scaling-groups (${files.map(fileName).join(', ')}), groups tagged ${tag}`
      : `aws eks describe-nodegroup (${files.map(fileName).join(', ')})`;
  return [` node templates from ${what}`, ' paste under settings.validation.nodeTemplates'].join('\n');
}

export async function templates(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
    const got = sub === undefined ? 'templates needs a subcommand' : `templates: unknown subcommand ${JSON.stringify(sub)}`;
    throw new UsageError(`${got}: ${SUBCOMMANDS.join(' or ')}; see 'placement-webhook templates --help'`);
  }
  const subcommand = sub as Subcommand;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { merge: { type: 'string' }, ...(subcommand === 'from-asg' ? { 'asg-tag': { type: 'string' } } : {}) },
  });
  const given = values as { merge?: string; 'asg-tag'?: string };
  const tag = given['asg-tag'] ?? DEFAULT_ASG_TAG;
  if (parseTagSpec(tag).key === '') throw new UsageError(`--asg-tag: expected KEY or KEY=VALUE, got ${JSON.stringify(tag)}`);
  if (subcommand === 'from-asg' && positionals.length !== 1) throw new UsageError('templates from-asg takes exactly one FILE (or - for stdin)');
  if (subcommand === 'from-eks-nodegroup' && positionals.length === 0)
    throw new UsageError('templates from-eks-nodegroup needs at least one FILE (or - for stdin)');
  if (positionals.filter((f) => f === '-').length > 1) throw new UsageError('stdin (-) can be read only once');
  const converted = subcommand === 'from-asg' ? await fromAsg(positionals[0] as string, tag) : await fromEks(positionals);

  const errors = templateErrors(converted);
  if (errors.length > 0) throw new UsageError(errors.map((e) => `${e}; the templates would be invalid`).join('\n'));

  const merge = given.merge;
  if (merge === undefined) {
    process.stdout.write(templatesYaml(converted, sourcesHeader(subcommand, positionals, tag)));
    return 0;
  }
  if (merge === '-') throw new UsageError('--merge needs a file: it is rewritten in place');
  const before = await readText(merge);
  // parseRules holds the document to the rules' size and alias limits before it is edited.
  const valid = parseRules(before);
  if (!valid.ok) throw new UsageError(valid.errors.map((e) => `${merge}: ${formatFieldError(e)}; it is invalid already: nothing written`).join('\n'));
  let result;
  try {
    result = mergeTemplates(before, converted);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${merge}: ${err.message}`);
    throw err;
  }
  const after = parseRules(result.text);
  if (!after.ok)
    throw new UsageError(
      after.errors.map((e) => `${merge}: ${formatFieldError(e)}; the merged document would be invalid: nothing written`).join('\n'),
    );
  for (const { conversion: c, file } of converted) if (c.kind === 'skipped') process.stderr.write(`${fileName(file)}: note: ${leftOut(c)}\n`);
  await writeOutput(merge, result.text);
  process.stdout.write(`${merge}: ${result.replaced} node template(s) replaced, ${result.added} added\n`);
  return 0;
}
