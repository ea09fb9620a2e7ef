/**
 * The HTTP listener for a core: the Vault API on `/v1/*` and, when `aws` is given, the AWS
 * Secrets Manager protocol (`POST /`) on the same port. Owns the node:http server itself:
 * timeouts, the LIST request-line rewriter, and the answers to requests node's parser refuses.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createVaultRequestListener, sendVaultNotFound } from '../api/vault/request-listener.js';
import { rewriteListRequestsOn } from '../api/vault/list-method.js';
import { endQueuedResponsesNow } from '../api/response-coalescer.js';
import { inArrivalOrder } from './in-arrival-order.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { RequestHandler } from '../core/request-handler.js';
import { COFFER_VERSION } from '../version.js';
import type { EventBus } from '../core/events/event-bus.js';
import type { WatchAccess } from '../core/events/watch-access.js';
import { createAwsRequestListener, type AwsProtocolDeps } from '../api/aws/protocol.js';

export interface HttpApi {
  listen(host: string, port: number): Promise<AddressInfo>;
  close(): Promise<void>;
}

/**
 * Requests node's parser refuses (malformed, headers over 16 KiB, timed out) never reach a
 * listener; answer them in Vault's error shape too, with nothing of the request in it, then
 * close the connection as node does.
 */
function answerClientError(error: Error & { code?: unknown }, socket: Duplex): void {
  const code = error.code;
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
}

export function createHttpApiForCore(deps: {
  handler: RequestHandler;
  lifecycle: Lifecycle;
  logger: Logger;
  clock: { now(): number };
  maxRequestBytes: number;
  events: EventBus;
  watchAccess: WatchAccess;
  /** AWS Secrets Manager protocol; absent = the listener speaks only the Vault API. */
  aws?: Pick<AwsProtocolDeps, 'keys' | 'isSealed' | 'ensureMount' | 'rotators'>;
}): HttpApi {
  const { aws, ...vault } = deps;
  const vaultListener = createVaultRequestListener({ ...vault, version: COFFER_VERSION });
  const awsListener = aws
    ? createAwsRequestListener({ ...aws, handler: deps.handler, clock: deps.clock, logger: deps.logger, maxRequestBytes: deps.maxRequestBytes })
    : undefined;

  const listener = inArrivalOrder((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/v1/')) return vaultListener(req, res);
    if (awsListener && req.method === 'POST' && (url === '/' || url.startsWith('/?'))) return awsListener(req, res);
    sendVaultNotFound(res);
  });
  const server: Server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 60_000, requestTimeout: 120_000 }, listener);
  rewriteListRequestsOn(server);
  server.on('clientError', answerClientError);

  return {
    async listen(host, port) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return server.address() as AddressInfo;
    },
    async close() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Answers already computed this turn go out before their connections are dropped.
      endQueuedResponsesNow();
      // Event streams and idle keep-alive connections would hold close() open.
      server.closeAllConnections();
      await closed;
    },
  };
}
