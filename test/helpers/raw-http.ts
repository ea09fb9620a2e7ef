/**
 * Test helpers for wire-level HTTP: requests sent exactly as written (no URL normalisation, any
 * method, any bytes) and a raw TCP connection that parses the responses it reads, for keep-alive,
 * pipelining and malformed input.
 *
 * `fetch` cannot be used for these checks: it resolves `..` and `%2e%2e` segments on the client
 * and refuses custom methods such as LIST.
 */
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as text; '' when there was none. */
  text: string;
  /** The body parsed as JSON, or undefined when it was empty or not JSON. */
  body: any;
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface SendOptions {
  token?: string;
  /** An object is sent as JSON; a string or Buffer as is. */
  body?: unknown;
  headers?: Record<string, string | number>;
  agent?: Agent | false;
  /** The client's source address (any of 127.0.0.0/8 reaches a loopback server on Linux). */
  localAddress?: string;
}

/**
 * One HTTP request with `target` used verbatim as the request target after '/v1/'
 * (so 'secret/data/a/../b' reaches the server with its '..').
 */
export function send(server: { url: string }, method: string, target: string, options: SendOptions = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(server.url);
  const headers: Record<string, string | number> = { ...options.headers };
  if (options.token !== undefined) headers['X-Vault-Token'] = options.token;
  let payload: Buffer | undefined;
  if (options.body !== undefined) {
    payload = Buffer.isBuffer(options.body)
      ? options.body
      : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
    headers['Content-Length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: hostname,
        port: Number(port),
        method,
        path: '/v1/' + target,
        headers,
        agent: options.agent ?? false,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parseBody(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export interface ParsedResponse {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  text: string;
  body: any;
}

/** A raw TCP connection to the server that parses HTTP/1.1 responses as they arrive. */
export interface RawConnection {
  write(bytes: string | Buffer): Promise<void>;
  /** The next complete response; rejects if the connection closes first. */
  next(timeoutMs?: number): Promise<ParsedResponse>;
  /** Resolves when the server has closed the connection (or the timeout passes: false). */
  closed(timeoutMs?: number): Promise<boolean>;
  /** Every byte received, for assertions on what the server sent. */
  received(): Buffer;
  destroy(): void;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** Parses one response off the front of `buf`; undefined when it is not complete yet. */
function parseOne(buf: Buffer, ended: boolean): { response: ParsedResponse; rest: Buffer } | undefined {
  const end = buf.indexOf(HEAD_END);
  if (end === -1) return undefined;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let rest = buf.subarray(end + HEAD_END.length);
  let body: Buffer;
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    body = Buffer.alloc(0);
  } else if ((headers['transfer-encoding'] ?? '').toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', offset);
      if (lineEnd === -1) return undefined;
      const size = Number.parseInt(rest.subarray(offset, lineEnd).toString('latin1'), 16);
      // Not a chunk-size line: a corrupt stream, which never completes (received() has its bytes).
      if (Number.isNaN(size)) return undefined;
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) {
        offset = lineEnd + 4;
        break;
      }
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      offset = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
    rest = rest.subarray(offset);
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length < length) return undefined;
    body = rest.subarray(0, length);
    rest = rest.subarray(length);
  } else {
    // No framing: the body runs to the end of the connection.
    if (!ended) return undefined;
    body = rest;
    rest = Buffer.alloc(0);
  }
  const text = body.toString('utf8');
  return { response: { status, headers, text, body: parseBody(text) }, rest };
}

export async function openConnection(server: { url: string }): Promise<RawConnection> {
  const { hostname, port } = new URL(server.url);
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect({ host: hostname, port: Number(port) }, () => resolve(s));
    s.once('error', reject);
  });
  let pending: Buffer = Buffer.alloc(0);
  const all: Buffer[] = [];
  let ended = false;
  const queue: ParsedResponse[] = [];
  const waiters: Array<() => void> = [];
  const wake = (): void => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const drain = (): void => {
    for (;;) {
      const parsed = parseOne(pending, ended);
      if (!parsed) break;
      queue.push(parsed.response);
      pending = parsed.rest;
    }
  };
  socket.on('data', (chunk: Buffer) => {
    all.push(chunk);
    pending = Buffer.concat([pending, chunk]);
    drain();
    wake();
  });
  const onEnd = (): void => {
    ended = true;
    drain();
    wake();
  };
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  // A reset after the server answered (413, 431) is expected in these tests; the responses read
  // so far stay available.
  socket.on('error', onEnd);

  const waitFor = (ready: () => boolean, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (ready()) return resolve(true);
      const timer = setTimeout(() => {
        const i = waiters.indexOf(check);
        if (i !== -1) waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      const check = (): void => {
        if (ready()) {
          clearTimeout(timer);
          resolve(true);
        } else {
          waiters.push(check);
        }
      };
      waiters.push(check);
    });

  return {
    write: (bytes) =>
      new Promise((resolve, reject) => {
        socket.write(bytes, (error) => (error ? reject(error) : resolve()));
      }),
    async next(timeoutMs = 5000) {
      await waitFor(() => queue.length > 0 || ended, timeoutMs);
      const response = queue.shift();
      if (!response) throw new Error(ended ? 'connection closed before a complete response' : 'timed out waiting for a response');
      return response;
    },
    closed: (timeoutMs = 5000) => waitFor(() => ended, timeoutMs),
    received: () => Buffer.concat(all),
    destroy: () => socket.destroy(),
  };
}

/** A request head plus body, as bytes, for writing to a RawConnection. */
export function rawRequest(method: string, target: string, options: { token?: string; body?: string | Buffer; headers?: Record<string, string> } = {}): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1'];
  if (options.token !== undefined) lines.push(`X-Vault-Token: ${options.token}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  const body = options.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body);
  if (options.body !== undefined) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
}
