import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createManualClock } from '../clock.js';
import { CofferError } from '../errors.js';
import { createMemoryStorage } from '../storage/memory.js';
import type { PhysicalStorage } from '../storage/storage.js';
import { type BarrierOptions, createBarrier, KEYRING_KEY } from './barrier.js';
import { openEnvelope } from './envelope.js';

async function setup(options: BarrierOptions = {}, physical: PhysicalStorage = createMemoryStorage()) {
  const barrier = createBarrier(physical, options);
  const rootKey = randomBytes(32);
  await barrier.initialize(rootKey);
  await barrier.unseal(rootKey);
  return { physical, barrier, rootKey };
}

/** Memory storage that counts physical reads, to see what the plaintext cache serves. */
function countingStorage(): PhysicalStorage & { reads: number } {
  const inner = createMemoryStorage();
  const counting = {
    ...inner,
    reads: 0,
    get: async (key: string) => {
      counting.reads++;
      return inner.get(key);
    },
  };
  return counting;
}

function hasCode(code: string) {
  return (err: unknown): boolean => err instanceof CofferError && err.code === code;
}

const isVagueFailure = (err: unknown): boolean =>
  err instanceof CofferError && err.code === 'internal' && err.message === 'cipher: message authentication failed';

async function allPhysicalValues(physical: PhysicalStorage, prefix = ''): Promise<Buffer[]> {
  const values: Buffer[] = [];
  for (const child of await physical.list(prefix)) {
    if (child.endsWith('/')) values.push(...(await allPhysicalValues(physical, prefix + child)));
    else values.push((await physical.get(prefix + child)) as Buffer);
  }
  return values;
}

test('values written through the barrier read back, and list, delete and batch pass through', async () => {
  const { barrier } = await setup();
  await barrier.put('logical/m1/a', Buffer.from('alpha'));
  await barrier.put('logical/m1/dir/b', Buffer.from('beta'));
  assert.deepEqual(await barrier.get('logical/m1/a'), Buffer.from('alpha'));
  assert.deepEqual(await barrier.list('logical/m1/'), ['a', 'dir/']);
  await barrier.batch([
    { type: 'put', key: 'logical/m1/c', value: Buffer.from('gamma') },
    { type: 'delete', key: 'logical/m1/a' },
  ]);
  assert.equal(await barrier.get('logical/m1/a'), undefined);
  assert.deepEqual(await barrier.get('logical/m1/c'), Buffer.from('gamma'));
  await barrier.delete('logical/m1/c');
  assert.equal(await barrier.get('logical/m1/c'), undefined);
  assert.equal(await barrier.get('logical/m1/never'), undefined);
});

test('a marker secret written through the barrier never appears in any physical value', async () => {
  const { physical, barrier } = await setup();
  const marker = 'MARKER-' + randomBytes(12).toString('hex');
  await barrier.put('logical/m/one', Buffer.from(marker));
  await barrier.batch([{ type: 'put', key: 'logical/m/two', value: Buffer.from(JSON.stringify({ password: marker })) }]);
  await barrier.rotate();
  await barrier.put('logical/m/three', Buffer.from(marker));
  const values = await allPhysicalValues(physical);
  assert.ok(values.length >= 4);
  for (const value of values) {
    for (const encoding of ['utf8', 'hex', 'base64'] as const) {
      assert.equal(value.includes(Buffer.from(marker).toString(encoding)), false);
      assert.equal(value.toString(encoding).includes(marker), false);
    }
  }
});

test('flipping any byte of a stored ciphertext makes the read fail with the vague error', async () => {
  const { physical, barrier } = await setup({ cacheEntries: 0 });
  await barrier.put('logical/m/x', Buffer.from('secret value'));
  const stored = (await physical.get('logical/m/x')) as Buffer;
  for (let i = 0; i < stored.length; i++) {
    const tampered = Buffer.from(stored);
    tampered[i] = (tampered[i] as number) ^ 0x01;
    await physical.put('logical/m/x', tampered);
    await assert.rejects(barrier.get('logical/m/x'), isVagueFailure, `byte ${i}`);
  }
  await physical.put('logical/m/x', stored.subarray(0, 20));
  await assert.rejects(barrier.get('logical/m/x'), isVagueFailure);
  await physical.put('logical/m/x', stored);
  assert.deepEqual(await barrier.get('logical/m/x'), Buffer.from('secret value'));
});

