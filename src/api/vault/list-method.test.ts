import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createListRewriter } from './list-method.js';

/** Feeds `input` in pieces of `size` bytes and returns everything the rewriter let through. */
function run(input: string, size: number): string {
  const rewriter = createListRewriter();
  const bytes = Buffer.from(input, 'latin1');
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(...rewriter.push(bytes.subarray(i, i + size)));
  out.push(rewriter.flush());
  return Buffer.concat(out).toString('latin1');
}

const SIZES = [1, 2, 3, 7, 64, 100_000];

describe('LIST method rewriting', () => {
  it('holds back no more of an unfinished head than node would accept, then lets llhttp refuse it', () => {
    const rewriter = createListRewriter();
    const line = Buffer.from('X-Filler: ' + 'a'.repeat(1000) + '\r\n', 'latin1');
    let held = Buffer.concat(rewriter.push(Buffer.from('LIST /v1/a HTTP/1.1\r\n', 'latin1'))).length;
    let sent = 0;
    for (let i = 0; i < 64 && sent === 0; i += 1) sent = Buffer.concat(rewriter.push(line)).length;
    held += sent;
    assert.ok(sent > 0, 'an endless head was held forever');
    assert.ok(held <= 16 * 1024 + 8 * 1024 + line.length, `held ${held} bytes`);
  });

  it('says which head it holds back, so the server can time it, and none once it is passed on', () => {
    const rewriter = createListRewriter();
    assert.equal(rewriter.heldHead(), undefined);
    rewriter.push(Buffer.from('GET /v1/a HTTP/1.1\r\nHost: x\r\n', 'latin1'));
    assert.equal(rewriter.heldHead(), 0);
    rewriter.push(Buffer.from('\r\nGET /v1/b HT', 'latin1'));
    assert.equal(rewriter.heldHead(), 1, 'the next head, begun in the same read, is a new one');
    rewriter.push(Buffer.from('TP/1.1\r\nContent-Length: 3\r\n\r\nab', 'latin1'));
    assert.equal(rewriter.heldHead(), undefined, 'a body is the parser\'s to time');
    rewriter.push(Buffer.from('c', 'latin1'));
    assert.equal(rewriter.heldHead(), undefined);
  });

  it('passes a head with a bare LF straight on, for llhttp to refuse, instead of holding it', () => {
    const rewriter = createListRewriter();
    const head = Buffer.from('GET /v1/a HTTP/1.1\nHost: x\n', 'latin1');
    assert.deepEqual(Buffer.concat(rewriter.push(head)), head);
    assert.equal(rewriter.flush().length, 0);
  });

  for (const size of SIZES) {
    it(`rewrites a LIST request line into GET ?list=true (chunks of ${size})`, () => {
      assert.equal(run('LIST /v1/secret/metadata HTTP/1.1\r\nHost: x\r\n\r\n', size), 'GET /v1/secret/metadata?list=true HTTP/1.1\r\nHost: x\r\n\r\n');
    });

    it(`keeps an existing query string (chunks of ${size})`, () => {
      assert.equal(run('LIST /v1/a?x=1 HTTP/1.1\r\n\r\n', size), 'GET /v1/a?list=true&x=1 HTTP/1.1\r\n\r\n');
    });

    it(`never touches body bytes that look like a LIST request (chunks of ${size})`, () => {
      const body = 'LIST /v1/evil HTTP/1.1\r\n\r\n';
      const input = `POST /v1/a HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}LIST /v1/b HTTP/1.1\r\n\r\n`;
      const expected = `POST /v1/a HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}GET /v1/b?list=true HTTP/1.1\r\n\r\n`;
      assert.equal(run(input, size), expected);
    });

    it(`follows a chunked body and rewrites the LIST after it (chunks of ${size})`, () => {
      const input = 'POST /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nLIST \r\n0\r\n\r\nLIST /v1/b HTTP/1.1\r\n\r\n';
      const expected = 'POST /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nLIST \r\n0\r\n\r\nGET /v1/b?list=true HTTP/1.1\r\n\r\n';
      assert.equal(run(input, size), expected);
    });

    it(`never touches chunk data, extensions or trailers that look like a LIST request (chunks of ${size})`, () => {
      const evil = '\r\n\r\nLIST /v1/evil HTTP/1.1\r\n\r\n';
      const body = `${evil.length.toString(16)};ext=1\r\n${evil}\r\n00003\r\nabc\r\n0\r\nX-Trailer: LIST /v1/t HTTP/1.1\r\n\r\n`;
      const input = `POST /v1/a HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n${body}LIST /v1/b HTTP/1.1\r\n\r\n`;
      const expected = `POST /v1/a HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n${body}GET /v1/b?list=true HTTP/1.1\r\n\r\n`;
      assert.equal(run(input, size), expected);
    });
  }

  it('passes everything through after two Content-Length headers', () => {
    const input = 'POST /v1/a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcdLIST /v1/b HTTP/1.1\r\n\r\n';
    assert.equal(run(input, 5), input);
  });

  it('passes everything through after Transfer-Encoding with Content-Length, or a last coding other than chunked', () => {
    for (const headers of ['Transfer-Encoding: chunked\r\nContent-Length: 5', 'Transfer-Encoding: chunked, gzip', 'Transfer-Encoding: identity']) {
      const input = `POST /v1/a HTTP/1.1\r\n${headers}\r\n\r\n5\r\nLIST \r\n0\r\n\r\nLIST /v1/b HTTP/1.1\r\n\r\n`;
      assert.equal(run(input, 6), input, headers);
    }
  });

  it('passes everything through after a chunk line llhttp would refuse', () => {
    for (const bad of ['5 \r\nLIST \r\n', ' 5\r\nLIST \r\n', 'x\r\n', '5\nLIST \r\n', '5\r\nLIST xx', '11111111111111111\r\n']) {
      const input = `POST /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${bad}0\r\n\r\nLIST /v1/b HTTP/1.1\r\n\r\n`;
      assert.equal(run(input, 4), input, JSON.stringify(bad));
    }
  });

  it('gives up on a chunk-size line longer than 16 KiB instead of buffering it', () => {
    const rewriter = createListRewriter();
    const head = Buffer.from('POST /v1/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    const line = Buffer.from('5;' + 'x'.repeat(20 * 1024));
    const out = Buffer.concat([...rewriter.push(head), ...rewriter.push(line)]);
    assert.equal(out.length, head.length + line.length);
  });

  it('passes a malformed Content-Length through untouched', () => {
    const input = 'POST /v1/a HTTP/1.1\r\nContent-Length: +3\r\n\r\nabcLIST /v1/b HTTP/1.1\r\n\r\n';
    assert.equal(run(input, 4), input);
  });

  it('rewrites every request of a pipelined keep-alive stream', () => {
    const input = 'GET /v1/a HTTP/1.1\r\n\r\nLIST /v1/b HTTP/1.1\r\n\r\n\r\nLIST /v1/c HTTP/1.1\r\n\r\n';
    assert.equal(run(input, 9), 'GET /v1/a HTTP/1.1\r\n\r\nGET /v1/b?list=true HTTP/1.1\r\n\r\n\r\nGET /v1/c?list=true HTTP/1.1\r\n\r\n');
  });

  it('leaves a lower-case or malformed list line to the HTTP parser', () => {
    assert.equal(run('list /v1/a HTTP/1.1\r\n\r\n', 3), 'list /v1/a HTTP/1.1\r\n\r\n');
    assert.equal(run('LIST  /v1/a HTTP/1.1\r\n\r\n', 3), 'LIST  /v1/a HTTP/1.1\r\n\r\n');
  });

  it('gives up rewriting on a head larger than 64 KiB instead of buffering it', () => {
    const rewriter = createListRewriter();
    const huge = Buffer.alloc(70 * 1024, 'a');
    const out = rewriter.push(huge);
    assert.equal(Buffer.concat(out).length, huge.length);
    assert.deepEqual(rewriter.push(Buffer.from('LIST /v1/x HTTP/1.1\r\n\r\n')).map(String), ['LIST /v1/x HTTP/1.1\r\n\r\n']);
  });
});
