import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LeasedSecret } from '../sdk/leased-secret.js';
import type { Envelope } from '../sdk/wire.js';
import type { AgentLeases, Secret } from './leases.js';
import { createSecretSource } from './secret-source.js';

const envelope = (data: Record<string, unknown>, lease = ''): Envelope<unknown> => ({
  request_id: 'r', lease_id: lease, renewable: lease !== '', lease_duration: lease ? 3600 : 0, data, warnings: null, auth: null,
});
const kv = (version: number, fields: Record<string, unknown>): Envelope<unknown> => envelope({ data: fields, metadata: { version, created_time: '', deletion_time: '', destroyed: false } });

function setUp(answers: Record<string, () => Envelope<unknown> | Promise<Envelope<unknown>>>) {
  const reads: string[] = [];
  const adopted: Array<{ path: string; onRotate: () => void; handle: { current: Secret; refreshed: number; expired: boolean } }> = [];
  const leases: AgentLeases = {
    async adopt(path, env, onRotate) {
      const handle = { current: env.data as Secret, refreshed: 0, generation: 1, expired: false };
      adopted.push({ path, onRotate, handle });
      const refresh = async (): Promise<Secret> => {
        handle.refreshed += 1;
        handle.expired = false;
        handle.current = { username: `fresh-${handle.refreshed}` };
        onRotate();
        return handle.current;
      };
      return Object.assign(handle, {
        leaseId: env.lease_id, expiresAt: undefined,
        refresh,
        refreshIfExpired: async () => handle.expired && (await refresh(), true),
        revoke: async () => undefined, close: async () => undefined,
      }) as unknown as LeasedSecret<Secret>;
    },
    abandon: () => undefined,
    revokeAll: async () => undefined,
  };
  const changed: string[] = [];
  const source = createSecretSource({
    coffer: { read: (async (path: string) => { reads.push(path); return (answers[path] as () => Envelope<unknown>)(); }) as never },
    leases,
    onChange: (path) => changed.push(path),
  });
  return { source, reads, adopted, changed };
}

test('reads a path once and classifies KV v2, static and leased answers', async () => {
  const { source, reads } = setUp({
    'secret/data/app': () => kv(3, { pw: 'a' }),
    'database/static-creds/app': () => envelope({ username: 'u', password: 'p', version: 7 }),
    'database/creds/ro': () => envelope({ username: 'v-1', password: 'x' }, 'database/creds/ro/abc'),
    'secret/plain': () => envelope({ k: 'v' }),
  });
  assert.deepEqual(await source.get('secret/data/app'), { kind: 'kv', data: { pw: 'a' }, version: 3 });
  assert.deepEqual(await source.get('database/static-creds/app'), { kind: 'static', data: { username: 'u', password: 'p', version: 7 }, version: 7 });
  assert.deepEqual(await source.get('database/creds/ro'), { kind: 'leased', data: { username: 'v-1', password: 'x' }, version: undefined });
  assert.deepEqual(await source.get('secret/plain'), { kind: 'plain', data: { k: 'v' }, version: undefined });
  await source.get('secret/data/app');
  await source.get('database/creds/ro');
  assert.equal(reads.length, 4, 'each path was read once');
  assert.deepEqual(source.leasedPaths(), ['database/creds/ro']);
});

test('an event for a version already held changes nothing; a newer one or a delete forces a read', async () => {
  let version = 1;
  const { source, reads } = setUp({ 'secret/data/app': () => kv(version, { pw: `v${version}` }) });
  await source.get('secret/data/app');
  assert.equal(source.invalidate('secret/data/app', 1), false);
  version = 2;
  assert.equal(source.invalidate('secret/data/app', 2), true);
  assert.deepEqual((await source.get('secret/data/app')).data, { pw: 'v2' });
  assert.equal(source.invalidate('secret/data/app', null), true, 'an event without a version always counts');
  await source.get('secret/data/app');
  assert.equal(reads.length, 3);
});

test('a read in flight when its path changes is used once but not kept', async () => {
  let release!: () => void;
  let version = 1;
  const { source, reads } = setUp({
    'secret/data/app': () => (version === 1 ? new Promise((resolve) => { release = () => resolve(kv(1, { pw: 'old' })); }) : kv(version, { pw: 'new' })),
  });
  const pending = source.get('secret/data/app');
  await new Promise((r) => setImmediate(r));
  version = 2;
  assert.equal(source.invalidate('secret/data/app', 2), true);
  release();
  assert.deepEqual((await pending).data, { pw: 'old' });
  assert.deepEqual((await source.get('secret/data/app')).data, { pw: 'new' }, 'the stale answer was not cached');
  assert.equal(reads.length, 2);
});

test('change events and invalidateAll never drop a lease; refreshLeases replaces it and reports the change', async () => {
  const { source, reads, adopted, changed } = setUp({ 'database/creds/ro': () => envelope({ username: 'v-1' }, 'database/creds/ro/abc') });
  await source.get('database/creds/ro');
  assert.equal(source.invalidate('database/creds/ro', null), false);
  source.invalidateAll();
  await source.get('database/creds/ro');
  assert.equal(reads.length, 1);
  await source.refreshLeases();
  assert.equal(adopted[0]?.handle.refreshed, 1);
  assert.deepEqual(changed, ['database/creds/ro']);
  assert.deepEqual((await source.get('database/creds/ro')).data, { username: 'fresh-1' });
});

test('refreshExpiredLeases replaces only the leases that ended, and reports those paths', async () => {
  const { source, adopted, changed } = setUp({
    'database/creds/ro': () => envelope({ username: 'v-1' }, 'database/creds/ro/abc'),
    'database/creds/rw': () => envelope({ username: 'w-1' }, 'database/creds/rw/def'),
  });
  await source.get('database/creds/ro');
  await source.get('database/creds/rw');
  (adopted[1] as { handle: { expired: boolean } }).handle.expired = true;
  await source.refreshExpiredLeases();
  assert.deepEqual(adopted.map((a) => a.handle.refreshed), [0, 1]);
  assert.deepEqual(changed, ['database/creds/rw']);
  assert.deepEqual((await source.get('database/creds/rw')).data, { username: 'fresh-1' });
  assert.deepEqual((await source.get('database/creds/ro')).data, { username: 'v-1' });
});
