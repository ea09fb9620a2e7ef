/**
 * The SDK's HTTP layer over the global fetch: `/v1/` URLs, the `X-Vault-Token`,
 * `X-Vault-Request` and `X-Vault-Namespace` headers, JSON bodies, LIST as `GET ?list=true`,
 * per-request timeouts, and typed errors for error statuses, redirects, bodies that cannot be
 * read or parsed, and network failures.
 *
 * Owns: the only place the SDK talks HTTP.
 * Must never: put the token anywhere but the X-Vault-Token header (not in a URL, not in an
 * error), follow a redirect (the token would go to whatever host the Location names, even over
 * plain http), or let a registered credential into an error message.
 */
import { CofferConfigError, CofferConnectionError, createRedactor, httpError, redirectError, responseError, type Redactor } from './errors.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE' | 'LIST';

export interface RequestOptions {
  body?: unknown;
  query?: Readonly<Record<string, string | number | undefined>>;
  /** Overrides the current token for this call; null sends none (logins). */
  token?: string | null;
  /** Defaults to application/json; KV v2 PATCH needs application/merge-patch+json. */
  contentType?: string;
  headers?: Readonly<Record<string, string>>;
  signal?: AbortSignal;
  /** Per-request timeout; 0 disables it (streams). */
  timeoutMs?: number;
}

/** The part of a fetch Response the SDK uses; the global fetch's Response is one. */
export interface HttpResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  /** The body as it arrives (for event streams). */
  readonly body: (AsyncIterable<Uint8Array> & { cancel(reason?: unknown): Promise<void> }) | null;
}

/**
 * The part of fetch the SDK uses; the global fetch is one, node-http.ts has a lighter one.
 * `redirect` is always 'manual': an implementation must hand a 3xx back as it is, never follow it.
 */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal; redirect?: 'manual' },
) => Promise<HttpResponseLike>;

export interface RawResponse {
  status: number;
  /** The parsed JSON body; undefined for an empty body (a 204). */
  body: unknown;
}

export interface Transport {
  /** The server address without user-info, safe to print. */
  readonly address: string;
  /** Credentials registered here are scrubbed from every error message. */
  readonly redactor: Redactor;
  /**
   * Sends one request; error statuses throw a CofferHttpError subclass, a redirect a
   * CofferRedirectError, a body that cannot be read (cut off, stalled past the timeout) a
   * CofferConnectionError, and a body that is not JSON a CofferResponseError.
   */
  request(method: HttpMethod, path: string, options?: RequestOptions): Promise<RawResponse>;
  /** Sends one GET and returns the open response (for streams); error statuses and redirects throw. */
  stream(path: string, options?: RequestOptions): Promise<HttpResponseLike>;
}

