/**
 * POST /mutate: applies the placement rules to pods on CREATE. Everything else passes unchanged. When the rules
 * leave the pod asking for node labels no known node or template has, it says which rule did (a warning).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { templateNode } from '../capacity/templates.js';
import { affinityMatchesSome, nodeAffinityConstraints } from '../scheduling/feasibility.js';
import type { NodeIndex } from '../scheduling/node-index.js';
import type { Labels, PlacementNode } from '../scheduling/types.js';
import { mutatePod } from '../rules/apply.js';
import type { RuleSet } from '../rules/compile.js';
import { admitCompat, type NamespaceAnnotations } from '../compat/index.js';
import { withNameLabel } from '../rules/select.js';
import type { AdmissionContext } from './context.js';
import { allowed, denied, diff, patched } from './response.js';
import type { AdmissionRequest } from './types.js';
import type { HandlerResult } from './handler.js';
import { isObject, sameJson } from '../util/json.js';
import { failure, ok, type Result } from '../util/result.js';
import { podNamespace } from './request.js';

/** Pods on CREATE, without subresource: the only requests whose scheduling fields can still be set; else why not. */
export function podCreate(request: AdmissionRequest): Result<V1Pod> {
  if (request.kind.group !== '' || request.kind.kind !== 'Pod') return failure(`kind ${request.kind.kind} is not a Pod`);
  if (request.subResource) return failure(`subresource ${request.subResource}`);
  if (request.operation !== 'CREATE') return failure(`operation ${request.operation}`);
  if (!isObject(request.object)) return failure('no object in the request');
  return ok(request.object as V1Pod);
}

/**
 * Whether some known node, or a node template, satisfies the spec's nodeSelector and required node affinity. Other
 * filters are the validating side's business: this only tells whether the *labels* asked for exist anywhere.
 */
function labelsExist(spec: V1Pod['spec'], ctx: AdmissionContext, templates: readonly PlacementNode[]): boolean {
  const c = nodeAffinityConstraints(spec);
  return affinityMatchesSome(c, ctx.nodes().index) || templates.some((t) => c.affinity.matches(t));
}

/**
 * A warning when the pod's node selection matched some known node or template before the rules and none after
 * them, naming the rule after which that happened: the rule made the pod unplaceable. Never a denial — that is the
 * validating side's job, with all the facts. Only with a node list that can be trusted.
 */
/** The rule set's node templates as nodes, made once per rule set (a review only reads them). */
const templateNodes = new WeakMap<RuleSet, readonly PlacementNode[]>();
function templatesOf(ruleSet: RuleSet): readonly PlacementNode[] {
  let nodes = templateNodes.get(ruleSet);
  if (nodes === undefined) {
    nodes = ruleSet.validation.nodeTemplates.map(templateNode);
    templateNodes.set(ruleSet, nodes);
  }
  return nodes;
}

/**
 * Whether one of the applied rules asks for node labels (a nodeSelector or node affinity): only such a rule can leave
 * the pod asking for labels no node has. (A rule that is not found is assumed to.)
 */
function narrowsNodes(applied: readonly string[], ruleSet: RuleSet): boolean {
  return applied.some((name) => {
    const rule = ruleSet.rules[ruleSet.order.get(name) ?? -1];
    return rule === undefined || rule.placement.nodeSelector !== undefined || rule.placement.affinity?.nodeAffinity != null;
  });
}

