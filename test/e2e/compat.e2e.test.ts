/**
 * Differential test of `settings.compat` against the real plugins: kube-apiserver 1.20 with
 * `--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction` and their configuration file, beside a plain
 * kube-apiserver 1.20 with placement-webhook (the same configuration under `settings.compat`, no rules).
 *
 * A table of namespaces (annotations) × pods is sent to both as server-side dry-run creates; then pods are created
 * for real and updated with added tolerations. Compared: refused or not, the resulting nodeSelector, and the
 * tolerations as sets (DefaultTolerationSeconds adds its own on both). Every case must agree; the refusal messages
 * are compared too (ours carry the plugin's words) and counted.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from './support/controlplane.js';
import { baseManifest, makeCerts, REPO_ROOT, startWebhook, webhookConfigurations, type Webhook } from './support/webhook.js';
import { container, NAMESPACES, NODE_SELECTOR_CONFIG, PODS, TOLERATION_CONFIG, type PodCase, type Toleration } from './support/compat-cases.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const j = (o: unknown) => JSON.stringify(o);

/** What an API server made of a pod: refused (with its message) or the resulting placement. */
interface Outcome {
  refused: boolean;
  message: string;
  nodeSelector: Record<string, string>;
  tolerations: string[];
}

/** A toleration as a canonical string (fields in a fixed order), so that lists compare as sets. */
const canonical = (t: Toleration) => j([t.key ?? '', t.operator ?? '', t.value ?? '', t.effect ?? '', t.tolerationSeconds ?? null]);

