/**
 * Handles pipelined requests on one connection one after another, as Vault's Go server does.
 *
 * node:http parses pipelined requests as they arrive and calls the listener for each at once,
 * queueing only their responses. RFC 9112 §9.3.2 allows that only when every request in the
 * sequence is safe: a pipelined `POST secret/data/a` then `GET secret/data/a` would otherwise
 * read before the write commits and answer 404.
 *
 * node:http gives a queued response its socket only when the one before it has finished
 * (`assignSocket`, which emits 'socket'), so a response without a socket marks a request that
 * must wait; the usual, unpipelined request pays one property check. A request whose connection
 * closes while it waits is never handled: its client is gone and nothing of it has run.
 *
 * Waiting requests are bounded per connection: node:http stops reading a connection only once
 * answers pile up unsent, and waiting requests have no answer yet, so a client that pipelines
 * without reading would be parsed and queued without end (a single unauthenticated connection
 * took gigabytes, and node:http's clean-up of the queue when it closed stalled the server for
 * minutes). At MAX_WAITING the connection is paused, as Go's server in effect does by reading
 * the next request only after answering one; it is resumed once its queue has half drained.
 * What was already read when it paused is still parsed: at most one read's worth more.
 *
 * Must never: start a request before every earlier request on its connection has been answered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type HttpListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Requests waiting on one connection before it is no longer read. */
export const MAX_WAITING = 16;

/**
 * node:http's own pause protocol (lib/_http_server.js): it sets `_paused` and pauses a connection
 * whose answers are not being read, pauses its parser after the chunk in hand (socket.pause()
 * alone does not stop a parser that reads the socket directly), and undoes both on 'drain'.
 * The same fields are used here so that the two never undo each other's pause.
 */
type HttpSocket = Socket & { _paused?: boolean; parser?: { resume(): void } | null };

export function inArrivalOrder(listener: HttpListener): HttpListener {
  const waiting = new WeakMap<Socket, number>();
  const pausedHere = new WeakSet<Socket>();

  return (req, res) => {
    if (res.socket !== null) {
      listener(req, res);
      return;
    }
    const socket: HttpSocket = req.socket;
    const count = (waiting.get(socket) ?? 0) + 1;
    waiting.set(socket, count);
    if (count >= MAX_WAITING && socket._paused !== true) {
      pausedHere.add(socket);
      socket._paused = true;
      socket.pause();
    }
    res.once('socket', () => {
      const left = (waiting.get(socket) ?? 1) - 1;
      waiting.set(socket, left);
      // Not while answers wait to be sent: then node:http wants it paused, and resumes it itself.
      if (left <= MAX_WAITING / 2 && pausedHere.delete(socket) && socket._paused === true && !socket.writableNeedDrain) {
        socket._paused = false;
        socket.parser?.resume();
        socket.resume();
      }
      listener(req, res);
    });
  };
}
