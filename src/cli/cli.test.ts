import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { check } from './check.js';
import { lint } from './lint.js';
import { EXAMPLES } from './inputs.js';
import { run } from './run.js';
import { captureOutput } from '../../test/support/output.js';

const example = (name: string) => new URL(`../../examples/${name}`, import.meta.url).pathname;
const fixture = (name: string) => new URL(`../../test/fixtures/${name}`, import.meta.url).pathname;

const { out, err } = captureOutput();
const stderrLines = () =>
  err
    .join('')
    .split('\n')
    .filter((l) => l !== '');

const examples = ['--rules', EXAMPLES.rules, '--nodes', EXAMPLES.nodes, '--namespaces', EXAMPLES.namespaces];

describe('placement-webhook check', () => {
  it('prints, per pod, the rules applied, the patch, the placement and the verdict; exit 0 when all are allowed', async () => {
    const code = await check([...examples, '-o', 'json', example('pods/consumer.yaml'), example('pods/payments.yaml')]);
    expect(code).toBe(0);
    const results = JSON.parse(out.join('')) as Record<string, unknown>[];
    expect(results.map((r) => [r['kind'], r['namespace'], r['name'], r['allowed'], r['appliedRules'], r['verdict']])).toEqual([
      ['Pod', 'streaming', 'consumer-0', true, ['spot-consumers'], 'fits'],
      ['Pod', 'payments', 'ledger-0', true, ['payments-dedicated'], 'fits'],
    ]);
    for (const r of results) {
      for (const k of ['message', 'warnings', 'patch', 'placement']) expect(r).toHaveProperty(k);
    }
    expect(results[0]?.['placement']).toMatchObject({ nodeSelector: { lifecycle: 'Ec2Spot' } });
  });

  it('exit 1 when any object is denied, with the scheduler message and the closest node groups in text output', async () => {
    const code = await check([...examples, fixture('cli/infeasible.yaml')]);
    expect(code).toBe(1);
    const text = out.join('');
    expect(text).toContain('Pod streaming/too-big: DENIED');
    expect(text).toMatch(/message: 0\/6 nodes are available: .*2 Insufficient memory/);
    expect(text).toContain('closest nodes:');
    expect(text).toMatch(/2 nodes lifecycle=Ec2Spot.*: too little memory: pod requests 64Gi, node has 16Gi/);
    expect(text).toContain('Deployment streaming/big-consumers: DENIED');
  });

  it('exit 2 on unreadable input, an unsupported kind or a bad flag, with a clear error', async () => {
    await expect(check([...examples, '/nonexistent/pod.yaml'])).rejects.toThrow(/cannot read \/nonexistent\/pod.yaml/);
    await expect(check([...examples, '-o', 'xml', example('pods/consumer.yaml')])).rejects.toThrow(/-o: unsupported value "xml"/);
    await expect(check([...examples, fixture('nodes.yaml')])).rejects.toThrow(/Node .*unsupported kind/);
  });
});

describe('placement-webhook lint', () => {
  it('valid rules: exit 0', async () => {
    expect(await lint([example('rules.yaml')])).toBe(0);
    expect(out.join('')).toContain('valid, 4 rule(s)');
  });

  it('invalid rules: every error with its path, exit 1', async () => {
    expect(await lint([fixture('cli/invalid-rules.yaml')])).toBe(1);
    const text = out.join('');
    expect(text).toContain('rules[0].inject.tolerations[0].operator: unsupported value "Equals"; supported values: "Equal", "Exists"');
    expect(text).toContain('rules[1].name: invalid value "Bad_Name"');
    expect(text).toContain('rules[2].name: duplicate value "a"');
    expect(text).toContain('3 error(s)');
  });
});

