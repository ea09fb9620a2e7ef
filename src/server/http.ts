/**
 * The HTTP listener for a core: the Vault API on `/v1/*` and, when `aws` is given, the AWS
 * Secrets Manager protocol (`POST /`) on the same port. Owns the node:http server itself:
 * timeouts, the LIST request-line rewriter, the answers to requests node's parser refuses, and
 * closing without cutting off a response (graceful-close.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { chmodSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { leaveBodyUnread, sendJson, setForwardedClientAddress } from '../api/http-io.js';
import { CLIENT_ADDRESS_HEADER, HOP_KEY_HEADER } from './replicas/forward.js';
import type { Duplex } from 'node:stream';
import { createVaultRequestListener, sendVaultNotFound, type VaultApiOptions } from '../api/vault/request-listener.js';
import { rewriteListRequestsOn } from '../api/vault/list-method.js';
import { endQueuedResponsesNow } from '../api/response-coalescer.js';
import { inArrivalOrder } from './in-arrival-order.js';
import { withForwardedFor, type ForwardedForSettings } from './forwarded-for.js';
import { trackForGracefulClose, type GracefulClose } from './graceful-close.js';
import type { HttpTimeouts } from '../config.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { RequestHandler } from '../core/request-handler.js';
import { REPORTED_VERSION } from '../version.js';
import type { EventBus } from '../core/events/event-bus.js';
import type { WatchAccess } from '../core/events/watch-access.js';
import type { WatchSlots } from '../core/events/watch-slots.js';
import { createAwsRequestListener, type AwsProtocolDeps } from '../api/aws/protocol.js';

export interface HttpApi {
  listen(host: string, port: number): Promise<AddressInfo>;
  /**
   * The private listener HTTP replica processes forward requests to: a Unix socket (mode 0600)
   * on which a request's client address is the one the replica names (CLIENT_ADDRESS_HEADER).
   */
  /** Listens for requests forwarded by replicas, each carrying `hopKey` (forward.ts). */
  listenInternal(socketPath: string, hopKey: string): Promise<void>;
  /**
   * Shutdown, first step: no new connection is accepted; idle keep-alive connections close at
   * once, the others once their current response has been written. The internal listener stays
   * open: replicas still forward the requests they took.
   */
  stopAccepting(): void;
  /**
   * Waits at most `graceMs` (default 0) for the open connections to end, public and internal,
   * then closes what is left and the internal listener.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * The node:http options every Coffer HTTP server runs with, public or private, primary or
 * replica, from Vault's three listener timeouts (config.ts).
 *
 * - `headersTimeout` / `requestTimeout` are Go's ReadHeaderTimeout / ReadTimeout: both run from
 *   the connection's start (for its first request) or the request's first byte (for the next
 *   ones) to the end of the headers / of the body. Node stops timing a request once its body has
 *   been received, so a response that lasts (an event stream of sys/watch) is never cut by them.
 *   The LIST rewriter holds a head back from node until it is complete, and times it itself.
 * - `keepAliveTimeout` is Go's IdleTimeout: node arms it when a response has been written and
 *   the connection waits for the next request, and closes the connection when nothing arrives.
 *   An open event stream has not finished its response, so it is not idle either.
 * - `connectionsCheckingInterval`: node checks the two read deadlines only this often (30 s by
 *   default, which would let a 10 s header deadline run to 40 s). The check walks only the
 *   connections with a request being read, so once a second costs little.
 */
function serverOptions(timeouts: HttpTimeouts): ServerOptions {
  return {
    headersTimeout: timeouts.readHeader * 1000,
    requestTimeout: timeouts.read * 1000,
    keepAliveTimeout: timeouts.idle * 1000,
    connectionsCheckingInterval: 1000,
  };
}

/**
 * A node:http server for `listener` with Coffer's timeouts, the LIST request-line rewriter and
 * Vault-shaped answers to requests node's parser refuses. Exported for the replica processes.
 */
