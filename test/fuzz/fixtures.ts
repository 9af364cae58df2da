/**
 * The realistic objects fuzz cases start from: every AdmissionReview request under `test/fixtures/admission/`
 * (pods as the API server sends them, with the service-account volume and default tolerations; workloads; rules
 * ConfigMaps), and the rules documents of the fixture clusters. Read once; callers get clones.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKLOAD_KINDS } from '../../src/workloads/workloads.js';
import { ADMISSION_DIR, CLUSTER_FILES, VALIDATE_CLUSTER_FILES } from '../support/fixtures.js';
import { getAt } from './json.js';

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function requests(): Obj[] {
  const out: Obj[] = [];
  for (const endpoint of ['mutate', 'validate']) {
    const dir = join(ADMISSION_DIR, endpoint);
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.json') || f.endsWith('.golden.json')) continue;
      const review = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { request?: unknown };
      if (isObject(review.request)) out.push(review.request);
    }
  }
  return out;
}

const REQUESTS = requests();

const kindOf = (r: Obj) => (isObject(r['kind']) ? `${String(r['kind']['group'])}/${String(r['kind']['kind'])}` : '');

/** Pods of the fixtures (`metadata`, `spec`, `status`), and the pod templates of their workloads as pods. */
export const FIXTURE_PODS: readonly Obj[] = Object.freeze([
  ...REQUESTS.filter((r) => kindOf(r) === '/Pod' && isObject(r['object']) && isObject(r['object']['spec'])).map((r) => r['object'] as Obj),
  ...REQUESTS.flatMap((r) => {
    const kind = WORKLOAD_KINDS.find((k) => `${k.group}/${k.kind}` === kindOf(r));
    const template = kind ? getAt(r['object'], kind.templatePath) : undefined;
    return isObject(template) && isObject(template['spec']) ? [{ apiVersion: 'v1', kind: 'Pod', ...template }] : [];
  }),
]);

/** The `userInfo` and `options` the fixture requests carry, to make envelopes look like the API server's. */
export const FIXTURE_USER_INFOS: readonly unknown[] = Object.freeze(REQUESTS.map((r) => r['userInfo']).filter(isObject));

/** Metadata of the fixture workloads (names, labels), to wrap templates in. */
export const FIXTURE_WORKLOAD_METADATA: readonly Obj[] = Object.freeze(
  REQUESTS.filter((r) => WORKLOAD_KINDS.some((k) => `${k.group}/${k.kind}` === kindOf(r)))
    .map((r) => getAt(r['object'], ['metadata']))
    .filter(isObject),
);

const read = (file: string) => readFileSync(file, 'utf8');

/** The rules documents of the fixture clusters, as text. */
export const FIXTURE_RULES_TEXTS: readonly string[] = Object.freeze([
  read(CLUSTER_FILES.rules),
  read(VALIDATE_CLUSTER_FILES.rules),
  read(VALIDATE_CLUSTER_FILES.rulesWarn),
  ...REQUESTS.filter((r) => kindOf(r) === '/ConfigMap')
    .map((r) => getAt(r['object'], ['data', 'rules.yaml']))
    .filter((t): t is string => typeof t === 'string'),
]);