test('rejects a ciphertext copied to another storage path', async () => {
  const { physical, barrier } = await setup({ cacheEntries: 0 });
  await barrier.put('logical/m/admin', Buffer.from('admin-password'));
  await barrier.put('logical/m/guest', Buffer.from('guest-password'));
  await physical.put('logical/m/guest', (await physical.get('logical/m/admin')) as Buffer);
  await assert.rejects(barrier.get('logical/m/guest'), isVagueFailure);
});

test('stored values carry the term and version header', async () => {
  const { physical, barrier } = await setup();
  await barrier.put('logical/m/x', Buffer.from('v'));
  const stored = (await physical.get('logical/m/x')) as Buffer;
  assert.equal(stored.readUInt32BE(0), 1);
  assert.equal(stored[4], 0x02);
  assert.equal(stored.length, 5 + 12 + 1 + 16);
});

test('rotation keeps old entries readable and new writes carry the new term, across a restart', async () => {
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const { physical, barrier, rootKey } = await setup({ clock });
  await barrier.put('logical/m/old', Buffer.from('written under term 1'));
  clock.advance(60_000);
  const status = await barrier.rotate();
  assert.deepEqual(status, { term: 2, install_time: '2026-01-01T00:01:00.000000000Z', encryptions: 0 });
  await barrier.put('logical/m/new', Buffer.from('written under term 2'));
  assert.equal(((await physical.get('logical/m/old')) as Buffer).readUInt32BE(0), 1);
  assert.equal(((await physical.get('logical/m/new')) as Buffer).readUInt32BE(0), 2);
  assert.deepEqual(await barrier.get('logical/m/old'), Buffer.from('written under term 1'));
  assert.equal(barrier.keyStatus().encryptions, 1);

  const restarted = createBarrier(physical);
  await restarted.unseal(rootKey);
  assert.equal(restarted.keyStatus().term, 2);
  assert.deepEqual(await restarted.get('logical/m/old'), Buffer.from('written under term 1'));
  assert.deepEqual(await restarted.get('logical/m/new'), Buffer.from('written under term 2'));
});

test('the keyring is stored under the root key with term 0 in the documented JSON shape', async () => {
  const clock = createManualClock(Date.UTC(2026, 2, 3));
  const { physical, barrier, rootKey } = await setup({ clock });
  await barrier.rotate();
  const stored = (await physical.get(KEYRING_KEY)) as Buffer;
  assert.equal(stored.readUInt32BE(0), 0);
  assert.equal(stored[4], 0x02);
  const keyring = JSON.parse(openEnvelope(rootKey, stored, KEYRING_KEY).toString('utf8'));
  assert.equal(keyring.active_term, 2);
  assert.deepEqual(
    keyring.keys.map((k: { term: number; install_time: string }) => [k.term, k.install_time]),
    [
      [1, '2026-03-03T00:00:00.000000000Z'],
      [2, '2026-03-03T00:00:00.000000000Z'],
    ],
  );
  assert.equal(Buffer.from(keyring.keys[0].key, 'base64').length, 32);
  assert.throws(() => openEnvelope(rootKey, stored, 'core/other'), isVagueFailure);
});

test('rotates automatically once the active term reaches its encryption limit', async () => {
  const { physical, barrier } = await setup({ maxEncryptionsPerTerm: 3 });
  for (let i = 0; i < 4; i++) await barrier.put(`logical/m/${i}`, Buffer.from(`v${i}`));
  const terms = await Promise.all([0, 1, 2, 3].map(async (i) => ((await physical.get(`logical/m/${i}`)) as Buffer).readUInt32BE(0)));
  assert.deepEqual(terms, [1, 1, 1, 2]);
  assert.deepEqual({ term: barrier.keyStatus().term, encryptions: barrier.keyStatus().encryptions }, { term: 2, encryptions: 1 });
  for (let i = 0; i < 4; i++) assert.deepEqual(await barrier.get(`logical/m/${i}`), Buffer.from(`v${i}`));
});

