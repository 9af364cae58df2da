/**
 * The command line: which command runs, its `--help`, and how a failure becomes an exit code.
 *
 * Exit codes: 0 success, 1 denied or invalid, 2 bad input or usage (a `UsageError` or any other `PlacementError`:
 * one line per problem on stderr, `error: ...`, never a stack trace), 70 a bug (anything else, with its stack).
 */
import { formatFieldError, InvalidDocumentError, PlacementError } from '../util/errors.js';

export const USAGE = `placement-webhook — places pods by label-based rules at admission

Usage:
  placement-webhook serve  [--rules F] [--nodes F] [--namespaces F] [--pods F] [--nodepools F] [--host H] [--port P] [--tls-cert F --tls-key F]
  placement-webhook check  [--rules F] [--nodes F] [--namespaces F] [--pods F] [--nodepools F] [-o text|json|yaml] FILE... (or - for stdin)
  placement-webhook check  --kubeconfig F [--context NAME] [--rules F | --rules-configmap NS/NAME] [-o text|json|yaml] FILE...
  placement-webhook replay [--rules F] [--nodes F] [--namespaces F] [--pods F] [--nodepools F] [--endpoint mutate|validate] REVIEW.json...
  placement-webhook audit  --rules F --nodes F --pods F [--namespaces F] [--nodepools F] [-o text|json|yaml] [WORKLOAD-FILE...]
  placement-webhook audit  --kubeconfig F [--context NAME] [--rules F | --rules-configmap NS/NAME] [-o text|json|yaml]
  placement-webhook whatif [the inputs of audit] [--cordon|--drain|--remove-node NODE] [--taint NODE k=v:Effect] [--label NODE k=v|k-]
                           [--nodes-after F] [--rules-after F] [--pdbs F] [-o text|json|yaml]
  placement-webhook lint   FILE
  placement-webhook certs  [--service S] [--namespace N] [--out DIR] [--kustomize-dir DIR] [--san NAME|IP]... [--days D]
  placement-webhook templates from-asg [--asg-tag KEY[=VALUE]] [--merge RULES] FILE
  placement-webhook templates from-eks-nodegroup [--merge RULES] FILE...
  placement-webhook convert podpreset FILE...
  placement-webhook convert namespaces [--admission-config F] FILE...

serve in a cluster: --kubeconfig F | --in-cluster, --rules-configmap NS/NAME (or --rules F), --max-staleness 60s,
  --cert-reload-interval 10s, --shutdown-delay 5s, --relist-interval 10m

With none of --rules/--nodes/--namespaces, the examples shipped in examples/ are used.
Every flag of serve has an environment variable: PLACEMENT_WEBHOOK_<FLAG> (e.g. PLACEMENT_WEBHOOK_TLS_CERT).
'placement-webhook COMMAND --help' describes one command.
Exit codes: 0 success (all allowed / valid), 1 denied or invalid, 2 bad input or usage.`;

const INPUT_FLAGS = `  --rules FILE         the rules document
  --nodes FILE         the nodes to judge against: YAML or JSON, one object, several documents or a v1 List
                       (kubectl get nodes -o yaml); without it, validation allows with a warning. Cluster API
                       MachineDeployments and MachineSets in it are node groups cluster-autoscaler can scale
  --namespaces FILE    the namespaces and their labels (as --nodes)
  --pods FILE          the pods bound to the nodes (kubectl get pods -A -o yaml), for "would it be scheduled now"
  --nodepools FILE     Karpenter NodePools (karpenter.sh/v1 or v1beta1; kubectl get nodepools -o yaml): capacity
                       Karpenter can add
  With none of them, the examples shipped in examples/ are used.`;

