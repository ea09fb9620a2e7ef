/**
 * sys/consumers: a consumer reports only a version the secret has. A version above the current
 * one, destroyed, or pruned past max_versions is refused with 400 saying why, at registration
 * and at check-in, and is not recorded (so it cannot confirm a rotation); a soft-deleted version
 * can still be in use and is taken, as is 0 ("none yet").
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let root: string;
const PATH = 'secret/data/versioned';

const write = async (value: string): Promise<void> => {
  assert.equal((await api(server, 'POST', PATH, { token: root, body: { data: { value } } })).status, 200);
};
const register = (version: number) => api(server, 'POST', 'sys/consumers/register', { token: root, body: { path: PATH, version, ttl: 600 } });
const checkIn = (id: string, version: number) => api(server, 'POST', 'sys/consumers/checkin', { token: root, body: { consumer_id: id, path: PATH, version } });
const recorded = async (id: string): Promise<number | undefined> => {
  const listed = await api(server, 'GET', `sys/consumers?path=${PATH}`, { token: root });
  return (listed.body.data.consumers as Array<{ consumer_id: string; version: number }>).find((c) => c.consumer_id === id)?.version;
};

before(async () => {
  server = await startTestServer({ dev: true, storage: 'memory' });
  root = server.rootToken as string;
  assert.equal((await api(server, 'POST', 'secret/metadata/versioned', { token: root, body: { max_versions: 3 } })).status, 204);
});

after(async () => {
  await server?.destroy();
});

test('a version the secret does not have yet is refused at registration and check-in, and not recorded', async () => {
  assert.deepEqual((await register(1)).body, { errors: ['version 1 does not exist: the current version is 0'] });
  const id = (await register(0)).body.data.consumer_id as string;
  await write('v1');
  assert.equal((await checkIn(id, 1)).status, 200);
  const ahead = await checkIn(id, 2);
  assert.equal(ahead.status, 400);
  assert.deepEqual(ahead.body, { errors: ['version 2 does not exist: the current version is 1'] });
  assert.equal(await recorded(id), 1, 'the refused report left the consumer on version 1');
  await write('v2');
  assert.equal((await checkIn(id, 2)).status, 200);
  assert.equal(await recorded(id), 2);
});

test('a destroyed or pruned version is refused; a soft-deleted one is taken', async () => {
  const id = (await register(0)).body.data.consumer_id as string;
  while (((await api(server, 'GET', PATH, { token: root })).body.data.metadata.version as number) < 5) await write('more');
  assert.equal((await api(server, 'POST', 'secret/destroy/versioned', { token: root, body: { versions: [4] } })).status, 204);
  assert.equal((await api(server, 'POST', 'secret/delete/versioned', { token: root, body: { versions: [3] } })).status, 204);

  assert.deepEqual((await checkIn(id, 4)).body, { errors: ['version 4 was destroyed'] });
  // max_versions 3 keeps versions 3 to 5.
  assert.deepEqual((await checkIn(id, 2)).body, { errors: ['version 2 is no longer kept: the oldest version kept is 3'] });
  assert.equal((await register(4)).status, 400);
  assert.equal((await checkIn(id, 3)).status, 200);
  assert.equal(await recorded(id), 3);
  assert.equal((await checkIn(id, 5)).status, 200);
});

test('a path that holds no versioned secret takes any version, as before', async () => {
  assert.equal((await api(server, 'POST', 'sys/mounts/plain', { token: root, body: { type: 'kv', options: { version: '1' } } })).status, 204);
  const registered = await api(server, 'POST', 'sys/consumers/register', { token: root, body: { path: 'plain/app', version: 7 } });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  assert.equal(registered.body.data.version, 7);
});
