/**
 * Lets Vault's custom HTTP method LIST reach the server.
 *
 * Node's HTTP parser (llhttp) only knows a fixed list of methods and answers anything else with
 * 400 before application code runs; Vault clients send `LIST /v1/...`. Vault treats LIST and
 * `GET ?list=true` as the same request, so this layer sits between the TCP socket and the HTTP
 * server and rewrites a request line `LIST <path>?<query> HTTP/1.x` into
 * `GET <path>?list=true&<query>`.
 *
 * To rewrite only request lines (and never bytes of a body) it follows message framing: it
 * reads each head up to the blank line, then skips exactly Content-Length body bytes, or a
 * chunked body chunk by chunk (clients that stream a body send it chunked, and a LIST may follow
 * on the same keep-alive connection). Whenever the framing is anything but those strict cases
 * (Transfer-Encoding together with Content-Length, a last coding other than chunked, several or
 * malformed Content-Length headers, a malformed chunk line, an upgrade, an oversized head) it
 * stops rewriting for the rest of the connection and passes bytes through untouched, leaving
 * every judgement to llhttp. It is a framing tracker, not a parser: llhttp still parses and
 * validates everything, and is at least as strict as this tracker about what it accepts.
 */
import { maxHeaderSize, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The most head bytes held back while looking for its end: node's own header limit plus room
 * for the request line. Past it llhttp gets the bytes and answers 431, so a client dribbling an
 * endless head byte by byte costs at most this much re-scanning per byte.
 */
const MAX_HEAD_BYTES = maxHeaderSize + 8 * 1024;
/** A chunk-size line (size and extensions); llhttp itself caps extensions at 16 KiB. */
const MAX_CHUNK_LINE_BYTES = 16 * 1024;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const LIST_PREFIX = Buffer.from('LIST ');

type Mode = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'passthrough';

/** How the body after a head is framed, as far as this tracker can follow it. */
type Framing = { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'unknown' };

/**
 * A header line naming one of the fields that decide framing. Only lines after the request
 * line count (a header line starts after a CRLF); the name may have trailing whitespace, which
 * the full scan below trims as well.
 */
const FRAMING_FIELD = /\r\n(?:content-length|transfer-encoding|upgrade)[ \t]*:/i;
const NO_BODY: Framing = { kind: 'length', length: 0 };

/** Rewrites one request head if it is a LIST; returns the bytes to forward and the body framing. */
function processHead(head: Buffer): { out: Buffer; framing: Framing } {
  const text = head.toString('latin1');
  // Most heads (every GET) name none of the framing fields: then there is no body to skip, and
  // only a LIST needs its request line rewritten. One regex test instead of a split per line.
  if (!FRAMING_FIELD.test(text) && !text.startsWith('LIST ')) return { out: head, framing: NO_BODY };
  let contentLength = 0;
  let lengthHeaders = 0;
  const codings: string[] = [];
  let simple = true;
  const lines = text.split('\r\n');
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      lengthHeaders += 1;
      if (!/^\d{1,15}$/.test(value)) simple = false;
      else contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      codings.push(...value.split(',').map((coding) => coding.trim().toLowerCase()));
    } else if (name === 'upgrade') {
      simple = false;
    }
  }
  if (lengthHeaders > 1) simple = false;
  let out = head;
  if (head.subarray(0, LIST_PREFIX.length).equals(LIST_PREFIX)) {
    const requestLine = lines[0] as string;
    const match = /^LIST (\S+) (HTTP\/1\.[01])$/.exec(requestLine);
    if (match) {
      const target = match[1] as string;
      // list=true goes first: the first value of a repeated parameter is the one that counts
      // (as in Go's Query().Get), so a LIST stays a list whatever list= the target carries.
      const query = target.indexOf('?');
      const listed = query === -1 ? `${target}?list=true` : `${target.slice(0, query)}?list=true&${target.slice(query + 1)}`;
      const rewritten = `GET ${listed} ${match[2]}`;
      out = Buffer.concat([Buffer.from(rewritten, 'latin1'), head.subarray(requestLine.length)]);
    }
  }
  let framing: Framing;
  if (!simple) framing = { kind: 'unknown' };
  else if (codings.length === 0) framing = { kind: 'length', length: contentLength };
  // Only a request whose last coding is chunked and that has no Content-Length is followed;
  // llhttp refuses Transfer-Encoding together with Content-Length.
  else if (codings[codings.length - 1] === 'chunked' && lengthHeaders === 0) framing = { kind: 'chunked' };
  else framing = { kind: 'unknown' };
  return { out, framing };
}

/** Whether `bytes`, from offset `from` on, holds a LF not preceded by CR. */
function hasBareLf(bytes: Buffer, from: number): boolean {
  for (let at = bytes.indexOf(10, from); at !== -1; at = bytes.indexOf(10, at + 1)) {
    if (at === 0 || bytes[at - 1] !== 13) return true;
  }
  return false;
}