function outcome(status: number, body: unknown, text: string): Outcome {
  if (status >= 200 && status < 300) {
    const spec = (body as { spec?: { nodeSelector?: Record<string, string>; tolerations?: Toleration[] } }).spec ?? {};
    const nodeSelector = Object.fromEntries(Object.entries(spec.nodeSelector ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return { refused: false, message: '', nodeSelector, tolerations: [...new Set((spec.tolerations ?? []).map(canonical))].sort() };
  }
  const message = (body as { message?: string } | undefined)?.message ?? text;
  return { refused: true, message, nodeSelector: {}, tolerations: [] };
}

/** The plugin's own words in a refusal (ours prefix them with the plugin's name and the webhook's name). */
const pluginWords = (m: string) =>
  [
    'pod node label selector conflicts with its namespace node label selector',
    'pod node label selector labels conflict with its namespace whitelist',
    'conflict with its namespace whitelist',
    'conflict with its cluster whitelist',
  ].find((w) => m.includes(w)) ?? (m.includes('invalid') || m.includes('JSON') || m.includes('json') ? 'parse error' : m);

describe('settings.compat against the real PodNodeSelector and PodTolerationRestriction (1.20)', () => {
  let plugins: ControlPlane;
  let ours: ControlPlane;
  let webhook: Webhook | undefined;
  const agreement = { cases: 0, agreed: 0, refusals: 0, messagesAgreed: 0 };
  const mismatches: { what: string; plugins: Outcome; ours: Outcome }[] = [];
  const wordings: { what: string; plugins: string; ours: string }[] = [];

  async function ok(cp: ControlPlane, args: string[], input?: string): Promise<string> {
    const r = await cp.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\nwebhook log:\n${webhook?.logTail(20) ?? ''}`);
    return r.stdout;
  }

  async function createNamespaces(cp: ControlPlane) {
    for (const [name, annotations] of Object.entries(NAMESPACES)) {
      await ok(
        cp,
        ['create', '-f', '-'],
        j({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, annotations, labels: { 'kubernetes.io/metadata.name': name } } }),
      );
    }
  }

  const podObject = (ns: string, c: PodCase, suffix = '') => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${c.name}${suffix}`, namespace: ns, ...(c.ownerReferences ? { ownerReferences: c.ownerReferences } : {}) },
    spec: c.spec,
  });

  async function create(cp: ControlPlane, ns: string, c: PodCase, dryRun: boolean, suffix = ''): Promise<Outcome> {
    const r = await cp.api('POST', `/api/v1/namespaces/${ns}/pods${dryRun ? '?dryRun=All' : ''}`, podObject(ns, c, suffix));
    return outcome(r.status, r.body, r.text);
  }

  async function addToleration(cp: ControlPlane, ns: string, name: string, t: Toleration): Promise<Outcome> {
    const r = await cp.api(
      'PATCH',
      `/api/v1/namespaces/${ns}/pods/${name}`,
      [{ op: 'add', path: '/spec/tolerations/-', value: t }],
      'application/json-patch+json',
    );
    return outcome(r.status, r.body, r.text);
  }

  function compare(what: string, a: Outcome, b: Outcome) {
    agreement.cases++;
    const same = a.refused === b.refused && j(a.nodeSelector) === j(b.nodeSelector) && j(a.tolerations) === j(b.tolerations);
    if (same) agreement.agreed++;
    else mismatches.push({ what, plugins: a, ours: b });
    if (a.refused && b.refused) {
      agreement.refusals++;
      if (pluginWords(a.message) === pluginWords(b.message)) agreement.messagesAgreed++;
      else wordings.push({ what, plugins: a.message, ours: b.message });
    }
  }

  beforeAll(async () => {
    const plain = await startControlPlane();
    ours = plain;
    const dir = path.join(plain.dir, 'compat');
    const configFile = path.join(plain.dir, 'admission-config.yaml');
    await writeFile(
      configFile,
      stringify({
        apiVersion: 'apiserver.config.k8s.io/v1',
        kind: 'AdmissionConfiguration',
        plugins: [
          { name: 'PodNodeSelector', configuration: { podNodeSelectorPluginConfig: NODE_SELECTOR_CONFIG } },
          {
            name: 'PodTolerationRestriction',
            configuration: { apiVersion: 'podtolerationrestriction.admission.k8s.io/v1alpha1', kind: 'Configuration', ...TOLERATION_CONFIG },
          },
        ],
      }),
    );
    plugins = await startControlPlane({
      apiserverArgs: ['--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction', `--admission-control-config-file=${configFile}`],
    });
    await createNamespaces(plugins);

    // The webhook on the plain API server: installed as webhook-config/ installs it, the same configuration in the rules.
    for (const file of ['namespace.yaml', 'serviceaccount.yaml', 'rbac.yaml', 'rules-configmap.yaml']) {
      await ok(ours, ['apply', '-f', path.join(REPO_ROOT, 'webhook-config', 'base', file)]);
    }
    const [cm] = baseManifest('rules-configmap.yaml') as { data: Record<string, string> }[];
    if (!cm) throw new Error('no rules ConfigMap in webhook-config/base');
    const rules = {
      apiVersion: 'placement-webhook/v1',
      kind: 'PlacementRules',
      settings: { compat: { podNodeSelector: NODE_SELECTOR_CONFIG, podTolerationRestriction: TOLERATION_CONFIG } },
      rules: [],
    };
    await ok(ours, ['apply', '-f', '-'], j({ ...cm, data: { 'rules.yaml': stringify(rules) } }));
    await createNamespaces(ours);
    const certs = await makeCerts(path.join(dir, 'certs'));
    webhook = await startWebhook({ kubeconfig: ours.kubeconfigPath, certs, dir: ours.dir });
    for (const cfg of webhookConfigurations(webhook.port, certs.caBundle)) await ok(ours, ['apply', '-f', '-'], j(cfg));
    // The API server picks up webhook configurations asynchronously: wait until the namespace selector is applied.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const probe = await create(ours, 'ns-selector', { name: 'probe', spec: { containers: [container()] } }, true);
      if (!probe.refused && probe.nodeSelector['env'] === 'dev') break;
      if (Date.now() > deadline) throw new Error(`the webhook is not called: ${j(probe)}\n${webhook.logTail(20)}`);
      await sleep(250);
    }
  }, 300_000);

  afterAll(async () => {
    console.log(
      `compat differential: ${agreement.agreed}/${agreement.cases} cases agree (result and refusal); ` +
        `${agreement.messagesAgreed}/${agreement.refusals} refusals in the same words`,
    );
    await webhook?.stop();
    await ours?.stop();
    await plugins?.stop();
  }, 60_000);

  const table = Object.keys(NAMESPACES).flatMap((ns) => PODS.map((c) => ({ ns, c })));

  it(`CREATE: ${table.length} namespace × pod cases agree`, async () => {
    for (const { ns, c } of table) {
      const [a, b] = await Promise.all([create(plugins, ns, c, true), create(ours, ns, c, true)]);
      compare(`${ns}/${c.name}`, a, b);
    }
    expect(mismatches).toStrictEqual([]);
  }, 300_000);

  const updates: { ns: string; pod: string; add: Toleration }[] = [
    { ns: 'ns-tolerations', pod: 'besteffort', add: { key: 'ok', operator: 'Exists' } },
    { ns: 'ns-tolerations', pod: 'burstable', add: { key: 'forbidden', operator: 'Exists' } },
    { ns: 'ns-plain', pod: 'besteffort', add: { key: 'allowed', operator: 'Exists' } },
    { ns: 'ns-plain', pod: 'burstable', add: { key: 'forbidden', operator: 'Exists' } },
    { ns: 'ns-optout', pod: 'besteffort', add: { key: 'anything', operator: 'Exists' } },
    { ns: 'ns-wildcard', pod: 'besteffort', add: { key: 'anything', operator: 'Exists' } },
  ];

  it(`UPDATE: ${updates.length} added tolerations are judged alike (the whitelist on UPDATE)`, async () => {
    for (const u of updates) {
      const c = PODS.find((p) => p.name === u.pod);
      if (!c) throw new Error(`no pod case ${u.pod}`);
      const [a0, b0] = await Promise.all([create(plugins, u.ns, c, false, '-upd'), create(ours, u.ns, c, false, '-upd')]);
      compare(`${u.ns}/${u.pod}-upd created`, a0, b0);
      if (a0.refused) continue;
      const [a, b] = await Promise.all([addToleration(plugins, u.ns, `${u.pod}-upd`, u.add), addToleration(ours, u.ns, `${u.pod}-upd`, u.add)]);
      compare(`${u.ns}/${u.pod}-upd + ${canonical(u.add)}`, a, b);
    }
    expect(mismatches).toStrictEqual([]);
  }, 300_000);

  it('known difference (docs/compat.md): on UPDATE the plugin merges again and may drop the toleration just added; we never mutate on UPDATE', async () => {
    const c = PODS.find((p) => p.name === 'burstable') as PodCase;
    const add = { key: 'anything', operator: 'Exists' };
    const [a0, b0] = await Promise.all([create(plugins, 'ns-wildcard', c, false, '-drop'), create(ours, 'ns-wildcard', c, false, '-drop')]);
    expect(b0).toStrictEqual(a0);
    const [a, b] = await Promise.all([
      addToleration(plugins, 'ns-wildcard', 'burstable-drop', add),
      addToleration(ours, 'ns-wildcard', 'burstable-drop', add),
    ]);
    expect({ refused: a.refused, tolerations: a.tolerations }).toStrictEqual({ refused: false, tolerations: a0.tolerations });
    expect({ refused: b.refused, tolerations: b.tolerations }).toStrictEqual({
      refused: false,
      tolerations: [...a0.tolerations, canonical(add)].sort(),
    });
  });

  it("refusals carry the plugins' words", () => {
    expect(wordings).toStrictEqual([]);
  });
});
