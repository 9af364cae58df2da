/**
 * POST /validate for the rules ConfigMap (see `rules/configmap.ts`), on CREATE and UPDATE: a document that fails
 * `lint` is denied with every error and its field path (422, as the API server answers an invalid object), so a bad
 * edit never reaches the running webhooks. Warnings of a valid document are passed on.
 */
import { RULES_CONFIGMAP_KEY, RULES_CONFIGMAP_LABEL } from '../rules/configmap.js';
import { checkRulesText, listedWarnings, type RulesVerdict } from '../rules/compile.js';
import { formatFieldError } from '../util/errors.js';
import { isObject } from '../util/json.js';
import type { HandlerResult } from './handler.js';
import { allowed, clip, invalid } from './response.js';
import type { AdmissionRequest } from './types.js';

const skip = (uid: string, reason: string): HandlerResult => ({ response: allowed(uid), record: { decision: 'skipped', reason }, warnings: [] });

/** The rules document of a request about a rules ConfigMap (CREATE or UPDATE), when it holds one as text. */
export function rulesConfigMapText(request: AdmissionRequest): string | undefined {
  if (request.kind.group !== '' || request.kind.kind !== 'ConfigMap') return undefined;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return undefined;
  const cm = request.object;
  if (!isObject(cm) || !isObject(cm['metadata']) || !isObject(cm['metadata']['labels'])) return undefined;
  if (cm['metadata']['labels'][RULES_CONFIGMAP_LABEL] !== 'true' || !isObject(cm['data'])) return undefined;
  const text = cm['data'][RULES_CONFIGMAP_KEY];
  return typeof text === 'string' ? text : undefined;
}

/**
 * The answer on a rules ConfigMap. `checked`: the verdict on its document, when the transport had it checked off
 * the review path (see `Prepared`); else it is checked here.
 */
export function validateRulesConfigMap(request: AdmissionRequest, checked?: RulesVerdict): HandlerResult {
  const { uid } = request;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return skip(uid, `operation ${request.operation}`);
  const cm = request.object;
  if (!isObject(cm)) return skip(uid, 'no object in the request');
  const labels = isObject(cm['metadata']) && isObject(cm['metadata']['labels']) ? cm['metadata']['labels'] : {};
  if (labels[RULES_CONFIGMAP_LABEL] !== 'true') return skip(uid, 'not a rules ConfigMap');
  const data = isObject(cm['data']) ? cm['data'] : {};
  const text = data[RULES_CONFIGMAP_KEY];
  const name = isObject(cm['metadata']) && typeof cm['metadata']['name'] === 'string' ? cm['metadata']['name'] : (request.name ?? '');
  const object = { kind: 'ConfigMap', name };
  const field = `data[${RULES_CONFIGMAP_KEY}]`;
  if (typeof text !== 'string') {
    const response = invalid(uid, object, [{ type: 'Required', path: '', detail: 'required value: the placement rules document' }], field);
    return { response, record: { decision: 'denied', reason: response.status?.message ?? '' }, warnings: [] };
  }
  const result = checked ?? checkRulesText(text);
  const { listed, more } = listedWarnings(result);
  const warnings = listed.map((w) => `${RULES_CONFIGMAP_KEY}: ${formatFieldError(w)}`);
  if (more > 0) warnings.push(`${RULES_CONFIGMAP_KEY}: ${more} more warning(s); placement-webhook lint lists them all`);
  const shown = warnings.map(clip);
  const count = listed.length + more;
  if (result.ok) return { response: allowed(uid, shown), record: { decision: 'allowed', warnings: count }, warnings };
  const response = invalid(uid, object, result.errors, field, shown);
  return { response, record: { decision: 'denied', reason: `${result.errors.length} error(s) in ${RULES_CONFIGMAP_KEY}` }, warnings };
}
