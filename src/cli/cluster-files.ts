/**
 * The checks a nodes or namespaces file gets before `serve`, `check` or `replay` use it.
 *
 * The webhook's informers read the same fields defensively and leave out what they cannot use, which is right for a
 * cache fed by the API server. A file is written by a person, so what would be left out silently is said instead:
 * - **errors** (the command refuses the file, exit 2): a field placement reads that has the wrong shape — a label
 *   that is not a string, taints that are not a list of `{key, effect}` objects with a supported effect,
 *   `unschedulable` that is not a boolean, a number that is not finite. Left out, they would change verdicts
 *   without a word (an unreadable taint would make a pod fit a node it must not).
 * - **warnings** (stderr, the file is used): a node or namespace named twice (the last one is used, as a watch would
 *   end up with), and an allocatable quantity that does not parse (it counts as 0, as the webhook counts it).
 */
import type { V1Namespace, V1Node } from '@kubernetes/client-node';
import { child, formatFieldError, type FieldError } from '../util/errors.js';
import { jsonLimitsError } from '../admission/shape.js';
import { toPlacementNode } from '../scheduling/placement-node.js';
import { QuantityError } from '../scheduling/quantity.js';
import { TAINT_EFFECTS } from '../scheduling/taints.js';
import { nodeAllocatable } from '../scheduling/resources.js';
import { MAX_NESTING_DEPTH } from '../util/yaml.js';
import { isObject } from '../util/json.js';

export interface FileProblems {
  /** Complete lines: `nodes.yaml: Node n1: spec.taints[0]: must be an object, got null`. */
  readonly errors: string[];
  /** Complete lines: `nodes.yaml: warning: node "n1" appears 2 times; the last one is used`. */
  readonly warnings: string[];
}

/** Taint effects the API server accepts (`core/v1` `TaintEffect`). */

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const mustBe = (path: string, what: string, v: unknown): FieldError => ({ type: 'Invalid', path, detail: `must be ${what}, got ${typeName(v)}` });

/** A map of strings (labels), or absent. */
function stringMapErrors(value: unknown, path: string): FieldError[] {
  if (value === undefined || value === null) return [];
  if (!isObject(value)) return [mustBe(path, 'a map of strings', value)];
  return Object.entries(value)
    .filter(([, v]) => typeof v !== 'string')
    .map(([k, v]) => mustBe(child(path, k), 'a string (quote it)', v));
}

function metadataErrors(o: Record<string, unknown>): FieldError[] {
  const metadata = o['metadata'];
  if (!isObject(metadata)) return [];
  return stringMapErrors(metadata['labels'], 'metadata.labels');
}

/** What placement reads of a Node, checked: labels, taints, unschedulable (allocatable gets warnings instead). */
function nodeShapeErrors(node: Record<string, unknown>): FieldError[] {
  const limits = jsonLimitsError(node, MAX_NESTING_DEPTH, '');
  const errors: FieldError[] = [...(limits ? [limits] : []), ...metadataErrors(node)];
  const spec = node['spec'];
  if (spec !== undefined && spec !== null && !isObject(spec)) errors.push(mustBe('spec', 'an object', spec));
  if (isObject(spec)) {
    const taints = spec['taints'];
    if (taints !== undefined && taints !== null && !Array.isArray(taints)) errors.push(mustBe('spec.taints', 'a list', taints));
    if (Array.isArray(taints)) {
      taints.forEach((t: unknown, i) => {
        const path = `spec.taints[${i}]`;
        if (!isObject(t)) {
          errors.push(mustBe(path, 'an object', t));
          return;
        }
        if (typeof t['key'] !== 'string' || t['key'] === '')
          errors.push({ type: 'Required', path: `${path}.key`, detail: 'required value: a non-empty string' });
        const value = t['value'];
        if (value !== undefined && value !== null && typeof value !== 'string') errors.push(mustBe(`${path}.value`, 'a string', value));
        const effect = t['effect'];
        if (typeof effect !== 'string' || !(TAINT_EFFECTS as readonly string[]).includes(effect)) {
          errors.push({
            type: 'NotSupported',
            path: `${path}.effect`,
            detail: `unsupported value ${effect === undefined ? 'absent' : JSON.stringify(effect)}; supported values: ${TAINT_EFFECTS.map((e) => JSON.stringify(e)).join(', ')}`,
          });
        }
      });
    }
    const unschedulable = spec['unschedulable'];
    if (unschedulable !== undefined && unschedulable !== null && typeof unschedulable !== 'boolean') {
      errors.push(mustBe('spec.unschedulable', 'a boolean', unschedulable));
    }
  }
  const status = node['status'];
  if (isObject(status)) {
    const allocatable = status['allocatable'];
    if (allocatable !== undefined && allocatable !== null && !isObject(allocatable)) {
      errors.push(mustBe('status.allocatable', 'a map of resource names to quantities', allocatable));
    }
  }
  return errors;
}

/** One warning per allocatable entry that is not a quantity: `node "n1": status.allocatable.cpu: invalid value "lots": ...`. */
function allocatableWarnings(node: Record<string, unknown>, name: string): string[] {
  const status = node['status'];
  const allocatable = isObject(status) && isObject(status['allocatable']) ? status['allocatable'] : {};
  const warnings: string[] = [];
  for (const [resource, quantity] of Object.entries(allocatable)) {
    const path = child('status.allocatable', resource);
    if (typeof quantity !== 'string' && typeof quantity !== 'number') {
      warnings.push(`node ${JSON.stringify(name)}: ${path}: not a quantity (${typeName(quantity)}); counted as 0`);
      continue;
    }
    try {
      nodeAllocatable({ ...toPlacementNode({ metadata: { name } }), allocatable: { [resource]: String(quantity) } });
    } catch (err) {
      if (!(err instanceof QuantityError)) throw err;
      warnings.push(`${err.message}; counted as 0`);
    }
  }
  return warnings;
}

/** `node "n1" appears 2 times; the last one is used`, per repeated name. */
function duplicateWarnings(names: readonly string[], what: string): string[] {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].filter(([, c]) => c > 1).map(([n, c]) => `${what} ${JSON.stringify(n)} appears ${c} times; the last one is used`);
}

const nameOf = (o: { metadata?: { name?: string | undefined } | undefined }): string => o.metadata?.name ?? '';

export function nodeFileProblems(nodes: readonly V1Node[], file: string): FileProblems {
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const node of nodes as unknown as readonly Record<string, unknown>[]) {
    const name = nameOf(node);
    for (const e of nodeShapeErrors(node)) errors.push(`${file}: Node ${name}: ${formatFieldError(e)}`);
    for (const w of allocatableWarnings(node, name)) warnings.push(`${file}: warning: ${w}`);
  }
  for (const w of duplicateWarnings(nodes.map(nameOf), 'node')) warnings.push(`${file}: warning: ${w}`);
  return { errors, warnings };
}

export function namespaceFileProblems(namespaces: readonly V1Namespace[], file: string): FileProblems {
  const errors: string[] = [];
  for (const ns of namespaces as unknown as readonly Record<string, unknown>[]) {
    const limits = jsonLimitsError(ns, MAX_NESTING_DEPTH, '');
    for (const e of [...(limits ? [limits] : []), ...metadataErrors(ns)]) errors.push(`${file}: Namespace ${nameOf(ns)}: ${formatFieldError(e)}`);
  }
  const warnings = duplicateWarnings(namespaces.map(nameOf), 'namespace').map((w) => `${file}: warning: ${w}`);
  return { errors, warnings };
}
