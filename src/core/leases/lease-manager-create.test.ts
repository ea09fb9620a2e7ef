/**
 * The lease manager's two overlaps: a lease stored while its secret is prepared (register with
 * `create`, which commits the secret only once the lease is stored), and a revoke answered
 * before the lease's deletion is committed. Both must keep what the slow order guaranteed: no
 * secret without a lease that Coffer can revoke, and no revoked lease seen again.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { createManualClock, type ManualClock } from '../clock.js';
import { CofferError } from '../errors.js';
import { silentLogger } from '../logger.js';
import type { Engine } from '../router/engine.js';
import { createMemoryStorage } from '../storage/memory.js';
import { createSqliteStorage } from '../storage/sqlite.js';
import type { Storage } from '../storage/storage.js';
import { createLeaseManager, type LeaseManager, type LeaseRegistration } from './lease-manager.js';
import { recordKey } from './lease-record.js';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function sqlitePath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-leases-'));
  tempDirs.push(dir);
  return path.join(dir, 'coffer.db');
}

/** A target system whose users are a set; revoking a user that is not there succeeds. */
interface Target {
  engine: Engine;
  live: Set<string>;
  revocations: number;
}

function target(): Target {
  const t: Target = { live: new Set(), revocations: 0, engine: undefined as unknown as Engine };
  t.engine = {
    type: 'fake',
    paths: [],
    secretTypes: {
      creds: {
        revoke: async (lease) => {
          t.revocations += 1;
          t.live.delete(lease.internal['username'] as string);
        },
      },
    },
  };
  return t;
}

function manager(storage: Storage, t: Target, clock: ManualClock = createManualClock()): LeaseManager {
  return createLeaseManager({ storage, clock, logger: silentLogger, engineForMount: (uuid) => (uuid === 'mount-1' ? t.engine : undefined) });
}

const registration = (username: string, ttl = 60): LeaseRegistration => ({
  path: 'db/creds/app',
  mountUuid: 'mount-1',
  mountPath: 'db/',
  secretType: 'creds',
  internal: { username },
  tokenId: 'token-a',
  renewable: true,
  ttl,
  maxTtl: 300,
});

/** A creation the test finishes by hand. */
function pendingCreate(t: Target, username: string): { create: () => Promise<void>; finish: () => void; fail: (error: Error) => void } {
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = () => {
      t.live.add(username);
      resolve();
    };
    fail = reject;
  });
  return { create: () => done, finish, fail };
}

