/**
 * `placement-webhook replay REVIEW.json...`: AdmissionReview files through the server's own routes (in process,
 * no network), printing each AdmissionReview response with its patch decoded alongside.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { AdmissionReviewResponse } from '../admission/types.js';
import { decodePatch } from '../admission/response.js';
import { buildApp } from '../server/app.js';
import { INPUT_OPTIONS, loadInputs, readText, UsageError } from './inputs.js';

export async function replay(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...INPUT_OPTIONS,
      endpoint: { type: 'string', default: 'mutate' },
    },
  });
  const endpoint = values.endpoint;
  if (endpoint !== 'mutate' && endpoint !== 'validate') {
    throw new UsageError(`--endpoint: unsupported value ${JSON.stringify(endpoint)}; supported values: "mutate", "validate"`);
  }
  if (positionals.length === 0) throw new UsageError('replay needs at least one AdmissionReview file');
  const inputs = await loadInputs(values);
  const app = buildApp({ ctx: inputs.cluster, logger: pino({ level: 'silent' }) });
  let allAllowed = true;
  const out = [];
  try {
    for (const file of positionals) {
      const res = await app.inject({
        method: 'POST',
        url: `/${endpoint}`,
        headers: { 'content-type': 'application/json' },
        payload: await readText(file),
      });
      const body = res.json<AdmissionReviewResponse | Record<string, unknown>>();
      const response = 'response' in body ? (body as AdmissionReviewResponse).response : undefined;
      if (!response?.allowed) allAllowed = false;
      out.push({ file, status: res.statusCode, review: body, ...(response ? { patch: decodePatch(response) ?? [] } : {}) });
    }
  } finally {
    await app.close();
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return allAllowed ? 0 : 1;
}
