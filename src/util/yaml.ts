/**
 * YAML (and JSON) from users, read with explicit limits on what a document may cost. Everything this project reads
 * as YAML goes through here: the rules file and ConfigMap, node/pod/namespace files, stdin.
 *
 * A document over a limit is *invalid*, like any other: the caller gets field errors, never an exception. The
 * limits, and why each exists:
 * - **size** (`maxBytes`): the text is refused before it is parsed.
 * - **nesting** (`maxDepth`): the YAML library composes flow collections (`[[[[…]]]]`) recursively and runs out of
 *   memory, fatally, a few thousand levels deep; depth is therefore measured on the concrete syntax tree, which is
 *   built without recursion, before anything is composed.
 * - **alias expansion**: an alias stands for a copy of its anchored node. The library returns one shared object
 *   for every use of an anchor, so the *value* stays small, but anything that walks it (a schema check, a clone,
 *   the linter) walks every copy: a "billion laughs" document is exponential. The expanded size is counted on the
 *   syntax tree (each node once, memoised) and aliases may add at most as many nodes as the document has, or
 *   {@link ALIAS_ALLOWANCE}, whichever is more. Legitimate reuse — a hundred rules sharing one anchored toleration
 *   list — is far inside that.
 * - **documents** (`maxDocuments`): where one document is expected, a second one is an error, not ignored.
 * Duplicate mapping keys are errors (YAML would silently keep the last one).
 *
 * With `fastJson`, JSON text (starting with `{` or `[`) is read with `JSON.parse`, which is fast and iterative, and
 * then held to the same depth limit; YAML is a superset, so a JSON document that `JSON.parse` refuses is still tried
 * as YAML.
 */
import { Composer, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Parser, type CST, type Document, type Node } from 'yaml';
import type { FieldError } from './errors.js';

export interface YamlLimits {
  /** Largest text accepted, in bytes (UTF-8). */
  readonly maxBytes: number;
  /** Deepest nesting of collections accepted. */
  readonly maxDepth: number;
  /** Most non-empty documents accepted. */
  readonly maxDocuments: number;
  /**
   * Read text that looks like JSON with `JSON.parse` (fast, for large `kubectl -o json` files). It keeps the last of
   * duplicate keys silently, so documents people write by hand (rules) are always read as YAML.
   */
  readonly fastJson: boolean;
}

/** Aliases may always add this many nodes, however small the document. */
export const ALIAS_ALLOWANCE = 100_000;

/** Nesting deeper than any Kubernetes object placement reads (a pod is about 15 levels deep). */
export const MAX_NESTING_DEPTH = 100;

/** The rules document: one document; a ConfigMap holds at most 1 MiB, a file a little more. */
export const RULES_LIMITS: YamlLimits = Object.freeze({
  maxBytes: 4 * 1024 * 1024,
  maxDocuments: 1,
  maxDepth: MAX_NESTING_DEPTH,
  fastJson: false,
});

/**
 * Kubernetes objects from files or stdin (`kubectl get pods -A -o yaml`): many documents, large files. The size
 * limit is V8's longest string, which a file must fit into to be read at all.
 */
export const OBJECTS_LIMITS: YamlLimits = Object.freeze({
  maxBytes: 512 * 1024 * 1024,
  maxDocuments: Number.MAX_SAFE_INTEGER,
  maxDepth: MAX_NESTING_DEPTH,
  fastJson: true,
});

export type YamlResult =
  | { readonly ok: true; readonly values: readonly { readonly value: unknown; readonly document: number }[] }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

const invalid = (path: string, detail: string): YamlResult => ({ ok: false, errors: [{ type: 'Invalid', path, detail }] });

const byteLength = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * The depth of the deepest value under `value` (a scalar is 0, `[]` is 1), or `limit + 1` as soon as the limit is
 * passed. Iterative, so any depth is measured without growing the stack.
 */
export function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    const d = depth + 1;
    if (d > limit) return d;
    if (d > deepest) deepest = d;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, d]);
    }
  }
  return deepest;
}

/** The offset of the first collection nested deeper than `limit` in a CST token, or undefined when there is none. */
function tooDeep(token: CST.Token, limit: number): number | undefined {
  const stack: [CST.Token | undefined, number][] = [[token, 0]];
  while (stack.length > 0) {
    const [t, depth] = stack.pop() as [CST.Token | undefined, number];
    if (t === undefined) continue;
    switch (t.type) {
      case 'document':
        stack.push([t.value, depth]);
        break;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        const d = depth + 1;
        if (d > limit) return t.offset;
        for (const item of t.items) {
          if ('key' in item && item.key) stack.push([item.key, d]);
          if ('value' in item && item.value) stack.push([item.value, d]);
        }
        break;
      }
      default:
        break;
    }
  }
  return undefined;
}

/**
 * Nodes of `doc` with every alias expanded, counted without expanding anything (each node's expanded size is
 * computed once). Stops counting past `limit`. Undefined for an alias cycle (an alias inside its own anchor).
 */
