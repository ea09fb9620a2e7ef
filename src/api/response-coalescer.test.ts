import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { endAtTurnEnd, endQueuedResponsesNow } from './response-coalescer.js';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function answer(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  endAtTurnEnd(res, body);
}

test('responses queued in one turn all arrive, each with its own body', async (t) => {
  const server = createServer((req, res) => answer(res, `answer to ${req.url}`));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = await listen(server);
  const paths = Array.from({ length: 40 }, (_, i) => `/r${i}`);
  const replies = await Promise.all(paths.map((path) => get(port, path)));
  assert.deepEqual(
    replies.map((r) => [r.status, r.body]),
    paths.map((path) => [200, `answer to ${path}`]),
  );
});

test('a response is ended only at the end of the turn, and headersSent already guards it', async (t) => {
  let endedInSameTurn: boolean | undefined;
  let headersSentAtOnce: boolean | undefined;
  const server = createServer((_req, res) => {
    answer(res, 'later');
    endedInSameTurn = res.writableEnded;
    headersSentAtOnce = res.headersSent;
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = await listen(server);
  const reply = await get(port, '/');
  assert.equal(reply.body, 'later');
  assert.equal(endedInSameTurn, false);
  assert.equal(headersSentAtOnce, true);
});

test('endQueuedResponsesNow sends answers computed this turn before connections are dropped', async (t) => {
  const server = createServer((_req, res) => {
    answer(res, 'committed');
    // What HttpApi.close() does: flush, then drop every connection in the same turn.
    endQueuedResponsesNow();
    server.closeAllConnections();
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = await listen(server);
  const reply = await get(port, '/');
  assert.deepEqual(reply, { status: 200, body: 'committed' });
});

test('a response whose client went away does not stop the rest of the burst', async (t) => {
  const server = createServer((req, res) => {
    answer(res, `ok ${req.url}`);
    if (req.url === '/gone') res.socket?.destroy();
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = await listen(server);
  const [gone, kept] = await Promise.allSettled([get(port, '/gone'), get(port, '/kept')]);
  assert.equal(gone.status, 'rejected');
  assert.deepEqual(kept.status === 'fulfilled' ? kept.value : undefined, { status: 200, body: 'ok /kept' });
});
