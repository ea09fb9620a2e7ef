/**
 * A small fetch over node:http / node:https with just what the SDK's transport uses (status,
 * headers, text, a streamed body). Node's global fetch loads undici on first use, which costs
 * tens of milliseconds; a short-lived process such as `coffer run` starts faster with this.
 *
 * Owns: translating a request and its response; errors look like fetch's (`cause.code`), so the
 * transport maps them the same way.
 * Must never: follow redirects (a token must not be re-sent to another host): a 3xx comes back
 * as it is, as fetch's `redirect: 'manual'` gives it, and the transport turns it into an error.
 * Nor log anything.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import type { FetchLike, HttpResponseLike } from './transport.js';

function wrap(res: IncomingMessage): HttpResponseLike {
  return {
    status: res.statusCode ?? 0,
    headers: {
      get(name) {
        const value = res.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    async text() {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    body: {
      [Symbol.asyncIterator]: () => res[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>,
      async cancel() {
        res.destroy();
      },
    },
  };
}

/** How an https address is verified: extra CA certificates (PEM), or not at all. */
export interface TlsTrust {
  ca?: string | Buffer;
  rejectUnauthorized?: boolean;
}

/** A fetch like nodeHttpFetch that verifies https servers with `tls` (the CLI's -ca-cert). */
export function createNodeHttpFetch(tls: TlsTrust = {}): FetchLike {
  return async (url, init) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const request = secure ? (await import('node:https')).request : httpRequest;
    const headers: Record<string, string | number> = { ...init.headers };
    if (init.body !== undefined) headers['Content-Length'] = Buffer.byteLength(init.body);
    const options: RequestOptions & TlsTrust = {
      method: init.method,
      headers,
      ...(init.signal ? { signal: init.signal } : {}),
      ...(secure && tls.ca !== undefined ? { ca: tls.ca } : {}),
      ...(secure && tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    };
    return send(request, target, options, init);
  };
}

function send(request: typeof httpRequest, target: URL, options: RequestOptions, init: Parameters<FetchLike>[1]): Promise<HttpResponseLike> {
  return new Promise<HttpResponseLike>((resolve, reject) => {
    const req = request(target, options, (res) => resolve(wrap(res)));
    req.once('error', (err) => {
      if (err.name === 'AbortError') reject(init.signal?.reason ?? err);
      // Shaped like fetch's failure, so the transport reads `cause.code` the same way.
      else reject(new TypeError('fetch failed', { cause: err }));
    });
    req.end(init.body);
  });
}

export const nodeHttpFetch: FetchLike = createNodeHttpFetch();