describe('placement-webhook check: bad input is exit 2, one line per problem naming file, object and field', () => {
  const pod = fixture('cli/pod.yaml');
  it.each([
    {
      name: 'a pod with a null toleration',
      args: [fixture('cli/pod-null-toleration.yaml')],
      want: ['pod-null-toleration.yaml: Pod default/web: spec.tolerations[0]: must be an object, got null'],
    },
    {
      name: 'a nodes file with a null taint',
      args: ['--nodes', fixture('cli/nodes-null-taint.yaml'), pod],
      want: ['nodes-null-taint.yaml: Node n1: spec.taints[0]: must be an object, got null'],
    },
    {
      name: 'a nodes file with a label that is not a string and a misspelt taint effect',
      args: ['--nodes', fixture('cli/nodes-bad-taint-effect.yaml'), pod],
      want: [
        'nodes-bad-taint-effect.yaml: Node n1: metadata.labels.gpu: must be a string (quote it), got boolean',
        'nodes-bad-taint-effect.yaml: Node n1: spec.taints[0].effect: unsupported value "NoSchedul"; supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
      ],
    },
    {
      name: 'an alias bomb in a pod file',
      args: [fixture('cli/alias-bomb.yaml')],
      want: ['alias-bomb.yaml: YAML aliases expand the document to more than'],
    },
    { name: 'an empty file', args: [pod, fixture('cli/empty.yaml')], want: ['error: no objects in /'] },
    { name: 'a file that is only a document separator', args: [fixture('cli/only-separator.yaml')], want: ['only-separator.yaml'] },
    {
      name: 'an object without kind, named by its document, not checked as a Pod',
      args: [fixture('cli/deployment-without-kind.yaml')],
      want: ['deployment-without-kind.yaml: document 2 (name "web"): kind: required value; check takes Pods and Deployment, StatefulSet'],
    },
    {
      name: 'a pod with a cpu request that is no quantity',
      args: [fixture('cli/pod-invalid-cpu.yaml')],
      want: ['pod-invalid-cpu.yaml: Pod default/web: spec.containers[0].resources.requests.cpu: invalid value "abc": quantities must match'],
    },
    {
      name: "a Deployment with a memory limit that is no quantity, the path from the Deployment's root",
      args: [fixture('cli/deployment-invalid-memory.yaml')],
      want: ['deployment-invalid-memory.yaml: Deployment shop/web: spec.template.spec.containers[0].resources.limits.memory: invalid value "1.5.5"'],
    },
    { name: 'a file that cannot be read', args: ['/nonexistent/pod.yaml'], want: ['error: cannot read /nonexistent/pod.yaml'] },
  ])('$name', async ({ args, want }) => {
    // A --nodes in the table replaces the examples' (the last value of a flag wins).
    const code = await run(['check', ...examples, ...args]);
    expect(code).toBe(2);
    expect(out.join('')).toBe('');
    const lines = stderrLines();
    expect(lines).toHaveLength(want.length);
    lines.forEach((line, i) => {
      expect(line.startsWith('error: ')).toBe(true);
      expect(line).toContain(want[i]);
    });
    expect(err.join('')).not.toMatch(/\n\s+at /);
  });

  it('the same from the installed command: exit code 2 and no stack trace', async () => {
    const { spawnSync } = await import('node:child_process');
    const main = new URL('./main.ts', import.meta.url).pathname;
    const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'check', ...examples, fixture('cli/pod-null-toleration.yaml')], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `error: ${fixture('cli/pod-null-toleration.yaml')}: Pod default/web: spec.tolerations[0]: must be an object, got null`,
    ]);
  }, 30_000);
});

