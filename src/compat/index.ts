/**
 * The in-tree placement plugins a rules document can opt into (`settings.compat`), as one step before the rules
 * (mutation) and one check of the final pod (validation). Semantics in `./pod-node-selector.ts` and
 * `./pod-toleration-restriction.ts`; this file only orders them and words the outcome.
 *
 * Order, as in the 1.20 API server's admission chain (`pkg/kubeapiserver/options/plugins.go`): PodNodeSelector, then
 * PodTolerationRestriction, then the webhooks — so the rules see the pod as the plugins left it, and the final pod
 * (the rules' injections included) must pass both plugins' checks.
 *
 * A namespace that is not known (its annotations cannot be read) gets nothing from the plugins and no refusal: a
 * warning says so (never deny from incomplete knowledge).
 */
import type { V1Pod, V1Toleration } from '@kubernetes/client-node';
import { sameJson } from '../util/json.js';
import type { Labels } from '../scheduling/types.js';
import {
  admitNodeSelector,
  namespaceNodeSelector,
  NODE_SELECTOR_ANNOTATION,
  validateNodeSelector,
  type PodNodeSelectorConfig,
} from './pod-node-selector.js';
import {
  admitTolerations,
  DEFAULT_TOLERATIONS_ANNOTATION,
  TOLERATIONS_WHITELIST_ANNOTATION,
  validateTolerations,
  type Operation,
  type PodTolerationRestrictionConfig,
} from './pod-toleration-restriction.js';

export type { PodNodeSelectorConfig } from './pod-node-selector.js';
export type { PodTolerationRestrictionConfig } from './pod-toleration-restriction.js';

export const POD_NODE_SELECTOR = 'PodNodeSelector';
export const POD_TOLERATION_RESTRICTION = 'PodTolerationRestriction';

/** `settings.compat`, compiled: a plugin that is off is undefined. */
export interface CompatSettings {
  readonly podNodeSelector?: PodNodeSelectorConfig | undefined;
  readonly podTolerationRestriction?: PodTolerationRestrictionConfig | undefined;
}

export const COMPAT_OFF: CompatSettings = Object.freeze({});

export const compatEnabled = (c: CompatSettings): boolean => c.podNodeSelector !== undefined || c.podTolerationRestriction !== undefined;

/** The namespace annotations the plugins read: the only ones the namespace caches keep. */
export const COMPAT_ANNOTATIONS: readonly string[] = Object.freeze([
  NODE_SELECTOR_ANNOTATION,
  DEFAULT_TOLERATIONS_ANNOTATION,
  TOLERATIONS_WHITELIST_ANNOTATION,
]);

/** The string values of `COMPAT_ANNOTATIONS` in `annotations` (whatever it holds: it comes from the API or a file). */
export function compatAnnotations(annotations: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (annotations === null || typeof annotations !== 'object' || Array.isArray(annotations)) return out;
  for (const key of COMPAT_ANNOTATIONS) {
    const v: unknown = Object.hasOwn(annotations, key) ? (annotations as Record<string, unknown>)[key] : undefined;
    if (typeof v === 'string') out[key] = v;
  }
  return out;
}

/** A namespace's annotations, or undefined when the namespace is not known. */
export type NamespaceAnnotations = Readonly<Record<string, string>> | undefined;

export type CompatAdmission =
  | {
      readonly kind: 'admitted';
      /** Set when the plugins change the field. */
      readonly nodeSelector?: Labels;
      readonly tolerations?: readonly V1Toleration[];
      readonly warnings: readonly string[];
    }
  | { readonly kind: 'refused'; readonly message: string };

const unknownNamespace = (namespace: string, what: 'applied' | 'checked') =>
  `placement-webhook: namespace ${namespace} is not known: its PodNodeSelector/PodTolerationRestriction annotations were not ${what}`;

