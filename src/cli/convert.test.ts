/**
 * `placement-webhook convert`: the output lints clean, and through `check` it gives the pods the original mechanism
 * gave — the 1.19 PodPreset plugin (its semantics in convert/podpreset.ts) for PodPresets; the plugins themselves, as
 * `settings.compat` runs them (proven against kube-apiserver 1.20 by test/e2e/compat.e2e.test.ts), for namespaces.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseObjects } from '../cluster/objects.js';
import { applyPodPresets, readPodPreset, type PodPreset } from '../convert/podpreset.js';
import { parseRules } from '../rules/compile.js';
import { run } from './run.js';
import { captureOutput } from '../../test/support/output.js';

const fixture = (name: string) => new URL(`../../test/fixtures/compat/${name}`, import.meta.url).pathname;

const { out, err } = captureOutput();

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  out.length = 0;
  err.length = 0;
  const code = await run(args);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const tmp = mkdtempSync(path.join(tmpdir(), 'convert-'));
const write = (name: string, text: string) => {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
};

interface CheckResult {
  namespace: string;
  name: string;
  allowed: boolean;
  patch: Operation[];
}

/** Each pod of `podsFile` as `check` leaves it (its patch applied), by namespace/name; undefined when denied. */
async function checked(args: string[], podsFile: string): Promise<Map<string, V1Pod | undefined>> {
  const r = await cli(['check', ...args, '-o', 'json', podsFile]);
  if (r.code === 2) throw new Error(r.stderr);
  const pods = new Map(
    parseObjects(readFileSync(podsFile, 'utf8'), podsFile).map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p as V1Pod]),
  );
  return new Map(
    (JSON.parse(r.stdout) as CheckResult[]).map((c) => {
      const key = `${c.namespace}/${c.name}`;
      const pod = pods.get(key) as V1Pod;
      return [key, c.allowed ? fastJsonPatch.applyPatch(structuredClone(pod), c.patch, true, false).newDocument : undefined];
    }),
  );
}

/** Env, envFrom, volume mounts as sets (PodPreset applied presets in the informer's order, ours in document order). */
function specAsSets(pod: V1Pod | undefined): unknown {
  if (!pod) return 'refused';
  const sorted = (xs: unknown[] | undefined) => (xs ?? []).map((x) => JSON.stringify(x)).sort();
  const containers = (cs: V1Container[] | undefined) =>
    (cs ?? []).map((c) => ({ name: c.name, env: sorted(c.env), envFrom: sorted(c.envFrom), volumeMounts: sorted(c.volumeMounts) }));
  return { containers: containers(pod.spec?.containers), initContainers: containers(pod.spec?.initContainers), volumes: sorted(pod.spec?.volumes) };
}

describe('convert podpreset', () => {
  it('writes a rules document that lints clean, with a comment naming each preset', async () => {
    const r = await cli(['convert', 'podpreset', fixture('podpresets.yaml')]);
    expect(r.code).toBe(0);
    const parsed = parseRules(r.stdout);
    expect(parsed.ok).toBe(true);
    expect(parsed.warnings).toStrictEqual([]);
    expect(parsed.ok && parsed.ruleSet.rules.map((x) => [x.name, x.onConflict])).toStrictEqual([
      ['podpreset-shop-allow-database', 'skip'],
      ['podpreset-shop-proxy', 'skip'],
      ['podpreset-analytics-region', 'skip'],
    ]);
    expect(r.stdout).toContain(`# from PodPreset shop/allow-database (${fixture('podpresets.yaml')})`);
    expect(r.stdout).toContain('# from PodPreset analytics/region');
  });

  it('through check, every example pod comes out as the 1.19 PodPreset plugin made it', async () => {
    const rules = write('podpreset-rules.yaml', (await cli(['convert', 'podpreset', fixture('podpresets.yaml')])).stdout);
    const presets = parseObjects(readFileSync(fixture('podpresets.yaml'), 'utf8'), 'podpresets.yaml').map(
      (o) => (readPodPreset(o) as { preset: PodPreset }).preset,
    );
    const pods = parseObjects(readFileSync(fixture('pods-podpreset.yaml'), 'utf8'), 'pods');
    const ours = await checked(['--rules', rules], fixture('pods-podpreset.yaml'));
    const cases = pods.map((p) => {
      const key = `${p.metadata?.namespace}/${p.metadata?.name}`;
      const plugin = applyPodPresets(p, presets, p.metadata?.namespace ?? 'default');
      return { key, plugin: specAsSets(plugin.pod), ours: specAsSets(ours.get(key)) };
    });
    for (const c of cases) expect(c.ours, c.key).toStrictEqual(c.plugin);
    // The examples exercise what matters: applied, conflicting (nothing applied), identical, excluded, init containers.
    expect(
      cases.filter(
        (c) =>
          JSON.stringify(c.plugin) !==
          JSON.stringify(specAsSets(pods.find((p) => `${p.metadata?.namespace}/${p.metadata?.name}` === c.key) as V1Pod)),
      ).length,
    ).toBe(6);
  });

  it('refuses what is not a PodPreset, naming the file (exit 2)', async () => {
    const file = write('not-preset.yaml', stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }));
    const r = await cli(['convert', 'podpreset', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('kind "ConfigMap" is not PodPreset');
  });
});

