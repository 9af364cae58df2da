/**
 * Namespaces carrying the PodNodeSelector and PodTolerationRestriction annotations, as rules (for one document
 * instead of annotations). What a rule can say, it says; what it cannot is returned as notes for the comments.
 *
 * - `scheduler.alpha.kubernetes.io/node-selector: k=v,...` → `inject.nodeSelector`, `onConflict: reject` (the plugin
 *   refuses a pod whose nodeSelector has another value for one of the keys). Set to `""`: nothing (and the cluster
 *   default, when given, is not applied to that namespace). Absent: the cluster default, when one is given.
 * - `…/defaultTolerations: [...]` → `inject.tolerations`. Our merge appends what the pod lacks and never removes;
 *   the plugin's keeps only superseding tolerations (it may drop one of the pod's): same nodes tolerated, a
 *   different list. Absent: the cluster's defaults, when given.
 * - Whitelists (`…/tolerationsWhitelist`, the PodNodeSelector per-namespace entries) and the memory-pressure
 *   toleration for pods that are not BestEffort have no rule form (a rule adds, it does not forbid, and cannot match
 *   a QoS class): they are notes, and `settings.compat` is the way to keep them.
 * Each rule matches DaemonSet pods too (`includeDaemonSetPods: true`): the plugins spared no pod.
 */
import type { Rule } from '../rules/schema.js';
import { NODE_SELECTOR_ANNOTATION, namespaceNodeSelector, type PodNodeSelectorConfig } from '../compat/pod-node-selector.js';
import {
  DEFAULT_TOLERATIONS_ANNOTATION,
  parseTolerationsAnnotation,
  TOLERATIONS_WHITELIST_ANNOTATION,
  type PodTolerationRestrictionConfig,
} from '../compat/pod-toleration-restriction.js';
import { ruleName } from './podpreset.js';

export interface NamespaceConversion {
  readonly namespace: string;
  /** Undefined when nothing of the namespace has a rule form. */
  readonly rule: Rule | undefined;
  /** What the comment above the rule says: where it came from, and what it does not carry. */
  readonly notes: readonly string[];
  /** Annotations that do not parse: the plugin would refuse every pod of the namespace. */
  readonly errors: readonly string[];
}

export interface ClusterConfigs {
  readonly podNodeSelector?: PodNodeSelectorConfig | undefined;
  readonly podTolerationRestriction?: PodTolerationRestrictionConfig | undefined;
}

/** One namespace's rule. `taken` holds the rule names used so far (names are unique in a document). */
export function namespaceRule(
  name: string,
  annotations: Readonly<Record<string, string>>,
  configs: ClusterConfigs,
  taken: Set<string>,
): NamespaceConversion {
  const notes: string[] = [];
  const errors: string[] = [];
  const inject: Rule['inject'] = {};
  const hasSelector = Object.hasOwn(annotations, NODE_SELECTOR_ANNOTATION);
  if (hasSelector || configs.podNodeSelector?.['clusterDefaultNodeSelector'] !== undefined) {
    const selector = namespaceNodeSelector(annotations, configs.podNodeSelector ?? {});
    if (!selector.ok) errors.push(selector.error);
    else if (Object.keys(selector.value).length > 0) {
      inject.nodeSelector = { ...selector.value };
      notes.push(
        hasSelector ? `nodeSelector from ${NODE_SELECTOR_ANNOTATION}` : 'nodeSelector from the cluster default (clusterDefaultNodeSelector)',
      );
    } else if (hasSelector) notes.push(`${NODE_SELECTOR_ANNOTATION} is "": no node selector (the cluster default does not apply)`);
  }
  const whitelist = configs.podNodeSelector?.[name];
  if (whitelist !== undefined && whitelist !== '')
    notes.push(`not a rule: the node selector whitelist ${JSON.stringify(whitelist)} (keep settings.compat.podNodeSelector for it)`);

  const defaults = parseTolerationsAnnotation(annotations, DEFAULT_TOLERATIONS_ANNOTATION);
  if (!defaults.ok) errors.push(defaults.error);
  else {
    const list = defaults.value ?? configs.podTolerationRestriction?.default ?? [];
    if (list.length > 0) {
      inject.tolerations = list.map((t) => ({ ...t })) as NonNullable<Rule['inject']['tolerations']>;
      notes.push(
        `tolerations from ${defaults.value !== undefined ? DEFAULT_TOLERATIONS_ANNOTATION : 'the cluster default tolerations'} ` +
          "(appended when missing; PodTolerationRestriction merged them and could drop a pod's toleration they supersede)",
      );
    }
  }
  if (Object.hasOwn(annotations, TOLERATIONS_WHITELIST_ANNOTATION) && annotations[TOLERATIONS_WHITELIST_ANNOTATION] !== '') {
    notes.push(`not a rule: ${TOLERATIONS_WHITELIST_ANNOTATION} (keep settings.compat.podTolerationRestriction for it)`);
  }
  if (Object.keys(inject).length === 0) return { namespace: name, rule: undefined, notes, errors };
  const rule: Rule = {
    name: ruleName(['namespace', name], taken),
    description: `PodNodeSelector/PodTolerationRestriction annotations of namespace ${name}`,
    match: { namespaces: [name], includeDaemonSetPods: true },
    inject,
    ...(inject.nodeSelector ? { onConflict: 'reject' as const } : {}),
  };
  return { namespace: name, rule, notes, errors };
}
