import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryStorage } from '../storage/memory.js';
import { createLogger } from '../logger.js';
import { createQuotaStore, REFUSAL_REPORT_MS } from './quota-store.js';

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

test('a trailing slash neither dodges an exact path quota nor hides one, and an exact path beats a glob of the same text', async () => {
  const quotas = store();
  await quotas.setup();
  await quotas.write('glob', { path: 'secret/metadata/team*', rate: 100 });
  await quotas.write('exact', { path: 'secret//metadata/team/', rate: 1 });
  assert.equal(quotas.check('secret/metadata/team/', 'c')?.quota, 'exact');
  assert.equal(quotas.check('secret/metadata/team', 'c')?.quota, 'exact');
  assert.equal(quotas.check('secret/metadata/teams', 'c')?.quota, 'glob');
  await assert.rejects(quotas.write('dots', { path: 'secret/../sys/', rate: 1 }), /relative segments/);
});

test('deleting a quota ends its blocks; disabling a mount deletes its quotas; writes are serialised', async () => {
  const quotas = store();
  await quotas.setup();
  await quotas.write('kv', { path: 'secret/', rate: 1, interval: '1h', block_interval: '24h' });
  assert.equal(quotas.check('secret/data/a', 'c')?.decision.allowed, true);
  assert.equal(quotas.check('secret/data/a', 'c')?.decision.allowed, false);
  await quotas.delete('kv');
  await quotas.write('kv', { path: 'secret/', rate: 1 });
  assert.equal(quotas.check('secret/data/a', 'c')?.decision.allowed, true, 'the recreated quota has no memory of the block');

  await quotas.write('team', { path: 'secret/data/team/*', rate: 5 });
  await quotas.write('global', { rate: 100, inheritable: 'true', interval: 0 });
  assert.equal(quotas.read('global')?.interval, 1, 'interval 0 means the default');
  await assert.rejects(quotas.write('inherit', { path: 'sys/', rate: 1, inheritable: true }), /global quota only/);
  await quotas.removeForMount('secret/');
  assert.deepEqual(quotas.list(), ['global']);

  // Two quotas for one path written at once: the second sees the first.
  const results = await Promise.allSettled([quotas.write('one', { path: 'sys/', rate: 1 }), quotas.write('two', { path: 'sys/', rate: 1 })]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
});

test('a write that finishes after a seal does not bring its quota back to memory', async () => {
  const storage = createMemoryStorage();
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const slow = { ...storage, put: async (key: string, value: Buffer) => { await held; return storage.put(key, value); } };
  const quotas = store(slow);
  await quotas.setup();
  const writing = quotas.write('late', { rate: 1 });
  quotas.reset();
  release();
  await writing;
  assert.equal(quotas.active, false);
  assert.equal(quotas.check('secret/data/a', 'c'), undefined);
});

test('refusals are reported once per quota per interval, with their count, never once per request', async () => {
  let now = 1_000;
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'warn', write: (line) => lines.push(JSON.parse(line)) });
  const quotas = createQuotaStore({ storage: createMemoryStorage(), clock: { now: () => now }, mountOf, logger });
  await quotas.setup();
  await quotas.write('tight', { rate: 1, interval: '1h' });
  for (let i = 0; i < 50; i += 1) quotas.check('secret/data/a', '10.1.2.3');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.message, 'rate limit quota refused requests');
  assert.equal(lines[0]?.quota, 'tight');
  assert.equal(lines[0]?.refused, 1);
  now += REFUSAL_REPORT_MS;
  assert.equal(quotas.check('secret/data/a', '10.9.9.9')?.decision.allowed, true, 'another address has its own bucket');
  quotas.check('secret/data/a', '10.1.2.3');
  assert.equal(lines.length, 2);
  assert.equal(lines[1]?.refused, 49);
  assert.equal(lines[1]?.last_client, '10.1.2.3');
});
