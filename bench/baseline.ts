/**
 * The baseline cell: a bare `node:http` child serving a fixed body of the same bytes as the
 * KV v2 read reply, driven with exactly the same requests (paths, token header) as the KV read
 * cell so the load generator does the same work in both.
 *
 * Every other cell's "ratio to baseline" is paired against this cell round by round.
 */
import { childEntry, startServerChild } from './children.js';
import { createLoadCell } from './load.js';
import type { BenchContext, Cell } from './scenario.js';
import { readRequests } from './scenarios/kv-common.js';

export const BASELINE_CELL_ID = 'baseline';
export const REFERENCE_CELL_ID = 'reference-work';

/** Used only when no scenario offers a body: 218 bytes, as in performance.md B.1. */
const FALLBACK_BODY = Buffer.from(JSON.stringify({ request_id: '00000000-0000-0000-0000-000000000000', data: { value: 'x'.repeat(130) }, warnings: null }).padEnd(218, ' '));

function parseUrlReady(value: unknown): { url: string } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { url } = value as Record<string, unknown>;
  return typeof url === 'string' ? { url } : undefined;
}

/**
 * The baseline cell, or with `workUs` > 0 the reference cell: the same bare server burning
 * `workUs` of CPU per request. The reference has no target; it shows what any single-process
 * server doing that much JavaScript work per request reaches against the baseline here.
 */
export async function createBaselineCell(ctx: BenchContext, offeredBody: Buffer | undefined, workUs = 0): Promise<{ cell: Cell; bodyBytes: number }> {
  const body = offeredBody ?? FALLBACK_BODY;
  const reference = workUs > 0;
  const child = await startServerChild({
    name: reference ? 'reference' : 'baseline',
    entry: childEntry('baseline-child.js'),
    args: [body.toString('base64'), ...(reference ? [String(workUs)] : [])],
    cleanup: ctx.cleanup,
    parseReady: parseUrlReady,
  });
  ctx.log(`  ${reference ? 'reference' : 'baseline'}: pid ${child.pid} at ${child.ready.url}, ${body.length}-byte body${reference ? `, ${workUs} µs of work per request` : ''}`);
  const cell = createLoadCell({
    id: reference ? REFERENCE_CELL_ID : BASELINE_CELL_ID,
    label: reference ? `Reference: bare node:http + ${workUs} µs of work` : 'Baseline: bare node:http',
    describe: reference
      ? `the baseline server spending ${workUs} µs of CPU per request in a JavaScript busy loop before answering (no target: it shows what a single-process server doing that much work per request can reach here; compare its ratio with KV v2 read's, and KV v2 read's server CPU per request with the baseline's)`
      : `a bare \`node:http\` server in its own process answering every request with a fixed ${body.length}-byte JSON body ${offeredBody ? '(a captured KV v2 read reply)' : '(fallback body)'}; sent the same requests as KV v2 read`,
    targets: [],
    connections: ctx.config.connections,
    server: child,
    load: {
      url: child.ready.url,
      method: 'GET',
      // Same length as a Coffer service token (hvs. + 24 chars) so the request bytes match;
      // the bare server never looks at it.
      headers: { 'x-vault-token': `hvs.${'0'.repeat(24)}` },
      fixed: readRequests(),
    },
  });
  return { cell, bodyBytes: body.length };
}
