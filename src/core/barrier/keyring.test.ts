import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { activeEntry, decodeKeyring, encodeKeyring, singleKeyring, wipeKeyring, withKey } from './keyring.js';

const isCorrupt = (err: unknown): boolean => err instanceof CofferError && err.code === 'internal' && err.message === 'barrier keyring is corrupt';

test('a keyring round-trips through its JSON encoding', () => {
  const first = { term: 1, key: randomBytes(32), installTime: '2026-01-01T00:00:00.000000000Z' };
  const second = { term: 2, key: randomBytes(32), installTime: '2026-02-01T00:00:00.000000000Z' };
  const keyring = withKey(singleKeyring(first), second);
  const decoded = decodeKeyring(encodeKeyring(keyring));
  assert.equal(decoded.activeTerm, 2);
  assert.deepEqual(decoded.keys.get(1), first);
  assert.deepEqual(activeEntry(decoded), second);
});

test('adding a term that already exists is refused', () => {
  const entry = { term: 1, key: randomBytes(32), installTime: 'x' };
  assert.throws(() => withKey(singleKeyring(entry), { ...entry, key: randomBytes(32) }), CofferError);
});

test('malformed keyrings are reported as corrupt without echoing their contents', () => {
  const key = randomBytes(32).toString('base64');
  const cases: unknown[] = [
    'not json',
    [],
    { active_term: 1 },
    { active_term: 0, keys: [{ term: 0, key, install_time: 't' }] },
    { active_term: 2, keys: [{ term: 1, key, install_time: 't' }] },
    { active_term: 1, keys: [{ term: 1, key: randomBytes(16).toString('base64'), install_time: 't' }] },
    { active_term: 1, keys: [{ term: 1, key, install_time: 't' }, { term: 1, key, install_time: 't' }] },
    { active_term: 1, keys: [{ term: 1, key }] },
    { active_term: 1.5, keys: [{ term: 1.5, key, install_time: 't' }] },
  ];
  for (const value of cases) {
    const bytes = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
    assert.throws(() => decodeKeyring(bytes), isCorrupt, JSON.stringify(value).slice(0, 40));
  }
});

test('wiping a keyring zero-fills every key', () => {
  const keys = [randomBytes(32), randomBytes(32)];
  const keyring = withKey(singleKeyring({ term: 1, key: keys[0] as Buffer, installTime: 't' }), { term: 2, key: keys[1] as Buffer, installTime: 't' });
  wipeKeyring(keyring);
  for (const key of keys) assert.equal(key.every((byte) => byte === 0), true);
});
