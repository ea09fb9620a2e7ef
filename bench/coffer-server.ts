/**
 * Starts one Coffer server for a scenario: its own child process (`coffer-child.js`), dev mode,
 * SQLite in a fresh temp dir, and a set-up client holding its root token.
 *
 * Must never log the root token; it stays in memory and in request headers to 127.0.0.1.
 */
import { childEntry, startServerChild, type ServerChild } from './children.js';
import type { BenchContext } from './scenario.js';
import { createVaultHttp, type VaultHttp } from './vault-http.js';

export interface CofferReady {
  url: string;
  rootToken: string;
}

export interface CofferServer {
  child: ServerChild<CofferReady>;
  url: string;
  rootToken: string;
  dataDir: string;
  api: VaultHttp;
}

function parseCofferReady(value: unknown): CofferReady | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { url, rootToken } = value as Record<string, unknown>;
  if (typeof url !== 'string' || typeof rootToken !== 'string' || rootToken === '') return undefined;
  return { url, rootToken };
}

/**
 * `httpReplicas`: extra HTTP processes (`--http-replicas`) beside the server; the KV load cells
 * use them, the scenarios measuring one request path through the primary do not.
 */
export async function startCofferServer(ctx: BenchContext, name: string, options: { httpReplicas?: number } = {}): Promise<CofferServer> {
  const dataDir = ctx.cleanup.tempDir(name);
  const child = await startServerChild({
    name,
    entry: childEntry('coffer-child.js'),
    args: [dataDir, String(options.httpReplicas ?? 0)],
    cleanup: ctx.cleanup,
    parseReady: parseCofferReady,
  });
  const { url, rootToken } = child.ready;
  return { child, url, rootToken, dataDir, api: createVaultHttp(url, rootToken) };
}
