/**
 * Reading the CLI's inputs: the rules document, nodes and namespaces, from files or the embedded examples.
 * Every failure is a `UsageError` (exit 2) whose message says which file and what is wrong.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PlacementError } from '../errors.js';
import { parseNamespaces, parseNodes } from '../cluster/objects.js';
import { StaticCluster } from '../cluster/static.js';
import { loadRules, type RuleSet } from '../rules/compile.js';

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

export async function readText(file: string): Promise<string> {
  try {
    return file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
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

/**
 * Loads rules, nodes and namespaces. With none of the three given, the embedded examples are used, so that
 * `npm start` on a fresh clone serves something meaningful.
 */
export async function loadInputs(given: InputFiles): Promise<Inputs> {
  const usingExamples = !given.rules && !given.nodes && !given.namespaces;
  const files = usingExamples ? { ...EXAMPLES } : { rules: given.rules, nodes: given.nodes, namespaces: given.namespaces };
  const rulesFile = files.rules;
  if (!rulesFile) throw new UsageError('--rules FILE is required when --nodes or --namespaces is given');
  try {
    const ruleSet = loadRules(await readText(rulesFile), rulesFile);
    const nodes = files.nodes ? parseNodes(await readText(files.nodes), files.nodes) : undefined;
    const namespaces = files.namespaces ? parseNamespaces(await readText(files.namespaces), files.namespaces) : [];
    return {
      ruleSet,
      cluster: new StaticCluster(ruleSet, nodes, namespaces),
      files: { ...files, rules: rulesFile },
      usingExamples,
    };
  } catch (err) {
    if (err instanceof PlacementError && !(err instanceof UsageError)) throw new UsageError(err.message);
    throw err;
  }
}
