import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { WORKLOAD_KINDS } from '../workloads/workloads.js';
import { AUDIT_LEASE } from './audit-loop.js';
import { POLICY_REPORT } from './policy-reports.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace: string }[];
}

const docs = parseAllDocuments(read('webhook-config/audit/rbac.yaml')).map((d) => d.toJS() as Doc);
const clusterRole = docs.find((d) => d.kind === 'ClusterRole');
const role = docs.find((d) => d.kind === 'Role');

/** The verbs `rules` grant on group/resource (optionally for one name). */
function verbs(rules: readonly Rule[] | undefined, group: string, resource: string, name?: string): string[] {
  return [
    ...new Set(
      (rules ?? [])
        .filter(
          (r) =>
            r.apiGroups.includes(group) &&
            r.resources.includes(resource) &&
            (r.resourceNames === undefined || (name !== undefined && r.resourceNames.includes(name))),
        )
        .flatMap((r) => r.verbs),
    ),
  ].sort();
}

describe('webhook-config/audit: the RBAC of the in-cluster audit, and nothing more', () => {
  it.each(WORKLOAD_KINDS.map((k) => k))('lists $kind cluster-wide, read-only', (k) => {
    expect(verbs(clusterRole?.rules, k.group, k.resource)).toEqual(['list']);
  });

  it('reads, creates, replaces and deletes its PolicyReports (no patch, no watch)', () => {
    expect(verbs(clusterRole?.rules, POLICY_REPORT.group, POLICY_REPORT.plural)).toEqual(['create', 'delete', 'get', 'list', 'update']);
  });

  it('uses its Lease in its own namespace only: create, and get/update of that one name', () => {
    expect(role?.metadata.namespace).toBe('placement-webhook');
    expect(verbs(role?.rules, 'coordination.k8s.io', 'leases', AUDIT_LEASE)).toEqual(['create', 'get', 'update']);
    expect(verbs(role?.rules, 'coordination.k8s.io', 'leases', 'some-other-lease')).toEqual(['create']);
    expect(verbs(clusterRole?.rules, 'coordination.k8s.io', 'leases')).toEqual([]);
  });

  it('grants nothing else', () => {
    const granted = [...(clusterRole?.rules ?? []), ...(role?.rules ?? [])].flatMap((r) =>
      r.apiGroups.flatMap((g) => r.resources.map((res) => `${g}/${res}`)),
    );
    const expected = [
      ...WORKLOAD_KINDS.map((k) => `${k.group}/${k.resource}`),
      `${POLICY_REPORT.group}/${POLICY_REPORT.plural}`,
      'coordination.k8s.io/leases',
    ];
    expect(new Set(granted)).toEqual(new Set(expected));
  });

  it('binds both to the webhook service account', () => {
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      const b = docs.find((d) => d.kind === kind);
      expect(b?.subjects).toEqual([{ kind: 'ServiceAccount', name: 'placement-webhook', namespace: 'placement-webhook' }]);
    }
  });

  it('the component turns the audit on and gives the Deployment its pod name and namespace', () => {
    const k = parse(read('webhook-config/audit/kustomization.yaml')) as {
      kind: string;
      resources: string[];
      patches: { path: string; target: Record<string, string> }[];
    };
    expect(k.kind).toBe('Component');
    expect(k.resources).toEqual(['rbac.yaml']);
    expect(k.patches).toEqual([
      { path: 'deployment-patch.yaml', target: { group: 'apps', version: 'v1', kind: 'Deployment', name: 'placement-webhook' } },
    ]);
    const patch = parse(read('webhook-config/audit/deployment-patch.yaml')) as { op: string; path: string; value: unknown }[];
    expect(patch).toContainEqual({ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--audit-interval=5m' });
    const env = patch.find((p) => p.path.endsWith('/env'))?.value as { name: string; valueFrom: { fieldRef: { fieldPath: string } } }[];
    expect(env.map((e) => [e.name, e.valueFrom.fieldRef.fieldPath])).toEqual([
      ['POD_NAME', 'metadata.name'],
      ['POD_NAMESPACE', 'metadata.namespace'],
    ]);
  });
});
