import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferBadRequestError, CofferConnectionError } from './errors.js';
import { openLeasedSecret, type LeaseInfo, type RenewalEndReason } from './leased-secret.js';
import { createManualTimers } from './manual-timers.js';
import { createScheduler, type RetryBackoff } from './scheduler.js';
import { secretData } from './secret-value.js';
import type { Requester } from './token-manager.js';
import { asEnvelope } from './wire.js';

/** A database engine stand-in: each read issues user-N with a lease of `ttl`, capped at `maxTtl`. */
function fakeEngine(ttl: number, maxTtl: number, now: () => number) {
  let issued = 0;
  const leases = new Map<string, { issuedAt: number; expiresAt: number; revoked: boolean }>();
  const log: string[] = [];
  /** Set: the next renewal answers with 0 s left, as one in the last second before the max TTL does. */
  const quirks = { zeroNextRenewal: false };
  const read = async () => {
    issued += 1;
    const id = `database/creds/app/lease${issued}`;
    leases.set(id, { issuedAt: now(), expiresAt: now() + ttl * 1000, revoked: false });
    log.push(`read ${id}`);
    return asEnvelope({ lease_id: id, lease_duration: ttl, renewable: true, data: { username: `user-${issued}`, password: `password-${issued}-xyz` } });
  };
  const request: Requester = async (method, path, req = {}) => {
    const body = req.body as { lease_id: string; increment?: number };
    const lease = leases.get(body.lease_id);
    if (!lease || lease.revoked || lease.expiresAt <= now()) {
      log.push(`${path} ${body.lease_id} refused`);
      throw new CofferBadRequestError(`${method} ${path}: invalid lease (HTTP 400)`, { status: 400, errors: ['invalid lease'], method, path });
    }
    if (path === 'sys/leases/revoke') {
      lease.revoked = true;
      log.push(`revoke ${body.lease_id}`);
      return { status: 204, body: undefined };
    }
    const max = lease.issuedAt + maxTtl * 1000;
    lease.expiresAt = quirks.zeroNextRenewal ? now() : Math.min(now() + (body.increment ?? ttl) * 1000, max);
    quirks.zeroNextRenewal = false;
    log.push(`renew ${body.lease_id}`);
    return { status: 200, body: { lease_id: body.lease_id, renewable: true, lease_duration: Math.round((lease.expiresAt - now()) / 1000), data: null } };
  };
  return { read, request, leases, log, quirks };
}

type Cred = { username: string; password: string };

async function open(ttl: number, maxTtl: number, rotate = true, retry?: RetryBackoff) {
  const timers = createManualTimers();
  const engine = fakeEngine(ttl, maxTtl, timers.now);
  /** While true, the server cannot be reached. */
  const outage = { down: false };
  const unreachable = (): never => {
    throw new CofferConnectionError('cannot reach the server at http://127.0.0.1:1: ECONNREFUSED', 'ECONNREFUSED');
  };
  const errors: unknown[] = [];
  const renewals: LeaseInfo[] = [];
  const rotations: Array<[string, string]> = [];
  const ends: Array<{ leaseId: string; reason: RenewalEndReason; expiresAt: number }> = [];
  const handle = await openLeasedSecret<Cred>(
    {
      path: 'database/creds/app',
      read: () => (outage.down ? unreachable() : engine.read()),
      request: (method, path, req) => (outage.down ? unreachable() : engine.request(method, path, req)),
      scheduler: createScheduler((err) => errors.push(err), timers, retry),
      toSecret: (envelope) => secretData(envelope) as Cred,
      onError: (err) => errors.push(err),
    },
    {
      rotate,
      onRenew: (info) => renewals.push(info),
      onRotate: (next, previous) => rotations.push([previous.username, next.username]),
      onRenewalEnd: (info) => ends.push({ leaseId: info.leaseId, reason: info.reason, expiresAt: info.expiresAt }),
    },
  );
  return { timers, engine, errors, renewals, rotations, ends, handle, outage };
}

