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
 * Must never: start a request before every earlier request on its connection has been answered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type HttpListener = (req: IncomingMessage, res: ServerResponse) => void;

export function inArrivalOrder(listener: HttpListener): HttpListener {
  return (req, res) => {
    if (res.socket !== null) {
      listener(req, res);
      return;
    }
    res.once('socket', () => listener(req, res));
  };
}
