/**
 * The Vault-compatible HTTP API: `/v1/*` in Vault's wire format, as a node:http request listener.
 *
 * Owns the wire details clients rely on (envelope, raw sys bodies, 204 for empty responses,
 * legacy top-level copies of `data`, `{"errors": []}` for a missing path, status codes) and
 * nothing else: every enveloped call goes through the core's request handler. LIST arrives here
 * already rewritten to `GET ?list=true` (list-method.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import { CofferError, isCofferError } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import type { Lifecycle } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { ApiRequest, RequestHandler, RequestVerb } from '../../core/request-handler.js';
import { normalizeRequestPath } from '../../core/router/path.js';
import type { EventBus } from '../../core/events/event-bus.js';
import type { WatchAccess } from '../../core/events/watch-access.js';
import { createWatchSlots, DEFAULT_MAX_WATCHES_PER_TOKEN, type WatchSlots } from '../../core/events/watch-slots.js';
import { clientAddressOf, JSON_HEADERS, leaveBodyUnread, readBody, sendEmpty, sendJson } from '../http-io.js';
import { parseJsonBody, DEFAULT_JSON_LIMITS, type JsonLimits } from './json-body.js';
import { isFormBody, parseFormBody } from './form-body.js';
import { longPoll, parseWatchQuery, serveEventStream } from './watch.js';
import { rawSysHandler } from './raw-sys.js';
import { VAULT_STATUS } from './status.js';
import { isEmptyResponse } from '../../core/router/engine.js';
import { responseEnvelope } from '../../core/response-envelope.js';
import { wrapTtlFrom } from './wrap-header.js';
import { refuseRecordWrite } from '../aws/record-guard.js';
import type { QuotaCheck, QuotaStore } from '../../core/quotas/quota-store.js';

export interface VaultApiOptions {
  handler: RequestHandler;
  /**
   * Admits a request to the core once its body is read (Lifecycle.admit): throws 'sealed' once a
   * seal has begun; the release is called once the answer is queued. The raw sys endpoints
   * (seal-status, unseal, …) are not admitted: they must answer while sealed, and sealing.
   */
  admit(): () => void;
  lifecycle: Lifecycle;
  logger: Logger;
  clock: { now(): number };
  version: string;
  /** Bytes; larger bodies get 413. */
  maxRequestBytes?: number;
  jsonLimits?: JsonLimits;
  events: EventBus;
  watchAccess: WatchAccess;
  /** Open watches per token and on the server (config `max_watches_per_token`, `max_watches`); defaults in watch-slots.ts. */
  watchSlots?: WatchSlots;
  /**
   * Set in an HTTP replica process (src/server/replicas/): `accepts` says which requests this
   * process answers itself; every other one, and every one whose handling fails here, goes to
   * the primary through `forward` unanswered (a replica only keeps bodiless reads, so nothing
   * of such a request has been consumed or done).
   */
  delegate?: ReplicaDelegate;
  /** Rate limit quotas (src/core/quotas): checked before a request is read, routed or audited. */
  quotas?: Pick<QuotaStore, 'active' | 'check'>;
}

export interface ReplicaDelegate {
  accepts(method: string, verb: RequestVerb, path: string): boolean;
  forward(req: IncomingMessage, res: ServerResponse): void;
}

/** A request body as data: a form when Vault would read it as one (form-body.ts), JSON otherwise. */
function parseBody(contentType: string | undefined, raw: Buffer, limits: JsonLimits): Record<string, unknown> {
  return isFormBody(contentType, raw) ? parseFormBody(raw, limits) : parseJsonBody(raw, limits);
}

/** Longer raw paths get 414 before any decoding or routing work. */
const MAX_PATH_BYTES = 8192;

/** Routes whose `data` Vault also copies to the top level for old clients. */
const LEGACY_TOP_LEVEL = [
  /^sys\/audit$/, /^sys\/audit-hash\//, /^sys\/auth$/, /^sys\/auth\//, /^sys\/capabilities(-self|-accessor)?$/,
  /^sys\/key-status$/, /^sys\/mounts$/, /^sys\/mounts\//, /^sys\/policy$/, /^sys\/policy\//, /^sys\/rotate$/,
];

const NO_STORE = { 'cache-control': 'no-store' } as const;

const TRUE_WORDS: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

type Query = Record<string, string | string[]>;

/**
 * The `list` query flag as Vault reads it: the first value of the parameter, parsed like Go's
 * strconv.ParseBool; anything else is a 400. A LIST request arrives here with list=true first.
 */
