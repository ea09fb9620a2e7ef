import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rfc3339 } from '../clock.js';
import { buildRequestEntry, buildResponseEntry, type AuditEvent } from './entry.js';
import { createHasher } from './hmac.js';

const hash = createHasher(Buffer.alloc(32, 3));
const TOKEN = 'hvs.CANARYtokenAAAAAAAAAAAA';
const ACCESSOR = 'CANARYaccessorBBBBBBBBBBB';
const SECRET = 'CANARY-secret-value';
const NEW_TOKEN = 'hvs.CANARYnewTokenCCCCCCCCC';
const NEW_ACCESSOR = 'CANARYnewAccessorDDDDDDDD';

function event(): AuditEvent {
  return {
    time: Date.UTC(2026, 0, 1, 12),
    auth: {
      clientToken: TOKEN,
      accessor: ACCESSOR,
      displayName: 'token',
      policies: ['default', 'app'],
      tokenPolicies: ['default', 'app'],
      metadata: { role: 'web' },
      entityId: 'entity-1',
      tokenType: 'service',
      tokenTtl: 3600,
    },
    request: {
      id: 'req-1',
      operation: 'update',
      path: 'secret/data/app',
      mountType: 'kv',
      mountPoint: 'secret/',
      remoteAddress: '127.0.0.1',
      data: { data: { password: SECRET, port: 5432 }, options: { cas: 1 } },
      clientToken: TOKEN,
      clientTokenAccessor: ACCESSOR,
    },
    response: {
      statusCode: 200,
      data: { version: 2, created_time: '2026-01-01T12:00:00Z', echoed: SECRET },
      auth: { client_token: NEW_TOKEN, accessor: NEW_ACCESSOR, policies: ['app'], lease_duration: 60, secret_id: SECRET },
      warnings: ['a warning'],
      nonHmacKeys: ['created_time'],
    },
  };
}

const CANARIES = [TOKEN, ACCESSOR, SECRET, NEW_TOKEN, NEW_ACCESSOR];

test('builds a request entry with HMACs of the tokens, accessors and data strings', () => {
  const entry = buildRequestEntry(event(), hash);
  assert.deepEqual(entry, {
    type: 'request',
    time: rfc3339(Date.UTC(2026, 0, 1, 12)),
    auth: {
      client_token: hash(TOKEN),
      accessor: hash(ACCESSOR),
      display_name: 'token',
      policies: ['default', 'app'],
      token_policies: ['default', 'app'],
      metadata: { role: 'web' },
      entity_id: 'entity-1',
      token_type: 'service',
      token_ttl: 3600,
    },
    request: {
      id: 'req-1',
      operation: 'update',
      mount_type: 'kv',
      mount_point: 'secret/',
      client_token: hash(TOKEN),
      client_token_accessor: hash(ACCESSOR),
      namespace: { id: 'root' },
      path: 'secret/data/app',
      data: { data: { password: hash(SECRET), port: hash('5432') }, options: { cas: hash('1') } },
      remote_address: '127.0.0.1',
    },
    error: '',
  });
  assert.equal('response' in entry, false);
});

test('builds a response entry whose response auth token and accessor are hashed', () => {
  const entry = buildResponseEntry({ ...event(), error: 'permission denied' }, hash);
  assert.equal(entry.type, 'response');
  assert.equal(entry.error, 'permission denied');
  assert.deepEqual(entry.response, {
    mount_type: 'kv',
    mount_point: 'secret/',
    status_code: 200,
    auth: { client_token: hash(NEW_TOKEN), accessor: hash(NEW_ACCESSOR), policies: ['app'], lease_duration: 60, secret_id: hash(SECRET) },
    data: { version: 2, created_time: '2026-01-01T12:00:00Z', echoed: hash(SECRET) },
    warnings: ['a warning'],
  });
});

test('never puts a canary token, accessor or secret into either entry', () => {
  const text = JSON.stringify([buildRequestEntry(event(), hash), buildResponseEntry(event(), hash)]);
  for (const canary of CANARIES) assert.ok(!text.includes(canary), `leaked ${canary.slice(0, 6)}…`);
});