/** Each command's `--help`. */
export const COMMAND_USAGE = {
  serve: `Usage: placement-webhook serve [flags]

The admission webhook over HTTPS (TLS 1.2 or later): POST /mutate, POST /validate, GET /healthz, /readyz, /metrics.

Local mode, from files:
${INPUT_FLAGS}
  Without --pods, whether a pod would be scheduled now is not asked (no pod cache).
Cluster mode, from the API server:
  --kubeconfig FILE | --in-cluster
  --rules-configmap NS/NAME   the rules ConfigMap (key rules.yaml); or --rules FILE to pin the rules
  --max-staleness D           a cache disconnected longer is stale: validation allows with a warning (60s)
  --relist-interval D         full relist of nodes, namespaces and the ConfigMap (10m)
  --watch-pods=false          keep no pod cache: only "can it ever run" is answered (smaller RBAC)
  --watch-autoscalers=false   read no Karpenter NodePools nor Cluster API groups
  --audit-interval D          audit placement every D on the replica holding the Lease, publish PolicyReports
                              and gauges (off; see docs/audit-in-cluster.md)
  --cert-reload-interval D    how often the certificate files are reread (10s)
  --shutdown-delay D          time unready before closing, on SIGTERM (5s; 0 in local mode)
Both:
  --host H                    address to listen on (0.0.0.0)
  --port P                    port (8443)
  --tls-cert FILE --tls-key FILE   the serving certificate (default: a development certificate for localhost
                              and 127.0.0.1 in certs/, generated on first start)
  --log-level L               pino level (info)

Every flag has an environment variable: PLACEMENT_WEBHOOK_<FLAG> (e.g. PLACEMENT_WEBHOOK_TLS_CERT).
Durations: 500ms, 60s, 2m, 1h.`,

  check: `Usage: placement-webhook check [--rules F] [--nodes F] [--namespaces F] [--pods F] [--nodepools F] [-o text|json|yaml] FILE...
       placement-webhook check --kubeconfig F [--context NAME] [--rules F | --rules-configmap NS/NAME] [-o ...] FILE...

What the webhook pair would decide for each Pod and workload (Deployment, StatefulSet, ReplicaSet, DaemonSet, Job,
CronJob, ReplicationController) in FILE (YAML or JSON, several documents or a v1 List; - reads stdin; no namespace
means default): /mutate, then /validate on the mutated pod, as the API server calls them. Also whether the
scheduler would bind each pod now, and how many replicas of a workload can be placed now (an estimate).

From files:
${INPUT_FLAGS}
  Without --pods, "schedulable now" is answered as if the nodes were empty.
From a cluster (nodes, namespaces, pods, NodePools and Cluster API node groups are read once; nothing installed):
  --kubeconfig FILE          the cluster to read
  --context NAME             a context of that kubeconfig (default: its current context)
  --rules-configmap NS/NAME  the rules ConfigMap (key rules.yaml) of that cluster; or --rules FILE; with neither,
                             no rules (the examples are never used with --kubeconfig)
Both:
  -o, --output FORMAT  text (default), json or yaml

Exit codes: 0 every object allowed, 1 any denied, 2 bad input (unreadable, not an object, no kind, a field placement
cannot read, an invalid quantity).`,

  replay: `Usage: placement-webhook replay [--rules F] [--nodes F] [--namespaces F] [--pods F] [--nodepools F] [--endpoint mutate|validate] REVIEW.json...

AdmissionReview files through the server's own routes, in process; prints each response with its patch decoded.

${INPUT_FLAGS}
  Without --pods, whether a pod would be scheduled now is not asked (as the webhook without a pod cache).
  --endpoint E         mutate (default) or validate

Exit codes: 0 every review allowed, 1 any not, 2 bad input.`,

  audit: `Usage: placement-webhook audit --rules F --nodes F --pods F [--namespaces F] [--nodepools F] [-o text|json|yaml] [FILE...]
       placement-webhook audit --kubeconfig F [--context NAME] [--rules F | --rules-configmap NS/NAME] [-o ...]

What is wrong with placement now, with the webhook's own engine: pods that lack what a rule injects (drift, with the
patch the webhook would apply to the pod created now, and the workload to roll out), bound pods whose node no longer
satisfies their nodeSelector, required node affinity, NoExecute/NoSchedule taints, required pod (anti-)affinity or
DoNotSchedule spread (each with whether another node would take them now), Pending pods ("can never run" or "not
now"), and workloads in FILE whose replicas cannot all be placed or whose rollout can never progress.

From files (--nodes and --pods required; FILE... holds Deployments, StatefulSets, ReplicaSets, DaemonSets, Jobs,
CronJobs, ReplicationControllers):
  --rules FILE --nodes FILE --pods FILE   as for check (kubectl get nodes|pods -A -o yaml), all three required
  --namespaces FILE    the namespaces and their labels (without it, rules matching namespace labels match nothing)
  --nodepools FILE     Karpenter NodePools: capacity that makes a Pending pod "not now" rather than "never"
From a cluster (read once, page by page; workloads are listed too, FILE... is not taken):
  --kubeconfig FILE, --context NAME, --rules-configmap NS/NAME (or --rules FILE; with neither, no rules)
Both:
  -o, --output FORMAT  text (default: grouped by namespace and severity), json or yaml ({findings, notes})
A progress line goes to stderr on a terminal, or for 10,000 objects and more. See docs/audit.md.

Exit codes: 0 no findings, or only info ones, 1 a warn or fail finding, 2 bad input.`,

  whatif: `Usage: placement-webhook whatif [the inputs of audit] CHANGE... [--pdbs F] [-o text|json|yaml] [FILE...]

What a change to nodes or rules would break, against the inputs audit takes (files, or --kubeconfig): only what the
change causes (what audit finds before it is not repeated). Changes, applied in the order given, each repeatable:
  --cordon NODE                  mark the node unschedulable
  --drain NODE                   cordon it and evict its pods (DaemonSet and mirror pods stay, as with kubectl drain);
                                 each evicted pod's replacement is placed one at a time, competing for room
  --remove-node NODE             the node and its pods go; their controllers recreate them elsewhere
  --taint NODE key[=value]:Effect   add a taint (NoExecute evicts the pods that do not tolerate it);
                                 key[=value]:Effect- or key- removes it
  --label NODE key=value | key-  set or remove a label
  --nodes-after FILE             the node list after the change (nodes it lacks are removed)
  --rules-after FILE             the rules after the change: the running pods they would now mutate differently
  --pdbs FILE                    PodDisruptionBudgets a drain must respect (with --kubeconfig they are listed)
Reported: pods evicted or displaced and whether another node takes them (with the scheduler's message when not),
workloads that lose placeable replicas, budgets a drain would never get past, and every new audit finding.
See docs/audit.md.

Exit codes: 0 the change breaks nothing (no new finding, or only info ones), 1 it does, 2 bad input.`,

  lint: `Usage: placement-webhook lint FILE

Checks a rules document (- reads stdin) and prints every error with its field path, and every warning.

Exit codes: 0 valid (warnings do not fail), 1 invalid, 2 unreadable.`,

  certs: `Usage: placement-webhook certs [--service S] [--namespace N] [--out DIR] [--kustomize-dir DIR] [--san NAME|IP]... [--days D]

A CA and a serving certificate for the webhook Service, as PEM files, plus the TLS Secret and the caBundle patch
that kubectl apply -k webhook-config/ needs.

  --service S          the Service name, a DNS-1035 label (placement-webhook)
  --namespace N        its namespace, a DNS-1123 label (placement-webhook)
  --out DIR            where ca.crt, ca.key, tls.crt and tls.key go (certs)
  --kustomize-dir DIR  where tls-secret.yaml and ca-bundle-patch.yaml go (webhook-config/generated)
  --san NAME|IP        one more subjectAltName, repeatable: a lowercase DNS name (*.example.com allowed), an IPv4 or
                       IPv6 address; S, S.N, S.N.svc and S.N.svc.cluster.local are always included
  --days D             validity of the serving certificate, 1 to 36500 (365); the CA's is twice as long

Exit codes: 0 written, 2 bad input or a directory or file that cannot be written.`,

  templates: `Usage: placement-webhook templates from-asg [--asg-tag KEY[=VALUE]] [--merge RULES] FILE
       placement-webhook templates from-eks-nodegroup [--merge RULES] FILE...

Node templates (settings.validation.nodeTemplates) from the node groups AWS describes: the JSON of
aws autoscaling describe-auto-scaling-groups (from-asg: every group cluster-autoscaler manages, by its discovery
tag) or of aws eks describe-nodegroup (from-eks-nodegroup: one group per file). - reads stdin. Nothing is guessed:
a comment above each entry says where it came from and what the input does not state; a group at its max size is
left out, with a comment saying so.

  --asg-tag KEY[=VALUE]  the discovery tag (k8s.io/cluster-autoscaler/enabled)
  --merge RULES          rewrite settings.validation.nodeTemplates in the rules file RULES instead of printing:
                         entries of the same name replaced, new ones appended, the others kept, comments and
                         formatting elsewhere unchanged; nothing is written when the result would be invalid

Exit codes: 0 printed or written, 2 bad input (unreadable, not such an answer, templates or a merged document that
would be invalid).`,

  convert: `Usage: placement-webhook convert podpreset FILE...
       placement-webhook convert namespaces [--admission-config F] FILE...

What the in-tree plugins left behind, as a rules document on stdout (linted first; a comment above each rule says
where it came from and what it does not carry; - reads stdin). See docs/compat.md.

podpreset   PodPreset objects (settings.k8s.io/v1alpha1): one rule per preset — its namespace (default when it
            names none), its selector, env, envFrom, volumes and volumeMounts, onConflict: skip, and a pod-annotation
            match honouring podpreset.admission.kubernetes.io/exclude: "true"
namespaces  Namespaces annotated for PodNodeSelector and PodTolerationRestriction: one rule per namespace with its
            node selector (onConflict: reject) and default tolerations; whitelists are not rules (comments say so;
            settings.compat keeps them)
  --admission-config F   the kube-apiserver --admission-control-config-file: the cluster default node selector
                         and tolerations, for namespaces without the annotations

Exit codes: 0 printed, 2 bad input (unreadable, not such objects, an annotation that does not parse, a rule that
would be invalid).`,
} as const;

