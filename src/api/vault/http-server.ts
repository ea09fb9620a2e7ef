/**
 * The Vault-compatible HTTP API: `/v1/*` in Vault's wire format.
 *
 * Owns the wire details clients rely on (envelope, raw sys bodies, 204 for empty responses,
 * legacy top-level copies of `data`, `{"errors": []}` for a missing path, status codes) and
 * nothing else: every enveloped call goes through the core's request handler.
 *
 * Connections are accepted by a net.Server and wrapped (list-method.ts) so the custom LIST
 * method reaches fastify as `GET ?list=true`.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CofferError, isCofferError } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import type { Lifecycle } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { ApiRequest, RequestHandler, RequestVerb } from '../../core/request-handler.js';
import { normalizeRequestPath } from '../../core/router/path.js';
import { parseJsonBody, DEFAULT_JSON_LIMITS, type JsonLimits } from './json-body.js';
import { wrapSocketForListMethod } from './list-method.js';
import { longPoll, parseWatchQuery, serveEventStream } from './watch.js';
import type { EventBus } from '../../core/events/event-bus.js';
import type { WatchAccess } from '../../core/events/watch-access.js';
import { rawSysHandler } from './raw-sys.js';
import { VAULT_STATUS } from './status.js';

export interface VaultHttpApiOptions {
  handler: RequestHandler;
  lifecycle: Lifecycle;
  logger: Logger;
  clock: { now(): number };
  version: string;
  /** Bytes; larger bodies get 413. */
  maxRequestBytes?: number;
  jsonLimits?: JsonLimits;
  events: EventBus;
  watchAccess: WatchAccess;
}

export interface VaultHttpApi {
  listen(host: string, port: number): Promise<AddressInfo>;
  close(): Promise<void>;
  /** For tests and benchmarks that drive the fastify instance directly. */
  readonly fastify: FastifyInstance;
}

/** Routes whose `data` Vault also copies to the top level for old clients. */
const LEGACY_TOP_LEVEL = [
  /^sys\/audit$/, /^sys\/audit-hash\//, /^sys\/auth$/, /^sys\/auth\//, /^sys\/capabilities(-self|-accessor)?$/,
  /^sys\/key-status$/, /^sys\/mounts$/, /^sys\/mounts\//, /^sys\/policy$/, /^sys\/policy\//, /^sys\/rotate$/,
];

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;

const TRUE_WORDS: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

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

function verbFor(method: string, query: Record<string, unknown>): RequestVerb | undefined {
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

function tokenFrom(request: FastifyRequest): string | undefined {
  const header = request.headers['x-vault-token'];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string' && /^bearer\s+/i.test(authorization)) return authorization.replace(/^bearer\s+/i, '');
  return undefined;
}

function queryData(query: Record<string, unknown>): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    if (key === 'list' || key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    data[key] = value;
  }
  return data;
}