/** The hop key is a fixed-length random hex string: its length tells nothing, its bytes are compared in constant time. */
function sameKey(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createApiServer(timeouts: HttpTimeouts, listener: (req: IncomingMessage, res: ServerResponse) => void): { server: Server; graceful: GracefulClose } {
  const server: Server = createServer(serverOptions(timeouts), (req, res) => {
    graceful.markIfClosing(res);
    listener(req, res);
  });
  const graceful = trackForGracefulClose(server);
  rewriteListRequestsOn(server, timeouts.readHeader * 1000);
  server.on('clientError', answerClientError);
  return { server, graceful };
}

/**
 * Hands connections accepted by a listener that never read from them to `server`. node:http
 * starts its request-timeout checks when the server emits 'listening', which a server that does
 * not listen itself never does; it is emitted here once so those checks run.
 */
export function adoptConnections(server: Server): (socket: Socket) => void {
  server.emit('listening');
  return (socket) => {
    server.emit('connection', socket);
    socket.resume();
  };
}

async function listenOn(server: NetServer, ...args: [number, string] | [string]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(...(args as [number, string]), () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Requests node's parser refuses (malformed, headers over 16 KiB, timed out) never reach a
 * listener; answer them in Vault's error shape too, with nothing of the request in it, then
 * close the connection as node does. As node does too, nothing is written when a response has
 * begun on the connection (a pipelined request timed out behind an event stream): bytes after
 * its start would corrupt it, so the connection is only closed.
 */
function answerClientError(error: Error & { code?: unknown }, socket: Duplex): void {
  const code = error.code;
  if (code === 'ECONNRESET' || socket.destroyed) return;
  // node:http's own handle on the response the socket is writing (what its default handler checks).
  const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (current?.headersSent) {
    socket.destroy(error);
    return;
  }
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
}

export function createHttpApiForCore(deps: {
  handler: RequestHandler;
  lifecycle: Lifecycle;
  logger: Logger;
  clock: { now(): number };
  maxRequestBytes: number;
  /** Read and idle deadlines of the public listener and of the internal one alike. */
  timeouts: HttpTimeouts;
  events: EventBus;
  watchAccess: WatchAccess;
  /** Open watches per token; without it, the listener's default cap. */
  watchSlots?: WatchSlots;
  /** Rate limit quotas for the Vault API. */
  quotas?: VaultApiOptions['quotas'];
  /** Trusted proxies (X-Forwarded-For) on the public listener; never on the replicas' internal one. */
  forwardedFor?: ForwardedForSettings;
  /** AWS Secrets Manager protocol; absent = the listener speaks only the Vault API. */
  aws?: Pick<AwsProtocolDeps, 'keys' | 'isSealed' | 'ensureMount' | 'rotators'>;
  /**
   * HTTP replica processes: offered each new public connection before anything is read from
   * it; true = a replica took it. Absent = this process serves every connection.
   */
  distribute?: (socket: Socket) => boolean;
}): HttpApi {
  const { aws, distribute, timeouts, forwardedFor, ...vault } = deps;
  // Every request is admitted to the core once its body is read, so a seal waits for it.
  const admit = (): (() => void) => deps.lifecycle.admit();
  const vaultListener = createVaultRequestListener({ ...vault, admit, version: REPORTED_VERSION });
  const awsListener = aws
    ? createAwsRequestListener({ ...aws, admit, handler: deps.handler, clock: deps.clock, logger: deps.logger, maxRequestBytes: deps.maxRequestBytes, ...(deps.quotas ? { quotas: deps.quotas } : {}) })
    : undefined;

  const dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    if (url.startsWith('/v1/')) return vaultListener(req, res);
    if (awsListener && req.method === 'POST' && (url === '/' || url.startsWith('/?'))) return awsListener(req, res);
    sendVaultNotFound(res);
  };
  const { server, graceful } = createApiServer(timeouts, inArrivalOrder(withForwardedFor(forwardedFor, dispatch)));
  // Only replicas connect here (the socket is 0600 in a private directory), so the client
  // address they name is taken as the request's.
  const { server: internal, graceful: internalGraceful } = createApiServer(
    timeouts,
    inArrivalOrder((req, res) => {
      // Only a request a replica sent is believed: a request framed so that the primary read
      // it out of another's body (smuggled) would not carry the key, and is refused unread.
      const key = req.headers[HOP_KEY_HEADER];
      delete req.headers[HOP_KEY_HEADER];
      if (internalHopKey === undefined || typeof key !== 'string' || !sameKey(key, internalHopKey)) {
        leaveBodyUnread(req);
        // Whatever sent it, the connection's framing cannot be trusted past this request.
        res.setHeader('connection', 'close');
        sendJson(res, 400, { errors: ['request not forwarded by a replica of this server'] });
        return;
      }
      const named = req.headers[CLIENT_ADDRESS_HEADER];
      if (typeof named === 'string') setForwardedClientAddress(req, named);
      delete req.headers[CLIENT_ADDRESS_HEADER];
      dispatch(req, res);
    }),
  );
  let front: NetServer | undefined;
  let internalPath: string | undefined;
  let internalHopKey: string | undefined;

  /**
   * Stops accepting. Resolves once the listener has closed; for the front of replicas, at once:
   * node's callback would also wait for the connections handed to replicas, which end only
   * when the replicas do. This process's own connections are followed by graceful-close.ts.
   */
  const stopListening = (listening: NetServer): Promise<void> => {
    if (!listening.listening) return Promise.resolve();
    if (listening === front) {
      listening.close();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => listening.close(() => resolve()));
  };
  let publicClosed: Promise<void> | undefined;
  const stopPublic = (): Promise<void> => (publicClosed ??= stopListening(front ?? server));

  return {
    async listen(host, port) {
      if (!distribute) {
        await listenOn(server, port, host);
        return server.address() as AddressInfo;
      }
      // Paused on accept, so a connection a replica takes was never read here.
      const adopt = adoptConnections(server);
      front = createNetServer({ pauseOnConnect: true }, (socket) => {
        if (!distribute(socket)) adopt(socket);
      });
      await listenOn(front, port, host);
      return front.address() as AddressInfo;
    },
    async listenInternal(socketPath, hopKey) {
      internalHopKey = hopKey;
      await listenOn(internal, socketPath);
      internalPath = socketPath;
      chmodSync(socketPath, 0o600);
    },
    stopAccepting() {
      void stopPublic();
      graceful.begin();
    },
    async close(graceMs = 0) {
      const listenerClosed = stopPublic();
      // Answers already computed this turn go out before their connections end.
      endQueuedResponsesNow();
      const started = Date.now();
      await graceful.finish(graceMs);
      await listenerClosed;
      const internalClosed = stopListening(internal);
      await internalGraceful.finish(Math.max(0, graceMs - (Date.now() - started)));
      await internalClosed;
      if (internalPath !== undefined) rmSync(internalPath, { force: true });
    },
  };
}