/** The framing tracker and rewriter, without any I/O: bytes in, bytes out. */
export interface ListRewriter {
  /** Takes the next bytes from the client; returns what to hand to the HTTP parser now. */
  push(chunk: Buffer): Buffer[];
  /** Bytes held back at end of stream (an unfinished head, chunk-size or trailer line). */
  flush(): Buffer;
  /**
   * While bytes of a request head are held back (unseen by the HTTP parser): which head, as the
   * number of heads passed on before it. Undefined when no head is held.
   */
  heldHead(): number | undefined;
}

export function createListRewriter(): ListRewriter {
  let mode: Mode = 'head';
  let pending: Buffer = Buffer.alloc(0);
  let bodyRemaining = 0;
  /** In 'chunk-end': how many bytes of the CRLF after a chunk's data have been seen. */
  let crlfSeen = 0;
  /** In 'trailer': bytes of trailer fields so far. */
  let trailerBytes = 0;
  /** Heads passed on whole (rewritten or not); a head given up on counts as none. */
  let headsPassed = 0;

  /**
   * Splits a complete line (ending in CRLF) off `pending` + `data`. Returns undefined when more
   * bytes are needed; the caller then stops. A line longer than `max` gives up tracking.
   */
  const takeLine = (data: Buffer, max: number, out: Buffer[]): { line: Buffer; rest: Buffer } | undefined => {
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    const eol = pending.indexOf(CRLF);
    if (eol === -1 || eol > max) {
      if (eol > max || pending.length > max + CRLF.length) {
        mode = 'passthrough';
        out.push(pending);
        pending = Buffer.alloc(0);
      }
      return undefined;
    }
    const line = pending.subarray(0, eol);
    out.push(pending.subarray(0, eol + CRLF.length));
    const rest = pending.subarray(eol + CRLF.length);
    pending = Buffer.alloc(0);
    return { line, rest };
  };

  const push = (chunk: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    let data = chunk;
    while (data.length > 0) {
      if (mode === 'passthrough') {
        out.push(data);
        break;
      }
      if (mode === 'body' || mode === 'chunk-data') {
        const take = Math.min(bodyRemaining, data.length);
        out.push(data.subarray(0, take));
        bodyRemaining -= take;
        data = data.subarray(take);
        if (bodyRemaining === 0) {
          mode = mode === 'body' ? 'head' : 'chunk-end';
          crlfSeen = 0;
        }
        continue;
      }
      if (mode === 'chunk-end') {
        // Exactly CRLF must follow a chunk's data; anything else is llhttp's to refuse.
        if (data[0] !== CRLF[crlfSeen]) {
          mode = 'passthrough';
          continue;
        }
        out.push(data.subarray(0, 1));
        data = data.subarray(1);
        crlfSeen += 1;
        if (crlfSeen === CRLF.length) mode = 'chunk-size';
        continue;
      }
      if (mode === 'chunk-size') {
        const taken = takeLine(data, MAX_CHUNK_LINE_BYTES, out);
        if (!taken) break;
        data = taken.rest;
        // chunk-size [ ";" extensions ], as strict as llhttp (no spaces, no bare CR or LF).
        const match = /^([0-9A-Fa-f]{1,16})(;[^\r\n]*)?$/.exec(taken.line.toString('latin1'));
        const size = match ? Number.parseInt(match[1] as string, 16) : Number.NaN;
        if (!Number.isSafeInteger(size)) {
          mode = 'passthrough';
        } else if (size === 0) {
          mode = 'trailer';
          trailerBytes = 0;
        } else {
          mode = 'chunk-data';
          bodyRemaining = size;
        }
        continue;
      }
      if (mode === 'trailer') {
        const taken = takeLine(data, MAX_HEAD_BYTES, out);
        if (!taken) break;
        data = taken.rest;
        trailerBytes += taken.line.length + CRLF.length;
        // The empty line ends the message; trailer fields before it are only counted.
        if (taken.line.length === 0) mode = 'head';
        else if (trailerBytes > MAX_HEAD_BYTES || taken.line.includes(13) || taken.line.includes(10)) mode = 'passthrough';
        continue;
      }
      // mode === 'head': gather bytes until the blank line that ends the head.
      const added = data.length;
      pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
      data = Buffer.alloc(0);
      // Skip the empty lines llhttp tolerates between pipelined requests.
      let start = 0;
      while (pending.length - start >= 2 && pending[start] === 13 && pending[start + 1] === 10) start += 2;
      if (start > 0) {
        out.push(pending.subarray(0, start));
        pending = pending.subarray(start);
      }
      const end = pending.indexOf(HEAD_END);
      // A bare LF is llhttp's to refuse at once; waiting here for a CRLFCRLF that may never
      // come would leave the client hanging until the headers timeout instead.
      // Only the new bytes (and the one before them) can hold a bare LF not seen already.
      const scanFrom = Math.max(0, pending.length - added - 1);
      if (hasBareLf(end === -1 ? pending : pending.subarray(0, end), scanFrom)) {
        mode = 'passthrough';
        out.push(pending);
        pending = Buffer.alloc(0);
        break;
      }
      if (end === -1) {
        if (pending.length > MAX_HEAD_BYTES) {
          mode = 'passthrough';
          out.push(pending);
          pending = Buffer.alloc(0);
        }
        break;
      }
      const head = pending.subarray(0, end + HEAD_END.length);
      const rest = pending.subarray(end + HEAD_END.length);
      pending = Buffer.alloc(0);
      const { out: forwarded, framing } = processHead(head);
      out.push(forwarded);
      headsPassed += 1;
      if (framing.kind === 'unknown') {
        mode = 'passthrough';
      } else if (framing.kind === 'chunked') {
        mode = 'chunk-size';
      } else if (framing.length > 0) {
        mode = 'body';
        bodyRemaining = framing.length;
      }
      data = rest;
    }
    return out;
  };

  return {
    push,
    flush() {
      const rest = pending;
      pending = Buffer.alloc(0);
      return rest;
    },
    heldHead: () => (mode === 'head' && pending.length > 0 ? headsPassed : undefined),
  };
}

