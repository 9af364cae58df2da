/**
 * `whatIf(inputs)`: what a change to nodes or rules would break, as findings — only what the change causes: the
 * audit of the cluster after the change, minus what the audit finds before it (`findingKey`), plus the pods the
 * change displaces.
 *
 * Changes, applied in the order given: `nodes-after` (the node list replaced; nodes it lacks are removed), `cordon`,
 * `drain` (cordon, then evict), `remove-node`, `taint` (added, replacing a taint of the same key and effect; or
 * removed), `label` (set, or removed), `rules-after` (the rules replaced).
 *
 * Displaced pods, each a finding (`drained`, `node-removed`, `evicted`) saying whether another node takes it:
 * - `drain`: every pod of the node but DaemonSet pods and mirror pods, which stay (`kubectl drain
 *   --ignore-daemonsets`); PodDisruptionBudgets the drain would never get past are `pdb` findings (`./pdb.ts`);
 * - removed nodes: every pod of the node (DaemonSet pods go with it, silently);
 * - NoExecute: a pod the taint eviction controller would evict after the change and not before (`eviction`), now or
 *   after its `tolerationSeconds`; a DaemonSet's pod evicted so is not recreated on that node.
 * A displaced pod with a controller comes back as a new pod: the same pod unbound, through the rules in force after
 * the change (`mutatePod`), placed by the scheduler model (`evaluateNow`) one at a time so that they compete for
 * room, in the scheduling queue's order (higher `spec.priority` first, then older first, then by name) — each
 * placed pod counts for the next. Placed: `info`. Not placed: `fail` when no node or addable capacity could ever run
 * it after the change, else `warn`. A pod without a controller is deleted and nothing recreates it: `warn`.
 * A workload with displaced pods that cannot be placed gets a `replicas-lost` finding (the worst of its pods'
 * severities).
 *
 * Pure: the inputs are not changed.
 */
import type { V1Pod, V1Taint } from '@kubernetes/client-node';
import { mutatePod } from '../rules/apply.js';
import type { RuleSet } from '../rules/compile.js';
import { isDaemonSetPod } from '../rules/select.js';
import { evaluate, podConstraints } from '../scheduling/feasibility.js';
import { NodeIndex } from '../scheduling/node-index.js';
import { evaluateNow, podAwareConstraints } from '../scheduling/now.js';
import { QuantityError } from '../scheduling/quantity.js';
import {
  REASON_EXISTING_ANTI_AFFINITY,
  REASON_NODE_AFFINITY,
  REASON_NODE_PORTS,
  REASON_POD_AFFINITY,
  REASON_POD_ANTI_AFFINITY,
  REASON_SPREAD,
  REASON_SPREAD_MISSING_LABEL,
  REASON_UNSCHEDULABLE,
  type ReasonCounts,
} from '../scheduling/reasons.js';
import type { Labels, PlacementNode } from '../scheduling/types.js';
import { PlacementError } from '../util/errors.js';
import { auditView, podRef, settled, type AuditReport } from './audit.js';
import { unbound } from './drift.js';
import { effectivePod, eviction } from './execution.js';
import { compareFindings, findingKey, ordered, type Finding, type FindingKind, type ObjectRef, type Severity } from './findings.js';
import { Owners } from './owner.js';
import { budgetFinding, readBudget } from './pdb.js';
import { AuditView, podNamespace, type AuditInputs } from './view.js';

export type Change =
  | { readonly kind: 'cordon' | 'drain' | 'remove-node'; readonly node: string }
  | { readonly kind: 'taint'; readonly node: string; readonly taint: V1Taint; readonly remove?: boolean }
  | { readonly kind: 'label'; readonly node: string; readonly key: string; readonly value: string | undefined }
  | { readonly kind: 'nodes-after'; readonly nodes: readonly PlacementNode[] }
  | { readonly kind: 'rules-after'; readonly rules: RuleSet };

export interface WhatIfInputs extends AuditInputs {
  readonly changes: readonly Change[];
  /** PodDisruptionBudget objects (for drains). */
  readonly pdbs?: readonly unknown[];
}

export interface WhatIfReport {
  /** Each change in words (`drain worker-3`), in the order applied. */
  readonly changes: string[];
  /** What the change causes, in the audit's order. */
  readonly findings: Finding[];
  readonly notes: string[];
}

