/**
 * Reading Kubernetes objects from YAML or JSON text: one object, several YAML documents, or a `v1 List` (what
 * `kubectl get nodes -o yaml` prints), in any mix. Pure: callers read the files.
 */
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import { InvalidDocumentError, type FieldError } from '../util/errors.js';
import { loadYaml, OBJECTS_LIMITS } from '../util/yaml.js';
import { isObject } from '../util/json.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Every object in `text`, Lists flattened, empty documents skipped. Throws `InvalidDocumentError` on bad input. */
export function parseObjects(text: string, source: string): KubeObject[] {
  const loaded = loadYaml(text, OBJECTS_LIMITS);
  if (!loaded.ok) throw new InvalidDocumentError(source, loaded.errors);
  const errors: FieldError[] = [];
  const out: KubeObject[] = [];
  const many = loaded.values.length > 1;
  for (const { value, document } of loaded.values) {
    const at = many ? `document ${document}` : '';
    const add = (v: unknown, path: string) => {
      if (!isObject(v)) errors.push({ type: 'Invalid', path, detail: 'not a Kubernetes object' });
      else out.push(v);
    };
    if (isObject(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && Array.isArray(value['items'])) {
      (value['items'] as unknown[]).forEach((item, i) => add(item, at === '' ? `items[${i}]` : `${at}: items[${i}]`));
    } else add(value, at);
  }
  if (errors.length > 0) throw new InvalidDocumentError(source, errors);
  return out;
}

function ofKind<T>(objects: readonly KubeObject[], kind: string, source: string): T[] {
  const wrong = objects
    .map((o, i) => ({ o, i }))
    .filter(({ o }) => o.kind !== undefined && o.kind !== kind)
    .map<FieldError>(({ o, i }) => ({ type: 'Invalid', path: `objects[${i}].kind`, detail: `expected ${kind}, got ${JSON.stringify(o.kind)}` }));
  const unnamed = objects
    .map((o, i) => ({ o, i }))
    .filter(({ o }) => kind !== 'Pod' && !o.metadata?.name)
    .map<FieldError>(({ i }) => ({ type: 'Required', path: `objects[${i}].metadata.name`, detail: 'required value' }));
  if (wrong.length + unnamed.length > 0) throw new InvalidDocumentError(source, [...wrong, ...unnamed]);
  return objects as T[];
}

export const parseNodes = (text: string, source: string) => ofKind<V1Node>(parseObjects(text, source), 'Node', source);
export const parseNamespaces = (text: string, source: string) => ofKind<V1Namespace>(parseObjects(text, source), 'Namespace', source);
export const parsePods = (text: string, source: string) => ofKind<V1Pod>(parseObjects(text, source), 'Pod', source);
