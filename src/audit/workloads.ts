/**
 * Workloads as a whole, with the checks `/validate` makes of them (`workloads/replicas.ts`), now against the running
 * cluster: the template as its controller creates pods (`templatePod`) after the rules (`mutatePod`), then
 * - `replicas` (`warn`): more replicas than its own constraints let the nodes hold (self anti-affinity, a
 *   `minDomains` spread), unless addable capacity lifts the bound;
 * - `rollout-stuck` (`warn`): a Deployment's RollingUpdate that can never progress (every domain holds a replica,
 *   `maxUnavailable` 0);
 * - `rule-denial` (`fail`): the rules would refuse the pods it creates.
 * Not judged: DaemonSets (one pod per node, judged pod by pod), ReplicaSets a Deployment owns, `replicas: 0`,
 * templates of another scheduler.
 */
import { DEFAULT_SCHEDULER } from '../admission/validate.js';
import { mutatePod } from '../rules/apply.js';
import { podConstraints } from '../scheduling/feasibility.js';
import { isObject } from '../util/json.js';
import { replicaBound, rolloutStuck, type IntOrPercent } from '../workloads/replicas.js';
import { templatePod, workloadKind, workloadOf } from '../workloads/workloads.js';
import type { Finding, ObjectRef } from './findings.js';
import type { AuditView } from './view.js';

const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((cur, k) => (isObject(cur) ? cur[k] : undefined), o);

/** The workload's findings. Throws a `QuantityError` for a template whose requests do not parse. */
export function workloadFindings(object: unknown, view: AuditView): Finding[] {
  if (!isObject(object)) return [];
  const apiVersion = typeof object['apiVersion'] === 'string' ? object['apiVersion'] : '';
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const kind = workloadKind(group, String(object['kind']));
  if (!kind || kind.daemonSet) return [];
  const w = workloadOf(kind, object, undefined);
  if (w.ownedByDeployment || !w.template || w.replicas === 0) return [];
  if (w.template.spec?.schedulerName && w.template.spec.schedulerName !== DEFAULT_SCHEDULER) return [];
  const namespace = (at(object, 'metadata', 'namespace') as string | undefined) || 'default';
  const name = w.what.slice(w.kind.length + 1);
  const ref: ObjectRef = { apiVersion: apiVersion || `${group ? `${group}/` : ''}v1`, kind: w.kind, name };
  const base = { namespace, object: ref };
  const ruleSet = view.ruleSet;
  const mutation = mutatePod(templatePod(w.template, namespace, false), ruleSet, namespace, view.labelsOf(namespace));
  if (mutation.kind === 'denied') {
    const rule = /^rule (\S+)/.exec(mutation.denial)?.[1] ?? '';
    return [{ kind: 'rule-denial', severity: 'fail', ...base, rule, message: `the rules would refuse the pods it creates: ${mutation.denial}` }];
  }
  const pod = mutation.pod;
  const constraints = podConstraints(pod);
  const replicas = w.replicas ?? 1;
  const canAdd = view.addable(constraints).fit !== undefined;
  const bound = replicaBound(
    { pod, constraints, namespace, selector: w.selector, replicas },
    view.index,
    view.podIndex,
    view.podsView.namespaceLabels,
    canAdd,
  );
  if (!bound) return [];
  const out: Finding[] = [];
  if (!bound.liftedByCapacity && replicas > bound.placeable) {
    const short = replicas - bound.placeable;
    const ordered =
      w.kind === 'StatefulSet' && (w.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady'
        ? `; its pods are created one by one (podManagementPolicy OrderedReady): ${name}-${bound.placeable} stays Pending, and those after it are never created`
        : '';
    out.push({
      kind: 'replicas',
      severity: 'warn',
      ...base,
      rule: bound.why.slice(0, bound.why.indexOf(';')),
      message: `${replicas} replicas, but at most ${bound.placeable} can be placed (${bound.why}): ${short} ${short === 1 ? 'stays' : 'stay'} Pending${ordered}`,
    });
  }
  if (w.kind === 'Deployment' && (at(w.strategy, 'type') ?? 'RollingUpdate') === 'RollingUpdate') {
    const rolling = at(w.strategy, 'rollingUpdate');
    const verdict = rolloutStuck(bound, replicas, at(rolling, 'maxSurge') as IntOrPercent, at(rolling, 'maxUnavailable') as IntOrPercent);
    if (verdict.stuck) {
      out.push({
        kind: 'rollout-stuck',
        severity: 'warn',
        ...base,
        rule: 'strategy.rollingUpdate',
        message:
          `a rolling update can never progress: the ${bound.placeable} domain(s) of ${bound.topologyKey} its pods may use all hold a replica, so a new pod ` +
          `(maxSurge ${verdict.surge}) has nowhere to go, and with maxUnavailable 0 no old pod leaves first; set strategy.rollingUpdate.maxUnavailable: 1`,
      });
    }
  }
  return out;
}