test('a restart resumes counting encryptions from the bound the keyring recorded, never from zero', async () => {
  const physical = createMemoryStorage();
  const options: BarrierOptions = { maxEncryptionsPerTerm: 20, encryptionReservation: 4 };
  const { barrier, rootKey } = await setup(options, physical);
  for (let i = 0; i < 6; i++) await barrier.put(`logical/m/${i}`, Buffer.from(`v${i}`));
  assert.equal(barrier.keyStatus().encryptions, 6);
  barrier.seal();
  const restarted = createBarrier(physical, options);
  await restarted.unseal(rootKey);
  const resumed = restarted.keyStatus().encryptions;
  assert.ok(resumed >= 6 && resumed <= 6 + 4, `resumed at ${resumed}: at least what was used, at most one reservation more`);
  // The limit is reached that much sooner: term 1 is rotated within 20 encryptions in all.
  for (let i = 6; i < 20; i++) await restarted.put(`logical/m/${i}`, Buffer.from(`v${i}`));
  assert.equal(restarted.keyStatus().term, 2);
  for (let i = 0; i < 20; i++) assert.deepEqual(await restarted.get(`logical/m/${i}`), Buffer.from(`v${i}`));
});

test('concurrent writers never pass the recorded bound while it is being raised', async () => {
  const physical = createMemoryStorage();
  const options: BarrierOptions = { encryptionReservation: 2 };
  const { barrier, rootKey } = await setup(options, physical);
  await Promise.all(Array.from({ length: 50 }, (_, i) => barrier.put(`logical/c/${i}`, Buffer.from('x'))));
  const used = barrier.keyStatus().encryptions;
  barrier.seal();
  const restarted = createBarrier(physical, options);
  await restarted.unseal(rootKey);
  assert.ok(restarted.keyStatus().encryptions >= used, `${restarted.keyStatus().encryptions} recorded for ${used} used`);
});

test('concurrent writers at the limit share one rotation per term and never exceed the limit', async () => {
  const { physical, barrier } = await setup({ maxEncryptionsPerTerm: 5 });
  const keys = Array.from({ length: 12 }, (_, i) => `logical/m/k${i}`);
  await Promise.all(keys.map((key) => barrier.put(key, Buffer.from(key))));
  const perTerm = new Map<number, number>();
  for (const key of keys) {
    const term = ((await physical.get(key)) as Buffer).readUInt32BE(0);
    perTerm.set(term, (perTerm.get(term) ?? 0) + 1);
  }
  assert.deepEqual([...perTerm.entries()].sort(), [
    [1, 5],
    [2, 5],
    [3, 2],
  ]);
  assert.equal(barrier.keyStatus().term, 3);
});

test('batch writes count towards the limit and rotate too', async () => {
  const { physical, barrier } = await setup({ maxEncryptionsPerTerm: 2 });
  await barrier.batch([0, 1, 2].map((i) => ({ type: 'put' as const, key: `logical/b/${i}`, value: Buffer.from(`${i}`) })));
  assert.equal(((await physical.get('logical/b/2')) as Buffer).readUInt32BE(0), 2);
});

test('every operation throws sealed while the barrier is sealed', async () => {
  const { barrier } = await setup();
  await barrier.put('logical/m/x', Buffer.from('v'));
  barrier.seal();
  assert.equal(barrier.sealed, true);
  const isSealed = (err: unknown): boolean => hasCode('sealed')(err) && (err as Error).message === 'Vault is sealed';
  await assert.rejects(barrier.get('logical/m/x'), isSealed);
  await assert.rejects(barrier.put('logical/m/y', Buffer.from('v')), isSealed);
  await assert.rejects(barrier.delete('logical/m/x'), isSealed);
  await assert.rejects(barrier.list('logical/m/'), isSealed);
  await assert.rejects(barrier.batch([{ type: 'delete', key: 'logical/m/x' }]), isSealed);
  await assert.rejects(barrier.rotate(), isSealed);
  assert.throws(() => barrier.keyStatus(), isSealed);
  assert.equal(await barrier.isInitialized(), true);
});

