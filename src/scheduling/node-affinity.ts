/**
 * Required node affinity with the scheduler's semantics, after k8s.io/component-helpers
 * `scheduling/corev1/nodeaffinity/nodeaffinity.go` (`NewLazyErrorNodeSelector`, `GetRequiredNodeAffinity`) and
 * k8s.io/apimachinery `pkg/labels/selector.go` (`NewRequirement`, `Requirement.Matches`); validation after
 * `ValidateNodeSelectorRequirement` and `ValidateNodeFieldSelectorRequirement` in `pkg/apis/core/validation`.
 *
 * - Terms are ORed; the expressions and fields of one term are ANDed.
 * - A term with neither `matchExpressions` nor `matchFields` matches nothing, and so does an empty list of terms.
 * - A term the scheduler cannot parse (unknown operator, invalid key or value, `Gt` with a non-integer) matches
 *   nothing, while the other terms are still evaluated.
 * - `pod.spec.nodeSelector` AND the required node affinity must both hold; an absent part does not restrict.
 */
import type { V1NodeSelectorRequirement, V1NodeSelectorTerm } from '@kubernetes/client-node';

import { child, fieldError, type FieldError } from '../util/errors.js';
import { getLabel, requirementMatches, validateDNS1123Subdomain, validateRequirement } from './labels.js';
import type { Labels } from './types.js';

export const NODE_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] as const;
export type NodeSelectorOperator = (typeof NODE_SELECTOR_OPERATORS)[number];
export const NODE_FIELD_SELECTOR_OPERATORS = ['In', 'NotIn'] as const;
/** The only field `matchFields` may select on. */
export const NODE_NAME_FIELD = 'metadata.name';

/** The part of a node that node affinity looks at; a `PlacementNode` is one. */
export interface NodeIdentity {
  readonly name: string;
  readonly labels: Labels;
}

