/**
 * Pipelined requests: handled one after another, and a connection that pipelines without
 * reading the answers is no longer read once MAX_WAITING requests wait on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { rewriteListRequestsOn } from '../api/vault/list-method.js';
import { inArrivalOrder, MAX_WAITING } from './in-arrival-order.js';

const REQUEST = Buffer.from('GET /x HTTP/1.1\r\nHost: x\r\n\r\n');

test('a client that pipelines without end is paused after MAX_WAITING waiting requests, and every request is answered in order once the first is', async (t) => {
  let arrived = 0;
  let handled = 0;
  let held: ServerResponse | undefined;
  const ordered = inArrivalOrder((_req, res) => {
    handled += 1;
    if (handled === 1) {
      held = res; // The first request waits, so every later one queues behind it.
      return;
    }
    res.end(String(handled));
  });
  const server = createServer((req, res) => {
    arrived += 1;
    ordered(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;

  const total = 20_000; // ~560 KB: many reads' worth
  const client = net.connect(port, '127.0.0.1');
  let received = '';
  client.setEncoding('latin1');
  client.on('data', (chunk: string) => { received += chunk; });
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  client.write(Buffer.concat(Array.from({ length: total }, () => REQUEST)));
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.ok(arrived < total / 4, `the server stopped reading: ${arrived} of ${total} requests parsed`);
  assert.ok(arrived >= MAX_WAITING);

  // The first answer lets the queue drain; the connection is read again and all are answered.
  held?.end('1');
  const deadline = Date.now() + 30_000;
  while ((received.match(/HTTP\/1\.1 200/g) ?? []).length < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal((received.match(/HTTP\/1\.1 200/g) ?? []).length, total);
  assert.equal(arrived, total);
  const bodies = [...received.matchAll(/\r\n\r\n(\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(bodies.slice(0, 5), [1, 2, 3, 4, 5], 'answers come in arrival order');
  client.destroy();
});

test('a paused connection is not cut off by the header deadline while its first request is still being answered', async (t) => {
  const headersTimeoutMs = 300;
  let first = true;
  const ordered = inArrivalOrder((_req, res) => {
    if (first) {
      first = false;
      setTimeout(() => res.end('slow'), headersTimeoutMs * 4); // a long poll, a slow database call
      return;
    }
    res.end('ok');
  });
  const server = createServer(ordered);
  // As the real server: the LIST rewriter holds a head split across reads, with its own deadline.
  rewriteListRequestsOn(server, headersTimeoutMs);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;

  const total = 3_000;
  const client = net.connect(port, '127.0.0.1');
  let received = '';
  client.setEncoding('latin1');
  client.on('data', (chunk: string) => { received += chunk; });
  let closed = false;
  client.on('close', () => { closed = true; });
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  client.write(Buffer.concat(Array.from({ length: total }, () => REQUEST)));
  const deadline = Date.now() + 20_000;
  while ((received.match(/HTTP\/1\.1 /g) ?? []).length < total && !closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(!received.includes(' 408 '), 'no request timed out');
  assert.equal((received.match(/HTTP\/1\.1 200/g) ?? []).length, total);
  client.destroy();
});
