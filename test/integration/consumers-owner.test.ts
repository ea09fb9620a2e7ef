/**
 * sys/consumers: a consumer belongs to the token that registered it. Another token that may
 * read the same secret sees it listed, but cannot check in for it (confirming a switch that
 * application never made, which would let a rotation revoke the credential it still uses) or
 * deregister it.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let root: string;

before(async () => {
  server = await startTestServer({ dev: true });
  root = server.rootToken as string;
  assert.equal((await api(server, 'PUT', 'sys/policies/acl/app-reader', { token: root, body: { policy: 'path "secret/data/app" { capabilities = ["read"] }' } })).status, 204);
  // Versions 1 and 2: consumers report only versions the secret has.
  for (const k of ['v1', 'v2']) assert.equal((await api(server, 'POST', 'secret/data/app', { token: root, body: { data: { k } } })).status, 200);
});

after(async () => {
  await server?.destroy();
});

async function readerToken(): Promise<string> {
  const created = await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['app-reader'], ttl: '1h' } });
  return created.body.auth.client_token as string;
}

test('only the token that registered a consumer may check in for it or deregister it', async () => {
  const owner = await readerToken();
  const other = await readerToken();
  const registered = await api(server, 'POST', 'sys/consumers/register', { token: owner, body: { path: 'secret/data/app', version: 1, ttl: 600 } });
  assert.equal(registered.status, 200);
  const id = registered.body.data.consumer_id as string;

  const listed = await api(server, 'GET', 'sys/consumers?path=secret/data/app', { token: other });
  assert.ok((listed.body.data.consumers as Array<{ consumer_id: string }>).some((c) => c.consumer_id === id));

  const forged = await api(server, 'POST', 'sys/consumers/checkin', { token: other, body: { consumer_id: id, path: 'secret/data/app', version: 2 } });
  assert.equal(forged.status, 400);
  assert.deepEqual(forged.body, { errors: ['unknown consumer: register again'] });
  const removed = await api(server, 'POST', 'sys/consumers/deregister', { token: other, body: { consumer_id: id, path: 'secret/data/app' } });
  assert.equal(removed.status, 400);
  // Exactly this message, which the SDK registers anew on (and on no other 400).
  assert.deepEqual(removed.body, { errors: ['unknown consumer: register again'] });

  const still = await api(server, 'GET', 'sys/consumers?path=secret/data/app', { token: owner });
  const mine = (still.body.data.consumers as Array<{ consumer_id: string; version: number }>).find((c) => c.consumer_id === id);
  assert.equal(mine?.version, 1);

  assert.equal((await api(server, 'POST', 'sys/consumers/checkin', { token: owner, body: { consumer_id: id, path: 'secret/data/app', version: 2 } })).status, 200);
  assert.equal((await api(server, 'POST', 'sys/consumers/deregister', { token: owner, body: { consumer_id: id, path: 'secret/data/app' } })).status, 204);
  // Deregistering what is already gone is done.
  assert.equal((await api(server, 'POST', 'sys/consumers/deregister', { token: owner, body: { consumer_id: id, path: 'secret/data/app' } })).status, 204);
});

test('an operator with sudo may deregister any consumer, and still cannot check in for it', async () => {
  const owner = await readerToken();
  const id = (await api(server, 'POST', 'sys/consumers/register', { token: owner, body: { path: 'secret/data/app', version: 1 } })).body.data.consumer_id as string;
  assert.equal((await api(server, 'POST', 'sys/consumers/checkin', { token: root, body: { consumer_id: id, path: 'secret/data/app', version: 2 } })).status, 400);
  assert.equal((await api(server, 'POST', 'sys/consumers/deregister', { token: root, body: { consumer_id: id, path: 'secret/data/app' } })).status, 204);
  const left = await api(server, 'GET', 'sys/consumers?path=secret/data/app', { token: root });
  assert.ok(!(left.body.data.consumers as Array<{ consumer_id: string }>).some((c) => c.consumer_id === id));
});

test('a consumer ttl may be a duration string or whole seconds; version stays a whole number', async () => {
  const owner = await readerToken();
  const register = (body: Record<string, unknown>) => api(server, 'POST', 'sys/consumers/register', { token: owner, body: { path: 'secret/data/app', version: 1, ...body } });
  for (const [ttl, seconds] of [['60s', 60], ['5m', 300], ['1h', 3600], ['1h30m', 5400], [90, 90], ['120', 120]] as const) {
    const registered = await register({ ttl });
    assert.equal(registered.status, 200, `${ttl}: ${JSON.stringify(registered.body)}`);
    assert.equal(registered.body.data.ttl, seconds, String(ttl));
  }
  for (const ttl of ['soon', '-5s', -1]) {
    const refused = await register({ ttl });
    assert.equal(refused.status, 400, String(ttl));
    assert.match(refused.body.errors[0], /ttl/);
  }
  // Past the registry's bound, whatever the spelling.
  assert.equal((await register({ ttl: '25h' })).status, 400);
  for (const version of ['1s', 1.5]) {
    const refused = await register({ version, ttl: '60s' });
    assert.equal(refused.status, 400, String(version));
    assert.deepEqual(refused.body, { errors: ['version must be a non-negative integer'] });
  }
});

test("a consumer whose token was revoked is listed as not live at once: it can never check in again, so no rotation waits for it", async () => {
  const owner = await readerToken();
  const registered = await api(server, 'POST', 'sys/consumers/register', { token: owner, body: { path: 'secret/data/app', version: 1, ttl: 600 } });
  assert.equal(registered.status, 200);
  const id = registered.body.data.consumer_id as string;
  const liveOf = async (): Promise<boolean | undefined> => {
    const listed = await api(server, 'GET', 'sys/consumers?path=secret/data/app', { token: root });
    return (listed.body.data.consumers as Array<{ consumer_id: string; live: boolean }>).find((c) => c.consumer_id === id)?.live;
  };
  assert.equal(await liveOf(), true);
  assert.equal((await api(server, 'POST', 'auth/token/revoke', { token: root, body: { token: owner } })).status, 204);
  assert.equal(await liveOf(), false, 'its 600 s TTL no longer keeps it live');
});