/** A change that names a node the cluster does not have, or a taint its node does not have (nothing is judged). */
export class UnknownNodeError extends PlacementError {
  override name = 'UnknownNodeError';
}

const taintText = (t: V1Taint) => `${t.key}${t.value ? `=${t.value}` : ''}${t.effect ? `:${t.effect}` : ''}`;

export function describeChange(c: Change): string {
  switch (c.kind) {
    case 'cordon':
    case 'drain':
      return `${c.kind} ${c.node}`;
    case 'remove-node':
      return `remove node ${c.node}`;
    case 'taint':
      return c.remove ? `remove taint ${taintText(c.taint)} from ${c.node}` : `taint ${c.node} ${taintText(c.taint)}`;
    case 'label':
      return c.value === undefined ? `remove label ${c.key} from ${c.node}` : `label ${c.node} ${c.key}=${c.value}`;
    case 'nodes-after':
      return `replace the nodes (${c.nodes.length})`;
    case 'rules-after':
      return `replace the rules (${c.rules.rules.length})`;
  }
}

/** The change as the subject of a sentence: `draining worker-3`. */
export function changeInWords(c: Change): string {
  switch (c.kind) {
    case 'cordon':
      return `cordoning ${c.node}`;
    case 'drain':
      return `draining ${c.node}`;
    case 'remove-node':
      return `removing node ${c.node}`;
    case 'taint':
      return c.remove ? `removing taint ${taintText(c.taint)} from ${c.node}` : `tainting ${c.node} with ${taintText(c.taint)}`;
    case 'label':
      return c.value === undefined ? `removing label ${c.key} from ${c.node}` : `labelling ${c.node} ${c.key}=${c.value}`;
    case 'nodes-after':
      return 'the new node list';
    case 'rules-after':
      return 'the new rules';
  }
}

/** The nodes after the changes, and which were drained. */
function nodesAfter(before: readonly PlacementNode[], changes: readonly Change[]): { nodes: PlacementNode[]; drained: Set<string> } {
  const nodes = new Map(before.map((n) => [n.name, n]));
  const drained = new Set<string>();
  const edit = (name: string, change: Change, f: (n: PlacementNode) => PlacementNode | undefined) => {
    const n = nodes.get(name);
    if (!n) throw new UnknownNodeError(`${describeChange(change)}: no node ${JSON.stringify(name)}${nodes.size > 0 ? '' : ' (there are no nodes)'}`);
    const after = f(n);
    if (after) nodes.set(name, after);
    else nodes.delete(name);
  };
  for (const c of changes) {
    switch (c.kind) {
      case 'nodes-after':
        nodes.clear();
        for (const n of c.nodes) nodes.set(n.name, n);
        break;
      case 'cordon':
        edit(c.node, c, (n) => ({ ...n, unschedulable: true }));
        break;
      case 'drain':
        edit(c.node, c, (n) => ({ ...n, unschedulable: true }));
        drained.add(c.node);
        break;
      case 'remove-node':
        edit(c.node, c, () => undefined);
        break;
      case 'taint': {
        // A removal without an effect (`key-`) removes the key's taints of every effect, as `kubectl taint` does.
        const same = (t: V1Taint) => t.key === c.taint.key && (t.effect === c.taint.effect || (c.remove === true && c.taint.effect === ''));
        edit(c.node, c, (n) => {
          if (c.remove && !n.taints.some(same)) throw new UnknownNodeError(`${describeChange(c)}: node ${n.name} has no such taint`);
          return { ...n, taints: [...n.taints.filter((t) => !same(t)), ...(c.remove ? [] : [c.taint])] };
        });
        break;
      }
      case 'label':
        edit(c.node, c, (n) => {
          const labels: Record<string, string> = { ...n.labels };
          if (c.value === undefined) delete labels[c.key];
          else labels[c.key] = c.value;
          return { ...n, labels };
        });
        break;
      case 'rules-after':
        break;
    }
  }
  return { nodes: [...nodes.values()], drained };
}

/** Why a pod leaves its node because of the change, or undefined when it stays. */
interface Displacement {
  readonly pod: V1Pod;
  readonly namespace: string;
  readonly kind: Extract<FindingKind, 'drained' | 'node-removed' | 'evicted'>;
  readonly from: string;
  /** `evicted`: the taint and when. */
  readonly why: string;
}