/** Compiled node constraints: parse once, then match every node of the cluster. */
export interface NodeMatcher {
  matches(node: NodeIdentity): boolean;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const decimalInteger = /^[+-]?[0-9]+$/;

/**
 * Go's `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits, in the int64 range; no spaces, no
 * underscores, no `0x`. Returns `undefined` where Go returns an error. A `bigint`, because int64 does not fit a double.
 */
export function parseInt64(s: string): bigint | undefined {
  if (!decimalInteger.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

/**
 * `ValidateNodeSelectorRequirement` for a `matchExpressions` entry of required node affinity: `In`/`NotIn` need at
 * least one value, `Exists`/`DoesNotExist` none, `Gt`/`Lt` exactly one; the key is a label key and every value a
 * label value. We also require the `Gt`/`Lt` value to be an integer: the API server accepts `Gt: ["ten"]`, but the
 * scheduler cannot parse it and the whole term then matches no node.
 *
 * A negative bound such as `Gt: ["-1"]` is rejected because `-1` is not a valid label value (it must start with an
 * alphanumeric character); the scheduler rejects it the same way.
 */
export function validateNodeSelectorRequirement(requirement: V1NodeSelectorRequirement, path: string): FieldError[] {
  return validateRequirement(requirement, path, (values, valuesPath) => {
    if (requirement.operator !== 'Gt' && requirement.operator !== 'Lt') {
      return [fieldError.notSupported(child(path, 'operator'), requirement.operator, NODE_SELECTOR_OPERATORS)];
    }
    const [only] = values;
    if (values.length !== 1 || only === undefined) {
      return [fieldError.required(valuesPath, "must be specified single value when `operator` is 'Lt' or 'Gt'")];
    }
    if (parseInt64(only) === undefined) {
      return [fieldError.invalid(child(valuesPath, 0), only, "must be a 64-bit decimal integer when `operator` is 'Lt' or 'Gt'")];
    }
    return [];
  });
}

/**
 * `ValidateNodeFieldSelectorRequirement` for a `matchFields` entry: the key is `metadata.name`, the operator `In` or
 * `NotIn`, and there is exactly one value, a valid node name (DNS-1123 subdomain).
 */
export function validateNodeFieldSelectorRequirement(requirement: V1NodeSelectorRequirement, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const values = requirement.values ?? [];
  const valuesPath = child(path, 'values');
  switch (requirement.operator) {
    case 'In':
    case 'NotIn':
      if (values.length !== 1) {
        errors.push(fieldError.required(valuesPath, "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
      }
      break;
    default:
      errors.push(fieldError.notSupported(child(path, 'operator'), requirement.operator, NODE_FIELD_SELECTOR_OPERATORS));
  }
  if (requirement.key !== NODE_NAME_FIELD) {
    errors.push(fieldError.notSupported(child(path, 'key'), requirement.key, [NODE_NAME_FIELD]));
  } else {
    values.forEach((value, i) => errors.push(...validateDNS1123Subdomain(value, child(valuesPath, i))));
  }
  return errors;
}

/**
 * Validates one term. Beyond the API server's rules, a term with nothing in it is `Forbidden`: the API accepts it,
 * but it matches no node, which is never what the author meant.
 */
export function validateNodeSelectorTerm(term: V1NodeSelectorTerm, path: string): FieldError[] {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) {
    return [fieldError.forbidden(path, 'an empty term matches no node')];
  }
  const errors: FieldError[] = [];
  const expressionsPath = child(path, 'matchExpressions');
  expressions.forEach((r, i) => errors.push(...validateNodeSelectorRequirement(r, child(expressionsPath, i))));
  const fieldsPath = child(path, 'matchFields');
  fields.forEach((r, i) => errors.push(...validateNodeFieldSelectorRequirement(r, child(fieldsPath, i))));
  return errors;
}

/** `path` is the path of the terms list itself, e.g. `…requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`. */
export function validateNodeSelectorTerms(terms: readonly V1NodeSelectorTerm[] | null | undefined, path: string): FieldError[] {
  if (terms == null || terms.length === 0) {
    return [fieldError.required(path, 'must have at least one node selector term')];
  }
  return terms.flatMap((term, i) => validateNodeSelectorTerm(term, child(path, i)));
}

// ---------------------------------------------------------------------------------------------------------------
// Matching

export type LabelRequirement =
  | { readonly operator: 'In' | 'NotIn'; readonly key: string; readonly values: ReadonlySet<string> }
  | { readonly operator: 'Exists' | 'DoesNotExist'; readonly key: string }
  | { readonly operator: 'Gt' | 'Lt'; readonly key: string; readonly bound: bigint };

export interface FieldRequirement {
  readonly operator: 'In' | 'NotIn';
  readonly key: string;
  readonly value: string;
}

export interface CompiledTerm {
  readonly labels: readonly LabelRequirement[];
  readonly fields: readonly FieldRequirement[];
}

/** `NewRequirement`: `undefined` when the scheduler would report a parse error. */
function compileLabelRequirement(r: V1NodeSelectorRequirement): LabelRequirement | undefined {
  if (validateNodeSelectorRequirement(r, '').length > 0) return undefined;
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
    case 'NotIn':
      return { operator: r.operator, key: r.key, values: new Set(values) };
    case 'Exists':
    case 'DoesNotExist':
      return { operator: r.operator, key: r.key };
    case 'Gt':
    case 'Lt': {
      const bound = values[0] === undefined ? undefined : parseInt64(values[0]);
      return bound === undefined ? undefined : { operator: r.operator, key: r.key, bound };
    }
    default:
      return undefined;
  }
}

/**
 * `nodeSelectorRequirementsAsFieldSelector`: the scheduler only insists on `In`/`NotIn` with exactly one value. It
 * does not check the key; an unknown field reads as the empty string.
 */
function compileFieldRequirement(r: V1NodeSelectorRequirement): FieldRequirement | undefined {
  const [value] = r.values ?? [];
  if ((r.operator !== 'In' && r.operator !== 'NotIn') || r.values?.length !== 1 || value === undefined) return undefined;
  return { operator: r.operator, key: r.key, value };
}

/** `undefined` for a term that matches nothing: an empty one, or one with any requirement that does not parse. */
export function compileTerm(term: V1NodeSelectorTerm): CompiledTerm | undefined {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return undefined;
  const labels: LabelRequirement[] = [];
  for (const expression of expressions) {
    const compiled = compileLabelRequirement(expression);
    if (compiled === undefined) return undefined;
    labels.push(compiled);
  }
  const fieldRequirements: FieldRequirement[] = [];
  for (const field of fields) {
    const compiled = compileFieldRequirement(field);
    if (compiled === undefined) return undefined;
    fieldRequirements.push(compiled);
  }
  return { labels, fields: fieldRequirements };
}

function labelRequirementMatches(r: LabelRequirement, labels: Labels): boolean {
  if (r.operator !== 'Gt' && r.operator !== 'Lt') return requirementMatches(r, labels);
  // A missing label, or a label value that is not an int64, never matches.
  const value = getLabel(labels, r.key);
  const actual = value === undefined ? undefined : parseInt64(value);
  if (actual === undefined) return false;
  return r.operator === 'Gt' ? actual > r.bound : actual < r.bound;
}

function fieldRequirementMatches(r: FieldRequirement, node: NodeIdentity): boolean {
  const actual = r.key === NODE_NAME_FIELD ? node.name : '';
  return r.operator === 'In' ? actual === r.value : actual !== r.value;
}

export function termMatches(term: CompiledTerm, node: NodeIdentity): boolean {
  if (!term.labels.every((r) => labelRequirementMatches(r, node.labels))) return false;
  // As in the scheduler, a node without a name has no fields, and field requirements are then not checked.
  if (node.name === '') return true;
  return term.fields.every((r) => fieldRequirementMatches(r, node));
}

/**
 * Compiles node selector terms (`nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`).
 * Terms are ORed, requirements within a term ANDed; an empty term, a term that does not parse, and an empty list
 * all match no node. Never throws: like the scheduler, a broken term simply never matches.
 */
export function compileNodeSelectorTerms(terms: readonly V1NodeSelectorTerm[]): NodeMatcher {
  const compiled = terms.map(compileTerm).filter((t): t is CompiledTerm => t !== undefined);
  return { matches: (node) => compiled.some((term) => termMatches(term, node)) };
}
