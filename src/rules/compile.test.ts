import { describe, expect, it } from 'vitest';

import { looseDoc, ruleSet, rulesDoc } from '../../test/support/builders.js';
import { formatFieldError, InvalidDocumentError } from '../util/errors.js';
import { compileRules, loadRules, parseRules, type CompileResult, type MatchSubject } from './compile.js';
import type { Match } from './schema.js';
import { withNameLabel } from './select.js';

const errorsOf = (result: CompileResult): string[] => (result.ok ? [] : result.errors.map(formatFieldError));

const HEADER = 'apiVersion: placement-webhook/v1\nkind: PlacementRules\n';

describe('compileRules: structure', () => {
  it.each<{ name: string; doc: unknown; errors: string[] }>([
    {
      name: 'an unsupported toleration operator names the supported ones, at the path of the rule',
      doc: looseDoc([
        { name: 'a', inject: { nodeSelector: { a: 'b' } } },
        { name: 'b', inject: { nodeSelector: { a: 'b' } } },
        { name: 'c', inject: { tolerations: [{ key: 'k', operator: 'Equals' }] } },
      ]),
      errors: ['rules[2].inject.tolerations[0].operator: unsupported value "Equals"; supported values: "Equal", "Exists"'],
    },
    {
      name: 'unknown fields at every level, and a bad onConflict',
      doc: looseDoc([{ name: 'b', onConflict: 'replace', extra: 1, inject: { nodeSelectr: {} } }], { excluded: [] }),
      errors: [
        'settings.excluded: unknown field',
        'rules[0].extra: unknown field',
        'rules[0].inject.nodeSelectr: unknown field',
        'rules[0].onConflict: unsupported value "replace"; supported values: "keep", "override", "reject", "skip"',
      ],
    },
    {
      name: 'an unknown field deep inside node affinity',
      doc: looseDoc([
        {
          name: 'a',
          inject: {
            affinity: {
              nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpression: [] }] } },
            },
          },
        },
      ]),
      errors: [
        'rules[0].inject.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpression: unknown field',
      ],
    },
    {
      name: 'a misspelt volume source is an unknown field',
      doc: looseDoc([{ name: 'a', inject: { volumes: [{ name: 'v', configmap: { name: 'x' } }] } }]),
      errors: ['rules[0].inject.volumes[0].configmap: unknown field'],
    },
    {
      name: 'a node selector operator that does not exist names the six supported ones',
      doc: looseDoc([
        {
          name: 'a',
          inject: {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'Gtt', values: ['1'] }] }],
                },
              },
            },
          },
        },
      ]),
      errors: [
        'rules[0].inject.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: unsupported value "Gtt"; supported values: "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"',
      ],
    },
    {
      name: 'a label selector operator that does not exist names the four supported ones',
      doc: looseDoc([{ name: 'a', match: { namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Exist' }] } }, inject: {} }]),
      errors: [
        'rules[0].match.namespaceSelector.matchExpressions[0].operator: unsupported value "Exist"; supported values: "In", "NotIn", "Exists", "DoesNotExist"',
      ],
    },
    {
      name: 'a taint effect that does not exist',
      doc: looseDoc([{ name: 'a', inject: { tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoScheduleX' }] } }]),
      errors: [
        'rules[0].inject.tolerations[0].effect: unsupported value "NoScheduleX"; supported values: "", "NoSchedule", "PreferNoSchedule", "NoExecute"',
      ],
    },
    {
      name: 'wrong types: a number as a label value, a weight above 100',
      doc: looseDoc([
        {
          name: 'a',
          inject: {
            nodeSelector: { a: 1 },
            affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 101, preference: {} }] } },
          },
        },
      ]),
      errors: [
        'rules[0].inject.nodeSelector.a: must be a string, got number 1',
        'rules[0].inject.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be <= 100',
      ],
    },
    {
      name: 'a document of another kind',
      doc: { apiVersion: 'v1', kind: 'ConfigMap', rules: {} },
      errors: [
        'apiVersion: unsupported value "v1"; supported values: "placement-webhook/v1"',
        'kind: unsupported value "ConfigMap"; supported values: "PlacementRules"',
        'rules: must be a list, got an object',
      ],
    },
    {
      name: 'a document without rules',
      doc: { apiVersion: 'placement-webhook/v1', kind: 'PlacementRules' },
      errors: ['rules: required value'],
    },
    {
      name: 'a rule without inject',
      doc: looseDoc([{ name: 'a' }]),
      errors: ['rules[0].inject: required value'],
    },
    {
      name: 'an unsupported validation mode',
      doc: looseDoc([], { validation: { mode: 'strict' } }),
      errors: ['settings.validation.mode: unsupported value "strict"; supported values: "enforce", "warn", "off"'],
    },
    { name: 'a string', doc: 'rules', errors: ['must be an object, got string "rules"'] },
    { name: 'a list', doc: [], errors: ['must be an object, got a list'] },
  ])('$name', ({ doc, errors }) => {
    const result = compileRules(doc);
    expect(result.ok).toBe(false);
    expect(errorsOf(result)).toStrictEqual(errors);
  });

  it('a structural error in one rule does not hide the semantic errors of the others: every error at once', () => {
    const result = compileRules(
      looseDoc([
        { name: 'a', inject: { tolerations: [{ key: 'spot', operator: 'Equals' }] } },
        { name: 'B_b', inject: { nodeSelector: { x: 'y' } } },
        { name: 'c', inject: { nodeSelector: { 'a~b': 'y' } } },
      ]),
    );
    expect(result.ok).toBe(false);
    expect(errorsOf(result)).toStrictEqual([
      'rules[0].inject.tolerations[0].operator: unsupported value "Equals"; supported values: "Equal", "Exists"',
      expect.stringMatching(/^rules\[1\]\.name: invalid value "B_b": a DNS-1123 label/),
      expect.stringMatching(/^rules\[2\]\.inject\.nodeSelector\["a~b"\]: invalid value "a~b"/),
    ]);
  });

  it('structural errors beside semantic ones, in the same rule and the same settings, are all reported in one pass', () => {
    const result = compileRules({
      ...looseDoc(
        [
          {
            name: 'Bad_Name',
            colour: 'blue', // unknown field
            onConflict: 'sometimes', // not supported
            inject: {
              nodeSelector: { 'bad key!': 'x' },
              tolerations: [
                { key: 'spot', operator: 'Equals' },
                { key: 'ok', operator: 'Exists', value: 'no' },
              ],
              affinity: {
                nodeAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [
                      { matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['1.5'] }] },
                      { matchExpressions: [{ key: 'gpu', operator: 'Exists', values: ['yes'] }] },
                      {},
                      { matchExpressions: [{ key: 'zone', operator: 'Near', values: ['a'] }] },
                    ],
                  },
                },
              },
              env: [
                { name: 'X', value: '1' },
                { name: 'X', value: '2' },
                { name: 'Y', value: 3 },
              ],
              volumes: [{ name: 'cache' }, { name: 'cache', emptyDir: {} }, { name: 'data', configmap: {} }],
            },
          },
        ],
        {
          excludedNamespaces: ['kube-system', 'kube-node-lease', 'Team_A'],
          validation: {
            mode: 'strict',
            nodeTemplates: [{ name: 'gpu', taints: [{ key: 'gpu', effect: 'Sometimes' }], allocatable: { cpu: 'lots', memory: '8Gi' } }],
          },
        },
      ),
    });
    expect(result.ok).toBe(false);
    const errors = errorsOf(result);
    const want = [
      // structural
      /^rules\[0\]\.colour: unknown field$/,
      /^rules\[0\]\.onConflict: unsupported value "sometimes"/,
      /^rules\[0\]\.inject\.tolerations\[0\]\.operator: unsupported value "Equals"/,
      /nodeSelectorTerms\[3\]\.matchExpressions\[0\]\.operator: unsupported value "Near"/,
      /^rules\[0\]\.inject\.env\[2\]\.value: must be a string/,
      /^rules\[0\]\.inject\.volumes\[2\]\.configmap: unknown field$/,
      /^settings\.validation\.mode: unsupported value "strict"/,
      /^settings\.validation\.nodeTemplates\[0\]\.taints\[0\]\.effect: unsupported value "Sometimes"/,
      // semantic, found in the same pass
      /^rules\[0\]\.name: invalid value "Bad_Name"/,
      /^rules\[0\]\.inject\.nodeSelector\["bad key!"\]: invalid value "bad key!"/,
      /^rules\[0\]\.inject\.tolerations\[1\]\.value: must be empty when `operator` is 'Exists'$/,
      /nodeSelectorTerms\[0\]\.matchExpressions\[0\]\.values\[0\]: invalid value "1\.5": must be a 64-bit decimal integer/,
      /nodeSelectorTerms\[1\]\.matchExpressions\[0\]\.values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'$/,
      /nodeSelectorTerms\[2\]: an empty term matches no node$/,
      /^rules\[0\]\.inject\.env\[1\]\.name: duplicate value "X"$/,
      /^rules\[0\]\.inject\.volumes\[0\]: invalid value "cache": must specify exactly one volume source, found 0$/,
      /^rules\[0\]\.inject\.volumes\[1\]\.name: duplicate value "cache"$/,
      /^settings\.excludedNamespaces\[2\]: invalid value "Team_A"/,
      /^settings\.validation\.nodeTemplates\[0\]\.allocatable\.cpu: invalid value "lots"/,
    ];
    for (const w of want) expect(errors, String(w)).toContainEqual(expect.stringMatching(w));
    expect(errors).toHaveLength(want.length);
  });

  it('structural errors in the settings leave the rules linted', () => {
    const result = compileRules({ ...looseDoc([{ name: 'X', inject: { nodeSelector: { a: 'b' } } }]), settings: { validation: { mode: 'strict' } } });
    expect(errorsOf(result)).toStrictEqual([
      'settings.validation.mode: unsupported value "strict"; supported values: "enforce", "warn", "off"',
      expect.stringMatching(/^rules\[0\]\.name: invalid value "X"/),
    ]);
  });

  it('lint runs only once the structure is valid, and then reports its errors and warnings together', () => {
    const result = compileRules(
      looseDoc([
        { name: 'a', inject: { nodeSelector: { zone: 'a' } } },
        { name: 'b', inject: { nodeSelector: { zone: 'b' } } },
        { name: 'a', inject: { nodeSelector: { 'bad key': 'x' } } },
      ]),
    );
    expect(result.ok).toBe(false);
    expect(errorsOf(result)).toStrictEqual([
      expect.stringMatching(/^rules\[2\]\.inject\.nodeSelector\["bad key"\]: invalid value "bad key": name part must/),
      'rules[2].name: duplicate value "a"',
    ]);
    expect(result.warnings.map(formatFieldError)).toStrictEqual([expect.stringMatching(/^rules\[1\]\.inject\.nodeSelector: may apply/)]);
  });
});

