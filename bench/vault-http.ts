/**
 * A minimal Vault-API client for benchmark set-up (seeding secrets, enabling audit): plain
 * `fetch` to 127.0.0.1 with the token in `X-Vault-Token`.
 *
 * Not for load: set-up traffic is sequential or lightly parallel. Error messages carry the
 * status and the server's error body, never the token.
 */
import { assertLoopback } from './load.js';

export interface VaultHttp {
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; text: string }>;
  /** Like `request`, but throws unless the status is 2xx. */
  ok(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<string>;
}

export function createVaultHttp(baseUrl: string, token: string): VaultHttp {
  assertLoopback(baseUrl);
  const request: VaultHttp['request'] = async (method, path, body) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'x-vault-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, text: await response.text() };
  };
  return {
    request,
    async ok(method, path, body) {
      const { status, text } = await request(method, path, body);
      if (status < 200 || status > 299) throw new Error(`${method} ${path} answered ${status}: ${text.slice(0, 500)}`);
      return text;
    },
  };
}

/** Runs `task(i)` for i in [0, count) with at most `parallel` in flight. */
export async function forEachLimited(count: number, parallel: number, task: (i: number) => Promise<void>): Promise<void> {
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < count) {
      const i = nextIndex;
      nextIndex += 1;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
}
