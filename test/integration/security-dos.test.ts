/**
 * Denial-of-service bounds over real HTTP (attack checklist §2.8, test plan §C 19–21): oversized
 * and endless bodies, deep and wide JSON, prototype-pollution payloads, a burst of concurrent
 * requests, header floods, framing tricks — and after each, the server still answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openConnection, rawRequest, send, type RawConnection } from '../helpers/raw-http.js';

const LIMIT = 2 * 1024 * 1024;

describe('denial-of-service bounds', () => {
  let server: TestServer;
  let root: string;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory', maxRequestBytes: LIMIT });
    root = server.rootToken as string;
    const seeded = await send(server, 'POST', 'secret/data/alive', { token: root, body: { data: { v: 'still here' } } });
    assert.equal(seeded.status, 200);
  });
  after(async () => {
    await server.destroy();
  });

  /** The server still answers an ordinary authenticated read. */
  const assertAlive = async (): Promise<void> => {
    const res = await send(server, 'GET', 'secret/data/alive', { token: root });
    assert.equal(res.status, 200, `the server stopped serving: ${res.status} ${res.text}`);
    assert.equal(res.body.data.data.v, 'still here');
  };

  /**
   * Streams `chunk` after `head` until the server answers and closes, or `budget` bytes went out.
   * Returns the response and how many bytes had been sent when the connection closed.
   */
  const streamUntilRefused = async (head: string, chunk: Buffer, budget: number): Promise<{ status: number; text: string; sentAtClose: number }> => {
    const conn: RawConnection = await openConnection(server);
    let sent = 0;
    let closed = false;
    const closing = conn.closed(20_000).then((done) => {
      closed = done;
    });
    try {
      await conn.write(head);
      while (!closed && sent < budget) {
        await conn.write(chunk).catch(() => {
          closed = true;
        });
        sent += chunk.length;
      }
      await closing;
      assert.ok(closed, `the server kept reading past ${budget} bytes`);
      const res = await conn.next(1000);
      return { status: res.status, text: res.text, sentAtClose: sent };
    } finally {
      conn.destroy();
    }
  };

  it('answers a declared body over the limit with 413 without reading it, and keeps serving', async () => {
    const head = `POST /v1/secret/data/big HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${root}\r\nContent-Type: application/json\r\nContent-Length: ${LIMIT * 50}\r\n\r\n`;
    const res = await streamUntilRefused(head, Buffer.alloc(64 * 1024, 0x61), LIMIT * 50);
    assert.equal(res.status, 413);
    assert.deepEqual(JSON.parse(res.text), { errors: ['request body too large'] });
    assert.ok(res.sentAtClose < LIMIT * 20, `closed only after ${res.sentAtClose} bytes`);
    await assertAlive();
  });

  it('closes the connection after refusing an oversized AWS-protocol body, whatever the status', async () => {
    // The AWS protocol answers an oversized body with a 400 ValidationException, not a 413; the
    // unread rest of the body must still never be parsed as the next request.
    const head = 'POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: secretsmanager.GetSecretValue\r\nContent-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n';
    const data = Buffer.alloc(64 * 1024, 0x61);
    const chunk = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    const res = await streamUntilRefused(head, chunk, LIMIT * 50);
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.text).__type, 'ValidationException');
    assert.ok(res.sentAtClose < LIMIT * 20, `closed only after ${res.sentAtClose} bytes`);
    await assertAlive();
  });

  it('answers a body one byte over the limit with 413', async () => {
    const conn = await openConnection(server);
    try {
      const body = '{"data":{"v":"' + 'a'.repeat(LIMIT - 16) + '"}}';
      assert.equal(body.length, LIMIT + 1);
      await conn.write(rawRequest('POST', '/v1/secret/data/big', { token: root, body }));
      assert.equal((await conn.next()).status, 413);
    } finally {
      conn.destroy();
    }
    assert.equal((await send(server, 'GET', 'secret/data/big', { token: root })).status, 404);
  });

  it('answers an endless chunked body without Content-Length with 413 and closes, and keeps serving', async () => {
    const head = `POST /v1/secret/data/big HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${root}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const data = Buffer.alloc(64 * 1024, 0x61);
    const chunk = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    const res = await streamUntilRefused(head, chunk, LIMIT * 50);
    assert.equal(res.status, 413);
    assert.ok(res.sentAtClose < LIMIT * 20, `closed only after ${res.sentAtClose} bytes`);
    await assertAlive();
  });

  it('refuses JSON nested 10,000 and 100,000 deep with 400', async () => {
    const bodies = [
      `{"data":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      `{"data":{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`,
      `{"data":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`,
      `{"data":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`,
    ];
    for (const body of bodies) {
      const res = await send(server, 'POST', 'secret/data/deep', { token: root, body });
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(Object.keys(res.body), ['errors']);
    }
    assert.equal((await send(server, 'GET', 'secret/data/deep', { token: root })).status, 404);
    await assertAlive();
  });

  it('refuses an object with 100,000 keys, an array with 100,000 elements and a 1.5 MiB string with 400', async () => {
    const keys = Array.from({ length: 100_000 }, (_, i) => `"k${i}":0`).join(',');
    const elements = Array.from({ length: 100_000 }, () => '0').join(',');
    for (const body of [`{"data":{${keys}}}`, `{${keys}}`, `{"data":{"a":[${elements}]}}`, `{"data":{"a":"${'x'.repeat(1.5 * 1024 * 1024)}"}}`]) {
      assert.ok(body.length < LIMIT);
      const res = await send(server, 'POST', 'secret/data/wide', { token: root, body });
      assert.equal(res.status, 400, res.text.slice(0, 200));
    }
    assert.equal((await send(server, 'GET', 'secret/data/wide', { token: root })).status, 404);
    await assertAlive();
  });

  it('refuses a body of many containers each under its own limit once the values add up past 100,000, with or without a token', async () => {
    // 30 arrays of 5,000 strings: every array is within bounds, the body is not (CVE-2025-6203).
    const inner = `[${Array.from({ length: 5_000 }, () => '"a"').join(',')}]`;
    const body = `{"data":{"x":[${Array.from({ length: 30 }, () => inner).join(',')}]}}`;
    assert.ok(body.length < LIMIT);
    for (const token of [root, undefined]) {
      const res = await send(server, 'POST', 'secret/data/many', { ...(token ? { token } : {}), body });
      assert.equal(res.status, 400, res.text.slice(0, 200));
      assert.deepEqual(res.body, { errors: ['JSON input holds more values than allowed'] });
    }
    const fewer = `{"data":{"x":[${Array.from({ length: 15 }, () => inner).join(',')}]}}`;
    assert.equal((await send(server, 'POST', 'secret/data/many', { token: root, body: fewer })).status, 200, '75,000 values are still accepted');
    await assertAlive();
  });

  it('refuses numbers JSON cannot hold (1e400) instead of storing them as null', async () => {
    for (const body of ['{"data":{"e":1e400}}', '{"data":{"e":-1e400}}', '{"data":{"a":[1,2e308]}}']) {
      const res = await send(server, 'POST', 'secret/data/bignum', { token: root, body });
      assert.equal(res.status, 400, `${body}: ${res.status} ${res.text}`);
      assert.deepEqual(res.body.errors, ['JSON number is out of range']);
    }
    assert.equal((await send(server, 'GET', 'secret/data/bignum', { token: root })).status, 404);
  });

  it('refuses integers beyond 2^53 that would come back changed, and keeps those that come back as written', async () => {
    const message = 'a JSON integer beyond ±9007199254740991 (2^53 - 1) cannot be stored exactly; send it as a string';
    for (const body of ['{"data":{"id":12345678901234567890}}', '{"data":{"a":[1,{"b":-9007199254740993}]}}', '{"data":{"n":1152921504606846976}}']) {
      const res = await send(server, 'POST', 'secret/data/bigint', { token: root, body });
      assert.equal(res.status, 400, `${body}: ${res.status} ${res.text}`);
      assert.deepEqual(res.body.errors, [message]);
    }
    assert.equal((await send(server, 'GET', 'secret/data/bigint', { token: root })).status, 404);
    const kept = '{"data":{"max":9007199254740991,"p53":9007199254740992,"s":"12345678901234567890","big":1e21}}';
    assert.equal((await send(server, 'POST', 'secret/data/bigint', { token: root, body: kept })).status, 200);
    const read = await send(server, 'GET', 'secret/data/bigint', { token: root });
    assert.match(read.text, /"max":9007199254740991,"p53":9007199254740992,"s":"12345678901234567890","big":1e\+21/);
  });

  it('refuses __proto__ and constructor.prototype payloads with 400 and pollutes nothing', async () => {
    const bodies: Array<[string, string]> = [
      ['secret/data/proto', '{"__proto__":{"polluted":"yes"}}'],
      ['secret/data/proto', '{"data":{"__proto__":{"polluted":"yes"}}}'],
      ['secret/data/proto', '{"data":{"a":{"b":{"__proto__":{"polluted":"yes"}}}}}'],
      ['secret/data/proto', '{"data":{"constructor":{"prototype":{"polluted":"yes"}}}}'],
      ['secret/data/proto', '{"constructor":{"prototype":{"polluted":"yes"}},"data":{"a":"b"}}'],
      ['secret/data/proto', '{"options":{"__proto__":{"polluted":"yes"}},"data":{"a":"b"}}'],
      ['secret/data/proto', '{"data":{"\\u005f_proto__":{"polluted":"yes"}}}'],
      ['secret/data/proto', '{"data":{"__pro\\u0074o__":{"polluted":"yes"}}}'],
      ['secret/metadata/proto', '{"custom_metadata":{"__proto__":{"polluted":"yes"}}}'],
      ['auth/token/create', '{"meta":{"__proto__":{"polluted":"yes"}}}'],
      ['sys/mounts/proto', '{"type":"kv","options":{"__proto__":{"polluted":"yes"}}}'],
    ];
    for (const [path, body] of bodies) {
      const res = await send(server, 'POST', path, { token: root, body });
      assert.equal(res.status, 400, `${path} ${body}: ${res.status} ${res.text}`);
      assert.match(res.body.errors[0], /keys named "__proto__"/);
    }
    // Shapes that parse (the key is inside a string, or a query) must not pollute either.
    const policy = JSON.stringify({ path: { 'x/*': { capabilities: ['read'], __proto__: { polluted: 'yes' } } } }).replace('"capabilities"', '"__proto__":{"polluted":"yes"},"capabilities"');
    const others = [
      await send(server, 'PUT', 'sys/policies/acl/proto', { token: root, body: { policy } }),
      await send(server, 'PUT', 'sys/policies/acl/proto2', { token: root, body: { policy: '{"path":{"__proto__":{"capabilities":["read"]}}}' } }),
      await send(server, 'GET', 'secret/data/alive?__proto__[polluted]=yes&constructor[prototype][polluted]=yes', { token: root }),
      await send(server, 'GET', 'secret/data/alive?__proto__=polluted&constructor=x&prototype=y', { token: root }),
      await send(server, 'LIST', 'secret/metadata/?__proto__[polluted]=yes', { token: root }),
    ];
    for (const res of others) assert.ok(res.status < 500, `${res.status} ${res.text}`);
    const probe = {} as Record<string, unknown>;
    assert.equal(probe.polluted, undefined, 'Object.prototype was polluted');
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    assert.equal(([] as unknown as Record<string, unknown>).polluted, undefined);
    await assertAlive();
  });

  it('answers 1,000 concurrent requests, every one of them', async () => {
    const requests = Array.from({ length: 1000 }, (_, i) =>
      i % 5 === 0
        ? send(server, 'POST', `secret/data/burst/${i}`, { token: root, body: { data: { i } } })
        : send(server, 'GET', 'secret/data/alive', { token: root }),
    );
    const results = await Promise.allSettled(requests);
    const failures = results.filter((r) => r.status === 'rejected' || r.value.status !== 200);
    assert.equal(failures.length, 0, `${failures.length} of 1000 requests failed`);
    const listed = await send(server, 'LIST', 'secret/metadata/burst', { token: root });
    assert.equal(listed.body.data.keys.length, 200);
  });

  it('refuses an oversized request line or header section without stopping the server', async () => {
    const floods = [
      `GET /v1/secret/data/${'a'.repeat(100 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `LIST /v1/secret/metadata/${'a'.repeat(100 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 5000 }, (_, i) => `X-Flood-${i}: ${'v'.repeat(20)}`).join('\r\n')}\r\n\r\n`,
      `GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'v'.repeat(80 * 1024)}\r\n\r\n`,
    ];
    for (const flood of floods) {
      const conn = await openConnection(server);
      try {
        await conn.write(flood).catch(() => undefined);
        const res = await conn.next();
        assert.ok(res.status === 431 || res.status === 414 || res.status === 400, String(res.status));
        assert.deepEqual(Object.keys(JSON.parse(res.text)), ['errors']);
        assert.ok(await conn.closed(), 'the connection is closed after a refused head');
      } finally {
        conn.destroy();
      }
    }
    await assertAlive();
  });

  it('refuses malformed request lines and ambiguous framing without executing anything smuggled', async () => {
    const smuggled = `LIST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${root}\r\n\r\n`;
    const attempts = [
      '\u0000\u0001\u0002 GARBAGE\r\n\r\n',
      'GET /v1/sys/health HTTP/9.9\r\nHost: x\r\n\r\n',
      `POST /v1/secret/data/s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      `POST /v1/secret/data/s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: ${smuggled.length + 3}\r\n\r\nabc${smuggled}`,
      `POST /v1/secret/data/s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\nX: y\r\n\r\nabc${smuggled}`,
      `POST /v1/secret/data/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n${smuggled}`,
    ];
    for (const attempt of attempts) {
      const conn = await openConnection(server);
      try {
        await conn.write(attempt).catch(() => undefined);
        const res = await conn.next();
        assert.equal(res.status, 400, JSON.stringify(attempt.slice(0, 80)));
        assert.ok(await conn.closed());
        assert.equal(conn.received().toString('latin1').match(/HTTP\/1\.1 \d{3}/g)?.length, 1, 'exactly one response: nothing smuggled ran');
      } finally {
        conn.destroy();
      }
    }
    await assertAlive();
  });

  it('never rewrites LIST-looking bytes inside a body, and round-trips them as data', async () => {
    const fake = '\r\n\r\nLIST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\n\r\n';
    const conn = await openConnection(server);
    try {
      // 1. Inside a JSON string (escaped), sent in one write with a following request.
      const escaped = JSON.stringify({ data: { v: fake } });
      // 2. As raw CRLFs between JSON tokens, followed by a string that starts with "LIST ".
      const rawBody = `{"data":\r\n\r\n{"w":\r\n\r\n"LIST /v1/secret/metadata/ HTTP/1.1"}}`;
      await conn.write(rawRequest('POST', '/v1/secret/data/smuggle/escaped', { token: root, body: escaped }));
      assert.equal((await conn.next()).status, 200);
      // Split right after the CRLFCRLF inside the body, so the tracker sees it at a chunk edge.
      const bytes = rawRequest('POST', '/v1/secret/data/smuggle/raw', { token: root, body: rawBody });
      const cut = bytes.indexOf('LIST ');
      await conn.write(bytes.subarray(0, cut));
      await new Promise((resolve) => setTimeout(resolve, 5));
      await conn.write(bytes.subarray(cut));
      const raw = await conn.next();
      assert.equal(raw.status, 200, raw.text);
      // 3. The same body, chunked, followed by a real LIST on the same connection.
      const chunked = `${rawBody.length.toString(16)}\r\n${rawBody}\r\n0\r\n\r\n`;
      await conn.write(`POST /v1/secret/data/smuggle/chunked HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${root}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
      assert.equal((await conn.next()).status, 200);
      await conn.write(rawRequest('LIST', '/v1/secret/metadata/smuggle', { token: root }));
      const list = await conn.next();
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(list.body.data.keys, ['chunked', 'escaped', 'raw']);
      // Exactly four responses so far: no LIST was carved out of a body.
      assert.equal(conn.received().toString('latin1').match(/HTTP\/1\.1 \d{3}/g)?.length, 4);
    } finally {
      conn.destroy();
    }
    const escapedRead = await send(server, 'GET', 'secret/data/smuggle/escaped', { token: root });
    assert.equal(escapedRead.body.data.data.v, fake);
    for (const key of ['raw', 'chunked']) {
      const read = await send(server, 'GET', `secret/data/smuggle/${key}`, { token: root });
      assert.deepEqual(read.body.data.data, { w: 'LIST /v1/secret/metadata/ HTTP/1.1' }, key);
    }
  });
});

describe('denial-of-service bounds on body shape at the default 32 MiB body limit', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
  });
  after(async () => {
    await server.destroy();
  });

  it('refuses a 3 million key object and a 15 million pair form, sent without a token, before building them', async () => {
    const limit = 32 * 1024 * 1024;
    // Base-36 keys keep 3 million entries under the body limit.
    const json = Buffer.from(`{"data":{${Array.from({ length: 3_000_000 }, (_, i) => `"${i.toString(36)}":0`).join(',')}}}`);
    const form = Buffer.from('a&'.repeat(15_000_000));
    assert.ok(json.length < limit && form.length < limit);
    // The server runs in this process: its peak resident memory is ours. Parsing either body in
    // full costs over 600 MB; the bodies themselves, read and decoded, a small part of that.
    const peakBefore = process.resourceUsage().maxRSS;
    const refusedJson = await send(server, 'POST', 'secret/data/wide', { body: json });
    assert.equal(refusedJson.status, 400, refusedJson.text.slice(0, 200));
    assert.deepEqual(refusedJson.body, { errors: ['JSON object exceeds the allowed number of entries'] });
    const refusedForm = await send(server, 'POST', 'secret/data/wide', { body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(refusedForm.status, 400, refusedForm.text.slice(0, 200));
    assert.deepEqual(refusedForm.body, { errors: ['form holds more values than allowed'] });
    const grownMiB = (process.resourceUsage().maxRSS - peakBefore) / 1024;
    assert.ok(grownMiB < 300, `peak resident memory grew by ${Math.round(grownMiB)} MiB`);
    assert.equal((await send(server, 'GET', 'sys/health')).status, 200);
  });
});