test('hashes the numbers a client stored in response data where the engine says, and keeps the others', () => {
  const ev = event();
  if (!ev.response) throw new Error('the fixture has a response');
  ev.response.data = { data: { pin: 987654321, ok: true }, metadata: { version: 3 } };
  ev.response.storedData = 'data';
  assert.deepEqual(buildResponseEntry(ev, hash).response?.['data'], { data: { pin: hash('987654321'), ok: true }, metadata: { version: 3 } });
  ev.response.storedData = 'all';
  assert.deepEqual(buildResponseEntry(ev, hash).response?.['data'], { data: { pin: hash('987654321'), ok: true }, metadata: { version: hash('3') } });
  delete ev.response.storedData;
  assert.deepEqual(buildResponseEntry(ev, hash).response?.['data'], { data: { pin: 987654321, ok: true }, metadata: { version: 3 } }, 'numbers an engine computed stay readable');
});

test('honours non-HMAC request keys at the top level of request data', () => {
  const ev = event();
  ev.request.data = { ttl: '1h', password: SECRET };
  ev.request.nonHmacKeys = ['ttl'];
  const entry = buildRequestEntry(ev, hash);
  assert.deepEqual(entry.request['data'], { ttl: '1h', password: hash(SECRET) });
});

test('writes an empty auth object for an unauthenticated request and keeps null data null', () => {
  const ev = event();
  delete ev.auth;
  ev.request.data = null;
  const entry = buildRequestEntry(ev, hash);
  assert.deepEqual(entry.auth, {});
  assert.equal(entry.request['data'], null);
});

test('does not alias the caller\'s arrays or objects', () => {
  const ev = event();
  const entry = buildRequestEntry(ev, hash);
  assert.notEqual(entry.auth['policies'], ev.auth?.policies);
  assert.notEqual(entry.auth['metadata'], ev.auth?.metadata);
});

/** A hasher that counts how often each value is hashed. */
function countingHasher(): { hash: typeof hash; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return {
    counts,
    hash: (value) => {
      counts.set(value, (counts.get(value) ?? 0) + 1);
      return hash(value);
    },
  };
}

test('hashes the token and accessor once per event and device, for both entries', () => {
  const counting = countingHasher();
  const request = event();
  const requestEntry = buildRequestEntry(request, counting.hash);
  // The response event is the request event spread with its response, as the pipeline sends it.
  const responseEntry = buildResponseEntry({ ...request, time: request.time + 5 }, counting.hash);
  assert.equal(counting.counts.get(TOKEN), 1);
  assert.equal(counting.counts.get(ACCESSOR), 1);
  // The request data is walked once; the secret's other two hashes are the response's own
  // (echoed in its data, and its auth's secret_id).
  assert.equal(counting.counts.get(SECRET), 3);
  assert.deepEqual(responseEntry.auth, requestEntry.auth);
  assert.deepEqual(responseEntry.request, requestEntry.request);
  // The same as building each entry from scratch.
  const fresh = event();
  assert.deepEqual(buildRequestEntry(fresh, hash), requestEntry);
  assert.deepEqual(buildResponseEntry({ ...fresh, time: fresh.time + 5 }, hash), responseEntry);
});

test('builds blocks per device key: a second device never gets the first device HMACs', () => {
  const other = createHasher(Buffer.alloc(32, 9));
  const request = event();
  const first = buildRequestEntry(request, hash);
  const second = buildRequestEntry(request, other);
  assert.notEqual(second.auth['client_token'], first.auth['client_token']);
  assert.equal(second.auth['client_token'], other(TOKEN));
  assert.equal(buildResponseEntry(request, other).request['client_token'], other(TOKEN));
});

test('builds the auth block again when the response event carries different auth', () => {
  const request = event();
  buildRequestEntry(request, hash);
  const login = buildResponseEntry({ ...request, auth: { ...request.auth, clientToken: NEW_TOKEN } }, hash);
  assert.equal(login.auth['client_token'], hash(NEW_TOKEN));
  assert.equal(login.request['client_token'], hash(TOKEN));
});
