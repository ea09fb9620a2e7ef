import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryStorage } from '../storage/memory.js';
import { createQuotaStore } from './quota-store.js';

const MOUNTS = ['secret/', 'sys/', 'auth/token/'];
const mountOf = (path: string): string | undefined => MOUNTS.find((mount) => path === mount.slice(0, -1) || path.startsWith(mount));

function store(storage = createMemoryStorage(), clock = { now: () => 1_000 }) {
  return createQuotaStore({ storage, clock, mountOf });
}

test('the most specific quota applies: a path quota, then a mount quota, then the global one', async () => {
  const quotas = store();
  await quotas.setup();
  assert.equal(quotas.active, false);
  assert.equal(quotas.check('secret/data/a', '10.0.0.1'), undefined, 'no quota, no check');
  await quotas.write('global', { rate: 100 });
  await quotas.write('kv', { path: 'secret', rate: 10 });
  await quotas.write('one', { path: 'secret/data/one', rate: 1 });
  await quotas.write('team', { path: 'secret/data/team/*', rate: 2 });
  assert.equal(quotas.active, true);
  assert.equal(quotas.check('secret/data/one', 'c')?.quota, 'one');
  assert.equal(quotas.check('secret/data/one/more', 'c')?.quota, 'kv', 'an exact path quota is not a prefix');
  assert.equal(quotas.check('secret/data/team/x', 'c')?.quota, 'team');
  assert.equal(quotas.check('secret', 'c')?.quota, 'kv');
  assert.equal(quotas.check('auth/token/lookup-self', 'c')?.quota, 'global');
  assert.equal(quotas.check('sys/health', 'c'), undefined, 'exempt');
  assert.equal(quotas.read('kv')?.path, 'secret');
  assert.deepEqual(quotas.list(), ['global', 'kv', 'one', 'team']);
  await assert.rejects(quotas.write('again', { path: 'secret/', rate: 5 }), /quota "kv" already applies/);
});

test('quotas and config survive a seal and a new store over the same storage; a rewrite refills the buckets', async () => {
  const storage = createMemoryStorage();
  const first = store(storage);
  await first.setup();
  await first.write('kv', { path: 'secret/', rate: 1, interval: '1h', block_interval: '2h' });
  await first.writeConfig({ rate_limit_exempt_paths: ['sys/health', 'secret/data/open*'] });
  assert.equal(first.check('secret/data/a', 'c')?.decision.allowed, true);
  assert.equal(first.check('secret/data/a', 'c')?.decision.allowed, false);
  assert.equal(first.check('secret/data/open/x', 'c'), undefined);
  first.reset();
  assert.equal(first.active, false);

  const second = store(storage);
  await second.setup();
  assert.deepEqual(second.read('kv'), { name: 'kv', path: 'secret/', type: 'rate-limit', rate: 1, interval: 3600, block_interval: 7200, role: '', inheritable: false });
  assert.deepEqual(second.readConfig().rate_limit_exempt_paths, ['sys/health', 'secret/data/open*']);
  assert.equal(second.check('secret/data/a', 'c')?.decision.allowed, true);
  assert.equal(second.check('secret/data/a', 'c')?.decision.allowed, false);
  await second.write('kv', { rate: 2 });
  assert.equal(second.read('kv')?.interval, 3600, 'unnamed fields keep their values');
  assert.equal(second.check('secret/data/a', 'c')?.decision.allowed, true);
  await second.delete('kv');
  assert.equal(second.check('secret/data/a', 'c'), undefined);
});
