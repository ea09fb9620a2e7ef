/**
 * The few HTTP primitives both wire protocols (Vault, AWS) need on top of node:http: read a
 * request body under a size cap, and send a complete response in one write.
 *
 * Why no web framework: each protocol is one catch-all route whose routing, body parsing and
 * error shapes are protocol-specific, so a framework added ~20 % CPU per request (hooks,
 * promises, reply objects) and gave nothing back.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { CofferError } from '../core/errors.js';
import { endAtTurnEnd } from './response-coalescer.js';

export const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;

/**
 * Client addresses vouched for by a trusted hop: an HTTP replica process forwards requests to
 * the primary over a private socket and names the client it took them from, and a proxy the
 * operator authorized names it in X-Forwarded-For (src/server/forwarded-for.ts). Only those two
 * record one (setForwardedClientAddress); otherwise the socket's own peer is the client,
 * whatever a request's headers claim.
 */
const forwardedClientAddresses = new WeakMap<IncomingMessage, string>();

export function setForwardedClientAddress(req: IncomingMessage, address: string): void {
  forwardedClientAddresses.set(req, address);
}

/** The address of the client that sent `req`: a forwarding replica's or trusted proxy's word, else the socket's peer. */
export function clientAddressOf(req: IncomingMessage): string {
  return forwardedClientAddresses.get(req) ?? req.socket.remoteAddress ?? '';
}

/** Requests whose body was refused unread: their connection must close after the answer. */
const unreadBodies = new WeakSet<IncomingMessage>();

/**
 * Refuses a request before its body is read: the connection closes after the answer (if the
 * request has a body), so a refused body is neither parsed as a next request nor drained,
 * however large it says it is.
 */
export function leaveBodyUnread(req: IncomingMessage): void {
  const declared = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (declared !== undefined && declared !== '0');
  if (hasBody && !req.complete) unreadBodies.add(req);
}

/**
 * Collects the request body, refusing (413) one over `limit` bytes. A declared Content-Length
 * over the limit is refused before any byte is read; a streamed body is refused as soon as it
 * crosses the limit. Either way the rest of the body is never read, so `sendJson` closes the
 * connection after the answer, whatever status the protocol gives it (the unread bytes must
 * not be parsed as a next request, nor read just to be thrown away).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    unreadBodies.add(req);
    return Promise.reject(new CofferError('payload_too_large', 'request body too large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (error) reject(error);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        unreadBodies.add(req);
        req.pause();
        settle(new CofferError('payload_too_large', 'request body too large'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => settle(undefined);
    const onError = (): void => settle(new CofferError('bad_request', 'the request body could not be read'));
    const onAborted = (): void => settle(new CofferError('bad_request', 'the request body could not be read'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/**
 * Sends `body` (already serialised, or a value to serialise as JSON) with an exact
 * Content-Length, in one write at the end of this event-loop turn (response-coalescer.ts).
 * HEAD requests get the headers only (node:http drops the body).
 * After a body `readBody` refused, the answer says `Connection: close`, so node:http ends the
 * connection after it.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = JSON_HEADERS): void {
  if (res.headersSent || res.destroyed) return;
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  // Built without spreads: this runs for every answer.
  const head: OutgoingHttpHeaders = {};
  for (const name in headers) head[name] = headers[name];
  if (unreadBodies.has(res.req)) head.connection = 'close';
  head['content-length'] = length;
  res.writeHead(status, head);
  endAtTurnEnd(res, payload);
}

/** An answer without a body (204, or a HEAD request's headers). */
export function sendEmpty(res: ServerResponse, status: number, headers: OutgoingHttpHeaders): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, headers);
  endAtTurnEnd(res);
}