function expandedSize(doc: Document.Parsed, limit: number): { plain: number; expanded: number } | undefined {
  const sizeOf = new Map<Node, number>();
  const anchors = new Map<string, Node>();
  let plain = 0;
  // Post-order without recursion: a node is entered (its anchor becomes visible, as the library resolves an alias
  // to the last anchor of that name before it), then left once its children are sized.
  type Frame = { node: Node; children: Node[] | undefined };
  const root = doc.contents;
  if (!root) return { plain: 0, expanded: 0 };
  const stack: Frame[] = [{ node: root, children: undefined }];
  const inProgress = new Set<Node>();
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    const { node } = frame;
    if (frame.children === undefined) {
      plain++;
      if (node.anchor) anchors.set(node.anchor, node);
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        stack.pop();
        if (target === undefined) {
          sizeOf.set(node, 1); // an unresolved alias is the library's error to report
          continue;
        }
        if (inProgress.has(target)) return undefined;
        sizeOf.set(node, sizeOf.get(target) ?? 1);
        continue;
      }
      const children: Node[] = [];
      if (isMap(node) || isSeq(node)) {
        for (const item of node.items as unknown[]) {
          if (isPair(item)) {
            if (item.key && typeof item.key === 'object') children.push(item.key as Node);
            if (item.value && typeof item.value === 'object') children.push(item.value as Node);
          } else if (item && typeof item === 'object') children.push(item as Node);
        }
      }
      frame.children = children;
      inProgress.add(node);
      // Children in document order: pushed reversed, so the first is entered first.
      for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i] as Node, children: undefined });
      continue;
    }
    stack.pop();
    inProgress.delete(node);
    let size = 1;
    for (const c of frame.children) {
      size += sizeOf.get(c) ?? 1;
      if (size > limit) size = limit + 1;
    }
    sizeOf.set(node, isScalar(node) ? 1 : size);
  }
  return { plain, expanded: sizeOf.get(root) ?? 1 };
}

function lineCol(counter: LineCounter, offset: number): string {
  const { line, col } = counter.linePos(offset);
  return `line ${line}, column ${col}`;
}

/** `document N` for multi-document inputs, the root for single ones. */
const docPath = (n: number, many: boolean) => (many ? `document ${n}` : '');

function tryJson(text: string, limits: YamlLimits): YamlResult | undefined {
  const first = /\S/.exec(text)?.[0];
  if (first !== '{' && first !== '[') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined; // perhaps YAML flow style; the YAML parser says what is wrong
  }
  if (jsonDepth(value, limits.maxDepth) > limits.maxDepth) {
    return invalid('', `nested more than ${limits.maxDepth} levels deep`);
  }
  return { ok: true, values: [{ value, document: 1 }] };
}

/**
 * Parses every document of `text` within `limits`. Empty documents are skipped. Never throws: every problem,
 * including those the YAML library would throw, comes back as a field error with its line and column.
 */
export function loadYaml(text: string, limits: YamlLimits): YamlResult {
  const bytes = byteLength(text);
  if (bytes > limits.maxBytes) return invalid('', `is ${bytes} bytes, more than the limit of ${limits.maxBytes}`);
  const json = limits.fastJson ? tryJson(text, limits) : undefined;
  if (json) return json;
  try {
    const lineCounter = new LineCounter();
    const tokens = [...new Parser(lineCounter.addNewLine).parse(text)];
    const documents = tokens.filter((t) => t.type === 'document').length;
    for (const t of tokens) {
      const at = t.type === 'document' ? tooDeep(t, limits.maxDepth) : undefined;
      if (at !== undefined) return invalid('', `YAML ${lineCol(lineCounter, at)}: nested more than ${limits.maxDepth} levels deep`);
    }
    const composer = new Composer({ uniqueKeys: true, prettyErrors: false });
    const docs = [...composer.compose(tokens), ...composer.end()];
    const many = documents > 1;
    const errors: FieldError[] = [];
    const values: { value: unknown; document: number }[] = [];
    const offsets: number[] = [];
    docs.forEach((doc, i) => {
      const path = docPath(i + 1, many);
      for (const e of doc.errors) {
        errors.push({ type: 'Invalid', path, detail: `YAML ${lineCol(lineCounter, e.pos[0])}: ${e.message.split('\n')[0]}` });
      }
      if (doc.errors.length > 0) return;
      const sizes = expandedSize(doc, Number.MAX_SAFE_INTEGER);
      if (sizes === undefined) {
        errors.push({ type: 'Invalid', path, detail: 'YAML: an alias refers to a node that contains it' });
        return;
      }
      const allowed = sizes.plain + Math.max(sizes.plain, ALIAS_ALLOWANCE);
      if (sizes.expanded > allowed) {
        errors.push({
          type: 'Invalid',
          path,
          detail: `YAML aliases expand the document to more than ${allowed} nodes (it has ${sizes.plain}): refused as a resource exhaustion attack`,
        });
        return;
      }
      // Expansion is bounded above, so the library's own (much stricter) alias count is not needed.
      const value: unknown = doc.toJS({ maxAliasCount: -1 });
      if (value !== null && value !== undefined) {
        values.push({ value, document: i + 1 });
        offsets.push(doc.range[0]);
      }
    });
    if (errors.length > 0) return { ok: false, errors };
    if (values.length > limits.maxDocuments) {
      const extra = lineCol(lineCounter, offsets[limits.maxDocuments] ?? 0);
      const expected = limits.maxDocuments === 1 ? 'one' : `at most ${limits.maxDocuments}`;
      return invalid('', `YAML ${extra}: holds ${values.length} documents; expected ${expected}`);
    }
    return { ok: true, values };
  } catch (err) {
    // The library throws for some inputs it cannot represent; they are invalid documents like any other.
    return invalid('', `YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
}
