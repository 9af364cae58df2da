/**
 * Fixtures of the replay suite: AdmissionReview requests under `test/fixtures/admission/<endpoint>/`, the rule set
 * and cluster beside them, and golden files (`<name>.golden.json`) that are compared, or rewritten with
 * `UPDATE_GOLDEN=1`.
 *
 * Every loader returns a fresh clone: a test that edits what it got cannot change what the next test sees.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Operation } from 'fast-json-patch';
import { decodeReview } from '../../src/admission/decode.js';
import type { AdmissionReviewRequest } from '../../src/admission/types.js';
import { parseNamespaces, parseNodes } from '../../src/cluster/objects.js';
import { StaticCluster } from '../../src/cluster/static.js';
import { loadRules } from '../../src/rules/compile.js';

export const FIXTURES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const ADMISSION_DIR = join(FIXTURES_DIR, 'admission');

/** The rules, nodes and namespaces files of the replay suite's cluster. */
export const CLUSTER_FILES = {
  rules: join(FIXTURES_DIR, 'rules.yaml'),
  nodes: join(FIXTURES_DIR, 'nodes.yaml'),
  namespaces: join(FIXTURES_DIR, 'namespaces.yaml'),
} as const;

/**
 * The validate suite's cluster: its own nodes and rules (condition taints, a cordoned node, node templates), so that
 * the mutate goldens never depend on them; the namespaces are shared. Fixtures whose name contains
 * {@link WARN_MODE_MARK} are judged with `rulesWarn` (validation mode `warn`), every other one with `rules`.
 */
export const VALIDATE_CLUSTER_FILES = {
  rules: join(FIXTURES_DIR, 'validate-rules.yaml'),
  rulesWarn: join(FIXTURES_DIR, 'validate-rules-warn.yaml'),
  nodes: join(FIXTURES_DIR, 'validate-nodes.yaml'),
  namespaces: join(FIXTURES_DIR, 'namespaces.yaml'),
} as const;

/** The part of a validate fixture's name that selects `VALIDATE_CLUSTER_FILES.rulesWarn`. */
export const WARN_MODE_MARK = '-warn-mode-';

export interface ClusterFiles {
  readonly rules: string;
  readonly nodes: string;
  readonly namespaces: string;
}

/** The rules, nodes and namespaces files validate fixture `name` is judged against. */
export function validateClusterFiles(name: string): ClusterFiles {
  const { rules, rulesWarn, nodes, namespaces } = VALIDATE_CLUSTER_FILES;
  return { rules: name.includes(WARN_MODE_MARK) ? rulesWarn : rules, nodes, namespaces };
}

export type Endpoint = 'mutate' | 'validate';

const GOLDEN_SUFFIX = '.golden.json';

/** Whether golden files are rewritten instead of compared (`UPDATE_GOLDEN=1`). */
export const updatingGolden = process.env['UPDATE_GOLDEN'] === '1';

export const reviewFile = (name: string, endpoint: Endpoint = 'mutate'): string => join(ADMISSION_DIR, endpoint, `${name}.json`);
export const goldenFile = (name: string, endpoint: Endpoint = 'mutate'): string => join(ADMISSION_DIR, endpoint, `${name}${GOLDEN_SUFFIX}`);

/** Names (without `.json`) of the request fixtures of an endpoint, sorted. */
export function listReviews(endpoint: Endpoint = 'mutate'): string[] {
  return readdirSync(join(ADMISSION_DIR, endpoint))
    .filter((f) => f.endsWith('.json') && !f.endsWith(GOLDEN_SUFFIX))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

const parsed = new Map<string, AdmissionReviewRequest>();

/**
 * The AdmissionReview request of fixture `name`, checked against the request schema once (a broken fixture fails
 * with field paths, not with a puzzling golden diff), and cloned on every call.
 */
export function loadReview(name: string, endpoint: Endpoint = 'mutate'): AdmissionReviewRequest {
  const file = reviewFile(name, endpoint);
  let review = parsed.get(file);
  if (review === undefined) {
    review = decodeReview(JSON.parse(readFileSync(file, 'utf8')) as unknown);
    parsed.set(file, review);
  }
  return structuredClone(review);
}

/** The replay suite's cluster, read from `test/fixtures/` (never from `examples/`). */
export function loadFixtureCluster(): StaticCluster {
  const read = (file: string) => readFileSync(file, 'utf8');
  return new StaticCluster(
    loadRules(read(CLUSTER_FILES.rules), CLUSTER_FILES.rules),
    parseNodes(read(CLUSTER_FILES.nodes), CLUSTER_FILES.nodes),
    parseNamespaces(read(CLUSTER_FILES.namespaces), CLUSTER_FILES.namespaces),
  );
}

/** A cluster read from the given files (a fresh StaticCluster on every call). */
export function loadCluster(files: ClusterFiles): StaticCluster {
  const read = (file: string) => readFileSync(file, 'utf8');
  return new StaticCluster(
    loadRules(read(files.rules), files.rules),
    parseNodes(read(files.nodes), files.nodes),
    parseNamespaces(read(files.namespaces), files.namespaces),
  );
}

/** What a golden file holds: the HTTP status, the AdmissionReview body as sent, and its patch decoded. */
export interface Golden {
  status: number;
  response: unknown;
  patch: Operation[] | null;
}

/** What a validate golden file holds: the HTTP status and the AdmissionReview body as sent (validation never patches). */
export interface ValidateGolden {
  status: number;
  response: unknown;
}

/**
 * Compares `actual` with the golden file of fixture `name`; with `UPDATE_GOLDEN=1` writes it instead. A missing
 * golden file fails the test (a new fixture must be reviewed once, not silently accepted).
 */
export function expectGolden(name: string, actual: Golden | ValidateGolden, endpoint: Endpoint = 'mutate'): void {
  const file = goldenFile(name, endpoint);
  if (updatingGolden) {
    writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
    return;
  }
  if (!existsSync(file)) {
    expect.fail(`golden file ${file} is missing; run the suite with UPDATE_GOLDEN=1 and review what it writes`);
  }
  const want = JSON.parse(readFileSync(file, 'utf8')) as Golden | ValidateGolden;
  expect(actual, `golden ${file} (UPDATE_GOLDEN=1 rewrites it)`).toEqual(want);
}
