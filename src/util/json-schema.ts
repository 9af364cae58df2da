/**
 * Structural validation against a JSON Schema (Ajv, every error at once), reported as Kubernetes-style field
 * errors: `rules[2].inject.tolerations[0].operator: unsupported value "Equals"; supported values: "Equal", "Exists"`.
 */
import { Ajv, type ErrorObject } from 'ajv';
import type { TSchema } from '@sinclair/typebox';
import { child, fieldError, type FieldError } from './errors.js';

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
ajv.addKeyword('kind').addKeyword('modifier');

/** `/rules/2/inject/nodeSelector/a~1b` → `rules[2].inject.nodeSelector["a/b"]` */
export function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((seg) => seg.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<string>((path, seg) => child(path, /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : seg), '');
}

function valueAt(root: unknown, pointer: string): unknown {
  let cur: unknown = root;
  for (const seg of pointer.split('/').slice(1)) {
    const key = seg.replaceAll('~1', '/').replaceAll('~0', '~');
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function toFieldError(e: ErrorObject, root: unknown): FieldError {
  const path = pointerToPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return fieldError.unknownField(child(path, String(params['additionalProperty'])));
    case 'required':
      return fieldError.required(child(path, String(params['missingProperty'])));
    case 'enum':
      return fieldError.notSupported(path, valueAt(root, e.instancePath), (params['allowedValues'] as string[]) ?? []);
    case 'const':
      return fieldError.notSupported(path, valueAt(root, e.instancePath), [String(params['allowedValue'])]);
    case 'type': {
      const want = Array.isArray(params['type']) ? (params['type'] as string[]).join(' or ') : String(params['type']);
      const article = /^[aeiou]/.test(want) ? 'an' : 'a';
      return {
        type: 'Invalid',
        path,
        detail: `must be ${want === 'array' ? 'a list' : `${article} ${want}`}, got ${describeType(valueAt(root, e.instancePath))}`,
      };
    }
    default:
      return { type: 'Invalid', path, detail: e.message ?? e.keyword };
  }
}

export type SchemaCheck = (value: unknown) => FieldError[];

/** Compiles `schema` once; the returned function lists every structural error of a value (empty when valid). */
export function compileSchema(schema: TSchema): SchemaCheck {
  const validate = ajv.compile(schema);
  return (value) => {
    if (validate(value)) return [];
    const seen = new Set<string>();
    const errors: FieldError[] = [];
    for (const e of validate.errors ?? []) {
      const fe = toFieldError(e, value);
      const key = `${fe.path}\0${fe.detail}`;
      if (!seen.has(key)) {
        seen.add(key);
        errors.push(fe);
      }
    }
    return errors;
  };
}