test('a new barrier starts sealed, and initialise leaves it sealed', async () => {
  const physical = createMemoryStorage();
  const barrier = createBarrier(physical);
  assert.equal(barrier.sealed, true);
  assert.equal(await barrier.isInitialized(), false);
  await assert.rejects(barrier.unseal(randomBytes(32)), hasCode('not_initialized'));
  await barrier.initialize(randomBytes(32));
  assert.equal(await barrier.isInitialized(), true);
  assert.equal(barrier.sealed, true);
  await assert.rejects(barrier.get('logical/x'), hasCode('sealed'));
});

test('initialising twice is refused and keeps the first keyring', async () => {
  const { physical, barrier, rootKey } = await setup();
  await barrier.put('logical/m/x', Buffer.from('kept'));
  await assert.rejects(barrier.initialize(randomBytes(32)), hasCode('already_initialized'));
  const again = createBarrier(physical);
  await again.unseal(rootKey);
  assert.deepEqual(await again.get('logical/m/x'), Buffer.from('kept'));
});

test('unsealing with a wrong root key fails vaguely and leaves it sealed', async () => {
  const physical = createMemoryStorage();
  const barrier = createBarrier(physical);
  const rootKey = randomBytes(32);
  await barrier.initialize(rootKey);
  const wrong = randomBytes(32);
  for (const key of [wrong, rootKey.subarray(0, 16), Buffer.alloc(0)]) {
    await assert.rejects(barrier.unseal(key), (err: unknown) => {
      assert.ok(hasCode('bad_request')(err));
      assert.equal((err as Error).message.includes(wrong.toString('hex')), false);
      assert.equal((err as Error).message.includes(wrong.toString('base64')), false);
      return true;
    });
  }
  assert.equal(barrier.sealed, true);
  await barrier.unseal(rootKey);
  assert.equal(barrier.sealed, false);
});

test('a tampered keyring cannot be unsealed', async () => {
  const physical = createMemoryStorage();
  const barrier = createBarrier(physical);
  const rootKey = randomBytes(32);
  await barrier.initialize(rootKey);
  const stored = (await physical.get(KEYRING_KEY)) as Buffer;
  stored[stored.length - 20] = (stored[stored.length - 20] as number) ^ 0xff;
  await physical.put(KEYRING_KEY, stored);
  await assert.rejects(barrier.unseal(rootKey), hasCode('bad_request'));
  assert.equal(barrier.sealed, true);
});

test('seal zero-fills every key buffer it held, including keys added by rotation', async () => {
  const held: Buffer[] = [];
  const { barrier, rootKey } = await setup({ observeKeyMaterial: (key) => held.push(key) });
  await barrier.rotate();
  assert.equal(held.length, 3, 'root key copy, term 1, term 2');
  for (const key of held) assert.equal(key.every((byte) => byte === 0), false);
  barrier.seal();
  for (const key of held) assert.equal(key.every((byte) => byte === 0), true);
  assert.equal(rootKey.every((byte) => byte === 0), false, "the caller's root key buffer stays the caller's");
});

test('unseal keeps its own copy of the root key, so the caller may wipe theirs', async () => {
  const { barrier, rootKey } = await setup();
  rootKey.fill(0);
  const status = await barrier.rotate();
  assert.equal(status.term, 2);
});

test('keys under core/ are refused by every storage method', async () => {
  const { barrier } = await setup();
  const isReserved = hasCode('internal');
  await assert.rejects(barrier.get(KEYRING_KEY), isReserved);
  await assert.rejects(barrier.put('core/keyring', Buffer.from('x')), isReserved);
  await assert.rejects(barrier.delete('core/root-key'), isReserved);
  await assert.rejects(barrier.list('core/'), isReserved);
  await assert.rejects(barrier.batch([{ type: 'put', key: 'logical/ok', value: Buffer.from('x') }, { type: 'delete', key: 'core/seal-config' }]), isReserved);
  assert.equal(await barrier.get('logical/ok'), undefined, 'a refused batch writes nothing');
});

