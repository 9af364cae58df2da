/**
 * Label keys, label values and label selectors with the Kubernetes API server's rules and matching semantics.
 *
 * Validation follows `IsQualifiedName` / `IsValidLabelValue` / `IsDNS1123Subdomain`
 * (k8s.io/apimachinery `pkg/api/validate/content`, `pkg/util/validation`) and `ValidateLabelSelector`
 * (`pkg/apis/meta/v1/validation`). Matching follows `LabelSelectorAsSelector` (`pkg/apis/meta/v1/helpers.go`) and
 * `Requirement.Matches` (`pkg/labels/selector.go`).
 *
 * Labels are plain objects, so every lookup goes through `Object.hasOwn`: `constructor` and `toString` are ordinary
 * label keys and must never resolve to something inherited. (`__proto__` is not a valid key, since it starts with an
 * underscore, but a parsed document can still carry it as an own property.)
 */
import type { V1LabelSelector, V1LabelSelectorRequirement } from '@kubernetes/client-node';

import { child, fieldError, InvalidDocumentError, type FieldError } from '../util/errors.js';
import type { Labels } from './types.js';

export const LABEL_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
export type LabelSelectorOperator = (typeof LABEL_SELECTOR_OPERATORS)[number];

const isLabelSelectorOperator = (operator: string): operator is LabelSelectorOperator =>
  (LABEL_SELECTOR_OPERATORS as readonly string[]).includes(operator);

/** Maximum length in bytes of the name part of a label key, and of a label value. */
export const LABEL_NAME_MAX_LENGTH = 63;
/** Maximum length in bytes of a DNS-1123 subdomain, such as a label key prefix or a node name. */
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;

const labelNameFormat = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const labelNamePattern = new RegExp(`^${labelNameFormat}$`);
const labelValuePattern = new RegExp(`^(${labelNameFormat})?$`);
const dns1123LabelFormat = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123SubdomainFormat = `${dns1123LabelFormat}(\\.${dns1123LabelFormat})*`;
const dns1123SubdomainPattern = new RegExp(`^${dns1123SubdomainFormat}$`);

const labelNameMessage =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character " +
  `(e.g. 'MyName', 'my.name' or '123-abc'; regex used for validation is '${labelNameFormat}')`;
const labelValueMessage =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start " +
  `and end with an alphanumeric character (e.g. 'MyValue', 'my_value' or '12345'; regex used for validation is ` +
  `'(${labelNameFormat})?')`;
const dns1123SubdomainMessage =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start " +
  `and end with an alphanumeric character (e.g. 'example.com'; regex used for validation is '${dns1123SubdomainFormat}')`;

const encoder = new TextEncoder();
/** Kubernetes limits are in bytes (Go's `len`), not UTF-16 code units. */
// Lengths are counted in bytes, as Go does; printable ASCII (every valid label) needs no encoding to count.
const byteLength = (s: string): number => (/^[ -~]*$/.test(s) ? s.length : encoder.encode(s).length);
const maxLengthMessage = (max: number): string => `must be no more than ${max} bytes`;