function listFlag(raw: unknown): boolean {
  const first: unknown = Array.isArray(raw) ? raw[0] : raw;
  if (first === undefined || first === '') return false;
  if (typeof first === 'string' && TRUE_WORDS.has(first)) return true;
  if (typeof first === 'string' && FALSE_WORDS.has(first)) return false;
  throw new CofferError('bad_request', 'invalid value for the list parameter: use true or false');
}

/** Vault's `?help=1`: any non-empty first value asks for help instead of the operation. */
function helpRequested(raw: unknown): boolean {
  const first: unknown = Array.isArray(raw) ? raw[0] : raw;
  return typeof first === 'string' && first !== '';
}

function verbFor(method: string | undefined, query: Query): RequestVerb | undefined {
  const known = method === 'GET' || method === 'HEAD' || method === 'POST' || method === 'PUT' || method === 'DELETE' || method === 'PATCH';
  // Before anything else, as Vault: a `DELETE ...?help=1` describes the delete, never runs it.
  if (known && method !== 'HEAD' && helpRequested(query.help)) return 'help';
  switch (method) {
    case 'GET':
    case 'HEAD':
      return listFlag(query.list) ? 'list' : 'read';
    case 'POST':
    case 'PUT':
      return 'write';
    case 'DELETE':
      return 'delete';
    case 'PATCH':
      return 'patch';
    default:
      return undefined;
  }
}

/**
 * As Vault: a PATCH body is a JSON merge patch (RFC 7396), and must say so. Only the media type
 * before any parameters matters, which is all this reads (a full media-type parser would add a
 * dependency to check one token).
 */
function requireMergePatch(header: string | undefined): void {
  const mediaType = (header ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(mediaType)) {
    throw new CofferError('bad_request', 'PATCH requires a Content-Type header of application/merge-patch+json');
  }
  if (mediaType !== 'application/merge-patch+json') {
    throw new CofferError('unsupported_media_type', `PATCH requires Content-Type of application/merge-patch+json, got "${mediaType}"`);
  }
}

function tokenFrom(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string' && /^bearer\s+/i.test(authorization)) return authorization.replace(/^bearer\s+/i, '');
  return undefined;
}

/** The query as request data: everything but the `list` flag. The object has no prototype. */
function queryData(query: Query): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const key of Object.keys(query)) {
    if (key === 'list' || key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    data[key] = query[key];
  }
  return data;
}

/**
 * A request's data: the body for writes and patches, the query for reads and lists. A DELETE
 * has both: Vault reads its data from the query (`vault delete PATH k=v`, the Go client's
 * DeleteWithData send it there); a body Coffer also accepts wins where both name a field.
 */
function requestData(verb: RequestVerb, query: Query, body: Record<string, unknown>): Record<string, unknown> {
  switch (verb) {
    case 'write':
    case 'patch':
      return body;
    case 'delete':
      return { ...queryData(query), ...body };
    default:
      return queryData(query);
  }
}

