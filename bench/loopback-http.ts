/**
 * A small JSON client over `node:http` with a keep-alive agent, for one-shot scenarios that
 * drive a Coffer server at modest rates (credential cycles, rotations, KV writes) and time each
 * request. Lighter on the harness's CPU than `fetch`, which matters on a 2-core machine where the
 * harness, the server and PostgreSQL share the cores.
 *
 * Must never send anything beyond 127.0.0.1, and never put the token into an error message.
 */
import { Agent, request } from 'node:http';
import { assertLoopback } from './load.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LIST';

export interface JsonResponse {
  status: number;
  /** The parsed body, or undefined for an empty or non-JSON body. */
  body: any;
  text: string;
}

export interface LoopbackClient {
  /** `path` is the part after `/v1/`. The token defaults to the client's own. */
  call(method: Method, path: string, options?: { body?: unknown; token?: string; timeoutMs?: number }): Promise<JsonResponse>;
  /** Like `call`, but throws unless the status is 2xx; the error carries the status and body. */
  ok(method: Method, path: string, options?: { body?: unknown; token?: string; timeoutMs?: number }): Promise<any>;
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 60_000;

export function createLoopbackClient(baseUrl: string, token: string, maxSockets = 16): LoopbackClient {
  assertLoopback(baseUrl);
  const base = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets });

  const call: LoopbackClient['call'] = (method, path, options = {}) =>
    new Promise((resolve, reject) => {
      const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
      const headers: Record<string, string> = { 'x-vault-token': options.token ?? token };
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(payload));
      }
      const req = request(
        { host: base.hostname, port: base.port, method, path: `/v1/${path}`, headers, agent, timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => {
            let body: unknown;
            try {
              body = text === '' ? undefined : JSON.parse(text);
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body, text });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} /v1/${path} timed out`)));
      req.on('error', reject);
      req.end(payload);
    });

  return {
    call,
    async ok(method, path, options) {
      const response = await call(method, path, options);
      if (response.status < 200 || response.status > 299) throw new Error(`${method} /v1/${path} answered ${response.status}: ${response.text.slice(0, 300)}`);
      return response.body;
    },
    close: () => agent.destroy(),
  };
}
