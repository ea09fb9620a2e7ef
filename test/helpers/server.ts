/**
 * Test helpers: a real Coffer server on a free loopback port with its data in a fresh temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type StartOptions, type StartedServer } from '../../src/main.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';

export interface TestServer extends StartedServer {
  dataDir: string;
  /** Stops the server and removes its data directory. */
  destroy(): Promise<void>;
}

export function tempDir(prefix = 'coffer-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Temp directories a test file makes as it goes (audit logs, say), all removed by `removeAll`. */
export function scratchDirs(): { make(prefix: string): string; removeAll(): void } {
  const made: string[] = [];
  return {
    make(prefix) {
      const dir = tempDir(prefix);
      made.push(dir);
      return dir;
    },
    removeAll() {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startTestServer(options: StartOptions & { keepDataDir?: boolean } = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  const server = await startServer({ listen: '127.0.0.1:0', logger: process.env.COFFER_TEST_LOG ? createLogger({ level: 'debug' }) : silentLogger, ...options, dataDir });
  return {
    ...server,
    dataDir,
    async destroy() {
      await server.close();
      if (!options.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse {
  status: number;
  body: any;
}

/** A minimal raw HTTP call, for checking wire details a client library would hide. */
export async function api(server: { url: string }, method: string, path: string, options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['X-Vault-Token'] = options.token;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    // As Vault's own clients do: a PATCH body is a JSON merge patch.
    headers['content-type'] ??= method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
  }
  const response = await fetch(`${server.url}/v1/${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, body: parsed };
}
