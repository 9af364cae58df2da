import type { Static } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';

import { rulesDoc } from '../../test/support/builders.js';
import { formatFieldError } from '../util/errors.js';
import { lintRules } from './lint.js';
import type { Inject, Match, NodeSelectorTerm, Rule, RulesDocument } from './schema.js';

const REQUIRED = 'rules[0].inject.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms';
const PREFERRED = 'rules[0].inject.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution';

// The API server's messages, verbatim (k8s.io/apimachinery validation).
const DNS_LABEL = "a DNS-1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const NAME_PART =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc'; regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', 'my_value' or '12345'; regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const SUBDOMAIN =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com'; regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const NOT_INTEGER = "must be a 64-bit decimal integer when `operator` is 'Lt' or 'Gt'";

const rule = (inject: Inject, extra: Partial<Rule> = {}): Rule => ({ name: 'r', inject, ...extra });
const one = (inject: Inject, extra: Partial<Rule> = {}): RulesDocument => rulesDoc([rule(inject, extra)]);
const requiredTerms = (nodeSelectorTerms: Static<typeof NodeSelectorTerm>[]): Inject => ({
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms } } },
});

const errorsOf = (doc: RulesDocument) => lintRules(doc).errors.map(formatFieldError);
const warningsOf = (doc: RulesDocument) => lintRules(doc).warnings.map(formatFieldError);

