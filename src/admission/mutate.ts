/**
 * POST /mutate: applies the placement rules to pods on CREATE. Everything else passes unchanged.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { mutatePod } from '../rules/apply.js';
import { withNameLabel } from '../rules/select.js';
import type { AdmissionContext } from './context.js';
import { allowed, denied, diff, patched } from './response.js';
import type { AdmissionRequest } from './types.js';
import type { HandlerResult } from './handler.js';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Pods on CREATE, without subresource: the only requests whose scheduling fields can still be set. */
export function podCreate(request: AdmissionRequest): V1Pod | string {
  if (request.kind.group !== '' || request.kind.kind !== 'Pod') return `kind ${request.kind.kind} is not a Pod`;
  if (request.subResource) return `subresource ${request.subResource}`;
  if (request.operation !== 'CREATE') return `operation ${request.operation}`;
  if (!isObject(request.object)) return 'no object in the request';
  return request.object as V1Pod;
}

export function podNamespace(request: AdmissionRequest, pod: V1Pod): string {
  return request.namespace || pod.metadata?.namespace || 'default';
}

export function handleMutate(request: AdmissionRequest, ctx: AdmissionContext): HandlerResult {
  const { uid } = request;
  const pod = podCreate(request);
  if (typeof pod === 'string') return { response: allowed(uid), record: { decision: 'skipped', reason: pod }, warnings: [] };

  const namespace = podNamespace(request, pod);
  const result = mutatePod(pod, ctx.rules(), namespace, withNameLabel(namespace, ctx.namespaceLabels(namespace)));
  if (result.skipped) return { response: allowed(uid), record: { decision: 'skipped', reason: result.skipped }, warnings: [] };
  if (result.denial) {
    return {
      response: denied(uid, result.denial, result.warnings),
      record: { decision: 'denied', reason: result.denial, appliedRules: result.appliedRules },
      warnings: result.warnings,
    };
  }
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