describe('compileRules: defaults and compiled rules', () => {
  it('applies the defaults: kube-system and kube-node-lease excluded, mode enforce, onConflict keep', () => {
    const result = compileRules(rulesDoc([{ name: 'spot', inject: { nodeSelector: { lifecycle: 'spot' } } }]));
    if (!result.ok) throw new Error(errorsOf(result).join('\n'));
    const { ruleSet: rs } = result;
    expect([...rs.excludedNamespaces]).toStrictEqual(['kube-system', 'kube-node-lease']);
    expect(rs.validation).toStrictEqual({ mode: 'enforce', pending: 'warn', nodeTemplates: [] });
    expect(rs.warnings).toStrictEqual([]);
    expect(rs.rules).toHaveLength(1);
    const [rule] = rs.rules;
    expect(rule).toMatchObject({ index: 0, name: 'spot', description: undefined, onConflict: 'keep', includeDaemonSetPods: false });
    expect(rule?.placement).toStrictEqual({ nodeSelector: { lifecycle: 'spot' }, volumes: undefined });
  });

  it('settings given replace the defaults (an empty exclusion list excludes nothing)', () => {
    const rs = ruleSet([{ name: 'a', onConflict: 'reject', match: { includeDaemonSetPods: true }, inject: {} }], {
      excludedNamespaces: [],
      validation: { mode: 'warn', nodeTemplates: [{ name: 'spot', labels: { lifecycle: 'spot' } }] },
    });
    expect(rs.excludedNamespaces.size).toBe(0);
    expect(rs.validation).toStrictEqual({ mode: 'warn', pending: 'warn', nodeTemplates: [{ name: 'spot', labels: { lifecycle: 'spot' } }] });
    expect(rs.rules[0]).toMatchObject({ onConflict: 'reject', includeDaemonSetPods: true });
  });

  it('keeps the document order in index', () => {
    const rs = ruleSet(['c', 'a', 'b'].map((name) => ({ name, description: `rule ${name}`, inject: {} })));
    expect(rs.rules.map((r) => [r.index, r.name, r.description])).toStrictEqual([
      [0, 'c', 'rule c'],
      [1, 'a', 'rule a'],
      [2, 'b', 'rule b'],
    ]);
  });

  it('the compiled placement is frozen and independent of the document', () => {
    const doc = rulesDoc([{ name: 'a', inject: { nodeSelector: { zone: 'a' }, tolerations: [{ key: 'k', operator: 'Exists' }] } }]);
    const result = compileRules(doc);
    if (!result.ok) throw new Error('invalid');
    const placement = result.ruleSet.rules[0]?.placement;
    (doc.rules[0]?.inject.nodeSelector as Record<string, string>)['zone'] = 'changed';
    expect(placement?.nodeSelector).toStrictEqual({ zone: 'a' });
    expect(Object.isFrozen(placement?.nodeSelector)).toBe(true);
    expect(Object.isFrozen(placement?.tolerations?.[0])).toBe(true);
  });

  const subject = (namespace: string, namespaceLabels: Record<string, string> = {}, podLabels: Record<string, string> = {}): MatchSubject => ({
    namespace,
    namespaceLabels: withNameLabel(namespace, namespaceLabels),
    podLabels,
  });

  it.each<{ name: string; match: Match | undefined; subject: MatchSubject; want: boolean }>([
    { name: 'an omitted match matches every pod', match: undefined, subject: subject('x'), want: true },
    { name: 'an empty match matches every pod', match: {}, subject: subject('x'), want: true },
    { name: 'a namespace in the list matches', match: { namespaces: ['a', 'x'] }, subject: subject('x'), want: true },
    { name: 'a namespace not in the list does not match', match: { namespaces: ['a'] }, subject: subject('x'), want: false },
    { name: 'an empty namespace list matches no namespace', match: { namespaces: [] }, subject: subject('x'), want: false },
    {
      name: 'a namespaceSelector on a namespace label matches',
      match: { namespaceSelector: { matchLabels: { team: 'media' } } },
      subject: subject('x', { team: 'media' }),
      want: true,
    },
    {
      name: 'a namespaceSelector on kubernetes.io/metadata.name matches by namespace name',
      match: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['streaming'] }] } },
      subject: subject('streaming'),
      want: true,
    },
    {
      name: 'a namespaceSelector NotIn on kubernetes.io/metadata.name excludes that namespace',
      match: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['streaming'] }] } },
      subject: subject('streaming'),
      want: false,
    },
    {
      name: 'an empty namespaceSelector matches every namespace',
      match: { namespaceSelector: {} },
      subject: subject('x'),
      want: true,
    },
    {
      name: 'a podSelector on pod labels matches',
      match: { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] } },
      subject: subject('x', {}, { app: 'api' }),
      want: true,
    },
    {
      name: 'every part given must match: the namespace matches, the pod does not',
      match: { namespaces: ['x'], podSelector: { matchLabels: { app: 'web' } } },
      subject: subject('x', {}, { app: 'api' }),
      want: false,
    },
    {
      name: 'pod labels named like Object.prototype members are ordinary labels',
      match: { podSelector: { matchExpressions: [{ key: 'constructor', operator: 'DoesNotExist' }] } },
      subject: subject('x'),
      want: true,
    },
  ])('$name', ({ match, subject: s, want }) => {
    const rs = ruleSet([{ name: 'r', ...(match === undefined ? {} : { match }), inject: {} }]);
    expect(rs.rules[0]?.matches(s)).toBe(want);
  });
});

