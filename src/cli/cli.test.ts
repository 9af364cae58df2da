import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { check } from './check.js';
import { lint } from './lint.js';
import { EXAMPLES } from './inputs.js';

const example = (name: string) => new URL(`../../examples/${name}`, import.meta.url).pathname;
const fixture = (name: string) => new URL(`../../test/fixtures/${name}`, import.meta.url).pathname;

let out: string[];
beforeEach(() => {
  out = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

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