/** The plugins' mutation of `pod` (CREATE; on UPDATE the webhook does not mutate). */
export function admitCompat(pod: V1Pod, namespace: string, annotations: NamespaceAnnotations, settings: CompatSettings): CompatAdmission {
  if (!compatEnabled(settings)) return { kind: 'admitted', warnings: [] };
  if (annotations === undefined) return { kind: 'admitted', warnings: [unknownNamespace(namespace, 'applied')] };
  let nodeSelector: Labels | undefined;
  if (settings.podNodeSelector !== undefined) {
    const selector = namespaceNodeSelector(annotations, settings.podNodeSelector);
    if (!selector.ok) return { kind: 'refused', message: `${POD_NODE_SELECTOR}: ${selector.error}` };
    const admitted = admitNodeSelector(pod.spec?.nodeSelector ?? undefined, selector.value);
    if (admitted.kind === 'refused') return { kind: 'refused', message: `${POD_NODE_SELECTOR}: ${admitted.message}` };
    // Admit ends with Validate: the whitelist is checked at once.
    const check = validateNodeSelector(admitted.nodeSelector, namespace, selector.value, settings.podNodeSelector);
    if (check !== undefined) return { kind: 'refused', message: `${POD_NODE_SELECTOR}: ${check}` };
    if (admitted.changed) nodeSelector = admitted.nodeSelector;
  }
  let tolerations: readonly V1Toleration[] | undefined;
  if (settings.podTolerationRestriction !== undefined) {
    const admitted = admitTolerations({ operation: 'CREATE', pod, namespaceAnnotations: annotations, config: settings.podTolerationRestriction });
    if (admitted.kind === 'refused') return { kind: 'refused', message: `${POD_TOLERATION_RESTRICTION}: ${admitted.message}` };
    if (admitted.changed) tolerations = admitted.tolerations;
    const check = validateTolerations(admitted.tolerations, annotations, settings.podTolerationRestriction);
    if (check !== undefined) return { kind: 'refused', message: `${POD_TOLERATION_RESTRICTION}: ${check}` };
  }
  return { kind: 'admitted', warnings: [], ...(nodeSelector ? { nodeSelector } : {}), ...(tolerations ? { tolerations } : {}) };
}

export interface CompatVerdict {
  readonly refusal?: string;
  readonly warnings: readonly string[];
}

/**
 * The plugins' checks of the final pod: on CREATE both (`Validate` of each); on UPDATE the toleration whitelist, on
 * the tolerations the plugin would leave (it adds the memory-pressure toleration on UPDATE too) — and only when the
 * update changes the tolerations (decision: an update that adds none is not refused because a whitelist was
 * tightened since; see docs/compat.md).
 */
export function validateCompat(
  operation: Operation,
  pod: V1Pod,
  oldPod: V1Pod | undefined,
  namespace: string,
  annotations: NamespaceAnnotations,
  settings: CompatSettings,
): CompatVerdict {
  if (!compatEnabled(settings)) return { warnings: [] };
  if (operation === 'UPDATE') {
    const config = settings.podTolerationRestriction;
    if (config === undefined) return { warnings: [] };
    if (oldPod !== undefined && sameJson(pod.spec?.tolerations ?? [], oldPod.spec?.tolerations ?? [])) return { warnings: [] };
    if (annotations === undefined) return { warnings: [unknownNamespace(namespace, 'checked')] };
    const admitted = admitTolerations({ operation, pod, namespaceAnnotations: annotations, config });
    if (admitted.kind === 'refused') return { refusal: `${POD_TOLERATION_RESTRICTION}: ${admitted.message}`, warnings: [] };
    const check = validateTolerations(admitted.tolerations, annotations, config);
    return check === undefined ? { warnings: [] } : { refusal: `${POD_TOLERATION_RESTRICTION}: ${check}`, warnings: [] };
  }
  if (annotations === undefined) return { warnings: [unknownNamespace(namespace, 'checked')] };
  if (settings.podNodeSelector !== undefined) {
    const selector = namespaceNodeSelector(annotations, settings.podNodeSelector);
    if (!selector.ok) return { refusal: `${POD_NODE_SELECTOR}: ${selector.error}`, warnings: [] };
    const why = validateNodeSelector(pod.spec?.nodeSelector ?? undefined, namespace, selector.value, settings.podNodeSelector);
    if (why !== undefined) return { refusal: `${POD_NODE_SELECTOR}: ${why}`, warnings: [] };
  }
  if (settings.podTolerationRestriction !== undefined) {
    const why = validateTolerations(pod.spec?.tolerations ?? undefined, annotations, settings.podTolerationRestriction);
    if (why !== undefined) return { refusal: `${POD_TOLERATION_RESTRICTION}: ${why}`, warnings: [] };
  }
  return { warnings: [] };
}
