import type { RuleSet } from '../rules/compile.js';
import type { Labels } from '../scheduling/types.js';

/**
 * What the handlers read of the world. Implementations swap their data atomically: a review sees one rule set and
 * one cluster view from start to end.
 */
export interface AdmissionContext {
  /** The rule set in force now. */
  rules(): RuleSet;
  /** Labels of a namespace, or undefined when it is not known (then only `kubernetes.io/metadata.name` is assumed). */
  namespaceLabels(name: string): Labels | undefined;
}

/** One line of the review log: never the object itself (pods carry secrets in env). */
export interface ReviewRecord {
  decision: 'allowed' | 'patched' | 'denied' | 'skipped';
  reason?: string;
  appliedRules?: readonly string[];
  warnings?: number;
}