const creation = (p: V1Pod): string => {
  const t: unknown = p.metadata?.creationTimestamp;
  return t instanceof Date ? t.toISOString() : typeof t === 'string' ? t : '';
};

/** The scheduling queue's order: priority (higher first), then older first, then namespace and name. */
function queueOrder(a: Displacement, b: Displacement): number {
  const pa = a.pod.spec?.priority ?? 0;
  const pb = b.pod.spec?.priority ?? 0;
  if (pa !== pb) return pb - pa;
  const ca = creation(a.pod);
  const cb = creation(b.pod);
  if (ca !== cb) return ca < cb ? -1 : 1;
  const ka = `${a.namespace}/${a.pod.metadata?.name ?? ''}`;
  const kb = `${b.namespace}/${b.pod.metadata?.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Kinds whose pods are replicas. */
const REPLICATED = ['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController'];

/**
 * The constraint that kept the pod off the nodes that were otherwise open, in words (`required anti-affinity on
 * kubernetes.io/hostname`): the reason counted on the most nodes, leaving out taints and cordons (the state of the
 * nodes, not the pod's own constraints); undefined when only those are left.
 */
export function blockingConstraint(pod: V1Pod, reasons: ReasonCounts): string | undefined {
  const own = [...reasons.counts].filter(([r]) => r !== REASON_UNSCHEDULABLE && !r.startsWith('node(s) had untolerated taint'));
  own.sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  const top = own[0]?.[0];
  if (top === undefined) return undefined;
  const keys = (terms: readonly { topologyKey?: string }[] | undefined) => [...new Set((terms ?? []).map((t) => t.topologyKey ?? ''))].join(', ');
  const affinity = pod.spec?.affinity;
  switch (top) {
    case REASON_POD_ANTI_AFFINITY:
      return `required anti-affinity on ${keys(affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution)}`;
    case REASON_POD_AFFINITY:
      return `required pod affinity on ${keys(affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution)}`;
    case REASON_EXISTING_ANTI_AFFINITY:
      return "other pods' required anti-affinity";
    case REASON_SPREAD:
    case REASON_SPREAD_MISSING_LABEL:
      return `topology spread on ${keys((pod.spec?.topologySpreadConstraints ?? []).filter((c) => c.whenUnsatisfiable === 'DoNotSchedule'))}`;
    case REASON_NODE_AFFINITY:
      return 'its node selector or required node affinity';
    case REASON_NODE_PORTS:
      return 'its host ports';
    default:
      return top;
  }
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { fail: 0, warn: 1, info: 2 };

/** What the change does, in words, for the findings' `rule`: `drain worker-3, taint worker-2 x=y:NoExecute`. */
const summary = (changes: readonly Change[]) => changes.map(describeChange).join(', ');
/** The same as the subject of a sentence: `draining worker-3, then tainting worker-2 with x=y:NoExecute`. */
const inWords = (changes: readonly Change[]) => changes.map(changeInWords).join(', then ');

export function whatIf(inputs: WhatIfInputs): WhatIfReport {
  const beforeView = new AuditView(inputs);
  const workloads = inputs.workloads ?? [];
  const before = auditView(beforeView, inputs.pods, workloads);
  const beforeNodes = [...beforeView.index.nodes()];
  const { nodes, drained } = nodesAfter(beforeNodes, inputs.changes);
  const rulesAfter =
    [...inputs.changes].reverse().find((c): c is Extract<Change, { kind: 'rules-after' }> => c.kind === 'rules-after')?.rules ?? inputs.rules;
  const afterByName = new Map(nodes.map((n) => [n.name, n]));
  const beforeByName = new Map(beforeNodes.map((n) => [n.name, n]));
  const what = summary(inputs.changes);
  const doing = inWords(inputs.changes);

  // 1. The pods the change displaces.
  const displaced: Displacement[] = [];
  const staying: V1Pod[] = [];
  for (const pod of inputs.pods) {
    const from = pod.spec?.nodeName;
    if (!from || settled(pod) || !beforeByName.has(from)) {
      staying.push(pod);
      continue;
    }
    const namespace = podNamespace(pod);
    const ds = isDaemonSetPod(pod);
    const after = afterByName.get(from);
    if (!after) {
      if (!ds) displaced.push({ pod, namespace, kind: 'node-removed', from, why: `node ${from} is removed` });
      continue;
    }
    if (drained.has(from) && !ds) {
      displaced.push({ pod, namespace, kind: 'drained', from, why: `draining ${from} evicts it` });
      continue;
    }
    const tolerations = effectivePod(pod, namespace).spec?.tolerations ?? [];
    const now = eviction(after.taints, tolerations);
    const was = eviction((beforeByName.get(from) as PlacementNode).taints, tolerations);
    if (now && (!was || (now.kind === 'now' && was.kind !== 'now'))) {
      const when = now.kind === 'now' ? 'now' : `after ${now.seconds} s (its tolerationSeconds)`;
      displaced.push({ pod, namespace, kind: 'evicted', from, why: `taint ${taintText(now.taint)} on ${from} evicts it ${when}` });
      continue;
    }
    staying.push(pod);
  }
  displaced.sort(queueOrder);

  // 2. The cluster after the change, the displaced pods placed one at a time.
  const view = new AuditView({ ...inputs, nodes: new NodeIndex(nodes), pods: staying, rules: rulesAfter });
  const owners = new Owners(workloads);
  const found: Finding[] = [];
  const afterPods = [...staying];
  const unplaced = new Set<string>();
  const lostBy = new Map<string, { owner: ObjectRef; namespace: string; pods: Finding[]; causes: string[] }>();
  /** Why a displaced pod could not be placed, as a constraint (for its workload's finding). */
  const causes = new Map<Finding, string>();
  const notes = new Map<string, number>();
  for (const d of displaced) {
    const object = podRef(d.pod);
    const owner = owners.ownerOf(d.pod, d.namespace);
    const base = { kind: d.kind, namespace: d.namespace, object, ...(owner ? { owner } : {}), node: d.from, rule: what };
    const finding = (
      severity: Severity,
      message: string,
      rest: Pick<Finding, 'reschedulable' | 'rescheduleNode' | 'rescheduleMessage'>,
    ): Finding => ({ ...base, severity, message, ...rest });
    let f: Finding;
    if (!owner) {
      f = finding(
        'warn',
        `${d.why}; no controller owns it: it is deleted and nothing recreates it${d.kind === 'drained' ? ' (kubectl drain refuses it without --force)' : ''}`,
        { reschedulable: false, rescheduleMessage: 'not managed by a controller' },
      );
    } else if (isDaemonSetPod(d.pod)) {
      f = finding('warn', `${d.why}; its DaemonSet does not recreate it on this node (it does not tolerate the taint)`, {
        reschedulable: false,
        rescheduleMessage: 'a DaemonSet pod runs only on its own node',
      });
    } else {
      const placed = placeReplacement(d, view, rulesAfter, base, afterPods, notes);
      f = placed.finding;
      if (placed.cause) causes.set(f, placed.cause);
    }
    found.push(f);
    if (f.reschedulable === false) {
      unplaced.add(`${d.namespace}/${object.name}`);
      if (owner) {
        const key = `${d.namespace}/${owner.kind}/${owner.name}`;
        const entry = lostBy.get(key) ?? { owner, namespace: d.namespace, pods: [], causes: [] };
        entry.pods.push(f);
        const cause = causes.get(f);
        if (cause && !entry.causes.includes(cause)) entry.causes.push(cause);
        lostBy.set(key, entry);
      }
    }
  }

  // 3. Workloads losing placeable replicas.
  for (const { owner, namespace, pods, causes: why } of lostBy.values()) {
    const severity = pods.reduce<Severity>((s, p) => (SEVERITY_RANK[p.severity] < SEVERITY_RANK[s] ? p.severity : s), 'warn');
    const n = pods.length;
    const first = pods[0] as Finding;
    found.push({
      kind: 'replicas-lost',
      severity,
      namespace,
      object: owner,
      rule: what,
      message: `after ${doing}, ${n} ${REPLICATED.includes(owner.kind) ? (n === 1 ? 'replica' : 'replicas') : n === 1 ? 'pod' : 'pods'} of ${owner.kind} ${owner.name} cannot be rescheduled${why.length > 0 ? ` (${why.join('; ')})` : ''}: ${first.rescheduleMessage ?? first.message}`,
    });
  }

  // 4. Budgets a drain would never get past.
  if (drained.size > 0) {
    for (const pdb of inputs.pdbs ?? []) {
      const b = readBudget(pdb);
      if (!b) continue;
      const covered = inputs.pods.filter((p) => !settled(p) && b.matches(p, podNamespace(p)));
      const evicted = displaced.filter((d) => d.kind === 'drained' && b.matches(d.pod, d.namespace));
      const lost = evicted.filter((d) => unplaced.has(`${d.namespace}/${d.pod.metadata?.name ?? ''}`)).length;
      const f = budgetFinding(b, { pods: covered, evicted: evicted.length, lost }, doing);
      if (f) found.push(f);
    }
  }

  // 5. What the audit finds after the change and not before (the displaced pods' own are said above).
  const after: AuditReport = auditView(view, afterPods, workloads);
  const known = new Set(before.findings.map(findingKey));
  const isDisplaced = (f: Finding) =>
    f.object.kind === 'Pod' && displaced.some((d) => d.namespace === f.namespace && d.pod.metadata?.name === f.object.name);
  for (const f of after.findings) if (!known.has(findingKey(f)) && !isDisplaced(f)) found.push(f);

  return {
    changes: inputs.changes.map(describeChange),
    findings: found.map(ordered).sort(compareFindings),
    notes: [...new Set([...after.notes, ...[...notes].map(([why, n]) => `${n} displaced ${n === 1 ? 'pod' : 'pods'} not judged: ${why}`)])],
  };
}

/**
 * The displaced pod's replacement — the same pod unbound, through the rules after the change — placed by the
 * scheduler model on the cluster after the change; the pod view updated with it when placed.
 */
function placeReplacement(
  d: Displacement,
  view: AuditView,
  rules: RuleSet,
  base: Pick<Finding, 'kind' | 'namespace' | 'object' | 'owner' | 'node' | 'rule'>,
  afterPods: V1Pod[],
  notes: Map<string, number>,
): { finding: Finding; cause?: string } {
  const labels: Labels = view.labelsOf(d.namespace);
  const fresh = unbound(d.pod);
  const mutation = mutatePod(fresh, rules, d.namespace, labels);
  if (mutation.kind === 'denied') {
    afterPods.push(fresh);
    return {
      finding: {
        ...base,
        severity: 'fail',
        message: `${d.why}; the rules refuse its replacement: ${mutation.denial}`,
        reschedulable: false,
        rescheduleMessage: mutation.denial,
      },
      cause: 'the rules refuse it',
    };
  }
  const pod = effectivePod(mutation.pod, d.namespace);
  try {
    const c = podConstraints(pod);
    const now = evaluateNow(c, podAwareConstraints(pod, d.namespace, pod.spec?.priority ?? 0), view.index, view.podsView);
    if (now.kind === 'fits') {
      const placed: V1Pod = {
        ...mutation.pod,
        spec: { ...(mutation.pod.spec ?? { containers: [] }), nodeName: now.node },
        status: { phase: 'Running' },
      };
      view.add(placed);
      afterPods.push(placed);
      return {
        finding: {
          ...base,
          severity: 'info',
          message: `${d.why}; its replacement goes to ${now.node}`,
          reschedulable: true,
          rescheduleNode: now.node,
        },
      };
    }
    afterPods.push(mutation.pod);
    const message = now.kind === 'no-fit' ? now.message : 'no nodes are left';
    const preempt =
      now.kind === 'no-fit' && now.preemptible > 0 ? ` Preempting lower-priority pods could make room on ${now.preemptible} node(s).` : '';
    const never = evaluate(c, view.index);
    const canNever =
      never.kind !== 'fits' && never.kind !== 'fits-transient' && !view.addable(c).fit && !view.addable(c).blocked && !view.capacityView.incomplete;
    const cause = now.kind === 'no-fit' ? blockingConstraint(pod, now.reasons) : undefined;
    return {
      finding: {
        ...base,
        severity: canNever ? 'fail' : 'warn',
        message: `${d.why}; ${canNever ? 'no node could ever run its replacement' : 'its replacement stays Pending'}: ${message}${preempt}`,
        reschedulable: false,
        rescheduleMessage: `${message}${preempt}`,
      },
      ...(cause ? { cause } : {}),
    };
  } catch (err) {
    if (!(err instanceof QuantityError)) throw err;
    notes.set('requests that do not parse', (notes.get('requests that do not parse') ?? 0) + 1);
    return { finding: { ...base, severity: 'warn', message: `${d.why}; whether its replacement can be placed is not known: ${err.message}` } };
  }
}