export type CommandName = keyof typeof COMMAND_USAGE;
type Command = (argv: string[]) => Promise<number>;

const commands: Record<CommandName, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serve,
  check: async () => (await import('./check.js')).check,
  replay: async () => (await import('./replay.js')).replay,
  lint: async () => (await import('./lint.js')).lint,
  certs: async () => (await import('./certs.js')).certs,
  templates: async () => (await import('./templates.js')).templates,
  audit: async () => (await import('./audit.js')).auditCommand,
  whatif: async () => (await import('./whatif.js')).whatif,
  convert: async () => (await import('./convert.js')).convert,
};

const isCommand = (name: string): name is CommandName => Object.hasOwn(commands, name);

/** `--help` or `-h` among the flags (not after a `--`, where everything is a file name). */
function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** The lines written to stderr for a failure: one per problem. */
export function errorLines(err: PlacementError): string[] {
  if (err instanceof InvalidDocumentError) return err.errors.map((e) => `error: ${err.what}: ${formatFieldError(e)}`);
  return err.message.split('\n').map((line) => `error: ${line.trim()}`);
}

/** A `node:util` parseArgs failure, in our words: `unknown flag --x; see 'placement-webhook check --help'`. */
function parseArgsMessage(err: TypeError, command: CommandName): string {
  const unknown = /^Unknown option '([^']+)'/.exec(err.message);
  const what = unknown ? `unknown flag ${unknown[1]}` : err.message.replace(/\.$/, '');
  return `${what}; see 'placement-webhook ${command} --help'`;
}

const isParseArgsError = (err: unknown): err is TypeError =>
  err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS');

/** Runs the command line `argv` (without node and the script) and returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    process.stdout.write(`${topic !== undefined && isCommand(topic) ? COMMAND_USAGE[topic] : USAGE}\n`);
    return 0;
  }
  if (!isCommand(name)) {
    process.stderr.write(
      `error: unknown command ${JSON.stringify(name)}; commands: ${Object.keys(commands).join(', ')}; see 'placement-webhook --help'\n`,
    );
    return 2;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(`${COMMAND_USAGE[name]}\n`);
    return 0;
  }
  try {
    return await (
      await commands[name]()
    )(rest);
  } catch (err) {
    if (err instanceof PlacementError) {
      process.stderr.write(`${errorLines(err).join('\n')}\n`);
      return 2;
    }
    if (isParseArgsError(err)) {
      process.stderr.write(`error: ${parseArgsMessage(err, name)}\n`);
      return 2;
    }
    process.stderr.write(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 70;
  }
}