describe('leased secret handle', () => {
  it('renews the lease at about two thirds of its duration while renewal gives the full duration', async () => {
    const { timers, handle, renewals, engine } = await open(30, 3600);
    assert.equal(handle.current.username, 'user-1');
    assert.equal(handle.leaseId, 'database/creds/app/lease1');
    await timers.advance(21_000);
    assert.equal(renewals.length, 1);
    assert.equal(renewals[0]?.leaseDuration, 30);
    await timers.advance(21_000);
    assert.equal(renewals.length, 2);
    assert.deepEqual(engine.log, ['read database/creds/app/lease1', 'renew database/creds/app/lease1', 'renew database/creds/app/lease1']);
    await handle.close();
  });

  it('reads a fresh secret before the max TTL ends and keeps the old lease until then', async () => {
    const { timers, handle, rotations, engine } = await open(30, 50);
    // Renewal at ~20 s is capped (30 s left of the 50 s max): the fresh read comes within those 30 s.
    await timers.advance(21_000);
    assert.deepEqual(rotations, []);
    await timers.advance(28_000);
    assert.deepEqual(rotations, [['user-1', 'user-2']], 'a fresh credential before the old one ended');
    assert.equal(handle.current.username, 'user-2');
    assert.equal(handle.generation, 2);
    assert.equal(engine.leases.get('database/creds/app/lease1')?.revoked, false, 'the old lease is left to run out');
    await handle.close();
    assert.equal(engine.leases.get('database/creds/app/lease1')?.revoked, true, 'close() revokes the still valid old lease');
    assert.equal(engine.leases.get('database/creds/app/lease2')?.revoked, true);
  });

  it('replaces a lease whose renewal came back with 0 s left, instead of stalling', async () => {
    const { timers, handle, rotations, engine } = await open(30, 3600);
    engine.quirks.zeroNextRenewal = true;
    // The renewal at ~20 s answers 0 s; a fresh credential follows a second later.
    await timers.advance(22_500);
    assert.deepEqual(rotations, [['user-1', 'user-2']]);
    assert.equal(handle.current.username, 'user-2');
    await handle.close();
  });

  it('reads a fresh secret at once when the lease was revoked behind its back', async () => {
    const { timers, handle, rotations, engine, errors } = await open(30, 3600);
    (engine.leases.get('database/creds/app/lease1') as { revoked: boolean }).revoked = true;
    await timers.advance(21_000);
    assert.deepEqual(rotations, [['user-1', 'user-2']]);
    assert.equal(errors.length, 1);
    assert.ok(!String((errors[0] as Error).message).includes('password-1'), 'no secret in the reported error');
    await handle.close();
  });

  it('only renews, and never reads again, with rotate: false', async () => {
    const { timers, handle, engine } = await open(30, 50, false);
    await timers.advance(120_000);
    assert.equal(engine.log.filter((l) => l.startsWith('read')).length, 1);
    assert.equal(handle.current.username, 'user-1');
    assert.deepEqual(timers.pending(), [], 'nothing left to do after the capped renewal');
    await handle.close();
  });

  it('says once when the max TTL stops renewal from extending the lease, and when it ends', async () => {
    const { timers, handle, ends, engine } = await open(30, 80, false);
    const issuedAt = timers.now();
    await timers.advance(21_000);
    assert.equal(ends.length, 0, 'the first renewal still gives the full duration');
    await timers.advance(100_000);
    assert.equal(ends.length, 1, 'reported once, not at every later step');
    assert.equal(ends[0]?.leaseId, 'database/creds/app/lease1');
    assert.equal(ends[0]?.reason, 'max_ttl');
    assert.ok(Math.abs((ends[0]?.expiresAt ?? 0) - (issuedAt + 80_000)) <= 1000, 'it ends at the max TTL');
    assert.equal(engine.log.filter((l) => l.startsWith('read')).length, 1);
    await handle.close();
  });

  it('says so when the server refuses to renew a lease, before reading a fresh one', async () => {
    const { timers, handle, ends, engine, rotations } = await open(30, 3600);
    (engine.leases.get('database/creds/app/lease1') as { revoked: boolean }).revoked = true;
    await timers.advance(21_000);
    assert.deepEqual(ends.map((e) => [e.leaseId, e.reason]), [['database/creds/app/lease1', 'refused']]);
    assert.deepEqual(rotations, [['user-1', 'user-2']]);
    await handle.close();
  });

  it('after an outage that outlasted the lease, refreshIfExpired() reads a fresh secret at once instead of at the next retry', async () => {
    const { timers, handle, outage, rotations } = await open(30, 3600);
    outage.down = true;
    await timers.advance(45_000);
    assert.ok((handle.expiresAt?.getTime() ?? Infinity) < timers.now(), 'the lease ran out during the outage');
    assert.ok(timers.pending().length === 1 && (timers.pending()[0] as number) > 0, 'the handle waits for its next retry');
    outage.down = false;
    assert.equal(await handle.refreshIfExpired(), true);
    assert.equal(handle.current.username, 'user-2', 'fresh credentials without moving time on');
    assert.deepEqual(rotations, [['user-1', 'user-2']]);
    assert.equal(await handle.refreshIfExpired(), false, 'a valid lease is left alone');
    assert.equal(handle.current.username, 'user-2');
    await handle.close();
  });

  it('paces its retries with the scheduler backoff it is given', async () => {
    const { timers, handle, outage } = await open(30, 3600, true, { initialMs: 100_000, maxMs: 100_000 });
    outage.down = true;
    // Before the lease ends, retries come in time (half of what is left); after, the backoff stands.
    await timers.advance(45_000);
    const [next] = timers.pending();
    assert.ok(next !== undefined && next > 50_000, `the retry after the lease ended follows the 100 s backoff (${next} ms), not the SDK default of at most 36 s`);
    outage.down = false;
    await handle.close();
  });

  it('refresh() gives a new secret, and close() revokes both leases and stops the timers', async () => {
    const { timers, handle, engine } = await open(30, 3600);
    const next = await handle.refresh();
    assert.equal(next.username, 'user-2');
    await handle.close();
    assert.deepEqual(
      engine.log.filter((l) => l.startsWith('revoke')).sort(),
      ['revoke database/creds/app/lease1', 'revoke database/creds/app/lease2'],
    );
    assert.deepEqual(timers.pending(), []);
    await assert.rejects(handle.refresh(), { name: 'CofferClosedError' });
  });
});
