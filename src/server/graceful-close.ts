/**
 * Closing a node:http server without cutting off a response (SIGTERM, or a replica whose primary
 * is going away): node's own `close()` only stops accepting, and `closeAllConnections()` drops
 * every response in progress with its connection.
 *
 * Once closing has begun: an idle keep-alive connection is closed at once; a response not yet
 * begun says `Connection: close`, so its connection ends after it; a connection whose response
 * was already under way is closed as soon as that response is done (within IDLE_SWEEP_MS). What is still open when
 * the grace period ends is closed then.
 *
 * Owns: the set of the server's open connections (listening or adopted, see http.ts
 * adoptConnections). Must never: close a connection while one of its responses is being
 * written, before the grace period is over.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface GracefulClose {
  /**
   * Called by the server's request listener first, for every request: once closing has begun,
   * the response says `Connection: close`. (One boolean test per request: an extra 'request'
   * listener with a 'close' listener on every response cost ~15 % of a KV read's CPU.)
   */
  markIfClosing(res: ServerResponse): void;
  /**
   * From now on connections end after their current response; idle ones close now. Stopping
   * the listener itself is the caller's (it may be another server: a replica's front).
   */
  begin(): void;
  /**
   * begin(), then resolves once every connection has closed, or once `graceMs` have passed,
   * after closing the rest (false: some responses were cut off).
   */
  finish(graceMs: number): Promise<boolean>;
}

/** How often, while closing, connections whose response has ended are looked for and closed. */
const IDLE_SWEEP_MS = 20;

/**
 * The response a connection is writing now. `_httpMessage` is node:http's own link from a
 * socket to its current response (set by assignSocket, cleared by detachSocket); it is not
 * public API, so graceful-close.test.ts checks the behaviour that depends on it against a
 * real server.
 */
function currentResponse(socket: Socket): ServerResponse | undefined {
  const message = (socket as unknown as { _httpMessage?: unknown })._httpMessage;
  return message !== null && typeof message === 'object' ? (message as ServerResponse) : undefined;
}

export function trackForGracefulClose(server: Server): GracefulClose {
  const sockets = new Set<Socket>();
  let closing = false;
  let sweep: NodeJS.Timeout | undefined;
  let whenAllClosed: (() => void) | undefined;

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) {
        clearInterval(sweep);
        whenAllClosed?.();
      }
    });
  });

  const begin = (): void => {
    if (closing) return;
    closing = true;
    // A response not begun yet tells its client not to send another request on the connection,
    // which then ends after it (node:http closes a connection after a Connection: close answer).
    for (const socket of sockets) {
      const res = currentResponse(socket);
      if (res !== undefined && !res.headersSent) res.setHeader('connection', 'close');
    }
    server.closeIdleConnections();
    // A response already under way went out with keep-alive: its connection turns idle once it
    // is done, and is closed by the next sweep.
    if (sockets.size > 0) sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS).unref();
  };

  return {
    markIfClosing(res) {
      if (closing) res.setHeader('connection', 'close');
    },
    begin,
    async finish(graceMs) {
      begin();
      if (sockets.size === 0) return true;
      const allClosed = new Promise<boolean>((resolve) => {
        whenAllClosed = () => resolve(true);
      });
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      });
      const clean = await Promise.race([allClosed, graceOver]);
      clearTimeout(timer);
      if (!clean) {
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        clearInterval(sweep);
      }
      return clean;
    },
  };
}