/** Waits (bounded) until the lease manager has stored some lease. */
async function leaseStored(leases: LeaseManager): Promise<string> {
  for (let i = 0; i < 200; i += 1) {
    const [child] = await leases.list('db/creds/app/');
    if (child !== undefined) return `db/creds/app/${child}`;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('the lease was never stored');
}

/** Memory storage whose batches (a lease's registration) commit only when the test says so. */
function heldStorage(): { storage: Storage; events: string[]; release: () => void } {
  const inner = createMemoryStorage();
  const events: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  const storage: Storage = {
    get: (key) => inner.get(key),
    put: (key, value) => inner.put(key, value),
    delete: (key) => inner.delete(key),
    list: (prefix) => inner.list(prefix),
    listPage: (prefix, after, limit) => inner.listPage(prefix, after, limit),
    async batch(ops) {
      await released;
      await inner.batch(ops);
      events.push('lease stored');
    },
  };
  return { storage, events, release };
}

describe('lease manager: registering while the secret is created', () => {
  it('hands create the lease write, so the secret can be committed only once the lease is durable', async () => {
    const t = target();
    const held = heldStorage();
    const leases = manager(held.storage, t);
    let prepared = false;
    const registering = leases.register(registration('u1'), async (leaseStored) => {
      prepared = true;
      await leaseStored;
      held.events.push('secret committed');
      t.live.add('u1');
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(prepared, true, 'creation starts while the lease is being written');
    assert.deepEqual(held.events, [], 'and commits nothing before it is stored');
    held.release();
    const record = await registering;
    assert.deepEqual(held.events, ['lease stored', 'secret committed']);
    assert.equal((await leases.lookup(record.id)).ttl, 60);
  });

  it('refuses the creation when the lease cannot be stored, making nothing and reporting the storage error', async () => {
    const t = target();
    const storage = createSqliteStorage({ path: sqlitePath() });
    await storage.close();
    const leases = manager(storage, t);
    await assert.rejects(
      leases.register(registration('u1'), async (leaseStored) => {
        try {
          await leaseStored;
        } catch {
          throw new Error('failed to create user: not committed');
        }
        t.live.add('u1');
      }),
      /storage is closed/,
    );
    assert.deepEqual([...t.live], []);
    assert.equal(t.revocations, 0, 'nothing to revoke: the secret was never made');
  });

  it('stores the lease before creation has finished, and answers once both are done', async () => {
    const t = target();
    const leases = manager(createMemoryStorage(), t);
    const creation = pendingCreate(t, 'u1');
    let answered = false;
    const registering = leases.register(registration('u1'), creation.create).then((record) => {
      answered = true;
      return record;
    });
    const id = await leaseStored(leases);
    assert.equal(answered, false, 'no answer while the secret does not exist yet');
    creation.finish();
    const record = await registering;
    assert.equal(record.id, id);
    assert.match(record.id, /^db\/creds\/app\/[0-9A-Za-z]{24}$/);
    assert.equal((await leases.lookup(id)).ttl, 60);
  });

  it('deletes the lease and throws the creation error when creation fails, revoking nothing', async () => {
    const t = target();
    const leases = manager(createMemoryStorage(), t);
    await assert.rejects(
      leases.register(registration('u1'), async () => {
        throw new Error('failed to create user: permission denied');
      }),
      /failed to create user: permission denied/,
    );
    assert.deepEqual(await leases.list('db/creds/app/'), []);
    assert.equal(t.revocations, 0);
  });

  it('keeps the lease of a secret whose creation failed with an unknown outcome, and revokes it at once', async () => {
    const t = target();
    const clock = createManualClock();
    const leases = manager(createMemoryStorage(), t, clock);
    const lost = new CofferError('upstream', 'failed to create user: connection lost', { outcomeUnknown: true });
    await assert.rejects(
      leases.register(registration('u1', 3600), async () => {
        // The database committed, but the reply never came back.
        t.live.add('u1');
        throw lost;
      }),
      (err: unknown) => err === lost,
    );
    const [child] = await leases.list('db/creds/app/');
    assert.ok(child !== undefined, 'the lease is kept');
    assert.equal((await leases.lookup(`db/creds/app/${child}`)).ttl, 0, 'and due now, not in an hour');
    assert.equal(await leases.runDue(), 1);
    assert.deepEqual([...t.live], [], 'the user the failed creation left is revoked');
    assert.deepEqual(await leases.list('db/creds/app/'), []);
  });

  it('revokes at once a secret whose creation had an unknown outcome when its lease cannot be stored', async () => {
    const t = target();
    const storage = createSqliteStorage({ path: sqlitePath() });
    await storage.close();
    const leases = manager(storage, t);
    const lost = new CofferError('upstream', 'failed to create user: connection lost', { outcomeUnknown: true });
    await assert.rejects(leases.register(registration('u1'), async () => { t.live.add('u1'); throw lost; }), (err: unknown) => err === lost);
    assert.equal(t.revocations, 1);
    assert.deepEqual([...t.live], []);
  });

  it('revokes the new secret again when its lease cannot be stored', async () => {
    const t = target();
    const storage = createSqliteStorage({ path: sqlitePath() });
    await storage.close();
    const leases = manager(storage, t);
    await assert.rejects(leases.register(registration('u1'), async () => { t.live.add('u1'); }), /storage is closed/);
    assert.deepEqual([...t.live], [], 'created, then revoked');
    // Also for a secret the engine made itself before registering.
    t.live.add('u2');
    await assert.rejects(leases.register(registration('u2')), /storage is closed/);
    assert.deepEqual([...t.live], []);
  });

  it("revokes a secret still being created only after its creation, when its token is revoked", async () => {
    const t = target();
    const leases = manager(createMemoryStorage(), t);
    const creation = pendingCreate(t, 'u1');
    const registering = leases.register(registration('u1'), creation.create);
    await leaseStored(leases);
    const revoking = leases.revokeByToken('token-a');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(t.revocations, 0, 'the revocation waits for the creation');
    creation.finish();
    await Promise.all([registering, revoking]);
    assert.deepEqual([...t.live], [], 'the user that was created is gone');
    assert.deepEqual(await leases.list('db/creds/app/'), []);
  });

  it('leaves a lease that expires and revokes cleanly when Coffer stops before creation finished', async () => {
    const t = target();
    const storage = createMemoryStorage();
    const clock = createManualClock();
    const first = manager(storage, t, clock);
    // The first process stores the lease, then "crashes": its creation never finishes.
    void first.register(registration('u1', 60), () => new Promise<void>(() => undefined));
    await leaseStored(first);
    const second = manager(storage, t, clock);
    clock.advance(60_000);
    assert.equal(await second.runDue(), 1);
    assert.equal(t.revocations, 1, 'the revocation found no user, which is success');
    assert.deepEqual(await second.list('db/creds/app/'), []);
  });
});

describe('lease manager: revoke answers before the deletion is committed', () => {
  it('never shows a revoked lease again, and its deletion still reaches the disk', async () => {
    const t = target();
    const file = sqlitePath();
    const storage = createSqliteStorage({ path: file });
    const leases = manager(storage, t);
    t.live.add('u1');
    const { id } = await leases.register(registration('u1'));
    await leases.revoke(id);
    assert.deepEqual([...t.live], []);
    await assert.rejects(leases.lookup(id), /invalid lease/);
    await assert.rejects(leases.renew(id, 60), /invalid lease/);
    assert.deepEqual(await leases.list('db/creds/app/'), []);
    await leases.revoke(id); // a second revoke finds nothing to revoke, which is success (as Vault)
    assert.equal(t.revocations, 1);
    await leases.stop();
    await storage.close();

    const reopened = createSqliteStorage({ path: file });
    try {
      assert.equal(await reopened.get(recordKey(id)), undefined, 'the deletion was committed');
      assert.deepEqual(await reopened.list(''), [], 'with its indexes');
    } finally {
      await reopened.close();
    }
  });

  it('refuses an empty or malformed lease id, and revokes a missing one as done', async () => {
    const leases = manager(createMemoryStorage(), target());
    await assert.rejects(leases.revoke(''), /missing lease_id/);
    await leases.revoke('db/creds/app/nope');
    await assert.rejects(leases.revoke('db/creds/app/\uD800'), /invalid lease/, 'a key storage refuses');
  });
});
