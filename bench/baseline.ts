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

/** Used only when no scenario offers a body: 218 bytes, as in performance.md B.1. */
const FALLBACK_BODY = Buffer.from(JSON.stringify({ request_id: '00000000-0000-0000-0000-000000000000', data: { value: 'x'.repeat(130) }, warnings: null }).padEnd(218, ' '));

function parseUrlReady(value: unknown): { url: string } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { url } = value as Record<string, unknown>;
  return typeof url === 'string' ? { url } : undefined;
}

export async function createBaselineCell(ctx: BenchContext, offeredBody: Buffer | undefined): Promise<{ cell: Cell; bodyBytes: number }> {
  const body = offeredBody ?? FALLBACK_BODY;
  const child = await startServerChild({
    name: 'baseline',
    entry: childEntry('baseline-child.js'),
    args: [body.toString('base64')],
    cleanup: ctx.cleanup,
    parseReady: parseUrlReady,
  });
  ctx.log(`  baseline: pid ${child.pid} at ${child.ready.url}, ${body.length}-byte body`);
  const cell = createLoadCell({
    id: BASELINE_CELL_ID,
    label: 'Baseline: bare node:http',
    describe: `a bare \`node:http\` server in its own process answering every request with a fixed ${body.length}-byte JSON body ${offeredBody ? '(a captured KV v2 read reply)' : '(fallback body)'}; sent the same requests as KV v2 read`,
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
