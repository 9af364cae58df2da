/**
 * Node requirements as sets of label values, the way Karpenter reasons about capacity it can create: a NodePool
 * does not describe a node but every node it may launch, so its labels are *sets* (`zone In [a, b]`,
 * `capacity-type NotIn [spot]`), and a pod fits it when the two descriptions can both hold on some node. After
 * kubernetes-sigs/karpenter `pkg/scheduling/requirement.go` (`NewRequirement`, `Intersection`, `Has`, `Operator`)
 * and `pkg/scheduling/requirements.go` (`Compatible`, `Intersects`, `newPodRequirements`).
 *
 * - A requirement is one key's allowed values: a finite set (`In`), everything but a finite set (`NotIn`,
 *   `Exists` with nothing excluded), or nothing (`DoesNotExist`); `Gt`/`Lt` are "everything" bounded to integers
 *   (inclusive bounds here: `Gt 3` is `≥ 4`), and a value that is not an integer never satisfies a bound.
 * - Requirements on one key are intersected; keys not mentioned are unconstrained.
 * - **Compatible** (`Compatible` with `AllowUndefinedWellKnownLabels`): a key the pod requires (`In`, `Exists`,
 *   `Gt`, `Lt`) must be one the NodePool defines, unless it is a *well-known* label, whose values the cloud
 *   provider supplies (zone, arch, instance type, capacity type, …); `NotIn`/`DoesNotExist` need nothing. Keys both
 *   define must intersect, unless both sides only exclude values (`NotIn`/`DoesNotExist` against each other).
 * - Pod keys are normalised from their deprecated beta names (`beta.kubernetes.io/arch` → `kubernetes.io/arch`).
 *
 * Words follow Karpenter's (`label "k" does not have known values`, `key k, k In [b] not in k In [a]`), so that
 * what a user reads at admission is what they would read in Karpenter's events.
 */
import type { NodeAffinityConstraints } from '../scheduling/feasibility.js';
import { parseInt64 } from '../scheduling/node-affinity.js';

export type RequirementOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';

/** One key's allowed values. */
export interface Requirement {
  readonly key: string;
  /** True: every value but `values`; false: exactly `values`. */
  readonly complement: boolean;
  readonly values: ReadonlySet<string>;
  /** Inclusive integer bounds (from `Gt`/`Lt`). */
  readonly gte?: bigint;
  readonly lte?: bigint;
  /** Karpenter's `minValues`: at least this many distinct values must stay possible. */
  readonly minValues?: number;
}

/** Labels whose values the cloud provider supplies: a pod may require them of a NodePool that does not define them. */
export const WELL_KNOWN_LABELS: ReadonlySet<string> = new Set([
  // kubernetes-sigs/karpenter pkg/apis/v1/labels.go WellKnownLabels
  'karpenter.sh/nodepool',
  'karpenter.sh/capacity-type',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'node.kubernetes.io/instance-type',
  'kubernetes.io/arch',
  'kubernetes.io/os',
  'node.kubernetes.io/windows-build',
  // aws/karpenter-provider-aws pkg/apis/v1/labels.go (EKS, the provider our users run)
  ...[
    'capacity-reservation-id',
    'capacity-reservation-type',
    'instance-hypervisor',
    'instance-encryption-in-transit-supported',
    'instance-category',
    'instance-family',
    'instance-generation',
    'instance-size',
    'instance-local-nvme',
    'instance-cpu',
    'instance-cpu-manufacturer',
    'instance-cpu-sustained-clock-speed-mhz',
    'instance-memory',
    'instance-ebs-bandwidth',
    'instance-network-bandwidth',
    'instance-gpu-name',
    'instance-gpu-manufacturer',
    'instance-gpu-count',
    'instance-gpu-memory',
    'instance-accelerator-name',
    'instance-accelerator-manufacturer',
    'instance-accelerator-count',
  ].map((k) => `karpenter.k8s.aws/${k}`),
  'topology.k8s.aws/zone-id',
]);

/** `NormalizedLabels`: deprecated keys a pod may still use, read as their stable names. */
const NORMALIZED: Readonly<Record<string, string>> = {
  'failure-domain.beta.kubernetes.io/zone': 'topology.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region': 'topology.kubernetes.io/region',
  'beta.kubernetes.io/arch': 'kubernetes.io/arch',
  'beta.kubernetes.io/os': 'kubernetes.io/os',
  'beta.kubernetes.io/instance-type': 'node.kubernetes.io/instance-type',
};

