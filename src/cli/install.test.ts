/**
 * What a newcomer's `npm ci`, `npm start` and `npx placement-webhook` do, and what the image runs on: read from
 * package.json, package-lock.json, the Dockerfile and .ci/image.sh (running them takes minutes; .ci/run does).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMAND_USAGE } from './run.js';
import { curlHint, localUrl } from './serve.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  engines: { node: string };
  scripts: Record<string, string>;
  bin: Record<string, string>;
};
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };

type Version = readonly [number, number, number];

function version(text: string): Version {
  const [major = 0, minor = 0, patch = 0] = text.split('.').map((p) => (p === 'x' || p === '*' ? 0 : Number(p)));
  return [major, minor, patch];
}

const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/**
 * Whether `v` satisfies an npm `engines` range, for the forms that occur in the lock: `||` alternatives of
 * space-separated comparators `>=`, `>`, `<`, `<=`, `^`, `~`, `=` or a bare (partial) version, and `*`.
 */
export function satisfies(v: Version, range: string): boolean {
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .split(/\s+/)
      .filter((c) => c !== '')
      .every((comparator) => {
        if (comparator === '*' || comparator === 'x') return true;
        const m = /^(>=|<=|>|<|=|\^|~)?v?(\d+(?:\.(?:\d+|x|\*)){0,2})$/.exec(comparator);
        if (!m) throw new Error(`unsupported engines comparator ${JSON.stringify(comparator)} in ${JSON.stringify(range)}`);
        const op = m[1] ?? '=';
        const parts = (m[2] ?? '').split('.').filter((p) => p !== 'x' && p !== '*').length;
        const base = version(m[2] ?? '');
        const c = compare(v, base);
        switch (op) {
          case '>=':
            return c >= 0;
          case '>':
            return c > 0;
          case '<':
            return c < 0;
          case '<=':
            return c <= 0;
          case '^':
            return c >= 0 && (base[0] > 0 ? v[0] === base[0] : v[0] === 0 && v[1] === base[1]);
          case '~':
            return c >= 0 && v[0] === base[0] && (parts < 2 || v[1] === base[1]);
          default:
            return base.slice(0, parts).every((n, i) => v[i] === n);
        }
      }),
  );
}

describe('npm ci on the oldest Node the README promises', () => {
  const oldest = version(/^>=\s*(\d+(?:\.\d+){0,2})$/.exec(pkg.engines.node)?.[1] ?? '');

  it('engines still admit Node 20.19 (what our machines run), while the image moves on', () => {
    expect(pkg.engines.node).toBe('>=20.19');
    expect(read('README.md')).toContain('Requires Node.js ≥ 20.19');
  });

  it('every locked package admits it too, so npm ci prints no EBADENGINE', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .flatMap(([path, p]) => {
        const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
        return range !== undefined && !satisfies(oldest, range) ? [`${path}@${p.version ?? '?'} requires node ${range}`] : [];
      });
    expect(refusing).toEqual([]);
  });

  it.each([
    { range: '>=22', v: '20.19.0', want: false },
    { range: '>= 0.4', v: '20.19.0', want: true },
    { range: '^20.19.0 || >=22.12.0', v: '20.19.0', want: true },
    { range: '^20.19.0 || >=22.12.0', v: '21.0.0', want: false },
    { range: '^14.21.3 || >=16', v: '20.19.0', want: true },
    { range: '>=18 <20', v: '20.19.0', want: false },
    { range: '20.x', v: '20.19.0', want: true },
    { range: '~20.18.0', v: '20.19.0', want: false },
  ])('the range check: $v satisfies "$range": $want', ({ range, v, want }) => {
    expect(satisfies(version(v), range)).toBe(want);
  });
});

describe('the first commands a newcomer runs', () => {
  it('npm ci builds the binary (prepare), so npx placement-webhook works before any npm run build', () => {
    expect(pkg.scripts['prepare']).toBe('npm run build');
    expect(pkg.bin['placement-webhook']).toBe('dist/cli/main.js');
    expect(read('tsconfig.build.json')).toContain('"outDir": "dist"');
  });

  it('npm start serves the examples on 127.0.0.1 only; serve itself keeps 0.0.0.0, as a Service needs', () => {
    expect(pkg.scripts['start']).toBe('node dist/cli/main.js serve --host 127.0.0.1');
    expect(COMMAND_USAGE.serve).toContain('address to listen on (0.0.0.0)');
  });

  it("the README's quick start says where npm start listens, and its curl line is the one npm start prints", () => {
    const readme = read('README.md');
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## The rules document'));
    expect(quickStart).toContain('on `https://127.0.0.1:8443`');
    expect(quickStart).not.toContain('0.0.0.0');
    expect(quickStart).toContain(`\n${curlHint('examples/admission/create-pod-spot-consumer.json', localUrl('127.0.0.1', 8443))}\n`);
    expect(localUrl('0.0.0.0', 8443)).toBe('https://127.0.0.1:8443');
    expect(localUrl('::', 8443)).toBe('https://[::1]:8443');
  });
});

describe('the image', () => {
  const dockerfile = read('Dockerfile');
  const imageSteps = read('.ci/image.sh');

  it('builds on Node 24 and runs on distroless Node 24 (Node 20 is end-of-life)', () => {
    const from = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(from).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim', 'gcr.io/distroless/nodejs24-debian12:nonroot']);
    expect(dockerfile).not.toMatch(/nodejs20|node:20/);
  });

  it('installs without lifecycle scripts (prepare would need tsc, which a production install lacks)', () => {
    const installs = [...dockerfile.matchAll(/npm ci[^\n]*/g), ...imageSteps.matchAll(/npm ci[^\n]*/g)].map((m) => m[0]);
    expect(installs).toHaveLength(3);
    for (const line of installs) expect(line).toContain('--ignore-scripts');
  });

  it('.ci/image.sh says which runtime the image uses, read from the Dockerfile, and why it differs from the local Node', () => {
    expect(imageSteps).toMatch(/runtime=\$\(sed -n [^\n]*Dockerfile\)/);
    expect(imageSteps).toMatch(/echo "image: the image builds on \$builder and runs on \$runtime \(Node 20 is end-of-life\);"/);
    expect(imageSteps).toContain("this machine's Node $(node --version)");
  });
});
