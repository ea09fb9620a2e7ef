/**
 * A watcher that stops reading is cut off instead of making the server hold every event for
 * it (a reviewer ran a server out of memory with 200 such streams and a write loop).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { createEventBus, type EventBus } from '../../core/events/event-bus.js';
import { serveEventStream, type WatchBacklogLimits } from './watch.js';

const allowAll = { holder: 'test-token-id', canRead: async (): Promise<boolean> => true, stillValid: async (): Promise<boolean> => true };
const LONG = 'x'.repeat(2000);
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function start(limits: WatchBacklogLimits): Promise<{ bus: EventBus; server: Server; closed: Promise<void>; opened: Promise<void> }> {
  const bus = createEventBus({ clock: { now: () => Date.now() } });
  let markOpened!: () => void;
  let markClosed!: () => void;
  const opened = new Promise<void>((resolve) => { markOpened = resolve; });
  const closed = new Promise<void>((resolve) => { markClosed = resolve; });
  const server = createServer((_req, res) => {
    res.on('close', () => markClosed());
    serveEventStream(res, bus, allowAll, { prefix: '', after: undefined }, limits);
    markOpened();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { bus, server, closed, opened };
}

function stalledClient(server: Server): Socket {
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  socket.write('GET /v1/sys/watch HTTP/1.1\r\nhost: x\r\n\r\n');
  socket.pause();
  socket.on('error', () => undefined);
  return socket;
}

test('a watcher whose queue of events overflows is cut off', async () => {
  const { bus, server, closed, opened } = await start({ maxBufferedBytes: 1 << 30, maxPendingSteps: 100 });
  const socket = stalledClient(server);
  await opened;
  for (let i = 0; i < 1000; i += 1) bus.publish({ path: `secret/data/${LONG}${i}`, version: 1, event: 'write' });
  await closed;
  socket.destroy();
  server.close();
});

test('a watcher that stops reading is cut off once its socket buffer holds too much', async () => {
  const { bus, server, closed, opened } = await start({ maxBufferedBytes: 64 * 1024, maxPendingSteps: 1e9 });
  const socket = stalledClient(server);
  await opened;
  let isClosed = false;
  void closed.then(() => { isClosed = true; });
  let published = 0;
  // Batches small enough for every step to run between them: only the bytes grow.
  while (!isClosed && published < 50_000) {
    for (let i = 0; i < 20; i += 1) bus.publish({ path: `secret/data/${LONG}${published++}`, version: 1, event: 'write' });
    await turn();
  }
  assert.equal(isClosed, true, `still open after ${published} events of 2 KB`);
  socket.destroy();
  server.close();
});

test('a watcher that keeps reading is never cut off', async () => {
  const { bus, server, closed, opened } = await start({ maxBufferedBytes: 64 * 1024, maxPendingSteps: 100 });
  let isClosed = false;
  void closed.then(() => { isClosed = true; });
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  socket.write('GET /v1/sys/watch HTTP/1.1\r\nhost: x\r\n\r\n');
  let events = 0;
  socket.on('data', (chunk: Buffer) => { events += chunk.toString('latin1').split('\nevent: write\n').length - 1; });
  await opened;
  for (let i = 0; i < 2000; i += 1) {
    bus.publish({ path: `secret/data/${LONG}${i}`, version: 1, event: 'write' });
    if (i % 20 === 19) await turn();
  }
  while (events < 2000 && !isClosed) await turn();
  assert.equal(isClosed, false);
  assert.equal(events, 2000);
  socket.destroy();
  await closed;
  server.close();
});
