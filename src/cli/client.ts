/**
 * The CLI's HTTP client for Coffer's Vault-compatible API, over the global fetch.
 *
 * Owns: building `/v1/` URLs, the `X-Vault-Token` and `X-Vault-Request` headers, JSON bodies,
 * LIST as `GET ?list=true`, and turning error statuses into ApiError.
 * Must never: put the token anywhere but the X-Vault-Token header (not in URLs, not in errors).
 */
import { ApiError, CliError, WrappedAnswer } from './errors.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE' | 'LIST';

export interface RequestOptions {
  body?: unknown;
  query?: Readonly<Record<string, string>>;
  /** Overrides the client's token for one call; null sends none. */
  token?: string | null;
  /** Defaults to application/json; KV v2 PATCH needs application/merge-patch+json. */
  contentType?: string;
  /** Statuses of 400 and above to return instead of throwing (sys/health carries state in them). */
  acceptStatuses?: readonly number[];
  /** false: never ask for wrapping (a lookup the command makes before the request it is run for). */
  wrap?: boolean;
}

export interface ApiResponse {
  status: number;
  /** The parsed JSON body; undefined for 204 or an empty body. */
  body: unknown;
}

export interface ApiClient {
  /** The server address with any user-info removed, safe to print. */
  readonly address: string;
  readonly hasToken: boolean;
  request(method: HttpMethod, path: string, options?: RequestOptions): Promise<ApiResponse>;
}

export interface ApiClientOptions {
  address: string;
  token?: string | undefined;
  fetch?: typeof fetch | undefined;
  /** Per-request timeout; Vault's CLI default is 60 s. */
  timeoutMs?: number;
  /**
   * -wrap-ttl: every request asks for its response to be wrapped (X-Vault-Wrap-TTL). Any
   * wrapped answer, asked for or not, is thrown as WrappedAnswer for main() to print.
   */
  wrapTtl?: string | undefined;
}

export function createApiClient(options: ApiClientOptions): ApiClient {
  let base: URL;
  try {
    base = new URL(options.address);
  } catch {
    throw new CliError('invalid address: expected a URL such as http://127.0.0.1:8200');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new CliError('invalid address: the scheme must be http or https');
  }
  const printable = `${base.protocol}//${base.host}`;
  const root = base.href.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 60_000;

  return {
    address: printable,
    hasToken: Boolean(options.token),
    async request(method, path, req = {}) {
      const cleanPath = path.replace(/^\/+/, '');
      const url = new URL(`${root}/v1/${encodePath(cleanPath)}`);
      for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
      let wireMethod: string = method;
      if (method === 'LIST') {
        // Vault accepts the custom LIST verb or GET ?list=true; the latter passes every proxy.
        wireMethod = 'GET';
        url.searchParams.set('list', 'true');
      }
      const headers: Record<string, string> = { 'X-Vault-Request': 'true' };
      const token = req.token === undefined ? options.token : req.token;
      if (token) headers['X-Vault-Token'] = token;
      // sys/wrapping/wrap only works wrapped: as Vault's client, 5m unless -wrap-ttl says otherwise.
      const wrapTtl = options.wrapTtl !== undefined && options.wrapTtl !== '' ? options.wrapTtl : cleanPath === 'sys/wrapping/wrap' ? '5m' : undefined;
      const wrapping = wrapTtl !== undefined && req.wrap !== false;
      if (wrapping) headers['X-Vault-Wrap-TTL'] = wrapTtl;
      let body: string | undefined;
      if (req.body !== undefined) {
        body = JSON.stringify(req.body);
        headers['Content-Type'] = req.contentType ?? 'application/json';
      }

      let response: Response;
      try {
        // Never followed: fetch would send the token (and, on a 307, the secret in the body) on
        // to whatever host the Location names. The SDK refuses redirects for the same reason.
        response = await doFetch(url, { method: wireMethod, headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new CliError(`cannot reach the server at ${printable}: ${describeNetworkError(err)}`, 2);
      }
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel().catch(() => undefined);
        throw new CliError(`the server at ${printable} answered with a redirect${redirectTarget(response.headers.get('location'), url)} (HTTP ${response.status}), `
          + 'which is not followed so the token and the data stay with this server; set the address to the server that answers', 2);
      }
      const text = await response.text();
      let parsed: unknown;
      let notJson = false;
      if (text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
          notJson = true;
        }
      }
      if (response.status >= 400 && !(req.acceptStatuses ?? []).includes(response.status)) {
        throw new ApiError(method, cleanPath, response.status, errorsOf(parsed), parsed);
      }
      // Coffer answers JSON or nothing: anything else (a proxy's or another server's page) is
      // not a write that happened, nor a token that was checked.
      if (notJson) {
        throw new CliError(`${method} ${cleanPath}: the answer from ${printable} is not valid JSON (HTTP ${response.status}); is that address a Coffer server?`, 2);
      }
      // Also unasked (sys/wrapping/rewrap answers with one): a wrapping token is always shown.
      const wrapInfo = (parsed as { wrap_info?: unknown } | undefined)?.wrap_info;
      if (wrapInfo !== undefined && wrapInfo !== null && typeof wrapInfo === 'object') throw new WrappedAnswer(parsed as Record<string, unknown>);
      return { status: response.status, body: parsed };
    },
  };
}

/** " to <origin>" of a redirect's Location, or nothing when it names none (never its path or query). */
function redirectTarget(location: string | null, base: URL): string {
  if (location === null) return '';
  try {
    const origin = new URL(location, base).origin;
    return origin === 'null' ? '' : ` to ${origin}`;
  } catch {
    return '';
  }
}

function encodePath(path: string): string {
  return path.split('/').map((segment) => encodeURIComponent(segment)).join('/');
}

function errorsOf(body: unknown): string[] {
  if (body && typeof body === 'object' && Array.isArray((body as { errors?: unknown }).errors)) {
    return ((body as { errors: unknown[] }).errors).map((e) => String(e));
  }
  return [];
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'request timed out';
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  // undici refuses some ports outright (the fetch spec's "bad port" list) with a message, no code.
  if (cause && typeof cause.message === 'string' && cause.message.length < 80) return cause.message;
  return 'connection failed';
}
