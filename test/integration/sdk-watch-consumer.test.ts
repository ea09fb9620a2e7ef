/**
 * The SDK's watch() and consumer check-ins against a real server. A small loopback proxy sits
 * in front of the server where a test needs a misbehaving network: one that cuts event streams
 * (the SDK must reconnect with Last-Event-ID and miss nothing) and one that refuses them (the
 * SDK must fall back to long-polling).
 */
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Coffer, type WatchEvent } from '../../src/sdk/index.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

interface Proxy {
  url: string;
  /** Headers of every request for the event stream. */
  streamRequests: IncomingMessage['headers'][];
  /** Destroys every open event stream. */
  cutStreams(): void;
  close(): Promise<void>;
}

async function startProxy(target: string, options: { refuseStreams?: boolean } = {}): Promise<Proxy> {
  const upstream = new URL(target);
  const streams = new Set<Socket>();
  const streamRequests: IncomingMessage['headers'][] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const isStream = (req.url ?? '').startsWith('/v1/sys/watch?');
    if (isStream) {
      streamRequests.push(req.headers);
      if (options.refuseStreams) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[]}');
        return;
      }
      streams.add(req.socket);
      req.socket.once('close', () => streams.delete(req.socket));
    }
    // No keep-alive upstream, and the upstream request ends with the client's: a cut stream must
    // not stay open on the server's side (its close() would wait for it).
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', () => res.destroy());
    res.once('close', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    streamRequests,
    cutStreams: () => {
      for (const socket of streams) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const waitFor = async (check: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return check();
};

describe('SDK watch and consumer check-in', () => {
  let server: TestServer;
  let root: string;
  let appToken: string;
  const closers: Array<() => Promise<unknown>> = [];
  const write = async (path: string, data: Record<string, unknown>): Promise<void> => {
    assert.equal((await api(server, 'POST', `secret/data/${path}`, { token: root, body: { data } })).status, 200);
  };
  const coffer = (address: string, errors: unknown[] = []): Coffer => {
    const c = new Coffer({ address, token: appToken, onError: (err) => errors.push(err) });
    closers.push(() => c.close());
    return c;
  };

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    const policy = 'path "secret/data/app/*" { capabilities = ["read"] }\npath "sys/watch*" { capabilities = ["read"] }';
    await api(server, 'PUT', 'sys/policies/acl/app', { token: root, body: { policy } });
    appToken = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['app'] } })).body.auth.client_token;
  });
  after(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await server.destroy();
  });

  it('delivers KV writes under the prefix, and only those the token may read', async () => {
    const events: WatchEvent[] = [];
    const unsubscribe = coffer(server.url).watch('secret/data/', (event) => void events.push(event));
    await unsubscribe.ready;
    assert.equal(unsubscribe.mode, 'sse');
    await write('other/hidden', { v: 1 });
    await write('app/db', { password: 'one' });
    await write('app/db', { password: 'two' });
    assert.ok(await waitFor(() => events.length >= 2, 3000), 'two events arrived');
    assert.deepEqual(events.map((e) => [e.path, e.version, e.event]), [
      ['secret/data/app/db', 1, 'write'],
      ['secret/data/app/db', 2, 'write'],
    ]);
    assert.ok(events[0]!.seq < events[1]!.seq);
    unsubscribe();
    await write('app/db', { password: 'three' });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(events.length, 2, 'nothing after unsubscribe');
  });

  it('reconnects a cut stream with Last-Event-ID and delivers what was written meanwhile', async () => {
    const proxy = await startProxy(server.url);
    closers.push(() => proxy.close());
    const events: WatchEvent[] = [];
    const errors: unknown[] = [];
    const unsubscribe = coffer(proxy.url, errors).watch('secret/data/app/', (event) => void events.push(event));
    closers.push(async () => unsubscribe());
    await unsubscribe.ready;
    await write('app/cut', { n: 1 });
    assert.ok(await waitFor(() => events.length === 1, 3000));
    proxy.cutStreams();
    await write('app/cut', { n: 2 });
    await write('app/cut', { n: 3 });
    assert.ok(await waitFor(() => events.length === 3, 5000), `got ${events.length} events`);
    assert.deepEqual(events.map((e) => e.version), [1, 2, 3], 'in order, none lost, none twice');
    assert.equal(proxy.streamRequests.length >= 2, true);
    assert.equal(proxy.streamRequests[1]?.['last-event-id'], String(events[0]!.seq));
    assert.equal(unsubscribe.mode, 'sse');
  });

  it('falls back to long-polling when the event stream is refused', async () => {
    const proxy = await startProxy(server.url, { refuseStreams: true });
    closers.push(() => proxy.close());
    const events: WatchEvent[] = [];
    // A short poll wait keeps the server's teardown short (it waits for open polls to answer).
    const unsubscribe = coffer(proxy.url).watch('secret/data/app/', (event) => void events.push(event), { pollWaitSeconds: 1 });
    closers.push(async () => unsubscribe());
    await unsubscribe.ready;
    assert.equal(unsubscribe.mode, 'poll');
    await write('app/polled', { n: 1 });
    await write('app/polled', { n: 2 });
    assert.ok(await waitFor(() => events.length === 2, 5000), `got ${events.length} events`);
    assert.deepEqual(events.map((e) => [e.path, e.version]), [['secret/data/app/polled', 1], ['secret/data/app/polled', 2]]);
    assert.equal(proxy.streamRequests.length, 1, 'the stream was tried once');
  });

  it('rejects ready at once for a token that may not watch', async () => {
    await api(server, 'PUT', 'sys/policies/acl/kv-only', { token: root, body: { policy: 'path "secret/data/app/*" { capabilities = ["read"] }' } });
    const noWatch = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['kv-only'], no_default_policy: true } })).body.auth.client_token;
    const c = new Coffer({ address: server.url, token: noWatch, onError: () => undefined });
    closers.push(() => c.close());
    const unsubscribe = c.watch('secret/data/app/', () => undefined);
    await assert.rejects(unsubscribe.ready, { name: 'CofferPermissionDeniedError', status: 403 });
    unsubscribe();
  });

  it('registers a consumer, checks in versions, and registers again when the server forgot it', async () => {
    await write('app/consumed', { password: 'v1' });
    const c = coffer(server.url);
    const consumer = await c.consumer('secret/data/app/consumed', { name: 'web-1', ttl: 30, version: 1 });
    const listed = async (): Promise<Array<{ consumer_id: string; version: number; name: string; live: boolean }>> =>
      (await api(server, 'GET', 'sys/consumers?path=secret/data/app/consumed', { token: root })).body.data.consumers;
    assert.deepEqual((await listed()).map((x) => [x.consumer_id, x.version, x.name, x.live]), [[consumer.id, 1, 'web-1', true]]);
    // A consumer reports only versions the secret has.
    await write('app/consumed', { password: 'v2' });
    await consumer.checkIn(2);
    assert.equal((await listed())[0]?.version, 2);

    const firstId = consumer.id;
    assert.equal((await api(server, 'POST', 'sys/consumers/deregister', { token: root, body: { consumer_id: firstId, path: 'secret/data/app/consumed' } })).status, 204);
    await write('app/consumed', { password: 'v3' });
    await consumer.checkIn(3);
    const after = await listed();
    assert.equal(after.length, 1);
    assert.notEqual(consumer.id, firstId, 'a new registration');
    assert.deepEqual([after[0]?.consumer_id, after[0]?.version], [consumer.id, 3]);
    await consumer.close();
    assert.deepEqual(await listed(), []);
  });

  it('keeps a consumer live with heartbeats within its TTL', async () => {
    await write('app/heartbeat', { password: 'v1' });
    const c = coffer(server.url);
    const consumer = await c.consumer('secret/data/app/heartbeat', { name: 'worker', ttl: 2, version: 1 });
    const lastCheckIn = async (): Promise<string> => (await api(server, 'GET', 'sys/consumers?path=secret/data/app/heartbeat', { token: root })).body.data.consumers[0].last_check_in;
    const first = await lastCheckIn();
    await new Promise((r) => setTimeout(r, 2500));
    const later = await api(server, 'GET', 'sys/consumers?path=secret/data/app/heartbeat', { token: root });
    assert.equal(later.body.data.consumers[0].live, true, 'still live after more than its TTL');
    assert.ok(later.body.data.consumers[0].last_check_in > first, 'a heartbeat checked in');
    await consumer.close();
  });
});
