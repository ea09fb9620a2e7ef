/**
 * One measured restart of a dev-mode Coffer on an existing data dir: spawns the real server
 * (`coffer-restart-child.js`) on a port chosen beforehand, polls `GET /v1/sys/health` every
 * 5 ms from the moment of the spawn until it answers 200, then reads the child's resident
 * memory after a settle and again after a burst of requests, and stops the child.
 *
 * Must never send traffic beyond 127.0.0.1 and never log the root token (it stays in request
 * headers). The child is stopped before this returns, and registered with cleanup before.
 */
import { request } from 'node:http';
import { createServer } from 'node:net';
import { childEntry, startServerChild } from './children.js';
import type { Cleanup } from './cleanup.js';
import { processCpuSeconds } from './proc-cpu.js';
import { residentBytes } from './proc-mem.js';

export interface RestartSample {
  /** Spawn → first 200 from GET /v1/sys/health. */
  readyMs: number;
  /** Spawn → answer to the first PUT /v1/sys/leases/lookup sent right after ready. */
  firstLeaseLookupMs: number;
  firstLeaseLookupStatus: number;
  /** CPU the child had used when it first answered 200 (start-up cost, less moved by load). */
  cpuAtReadyS: number | undefined;
  rssSettledBytes: number | undefined;
  rssAfterBurstBytes: number | undefined;
  /** Burst responses per request kind and status, e.g. { 'lease lookup': { '200': 333 } }. */
  burst: Record<string, Record<string, number>>;
}

export type BurstKind = 'health' | 'token lookup-self' | 'lease lookup';

const POLL_MS = 5;
const READY_LIMIT_MS = 120_000;
const BURST_PARALLEL = 16;

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free loopback port'))));
    });
  });
}

/** One request on a fresh connection; resolves with the status, or undefined if it could not connect. */
function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end(body);
  });
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureRestart(options: {
  name: string;
  dataDir: string;
  cleanup: Cleanup;
  settleMs: number;
  burstRequests: number;
  /** Lease ids to look up; on a server without them the lookups answer 400. */
  leaseIds: readonly string[];
}): Promise<RestartSample> {
  const port = await freeLoopbackPort();
  let childFailed: unknown;
  const started = performance.now();
  const childPromise = startServerChild({
    name: options.name,
    entry: childEntry('coffer-restart-child.js'),
    args: [options.dataDir, `127.0.0.1:${port}`],
    cleanup: options.cleanup,
    parseReady: (value) => {
      const token = (value as { rootToken?: unknown } | null)?.rootToken;
      return typeof token === 'string' && token !== '' ? { rootToken: token } : undefined;
    },
  });
  childPromise.catch((error: unknown) => {
    childFailed = error;
  });

  let readyAt: number | undefined;
  while (readyAt === undefined) {
    if (childFailed !== undefined) throw childFailed;
    if (performance.now() - started > READY_LIMIT_MS) throw new Error(`${options.name} did not answer /v1/sys/health within ${READY_LIMIT_MS / 1000} s`);
    const status = await send(port, 'GET', '/v1/sys/health', {});
    if (status === 200) readyAt = performance.now();
    else await pause(POLL_MS);
  }
  const child = await childPromise;
  try {
    const cpuAtReadyS = processCpuSeconds(child.pid);
    const auth = { 'x-vault-token': child.ready.rootToken, 'content-type': 'application/json' };
    const lookupBody = (i: number): string => JSON.stringify({ lease_id: options.leaseIds[i % Math.max(1, options.leaseIds.length)] ?? 'none/none' });
    const firstLeaseLookupStatus = (await send(port, 'PUT', '/v1/sys/leases/lookup', auth, lookupBody(0))) ?? 0;
    const firstLeaseLookupMs = performance.now() - started;

    await pause(options.settleMs);
    const rssSettledBytes = residentBytes(child.pid);

    const burst: Record<string, Record<string, number>> = {};
    const count = (kind: BurstKind, status: number | undefined): void => {
      const byStatus = (burst[kind] ??= {});
      const key = status === undefined ? 'no connection' : String(status);
      byStatus[key] = (byStatus[key] ?? 0) + 1;
    };
    let nextIndex = 0;
    const worker = async (): Promise<void> => {
      while (nextIndex < options.burstRequests) {
        const i = nextIndex;
        nextIndex += 1;
        if (i % 3 === 0) count('health', await send(port, 'GET', '/v1/sys/health', {}));
        else if (i % 3 === 1) count('token lookup-self', await send(port, 'GET', '/v1/auth/token/lookup-self', auth));
        else count('lease lookup', await send(port, 'PUT', '/v1/sys/leases/lookup', auth, lookupBody(i)));
      }
    };
    await Promise.all(Array.from({ length: BURST_PARALLEL }, worker));
    const rssAfterBurstBytes = residentBytes(child.pid);
    if (child.exited() !== undefined) throw new Error(`${options.name} died during the burst: ${child.exited() ?? ''}\n${child.stderrTail().join('\n')}`);
    return {
      readyMs: readyAt - started,
      firstLeaseLookupMs,
      firstLeaseLookupStatus,
      cpuAtReadyS,
      rssSettledBytes,
      rssAfterBurstBytes,
      burst,
    };
  } finally {
    await child.stop();
  }
}
