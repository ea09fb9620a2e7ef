/**
 * sys/consumers: a consumer may not report a version ahead of the secret. A version above the
 * current one is refused with 400 saying why, at registration and at check-in, and is not
 * recorded (so it cannot confirm a rotation); 0 ("none yet") is taken. An older version is taken
 * whatever became of it (soft-deleted, destroyed, pruned past max_versions): its consumer still
 * runs on the value it read, so it stays live and is a straggler for a rotation, not gone.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createManualClock } from '../../src/core/clock.js';
import { eventually } from '../helpers/polling.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let root: string;
/** A webhook rotator that mints a fixed new value and accepts every other step. */
let rotator: Server;
const PATH = 'secret/data/versioned';

const write = async (value: string, path = PATH): Promise<void> => {
  const response = await api(server, 'POST', path, { token: root, body: { data: { value } } });
  assert.equal(response.status, 200, JSON.stringify(response.body));
};
const register = (version: number, path = PATH) => api(server, 'POST', 'sys/consumers/register', { token: root, body: { path, version, ttl: 600 } });
const checkIn = (id: string, version: number, path = PATH) => api(server, 'POST', 'sys/consumers/checkin', { token: root, body: { consumer_id: id, path, version } });
const listed = async (id: string, path = PATH): Promise<{ version: number; live: boolean } | undefined> => {
  const response = await api(server, 'GET', `sys/consumers?path=${path}`, { token: root });
  return (response.body.data.consumers as Array<{ consumer_id: string; version: number; live: boolean }>).find((c) => c.consumer_id === id);
};
const recorded = async (id: string): Promise<number | undefined> => (await listed(id))?.version;

before(async () => {
  rotator = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const step = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Step: string }).Step;
      if (step === 'createSecret') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ SecretString: '{"value":"rotated"}' }));
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => rotator.listen(0, '127.0.0.1', resolve));
  server = await startTestServer({ dev: true, storage: 'memory', rotators: { tickMs: 20, pollMs: 10 } });
  root = server.rootToken as string;
  assert.equal((await api(server, 'POST', 'secret/metadata/versioned', { token: root, body: { max_versions: 3 } })).status, 204);
});