describe('placement-webhook check: what it prints', () => {
  const json = () => JSON.parse(out.join('')) as Record<string, unknown>[];

  it('a pod without a spec is skipped, and a skipped object has no verdict, in text or JSON', async () => {
    expect(await check([...examples, fixture('cli/pod-without-spec.yaml')])).toBe(0);
    const text = out.join('');
    expect(text).toContain('skipped: the pod has no spec');
    expect(text).not.toContain('verdict');
    out.length = 0;
    expect(await check([...examples, '-o', 'json', fixture('cli/pod-without-spec.yaml')])).toBe(0);
    const [r] = json();
    expect(r).toMatchObject({ skipped: 'the pod has no spec' });
    expect(r).not.toHaveProperty('verdict');
  });

  it('a pod already bound to a node is judged, and says why it was not mutated', async () => {
    expect(await check([...examples, '-o', 'json', fixture('cli/pod-bound.yaml')])).toBe(0);
    const [r] = json();
    expect(r).toMatchObject({ notMutated: 'already bound to node spot-a-1', verdict: 'fits', appliedRules: [] });
    expect(r).not.toHaveProperty('skipped');
  });

  it('warnings are printed whole, although the API server gets them cut at 120 characters', async () => {
    const args = ['--rules', fixture('cli/rules-warn.yaml'), '--nodes', fixture('cli/nodes-long-taint.yaml'), fixture('cli/pod.yaml')];
    expect(await check(args)).toBe(0);
    const reason =
      '1 node(s) had untolerated taint {dedicated.teams.example.com/payments-settlement-and-reconciliation-batch: nightly-settlement-window}';
    expect(reason.length).toBeGreaterThan(120);
    expect(out.join('')).toContain(`warning:   ${reason}\n`);
  });

  it('a nodes file naming a node twice uses the last entry and says so; an allocatable that is no quantity is warned about and counts as 0', async () => {
    const code = await check(['--rules', EXAMPLES.rules, '--nodes', fixture('cli/nodes-duplicate.yaml'), fixture('cli/pod-large.yaml')]);
    expect(code).toBe(1);
    expect(out.join('')).toContain('message: 0/2 nodes are available: 2 Insufficient cpu.');
    const file = fixture('cli/nodes-duplicate.yaml');
    expect(stderrLines()).toEqual([
      expect.stringMatching(new RegExp(`^${file}: warning: node "n2": status\\.allocatable\\.cpu: invalid value "lots": .*; counted as 0$`)),
      `${file}: warning: node "n1" appears 2 times; the last one is used`,
    ]);
  });

  it("-o json fields are the README's, in its order", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const documented = /`-o json` prints an array of `\{([^}]+)\}`/
      .exec(readme)?.[1]
      ?.split(',')
      .map((f) => f.trim());
    expect(documented).toBeDefined();
    const fields = (documented ?? []).map((f) => f.replace(/\?$/, ''));
    const required = (documented ?? []).filter((f) => !f.endsWith('?'));
    const files = [
      example('pods/consumer.yaml'),
      fixture('cli/infeasible.yaml'),
      fixture('cli/pod-without-spec.yaml'),
      fixture('cli/pod-bound.yaml'),
    ];
    await check([...examples, '-o', 'json', ...files]);
    const results = json();
    const seen = new Set<string>();
    for (const r of results) {
      const keys = Object.keys(r);
      keys.forEach((k) => seen.add(k));
      expect(keys.filter((k) => required.includes(k))).toEqual(required);
      expect(keys).toEqual(fields.filter((f) => keys.includes(f)));
    }
    expect([...seen].sort()).toEqual([...fields].sort());
    // Every one of them is in the field table, in the same order.
    const table = readme.slice(readme.indexOf('`-o json` prints an array of'), readme.indexOf('`--nodes` and `--namespaces` files are checked'));
    const rows = [...table.matchAll(/^ {2}\| ((?:`[^`]+`(?:, )?)+) \|/gm)].flatMap((m) => [...(m[1] ?? '').matchAll(/`([^`]+)`/g)].map((f) => f[1]));
    expect(rows).toEqual(fields);
  });

  it('-o json: a workload whose replicas are placed one at a time says that its figure is an estimate; one its own constraints bound, not', async () => {
    const three = ['--rules', fixture('cli/rules-none.yaml'), '--nodes', fixture('cli/nodes-three-zones.yaml')];
    await check([...three, '-o', 'json', fixture('cli/deployment-web.yaml'), fixture('cli/deployment-one-per-node.yaml')]);
    const [web, cache] = json();
    expect(Object.keys(web ?? {}).slice(-5)).toEqual(['schedulableNow', 'replicas', 'placeableReplicas', 'placeableReplicasEstimate', 'placement']);
    expect(cache).toMatchObject({ replicas: 5, placeableReplicas: 3 });
    expect(cache).not.toHaveProperty('placeableReplicasEstimate');
  });
});