export const normalizedKey = (key: string): string => (Object.hasOwn(NORMALIZED, key) ? (NORMALIZED[key] as string) : key);

/**
 * `NewRequirement`: the requirement of one selector expression, or undefined when it cannot be read (an unknown
 * operator, a bound that is not an integer: the scheduler reads such a term as matching nothing).
 */
export function requirement(key: string, operator: string, values: readonly string[] = [], minValues?: number): Requirement | undefined {
  const k = normalizedKey(key);
  const min = minValues === undefined ? {} : { minValues };
  switch (operator) {
    case 'In':
      return { key: k, complement: false, values: new Set(values), ...min };
    case 'NotIn':
      return { key: k, complement: true, values: new Set(values), ...min };
    case 'Exists':
      return { key: k, complement: true, values: new Set(), ...min };
    case 'DoesNotExist':
      return { key: k, complement: false, values: new Set(), ...min };
    case 'Gt':
    case 'Lt': {
      const bound = values.length === 1 && values[0] !== undefined ? parseInt64(values[0]) : undefined;
      if (bound === undefined) return undefined;
      return operator === 'Gt'
        ? { key: k, complement: true, values: new Set(), gte: bound + 1n, ...min }
        : { key: k, complement: true, values: new Set(), lte: bound - 1n, ...min };
    }
    default:
      return undefined;
  }
}

function withinBounds(r: { gte?: bigint; lte?: bigint }, value: string): boolean {
  if (r.gte === undefined && r.lte === undefined) return true;
  const n = parseInt64(value);
  if (n === undefined) return false;
  return (r.gte === undefined || n >= r.gte) && (r.lte === undefined || n <= r.lte);
}

/** `Has`: whether `value` satisfies the requirement. */
export function allows(r: Requirement, value: string): boolean {
  return (r.complement ? !r.values.has(value) : r.values.has(value)) && withinBounds(r, value);
}

/** `Operator()`: how the requirement reads as a selector operator. */
export function operatorOf(r: Requirement): RequirementOperator {
  if (r.complement) return r.values.size > 0 ? 'NotIn' : 'Exists';
  return r.values.size > 0 ? 'In' : 'DoesNotExist';
}

const maxOf = (a: bigint | undefined, b: bigint | undefined) => (a === undefined ? b : b === undefined ? a : a > b ? a : b);
const minOf = (a: bigint | undefined, b: bigint | undefined) => (a === undefined ? b : b === undefined ? a : a < b ? a : b);
const maxMin = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));

/** `Intersection`: the values both requirements allow. */
export function intersect(a: Requirement, b: Requirement): Requirement {
  const gte = maxOf(a.gte, b.gte);
  const lte = minOf(a.lte, b.lte);
  const minValues = maxMin(a.minValues, b.minValues);
  const min = minValues === undefined ? {} : { minValues };
  if (gte !== undefined && lte !== undefined && gte > lte) return { key: a.key, complement: false, values: new Set(), ...min };
  const complement = a.complement && b.complement;
  let values: Set<string>;
  if (a.complement && b.complement) values = new Set([...a.values, ...b.values]);
  else if (a.complement) values = new Set([...b.values].filter((v) => !a.values.has(v)));
  else if (b.complement) values = new Set([...a.values].filter((v) => !b.values.has(v)));
  else values = new Set([...a.values].filter((v) => b.values.has(v)));
  const bounds = { ...(gte === undefined ? {} : { gte }), ...(lte === undefined ? {} : { lte }) };
  if (!complement) {
    // A finite set keeps only the values within the bounds, and no bounds.
    return { key: a.key, complement, values: new Set([...values].filter((v) => withinBounds(bounds, v))), ...min };
  }
  return { key: a.key, complement, values, ...bounds, ...min };
}

/** Whether some value satisfies both (a set of "all but" values always has one, bounds permitting). */
export function intersects(a: Requirement, b: Requirement): boolean {
  const i = intersect(a, b);
  return i.complement || i.values.size > 0;
}

