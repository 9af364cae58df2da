import type { V1Container, V1EnvFromSource, V1EnvVar, V1PodSpec, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { mergeById } from './lists.js';
import type { MergeReport } from './report.js';

/** envFrom entries have no name: a source is identified by what it reads (`configMap:NAME` or `secret:NAME`). */
const envFromId = (e: V1EnvFromSource) =>
  e.configMapRef ? `configMap:${e.configMapRef.name}` : e.secretRef ? `secret:${e.secretRef.name}` : 'none:';
const envId = (e: V1EnvVar) => e.name;
const mountId = (m: V1VolumeMount) => m.mountPath;
const volumeId = (v: V1Volume) => v.name;
const volumeSubject = (k: string) => `volume ${k}`;

export interface ContainerInjection {
  readonly env?: readonly V1EnvVar[] | undefined;
  readonly envFrom?: readonly V1EnvFromSource[] | undefined;
  readonly volumeMounts?: readonly V1VolumeMount[] | undefined;
  readonly volumes?: readonly V1Volume[] | undefined;
}

/**
 * PodPreset semantics: `env` (by name), `envFrom` (by source) and `volumeMounts` (by `mountPath`: one volume may be
 * mounted at several paths, but two mounts cannot share a path) go into every container and initContainer;
 * `volumes` (by name) into the pod. Identical entries are left alone; same identity, other content → conflict.
 */
export function mergeContainers(spec: V1PodSpec, wanted: ContainerInjection, override: boolean, report: MergeReport): void {
  const { env = [], envFrom = [], volumeMounts = [], volumes = [] } = wanted;
  if (env.length + envFrom.length + volumeMounts.length > 0) {
    const groups: [string, V1Container[] | undefined][] = [
      ['initContainer', spec.initContainers],
      ['container', spec.containers],
    ];
    for (const [kind, containers] of groups) {
      for (const c of containers ?? []) {
        // Named only when there is a conflict to tell of.
        const subject = (what: string) => (k: string) => `${what} ${k} in ${kind} ${c.name}`;
        if (env.length > 0) {
          const merged = mergeById(c.env, env, envId, subject('env'), override, report);
          if (merged) c.env = merged;
        }
        if (envFrom.length > 0) {
          const merged = mergeById(c.envFrom, envFrom, envFromId, subject('envFrom'), override, report);
          if (merged) c.envFrom = merged;
        }
        if (volumeMounts.length > 0) {
          const merged = mergeById(c.volumeMounts, volumeMounts, mountId, subject('volumeMount'), override, report);
          if (merged) c.volumeMounts = merged;
        }
      }
    }
  }
  if (volumes.length > 0) {
    const merged = mergeById(spec.volumes, volumes, volumeId, volumeSubject, override, report);
    if (merged) spec.volumes = merged;
  }
}
