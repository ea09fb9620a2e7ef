/**
 * Forwards a request an HTTP replica process does not answer itself to the primary, over the
 * primary's private Unix socket, and streams the answer back unchanged.
 *
 * Owns: the hop-by-hop headers (RFC 9110 §7.6.1) and the client-address header, which is always
 * overwritten with the client this process settled on (the socket's peer, or what a trusted
 * proxy named: src/server/forwarded-for.ts), so a client can never choose what the primary logs.
 * Must never: read or buffer a body (it streams, so size limits, 413s and event streams behave
 * exactly as on the primary); keep a connection alive that the primary closed after a refused
 * body.
 */
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { clientAddressOf, leaveBodyUnread, sendJson } from '../../api/http-io.js';
import type { Logger } from '../../core/logger.js';

/** The header that carries the client's address to the primary's internal listener. */
export const CLIENT_ADDRESS_HEADER = 'x-coffer-client-address';

/** Set on answers a replica gave itself (never on forwarded ones). */
export const SERVED_BY_HEADER = 'x-coffer-served-by';

const FAILURE_LOG_INTERVAL_MS = 10_000;

/**
 * Proves to the primary's internal listener that a request came from a replica of this server
 * (checked there, then removed): the socket is private, but only what a replica sends must be
 * believed, above all the client address it names.
 */
export const HOP_KEY_HEADER = 'x-coffer-hop-key';

// `expect` too: this hop already answered 100-continue; the body follows regardless.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect'];
// Never dropped because a client's Connection header names them: the body's framing, and the host.
const KEPT = new Set(['content-length', 'transfer-encoding', 'host']);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const copy: IncomingHttpHeaders = { ...headers };
  // Headers the Connection header names are hop-by-hop too.
  const named = typeof headers.connection === 'string' ? headers.connection.split(',').map((h) => h.trim().toLowerCase()).filter((h) => !KEPT.has(h)) : [];
  for (const name of [...HOP_BY_HOP, ...named]) delete copy[name];
  return copy;
}

/**
 * The headers of the forwarded request, its body framed explicitly as the client framed it: a
 * chunked body is sent chunked, a body of known length with that length. Left to node, a DELETE
 * or GET body would go out bare, with no length, and the primary would read those bytes as a
 * next request on a connection other clients' requests share (request smuggling).
 */
function upstreamHeaders(req: IncomingMessage): IncomingHttpHeaders {
  const headers = endToEnd(req.headers);
  if (req.headers['transfer-encoding'] !== undefined) {
    delete headers['content-length'];
    headers['transfer-encoding'] = 'chunked';
  }
  return headers;
}

export type Forward = (req: IncomingMessage, res: ServerResponse) => void;

export function createForwarder(options: { socketPath: string; hopKey: string; maxRequestBytes: number; logger: Logger }): { forward: Forward; close(): void } {
  // Keep-alive: a forwarded request must not pay a connect. Not capped: each client connection
  // has at most one request in flight (in-arrival-order.ts), and an event stream holds its
  // upstream for as long as it lasts, so a cap would stall every forwarded request once that
  // many clients watch.
  const agent = new Agent({ keepAlive: true });

  // One line per interval, with a count: a primary that went away (or is shutting down) must
  // not turn every in-flight request into its own log line.
  let failures = 0;
  let lastReportAt = 0;
  const reportFailure = (error: Error): void => {
    failures += 1;
    const now = Date.now();
    if (now - lastReportAt < FAILURE_LOG_INTERVAL_MS) return;
    options.logger.warn('could not forward requests to the primary', { error: error.message, failures });
    lastReportAt = now;
    failures = 0;
  };

  /**
   * The primary's body limit, applied here before anything is sent: the primary answers an
   * oversized body with 413 and closes while this hop may still be sending it, which would
   * surface as a broken pipe (502) instead. Refused as readBody refuses: a declared length at
   * once, a streamed body when it crosses the limit; the connection closes after the answer.
   */
  const refuseOversized = (req: IncomingMessage, res: ServerResponse): void => {
    leaveBodyUnread(req);
    sendJson(res, 413, { errors: ['request body too large'] });
  };

  const forward: Forward = (req, res) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > options.maxRequestBytes) {
      refuseOversized(req, res);
      return;
    }
    const headers = upstreamHeaders(req);
    // The client as this process settled it: the socket's peer, or a trusted proxy's word.
    headers[CLIENT_ADDRESS_HEADER] = clientAddressOf(req);
    headers[HOP_KEY_HEADER] = options.hopKey;
    const upstream = request({ socketPath: options.socketPath, method: req.method, path: req.url, headers, agent });
    res.removeHeader(SERVED_BY_HEADER);
    // Set when this hop refused the body itself: the upstream it abandoned is no failure.
    let refused = false;
    upstream.on('response', (answer) => {
      if (refused) {
        answer.resume();
        return;
      }
      const out = endToEnd(answer.headers);
      // The primary closes after a body it refused unread; so must this hop, for the same reason.
      if (answer.headers.connection === 'close') out.connection = 'close';
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (error) => {
      if (refused) return;
      reportFailure(error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, 502, { errors: ['the request could not be forwarded to the primary server'] });
    });
    // A client that leaves (an event stream closed, a timeout) ends the forwarded request too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    let sent = 0;
    req.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (sent <= options.maxRequestBytes) {
        if (!upstream.write(chunk)) req.pause();
        return;
      }
      req.removeAllListeners('data');
      req.pause();
      refused = true;
      upstream.destroy();
      if (!res.headersSent) refuseOversized(req, res);
    });
    upstream.on('drain', () => req.resume());
    req.on('end', () => upstream.end());
    // A request whose (empty) body was already read to its end emits no 'end' again.
    if (req.readableEnded) upstream.end();
  };

  return { forward, close: () => agent.destroy() };
}
