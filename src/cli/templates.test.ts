import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseRules } from '../rules/compile.js';
import { run } from './run.js';
import { captureOutput } from '../../test/support/output.js';

const fixture = (name: string) => new URL(`../../test/fixtures/cli/${name}`, import.meta.url).pathname;
const ASGS = fixture('asg-groups.json');
const GPU = fixture('eks-nodegroup-gpu.json');
const FULL = fixture('eks-nodegroup-full.json');

const { out, err } = captureOutput();
const stdout = () => out.join('');
const stderrLines = () =>
  err
    .join('')
    .split('\n')
    .filter((l) => l !== '');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'templates-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of a fixture in the temporary directory, to be rewritten. */
function copy(name: string): string {
  const to = join(dir, `${Math.random().toString(36).slice(2)}-${name}`);
  copyFileSync(fixture(name), to);
  return to;
}

/** The YAML printed, as the list it is. */
const printed = () =>
  parse(stdout()) as { name: string; labels?: Record<string, string>; taints?: unknown[]; allocatable?: Record<string, string> }[];

describe('placement-webhook templates: the YAML to paste under settings.validation.nodeTemplates', () => {
  it.each([
    {
      name: "every group with the discovery tag becomes an entry; groups without it are not cluster-autoscaler's",
      args: ['from-asg', ASGS],
      names: ['spot-gpu', 'general'],
    },
    {
      name: '--asg-tag KEY=VALUE selects the groups by another tag value (here: none)',
      args: ['from-asg', '--asg-tag', 'k8s.io/cluster-autoscaler/enabled=false', ASGS],
      names: [],
    },
    {
      name: 'from-eks-nodegroup reads one node group per file, and leaves out one at its max size',
      args: ['from-eks-nodegroup', GPU, FULL],
      names: ['gpu'],
    },
  ])(
    '$name',
    async ({ args, names }) => {
      expect(await run(['templates', ...args])).toBe(0);
      expect(printed().map((t) => t.name)).toEqual(names);
    },
    30_000, // the first run loads the command and the rules schema
  );

  it('each entry has a comment saying where it came from and what the input did not state; a left-out group has one saying why', async () => {
    expect(await run(['templates', 'from-asg', ASGS])).toBe(0);
    const text = stdout();
    expect(text).toContain(
      [
        `# ASG spot-gpu (${ASGS})`,
        '# not in the input:',
        '#   memory: no node-template/resources tag (instance sizes are not in the input)',
        '#   kubernetes.io/arch: no node-template/label tag',
        '- name: spot-gpu',
      ].join('\n'),
    );
    expect(text).toContain(`# left out: ASG full (${ASGS}): it is at its max size (3)\n# ASG general (${ASGS})\n`);
    expect(text).toContain('#   topology.kubernetes.io/zone: the group spans eu-west-1a, eu-west-1b\n');
    expect(printed()[0]).toEqual({
      name: 'spot-gpu',
      labels: {
        'kubernetes.io/os': 'linux',
        'topology.kubernetes.io/region': 'eu-west-1',
        'topology.kubernetes.io/zone': 'eu-west-1a',
        'node.kubernetes.io/instance-type': 'g4dn.xlarge',
        lifecycle: 'Ec2Spot',
      },
      taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }],
      allocatable: { cpu: '4' },
    });
  });

  it('what the converter could not read is a warning on stderr, and the rest is printed', async () => {
    expect(await run(['templates', 'from-asg', ASGS])).toBe(0);
    expect(stderrLines()).toEqual([
      `${ASGS}: warning: ASG spot-gpu: tag k8s.io/cluster-autoscaler/node-template/taint/bad: "nonsense" is not value:Effect; left out`,
    ]);
  });

  it('the printed list, pasted under settings.validation.nodeTemplates, is a valid rules document', async () => {
    expect(await run(['templates', 'from-eks-nodegroup', GPU])).toBe(0);
    const doc = { apiVersion: 'placement-webhook/v1', kind: 'PlacementRules', settings: { validation: { nodeTemplates: printed() } }, rules: [] };
    const result = parseRules(JSON.stringify(doc));
    expect(result.ok).toBe(true);
  });
});

