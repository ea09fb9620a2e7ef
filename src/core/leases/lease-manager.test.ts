import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createManualClock } from '../clock.js';
import { silentLogger } from '../logger.js';
import type { Engine, LeaseView, RenewalTtls } from '../router/engine.js';
import { createMemoryStorage } from '../storage/memory.js';
import type { Storage } from '../storage/storage.js';
import { createLeaseManager, type LeaseManager } from './lease-manager.js';
import { DUE_PREFIX, dueKey } from './lease-record.js';

interface FakeTarget {
  engine: Engine;
  live: Set<string>;
  renewed: LeaseView[];
  down: boolean;
  /** While set, renewals wait for it: a renewal held in flight at the target. */
  gate?: Promise<void>;
  /** What renewalTtls answers (the role's and mount's TTLs now); unset = the engine has no say. */
  ttls?: RenewalTtls | Error;
  /** Revocations of these users wait for their promise: a target that does not answer. */
  revokeGates: Map<string, Promise<void>>;
  /** Users whose revocation is running now. */
  revoking: Set<string>;
}

function fakeTarget(): FakeTarget {
  const target: FakeTarget = { live: new Set(), renewed: [], down: false, revokeGates: new Map(), revoking: new Set(), engine: undefined as unknown as Engine };
  target.engine = {
    type: 'fake',
    paths: [],
    secretTypes: {
      creds: {
        renewalTtls: async () => {
          if (target.ttls instanceof Error) throw target.ttls;
          return target.ttls ?? { ttl: 0, maxTtl: 0 };
        },
        renew: async (lease) => {
          await target.gate;
          if (target.down) throw new Error('connection refused');
          target.renewed.push(lease);
        },
        revoke: async (lease) => {
          const username = lease.internal.username as string;
          target.revoking.add(username);
          try {
            await target.revokeGates.get(username);
            if (target.down) throw new Error('connection refused');
            target.live.delete(username);
          } finally {
            target.revoking.delete(username);
          }
        },
      },
    },
  };
  return target;
}

function setup(storage: Storage = createMemoryStorage(), target = fakeTarget(), clock = createManualClock()): { leases: LeaseManager; target: FakeTarget; clock: ReturnType<typeof createManualClock>; storage: Storage } {
  const leases = createLeaseManager({
    storage,
    clock,
    logger: silentLogger,
    engineForMount: (uuid) => (uuid === 'mount-1' ? target.engine : undefined),
    retryBaseMs: 1000,
    maxAttempts: 3,
  });
  return { leases, target, clock, storage };
}

/** A lease manager on the real clock (its expiry worker runs on timers), over memory storage. */
function realTimeLeases(target: FakeTarget, options: Partial<Parameters<typeof createLeaseManager>[0]> = {}): LeaseManager {
  return createLeaseManager({
    storage: createMemoryStorage(),
    clock: { now: () => Date.now(), set() {}, advance() {} } as never,
    logger: silentLogger,
    engineForMount: () => target.engine,
    ...options,
  });
}

async function issue(leases: LeaseManager, target: FakeTarget, username: string, options: { ttl?: number; maxTtl?: number; tokenId?: string; path?: string } = {}): Promise<string> {
  target.live.add(username);
  const record = await leases.register({
    path: options.path ?? 'db/creds/app',
    mountUuid: 'mount-1',
    mountPath: 'db/',
    secretType: 'creds',
    internal: { username },
    tokenId: options.tokenId ?? 'token-a',
    renewable: true,
    ttl: options.ttl ?? 60,
    maxTtl: options.maxTtl ?? 300,
  });
  return record.id;
}