after(async () => {
  await server?.destroy();
  rotator?.closeAllConnections();
  await new Promise<void>((resolve) => (rotator ? rotator.close(() => resolve()) : resolve()));
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

test('a consumer on a destroyed, pruned or soft-deleted version checks in and stays live on it', async () => {
  const onPruned = (await register(1)).body.data.consumer_id as string;
  while (((await api(server, 'GET', PATH, { token: root })).body.data.metadata.version as number) < 5) await write('more');
  assert.equal((await api(server, 'POST', 'secret/destroy/versioned', { token: root, body: { versions: [4] } })).status, 204);
  assert.equal((await api(server, 'POST', 'secret/delete/versioned', { token: root, body: { versions: [3] } })).status, 204);

  // max_versions 3 keeps versions 3 to 5: version 1 is gone from the store, not from the consumer.
  const pruned = await checkIn(onPruned, 1);
  assert.equal(pruned.status, 200, JSON.stringify(pruned.body));
  const entry = await listed(onPruned);
  assert.equal(entry?.version, 1);
  assert.equal(entry?.live, true);
  const registeredOnPruned = await register(2);
  assert.equal(registeredOnPruned.status, 200, JSON.stringify(registeredOnPruned.body));
  assert.equal(registeredOnPruned.body.data.version, 2);

  const id = (await register(0)).body.data.consumer_id as string;
  assert.equal((await checkIn(id, 4)).status, 200, 'a destroyed version');
  assert.equal(await recorded(id), 4);
  assert.equal((await checkIn(id, 3)).status, 200, 'a soft-deleted version');
  assert.equal(await recorded(id), 3);
  assert.equal((await checkIn(id, 5)).status, 200);
  assert.equal((await checkIn(id, 6)).status, 400);
  for (const bad of [-1, 1.5]) {
    assert.deepEqual((await checkIn(id, bad)).body, { errors: ['version must be a non-negative integer'] }, String(bad));
  }
  assert.equal(await recorded(id), 5);
});

test('a rotation holds for a live consumer still on a pruned version, and finishes once it reports the new one', async () => {
  const config = await api(server, 'POST', 'rotators/config/fx-hook', { token: root, body: { type: 'webhook', url: `http://127.0.0.1:${(rotator.address() as AddressInfo).port}/rotate` } });
  assert.equal(config.status, 204, JSON.stringify(config.body));
  // Rotators work on the aws/ KV v2 mount, which every server has from its first start.
  const path = 'aws/data/fx-app';
  assert.equal((await api(server, 'POST', 'aws/metadata/fx-app', { token: root, body: { max_versions: 2 } })).status, 204);
  await write('v1', path);
  const id = (await register(1, path)).body.data.consumer_id as string;
  await write('v2', path);
  await write('v3', path);
  assert.equal((await api(server, 'GET', 'aws/data/fx-app?version=1', { token: root })).status, 404, 'version 1 was pruned');
  assert.equal((await checkIn(id, 1, path)).status, 200, 'the straggler still checks in');

  const scheduled = await api(server, 'POST', 'rotators/schedule/fx-app', {
    token: root,
    body: { rotator: 'fx-hook', verify_timeout: '1h', on_timeout: 'hold', rotate_immediately: true },
  });
  assert.equal(scheduled.status, 200, JSON.stringify(scheduled.body));
  const status = async (): Promise<Record<string, any>> => (await api(server, 'GET', 'rotators/status/fx-app', { token: root })).body.data;
  await eventually(async () => (await status()).rotation?.stragglers?.length > 0, 10_000, 'the rotation to wait in verify');
  const waiting = (await status()).rotation;
  assert.equal(waiting.phase, 'verify');
  assert.deepEqual(waiting.stragglers.map((s: { consumer_id: string; version: number }) => [s.consumer_id, s.version]), [[id, 1]]);
  assert.deepEqual(waiting.consumers_confirmed, [], 'a consumer on a pruned version has not switched');
  assert.equal((await listed(id, path))?.live, true);

  assert.equal((await checkIn(id, waiting.to_version, path)).status, 200);
  await eventually(async () => (await status()).rotation === null, 10_000, 'the rotation to finish');
  const done = (await status()).last_rotation;
  assert.equal(done.status, 'completed');
  assert.equal(done.verify_outcome, 'confirmed');
  assert.deepEqual(done.consumers_confirmed.map((c: { consumer_id: string }) => c.consumer_id), [id]);
});

test('a path that holds no versioned secret takes any version, as before', async () => {
  assert.equal((await api(server, 'POST', 'sys/mounts/plain', { token: root, body: { type: 'kv', options: { version: '1' } } })).status, 204);
  const registered = await api(server, 'POST', 'sys/consumers/register', { token: root, body: { path: 'plain/app', version: 7 } });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  assert.equal(registered.body.data.version, 7);
});

test('a seal does not expire consumers: after the unseal each one has a TTL to check in again', async () => {
  const clock = createManualClock(Date.now());
  const local = await startTestServer({ dev: true, clock });
  try {
    const token = local.rootToken as string;
    assert.equal((await api(local, 'POST', 'secret/data/sealed', { token, body: { data: { value: 'a' } } })).status, 200);
    const registered = await api(local, 'POST', 'sys/consumers/register', { token, body: { path: 'secret/data/sealed', version: 1, ttl: 10 } });
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    const id = registered.body.data.consumer_id as string;
    const live = async (): Promise<boolean | undefined> =>
      ((await api(local, 'GET', 'sys/consumers?path=secret/data/sealed', { token })).body.data.consumers as Array<{ consumer_id: string; live: boolean }>)
        .find((c) => c.consumer_id === id)?.live;

    assert.equal((await api(local, 'PUT', 'sys/seal', { token })).status, 204);
    clock.advance(300_000);
    const key = readFileSync(join(local.dataDir, 'dev-unseal-key'), 'utf8').trim();
    assert.equal((await api(local, 'PUT', 'sys/unseal', { body: { key } })).body.sealed, false);
    assert.equal(await live(), true, 'five sealed minutes are not silence: it could not check in');
    clock.advance(11_000);
    assert.equal(await live(), false, 'a whole TTL after the unseal without a check-in is');
  } finally {
    await local.destroy();
  }
});
