/**
 * Lets Vault's custom HTTP method LIST reach the server.
 *
 * Node's HTTP parser (llhttp) only knows a fixed list of methods and answers anything else with
 * 400 before application code runs; Vault clients send `LIST /v1/...`. Vault treats LIST and
 * `GET ?list=true` as the same request, so this layer sits between the TCP socket and the HTTP
 * server and rewrites a request line `LIST <target> HTTP/1.x` into `GET <target>?list=true`.
 *
 * To rewrite only request lines (and never bytes of a body) it follows message framing: it
 * reads each head up to the blank line and skips exactly Content-Length body bytes. Whenever the
 * framing is anything but that simple case (Transfer-Encoding, several or malformed
 * Content-Length headers, an upgrade, an oversized head) it stops rewriting for the rest of the
 * connection and passes bytes through untouched, leaving every judgement to llhttp. It is a
 * framing tracker, not a parser: llhttp still parses and validates everything.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const LIST_PREFIX = Buffer.from('LIST ');

type Mode = 'head' | 'body' | 'passthrough';

/** Rewrites one request head if it is a LIST; returns the bytes to forward and the body length to skip. */
function processHead(head: Buffer): { out: Buffer; bodyLength: number | undefined } {
  const text = head.toString('latin1');
  let contentLength = 0;
  let lengthHeaders = 0;
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
    } else if (name === 'transfer-encoding' || name === 'upgrade') {
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
      const rewritten = `GET ${target}${target.includes('?') ? '&' : '?'}list=true ${match[2]}`;
      out = Buffer.concat([Buffer.from(rewritten, 'latin1'), head.subarray(requestLine.length)]);
    }
  }
  return { out, bodyLength: simple ? contentLength : undefined };
}

/** The framing tracker and rewriter, without any I/O: bytes in, bytes out. */
export interface ListRewriter {
  /** Takes the next bytes from the client; returns what to hand to the HTTP parser now. */
  push(chunk: Buffer): Buffer[];
  /** Bytes held back at end of stream (an unfinished head). */
  flush(): Buffer;
}

export function createListRewriter(): ListRewriter {
  let mode: Mode = 'head';
  let pending: Buffer = Buffer.alloc(0);
  let bodyRemaining = 0;

  const push = (chunk: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    let data = chunk;
    while (data.length > 0) {
      if (mode === 'passthrough') {
        out.push(data);
        break;
      }
      if (mode === 'body') {
        const take = Math.min(bodyRemaining, data.length);
        out.push(data.subarray(0, take));
        bodyRemaining -= take;
        data = data.subarray(take);
        if (bodyRemaining === 0) mode = 'head';
        continue;
      }
      // mode === 'head': gather bytes until the blank line that ends the head.
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
      const { out: forwarded, bodyLength } = processHead(head);
      out.push(forwarded);
      if (bodyLength === undefined) {
        mode = 'passthrough';
      } else if (bodyLength > 0) {
        mode = 'body';
        bodyRemaining = bodyLength;
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
  };
}

/**
 * Wraps a socket in a Duplex that the HTTP server reads rewritten bytes from and writes
 * responses through. Socket-ish properties the HTTP stack uses are forwarded.
 */
export function wrapSocketForListMethod(socket: Socket): Duplex {
  const rewriter = createListRewriter();

  const duplex = new Duplex({
    allowHalfOpen: false,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });

  socket.on('data', (chunk: Buffer) => {
    for (const piece of rewriter.push(chunk)) {
      if (!duplex.push(piece)) socket.pause();
    }
  });
  socket.on('end', () => {
    const rest = rewriter.flush();
    if (rest.length > 0) duplex.push(rest);
    duplex.push(null);
  });
  socket.on('error', (error) => duplex.destroy(error));
  socket.on('close', () => {
    if (!duplex.destroyed) duplex.destroy();
  });
  socket.on('drain', () => duplex.emit('drain'));

  // What node:http and fastify read off a socket.
  Object.defineProperties(duplex, {
    remoteAddress: { get: () => socket.remoteAddress },
    remotePort: { get: () => socket.remotePort },
    remoteFamily: { get: () => socket.remoteFamily },
    localAddress: { get: () => socket.localAddress },
    localPort: { get: () => socket.localPort },
    encrypted: { get: () => false },
  });
  const forward = duplex as unknown as Record<string, unknown>;
  forward.setTimeout = (ms: number, cb?: () => void) => {
    socket.setTimeout(ms, cb);
    return duplex;
  };
  forward.setNoDelay = (noDelay?: boolean) => {
    socket.setNoDelay(noDelay);
    return duplex;
  };
  forward.setKeepAlive = (enable?: boolean, delay?: number) => {
    socket.setKeepAlive(enable, delay);
    return duplex;
  };
  forward.address = () => socket.address();
  socket.on('timeout', () => duplex.emit('timeout'));
  return duplex;
}