/** Why `value` is not a DNS-1123 subdomain; empty when it is one. */
export function dns1123SubdomainProblems(value: string): string[] {
  const problems: string[] = [];
  if (byteLength(value) > DNS1123_SUBDOMAIN_MAX_LENGTH) problems.push(maxLengthMessage(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!dns1123SubdomainPattern.test(value)) problems.push(dns1123SubdomainMessage);
  return problems;
}

/**
 * Why `key` is not a label key (a "qualified name"); empty when it is one. A key is an optional DNS-1123 subdomain
 * prefix of at most 253 bytes and a `/`, then a name of at most 63 bytes matching `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
 */
export function labelKeyProblems(key: string): string[] {
  const parts = key.split('/');
  let name: string;
  const problems: string[] = [];
  if (parts.length === 1) {
    name = key;
  } else if (parts.length === 2) {
    const [prefix = '', rest = ''] = parts;
    name = rest;
    if (prefix === '') problems.push('prefix part must be non-empty');
    else problems.push(...dns1123SubdomainProblems(prefix).map((p) => `prefix part ${p}`));
  } else {
    return [`a valid label key ${labelNameMessage} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (name === '') problems.push('name part must be non-empty');
  else if (byteLength(name) > LABEL_NAME_MAX_LENGTH) problems.push(`name part ${maxLengthMessage(LABEL_NAME_MAX_LENGTH)}`);
  if (!labelNamePattern.test(name)) problems.push(`name part ${labelNameMessage}`);
  return problems;
}

/** Why `value` is not a label value; empty when it is one. The empty string is a valid label value. */
export function labelValueProblems(value: string): string[] {
  const problems: string[] = [];
  if (byteLength(value) > LABEL_NAME_MAX_LENGTH) problems.push(maxLengthMessage(LABEL_NAME_MAX_LENGTH));
  if (!labelValuePattern.test(value)) problems.push(labelValueMessage);
  return problems;
}

export const isValidLabelKey = (key: string): boolean => labelKeyProblems(key).length === 0;

/** One `Invalid` error per problem, as `ValidateLabelName` does. */
export function validateLabelKey(key: string, path: string): FieldError[] {
  return labelKeyProblems(key).map((why) => fieldError.invalid(path, key, why));
}

export function validateLabelValue(value: string, path: string): FieldError[] {
  return labelValueProblems(value).map((why) => fieldError.invalid(path, value, why));
}

export function validateDNS1123Subdomain(value: string, path: string): FieldError[] {
  return dns1123SubdomainProblems(value).map((why) => fieldError.invalid(path, value, why));
}

/** Validates every key and value of a label map; errors point at the entry (`metadata.labels["a~b/c"]`). */
export function validateLabels(labels: Labels | null | undefined, path: string): FieldError[] {
  if (labels == null) return [];
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const entryPath = child(path, key);
    errors.push(...validateLabelKey(key, entryPath));
    if (typeof value !== 'string') errors.push(fieldError.invalid(entryPath, value, 'label values must be strings'));
    else errors.push(...validateLabelValue(value, entryPath));
  }
  return errors;
}

/**
 * `ValidateLabelSelector` as the API server applies it to new objects: `matchLabels` are labels; each expression has
 * a valid key, a supported operator, at least one value for `In`/`NotIn`, no values for `Exists`/`DoesNotExist`, and
 * only valid label values. An omitted selector is valid.
 */
export function validateLabelSelector(selector: V1LabelSelector | null | undefined, path: string): FieldError[] {
  if (selector == null) return [];
  const errors = validateLabels(selector.matchLabels, child(path, 'matchLabels'));
  const expressionsPath = child(path, 'matchExpressions');
  (selector.matchExpressions ?? []).forEach((expression, i) => {
    errors.push(...validateLabelSelectorRequirement(expression, child(expressionsPath, i)));
  });
  return errors;
}

/**
 * The checks shared by label-selector and node-selector requirements: the values `In`/`NotIn`/`Exists`/
 * `DoesNotExist` need, the key, and each value as a label value. `otherOperator` checks any other operator
 * (node selectors add `Gt`/`Lt`) and reports an unknown one.
 */
export function validateRequirement(
  requirement: { key?: string; operator: string; values?: string[] },
  path: string,
  otherOperator: (values: readonly string[], valuesPath: string) => FieldError[],
): FieldError[] {
  const errors: FieldError[] = [];
  const values = requirement.values ?? [];
  const valuesPath = child(path, 'values');
  switch (requirement.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) {
        errors.push(fieldError.required(valuesPath, "must be specified when `operator` is 'In' or 'NotIn'"));
      }
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) {
        errors.push(fieldError.forbidden(valuesPath, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      }
      break;
    default:
      errors.push(...otherOperator(values, valuesPath));
  }
  errors.push(...validateLabelKey(requirement.key ?? '', child(path, 'key')));
  values.forEach((value, i) => errors.push(...validateLabelValue(value, child(valuesPath, i))));
  return errors;
}

export function validateLabelSelectorRequirement(requirement: V1LabelSelectorRequirement, path: string): FieldError[] {
  return validateRequirement(requirement, path, () => [
    fieldError.notSupported(child(path, 'operator'), requirement.operator, LABEL_SELECTOR_OPERATORS),
  ]);
}

/** Reads a label without ever reaching the prototype chain. */
export function getLabel(labels: Labels, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

/** A compiled label selector: parse once with {@link compileLabelSelector}, then match many label sets. */
export interface LabelMatcher {
  matches(labels: Labels): boolean;
}

interface LabelRequirement {
  readonly key: string;
  readonly operator: LabelSelectorOperator;
  readonly values: ReadonlySet<string>;
}

/** In, NotIn, Exists, DoesNotExist against a label set (the part label and node selectors share). */
export function requirementMatches(r: { key: string; operator: string; values?: ReadonlySet<string> }, labels: Labels): boolean {
  const value = getLabel(labels, r.key);
  switch (r.operator) {
    case 'In':
      return value !== undefined && (r.values?.has(value) ?? false);
    case 'NotIn':
      return value === undefined || !(r.values?.has(value) ?? false);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    default:
      return false;
  }
}

const matchEverything: LabelMatcher = Object.freeze({ matches: () => true });

/**
 * Compiles a label selector. `matchLabels` and `matchExpressions` are ANDed; a `matchLabels` entry is an `In` with one
 * value; `NotIn` and `DoesNotExist` match objects that lack the key.
 *
 * Nil versus empty: an empty selector (`{}`, or both lists empty) matches everything, exactly as
 * `LabelSelectorAsSelector`. An omitted selector also matches everything here, because in our rules omitting a
 * selector means "do not restrict"; Kubernetes' `LabelSelectorAsSelector(nil)` would match nothing instead.
 *
 * @throws InvalidDocumentError when the selector is invalid (`LabelSelectorAsSelector` returns an error there too);
 *   validate with {@link validateLabelSelector} first to report errors with their full path. With `checked`, the
 *   caller has done so and found none (a rules document's check does, for every rule it passes): not checked again.
 */
export function compileLabelSelector(selector: V1LabelSelector | null | undefined, checked = false): LabelMatcher {
  if (selector == null) return matchEverything;
  if (!checked) {
    const errors = validateLabelSelector(selector, '');
    if (errors.length > 0) throw new InvalidDocumentError('label selector', errors);
  }

  const requirements: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    requirements.push({ key, operator: 'In', values: new Set([value]) });
  }
  for (const { key, operator, values } of selector.matchExpressions ?? []) {
    // Always true after validation; the guard narrows the type.
    if (isLabelSelectorOperator(operator)) requirements.push({ key, operator, values: new Set(values ?? []) });
  }
  if (requirements.length === 0) return matchEverything;
  return {
    matches: (labels) => requirements.every((r) => requirementMatches(r, labels)),
  };
}
