/**
 * A V8 CPU profile of the server under steady load, broken down by phase of a review (see bench/README.md,
 * "Per-request cost"). Each sample is charged to the innermost frame on its stack that belongs to a phase: a
 * builtin (`JSON.parse`, `writev`) has no script of its own and is charged to the code that called it.
 *
 *   npx tsx bench/profile.ts FILE.cpuprofile [REQUESTS]   # the table for one profile (µs/request with REQUESTS)
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  parent?: number;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The phases, in the order of a review. */
export const PHASES = [
  ['tls-http', 'TLS and HTTP (Node: socket reads and writes, TLS, HTTP parser and response head)'],
  ['fastify', 'fastify: routing, body read, hooks, reply'],
  ['body-parse', 'body parse (JSON text → object, prototype keys refused)'],
  ['decode', 'review decode and shape checks (nesting/finite walk, AdmissionReview schema, object shape)'],
  ['handler-glue', 'route glue (src/server/app.ts: log fields, timing, namespace, prepare)'],
  ['decision', 'the decision (rules applied / scheduling model)'],
  ['patch', 'patch and response building (src/admission/response.ts, fast-json-patch)'],
  ['serialize', 'response serialisation (object → JSON text)'],
  ['log-metrics', 'review log line and metrics (pino, prom-client)'],
  ['baseline', 'the /baseline route handler'],
  ['gc', 'garbage collection (main-thread pauses)'],
  ['program', '(program): native code not attributed to a JS frame (libuv, TLS on read, V8)'],
  ['other', 'other (event loop, timers, promises, unattributed builtins)'],
] as const;
export type Phase = (typeof PHASES)[number][0];

const BY_URL: readonly (readonly [string, Phase])[] = [
  ['/secure-json-parse/', 'body-parse'],
  ['/fast-json-stringify', 'serialize'],
  ['/fast-json-patch/', 'patch'],
  ['/src/admission/response.', 'patch'],
  ['/src/admission/decode.', 'decode'],
  ['/src/admission/shape.', 'decode'],
  ['/src/util/json-schema.', 'decode'],
  ['/ajv/', 'decode'],
  ['/pino', 'log-metrics'],
  ['/sonic-boom/', 'log-metrics'],
  ['/fast-redact/', 'log-metrics'],
  ['/quick-format-unescaped/', 'log-metrics'],
  ['/prom-client/', 'log-metrics'],
  ['/src/server/metrics.', 'log-metrics'],
  ['/src/rules/', 'decision'],
  ['/src/scheduling/', 'decision'],
  ['/src/capacity/', 'decision'],
  ['/src/workloads/', 'decision'],
  ['/src/admission/mutate.', 'decision'],
  ['/src/admission/validate.', 'decision'],
  ['/src/admission/judge.', 'decision'],
  ['/src/admission/request.', 'decision'],
  ['/src/admission/validate-rules.', 'decision'],
  ['/src/server/app.', 'handler-glue'],
  ['/bench/server.', 'baseline'],
  ['/fastify/', 'fastify'],
  ['/find-my-way/', 'fastify'],
  ['/avvio/', 'fastify'],
  ['/@fastify/', 'fastify'],
  ['/light-my-request/', 'fastify'],
  ['/toad-cache/', 'fastify'],
  ['node:_tls', 'tls-http'],
  ['node:tls', 'tls-http'],
  ['node:net', 'tls-http'],
  ['node:_http_', 'tls-http'],
  ['node:internal/stream_base_commons', 'tls-http'],
  ['node:internal/streams/', 'tls-http'],
  ['node:stream', 'tls-http'],
];

/** Functions charged by name, before their script: serialisation inside fastify's reply, our own body parser. */
const BY_NAME: readonly (readonly [string, string, Phase])[] = [
  ['/fastify/lib/reply.', 'serialize', 'serialize'],
  ['/fastify/lib/reply.', 'onSendEnd', 'fastify'],
  ['/src/server/app.', 'parseReviewBody', 'body-parse'],
  ['/src/server/app.', 'serializeReview', 'serialize'],
  ['/src/server/app.', 'logReview', 'log-metrics'],
];

const NATIVE: Readonly<Record<string, Phase>> = {
  '(garbage collector)': 'gc',
  '(program)': 'program',
  '(idle)': 'other',
  '(root)': 'other',
};

function phaseOf(frame: CallFrame): Phase | undefined {
  const native = NATIVE[frame.functionName];
  if (native && frame.url === '') return native;
  for (const [url, name, phase] of BY_NAME) if (frame.url.includes(url) && frame.functionName === name) return phase;
  for (const [url, phase] of BY_URL) if (frame.url.includes(url)) return phase;
  return undefined;
}

export interface Breakdown {
  /** Sampled time that is not idle, in µs. */
  busyUs: number;
  /** Idle time (waiting for the network), in µs. */
  idleUs: number;
  byPhase: Record<Phase, number>;
  /** The frames most charged to `other` (innermost frame with a script), to refine the table. */
  otherTop: { frame: string; us: number }[];
}

export function breakdown(profile: CpuProfile): Breakdown {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) (byId.get(c) as ProfileNode).parent = n.id;
  const memo = new Map<number, { phase: Phase; leaf: string }>();
  const resolveNode = (id: number): { phase: Phase; leaf: string } => {
    const hit = memo.get(id);
    if (hit) return hit;
    let leaf = '';
    let phase: Phase = 'other';
    for (let cur = byId.get(id); cur; cur = cur.parent === undefined ? undefined : byId.get(cur.parent)) {
      if (leaf === '' && cur.callFrame.url !== '')
        leaf = `${cur.callFrame.functionName || '(anonymous)'} ${cur.callFrame.url.replace(/^.*\/node_modules\//, '')}:${cur.callFrame.lineNumber + 1}`;
      const p = phaseOf(cur.callFrame);
      if (p) {
        phase = p;
        break;
      }
    }
    const r = { phase, leaf: leaf || (byId.get(id)?.callFrame.functionName ?? '?') };
    memo.set(id, r);
    return r;
  };
  const byPhase = Object.fromEntries(PHASES.map(([p]) => [p, 0])) as Record<Phase, number>;
  const other = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    if (byId.get(id)?.callFrame.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    busyUs += dt;
    const { phase, leaf } = resolveNode(id);
    byPhase[phase] += dt;
    if (phase === 'other') other.set(leaf, (other.get(leaf) ?? 0) + dt);
  }
  const otherTop = [...other.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([frame, us]) => ({ frame, us }));
  return { busyUs, idleUs, byPhase, otherTop };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  const [file, requestsArg] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: profile.ts FILE.cpuprofile [REQUESTS]\n');
    process.exit(2);
  }
  const b = breakdown(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const requests = Number(requestsArg ?? Number.NaN);
  process.stdout.write(`busy ${(b.busyUs / 1e3).toFixed(0)} ms, idle ${(b.idleUs / 1e3).toFixed(0)} ms\n`);
  for (const [p, what] of PHASES) {
    const us = b.byPhase[p];
    process.stdout.write(
      `${((us / b.busyUs) * 100).toFixed(1).padStart(5)} %  ${Number.isNaN(requests) ? '' : `${(us / requests).toFixed(1).padStart(6)} µs  `}${what}\n`,
    );
  }
  for (const o of b.otherTop) process.stdout.write(`   other: ${(o.us / 1e3).toFixed(1)} ms ${o.frame}\n`);
}
