/**
 * Field errors in the style of Kubernetes' `field.ErrorList`: every problem carries the path of the offending
 * field and a message built from facts, so that a user can find and fix it without reading our code.
 *
 *   rules[2].inject.tolerations[0].operator: unsupported value "Equals"; supported values: "Equal", "Exists"
 */

export type FieldErrorType = 'Required' | 'Invalid' | 'NotSupported' | 'Duplicate' | 'Forbidden' | 'TooMany';

export interface FieldError {
  readonly type: FieldErrorType;
  /** Path in the document, e.g. `rules[2].inject.tolerations[0].operator`; empty for the document root. */
  readonly path: string;
  /** The part after `path: `. */
  readonly detail: string;
}

/** Appends a property or index to a field path: `child('rules', 2)` → `rules[2]`, `child('a', 'b')` → `a.b`. */
export function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  // Keys that are not plain identifiers (label keys: `node.kubernetes.io/lifecycle`) are quoted in brackets.
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** A value as a message shows it; never throws (an object with a `toString` key cannot be converted to a string). */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export const fieldError = {
  required: (path: string, why = 'required value'): FieldError => ({ type: 'Required', path, detail: why }),
  invalid: (path: string, value: unknown, why: string): FieldError => ({
    type: 'Invalid',
    path,
    detail: `invalid value ${show(value)}: ${why}`,
  }),
  notSupported: (path: string, value: unknown, supported: readonly string[]): FieldError => ({
    type: 'NotSupported',
    path,
    detail: `unsupported value ${show(value)}; supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
  }),
  duplicate: (path: string, value: unknown): FieldError => ({
    type: 'Duplicate',
    path,
    detail: `duplicate value ${show(value)}`,
  }),
  forbidden: (path: string, why: string): FieldError => ({ type: 'Forbidden', path, detail: why }),
  unknownField: (path: string): FieldError => ({ type: 'Forbidden', path, detail: 'unknown field' }),
  tooMany: (path: string, actual: number, max: number): FieldError => ({
    type: 'TooMany',
    path,
    detail: `must have at most ${max} items, has ${actual}`,
  }),
};

export function formatFieldError(e: FieldError): string {
  return e.path === '' ? e.detail : `${e.path}: ${e.detail}`;
}

/** Base class of the errors this project throws on purpose; anything else is a bug. */
export class PlacementError extends Error {
  override name = 'PlacementError';
}

/** A document (rules, nodes, a review) that cannot be used; carries every problem found, not just the first. */
export class InvalidDocumentError extends PlacementError {
  override name = 'InvalidDocumentError';
  constructor(
    readonly what: string,
    readonly errors: readonly FieldError[],
  ) {
    super(`${what} is invalid:\n${errors.map((e) => `  ${formatFieldError(e)}`).join('\n')}`);
  }
}
