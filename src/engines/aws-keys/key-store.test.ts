/**
 * Tests: issuing, expiring and revoking access keys and their child tokens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createManualClock } from '../../core/clock.js';
import { createMemoryStorage } from '../../core/storage/memory.js';
import { scope } from '../../core/storage/view.js';
import { createTokenStore } from '../../core/tokens/token-store.js';
import { ACCESS_KEY_ID_PATTERN, createAccessKeyStore } from './key-store.js';

async function setup() {
  const clock = createManualClock();
  const storage = createMemoryStorage();
  const tokens = createTokenStore({ storage: scope(storage, 'token/'), clock });
  await tokens.setup();
  const keys = createAccessKeyStore({ storage: scope(storage, 'aws-keys/'), clock, tokens });
  const { entry: parent } = await tokens.create({ parent: undefined, policies: ['root'], displayName: 'root', path: 'auth/token/root', allowNoExpiry: true });
  return { clock, storage, tokens, keys, parent };
}

describe('the access key store', () => {
  it('issues AWS-shaped key pairs whose token carries the policies and the TTL', async () => {
    const { keys, tokens, parent, clock } = await setup();
    const issued = await keys.issue({ parent, policies: ['app', 'default'], ttlSeconds: 3600 });
    assert.match(issued.accessKeyId, ACCESS_KEY_ID_PATTERN);
    assert.equal(issued.accessKeyId.length, 20);
    assert.match(issued.secretAccessKey, /^[A-Za-z0-9]{40}$/);
    assert.equal(issued.ttlSeconds, 3600);
    const record = await keys.lookup(issued.accessKeyId);
    assert.ok(record);
    assert.equal(record.secretAccessKey, issued.secretAccessKey);
    const token = await tokens.lookup(record.token);
    assert.deepEqual(token?.policies, ['app', 'default']);
    assert.equal(token?.parent, parent.id);
    assert.equal(token?.expireAt, clock.now() + 3_600_000);
    assert.equal(token?.renewable, false);
  });

  it('stops answering for a key at its expiry, before any revocation runs', async () => {
    const { keys, parent, clock } = await setup();
    const issued = await keys.issue({ parent, policies: ['app'], ttlSeconds: 60 });
    clock.advance(59_999);
    assert.ok(await keys.lookup(issued.accessKeyId));
    clock.advance(1);
    assert.equal(await keys.lookup(issued.accessKeyId), undefined);
  });

  it('never outlives the token that issued it', async () => {
    const { keys, tokens, parent } = await setup();
    const { entry: shortParent } = await tokens.create({ parent, policies: ['app'], displayName: 'short', path: 'auth/token/create', ttl: 30 });
    const issued = await keys.issue({ parent: shortParent, policies: ['app'], ttlSeconds: 3600 });
    assert.equal(issued.ttlSeconds, 30);
    await tokens.revokeTree(shortParent.id);
    assert.equal(await keys.lookup(issued.accessKeyId), undefined, 'revoking the parent token kills the key at once');
  });

  it('revokes the key and its token, idempotently, and knows no other key', async () => {
    const { keys, tokens, parent } = await setup();
    const issued = await keys.issue({ parent, policies: ['app'], ttlSeconds: 600 });
    const record = await keys.lookup(issued.accessKeyId);
    assert.ok(record);
    await keys.revoke(issued.accessKeyId);
    await keys.revoke(issued.accessKeyId);
    assert.equal(await keys.lookup(issued.accessKeyId), undefined);
    assert.equal(await tokens.lookup(record.token), undefined);
    assert.equal(await keys.lookup('AKIA' + 'A'.repeat(16)), undefined);
    assert.equal(await keys.lookup('not-a-key-id'), undefined);
  });

  it('stores keys only under the storage view it was given', async () => {
    const { keys, parent, storage } = await setup();
    const issued = await keys.issue({ parent, policies: ['app'], ttlSeconds: 600 });
    const stored = await storage.list('aws-keys/keys/');
    assert.deepEqual(stored, [issued.accessKeyId]);
  });
});
