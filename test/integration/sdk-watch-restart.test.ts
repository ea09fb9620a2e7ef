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