/** Splits `/v1/<path>?<query>` into the raw path and the parsed query (null-prototype). */
function splitTarget(url: string): { rawPath: string; query: Query } {
  const mark = url.indexOf('?');
  if (mark === -1) return { rawPath: url.slice('/v1/'.length), query: {} };
  return { rawPath: url.slice('/v1/'.length, mark), query: parseQueryString(url.slice(mark + 1)) as Query };
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Vault's X-Ratelimit-* headers (sys/quotas/config enable_rate_limit_response_headers). */
function setRateLimitHeaders(res: ServerResponse, check: QuotaCheck): void {
  res.setHeader('x-ratelimit-limit', String(check.decision.limit));
  res.setHeader('x-ratelimit-remaining', String(check.decision.remaining));
  res.setHeader('x-ratelimit-reset', String(check.decision.resetSeconds));
}

/** The listener for every request whose path starts with `/v1/`. */
export function createVaultRequestListener(options: VaultApiOptions): RequestListener {
  const { handler, lifecycle, logger, delegate, admit } = options;
  const maxRequestBytes = options.maxRequestBytes ?? 32 * 1024 * 1024;
  const jsonLimits = options.jsonLimits ?? DEFAULT_JSON_LIMITS;
  const watchSlots = options.watchSlots ?? createWatchSlots({ maxPerToken: DEFAULT_MAX_WATCHES_PER_TOKEN });

  const sendError = (res: ServerResponse, error: unknown): void => {
    if (isCofferError(error)) {
      if (error.code === 'internal' || error.code === 'audit_failed') {
        logger.error('request failed', { code: error.code, error: error.message, cause: error.cause instanceof Error ? error.cause.message : undefined });
      }
      const errors = error.message === '' ? [] : [error.message];
      sendJson(res, VAULT_STATUS[error.code], error.data === undefined ? { errors } : { errors, data: error.data });
      return;
    }
    // Unexpected errors are bugs: log where they came from. Coffer's own code never puts a
    // secret in an exception; the client still gets only a generic message.
    logger.error('internal error handling request', {
      error: error instanceof Error ? `${error.name}: ${error.message}` : typeof error,
      stack: error instanceof Error ? error.stack : undefined,
    });
    sendJson(res, 500, { errors: ['internal error'] });
  };

  /**
   * A watch holds its admission only while it is authorised and set up, never while it waits:
   * a seal must not wait for it. Both forms register to end at the seal (EventBus.onEndStreams)
   * before the admission is released, so the seal, which waits for that release, ends them.
   */
  const watch = async (req: IncomingMessage, res: ServerResponse, path: string, query: Query): Promise<void> => {
    const token = tokenFrom(req);
    const lastEventId = req.headers['last-event-id'];
    const request = parseWatchQuery(query, typeof lastEventId === 'string' ? lastEventId : undefined);
    const gone = new AbortController();
    const abort = (): void => gone.abort();
    const socket = req.socket;
    let stopOnSeal: (() => void) | undefined;
    let freeSlot: () => void = () => undefined;
    let poll: Promise<Record<string, unknown>>;
    const release = admit();
    try {
      // The pipeline authorises and audits opening the watch.
      await handler({ requestId: uuid(), verb: 'read', path, data: queryData(query), clientToken: token, remoteAddress: clientAddressOf(req) });
      const access = token ? await options.watchAccess.forToken(token) : undefined;
      if (!access) throw new CofferError('permission_denied', 'permission denied');
      const slot = watchSlots.take(access.holder);
      if (slot === 'token') {
        throw new CofferError(
          'rate_limited',
          `too many open watches for this token: at most ${watchSlots.maxPerToken} event streams and long polls at once; close one, or retry later`,
        );
      }
      if (slot === 'server') {
        throw new CofferError('rate_limited', `too many open watches on this server: at most ${watchSlots.maxTotal} at once (max_watches); retry later`);
      }
      freeSlot = slot;
      // Whichever way the watch ends (the client goes, the stream is cut off or ended, the poll
      // is answered), its slot is freed. A client gone while the watch was being authorised has
      // fired 'close' already: nothing is served, or its slot (and subscription) would never free.
      res.once('close', slot);
      if (res.destroyed) {
        slot();
        return;
      }
      if (path === 'sys/watch') {
        serveEventStream(res, options.events, access, request);
        return;
      }
      // A long poll in progress at a seal (or shutdown) is answered at once, as at its timeout.
      socket.once('close', abort);
      stopOnSeal = options.events.onEndStreams(abort);
      poll = longPoll(options.events, access, request, gone.signal);
    } finally {
      release();
    }
    let data: Record<string, unknown>;
    try {
      data = await poll;
    } finally {
      // Keep-alive connections carry many polls: do not pile up one listener per poll.
      socket.off('close', abort);
      stopOnSeal?.();
      freeSlot();
    }
    sendJson(res, 200, { request_id: uuid(), lease_id: '', renewable: false, lease_duration: 0, data, wrap_info: null, warnings: null, auth: null });
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '';
    const { rawPath, query } = splitTarget(url);
    if (rawPath.length > MAX_PATH_BYTES) {
      leaveBodyUnread(req);
      sendJson(res, 414, { errors: ['request path too long'] });
      return;
    }
    // Every path under /v1/ is routed for the methods Vault knows; others get 405 (OPTIONS, TRACE, …).
    const verb = verbFor(req.method, query);
    if (!verb) {
      leaveBodyUnread(req);
      throw new CofferError('unsupported_operation', 'unsupported operation');
    }
    const path = normalizeRequestPath(rawPath);
    // A replica makes no tokens, so it cannot wrap: a request asking for wrapping goes to the primary.
    if (delegate && (req.headers['x-vault-wrap-ttl'] !== undefined || !delegate.accepts(req.method ?? '', verb, path))) {
      delegate.forward(req, res);
      return;
    }
    // Before the body is read and before the core sees it, so a refused request costs neither a
    // parse nor an audit entry (Vault leaves them unaudited by default too).
    const isSys = path.startsWith('sys/');
    const bare = isSys ? path.replace(/\/$/, '') : path;
    const raw = isSys ? rawSysHandler(bare, { lifecycle, version: options.version, clock: options.clock }) : undefined;
    const quota = options.quotas?.active === true ? options.quotas.check(path, clientAddressOf(req)) : undefined;
    if (quota !== undefined) {
      if (quota.headers) setRateLimitHeaders(res, quota);
      if (!quota.decision.allowed) {
        leaveBodyUnread(req);
        // A server that is sealed, or sealing, answers what it would answer without the quota
        // (503, so clients fail over), not 429: admission throws then, and is released at once.
        if (!raw) admit()();
        res.setHeader('retry-after', String(quota.decision.retryAfterSeconds));
        throw new CofferError('rate_limited', `request path "${path}": rate limit quota exceeded`);
      }
    }
    if (verb === 'help') {
      leaveBodyUnread(req);
      // Admitted like any request, so a seal's drain refuses it (503) and waits for it.
      const release = admit();
      let result: Awaited<ReturnType<RequestHandler>>;
      try {
        result = await handler({ requestId: uuid(), verb, path, data: {}, clientToken: tokenFrom(req), remoteAddress: clientAddressOf(req) });
      } finally {
        release();
      }
      // Vault answers help with the bare object, not in the response envelope.
      sendJson(res, 200, result.response?.data ?? {});
      return;
    }
    // Before the body is read, as Vault: a PATCH that is not a merge patch is refused unparsed.
    if (verb === 'patch' && !raw) {
      try {
        requireMergePatch(req.headers['content-type']);
      } catch (error) {
        leaveBodyUnread(req);
        throw error;
      }
    }
    const hasBody = verb === 'write' || verb === 'patch' || verb === 'delete';
    const body = hasBody ? parseBody(req.headers['content-type'], await readBody(req, maxRequestBytes), jsonLimits) : {};

    const wrapTtl = wrapTtlFrom(req.headers);

    if (raw) {
      // sys/init, sys/unseal and the like answer outside the core, which is what wraps.
      if (wrapTtl !== undefined) throw new CofferError('bad_request', `response wrapping is not supported on ${bare}`);
      const result = await raw(verb, query, body);
      sendJson(res, result.status, result.body);
      return;
    }
    if (req.method === 'HEAD') throw new CofferError('unsupported_operation', 'unsupported operation');
    if (isSys && (bare === 'sys/watch' || bare === 'sys/watch/poll') && verb === 'read') {
      if (wrapTtl !== undefined) throw new CofferError('bad_request', `response wrapping is not supported on ${bare}`);
      return watch(req, res, bare, query);
    }

    const data = requestData(verb, query, body);
    // The AWS bookkeeping decides what the purge sweep deletes: the Vault API may not write it.
    refuseRecordWrite({ verb, path, data });
    const apiRequest: ApiRequest = {
      requestId: uuid(),
      verb,
      path,
      data,
      clientToken: tokenFrom(req),
      remoteAddress: clientAddressOf(req),
      // A plain field, not a spread: this literal is built for every request.
      wrapTtl,
    };
    const release = admit();
    let result: Awaited<ReturnType<RequestHandler>>;
    try {
      result = await handler(apiRequest);
    } finally {
      // The answer is queued right after this, before anything else runs (no await between).
      release();
    }
    const { response, mountType } = result;
    if (response?.afterRelease) await response.afterRelease();
    if (response === null || isEmptyResponse(response)) {
      sendEmpty(res, 204, NO_STORE);
      return;
    }
    const status = response.statusCode ?? 200;
    // An error status with data (a deleted KV version's metadata) is Vault's RespondWithStatusCode:
    // the whole envelope under that status. Without data it is an error body.
    if (status >= 400 && (response.errors !== undefined || response.data == null)) {
      sendJson(res, status, { errors: response.errors ?? [] });
      return;
    }
    // sys/wrapping/unwrap: the stored response, exactly as its own request would have got it.
    if (response.rawBody) {
      sendJson(res, status, response.rawBody);
      return;
    }
    const envelope = responseEnvelope(apiRequest.requestId, response, mountType);
    if (isSys && response.data && !response.wrapInfo && LEGACY_TOP_LEVEL.some((pattern) => pattern.test(bare))) {
      sendJson(res, status, { ...response.data, ...envelope });
      return;
    }
    sendJson(res, status, envelope);
  };

  const fail = delegate
    ? (req: IncomingMessage, res: ServerResponse, error: unknown): void => {
        if (res.headersSent) sendError(res, error);
        else delegate.forward(req, res);
      }
    : (_req: IncomingMessage, res: ServerResponse, error: unknown): void => sendError(res, error);

  return (req, res) => {
    serve(req, res).catch((error: unknown) => fail(req, res, error));
  };
}

/** The answer for a path outside `/v1/`: Vault's 404 with an empty error list. */
export function sendVaultNotFound(res: ServerResponse): void {
  sendJson(res, 404, { errors: [] }, JSON_HEADERS);
}
