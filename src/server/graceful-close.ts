/**
 * Closing a node:http server without cutting off a response (SIGTERM, or a replica whose primary
 * is going away): node's own `close()` only stops accepting, and `closeAllConnections()` drops
 * every response in progress with its connection.
 *
 * Once closing has begun: an idle keep-alive connection is closed at once; a response not yet
 * begun says `Connection: close`, so its connection ends after it; a connection whose response
 * was already under way is closed as soon as that response is done. What is still open when
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

export function trackForGracefulClose(server: Server): GracefulClose {
  const sockets = new Set<Socket>();
  const responses = new Set<ServerResponse>();
  let closing = false;
  let whenAllClosed: (() => void) | undefined;

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) whenAllClosed?.();
    });
  });
  // Before the request listener, which may write its answer at once.
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (closing) res.setHeader('connection', 'close');
    responses.add(res);
    res.once('close', () => {
      responses.delete(res);
      // A response that was under way when closing began went out with keep-alive; node marks
      // its connection idle only now.
      if (closing) server.closeIdleConnections();
    });
  });

  const begin = (): void => {
    if (closing) return;
    closing = true;
    for (const res of responses) if (!res.headersSent) res.setHeader('connection', 'close');
    server.closeIdleConnections();
  };

  return {
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
      }
      return clean;
    },
  };
}
