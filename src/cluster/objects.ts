/**
 * Reading Kubernetes objects from YAML or JSON text: one object, several YAML documents, or a `v1 List` (what
 * `kubectl get nodes -o yaml` prints), in any mix. Pure: callers read the files.
 */
import { parseAllDocuments } from 'yaml';
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import { InvalidDocumentError, type FieldError } from '../errors.js';
import type { PlacementNode } from '../scheduling/types.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every object in `text`, Lists flattened, empty documents skipped. Throws `InvalidDocumentError` on bad input. */
export function parseObjects(text: string, source: string): KubeObject[] {
  const errors: FieldError[] = [];
  const out: KubeObject[] = [];
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) errors.push({ type: 'Invalid', path: '', detail: 'not a YAML stream' });
  list.forEach((doc, d) => {
    for (const e of doc.errors) {
      const at = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : '';
      errors.push({ type: 'Invalid', path: `document ${d + 1}`, detail: `YAML ${at}${e.message.split('\n')[0]}` });
    }
    if (doc.errors.length > 0) return;
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    const add = (v: unknown, path: string) => {
      if (!isObject(v)) errors.push({ type: 'Invalid', path, detail: 'not a Kubernetes object' });
      else out.push(v as KubeObject);
    };
    if (isObject(value) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') && Array.isArray(value['items'])) {
      (value['items'] as unknown[]).forEach((item, i) => add(item, `document ${d + 1}: items[${i}]`));
    } else add(value, `document ${d + 1}`);
  });
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

/** What placement keeps of a Node (see `PlacementNode`). */
export function toPlacementNode(node: V1Node): PlacementNode {
  return {
    name: node.metadata?.name ?? '',
    labels: { ...(node.metadata?.labels ?? {}) },
    taints: (node.spec?.taints ?? []).map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) })),
    unschedulable: node.spec?.unschedulable === true,
    allocatable: Object.fromEntries(Object.entries(node.status?.allocatable ?? {}).map(([k, v]) => [k, String(v)])),
  };
}