test('the plaintext cache serves repeated reads and follows puts, deletes and batches', async () => {
  const physical = countingStorage();
  const { barrier } = await setup({}, physical);
  await barrier.put('logical/c/a', Buffer.from('one'));
  physical.reads = 0;
  assert.deepEqual(await barrier.get('logical/c/a'), Buffer.from('one'));
  assert.deepEqual(await barrier.get('logical/c/a'), Buffer.from('one'));
  assert.equal(physical.reads, 0, 'a put fills the cache');

  const copy = (await barrier.get('logical/c/a')) as Buffer;
  copy.fill(0);
  assert.deepEqual(await barrier.get('logical/c/a'), Buffer.from('one'), 'callers get copies');

  await barrier.delete('logical/c/a');
  assert.equal(await barrier.get('logical/c/a'), undefined);
  assert.equal(physical.reads, 0, 'a delete is cached as absent');
  assert.equal(await barrier.get('logical/c/never-written'), undefined);
  assert.equal(await barrier.get('logical/c/never-written'), undefined);
  assert.equal(physical.reads, 1, 'an absent key is read once');

  await barrier.put('logical/c/b', Buffer.from('two'));
  await barrier.batch([
    { type: 'put', key: 'logical/c/b', value: Buffer.from('three') },
    { type: 'delete', key: 'logical/c/a' },
  ]);
  assert.deepEqual(await barrier.get('logical/c/b'), Buffer.from('three'));
  assert.equal(await barrier.get('logical/c/a'), undefined);
  assert.equal(physical.reads, 1, 'a batch fills the entries it wrote');
});

test('values over 64 KiB are not cached, and cacheEntries 0 disables the cache', async () => {
  const physical = countingStorage();
  const { barrier } = await setup({}, physical);
  const big = randomBytes(64 * 1024 + 1);
  await barrier.put('logical/c/big', big);
  physical.reads = 0;
  assert.deepEqual(await barrier.get('logical/c/big'), big);
  assert.deepEqual(await barrier.get('logical/c/big'), big);
  assert.equal(physical.reads, 2);

  const uncachedPhysical = countingStorage();
  const { barrier: uncached } = await setup({ cacheEntries: 0 }, uncachedPhysical);
  await uncached.put('logical/c/small', Buffer.from('s'));
  uncachedPhysical.reads = 0;
  await uncached.get('logical/c/small');
  await uncached.get('logical/c/small');
  assert.equal(uncachedPhysical.reads, 2);
});

test('sealing clears the plaintext cache', async () => {
  const physical = countingStorage();
  const { barrier, rootKey } = await setup({}, physical);
  await barrier.put('logical/c/a', Buffer.from('one'));
  barrier.seal();
  await barrier.unseal(rootKey);
  physical.reads = 0;
  assert.deepEqual(await barrier.get('logical/c/a'), Buffer.from('one'));
  assert.equal(physical.reads, 1);
});

test('invalid options are rejected when the barrier is built', () => {
  const physical = createMemoryStorage();
  assert.throws(() => createBarrier(physical, { cacheEntries: -1 }), TypeError);
  assert.throws(() => createBarrier(physical, { maxEncryptionsPerTerm: 0 }), RangeError);
  assert.throws(() => createBarrier(physical, { maxEncryptionsPerTerm: 2 ** 32 }), RangeError);
});

test('a seal during an in-flight unseal wins', async () => {
  const inner = createMemoryStorage();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let hold = false;
  const slow: PhysicalStorage = {
    ...inner,
    get: async (key) => {
      if (hold && key === KEYRING_KEY) await gate;
      return inner.get(key);
    },
  };
  const barrier = createBarrier(slow);
  const rootKey = randomBytes(32);
  await barrier.initialize(rootKey);
  hold = true;
  const unsealing = barrier.unseal(rootKey);
  barrier.seal();
  release();
  await assert.rejects(unsealing, hasCode('sealed'));
  assert.equal(barrier.sealed, true);
});