describe('lintRules errors', () => {
  it.each<{ name: string; doc: RulesDocument; errors: string[] }>([
    {
      name: 'a valid document has no errors',
      doc: rulesDoc(
        [
          rule(
            {
              nodeSelector: { 'node.kubernetes.io/lifecycle': 'spot' },
              tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }, { operator: 'Exists' }],
              ...requiredTerms([{ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['3'] }] }]),
              env: [{ name: 'REGION', value: 'eu' }],
              volumes: [{ name: 'cache', emptyDir: {} }],
              volumeMounts: [{ name: 'cache', mountPath: '/cache' }],
            },
            { match: { namespaces: ['streaming'], podSelector: { matchLabels: { app: 'web' } } } },
          ),
        ],
        { excludedNamespaces: ['kube-system'], validation: { nodeTemplates: [{ name: 'spot', allocatable: { cpu: '4', memory: 8 } }] } },
      ),
      errors: [],
    },
    {
      name: 'a rule name that is not a DNS-1123 label',
      doc: rulesDoc([{ name: 'Spot_Nodes', inject: { nodeSelector: { a: 'b' } } }]),
      errors: [`rules[0].name: invalid value "Spot_Nodes": ${DNS_LABEL}`],
    },
    {
      name: 'a rule name longer than 63 characters',
      doc: rulesDoc([{ name: 'a'.repeat(64), inject: { nodeSelector: { a: 'b' } } }]),
      errors: [`rules[0].name: invalid value "${'a'.repeat(64)}": must be no more than 63 characters`],
    },
    {
      name: 'duplicate rule names are reported at the later rule',
      doc: rulesDoc([
        rule({ nodeSelector: { a: 'b' } }),
        { name: 'other', inject: { nodeSelector: { a: 'b' } } },
        rule({ nodeSelector: { c: 'd' } }),
      ]),
      errors: ['rules[2].name: duplicate value "r"'],
    },
    {
      name: 'malformed nodeSelector keys and values, label keys quoted in the path',
      doc: one({ nodeSelector: { '-bad': 'x', 'a~b/c': 'y', good: 'bad value', empty: '' } }),
      errors: [
        `rules[0].inject.nodeSelector["-bad"]: invalid value "-bad": ${NAME_PART}`,
        `rules[0].inject.nodeSelector["a~b/c"]: invalid value "a~b/c": prefix part ${SUBDOMAIN}`,
        `rules[0].inject.nodeSelector.good: invalid value "bad value": ${LABEL_VALUE}`,
      ],
    },
    {
      name: 'tolerations: empty key without Exists, value with Exists, tolerationSeconds without NoExecute, bad key',
      doc: one({
        tolerations: [
          { operator: 'Equal', value: 'x' },
          { key: 'k', operator: 'Exists', value: 'v' },
          { key: 'k', effect: 'NoSchedule', tolerationSeconds: 5 },
          { key: 'bad key' },
        ],
      }),
      errors: [
        'rules[0].inject.tolerations[0].operator: invalid value "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
        "rules[0].inject.tolerations[1].value: must be empty when `operator` is 'Exists'",
        'rules[0].inject.tolerations[2].effect: invalid value "NoSchedule": effect must be \'NoExecute\' when `tolerationSeconds` is set',
        `rules[0].inject.tolerations[3].key: invalid value "bad key": ${NAME_PART}`,
      ],
    },
    {
      name: 'an empty nodeSelectorTerms list is required to have a term (reported once)',
      doc: one(requiredTerms([])),
      errors: [`${REQUIRED}: must have at least one node selector term`],
    },
    {
      name: 'an empty term, with or without empty lists, matches no node',
      doc: one(requiredTerms([{}, { matchExpressions: [], matchFields: [] }, { matchExpressions: [{ key: 'a', operator: 'Exists' }] }])),
      errors: [`${REQUIRED}[0]: an empty term matches no node`, `${REQUIRED}[1]: an empty term matches no node`],
    },
    {
      name: 'operator and values disagree: In without values, Exists with values, Lt with two values',
      doc: one(
        requiredTerms([
          {
            matchExpressions: [
              { key: 'a', operator: 'In' },
              { key: 'b', operator: 'NotIn', values: [] },
              { key: 'c', operator: 'Exists', values: ['x'] },
              { key: 'd', operator: 'DoesNotExist', values: ['x'] },
              { key: 'e', operator: 'Lt', values: ['1', '2'] },
              { key: 'f', operator: 'Gt' },
            ],
          },
        ]),
      ),
      errors: [
        `${REQUIRED}[0].matchExpressions[0].values: must be specified when \`operator\` is 'In' or 'NotIn'`,
        `${REQUIRED}[0].matchExpressions[1].values: must be specified when \`operator\` is 'In' or 'NotIn'`,
        `${REQUIRED}[0].matchExpressions[2].values: may not be specified when \`operator\` is 'Exists' or 'DoesNotExist'`,
        `${REQUIRED}[0].matchExpressions[3].values: may not be specified when \`operator\` is 'Exists' or 'DoesNotExist'`,
        `${REQUIRED}[0].matchExpressions[4].values: must be specified single value when \`operator\` is 'Lt' or 'Gt'`,
        `${REQUIRED}[0].matchExpressions[5].values: must be specified single value when \`operator\` is 'Lt' or 'Gt'`,
      ],
    },
    {
      name: 'Gt and Lt with values that are not integers',
      doc: one(
        requiredTerms([
          {
            matchExpressions: [
              { key: 'a', operator: 'Gt', values: ['ten'] },
              { key: 'b', operator: 'Lt', values: ['1.5'] },
              { key: 'c', operator: 'Gt', values: ['99999999999999999999'] },
              { key: 'd', operator: 'Lt', values: ['-1'] },
              { key: 'e', operator: 'Gt', values: ['007'] },
            ],
          },
        ]),
      ),
      errors: [
        `${REQUIRED}[0].matchExpressions[0].values[0]: invalid value "ten": ${NOT_INTEGER}`,
        `${REQUIRED}[0].matchExpressions[1].values[0]: invalid value "1.5": ${NOT_INTEGER}`,
        `${REQUIRED}[0].matchExpressions[2].values[0]: invalid value "99999999999999999999": ${NOT_INTEGER}`,
        `${REQUIRED}[0].matchExpressions[3].values[0]: invalid value "-1": ${LABEL_VALUE}`,
      ],
    },
    {
      name: 'matchFields: only metadata.name, only In/NotIn, exactly one value, a node name',
      doc: one(
        requiredTerms([
          {
            matchFields: [
              { key: 'metadata.labels', operator: 'In', values: ['x'] },
              { key: 'metadata.name', operator: 'Exists' },
              { key: 'metadata.name', operator: 'In', values: ['a', 'b'] },
              { key: 'metadata.name', operator: 'NotIn', values: ['Bad_Name'] },
            ],
          },
        ]),
      ),
      errors: [
        `${REQUIRED}[0].matchFields[0].key: unsupported value "metadata.labels"; supported values: "metadata.name"`,
        `${REQUIRED}[0].matchFields[1].operator: unsupported value "Exists"; supported values: "In", "NotIn"`,
        `${REQUIRED}[0].matchFields[2].values: must be only one value when \`operator\` is 'In' or 'NotIn' for node field selector`,
        `${REQUIRED}[0].matchFields[3].values[0]: invalid value "Bad_Name": ${SUBDOMAIN}`,
      ],
    },
    {
      name: 'a malformed key in a node selector requirement',
      doc: one(requiredTerms([{ matchExpressions: [{ key: 'bad key', operator: 'Exists' }] }])),
      errors: [`${REQUIRED}[0].matchExpressions[0].key: invalid value "bad key": ${NAME_PART}`],
    },
    {
      name: 'preferred terms are checked like required ones',
      doc: one({
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 1,
                preference: {
                  matchExpressions: [{ key: 'c', operator: 'Gt', values: ['ten'] }],
                  matchFields: [{ key: 'x', operator: 'In', values: ['n'] }],
                },
              },
            ],
          },
        },
      }),
      errors: [
        `${PREFERRED}[0].preference.matchExpressions[0].values[0]: invalid value "ten": ${NOT_INTEGER}`,
        `${PREFERRED}[0].preference.matchFields[0].key: unsupported value "x"; supported values: "metadata.name"`,
      ],
    },
    {
      name: 'pod affinity terms: empty topologyKey, bad selectors, bad namespaces',
      doc: one({
        affinity: {
          podAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { topologyKey: '', labelSelector: { matchExpressions: [{ key: 'app', operator: 'In' }] }, namespaces: ['Bad'] },
            ],
          },
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 5, podAffinityTerm: { topologyKey: 'bad key', namespaceSelector: { matchLabels: { '-x': 'y' } } } },
            ],
          },
        },
      }),
      errors: [
        'rules[0].inject.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: can not be empty',
        "rules[0].inject.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'",
        `rules[0].inject.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces[0]: invalid value "Bad": ${DNS_LABEL}`,
        `rules[0].inject.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey: invalid value "bad key": ${NAME_PART}`,
        `rules[0].inject.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.namespaceSelector.matchLabels["-x"]: invalid value "-x": ${NAME_PART}`,
      ],
    },
    {
      name: 'topology spread: bad key, bad selector, two constraints with the same key and whenUnsatisfiable',
      doc: one({
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' },
          { maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' },
          { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway' },
          {
            maxSkew: 1,
            topologyKey: 'bad key',
            whenUnsatisfiable: 'ScheduleAnyway',
            labelSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['b'] }] },
          },
        ],
      }),
      errors: [
        `rules[0].inject.topologySpreadConstraints[3].topologyKey: invalid value "bad key": ${NAME_PART}`,
        "rules[0].inject.topologySpreadConstraints[3].labelSelector.matchExpressions[0].values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        'rules[0].inject.topologySpreadConstraints[1]: duplicate value "{zone, DoNotSchedule}"',
      ],
    },
    {
      name: 'env: bad name, value with valueFrom, valueFrom with two or no sources, duplicate names',
      doc: one({
        env: [
          { name: '1X', value: 'a' },
          { name: 'A', value: 'a', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' }, secretKeyRef: { key: 'k' } } },
          { name: 'A', value: 'b' },
          { name: 'C', valueFrom: {} },
        ],
      }),
      errors: [
        `rules[0].inject.env[0].name: invalid value "1X": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit`,
        'rules[0].inject.env[1].valueFrom: invalid value "": may not be specified when `value` is not empty',
        'rules[0].inject.env[2].valueFrom: invalid value "": must specify exactly one of configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef',
        'rules[0].inject.env[4].valueFrom: invalid value "": must specify exactly one of configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef',
        'rules[0].inject.env[3].name: duplicate value "A"',
      ],
    },
    {
      name: 'envFrom: no source, two sources, the same source twice',
      doc: one({
        envFrom: [
          { prefix: 'X_' },
          { configMapRef: { name: 'a' }, secretRef: { name: 'b' } },
          { configMapRef: { name: 'c' } },
          { configMapRef: { name: 'c' }, prefix: 'Y_' },
          { secretRef: { name: 'c' } },
        ],
      }),
      errors: [
        'rules[0].inject.envFrom[0]: invalid value "": must specify exactly one of configMapRef, secretRef',
        'rules[0].inject.envFrom[1]: invalid value "": must specify exactly one of configMapRef, secretRef',
        'rules[0].inject.envFrom[3]: duplicate value "configMap:c"',
      ],
    },
    {
      name: 'volumeMounts: empty mountPath, subPath with subPathExpr, two mounts at one path',
      doc: one({
        volumeMounts: [
          { name: 'a', mountPath: '' },
          { name: 'a', mountPath: '/x', subPath: 'a', subPathExpr: 'b' },
          { name: 'b', mountPath: '/x' },
        ],
      }),
      errors: [
        'rules[0].inject.volumeMounts[0].mountPath: required value',
        'rules[0].inject.volumeMounts[1].subPathExpr: invalid value "b": subPathExpr and subPath are mutually exclusive',
        'rules[0].inject.volumeMounts[2].mountPath: duplicate value "/x"',
      ],
    },
    {
      name: 'volumes: bad name, no source, two sources, duplicate names',
      doc: one({
        volumes: [
          { name: 'Bad_Name', emptyDir: {} },
          { name: 'a' },
          { name: 'b', emptyDir: {}, configMap: { name: 'c' } },
          { name: 'b', emptyDir: {} },
        ],
      }),
      errors: [
        `rules[0].inject.volumes[0].name: invalid value "Bad_Name": ${DNS_LABEL}`,
        'rules[0].inject.volumes[1]: invalid value "a": must specify exactly one volume source, found 0',
        'rules[0].inject.volumes[2]: invalid value "b": must specify exactly one volume source, found 2',
        'rules[0].inject.volumes[3].name: duplicate value "b"',
      ],
    },
    {
      name: 'match: bad namespace name, bad namespaceSelector key, podSelector NotIn without values',
      doc: one(
        { nodeSelector: { a: 'b' } },
        {
          match: {
            namespaces: ['Bad'],
            namespaceSelector: { matchLabels: { 'bad key': 'x' } },
            podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn' }] },
          },
        },
      ),
      errors: [
        `rules[0].match.namespaces[0]: invalid value "Bad": ${DNS_LABEL}`,
        `rules[0].match.namespaceSelector.matchLabels["bad key"]: invalid value "bad key": ${NAME_PART}`,
        "rules[0].match.podSelector.matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'",
      ],
    },
    {
      name: 'settings: bad excluded namespace, node templates without name, with bad labels, taints, quantities, duplicates',
      doc: rulesDoc([rule({ nodeSelector: { a: 'b' } })], {
        excludedNamespaces: ['kube-system', 'Bad'],
        validation: {
          nodeTemplates: [
            { name: '', labels: { '-a': 'b' }, taints: [{ key: '', effect: 'NoSchedule' }], allocatable: { cpu: 'lots', memory: 4 } },
            { name: 't' },
            { name: 't' },
          ],
        },
      }),
      errors: [
        `settings.excludedNamespaces[1]: invalid value "Bad": ${DNS_LABEL}`,
        'settings.validation.nodeTemplates[0].name: required value',
        `settings.validation.nodeTemplates[0].labels["-a"]: invalid value "-a": ${NAME_PART}`,
        'settings.validation.nodeTemplates[0].taints[0].key: required value',
        'settings.validation.nodeTemplates[0].allocatable.cpu: invalid value "lots": quantities must match the regular expression \'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$\'',
        'settings.validation.nodeTemplates[2].name: duplicate value "t"',
      ],
    },
    {
      name: 'errors of several rules each carry their own rule index',
      doc: rulesDoc([
        { name: 'a', inject: { nodeSelector: { ok: 'yes' } } },
        { name: 'b', inject: { nodeSelector: { ok: 'no way' } } },
        { name: 'c', inject: { tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] } },
      ]),
      errors: [
        `rules[1].inject.nodeSelector.ok: invalid value "no way": ${LABEL_VALUE}`,
        "rules[2].inject.tolerations[0].value: must be empty when `operator` is 'Exists'",
      ],
    },
  ])('$name', ({ doc, errors }) => {
    expect(errorsOf(doc)).toStrictEqual(errors);
  });
});

