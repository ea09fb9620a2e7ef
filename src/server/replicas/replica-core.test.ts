/**
 * A replica core over a real SQLite file written by a real primary barrier: what `catchUp`
 * forgets, and when it refuses (and keeps refusing) so that a new core must be built.
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createBarrier, type Barrier } from '../../core/barrier/barrier.js';
import { systemClock } from '../../core/clock.js';
import { isCofferError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { createMountTableStore, newMountEntry } from '../../core/router/mount-table.js';
import { openSqliteReader, type SqliteReader } from '../../core/storage/sqlite-reader.js';
import { createSqliteStorage, type SqliteStorage } from '../../core/storage/sqlite.js';
import { scope } from '../../core/storage/view.js';
import { createTokenStore, type TokenStore } from '../../core/tokens/token-store.js';
import { buildReplicaCore, type ReplicaCore } from './replica-core.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Primary {
  storage: SqliteStorage;
  barrier: Barrier;
  tokens: TokenStore;
  reader: SqliteReader;
  rootKey: Buffer;
  mountPrefix: string;
  replica(): Promise<ReplicaCore>;
  close(): Promise<void>;
}

async function primary(changeLogRetainedRows?: number): Promise<Primary> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-replica-core-'));
  dirs.push(dir);
  const path = join(dir, 'coffer.db');
  const storage = createSqliteStorage({ path, trackChanges: true, ...(changeLogRetainedRows === undefined ? {} : { changeLogRetainedRows }) });
  const barrier = createBarrier(storage);
  const rootKey = randomBytes(32);
  await barrier.initialize(rootKey);
  await barrier.unseal(rootKey);
  const system = scope(barrier, 'sys/');
  const tokens = createTokenStore({ storage: scope(system, 'token/'), clock: systemClock });
  await tokens.setup();
  const mount = newMountEntry({ path: 'secret/', type: 'kv', table: 'secrets', options: { version: '2' } });
  await createMountTableStore(system).save('secrets', [mount]);
  const reader = openSqliteReader(path);
  const logger = createLogger({ level: 'error', write: () => undefined });
  return {
    storage,
    barrier,
    tokens,
    reader,
    rootKey,
    mountPrefix: `logical/${mount.uuid}/`,
    replica: () => buildReplicaCore({ reader, rootKey, clock: systemClock, logger, systemTtl: { defaultSeconds: 3600, maxSeconds: 7200 } }),
    close: async () => {
      await reader.close();
      await storage.close();
    },
  };
}

/** A KV read through the replica's own pipeline: 'ok', 'not_found', or the error code. */
async function readThrough(core: ReplicaCore, token: string): Promise<string> {
  try {
    await core.handler({ requestId: 'r', verb: 'read', path: 'secret/data/missing', data: {}, clientToken: token, remoteAddress: '127.0.0.1' });
    return 'ok';
  } catch (error) {
    if (isCofferError(error)) return error.code;
    throw error;
  }
}

test('catchUp forgets a revoked token and changed keys, and follows data_version', async () => {
  const p = await primary();
  try {
    const { token, entry } = await p.tokens.create({ parent: undefined, policies: ['root'], displayName: 'token', path: 'auth/token/create' });
    const core = await p.replica();
    // The token is valid (the missing secret is a 404), and now cached by the replica.
    assert.equal(await readThrough(core, token), 'not_found');

    await p.barrier.put(`${p.mountPrefix}unrelated`, Buffer.from('x'));
    const afterWrite = p.reader.dataVersion();
    assert.notEqual(afterWrite, core.dataVersion);
    assert.equal(core.catchUp(afterWrite), true);
    assert.equal(core.dataVersion, afterWrite);

    await p.tokens.revokeTree(entry.id);
    assert.equal(core.catchUp(p.reader.dataVersion()), true);
    assert.equal(await readThrough(core, token), 'permission_denied');
    core.close();
  } finally {
    await p.close();
  }
});

test('a change to what the core derived at build (a policy) makes catchUp refuse, and keep refusing', async () => {
  const p = await primary();
  try {
    const core = await p.replica();
    await p.barrier.put('sys/policy/acl/reader', Buffer.from('{}'));
    assert.equal(core.catchUp(p.reader.dataVersion()), false);
    // Even once nothing new has been committed: this core stays stale.
    await p.barrier.put(`${p.mountPrefix}unrelated`, Buffer.from('x'));
    assert.equal(core.catchUp(p.reader.dataVersion()), false);
    core.close();
    const rebuilt = await p.replica();
    assert.equal(rebuilt.dataVersion, p.reader.dataVersion());
    rebuilt.close();
  } finally {
    await p.close();
  }
});

test('a log the core cannot follow (pruned, or too many changes at once) makes catchUp refuse', async () => {
  const pruned = await primary(20);
  try {
    const core = await pruned.replica();
    await pruned.barrier.batch(Array.from({ length: 30 }, (_, i) => ({ type: 'put' as const, key: `${pruned.mountPrefix}k${i}`, value: Buffer.from('v') })));
    assert.equal(core.catchUp(pruned.reader.dataVersion()), false);
    core.close();
  } finally {
    await pruned.close();
  }
  const busy = await primary();
  try {
    const core = await busy.replica();
    await busy.barrier.batch(Array.from({ length: 5_001 }, (_, i) => ({ type: 'put' as const, key: `${busy.mountPrefix}k${i}`, value: Buffer.from('v') })));
    assert.equal(core.catchUp(busy.reader.dataVersion()), false);
    core.close();
  } finally {
    await busy.close();
  }
});
