/**
 * What merging one rule's injection into a pod ran into. Merge functions never decide what a conflict means: they
 * record it (and, when told to override, replace the pod's value); the caller turns conflicts into warnings or a
 * denial according to the rule's `onConflict`.
 */
export interface Conflict {
  /** The field that conflicts, as a user would name it: `nodeSelector lifecycle`, `env FOO in container app`. */
  readonly subject: string;
  /** The pod's value and the rule's, when they are safe to show (never for env: values may be secrets). */
  readonly existing?: string;
  readonly wanted?: string;
}

export interface MergeReport {
  readonly conflicts: Conflict[];
  /** Problems that make the rule impossible to apply at all (e.g. the node-affinity term limit). */
  readonly failures: string[];
}

export const newReport = (): MergeReport => ({ conflicts: [], failures: [] });