/** `Requirement.String()`: `zone In [a b]`, `gpu Exists`, with bounds and minValues. */
export function describeRequirement(r: Requirement): string {
  const op = operatorOf(r);
  let text = `${r.key} ${op}`;
  if (op === 'In' || op === 'NotIn') {
    const sorted = [...r.values].sort();
    const shown = sorted.slice(0, 5).join(' ');
    text += ` [${shown}${sorted.length > 5 ? ` and ${sorted.length - 5} others` : ''}]`;
  }
  if (r.gte !== undefined) text += ` >=${r.gte}`;
  if (r.lte !== undefined) text += ` <=${r.lte}`;
  if (r.minValues !== undefined) text += ` minValues ${r.minValues}`;
  return text;
}

/** A conjunction of requirements, one per key. */
export type Requirements = ReadonlyMap<string, Requirement>;

/** `Requirements.Add`: requirements on the same key are intersected. */
export function conjoin(...lists: readonly (readonly Requirement[])[]): Map<string, Requirement> {
  const out = new Map<string, Requirement>();
  for (const list of lists) {
    for (const r of list) {
      const existing = out.get(r.key);
      out.set(r.key, existing ? intersect(existing, r) : r);
    }
  }
  return out;
}

/** `NewLabelRequirements`: each label `k: v` is `k In [v]`. */
export const labelRequirements = (labels: Readonly<Record<string, string>>): Requirement[] =>
  Object.entries(labels).map(([k, v]) => requirement(k, 'In', [v]) as Requirement);

/**
 * `Compatible(node, pod, AllowUndefinedWellKnownLabels)`: undefined when some node could satisfy both, else why
 * not, in Karpenter's words. Beyond Karpenter's check, a `minValues` the pod's narrowing leaves unreachable (a
 * pool needing three instance types when the pod allows one) is incompatible too, as Karpenter finds out later
 * from its instance types.
 */
export function incompatibility(node: Requirements, pod: Requirements, wellKnown: ReadonlySet<string> = WELL_KNOWN_LABELS): string | undefined {
  for (const [key, r] of pod) {
    if (wellKnown.has(key) || node.has(key)) continue;
    const op = operatorOf(r);
    if (op === 'NotIn' || op === 'DoesNotExist') continue;
    return `label ${JSON.stringify(key)} does not have known values`;
  }
  const problems: string[] = [];
  for (const [key, incoming] of pod) {
    const existing = node.get(key);
    if (!existing) continue;
    if (!intersects(existing, incoming)) {
      const excluding = (r: Requirement) => ['NotIn', 'DoesNotExist'].includes(operatorOf(r));
      if (excluding(incoming) && excluding(existing)) continue;
      problems.push(`key ${key}, ${describeRequirement(incoming)} not in ${describeRequirement(existing)}`);
      continue;
    }
    const both = intersect(existing, incoming);
    if (existing.minValues !== undefined && !both.complement && both.values.size < existing.minValues) {
      problems.push(
        `key ${key}, ${describeRequirement(incoming)} leaves ${both.values.size} of the ${existing.minValues} values the pool needs (minValues)`,
      );
    }
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/**
 * What a pod asks of a node that does not exist yet, one alternative per required node-selector term (terms are
 * ORed): `nodeSelector` AND that term's expressions. Karpenter tries the terms one by one (relaxation drops the
 * first until one fits), which comes to the same question. A term that cannot match any node (empty, unparsable)
 * is no alternative, and neither is one that names an existing node by `matchFields` (`metadata.name In [x]`): a
 * new node has another name. No alternative at all means no new node can serve the pod.
 */
export function podAlternatives(c: Pick<NodeAffinityConstraints, 'nodeSelector' | 'terms'>): Requirements[] {
  const selector = c.nodeSelector.map(([k, v]) => requirement(k, 'In', [v]) as Requirement);
  if (c.terms === undefined) return [conjoin(selector)];
  const out: Requirements[] = [];
  for (const term of c.terms) {
    if (term === undefined || term.fields.some((f) => f.operator === 'In')) continue;
    const expressions: Requirement[] = term.labels.map((r) => {
      switch (r.operator) {
        case 'In':
        case 'NotIn':
          return requirement(r.key, r.operator, [...r.values]) as Requirement;
        case 'Exists':
        case 'DoesNotExist':
          return requirement(r.key, r.operator) as Requirement;
        case 'Gt':
          return { key: normalizedKey(r.key), complement: true, values: new Set(), gte: r.bound + 1n };
        case 'Lt':
          return { key: normalizedKey(r.key), complement: true, values: new Set(), lte: r.bound - 1n };
      }
    });
    out.push(conjoin(selector, expressions));
  }
  return out;
}
