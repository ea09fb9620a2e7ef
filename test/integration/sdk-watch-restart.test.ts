/**
 * An SDK watch across a server restart: the first reconnect to the new process is told events
 * were missed (reset) and continues in the new numbering, so a later reconnect to the same
 * process (a cut connection, no restart) is not reset again.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { Coffer, type WatchEvent } from '../../src/sdk/index.js';
import { api, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.js';

const ROOT = 'root-token-for-watch-restart';
const dataDir = tempDir('coffer-watch-restart-');
let server: TestServer | undefined;
let relay: TcpRelay | undefined;
let client: Coffer | undefined;

after(async () => {
  await client?.close();
  await relay?.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const waitFor = async (check: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i += 1) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.ok(check(), `waited for ${what}`);
};

test('after a restart the SDK watch is reset once, not at every later reconnect', { timeout: 60_000 }, async () => {
  server = await startTestServer({ dev: true, devRootToken: ROOT, dataDir, keepDataDir: true });
  const port = Number(new URL(server.url).port);
  relay = await startTcpRelay({ host: '127.0.0.1', port });
  const events: WatchEvent[] = [];
  client = new Coffer({ address: `http://127.0.0.1:${relay.port}`, token: ROOT, onError: () => undefined });
  client.watch('secret/data/w/', (event) => void events.push(event), { transport: 'sse' });
  const write = async (name: string): Promise<void> => {
    assert.equal((await api(server as TestServer, 'POST', `secret/data/w/${name}`, { token: ROOT, body: { data: { v: name } } })).status, 200);
  };
  const kinds = (): string[] => events.map((e) => e.event);

  await new Promise((resolve) => setTimeout(resolve, 300));
  await write('before');
  await waitFor(() => kinds().includes('write'), 'the first event');

  await server.close();
  server = await startTestServer({ dev: true, devRootToken: ROOT, dataDir, keepDataDir: true, listen: `127.0.0.1:${port}` });
  await waitFor(() => kinds().includes('reset'), 'the reset after the restart');

  // A cut connection to the same process: the watch reconnects, and must not be reset again.
  relay.cutAll();
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await write('after');
  await waitFor(() => events.some((e) => e.event === 'write' && e.path === 'secret/data/w/after'), 'the event after the reconnect');
  assert.equal(kinds().filter((k) => k === 'reset').length, 1, `events: ${kinds().join(', ')}`);
});

test('a watch that has seen no event yet still gets what was written while its connection was down', { timeout: 60_000 }, async () => {
  server ??= await startTestServer({ dev: true, devRootToken: ROOT, dataDir, keepDataDir: true });
  const live = server;
  const quiet = await startTcpRelay({ host: '127.0.0.1', port: Number(new URL(live.url).port) });
  const watcher = new Coffer({ address: `http://127.0.0.1:${quiet.port}`, token: ROOT, onError: () => undefined });
  try {
    const events: WatchEvent[] = [];
    const sub = watcher.watch('secret/data/quiet/', (event) => void events.push(event), { transport: 'sse' });
    await sub.ready;
    await waitFor(() => sub.position !== undefined, 'the stream to say where it begins');
    // The connection drops and stays down while the secret is written.
    quiet.refuseNew(true);
    quiet.cutAll();
    assert.equal((await api(live, 'POST', 'secret/data/quiet/app', { token: ROOT, body: { data: { v: 'while-away' } } })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    quiet.refuseNew(false);
    await waitFor(() => events.some((e) => e.event === 'write' && e.path === 'secret/data/quiet/app'), 'the write made while disconnected');
    assert.deepEqual(events.map((e) => e.event), ['write'], 'replayed, not reset');
  } finally {
    await watcher.close();
    await quiet.close();
  }
});
