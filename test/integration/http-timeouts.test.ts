/**
 * The HTTP read and idle deadlines (http_read_header_timeout, http_read_timeout,
 * http_idle_timeout), configured small, on a real server and on an HTTP replica process: a client
 * that stops halfway through a request, or sits idle, loses its connection; a watch stream, whose
 * request was received long ago but whose response goes on, keeps it.
 *
 * Nothing here asserts how fast a connection closes, only that it does within a generous wait.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { api, startTestServer, type TestServer } from '../helpers/server.js';
import { openConnection, rawRequest, type RawConnection } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/polling.js';

/** Far above the configured deadlines (1 s to 3 s), far below Coffer's defaults (10 s to 5 min). */
const CLOSE_WAIT_MS = 20_000;

const TIMEOUTS = { httpReadHeaderTimeout: '1s', httpReadTimeout: '2s', httpIdleTimeout: '3s' } as const;

function receivedText(connection: RawConnection): string {
  return connection.received().toString('latin1');
}

describe('HTTP read and idle deadlines on the primary', () => {
  let server: TestServer;
  let root: string;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory', ...TIMEOUTS });
    root = server.rootToken as string;
  });
  after(() => server.destroy());

  it('closes a connection whose client sends half a request line and stops, with a 408', async () => {
    const connection = await openConnection(server);
    await connection.write('GET /v1/sys/heal');
    assert.equal(await connection.closed(CLOSE_WAIT_MS), true, 'the server closed the connection');
    assert.match(receivedText(connection), /^HTTP\/1\.1 408 /);
  });

  it('cuts a request whose body stops arriving, and never acts on it', async () => {
    const connection = await openConnection(server);
    const body = JSON.stringify({ data: { value: 'never-stored' } });
    const head = rawRequest('POST', '/v1/secret/data/slow-body', { token: root, headers: { 'Content-Type': 'application/json', 'Content-Length': String(body.length) } });
    await connection.write(Buffer.concat([head, Buffer.from(body.slice(0, 10))]));
    assert.equal(await connection.closed(CLOSE_WAIT_MS), true, 'the server closed the connection');
    assert.match(receivedText(connection), /^HTTP\/1\.1 408 /);
    assert.equal((await api(server, 'GET', 'secret/data/slow-body', { token: root })).status, 404);
  });

  it('closes a keep-alive connection left idle after its response', async () => {
    const connection = await openConnection(server);
    await connection.write(rawRequest('GET', '/v1/sys/health'));
    const answer = await connection.next();
    assert.equal(answer.status, 200);
    assert.notEqual(answer.headers.connection, 'close');
    assert.equal(await connection.closed(CLOSE_WAIT_MS), true, 'the server closed the idle connection');
  });

  it('closes a keep-alive connection whose next request head trickles in and never ends, with a 408', async () => {
    const connection = await openConnection(server);
    await connection.write(rawRequest('GET', '/v1/sys/health'));
    assert.equal((await connection.next()).status, 200);
    // A byte at a time, far more often than the idle deadline: only the header deadline can end it.
    await connection.write('GET /v1/sys/health HTTP/1.1\r\nX-Slow: ');
    const end = Date.now() + CLOSE_WAIT_MS;
    while (!(await connection.closed(200)) && Date.now() < end) await connection.write('a').catch(() => undefined);
    assert.equal(await connection.closed(0), true, 'the server closed the connection');
    assert.equal((await connection.next()).status, 408);
  });

  it('closes a watch stream whose client pipelines a head it never finishes, writing nothing into the stream', async () => {
    const watch = await openConnection(server);
    await watch.write(rawRequest('GET', '/v1/sys/watch?prefix=secret/', { token: root }));
    await waitFor(() => receivedText(watch).includes(': watching'), CLOSE_WAIT_MS, 'the watch stream to open');
    await watch.write('GET /v1/sys/heal');
    assert.equal(await watch.closed(CLOSE_WAIT_MS), true, 'the server closed the connection');
    assert.doesNotMatch(receivedText(watch), /HTTP\/1\.1 408/);
  });

  it('keeps a watch stream open past the request deadline and delivers events on it', async () => {
    const watch = await openConnection(server);
    await watch.write(rawRequest('GET', '/v1/sys/watch?prefix=secret/', { token: root }));
    await waitFor(() => receivedText(watch).includes(': watching'), CLOSE_WAIT_MS, 'the watch stream to open');

    // A slow request started after the watch: once the server has cut it, the request deadline
    // has passed for the watch's request too, which began earlier.
    const slow = await openConnection(server);
    await slow.write(Buffer.concat([rawRequest('POST', '/v1/sys/policies/acl/slow', { token: root, headers: { 'Content-Length': '100' } }), Buffer.from('{"policy":')]));
    assert.equal(await slow.closed(CLOSE_WAIT_MS), true, 'the slow request was cut');

    const written = await api(server, 'POST', 'secret/data/after-deadline', { token: root, body: { data: { value: 'v' } } });
    assert.equal(written.status, 200);
    await waitFor(() => receivedText(watch).includes('secret/data/after-deadline'), CLOSE_WAIT_MS, 'the event on the watch stream');
    assert.equal(await watch.closed(0), false, 'the watch stream is still open');
    assert.doesNotMatch(receivedText(watch), /HTTP\/1\.1 408/);
    watch.destroy();
  });
});

describe('HTTP read and idle deadlines on an HTTP replica process', () => {
  let server: TestServer;
  let root: string;

  /** A raw connection the replica serves, proven by a read it answered itself. */
  async function replicaConnection(): Promise<RawConnection> {
    for (let attempt = 0; attempt < 300; attempt += 1) {
      const connection = await openConnection(server);
      await connection.write(rawRequest('GET', '/v1/secret/data/probe', { token: root }));
      const answer = await connection.next();
      if (answer.headers['x-coffer-served-by'] === 'replica') return connection;
      connection.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('no connection was served by the replica');
  }

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'sqlite', httpReplicas: 1, ...TIMEOUTS });
    root = server.rootToken as string;
    assert.equal((await api(server, 'POST', 'secret/data/probe', { token: root, body: { data: { value: 'v1' } } })).status, 200);
  });
  after(() => server.destroy());

  it('closes a replica connection whose next request stops halfway through its request line', async () => {
    const connection = await replicaConnection();
    await connection.write('GET /v1/secret/da');
    assert.equal(await connection.closed(CLOSE_WAIT_MS), true, 'the replica closed the connection');
    assert.match(receivedText(connection), /\r\n\r\n\{.*\}HTTP\/1\.1 408 /s, 'the header deadline (not the idle one) closed it');
  });

  it('closes a replica connection left idle after its response', async () => {
    const connection = await replicaConnection();
    assert.equal(await connection.closed(CLOSE_WAIT_MS), true, 'the replica closed the idle connection');
  });
});