describe('convert namespaces', () => {
  it('writes a rules document that lints clean, saying what rules cannot carry', async () => {
    const r = await cli(['convert', 'namespaces', '--admission-config', fixture('admission-config.yaml'), fixture('namespaces.yaml')]);
    expect(r.code).toBe(0);
    const parsed = parseRules(r.stdout);
    expect(parsed.ok).toBe(true);
    expect(parsed.warnings).toStrictEqual([]);
    expect(parsed.ok && parsed.ruleSet.rules.map((x) => x.name)).toStrictEqual([
      'namespace-web',
      'namespace-batch',
      'namespace-tools',
      'namespace-sandbox',
    ]);
    expect(r.stdout).toContain('not a rule: scheduler.alpha.kubernetes.io/tolerationsWhitelist');
    expect(r.stdout).toContain('scheduler.alpha.kubernetes.io/node-selector is "": no node selector');
  });

  it('through check, the example pods come out as settings.compat (the plugins) makes them', async () => {
    const rules = write(
      'namespace-rules.yaml',
      (await cli(['convert', 'namespaces', '--admission-config', fixture('admission-config.yaml'), fixture('namespaces.yaml')])).stdout,
    );
    const config = parseObjects(readFileSync(fixture('admission-config.yaml'), 'utf8'), 'config')[0] as unknown as {
      plugins: { configuration: Record<string, unknown> }[];
    };
    const [pns, ptr] = config.plugins;
    const compat = write(
      'compat-rules.yaml',
      stringify({
        apiVersion: 'placement-webhook/v1',
        kind: 'PlacementRules',
        settings: {
          compat: {
            podNodeSelector: pns?.configuration['podNodeSelectorPluginConfig'],
            podTolerationRestriction: { default: ptr?.configuration['default'] },
          },
        },
        rules: [],
      }),
    );
    const ns = ['--namespaces', fixture('namespaces.yaml')];
    const viaRules = await checked(['--rules', rules, ...ns], fixture('pods-namespaces.yaml'));
    const viaCompat = await checked(['--rules', compat, ...ns], fixture('pods-namespaces.yaml'));
    const placement = (p: V1Pod | undefined) =>
      p ? { nodeSelector: p.spec?.nodeSelector ?? {}, tolerations: (p.spec?.tolerations ?? []).map((t) => JSON.stringify(t)).sort() } : 'refused';
    expect([...viaRules].map(([k, p]) => [k, placement(p)])).toStrictEqual([...viaCompat].map(([k, p]) => [k, placement(p)]));
    expect(placement(viaCompat.get('web/frontend-staging'))).toBe('refused');
    expect(placement(viaCompat.get('sandbox/experiment'))).toStrictEqual({
      nodeSelector: { env: 'dev' },
      tolerations: ['{"key":"shared","operator":"Exists","effect":"NoSchedule"}'],
    });
  });
});
