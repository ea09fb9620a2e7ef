import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiServer } from './http.js';

const TIMEOUTS = { readHeader: 10, read: 30, idle: 300 };

interface Reply {
  status: number;
  connection: string | undefined;
  body: string;
  socketClosed: Promise<void>;
}

/** One request over `agent`; resolves with the whole response, or rejects when the connection is cut. */
function get(port: number, path: string, agent: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const socket = res.socket;
      const socketClosed = new Promise<void>((closed) => socket.once('close', () => closed()));
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body, socketClosed }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A server whose /held requests wait until the test lets them go. */
async function startHoldingServer() {
  const held: ServerResponse[] = [];
  let arrived: (() => void) | undefined;
  const heldArrived = new Promise<void>((resolve) => (arrived = resolve));
  const { server, graceful } = createApiServer(TIMEOUTS, (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/held') {
      held.push(res);
      arrived?.();
      return;
    }
    res.end('quick');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, graceful, port, held, heldArrived };
}

describe('graceful close of an HTTP server', () => {
  it('closes an idle keep-alive connection at once and lets the response in flight finish, with Connection: close', async () => {
    const { server, graceful, port, held, heldArrived } = await startHoldingServer();
    const idleAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const busyAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const events: string[] = [];

    const idle = await get(port, '/quick', idleAgent);
    assert.equal(idle.connection, 'keep-alive');
    const slow = get(port, '/held', busyAgent).then((reply) => {
      events.push('held response received');
      return reply;
    });
    await heldArrived;

    server.close();
    const finished = graceful.finish(60_000).then((clean) => {
      events.push(`finished:${clean}`);
    });
    await idle.socketClosed;
    events.push('idle connection closed');

    const res = held[0] as ServerResponse;
    res.end('slow answer');
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'slow answer');
    assert.equal(reply.connection, 'close', 'the client is told not to send another request on it');
    await reply.socketClosed;
    await finished;
    assert.deepEqual(events, ['idle connection closed', 'held response received', 'finished:true']);
    idleAgent.destroy();
    busyAgent.destroy();
  });

  it('closes the connection of a response still unfinished when the grace period ends', async () => {
    const { server, graceful, port, heldArrived } = await startHoldingServer();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const stuck = get(port, '/held', agent);
    await heldArrived;
    server.close();
    assert.equal(await graceful.finish(1), false);
    await assert.rejects(stuck, /socket hang up|ECONNRESET/);
    agent.destroy();
  });
});
