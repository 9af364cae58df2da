/**
 * Reading the CLI's inputs: the rules document, nodes and namespaces, from files or the embedded examples, and the
 * objects `check` takes. Every failure is a `PlacementError` (exit 2) whose message says which file and what is
 * wrong; warnings about a file that is used anyway go to stderr as it is read.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidDocumentError, PlacementError, type FieldError } from '../errors.js';
import { parseNamespaces, parseNodes, type KubeObject } from '../cluster/objects.js';
import { StaticCluster } from '../cluster/static.js';
import { loadRules, type RuleSet } from '../rules/compile.js';
import { loadYaml, OBJECTS_LIMITS } from '../util/yaml.js';
import { namespaceFileProblems, nodeFileProblems, type FileProblems } from './cluster-files.js';

/** Bad flags, unreadable or invalid input: exit code 2. */
export class UsageError extends PlacementError {
  override name = 'UsageError';
}

/** The package root (holds `examples/`, `certs/`), from `src/cli` or `dist/cli` alike. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXAMPLES = {
  rules: join(PACKAGE_ROOT, 'examples', 'rules.yaml'),
  nodes: join(PACKAGE_ROOT, 'examples', 'nodes.yaml'),
  namespaces: join(PACKAGE_ROOT, 'examples', 'namespaces.yaml'),
} as const;

/** How messages name a file: `-` is stdin. */
export const fileName = (file: string): string => (file === '-' ? 'stdin' : file);

export async function readText(file: string): Promise<string> {
  try {
    return file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${fileName(file)}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The flags that name the inputs, for `parseArgs` (check, replay). */
export const INPUT_OPTIONS = {
  rules: { type: 'string' },
  nodes: { type: 'string' },
  namespaces: { type: 'string' },
} as const;

export interface InputFiles {
  rules?: string | undefined;
  nodes?: string | undefined;
  namespaces?: string | undefined;
}

export interface Inputs {
  readonly ruleSet: RuleSet;
  readonly cluster: StaticCluster;
  readonly files: { readonly rules: string; readonly nodes: string | undefined; readonly namespaces: string | undefined };
  /** True when the embedded examples stand in for files that were not given. */
  readonly usingExamples: boolean;
}

/** Throws the errors (each line one problem), writes the warnings to stderr. */
function report(problems: FileProblems): void {
  if (problems.errors.length > 0) throw new UsageError(problems.errors.join('\n'));
  for (const w of problems.warnings) process.stderr.write(`${w}\n`);
}

/**
 * Loads rules, nodes and namespaces. With none of the three given, the embedded examples are used, so that
 * `npm start` on a fresh clone serves something meaningful. Nodes and namespaces get the checks of
 * `cluster-files.ts`: errors refuse the file, warnings go to stderr.
 */
export async function loadInputs(given: InputFiles): Promise<Inputs> {
  const usingExamples = !given.rules && !given.nodes && !given.namespaces;
  const files = usingExamples ? { ...EXAMPLES } : { rules: given.rules, nodes: given.nodes, namespaces: given.namespaces };
  const rulesFile = files.rules;
  if (!rulesFile) throw new UsageError('--rules FILE is required when --nodes or --namespaces is given');
  try {
    const ruleSet = loadRules(await readText(rulesFile), fileName(rulesFile));
    const nodes = files.nodes ? parseNodes(await readText(files.nodes), fileName(files.nodes)) : undefined;
    if (nodes && files.nodes) report(nodeFileProblems(nodes, fileName(files.nodes)));
    const namespaces = files.namespaces ? parseNamespaces(await readText(files.namespaces), fileName(files.namespaces)) : [];
    if (files.namespaces) report(namespaceFileProblems(namespaces, fileName(files.namespaces)));
    return {
      ruleSet,
      cluster: new StaticCluster(ruleSet, nodes, namespaces),
      files: { ...files, rules: rulesFile },
      usingExamples,
    };
  } catch (err) {
    if (err instanceof PlacementError && !(err instanceof UsageError) && !(err instanceof InvalidDocumentError)) throw new UsageError(err.message);
    throw err;
  }
}

/** One object of a file `check` reads, and where it is: `document 2`, `items[0]`, `document 2: items[0]`, or ''. */
export interface LocatedObject {
  readonly object: KubeObject;
  readonly at: string;
}

/**
 * Every object in `file` (YAML or JSON, several documents, `v1 List`s flattened), with where each one is. Throws an
 * `InvalidDocumentError` for text that does not parse or a document that is not an object, and a `UsageError`
 * for a file that holds no object at all (empty, or only `---`).
 */
export async function readObjects(file: string): Promise<LocatedObject[]> {
  const name = fileName(file);
  const loaded = loadYaml(await readText(file), OBJECTS_LIMITS);
  if (!loaded.ok) throw new InvalidDocumentError(name, loaded.errors);
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const many = loaded.values.length > 1;
  const out: LocatedObject[] = [];
  const errors: FieldError[] = [];
  for (const { value, document } of loaded.values) {
    const doc = many ? `document ${document}` : '';
    const add = (v: unknown, at: string) => {
      if (isObject(v)) out.push({ object: v as KubeObject, at });
      else errors.push({ type: 'Invalid', path: at, detail: 'not a Kubernetes object' });
    };
    if (isObject(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && Array.isArray(value['items'])) {
      (value['items'] as unknown[]).forEach((item, i) => add(item, doc === '' ? `items[${i}]` : `${doc}: items[${i}]`));
    } else add(value, doc);
  }
  if (errors.length > 0) throw new InvalidDocumentError(name, errors);
  if (out.length === 0) throw new UsageError(`no objects in ${name}`);
  return out;
}
