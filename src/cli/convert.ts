/**
 * `placement-webhook convert podpreset FILE...` and `convert namespaces [--admission-config F] FILE...`: what users
 * leave behind (PodPreset objects; namespaces annotated for PodNodeSelector and PodTolerationRestriction) as a rules
 * document, printed with a comment above each rule saying where it came from and what it does not carry. The
 * document is linted before it is printed: one that would not lint is an error (exit 2), never output.
 *
 * The conversions themselves are pure: `convert/podpreset.ts`, `convert/namespaces.ts`.
 */
import { parseArgs } from 'node:util';
import { Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { parseObjects } from '../cluster/objects.js';
import { namespaceRule, type ClusterConfigs, type NamespaceConversion } from '../convert/namespaces.js';
import { presetRule, readPodPreset, ruleName, type PodPreset } from '../convert/podpreset.js';
import { compileRules } from '../rules/compile.js';
import { API_VERSION, KIND, type Rule, type RulesDocument } from '../rules/schema.js';
import { formatFieldError } from '../util/errors.js';
import { isObject } from '../util/json.js';
import { fileName, readText, UsageError } from './inputs.js';

export const CONVERT_SUBCOMMANDS = ['podpreset', 'namespaces'] as const;
type Subcommand = (typeof CONVERT_SUBCOMMANDS)[number];

const TO_STRING = { flowCollectionPadding: false, lineWidth: 0 } as const;

/** One rule of the output and the comment above it. */
export interface ConvertedRule {
  readonly rule: Rule;
  readonly comment: readonly string[];
}

/** The rules document, with its comments, as YAML text. */
export function rulesYaml(header: readonly string[], converted: readonly ConvertedRule[], trailing: readonly string[] = []): string {
  const doc = new Document({ apiVersion: API_VERSION, kind: KIND, rules: [] });
  const seq = (doc.contents as YAMLMap).get('rules', true) as unknown as YAMLSeq;
  converted.forEach((c, i) => {
    const node = doc.createNode(c.rule, { aliasDuplicateObjects: false }) as YAMLMap;
    node.commentBefore = c.comment.map((l) => ` ${l}`).join('\n');
    if (i > 0) node.spaceBefore = true;
    seq.items.push(node);
  });
  if (trailing.length > 0) seq.comment = trailing.map((l) => ` ${l}`).join('\n');
  doc.commentBefore = header.map((l) => ` ${l}`).join('\n');
  return doc.toString(TO_STRING);
}

/** The lint errors of the converted rules, each naming the object it came from. */
function lintErrors(converted: readonly ConvertedRule[]): string[] {
  const doc: RulesDocument = { apiVersion: API_VERSION, kind: KIND, rules: converted.map((c) => c.rule) };
  const result = compileRules(doc);
  if (result.ok) return [];
  return result.errors.map((e) => {
    const m = /^rules\[(\d+)\]\.?/.exec(e.path);
    const c = m ? converted[Number(m[1])] : undefined;
    if (!m || !c) return formatFieldError(e);
    return `${c.comment[0] ?? c.rule.name}: ${formatFieldError({ ...e, path: e.path.slice(m[0].length) })}; the rule would be invalid`;
  });
}

async function objectsOf(files: readonly string[]): Promise<{ object: Record<string, unknown>; file: string }[]> {
  const out: { object: Record<string, unknown>; file: string }[] = [];
  for (const file of files) for (const object of parseObjects(await readText(file), fileName(file))) out.push({ object: object, file });
  return out;
}

/** PodPresets → rules. */
export async function convertPodPresets(files: readonly string[]): Promise<{ converted: ConvertedRule[]; header: string[] }> {
  const taken = new Set<string>();
  const converted: ConvertedRule[] = [];
  const problems: string[] = [];
  for (const { object, file } of await objectsOf(files)) {
    const read = readPodPreset(object);
    if (!read.ok) {
      const name = isObject(object['metadata']) && typeof object['metadata']['name'] === 'string' ? ` ${object['metadata']['name']}` : '';
      problems.push(`${fileName(file)}:${name} ${read.error}`);
      continue;
    }
    const p: PodPreset = read.preset;
    const comment = [`from PodPreset ${p.namespace}/${p.name} (${fileName(file)})`];
    if (p.namespaceAssumed) comment.push('the object names no namespace: default assumed (as kubectl apply without -n)');
    converted.push({ rule: presetRule(p, ruleName(['podpreset', p.namespace, p.name], taken)), comment });
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const header = [
    `rules from PodPreset objects (settings.k8s.io/v1alpha1): ${files.map(fileName).join(', ')}`,
    'one rule per preset: its namespace, its selector, onConflict: skip (nothing of a preset is applied when any of',
    'its entries conflicts with the pod), podpreset.admission.kubernetes.io/exclude: "true" honoured.',
    'Differences from the 1.19 plugin are listed in docs/compat.md (a conflict skips only the preset that has it;',
    'envFrom and volumeMounts are compared by source and mount path).',
  ];
  return { converted, header };
}

/** The PodNodeSelector and PodTolerationRestriction configurations of an AdmissionConfiguration file. */
export async function readAdmissionConfig(file: string): Promise<ClusterConfigs> {
  const [doc, ...more] = parseObjects(await readText(file), fileName(file));
  if (!doc || more.length > 0 || doc.kind !== 'AdmissionConfiguration')
    throw new UsageError(`${fileName(file)}: expected one AdmissionConfiguration (apiserver.config.k8s.io)`);
  const plugins = Array.isArray(doc['plugins']) ? (doc['plugins'] as unknown[]) : [];
  const configOf = (name: string): Record<string, unknown> | undefined => {
    const p = plugins.find((x) => isObject(x) && x['name'] === name);
    if (!isObject(p)) return undefined;
    if (p['path'] !== undefined)
      throw new UsageError(`${fileName(file)}: plugin ${name}: a configuration in another file (path) is not read; inline it under configuration`);
    return isObject(p['configuration']) ? p['configuration'] : undefined;
  };
  const pns = configOf('PodNodeSelector');
  const ptr = configOf('PodTolerationRestriction');
  const selectors = pns && isObject(pns['podNodeSelectorPluginConfig']) ? pns['podNodeSelectorPluginConfig'] : undefined;
  const strings = selectors
    ? Object.fromEntries(Object.entries(selectors).filter((e): e is [string, string] => typeof e[1] === 'string'))
    : undefined;
  return {
    ...(strings ? { podNodeSelector: strings } : {}),
    ...(ptr
      ? {
          podTolerationRestriction: {
            ...(Array.isArray(ptr['default']) ? { default: ptr['default'] } : {}),
            ...(Array.isArray(ptr['whitelist']) ? { whitelist: ptr['whitelist'] } : {}),
          },
        }
      : {}),
  };
}

/** Annotated namespaces → rules. */
export async function convertNamespaces(
  files: readonly string[],
  configs: ClusterConfigs,
): Promise<{ converted: ConvertedRule[]; header: string[]; trailing: string[] }> {
  const taken = new Set<string>();
  const converted: ConvertedRule[] = [];
  const trailing: string[] = [];
  const problems: string[] = [];
  for (const { object, file } of await objectsOf(files)) {
    if (object['kind'] !== 'Namespace') {
      problems.push(`${fileName(file)}: kind ${JSON.stringify(object['kind'])} is not Namespace`);
      continue;
    }
    const metadata = isObject(object['metadata']) ? object['metadata'] : {};
    const name = typeof metadata['name'] === 'string' ? metadata['name'] : '';
    if (name === '') {
      problems.push(`${fileName(file)}: a Namespace without metadata.name`);
      continue;
    }
    const annotations = isObject(metadata['annotations'])
      ? Object.fromEntries(Object.entries(metadata['annotations']).filter((e): e is [string, string] => typeof e[1] === 'string'))
      : {};
    const c: NamespaceConversion = namespaceRule(name, annotations, configs, taken);
    problems.push(...c.errors.map((e) => `${fileName(file)}: namespace ${name}: ${e} (the plugin refuses every pod of it)`));
    const source = `from namespace ${name} (${fileName(file)})`;
    if (c.rule) converted.push({ rule: c.rule, comment: [source, ...c.notes] });
    else if (c.notes.length > 0) trailing.push(`${source}: no rule;`, ...c.notes.map((n) => `  ${n}`));
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const header = [
    `rules from the PodNodeSelector/PodTolerationRestriction annotations of namespaces: ${files.map(fileName).join(', ')}`,
    'not carried by rules: whitelists, and the memory-pressure toleration PodTolerationRestriction gives pods that',
    'are not BestEffort; settings.compat (docs/compat.md) keeps the plugins exactly, annotations and all.',
    ...(configs.podNodeSelector?.['clusterDefaultNodeSelector'] || (configs.podTolerationRestriction?.default?.length ?? 0) > 0
      ? ['Namespaces not in these files get nothing here; the plugins gave them the cluster defaults.']
      : []),
  ];
  return { converted, header, trailing };
}

export async function convert(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || !(CONVERT_SUBCOMMANDS as readonly string[]).includes(sub)) {
    const got = sub === undefined ? 'convert needs a subcommand' : `convert: unknown subcommand ${JSON.stringify(sub)}`;
    throw new UsageError(`${got}: ${CONVERT_SUBCOMMANDS.join(' or ')}; see 'placement-webhook convert --help'`);
  }
  const subcommand = sub as Subcommand;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: subcommand === 'namespaces' ? { 'admission-config': { type: 'string' } } : {},
  });
  if (positionals.length === 0) throw new UsageError(`convert ${subcommand} needs at least one FILE (or - for stdin)`);
  if (positionals.filter((f) => f === '-').length > 1) throw new UsageError('stdin (-) can be read only once');
  let out: { converted: ConvertedRule[]; header: string[]; trailing?: string[] };
  if (subcommand === 'podpreset') out = await convertPodPresets(positionals);
  else {
    const configFile = (values as { 'admission-config'?: string })['admission-config'];
    out = await convertNamespaces(positionals, configFile === undefined ? {} : await readAdmissionConfig(configFile));
  }
  const errors = lintErrors(out.converted);
  if (errors.length > 0) throw new UsageError(errors.join('\n'));
  if (out.converted.length === 0) process.stderr.write('note: nothing to convert: no rule written\n');
  process.stdout.write(rulesYaml(out.header, out.converted, out.trailing));
  return 0;
}
