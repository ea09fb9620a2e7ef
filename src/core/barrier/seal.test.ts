import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { createMemoryStorage } from '../storage/memory.js';
import type { PhysicalStorage } from '../storage/storage.js';
import { createBarrier } from './barrier.js';
import { createShamirSeal, ROOT_KEY_KEY, SEAL_CONFIG_KEY } from './seal.js';

function start(physical: PhysicalStorage = createMemoryStorage()) {
  const barrier = createBarrier(physical);
  const seal = createShamirSeal({ physical, barrier, version: '1.17.0' });
  return { physical, barrier, seal };
}

async function initialized(shares = 5, threshold = 3) {
  const node = start();
  const { keys } = await node.seal.initialize({ secretShares: shares, secretThreshold: threshold });
  return { ...node, keys };
}

function combinations<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  return items.flatMap((item, i) => combinations(items.slice(i + 1), size - 1).map((rest) => [item, ...rest]));
}

function hasCode(code: string) {
  return (err: unknown): boolean => err instanceof CofferError && err.code === code;
}

/** The error is the vague one and names none of the shares in any encoding. */
function vagueUnsealFailure(shares: readonly Buffer[]) {
  return (err: unknown): boolean => {
    assert.ok(hasCode('bad_request')(err));
    assert.equal((err as Error).message, 'failed to unseal: the unseal keys do not reconstruct the key');
    for (const share of shares) {
      assert.equal((err as Error).message.includes(share.toString('hex')), false);
      assert.equal((err as Error).message.includes(share.toString('base64')), false);
    }
    return true;
  };
}

test('an uninitialised store reports initialized false, sealed, and t = n = 0', async () => {
  const { seal } = start();
  assert.deepEqual(await seal.status(), {
    type: 'shamir',
    initialized: false,
    sealed: true,
    t: 0,
    n: 0,
    progress: 0,
    nonce: '',
    version: '1.17.0',
    build_date: '',
    migration: false,
    recovery_seal: false,
    storage_type: 'inmem',
  });
  await assert.rejects(seal.submitShare('00'.repeat(33)), hasCode('not_initialized'));
  await assert.rejects(seal.unsealWithShares([]), hasCode('not_initialized'));
});

test('initialise returns the shares once, stores only the config and the sealed root key, and leaves the barrier unsealed', async () => {
  const { physical, barrier, seal, keys } = await initialized();
  assert.equal(keys.length, 5);
  assert.equal(keys.every((key) => key.length === 33), true);
  assert.equal(barrier.sealed, false);
  const status = await seal.status();
  assert.deepEqual([status.initialized, status.sealed, status.t, status.n, status.progress], [true, false, 3, 5, 0]);
  assert.deepEqual(JSON.parse(((await physical.get(SEAL_CONFIG_KEY)) as Buffer).toString('utf8')), {
    type: 'shamir',
    secret_shares: 5,
    secret_threshold: 3,
  });
  const sealedRoot = (await physical.get(ROOT_KEY_KEY)) as Buffer;
  assert.equal(sealedRoot.readUInt32BE(0), 0);
  assert.equal(sealedRoot[4], 0x02);
  assert.equal(sealedRoot.length, 5 + 12 + 32 + 16);
  for (const child of await physical.list('core/')) {
    const value = (await physical.get('core/' + child)) as Buffer;
    for (const key of keys) {
      assert.equal(value.includes(key.subarray(0, 32)), false);
      assert.equal(value.toString('utf8').includes(key.toString('hex')), false);
      assert.equal(value.toString('utf8').includes(key.toString('base64')), false);
    }
  }
});

test('initialise validates the share configuration and refuses a second run', async () => {
  const { seal } = start();
  for (const [secretShares, secretThreshold] of [
    [0, 0],
    [256, 3],
    [5, 6],
    [5, 1],
    [5, 0],
    [2.5, 2],
  ] as const) {
    await assert.rejects(seal.initialize({ secretShares, secretThreshold }), hasCode('bad_request'), `${secretShares}/${secretThreshold}`);
  }
  assert.equal((await seal.status()).initialized, false);
  await seal.initialize({ secretShares: 3, secretThreshold: 2 });
  await assert.rejects(seal.initialize({ secretShares: 3, secretThreshold: 2 }), hasCode('already_initialized'));
});

