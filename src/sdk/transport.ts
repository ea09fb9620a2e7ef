/**
 * The SDK's HTTP layer over the global fetch: `/v1/` URLs, the `X-Vault-Token`,
 * `X-Vault-Request` and `X-Vault-Namespace` headers, JSON bodies, LIST as `GET ?list=true`,
 * per-request timeouts, and typed errors for error statuses and network failures.
 *
 * Owns: the only place the SDK talks HTTP.
 * Must never: put the token anywhere but the X-Vault-Token header (not in a URL, not in an
 * error), or let a registered credential into an error message.
 */
import { CofferConfigError, CofferConnectionError, createRedactor, httpError, type Redactor } from './errors.js';

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

/** The part of fetch the SDK uses; the global fetch is one, node-http.ts has a lighter one. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<HttpResponseLike>;

export interface RawResponse {
  status: number;
  /** The parsed JSON body; undefined for 204 or an empty or non-JSON body. */
  body: unknown;
}

export interface Transport {
  /** The server address without user-info, safe to print. */
  readonly address: string;
  /** Credentials registered here are scrubbed from every error message. */
  readonly redactor: Redactor;
  /** Sends one request; error statuses throw a CofferHttpError subclass. */
  request(method: HttpMethod, path: string, options?: RequestOptions): Promise<RawResponse>;
  /** Sends one GET and returns the open response (for streams); error statuses throw. */
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
  const defaultTimeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const redactor = options.redactor ?? createRedactor();

  const send = async (method: HttpMethod, path: string, req: RequestOptions): Promise<{ response: HttpResponseLike; cleanPath: string }> => {
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
      response = await doFetch(url.href, { method: wireMethod, headers, ...(body === undefined ? {} : { body }), ...(signal ? { signal } : {}) });
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason ?? err;
      const code = networkCode(err);
      throw new CofferConnectionError(`cannot reach the server at ${printable}: ${code === 'TIMEOUT' ? 'request timed out' : code}`, code);
    }
    return { response, cleanPath };
  };

  const failIfError = async (method: string, cleanPath: string, response: HttpResponseLike): Promise<void> => {
    if (response.status < 400) return;
    const parsed = parseJson(await safeText(response));
    throw httpError(method, cleanPath, response.status, errorsOf(parsed), redactor.scrub);
  };

  return {
    address: printable,
    redactor,
    async request(method, path, req = {}) {
      const { response, cleanPath } = await send(method, path, req);
      await failIfError(method, cleanPath, response);
      const text = await safeText(response);
      return { status: response.status, body: parseJson(text) };
    },
    async stream(path, req = {}) {
      const { response, cleanPath } = await send('GET', path, { timeoutMs: 0, ...req });
      await failIfError('GET', cleanPath, response);
      return response;
    },
  };
}

function encodePath(path: string): string {
  return path.split('/').map((segment) => encodeURIComponent(segment)).join('/');
}

async function safeText(response: HttpResponseLike): Promise<string> {
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

function networkCode(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'TIMEOUT';
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  return 'connection failed';
}