function placementLostWarning(
  pod: V1Pod,
  mutated: V1Pod,
  ctx: AdmissionContext,
  namespace: string,
  namespaceLabels: Labels,
  annotations: NamespaceAnnotations,
): string | undefined {
  const view = ctx.nodes();
  if (view.incomplete || view.index.size === 0) return undefined;
  const ruleSet = ctx.rules();
  const templates = templatesOf(ruleSet);
  if (labelsExist(mutated.spec, ctx, templates) || !labelsExist(pod.spec, ctx, templates)) return undefined;
  // The namespace's node selector (settings.compat) is not a rule's doing: blame rules only for what they lost.
  const compat = admitCompat(pod, namespace, annotations, ruleSet.compat);
  if (
    compat.kind === 'admitted' &&
    compat.nodeSelector &&
    !labelsExist({ ...pod.spec, containers: pod.spec?.containers ?? [], nodeSelector: { ...compat.nodeSelector } }, ctx, templates)
  )
    return undefined;
  let culprit: { rule: string; spec: V1Pod['spec'] } | undefined;
  mutatePod(
    pod,
    ruleSet,
    namespace,
    namespaceLabels,
    (rule, spec) => {
      if (culprit === undefined && !labelsExist(spec, ctx, templates)) culprit = { rule: rule.name, spec: structuredClone(spec) };
    },
    annotations,
  );
  if (culprit === undefined) return undefined;
  const selector = Object.entries(culprit.spec?.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`);
  const required = culprit.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution != null;
  const what = required ? 'node selector and required node affinity' : 'node selector';
  return `rule ${culprit.rule}: no node matches the resulting ${what}${selector.length > 0 ? ` (${selector.join(', ')})` : ''}`;
}

/**
 * Everything `handleMutate` reads besides the request. Its answer is a function of the request and these: the
 * transport answers a review that differs from an earlier one only in its uid with the earlier answer while
 * `sameMutateReads` holds (see `./memo.ts`).
 */
export interface MutateReads {
  readonly rules: RuleSet;
  readonly labels: Labels | undefined;
  readonly annotations: NamespaceAnnotations;
  readonly nodes: NodeIndex;
  readonly nodesVersion: number;
  readonly nodesIncomplete: string | undefined;
}

export function mutateReads(request: AdmissionRequest, ctx: AdmissionContext): MutateReads {
  const namespace = podNamespace(request, isObject(request.object) ? request.object : {});
  const view = ctx.nodes();
  return {
    rules: ctx.rules(),
    labels: ctx.namespaceLabels(namespace),
    annotations: ctx.namespaceAnnotations?.(namespace),
    nodes: view.index,
    nodesVersion: view.index.version,
    nodesIncomplete: view.incomplete,
  };
}

export function sameMutateReads(a: MutateReads, b: MutateReads): boolean {
  return (
    a.rules === b.rules &&
    a.nodes === b.nodes &&
    a.nodesVersion === b.nodesVersion &&
    a.nodesIncomplete === b.nodesIncomplete &&
    sameJson(a.labels, b.labels) &&
    sameJson(a.annotations, b.annotations)
  );
}

export function handleMutate(request: AdmissionRequest, ctx: AdmissionContext): HandlerResult {
  const { uid } = request;
  const created = podCreate(request);
  if (!created.ok) return { response: allowed(uid), record: { decision: 'skipped', reason: created.error }, warnings: [] };
  const pod = created.value;

  const namespace = podNamespace(request, pod);
  const namespaceLabels = withNameLabel(namespace, ctx.namespaceLabels(namespace));
  const annotations = ctx.namespaceAnnotations?.(namespace);
  const mutation = mutatePod(pod, ctx.rules(), namespace, namespaceLabels, undefined, annotations);
  switch (mutation.kind) {
    case 'skipped':
      return { response: allowed(uid), record: { decision: 'skipped', reason: mutation.skipped }, warnings: [] };
    case 'denied':
      return {
        response: denied(uid, mutation.denial, mutation.warnings),
        record: { decision: 'denied', reason: mutation.denial, appliedRules: mutation.appliedRules },
        warnings: mutation.warnings,
      };
    case 'mutated':
      break;
  }
  const lost = narrowsNodes(mutation.appliedRules, ctx.rules())
    ? placementLostWarning(pod, mutation.pod, ctx, namespace, namespaceLabels, annotations)
    : undefined;
  const result = lost === undefined ? mutation : { ...mutation, warnings: [...mutation.warnings, lost] };
  const operations = diff(pod, result.pod);
  return {
    response: patched(uid, operations, result.warnings),
    record: {
      decision: operations.length > 0 ? 'patched' : 'allowed',
      appliedRules: result.appliedRules,
      warnings: result.warnings.length,
    },
    warnings: result.warnings,
  };
}