describe('placement-webhook templates --merge: the list rewritten in place', () => {
  it('replaces the entry of the same name, appends the new ones, keeps the others, and leaves the rest of the file as it was', async () => {
    const rules = copy('rules-with-templates.yaml');
    expect(await run(['templates', 'from-asg', '--merge', rules, ASGS])).toBe(0);
    expect(stdout()).toBe(`${rules}: 1 node template(s) replaced, 1 added\n`);
    const text = readFileSync(rules, 'utf8');
    const before = readFileSync(fixture('rules-with-templates.yaml'), 'utf8');
    // Everything outside the list is as it was: comments, flow style.
    const outside = (t: string) => [t.slice(0, t.indexOf('    nodeTemplates:')), t.slice(t.indexOf('rules:\n'))];
    expect(outside(text)).toEqual(outside(before));
    expect(text).toContain('      # written by hand: kept\n      - name: on-prem\n        labels: {site: on-prem}\n');
    expect(text).not.toContain('replaced by the ASG of the same name');
    const result = parseRules(text);
    if (!result.ok) throw new Error('invalid after the merge');
    expect(result.ruleSet.validation.nodeTemplates.map((t) => t.name)).toEqual(['spot-gpu', 'on-prem', 'general']);
    expect(result.ruleSet.validation.nodeTemplates[0]?.taints).toEqual([{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }]);
    expect(stderrLines()).toContain(`${ASGS}: note: left out: ASG full: it is at its max size (3)`);
  });

  it('merging the same answer again changes nothing', async () => {
    const rules = copy('rules-with-templates.yaml');
    expect(await run(['templates', 'from-asg', '--merge', rules, ASGS])).toBe(0);
    const once = readFileSync(rules, 'utf8');
    expect(await run(['templates', 'from-asg', '--merge', rules, ASGS])).toBe(0);
    expect(readFileSync(rules, 'utf8')).toBe(once);
    expect(out[1]).toBe(`${rules}: 2 node template(s) replaced, 0 added\n`);
  });

  it('a rules file without settings gets settings.validation.nodeTemplates', async () => {
    const rules = copy('rules-none.yaml');
    expect(await run(['templates', 'from-eks-nodegroup', '--merge', rules, GPU])).toBe(0);
    const result = parseRules(readFileSync(rules, 'utf8'));
    if (!result.ok) throw new Error('invalid after the merge');
    expect(result.ruleSet.validation.nodeTemplates.map((t) => t.name)).toEqual(['gpu']);
    expect(readFileSync(rules, 'utf8').startsWith(readFileSync(fixture('rules-none.yaml'), 'utf8'))).toBe(true);
  });
});

describe('placement-webhook templates: bad input is exit 2, and nothing is written', () => {
  it.each([
    {
      name: 'a file that is not describe-auto-scaling-groups output',
      args: () => ['from-asg', GPU],
      want: [`error: ${GPU}: not the output of aws autoscaling describe-auto-scaling-groups (no AutoScalingGroups list)`],
    },
    {
      name: 'a file that is not describe-nodegroup output',
      args: () => ['from-eks-nodegroup', ASGS],
      want: [`error: ${ASGS}: not the output of \`aws eks describe-nodegroup\` (no nodegroup.nodegroupName)`],
    },
    { name: 'a file that cannot be read', args: () => ['from-asg', '/nonexistent/asgs.json'], want: ['error: cannot read /nonexistent/asgs.json'] },
    {
      name: 'a node group whose template would not pass lint (a label key that is not valid)',
      args: () => ['from-eks-nodegroup', fixture('eks-nodegroup-bad-label.json')],
      want: [`error: ${fixture('eks-nodegroup-bad-label.json')}: EKS node group odd: labels["-not-a-key"]: invalid value "-not-a-key"`],
    },
    {
      name: 'two node groups of one name',
      args: () => ['from-eks-nodegroup', GPU, GPU],
      want: [`error: ${GPU}: EKS node group gpu: name: duplicate value "gpu"`],
    },
    {
      name: 'no subcommand',
      args: () => [],
      want: ["error: templates needs a subcommand: from-asg or from-eks-nodegroup; see 'placement-webhook templates --help'"],
    },
    { name: 'an unknown subcommand', args: () => ['from-gke', ASGS], want: ['error: templates: unknown subcommand "from-gke"'] },
    { name: 'from-asg with two files', args: () => ['from-asg', ASGS, ASGS], want: ['error: templates from-asg takes exactly one FILE'] },
    {
      name: '--asg-tag is for from-asg only',
      args: () => ['from-eks-nodegroup', '--asg-tag', 'x', GPU],
      want: ["error: unknown flag --asg-tag; see 'placement-webhook templates --help'"],
    },
    {
      name: '--asg-tag without a key',
      args: () => ['from-asg', '--asg-tag', '=true', ASGS],
      want: ['error: --asg-tag: expected KEY or KEY=VALUE, got "=true"'],
    },
    { name: '--merge into stdin', args: () => ['from-asg', '--merge', '-', ASGS], want: ['error: --merge needs a file: it is rewritten in place'] },
  ])('$name', async ({ args, want }) => {
    expect(await run(['templates', ...args()])).toBe(2);
    expect(stdout()).toBe('');
    const lines = stderrLines().filter((l) => l.startsWith('error: '));
    expect(lines).toHaveLength(want.length);
    lines.forEach((line, i) => expect(line).toContain(want[i]));
  });

  it('--merge into a rules file that is invalid already writes nothing, naming every error', async () => {
    const rules = copy('rules-invalid.yaml');
    expect(await run(['templates', 'from-asg', '--merge', rules, ASGS])).toBe(2);
    expect(stderrLines().filter((l) => l.startsWith('error: '))).toEqual([
      `error: ${rules}: rules[0].inject: required value; it is invalid already: nothing written`,
      expect.stringMatching(/: rules\[0\]\.name: invalid value "Bad_Name": .*; it is invalid already: nothing written$/),
    ]);
    expect(readFileSync(rules, 'utf8')).toBe(readFileSync(fixture('rules-invalid.yaml'), 'utf8'));
  });

  it('--merge that would make the document invalid writes nothing: a replaced entry held an anchor a rule uses', async () => {
    const rules = copy('rules-template-anchor.yaml');
    expect(await run(['templates', 'from-asg', '--merge', rules, ASGS])).toBe(2);
    expect(stderrLines().filter((l) => l.startsWith('error: '))).toEqual([
      `error: ${rules}: the merged document would be invalid: Unresolved alias (the anchor must be set before the alias): spot: nothing written`,
    ]);
    expect(readFileSync(rules, 'utf8')).toBe(readFileSync(fixture('rules-template-anchor.yaml'), 'utf8'));
  });
});