export interface TransportOptions {
  address: string;
  namespace?: string | undefined;
  /** Default: the global fetch. */
  fetch?: FetchLike | undefined;
  timeoutMs?: number | undefined;
  /** The token for a request that does not override it; may refresh it first (an expired login). */
  token(): Promise<string | undefined> | string | undefined;
  redactor?: Redactor;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export function createTransport(options: TransportOptions): Transport {
  let base: URL;
  try {
    base = new URL(options.address);
  } catch {
    throw new CofferConfigError('invalid address: expected a URL such as https://coffer.example.com:8200');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new CofferConfigError('invalid address: the scheme must be http or https');
  }
  if (base.username !== '' || base.password !== '') {
    throw new CofferConfigError('invalid address: credentials in the URL are not supported; pass a token or log in');
  }
  const printable = `${base.protocol}//${base.host}`;
  const root = base.href.replace(/\/+$/, '');
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init) as Promise<HttpResponseLike>);
  const unreachable = (code: string): CofferConnectionError =>
    new CofferConnectionError(`cannot reach the server at ${printable}: ${code === 'TIMEOUT' ? 'request timed out' : code}`, code);
  const defaultTimeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const redactor = options.redactor ?? createRedactor();

  const send = async (method: HttpMethod, path: string, req: RequestOptions): Promise<{ response: HttpResponseLike; cleanPath: string; signal: AbortSignal | undefined }> => {
    const cleanPath = path.replace(/^\/+/, '');
    const url = new URL(`${root}/v1/${encodePath(cleanPath)}`);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    let wireMethod: string = method;
    if (method === 'LIST') {
      // Vault accepts the LIST verb or GET ?list=true; the latter passes every proxy.
      wireMethod = 'GET';
      url.searchParams.set('list', 'true');
    }
    const headers: Record<string, string> = { 'X-Vault-Request': 'true', ...req.headers };
    if (options.namespace) headers['X-Vault-Namespace'] = options.namespace;
    const token = req.token === undefined ? await options.token() : req.token;
    if (token) headers['X-Vault-Token'] = token;
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['Content-Type'] = req.contentType ?? 'application/json';
    }
    const timeoutMs = req.timeoutMs ?? defaultTimeout;
    const signals = [req.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    let response: HttpResponseLike;
    try {
      response = await doFetch(url.href, { method: wireMethod, headers, redirect: 'manual', ...(body === undefined ? {} : { body }), ...(signal ? { signal } : {}) });
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason ?? err;
      throw unreachable(networkCode(err, signal));
    }
    return { response, cleanPath, signal };
  };

  const failIfError = async (method: string, cleanPath: string, response: HttpResponseLike): Promise<void> => {
    if (isRedirect(response.status)) {
      // Not followed: the request carried the token, and a Location may name any host or scheme.
      await response.body?.cancel().catch(() => undefined);
      throw redirectError(method, cleanPath, response.status, response.headers.get('location'), redactor.scrub);
    }
    if (response.status < 400) return;
    const parsed = parseJson(await errorBodyText(response));
    throw httpError(method, cleanPath, response.status, errorsOf(parsed), redactor.scrub);
  };

  /** A success's body: one that cannot be read is a failed request, not an empty answer. */
  const successBody = async (method: string, cleanPath: string, response: HttpResponseLike, req: RequestOptions, signal: AbortSignal | undefined): Promise<unknown> => {
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason ?? err;
      const code = networkCode(err, signal);
      throw new CofferConnectionError(`${method} ${cleanPath}: the answer from ${printable} broke off: ${code === 'TIMEOUT' ? 'request timed out' : code}`, code, err);
    }
    if (text.length === 0) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      // The body is not quoted: it may be a secret cut off in the middle.
      throw responseError(method, cleanPath, response.status, 'the answer is not valid JSON', redactor.scrub);
    }
  };

  return {
    address: printable,
    redactor,
    async request(method, path, req = {}) {
      const { response, cleanPath, signal } = await send(method, path, req);
      await failIfError(method, cleanPath, response);
      return { status: response.status, body: await successBody(method, cleanPath, response, req, signal) };
    },
    async stream(path, req = {}) {
      const { response, cleanPath } = await send('GET', path, { timeoutMs: 0, ...req });
      await failIfError('GET', cleanPath, response);
      return response;
    },
  };
}

/** 3xx; 0 is what a fetch that filters a manual redirect (opaqueredirect) reports. */
function isRedirect(status: number): boolean {
  return status === 0 || (status >= 300 && status < 400);
}

function encodePath(path: string): string {
  return path.split('/').map((segment) => encodeURIComponent(segment)).join('/');
}

/** An error answer's body: the status already says what happened, so a body that breaks off only loses the details. */
async function errorBodyText(response: HttpResponseLike): Promise<string> {
  try {
    return await response.text();
  } catch {
    return '';
  }
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorsOf(body: unknown): string[] {
  if (body && typeof body === 'object' && Array.isArray((body as { errors?: unknown }).errors)) {
    return (body as { errors: unknown[] }).errors.map((e) => String(e));
  }
  return [];
}

function networkCode(err: unknown, signal: AbortSignal | undefined): string {
  // node:http reports a timeout that cut a body short as ECONNRESET: the signal says what it was.
  if (signal?.aborted) return 'TIMEOUT';
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'TIMEOUT';
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  const own = (err as { code?: unknown } | null)?.code;
  if (typeof own === 'string') return own;
  return 'connection failed';
}
