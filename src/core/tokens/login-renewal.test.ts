/**
 * Tests: which auth method a login token's renewal is referred to, and what happens when its
 * mount is gone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Engine, LoginRenewal } from '../router/engine.js';
import { createRouter } from '../router/router.js';
import { createLoginRenewalCheck } from './login-renewal.js';
import type { TokenEntry } from './token-store.js';

function entry(path: string): TokenEntry {
  return {
    id: 'id', accessor: 'acc', parent: '', policies: ['app', 'default'], meta: { role_name: 'web' }, displayName: 'approle-web',
    numUses: 0, creationTime: 0, creationTtl: 60, explicitMaxTtl: 0, period: 0, expireAt: 60_000, renewable: true, path,
    orphan: true, entityId: '', lastRenewal: 0,
  };
}

test('a login token is referred to the engine of the mount its path names, with its login', async () => {
  const seen: LoginRenewal[] = [];
  const engine: Engine = { type: 'approle', paths: [], checkRenewal: async (login) => { seen.push(login); return undefined; } };
  const router = createRouter<{ path: string }>();
  router.add({ path: 'auth/approle/' }, engine);
  const check = createLoginRenewalCheck(router);
  await check(entry('auth/approle/login'));
  assert.deepEqual(seen, [{ path: 'login', metadata: { role_name: 'web' }, policies: ['app', 'default'] }]);
  await check(entry('auth/token/create'));
  await check(entry('aws-keys/creds'));
  assert.equal(seen.length, 1, 'tokens with no login behind them are not referred');
});

test('a login token whose auth mount no longer routes is not renewed', async () => {
  const check = createLoginRenewalCheck(createRouter<{ path: string }>());
  await assert.rejects(check(entry('auth/approle/login')), { code: 'bad_request' });
});

test('the role TTLs the auth method answers with come back lowered by the auth mount tuned max TTL', async () => {
  const engine: Engine = { type: 'approle', paths: [], checkRenewal: async () => ({ ttl: 60, maxTtl: 7200, period: 0 }) };
  const router = createRouter<{ path: string; config: { max_lease_ttl: number } }>();
  router.add({ path: 'auth/tuned/', config: { max_lease_ttl: 3600 } }, engine);
  router.add({ path: 'auth/untuned/', config: { max_lease_ttl: 0 } }, engine);
  const check = createLoginRenewalCheck(router);
  assert.deepEqual(await check(entry('auth/tuned/login')), { ttl: 60, maxTtl: 3600, period: 0 });
  assert.deepEqual(await check(entry('auth/untuned/login')), { ttl: 60, maxTtl: 7200, period: 0 });
  const unlimited: Engine = { type: 'approle', paths: [], checkRenewal: async () => ({ ttl: 0, maxTtl: 0, period: 0 }) };
  const other = createRouter<{ path: string; config: { max_lease_ttl: number } }>();
  other.add({ path: 'auth/tuned/', config: { max_lease_ttl: 3600 } }, unlimited);
  assert.deepEqual(await createLoginRenewalCheck(other)(entry('auth/tuned/login')), { ttl: 0, maxTtl: 3600, period: 0 }, 'a role without a max takes the mount max');
});
