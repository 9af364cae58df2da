import type { V1Taint } from '@kubernetes/client-node';

/** String labels of a Kubernetes object. Read with `Object.hasOwn`: keys such as `constructor` are ordinary keys. */
export type Labels = Readonly<Record<string, string>>;

/**
 * What placement needs to know about a Node, and nothing more (a full Node carries images and managedFields).
 * `allocatable` holds the node's `status.allocatable` quantities as strings, exactly as the API returns them.
 */
export interface PlacementNode {
  readonly name: string;
  readonly labels: Labels;
  readonly taints: readonly V1Taint[];
  readonly unschedulable: boolean;
  readonly allocatable: Readonly<Record<string, string>>;
}
