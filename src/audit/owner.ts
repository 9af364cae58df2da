/**
 * The workload that owns a pod, as the operator would roll it out: a Deployment rather than its ReplicaSet, a CronJob
 * rather than its Job. Read from the pod's controller `ownerReference`, then one level up:
 * - the ReplicaSet (or Job) among the given workloads, by its own controller reference;
 * - else, for a ReplicaSet, the Deployment its name and the pod's `pod-template-hash` label imply (the Deployment
 *   controller names its ReplicaSets `<deployment>-<pod-template-hash>`, as `kubectl` reads them too).
 * A pod without a controller has no owner.
 */
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { isObject } from '../util/json.js';
import type { ObjectRef } from './findings.js';

const TEMPLATE_HASH_LABEL = 'pod-template-hash';

const controllerOf = (refs: unknown): V1OwnerReference | undefined => {
  if (!Array.isArray(refs)) return undefined;
  const valid = refs.filter((r): r is V1OwnerReference => isObject(r) && typeof r['kind'] === 'string' && typeof r['name'] === 'string');
  return valid.find((r) => r.controller === true);
};

const ref = (o: V1OwnerReference): ObjectRef => ({ apiVersion: o.apiVersion ?? '', kind: o.kind, name: o.name });

/** Workloads by `namespace/kind/name`, for walking one level up the owner chain. */
export class Owners {
  private readonly byKey = new Map<string, Record<string, unknown>>();

  constructor(workloads: readonly unknown[] = []) {
    for (const w of workloads) {
      if (!isObject(w) || !isObject(w['metadata'])) continue;
      const m = w['metadata'];
      this.byKey.set(
        Owners.key(typeof m['namespace'] === 'string' && m['namespace'] !== '' ? m['namespace'] : 'default', String(w['kind']), String(m['name'])),
        w,
      );
    }
  }

  private static key(namespace: string, kind: string, name: string): string {
    return `${namespace}/${kind}/${name}`;
  }

  /** The workload object `ref` names in `namespace`, when it was given. */
  object(namespace: string, ref: ObjectRef): Record<string, unknown> | undefined {
    return this.byKey.get(Owners.key(namespace, ref.kind, ref.name));
  }

  /** The controller of a workload object (its own controller reference), or undefined. */
  ownerOfWorkload(w: unknown): ObjectRef | undefined {
    if (!isObject(w) || !isObject(w['metadata'])) return undefined;
    const c = controllerOf(w['metadata']['ownerReferences']);
    return c ? ref(c) : undefined;
  }

  /** The workload to roll out for `pod`, or undefined when no controller owns it. */
  ownerOf(pod: V1Pod, namespace: string): ObjectRef | undefined {
    const direct = controllerOf(pod.metadata?.ownerReferences);
    if (!direct) return undefined;
    if (direct.kind !== 'ReplicaSet' && direct.kind !== 'Job') return ref(direct);
    const known = this.byKey.get(Owners.key(namespace, direct.kind, direct.name));
    if (known) return this.ownerOfWorkload(known) ?? ref(direct);
    const hash = pod.metadata?.labels?.[TEMPLATE_HASH_LABEL];
    if (direct.kind === 'ReplicaSet' && hash && direct.name.endsWith(`-${hash}`) && direct.name.length > hash.length + 1) {
      return { apiVersion: 'apps/v1', kind: 'Deployment', name: direct.name.slice(0, -(hash.length + 1)) };
    }
    return ref(direct);
  }
}