test('after a seal, every 3-of-5 combination of shares unseals and reads the data', async () => {
  const { barrier, seal, keys } = await initialized();
  await barrier.put('logical/m/secret', Buffer.from('s3cr3t'));
  for (const subset of combinations(keys, 3)) {
    seal.seal();
    assert.equal(barrier.sealed, true);
    let status = await seal.status();
    for (const [i, share] of subset.entries()) {
      // Vault accepts shares in hex and in base64; mix both.
      status = await seal.submitShare(share.toString(i % 2 === 0 ? 'hex' : 'base64'));
    }
    assert.equal(status.sealed, false);
    assert.equal(status.progress, 0);
    assert.equal(status.nonce, '');
    assert.deepEqual(await barrier.get('logical/m/secret'), Buffer.from('s3cr3t'));
  }
});

test('two shares leave it sealed with progress 2 and one nonce for the attempt; a duplicate does not advance', async () => {
  const { seal, keys } = await initialized();
  seal.seal();
  const first = await seal.submitShare((keys[0] as Buffer).toString('hex'));
  assert.equal(first.progress, 1);
  assert.match(first.nonce, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const duplicate = await seal.submitShare((keys[0] as Buffer).toString('base64'));
  assert.equal(duplicate.progress, 1);
  const second = await seal.submitShare((keys[1] as Buffer).toString('hex'));
  assert.deepEqual([second.sealed, second.progress, second.nonce], [true, 2, first.nonce]);
  assert.deepEqual(await seal.status(), second);
});

test('a wrong share set resets progress, leaves it sealed and says nothing about the shares', async () => {
  const { barrier, seal, keys } = await initialized();
  const { keys: foreign } = await initialized();
  seal.seal();
  await seal.submitShare((foreign[0] as Buffer).toString('hex'));
  await seal.submitShare((foreign[1] as Buffer).toString('hex'));
  await assert.rejects(seal.submitShare((foreign[2] as Buffer).toString('hex')), vagueUnsealFailure(foreign));
  let status = await seal.status();
  assert.deepEqual([status.sealed, status.progress, status.nonce], [true, 0, '']);
  assert.equal(barrier.sealed, true);

  // Two right shares and one foreign one fail the same way.
  await seal.submitShare((keys[0] as Buffer).toString('hex'));
  await seal.submitShare((keys[1] as Buffer).toString('hex'));
  await assert.rejects(seal.submitShare((foreign[3] as Buffer).toString('hex')), vagueUnsealFailure([...keys, ...foreign]));
  status = await seal.status();
  assert.deepEqual([status.sealed, status.progress], [true, 0]);

  // And the right ones still work afterwards.
  for (const key of keys.slice(2)) status = await seal.submitShare(key.toString('hex'));
  assert.equal(status.sealed, false);
});

test('a restart over the same storage unseals with three other shares and reads the same data', async () => {
  const { physical, barrier, keys } = await initialized();
  await barrier.put('logical/m/a', Buffer.from('persisted'));
  await barrier.rotate();
  await barrier.put('logical/m/b', Buffer.from('after rotation'));

  const restarted = start(physical);
  const before = await restarted.seal.status();
  assert.deepEqual([before.initialized, before.sealed, before.t, before.n], [true, true, 3, 5]);
  for (const key of keys.slice(2)) await restarted.seal.submitShare(key.toString('base64'));
  assert.equal(restarted.barrier.sealed, false);
  assert.deepEqual(await restarted.barrier.get('logical/m/a'), Buffer.from('persisted'));
  assert.deepEqual(await restarted.barrier.get('logical/m/b'), Buffer.from('after rotation'));
  assert.equal(restarted.barrier.keyStatus().term, 2);
});

test('malformed shares are refused without changing progress', async () => {
  const { seal, keys } = await initialized();
  seal.seal();
  await seal.submitShare((keys[0] as Buffer).toString('hex'));
  for (const bad of ['', 'not a key!', 'abc', (keys[1] as Buffer).toString('hex').slice(2), (keys[1] as Buffer).toString('hex') + '00', 'AAAA']) {
    await assert.rejects(seal.submitShare(bad), (err: unknown) => {
      assert.ok(hasCode('bad_request')(err));
      if (bad !== '') assert.equal((err as Error).message.includes(bad), false);
      return true;
    });
  }
  assert.equal((await seal.status()).progress, 1);
});

test('submitting a share while unsealed returns the status unchanged', async () => {
  const { seal, keys } = await initialized();
  const before = await seal.status();
  const after = await seal.submitShare((keys[0] as Buffer).toString('hex'));
  assert.deepEqual(after, before);
  assert.equal(after.sealed, false);
});

test('resetProgress forgets the shares of the current attempt', async () => {
  const { seal, keys } = await initialized();
  seal.seal();
  await seal.submitShare((keys[0] as Buffer).toString('hex'));
  await seal.submitShare((keys[1] as Buffer).toString('hex'));
  seal.resetProgress();
  let status = await seal.status();
  assert.deepEqual([status.progress, status.nonce], [0, '']);
  await seal.submitShare((keys[2] as Buffer).toString('hex'));
  status = await seal.submitShare((keys[3] as Buffer).toString('hex'));
  assert.deepEqual([status.sealed, status.progress], [true, 2], 'the earlier shares no longer count');
});

test('seal() seals the barrier and resets progress', async () => {
  const { barrier, seal, keys } = await initialized();
  seal.seal();
  await seal.submitShare((keys[0] as Buffer).toString('hex'));
  seal.seal();
  assert.equal(barrier.sealed, true);
  assert.equal((await seal.status()).progress, 0);
});

test('unsealWithShares unseals from a full set and rejects short or wrong sets', async () => {
  const { barrier, seal, keys } = await initialized();
  const { keys: foreign } = await initialized();
  seal.seal();
  await assert.rejects(seal.unsealWithShares(keys.slice(0, 2)), hasCode('bad_request'));
  await assert.rejects(seal.unsealWithShares(foreign.slice(0, 3)), vagueUnsealFailure(foreign));
  assert.equal(barrier.sealed, true);
  await seal.unsealWithShares(keys);
  assert.equal(barrier.sealed, false);
  assert.equal((keys[0] as Buffer).every((byte) => byte === 0), false, "the caller's shares are not wiped");
  await seal.unsealWithShares(foreign.slice(0, 3));
  assert.equal(barrier.sealed, false, 'already unsealed: a no-op');
});

test('a 1-of-1 configuration returns the unseal key itself as the only share', async () => {
  const { barrier, seal, keys } = await initialized(1, 1);
  assert.equal(keys.length, 1);
  assert.equal((keys[0] as Buffer).length, 32);
  await barrier.put('logical/m/x', Buffer.from('one'));
  seal.seal();
  await assert.rejects(seal.submitShare((keys[0] as Buffer).toString('hex') + '01'), hasCode('bad_request'));
  const status = await seal.submitShare((keys[0] as Buffer).toString('base64'));
  assert.deepEqual([status.sealed, status.t, status.n], [false, 1, 1]);
  assert.deepEqual(await barrier.get('logical/m/x'), Buffer.from('one'));
});

test('storage_type comes from the physical backend', async () => {
  const physical = { ...createMemoryStorage(), kind: 'sqlite' };
  const { seal } = start(physical);
  assert.equal((await seal.status()).storage_type, 'sqlite');
});

test('abandon() undoes an initialisation: sealed, shares wiped, its keys deleted, what was there before kept', async () => {
  const node = start();
  await node.physical.put('unrelated/left-by-an-operator', Buffer.from('kept'));
  const { keys, abandon } = await node.seal.initialize({ secretShares: 3, secretThreshold: 2 });
  await node.barrier.put('sys/written-while-loading', Buffer.from('gone'));
  await abandon();
  assert.equal(node.barrier.sealed, true);
  for (const key of keys) assert.ok(key.every((byte) => byte === 0), 'every share is zero-filled');
  assert.deepEqual(await node.physical.list(''), ['unrelated/']);
  assert.equal((await node.seal.status()).initialized, false);
  // A new initialisation starts from nothing and its shares unseal.
  const again = await node.seal.initialize({ secretShares: 3, secretThreshold: 2 });
  node.seal.seal();
  await node.seal.submitShare(again.keys[0]!.toString('hex'));
  assert.equal((await node.seal.submitShare(again.keys[2]!.toString('base64'))).sealed, false);
  assert.equal(String(await node.physical.get('unrelated/left-by-an-operator')), 'kept');
});