/**
 * Makes every connection `server` accepts pass its incoming bytes through a ListRewriter before
 * node's HTTP parser sees them. Responses go straight to the real socket.
 *
 * Why not a Duplex around the socket: that costs ~30 % of a bare server's throughput here (every
 * read and every response write crosses a second stream), and it hides the socket from node:http.
 * This hooks the read side only, relying on two facts of node's net/http internals, both covered
 * by the LIST tests against a real listener:
 * - node:http feeds llhttp straight from the native handle unless `_handle._consumed` is set;
 *   setting it keeps the parser on the socket's 'data' events;
 * - the socket's read path hands each chunk (and `null` at end of stream) to `socket.push`.
 *
 * A head held back here is one node's header deadline does not know of: node starts timing a
 * request at its first byte, and llhttp sees that byte only when the whole head has arrived. On
 * a connection's first request node times from the connection's start, but on the next ones of
 * a keep-alive connection a client could dribble a head forever (each byte resets the idle
 * timer). So this layer gives each head it holds `headersTimeoutMs` from its first held byte,
 * and past that reports the timeout as node does: a 'clientError' with ERR_HTTP_REQUEST_TIMEOUT.
 */
export function rewriteListRequestsOn(server: HttpServer, headersTimeoutMs: number): void {
  server.prependListener('connection', (socket: Socket) => {
    const handle = (socket as unknown as { _handle?: { _consumed?: boolean } | null })._handle;
    if (handle) handle._consumed = true;
    const rewriter = createListRewriter();
    // One timer only while a head is held, which an unhurried client's head (one read) never is.
    let deadline: NodeJS.Timeout | undefined;
    let timedHead: number | undefined;
    // What the server had written on the connection when the deadline was set.
    let writtenAtArm = 0;
    const arm = (): void => {
      writtenAtArm = socket.bytesWritten;
      deadline = setTimeout(expire, headersTimeoutMs).unref();
    };
    const expire = (): void => {
      deadline = undefined;
      // Not while the server is the one behind: it is not reading the connection (answers it
      // waits to write, pipelined requests it works through one by one, see
      // in-arrival-order.ts), or it has been answering on it since the deadline was set. The
      // rest of the head may simply not have been read yet; the client gets the full time
      // again. A client dribbling a head on an otherwise quiet connection still runs out.
      if (socket.isPaused() || socket.bytesWritten !== writtenAtArm) {
        arm();
        return;
      }
      const error = Object.assign(new Error('request headers timed out'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
      if (!server.emit('clientError', error, socket)) socket.destroy(error);
    };
    const track = (): void => {
      const held = rewriter.heldHead();
      if (held === timedHead) return;
      clearTimeout(deadline);
      deadline = undefined;
      timedHead = held;
      if (held !== undefined) arm();
    };
    socket.once('close', () => clearTimeout(deadline));
    const push = socket.push.bind(socket);
    socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk === null) {
        const rest = rewriter.flush();
        clearTimeout(deadline);
        if (rest.length > 0) push(rest);
        return push(null);
      }
      if (!Buffer.isBuffer(chunk)) return push(chunk, encoding);
      let more = true;
      for (const piece of rewriter.push(chunk)) more = push(piece);
      track();
      return more;
    };
  });
}
