/**
 * KV v2 building blocks shared by the KV scenarios: seeding the read keys, the read cell, and
 * the fixed-size secret values.
 *
 * Values must change bytes on every write: SQLite skips writing an identical cell, so a
 * repeated value would measure a write that never reaches the disk (performance.md B.3).
 */
import { randomBytes } from 'node:crypto';
import type { CofferServer } from '../coffer-server.js';
import { createLoadCell } from '../load.js';
import type { BenchContext, Cell, Target } from '../scenario.js';
import { forEachLimited } from '../vault-http.js';

export const READ_KEYS = 1_000;
/** `{"value":"…"}` serialises to exactly this many bytes. */
export const SECRET_JSON_BYTES = 200;
const VALUE_CHARS = SECRET_JSON_BYTES - '{"value":""}'.length;

export const readPath = (i: number): string => `/v1/secret/data/bench/read-${i}`;

/** One request per read key; each connection cycles over them from its own offset. */
export const readRequests = (): { path: string }[] => Array.from({ length: READ_KEYS }, (_, i) => ({ path: readPath(i) }));

/** A 200-byte secret (as JSON) whose bytes differ with `seed`. */
export function secretValue(seed: string): { value: string } {
  const filler = randomBytes(VALUE_CHARS).toString('base64url');
  return { value: `${seed}-${filler}`.slice(0, VALUE_CHARS) };
}

/** Writes the READ_KEYS secrets and checks that one reads back; returns that read's body. */
export async function seedReadKeys(ctx: BenchContext, server: CofferServer): Promise<Buffer> {
  const started = Date.now();
  await forEachLimited(READ_KEYS, 16, async (i) => {
    await server.api.ok('POST', readPath(i), { data: secretValue(String(i)) });
  });
  ctx.log(`  ${server.child.name}: wrote ${READ_KEYS} secrets of ${SECRET_JSON_BYTES} B in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const body = await server.api.ok('GET', readPath(0));
  const parsed = JSON.parse(body) as { data?: { data?: { value?: unknown } } };
  if (typeof parsed.data?.data?.value !== 'string' || parsed.data.data.value.length !== VALUE_CHARS) {
    throw new Error(`${server.child.name}: KV v2 read of bench/read-0 did not return the written secret`);
  }
  return Buffer.from(body);
}

export function createKvReadCell(options: {
  id: string;
  label: string;
  describe: string;
  server: CofferServer;
  ctx: BenchContext;
  targets: Target[];
}): Cell {
  return createLoadCell({
    id: options.id,
    label: options.label,
    describe: options.describe,
    targets: options.targets,
    connections: options.ctx.config.connections,
    server: options.server.child,
    load: {
      url: options.server.url,
      method: 'GET',
      headers: { 'x-vault-token': options.server.rootToken },
      fixed: readRequests(),
    },
  });
}