describe('parseRules', () => {
  it.each<{ name: string; text: string; errors: string[] }>([
    { name: 'an empty document', text: '', errors: ['the rules document is empty'] },
    { name: 'a document of only comments', text: '# nothing here\n', errors: ['the rules document is empty'] },
    { name: 'a null document', text: 'null\n', errors: ['the rules document is empty'] },
    {
      name: 'a duplicate key, with its line and column',
      text: `${HEADER}rules:\n  - name: a\n    inject:\n      nodeSelector:\n        zone: a\n        zone: b\n`,
      errors: ['YAML line 8, column 9: Map keys must be unique'],
    },
    {
      name: 'a duplicate top-level key',
      text: `${HEADER}rules: []\nrules: []\n`,
      errors: ['YAML line 4, column 1: Map keys must be unique'],
    },
    {
      name: 'an unterminated flow sequence',
      text: 'rules: [\n',
      errors: ['YAML line 2, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    },
    {
      name: 'bad indentation',
      text: `${HEADER}rules:\n - name: a\n   inject: {}\n  bad: indent\n`,
      errors: ['YAML line 6, column 1: Sequence item without - indicator'],
    },
    {
      name: 'several documents in one text',
      text: `${HEADER}rules: []\n---\n${HEADER}rules: []\n`,
      errors: ['YAML line 4, column 1: holds 2 documents; expected one'],
    },
    {
      name: 'structural errors of a parsed document are reported like those of an object',
      text: `${HEADER}rules:\n  - name: a\n    inject:\n      tolerations:\n        - key: k\n          operator: Equals\n`,
      errors: ['rules[0].inject.tolerations[0].operator: unsupported value "Equals"; supported values: "Equal", "Exists"'],
    },
  ])('$name', ({ text, errors }) => {
    const result = parseRules(text);
    expect(result.ok).toBe(false);
    expect(errorsOf(result)).toStrictEqual(errors);
  });

  it('every YAML error carries a line', () => {
    const result = parseRules('a: [1,\n b: {');
    expect(errorsOf(result).length).toBeGreaterThan(0);
    expect(errorsOf(result).every((e) => /^YAML line \d+, column \d+: /.test(e))).toBe(true);
  });

  it('accepts JSON text', () => {
    const result = parseRules(JSON.stringify(rulesDoc([{ name: 'a', inject: { nodeSelector: { zone: 'a' } } }])));
    expect(result.ok).toBe(true);
  });

  it('accepts a valid YAML document with label keys containing / and quoted values', () => {
    const result = parseRules(
      `${HEADER}rules:\n  - name: spot\n    inject:\n      nodeSelector:\n        node.kubernetes.io/lifecycle: "spot"\n        gen: "3"\n`,
    );
    if (!result.ok) throw new Error(errorsOf(result).join('\n'));
    expect(result.ruleSet.rules[0]?.placement.nodeSelector).toStrictEqual({ 'node.kubernetes.io/lifecycle': 'spot', gen: '3' });
  });

  it('an unquoted number as a label value is a type error, not silently converted', () => {
    const result = parseRules(`${HEADER}rules:\n  - name: a\n    inject:\n      nodeSelector:\n        gen: 3\n`);
    expect(errorsOf(result)).toStrictEqual(['rules[0].inject.nodeSelector.gen: must be a string, got number 3']);
  });

  it('loadRules throws InvalidDocumentError listing every error, naming the source', () => {
    let caught: unknown;
    try {
      loadRules(`${HEADER}rules:\n  - name: Bad\n    inject:\n      nodeSelector: {zone: "a b"}\n`, 'configmap placement/rules');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidDocumentError);
    const error = caught as InvalidDocumentError;
    expect(error.errors.map((e) => e.path)).toStrictEqual(['rules[0].name', 'rules[0].inject.nodeSelector.zone']);
    expect(error.message.split('\n')[0]).toBe('rules configmap placement/rules is invalid:');
  });

  it('loadRules returns the rule set of a valid document', () => {
    const rs = loadRules(`${HEADER}rules:\n  - name: a\n    inject: {nodeSelector: {zone: a}}\n`, 'file rules.yaml');
    expect(rs.rules.map((r) => r.name)).toStrictEqual(['a']);
  });
});