describe('lease manager', () => {
  it('issues lease ids under the request path and looks them up', async () => {
    const { leases, target } = setup();
    const id = await issue(leases, target, 'u1');
    assert.match(id, /^db\/creds\/app\/[0-9A-Za-z]{24}$/);
    const info = await leases.lookup(id);
    assert.equal(info.ttl, 60);
    assert.equal(info.renewable, true);
    assert.deepEqual(await leases.list('db/creds/app/'), [id.split('/').pop()]);
    await assert.rejects(leases.lookup('db/creds/app/nope'), /invalid lease/);
  });

  it('revokes a lease in the target when its TTL passes', async () => {
    const { leases, target, clock } = setup();
    await issue(leases, target, 'u1', { ttl: 60 });
    await issue(leases, target, 'u2', { ttl: 120 });
    clock.advance(60_000);
    assert.equal(await leases.runDue(), 1);
    assert.deepEqual([...target.live], ['u2']);
  });

  it('renews up to the max TTL and no further, and tells the target the new end', async () => {
    const { leases, target, clock } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 60, maxTtl: 100 });
    clock.advance(30_000);
    const first = await leases.renew(id, 60);
    assert.equal(first.duration, 60);
    assert.equal(target.renewed[0]?.expireTime, clock.now() + 60_000);
    clock.advance(30_000);
    const capped = await leases.renew(id, 60);
    assert.equal(capped.duration, 40);
    assert.equal(capped.warnings.length, 1);
    clock.advance(40_000);
    await assert.rejects(leases.renew(id, 60), /expired/);
    await leases.runDue();
    assert.equal(target.live.size, 0);
  });

  it('retries a failed revocation with backoff, then marks it irrevocable, and never drops it', async () => {
    const { leases, target, clock } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 10 });
    target.down = true;
    clock.advance(10_000);
    await leases.runDue();
    let info = await leases.lookup(id);
    assert.equal(info.revocation_attempts, 1);
    assert.match(info.last_error ?? '', /connection refused/);
    assert.equal(info.irrevocable, false);
    // Not retried before its backoff has passed.
    assert.equal(await leases.runDue(), 0);
    clock.advance(60_000);
    await leases.runDue();
    clock.advance(120_000);
    await leases.runDue();
    info = await leases.lookup(id);
    assert.equal(info.irrevocable, true);
    assert.equal(info.revocation_attempts, 3);
    const [listed] = await leases.irrevocable();
    assert.equal(listed?.id, id);
    // Also under the names Vault's irrevocable list uses.
    assert.equal(listed?.lease_id, id);
    assert.equal(listed?.mount_id, 'mount-1');
    assert.equal(listed?.error, info.last_error);
    clock.advance(3_600_000);
    assert.equal(await leases.runDue(), 0, 'an irrevocable lease waits for an operator');
    // A revoke that fails again does not promise a retry that will not come.
    await assert.rejects(leases.revoke(id), (error: any) => error.code === 'upstream' && /marked irrevocable: revoke it again once the cause is fixed, or revoke-force it$/.test(error.message));
    // The database comes back: a retry on request revokes it.
    target.down = false;
    await leases.revoke(id);
    assert.equal(target.live.size, 0);
    assert.deepEqual(await leases.irrevocable(), []);
  });

  it('reports a failed revoke-now as an upstream error and keeps the lease for retries', async () => {
    const { leases, target, clock } = setup();
    const id = await issue(leases, target, 'u1');
    target.down = true;
    await assert.rejects(leases.revoke(id), (error: any) => error.code === 'upstream' && /will be retried/.test(error.message));
    // Being revoked, it is not renewed, and the refusal says so rather than "expired".
    await assert.rejects(leases.renew(id, 60), (error: any) => error.code === 'bad_request' && /is being revoked/.test(error.message));
    target.down = false;
    clock.advance(2000);
    await leases.runDue();
    await assert.rejects(leases.lookup(id), /invalid lease/);
    assert.equal(target.live.size, 0);
  });

  it('force-revokes by prefix even when the target fails', async () => {
    const { leases, target } = setup();
    await issue(leases, target, 'u1');
    await issue(leases, target, 'u2');
    target.down = true;
    await assert.rejects(leases.revokePrefix('db/creds/'), /failed to revoke 2 lease/);
    assert.equal(await leases.revokePrefix('db/creds/', { force: true }), 2);
    assert.deepEqual(await leases.list('db/creds/app/'), []);
  });

  it('deletes the lease of a revoked secret without an fsync, and every other lease write with one', async () => {
    const memory = createMemoryStorage();
    const durabilities: string[] = [];
    // Records what each batch asked for, and applies it to the real storage underneath.
    const storage: Storage = {
      ...memory,
      batch: (ops, options) => {
        durabilities.push(`${options?.durability ?? 'immediate'}:${ops.some((op) => op.type === 'put') ? 'write' : 'delete'}`);
        return memory.batch(ops, options);
      },
    };
    const { leases, target, clock } = setup(storage);
    const revoked = await issue(leases, target, 'u1', { ttl: 60 });
    await issue(leases, target, 'u2', { ttl: 60 });
    const forced = await issue(leases, target, 'u3', { ttl: 600 });
    assert.deepEqual(durabilities, ['immediate:write', 'immediate:write', 'immediate:write']);

    durabilities.length = 0;
    await leases.revoke(revoked);
    await assert.rejects(leases.lookup(revoked), /invalid lease/);
    clock.advance(60_000);
    assert.equal(await leases.runDue(), 1);
    assert.deepEqual(durabilities, ['deferred:delete', 'deferred:delete'], 'a caller revocation, then an expiry');

    durabilities.length = 0;
    target.down = true;
    assert.equal(await leases.revokePrefix('db/creds/', { force: true }), 1);
    await assert.rejects(leases.lookup(forced), /invalid lease/);
    assert.deepEqual(durabilities, ['immediate:delete'], 'a forced removal after a failed revocation is durable');
    assert.deepEqual([...target.live], ['u3']);

    // A lease marked irrevocable has no due time: brought back, nothing would revoke it again.
    const stuck = await issue(leases, target, 'u4', { ttl: 10 });
    clock.advance(10_000);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await leases.runDue();
      clock.advance(600_000);
    }
    assert.equal((await leases.lookup(stuck)).irrevocable, true);
    target.down = false;
    durabilities.length = 0;
    await leases.revoke(stuck);
    await assert.rejects(leases.lookup(stuck), /invalid lease/);
    assert.deepEqual(durabilities, ['immediate:delete'], 'the revoked irrevocable lease is removed durably');
  });

  it("revokes a token's leases, and only those", async () => {
    const { leases, target } = setup();
    await issue(leases, target, 'a1', { tokenId: 'token-a' });
    await issue(leases, target, 'a2', { tokenId: 'token-a' });
    await issue(leases, target, 'b1', { tokenId: 'token-b' });
    await leases.revokeByToken('token-a');
    assert.deepEqual([...target.live], ['b1']);
  });

  it("revokes a token's leases side by side, and answers within its wait even when a target never does", async () => {
    const { leases, target, storage, clock } = setup();
    for (const name of ['stuck1', 'stuck2', 'ok1', 'ok2']) await issue(leases, target, name, { tokenId: 'token-a' });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    target.revokeGates.set('stuck1', gate);
    target.revokeGates.set('stuck2', gate);
    const started = Date.now();
    await leases.revokeByToken('token-a');
    const took = Date.now() - started;
    // One after another, the first stuck lease would have held up every other one for good.
    assert.deepEqual([...target.live].sort(), ['stuck1', 'stuck2'], 'the healthy leases are revoked');
    assert.ok(took >= 1_500 && took < 5_000, `answered after the wait, not never (${took} ms)`);
    assert.deepEqual([...target.revoking].sort(), ['stuck1', 'stuck2'], 'the stuck revocations go on');
    // Were the process to die now (the token is deleted next), a restart revokes them at once,
    // not when their own TTL ends: they were made due before any attempt.
    const afterCrash = fakeTarget();
    afterCrash.live.add('stuck1').add('stuck2');
    const restarted = setup(storage, afterCrash, clock);
    assert.equal(await restarted.leases.runDue(), 2);
    assert.deepEqual([...afterCrash.live], []);
    release();
    await leases.stop();
    assert.deepEqual([...target.live], [], 'and finish once their target answers');
  });

  it('keeps every lease across a restart and expires them afterwards', async () => {
    const storage = createMemoryStorage();
    const clock = createManualClock();
    const target = fakeTarget();
    const first = setup(storage, target, clock);
    for (let i = 0; i < 50; i += 1) await issue(first.leases, target, `u${i}`, { ttl: 10 + i });
    const second = setup(storage, target, clock);
    clock.advance(100_000);
    assert.equal(await second.leases.runDue(), 50);
    assert.equal(target.live.size, 0);
  });

  it('revokePrefixLater records every lease under the prefix as due before it resolves, so a restart still revokes them', async () => {
    const storage = createMemoryStorage();
    const clock = createManualClock();
    const target = fakeTarget();
    const first = setup(storage, target, clock);
    for (let i = 0; i < 300; i += 1) await issue(first.leases, target, `p${i}`, { ttl: 3600 });
    const other = await first.leases.register({
      path: 'db/creds/other', mountUuid: 'mount-1', mountPath: 'db/', secretType: 'creds', internal: { username: 'keep' },
      tokenId: 'token-a', renewable: true, ttl: 3600, maxTtl: 7200,
    });
    target.live.add('keep');
    assert.equal(await first.leases.revokePrefixLater('db/creds/app'), 300);
    // The server stops before it revoked anything; the next one finds them all due.
    const second = setup(storage, target, clock);
    assert.equal(await second.leases.runDue(), 300);
    assert.deepEqual([...target.live], ['keep'], 'only the lease outside the prefix is left');
    assert.equal((await second.leases.lookup(other.id)).ttl, 3600);
  });

  it('expires other leases while one is held by a slow renewal, and revokeLater does not wait for it', async () => {
    const { leases, target, clock } = setup();
    const slow = await issue(leases, target, 'slow', { ttl: 10 });
    await issue(leases, target, 'other', { ttl: 10 });
    let release = (): void => undefined;
    target.gate = new Promise<void>((resolve) => (release = resolve));
    const renewal = leases.renew(slow, 60);
    // Let the renewal start (and reach the target) before the clock moves past its expiry.
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(11_000);
    // The slow lease is due too, but its renewal holds it: the pass leaves it and revokes the other.
    assert.equal(await leases.runDue(), 1);
    assert.deepEqual([...target.live], ['slow']);
    // A revoke without waiting is answered while the renewal still holds the lease.
    await leases.revokeLater(slow);
    release();
    await renewal;
    // Made due after the renewal, the slow lease is revoked by the next pass.
    for (let i = 0; i < 20 && (await leases.runDue()) === 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    assert.equal(target.live.size, 0);
  });

  it('makes a lease due at once with revokeLater', async () => {
    const { leases, target } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 3600 });
    await leases.revokeLater(id);
    assert.equal(await leases.runDue(), 1);
    assert.equal(target.live.size, 0);
  });

  it('runs the expiry worker by itself once started', async () => {
    const { leases, target } = setup(createMemoryStorage(), fakeTarget(), { now: () => Date.now(), set() {}, advance() {} } as never);
    leases.start();
    await issue(leases, target, 'u1', { ttl: 0 });
    for (let i = 0; i < 100 && target.live.size > 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    await leases.stop();
    assert.equal(target.live.size, 0);
  });
  it('expires other leases while a target that does not answer holds more revocations than the window', async () => {
    const target = fakeTarget();
    const leases = realTimeLeases(target, { concurrency: 16 });
    let answer = (): void => undefined;
    const silent = new Promise<void>((resolve) => (answer = resolve));
    // 3 roles of a database that never answers, 20 due leases each: more than the window.
    for (let i = 0; i < 60; i += 1) {
      target.revokeGates.set(`dead-${i}`, silent);
      await issue(leases, target, `dead-${i}`, { ttl: 0, path: `db/creds/dead-${i % 3}` });
    }
    await issue(leases, target, 'healthy', { ttl: 0 });
    const started = Date.now();
    leases.start();
    for (let i = 0; i < 1000 && target.live.has('healthy'); i += 1) await new Promise((r) => setTimeout(r, 10));
    assert.equal(target.live.has('healthy'), false, `the healthy lease was revoked (after ${Date.now() - started} ms) while the dead ones still wait`);
    assert.ok(target.revoking.size >= 16, 'the dead revocations are still waiting');
    assert.ok(target.revoking.size <= 60);
    answer();
    for (let i = 0; i < 1000 && target.live.size > 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    await leases.stop();
    assert.equal(target.live.size, 0, 'every dead lease is revoked once its database answers');
  });

  it('expires a lease that falls due while the revocation of another is still waiting on its target', async () => {
    const target = fakeTarget();
    const leases = realTimeLeases(target);
    let answer = (): void => undefined;
    target.revokeGates.set('stuck', new Promise<void>((resolve) => (answer = resolve)));
    leases.start();
    await issue(leases, target, 'stuck', { ttl: 0 });
    for (let i = 0; i < 200 && !target.revoking.has('stuck'); i += 1) await new Promise((r) => setTimeout(r, 10));
    assert.ok(target.revoking.has('stuck'), 'the worker is revoking the first lease');
    // Due after that revocation began, while it still waits.
    await issue(leases, target, 'other', { ttl: 0 });
    for (let i = 0; i < 200 && target.live.has('other'); i += 1) await new Promise((r) => setTimeout(r, 10));
    assert.equal(target.live.has('other'), false, 'the second lease is revoked without waiting for the first');
    assert.ok(target.revoking.has('stuck'));
    answer();
    for (let i = 0; i < 200 && target.live.has('stuck'); i += 1) await new Promise((r) => setTimeout(r, 10));
    await leases.stop();
    assert.equal(target.live.size, 0);
  });

  it('wakes the idle worker for the retry of a failed revoke-now, not a minute later', async () => {
    const target = fakeTarget();
    const leases = realTimeLeases(target, { retryBaseMs: 50 });
    leases.start();
    const id = await issue(leases, target, 'u1', { ttl: 3600 });
    await new Promise((r) => setTimeout(r, 50)); // the worker's first pass is over; it sleeps
    target.down = true;
    await assert.rejects(leases.revoke(id), /will be retried/);
    target.down = false;
    for (let i = 0; i < 200 && target.live.size > 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    await leases.stop();
    assert.equal(target.live.size, 0, 'the retry ran at its backoff time');
  });
});

describe('lease manager: a renewal that shortens a lease', () => {
  it('wakes the idle worker for the new, earlier expiry, not a minute later', async () => {
    const target = fakeTarget();
    const leases = realTimeLeases(target);
    leases.start();
    const id = await issue(leases, target, 'u1', { ttl: 3600 });
    await new Promise((r) => setTimeout(r, 50)); // the worker's first pass is over; it sleeps
    const renewed = await leases.renew(id, 1);
    assert.equal(renewed.duration, 1);
    for (let i = 0; i < 300 && target.live.size > 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    await leases.stop();
    assert.equal(target.live.size, 0, 'revoked at the shortened expiry');
  });
});

/** Holds the target's renewals until `open` is called. */
function holdRenewals(target: FakeTarget): { open(): void } {
  let open = (): void => undefined;
  target.gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open: () => open() };
}

/** Lets queued promise callbacks run (the calls started so far reach the held renewal). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('lease manager: one lease, one order of work', () => {
  it('keeps the expiry index in step with the record when two renewals overlap', async () => {
    const { leases, target, clock, storage } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 60, maxTtl: 600 });
    const held = holdRenewals(target);
    const short = leases.renew(id, 15);
    const long = leases.renew(id, 250);
    await settle();
    held.open();
    await Promise.all([short, long]);
    assert.equal((await leases.lookup(id)).ttl, 250);
    assert.deepEqual(await storage.list(DUE_PREFIX), [dueKey(clock.now() + 250_000, id).slice(DUE_PREFIX.length)]);
    clock.advance(20_000);
    await leases.runDue();
    assert.deepEqual([...target.live], ['u1'], 'the lease the client was told lives 250 s is not revoked after 15 s');
    assert.equal((await leases.lookup(id)).ttl, 230);
  });

  it('does not bring back a lease revoked while its renewal was in flight', async () => {
    const { leases, target } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 60, maxTtl: 600 });
    const held = holdRenewals(target);
    const renewal = leases.renew(id, 120);
    await settle();
    const revocation = leases.revoke(id);
    await settle();
    held.open();
    await renewal;
    await revocation;
    await assert.rejects(leases.lookup(id), /invalid lease/);
    assert.equal(target.live.size, 0);
  });

  it('refuses to renew a lease revoked before the renewal ran, as an invalid lease', async () => {
    const { leases, target } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 60, maxTtl: 600 });
    const revocation = leases.revoke(id);
    await assert.rejects(leases.renew(id, 120), /invalid lease/);
    await revocation;
    assert.equal(target.renewed.length, 0);
    await assert.rejects(leases.lookup(id), /invalid lease/);
  });

  it('drops a due entry that is not the current expiry of its lease, without revoking the lease', async () => {
    const { leases, target, clock, storage } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 300, maxTtl: 600 });
    // An entry left behind for an expiry the lease no longer has.
    await storage.put(dueKey(clock.now() + 10_000, id), Buffer.alloc(0));
    clock.advance(20_000);
    assert.equal(await leases.runDue(), 1);
    assert.deepEqual([...target.live], ['u1']);
    assert.deepEqual(await storage.list(DUE_PREFIX), [dueKey(clock.now() + 280_000, id).slice(DUE_PREFIX.length)]);
    clock.advance(280_000);
    await leases.runDue();
    assert.equal(target.live.size, 0, 'its real expiry still revokes it');
  });
});

describe('lease manager: renewal under TTLs lowered since issuance', () => {
  it('caps a renewal at the max TTL the engine gives now, counted from the issue time, with a warning', async () => {
    const { leases, target, clock } = setup();
    const issuedAt = clock.now();
    const id = await issue(leases, target, 'u1', { ttl: 60, maxTtl: 1200 });
    target.ttls = { ttl: 60, maxTtl: 120 };
    clock.advance(30_000);
    const renewed = await leases.renew(id, 900);
    assert.equal(renewed.duration, 90);
    assert.deepEqual(renewed.warnings, ['TTL of "15m0s" exceeded the effective max_ttl of "1m30s"; TTL value is capped accordingly']);
    assert.equal(target.renewed[0]?.expireTime, issuedAt + 120_000, 'the target is told the capped end');
    assert.equal((await leases.lookup(id)).ttl, 90);
  });

  it('refuses a renewal once the lowered max TTL has passed, and leaves the lease as it was', async () => {
    const { leases, target, clock } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 600, maxTtl: 1200 });
    target.ttls = { ttl: 60, maxTtl: 120 };
    clock.advance(200_000);
    await assert.rejects(leases.renew(id, 60), /past its max TTL/);
    assert.equal(target.renewed.length, 0);
    assert.equal((await leases.lookup(id)).ttl, 400);
  });

  it('renews by the default TTL the engine gives now when no increment is asked for', async () => {
    const { leases, target } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 60, maxTtl: 1200 });
    target.ttls = { ttl: 30, maxTtl: 0 };
    assert.equal((await leases.renew(id, undefined)).duration, 30);
    target.ttls = undefined;
    assert.equal((await leases.renew(id, undefined)).duration, 60, 'without one, the TTL the lease was issued with');
  });

  it('never renews past the max TTL the lease was issued with, even if the engine now allows more', async () => {
    const { leases, target, clock } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 120, maxTtl: 300 });
    target.ttls = { ttl: 60, maxTtl: 3600 };
    clock.advance(100_000);
    const renewed = await leases.renew(id, 1000);
    assert.equal(renewed.duration, 200);
    assert.equal(renewed.warnings.length, 1);
  });

  it('refuses the renewal when the engine refuses, and keeps the expiry', async () => {
    const { leases, target } = setup();
    const id = await issue(leases, target, 'u1', { ttl: 60, maxTtl: 300 });
    target.ttls = new Error('role is gone');
    await assert.rejects(leases.renew(id, 100), /role is gone/);
    assert.equal(target.renewed.length, 0);
    assert.equal((await leases.lookup(id)).ttl, 60);
  });
});