describe('lintRules warnings', () => {
  it.each([
    { name: 'the default list (settings omitted) gives no warning', excluded: undefined, warnings: [] },
    { name: 'a list that keeps both system namespaces gives no warning', excluded: ['kube-system', 'kube-node-lease', 'ops'], warnings: [] },
    {
      name: 'a list that drops kube-node-lease warns that its pods will be handled',
      excluded: ['kube-system'],
      warnings: ['settings.excludedNamespaces: replaces the default list and leaves out kube-node-lease: their pods will be mutated and validated'],
    },
    {
      name: 'an empty list warns about both',
      excluded: [],
      warnings: [
        'settings.excludedNamespaces: replaces the default list and leaves out kube-system, kube-node-lease: their pods will be mutated and validated',
      ],
    },
  ])('$name', ({ excluded, warnings }) => {
    const doc = rulesDoc(
      [{ name: 'a', inject: { nodeSelector: { a: 'b' } } }],
      excluded === undefined ? undefined : { excludedNamespaces: excluded },
    );
    expect(warningsOf(doc)).toEqual(warnings);
  });

  const zone = (name: string, value: string, match?: Match, onConflict?: Rule['onConflict']): Rule => ({
    name,
    ...(match ? { match } : {}),
    ...(onConflict ? { onConflict } : {}),
    inject: { nodeSelector: { zone: value } },
  });
  const contradiction = (j: number, i: number, earlier: string, mine: string, theirs: string, onConflict = 'keep') =>
    `rules[${j}].inject.nodeSelector: may apply to the same pods as rules[${i}] ("${earlier}") but sets zone=${mine} where that rule sets zone=${theirs}; ` +
    `the earlier rule wins and this one's onConflict (${onConflict}) decides`;

  it('a rule overriding a value an earlier rule guards with onConflict: reject is an error (a re-invocation would reject the pod)', () => {
    const doc = rulesDoc([zone('a', 'a', undefined, 'reject'), zone('b', 'b', undefined, 'override')]);
    expect(lintRules(doc).errors.map(formatFieldError)).toEqual([
      'rules[1].onConflict: may apply to the same pods as rules[0] ("a") but sets zone=b where that rule sets zone=a, and overriding it would make a re-invocation reject the pod (that rule\'s onConflict is reject)',
    ]);
    // Disjoint matches, or a later rule that keeps, are fine.
    expect(lintRules(rulesDoc([zone('a', 'a', { namespaces: ['x'] }, 'reject'), zone('b', 'b', { namespaces: ['y'] }, 'override')])).errors).toEqual(
      [],
    );
    expect(lintRules(rulesDoc([zone('a', 'a', undefined, 'reject'), zone('b', 'b', undefined, 'keep')])).errors).toEqual([]);
  });

  it.each<{ field: string; a: Rule['inject']; b: Rule['inject']; what: string }>([
    {
      field: 'volumes',
      a: { volumes: [{ name: 'ca', configMap: { name: 'ca' } }] },
      b: { volumes: [{ name: 'ca', emptyDir: {} }] },
      what: 'volumes ca',
    },
    { field: 'env', a: { env: [{ name: 'MODE', value: 'a' }] }, b: { env: [{ name: 'MODE', value: 'b' }] }, what: 'env MODE' },
    {
      field: 'envFrom',
      a: { envFrom: [{ configMapRef: { name: 'cfg' } }] },
      b: { envFrom: [{ configMapRef: { name: 'cfg', optional: true } }] },
      what: 'envFrom configMap:cfg',
    },
    {
      field: 'volumeMounts',
      a: { volumeMounts: [{ name: 'ca', mountPath: '/ca' }] },
      b: { volumeMounts: [{ name: 'other', mountPath: '/ca' }] },
      what: 'volumeMounts /ca',
    },
    {
      field: 'topologySpreadConstraints',
      a: { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: {} }] },
      b: { topologySpreadConstraints: [{ maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: {} }] },
      what: 'topologySpreadConstraints zone/DoNotSchedule',
    },
  ])('the same holds for $field, identified as the merge identifies it (values not shown)', ({ field, a, b, what }) => {
    const reject = lintRules(
      rulesDoc([
        { name: 'a', onConflict: 'reject', inject: a },
        { name: 'b', onConflict: 'override', inject: b },
      ]),
    );
    expect(reject.errors.map(formatFieldError)).toEqual([
      `rules[1].onConflict: may apply to the same pods as rules[0] ("a") but sets ${what} differently, and overriding it would make a re-invocation reject the pod (that rule's onConflict is reject)`,
    ]);
    const keep = lintRules(
      rulesDoc([
        { name: 'a', inject: a },
        { name: 'b', inject: b },
      ]),
    );
    expect(keep.errors).toEqual([]);
    expect(keep.warnings.map(formatFieldError)).toEqual([
      `rules[1].inject.${field}: may apply to the same pods as rules[0] ("a") but sets ${what} differently; the earlier rule wins and this one's onConflict (keep) decides`,
    ]);
    // Equal entries are no contradiction.
    expect(
      lintRules(
        rulesDoc([
          { name: 'a', onConflict: 'reject', inject: a },
          { name: 'b', onConflict: 'override', inject: a },
        ]),
      ).errors,
    ).toEqual([]);
  });

  it.each<{ name: string; rules: Rule[]; warnings: string[] }>([
    {
      name: 'two rules matching every pod with contradicting nodeSelectors',
      rules: [zone('a', 'a'), zone('b', 'b', undefined, 'override')],
      warnings: [contradiction(1, 0, 'a', 'b', 'a', 'override')],
    },
    {
      name: 'the same value for the same key is no contradiction',
      rules: [zone('a', 'a'), zone('b', 'a')],
      warnings: [],
    },
    {
      name: 'different keys are no contradiction',
      rules: [zone('a', 'a'), { name: 'b', inject: { nodeSelector: { disk: 'ssd' } } }],
      warnings: [],
    },
    {
      name: 'disjoint namespace lists cannot overlap',
      rules: [zone('a', 'a', { namespaces: ['x'] }), zone('b', 'b', { namespaces: ['y', 'z'] })],
      warnings: [],
    },
    {
      name: 'overlapping namespace lists may overlap',
      rules: [zone('a', 'a', { namespaces: ['x', 'y'] }), zone('b', 'b', { namespaces: ['y'] })],
      warnings: [contradiction(1, 0, 'a', 'b', 'a')],
    },
    {
      name: 'a namespace list and no namespace restriction may overlap',
      rules: [zone('a', 'a', { namespaces: ['x'] }), zone('b', 'b')],
      warnings: [contradiction(1, 0, 'a', 'b', 'a')],
    },
    {
      name: 'podSelectors requiring different values of one label cannot overlap (matchLabels against In)',
      rules: [
        zone('a', 'a', { podSelector: { matchLabels: { app: 'x' } } }),
        zone('b', 'b', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['y', 'z'] }] } }),
      ],
      warnings: [],
    },
    {
      name: 'podSelectors with Exists against DoesNotExist cannot overlap',
      rules: [
        zone('a', 'a', { podSelector: { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] } }),
        zone('b', 'b', { podSelector: { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] } }),
      ],
      warnings: [],
    },
    {
      name: 'podSelectors with DoesNotExist against matchLabels cannot overlap (either order)',
      rules: [
        zone('a', 'a', { podSelector: { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] } }),
        zone('b', 'b', { podSelector: { matchLabels: { gpu: 'true' } } }),
      ],
      warnings: [],
    },
    {
      name: 'podSelectors whose In sets share a value may overlap',
      rules: [
        zone('a', 'a', { podSelector: { matchLabels: { app: 'x' } } }),
        zone('b', 'b', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['x', 'z'] }] } }),
      ],
      warnings: [contradiction(1, 0, 'a', 'b', 'a')],
    },
    {
      name: 'podSelectors on different labels may overlap',
      rules: [zone('a', 'a', { podSelector: { matchLabels: { app: 'x' } } }), zone('b', 'b', { podSelector: { matchLabels: { tier: 'web' } } })],
      warnings: [contradiction(1, 0, 'a', 'b', 'a')],
    },
    {
      name: 'namespaceSelectors requiring different values cannot overlap',
      rules: [
        zone('a', 'a', { namespaceSelector: { matchLabels: { team: 'a' } } }),
        zone('b', 'b', { namespaceSelector: { matchLabels: { team: 'b' } } }),
      ],
      warnings: [],
    },
    {
      name: 'three contradicting rules warn for every later pair',
      rules: [zone('a', 'a'), zone('b', 'b'), zone('c', 'c')],
      warnings: [contradiction(1, 0, 'a', 'b', 'a'), contradiction(2, 0, 'a', 'c', 'a'), contradiction(2, 1, 'b', 'c', 'b')],
    },
    {
      name: 'a rule that injects nothing is reported, also with empty lists and maps',
      rules: [
        { name: 'a', inject: {} },
        { name: 'b', inject: { nodeSelector: {}, tolerations: [], affinity: {} } },
      ],
      warnings: [
        'rules[0].inject: injects nothing: the rule only records itself in the applied-rules annotation',
        'rules[1].inject: injects nothing: the rule only records itself in the applied-rules annotation',
      ],
    },
  ])('$name', ({ rules, warnings }) => {
    const doc = rulesDoc(rules);
    expect(warningsOf(doc)).toStrictEqual(warnings);
    expect(errorsOf(doc)).toStrictEqual([]);
  });
});