export function createVaultHttpApi(options: VaultHttpApiOptions): VaultHttpApi {
  const { handler, lifecycle, logger } = options;
  const maxRequestBytes = options.maxRequestBytes ?? 32 * 1024 * 1024;
  const jsonLimits = options.jsonLimits ?? DEFAULT_JSON_LIMITS;
  let httpServer: HttpServer | undefined;

  const app = Fastify({
    logger: false,
    exposeHeadRoutes: false,
    bodyLimit: maxRequestBytes,
    routerOptions: { maxParamLength: 8192 },
    // Fastify's own answers to a malformed or overlong URL echo the URL back in its own body
    // shape; answer in Vault's, with nothing of the request in it.
    frameworkErrors: (error, _request, reply) => {
      const tooLong = (error as { code?: unknown }).code === 'FST_ERR_MAX_PARAM_LENGTH';
      return (reply as unknown as FastifyReply)
        .code(tooLong ? 414 : 400)
        .headers(JSON_HEADERS)
        .send({ errors: [tooLong ? 'request path too long' : 'invalid request path'] });
    },
    // Requests node's parser refuses (malformed, headers over 16 KiB, timed out) never reach a
    // route; answer them in Vault's error shape too, then close the connection as node does.
    clientErrorHandler: (error, socket) => {
      const code = (error as { code?: unknown }).code;
      if (code === 'ECONNRESET' || socket.destroyed) return;
      const [status, reason, message] =
        code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'request timed out']
          : code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'Request Header Fields Too Large', 'request headers too large']
            : [400, 'Bad Request', 'malformed HTTP request'];
      const body = JSON.stringify({ errors: [message] });
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
      socket.destroy(error);
    },
    serverFactory: (dispatch: (req: IncomingMessage, res: ServerResponse) => void) => {
      httpServer = createHttpServer({ keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 120_000 }, dispatch);
      return httpServer;
    },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxRequestBytes }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer, jsonLimits));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  const sendError = (reply: FastifyReply, error: unknown): FastifyReply => {
    if (isCofferError(error)) {
      if (error.code === 'internal' || error.code === 'audit_failed') {
        logger.error('request failed', { code: error.code, error: error.message, cause: error.cause instanceof Error ? error.cause.message : undefined });
      }
      const status = VAULT_STATUS[error.code];
      const errors = error.message === '' ? [] : [error.message];
      return reply.code(status).headers(JSON_HEADERS).send(error.data === undefined ? { errors } : { errors, data: error.data });
    }
    const fastifyCode = (error as { code?: unknown; statusCode?: unknown }).code;
    if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).headers(JSON_HEADERS).send({ errors: ['request body too large'] });
    }
    const statusCode = (error as { statusCode?: unknown }).statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      // Framework-level client errors (malformed request, aborted body): generic text only.
      return reply.code(statusCode).headers(JSON_HEADERS).send({ errors: ['invalid request'] });
    }
    // Unexpected errors are bugs: log where they came from. Coffer's own code never puts a
    // secret in an exception; the client still gets only a generic message.
    logger.error('internal error handling request', {
      error: error instanceof Error ? `${error.name}: ${error.message}` : typeof error,
      stack: error instanceof Error ? error.stack : undefined,
    });
    return reply.code(500).headers(JSON_HEADERS).send({ errors: ['internal error'] });
  };

  app.setErrorHandler((error, _request, reply) => sendError(reply, error));
  app.setNotFoundHandler((request, reply) => {
    // Every path under /v1/ is routed for the methods Vault knows, so a miss there is a method
    // Vault answers with 405 (OPTIONS, TRACE, …).
    if ((request.raw.url ?? '').startsWith('/v1/')) {
      return reply.code(405).headers(JSON_HEADERS).send({ errors: ['unsupported operation'] });
    }
    return reply.code(404).headers(JSON_HEADERS).send({ errors: [] });
  });

  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'],
    url: '/v1/*',
    handler: async (request, reply) => {
      const query = (request.query ?? {}) as Record<string, unknown>;
      const rawUrl = request.raw.url ?? '';
      const rawPath = rawUrl.slice('/v1/'.length).split('?')[0] as string;
      const path = normalizeRequestPath(rawPath);
      const verb = verbFor(request.method, query);
      if (!verb) throw new CofferError('unsupported_operation', 'unsupported operation');
      const body = verb === 'write' || verb === 'patch' || verb === 'delete' ? ((request.body as Record<string, unknown> | undefined) ?? {}) : {};

      if (request.headers['x-vault-wrap-ttl'] !== undefined) throw new CofferError('bad_request', 'response wrapping is not supported');

      const isSys = path.startsWith('sys/');
      const raw = isSys ? rawSysHandler(path.replace(/\/$/, ''), { lifecycle, version: options.version, clock: options.clock }) : undefined;
      if (raw) {
        const result = await raw(verb, query, body);
        reply.code(result.status).headers(JSON_HEADERS);
        return request.method === 'HEAD' ? reply.send() : reply.send(result.body);
      }
      if (request.method === 'HEAD') throw new CofferError('unsupported_operation', 'unsupported operation');

      const bare = path.replace(/\/$/, '');
      if (isSys && (bare === 'sys/watch' || bare === 'sys/watch/poll') && verb === 'read') {
        const token = tokenFrom(request);
        const watch = parseWatchQuery(query, typeof request.headers['last-event-id'] === 'string' ? request.headers['last-event-id'] : undefined);
        // The pipeline authorises and audits opening the watch.
        await handler({ requestId: uuid(), verb, path: bare, data: queryData(query), clientToken: token, remoteAddress: request.socket.remoteAddress ?? '' });
        const access = token ? await options.watchAccess.forToken(token) : undefined;
        if (!access) throw new CofferError('permission_denied', 'permission denied');
        if (bare === 'sys/watch') return serveEventStream(reply, options.events, access, watch);
        const gone = new AbortController();
        const abort = (): void => gone.abort();
        const socket = request.raw.socket;
        socket.once('close', abort);
        let data: Record<string, unknown>;
        try {
          data = await longPoll(options.events, access, watch, gone.signal);
        } finally {
          // Keep-alive connections carry many polls: do not pile up one listener per poll.
          socket.off('close', abort);
        }
        return reply.code(200).headers(JSON_HEADERS).send({ request_id: uuid(), lease_id: '', renewable: false, lease_duration: 0, data, wrap_info: null, warnings: null, auth: null });
      }

      const apiRequest: ApiRequest = {
        requestId: uuid(),
        verb,
        path,
        data: verb === 'read' || verb === 'list' ? queryData(query) : body,
        clientToken: tokenFrom(request),
        remoteAddress: request.socket.remoteAddress ?? '',
      };
      const { response, mountType } = await handler(apiRequest);
      if (response === null || (response.data == null && !response.auth && !response.warnings && !response.statusCode && !response.lease)) {
        return reply.code(204).headers({ 'cache-control': 'no-store' }).send();
      }
      const status = response.statusCode ?? 200;
      if (status >= 400) {
        return reply.code(status).headers(JSON_HEADERS).send({ errors: response.errors ?? [], data: response.data ?? null });
      }
      const envelope: Record<string, unknown> = {
        request_id: apiRequest.requestId,
        lease_id: response.lease?.id ?? '',
        renewable: response.lease?.renewable ?? false,
        lease_duration: response.lease?.duration ?? 0,
        data: response.data ?? null,
        wrap_info: null,
        warnings: response.warnings && response.warnings.length > 0 ? response.warnings : null,
        auth: response.auth ?? null,
        mount_type: mountType ?? '',
      };
      if (isSys && response.data && LEGACY_TOP_LEVEL.some((pattern) => pattern.test(bare))) {
        return reply.code(status).headers(JSON_HEADERS).send({ ...response.data, ...envelope });
      }
      return reply.code(status).headers(JSON_HEADERS).send(envelope);
    },
  });

  let netServer: NetServer | undefined;
  // Tracked here because node:http does not see the raw sockets behind the LIST wrappers.
  const sockets = new Set<Socket>();

  return {
    fastify: app,
    async listen(host, port) {
      await app.ready();
      const server = httpServer as HttpServer;
      netServer = createNetServer((socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        server.emit('connection', wrapSocketForListMethod(socket));
      });
      const listening = netServer;
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(port, host, () => {
          listening.off('error', reject);
          resolve();
        });
      });
      return listening.address() as AddressInfo;
    },
    async close() {
      await new Promise<void>((resolve) => {
        if (!netServer) return resolve();
        netServer.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      await app.close();
    },
  };
}
