/**
 * The lease manager: registers leased secrets, renews them within their max TTL, and revokes
 * them on request, on expiry, with their token, or with their mount.
 *
 * Leases are durable and indexed by due time in storage; nothing per lease is held in memory
 * (lease-expiry-worker.ts reads the index a page at a time). A failed revocation is retried with
 * exponential backoff and jitter; after `maxAttempts` the lease is marked irrevocable and kept,
 * listed with its last error, until it is retried or force-revoked (lease-revoker.ts). Nothing
 * is dropped silently. Work on one lease is ordered by its lane (lease-lanes.ts).
 *
 * Revocation goes back through the engine that issued the secret (Engine.secretTypes).
 *
 * Two writes overlap other work rather than queue behind it (see `register` and `revoke`): a
 * new lease is stored while its secret is being prepared, and committed before the secret can
 * be; a revoked lease's deletion is committed after the revoke call has returned, since its
 * loss after a crash costs only an idempotent repeat. No other write is acknowledged early.
 */
import type { Clock } from '../clock.js';
import { formatDuration } from '../duration.js';
import { CofferError, badRequest } from '../errors.js';
import { randomBase62 } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Engine } from '../router/engine.js';
import { getJson, type Storage, type WriteOp } from '../storage/storage.js';
import { createExpiryWorker } from './lease-expiry-worker.js';
import { leaseInfo, type LeaseInfo } from './lease-info.js';
import { createLeaseLanes } from './lease-lanes.js';
import { createLeaseRevoker, leaseErrorText } from './lease-revoker.js';
import { dueKey, dueTimeFor, recordKey, registrationOps, type LeaseRecord } from './lease-record.js';

/** What a new lease is made of; ttl and maxTtl are the effective seconds, already capped by the caller. */
export type LeaseRegistration = Pick<LeaseRecord, 'path' | 'mountUuid' | 'mountPath' | 'secretType' | 'internal' | 'tokenId' | 'renewable' | 'ttl'> & {
  maxTtl: number;
};

export type { LeaseInfo };

/** An irrevocable lease as listed: its lookup fields, plus the fields Vault's list has. */
export type IrrevocableLease = LeaseInfo & { lease_id: string; mount_id: string; error: string };

export interface RenewResult {
  id: string;
  duration: number;
  renewable: boolean;
  warnings: string[];
}

export interface LeaseManagerOptions {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  /** Finds the engine that issued a lease; undefined when its mount is gone. */
  engineForMount(uuid: string): Engine | undefined;
  /** Attempts before a lease is marked irrevocable (Vault: 6). */
  maxAttempts?: number;
  /** First retry delay, ms (Vault: 10 s); doubles each attempt, with ±25 % jitter. */
  retryBaseMs?: number;
  /** Longest retry delay, ms. */
  retryMaxMs?: number;
  /** Revocations run at once by the worker. */
  concurrency?: number;
}

export interface LeaseManager {
  /**
   * Stores a new lease. If it cannot be stored, its secret is revoked again (best effort), so no
   * secret exists that Coffer does not track.
   *
   * With `create`, the secret does not exist yet: the lease's write starts at once and `create`
   * is called with it, so the target system prepares the secret (a database runs its
   * statements in a transaction left open) while the lease is committed, and commits only
   * once the lease is durable (SecretLeaseRequest.create). Whenever Coffer stops, then, a
   * secret that exists has a stored lease; a lease whose secret was never made expires, and its
   * revocation finds nothing, which succeeds. Resolves once both succeeded. If the lease cannot
   * be stored, its error is thrown (and `create` made nothing). If `create` fails, the lease is
   * deleted and `create`'s error is thrown (`create` leaves nothing behind when it fails: a
   * database plugin's newUser is all-or-nothing). Unless the error says the secret may exist all
   * the same (CofferError.outcomeUnknown: a connection lost after COMMIT was sent, a cleanup that
   * failed): then the lease is kept and made due at once, as revokeLater does, so the worker
   * revokes whatever was made (revocation is idempotent), and the error is still thrown. A
   * revocation of this lease (its token, a prefix, expiry) waits until `create` has settled.
   */
  register(input: LeaseRegistration, create?: (leaseStored: Promise<void>) => Promise<void>): Promise<LeaseRecord>;
  lookup(id: string): Promise<LeaseInfo>;
  renew(id: string, incrementSeconds: number | undefined): Promise<RenewResult>;
  /**
   * Revokes now; on failure schedules a retry and throws an 'upstream' error. Resolves once the
   * secret is gone from the target system, without waiting for the lease's deletion to be
   * committed: a deletion lost in a crash only means the lease is revoked again (idempotently)
   * when it expires. Reads of the lease wait for that deletion, so it is never seen again.
   * A lease that does not exist is already revoked: that succeeds (a malformed id does not).
   */
  revoke(id: string): Promise<void>;
  /** Makes the lease due now (after work holding it, without waiting for that); the worker revokes it shortly. */
  revokeLater(id: string): Promise<void>;
  /** Revokes every lease under a prefix; `force` deletes leases whose revocation fails. */
  revokePrefix(prefix: string, options?: { force?: boolean }): Promise<number>;
  /**
   * Makes every lease under a prefix due now, in storage, and wakes the worker: resolves once
   * all are recorded, so a restart right after still revokes them (Vault's LazyRevoke, behind
   * `sync=false`). Returns how many.
   */
  revokePrefixLater(prefix: string): Promise<number>;
  /**
   * Revokes a token's leases, many at once; resolves when all are done or after
   * TOKEN_LEASES_WAIT_MS, whichever is first (the rest go on). Failures are left to retries
   * (never blocks the token's revocation).
   */
  revokeByToken(tokenId: string): Promise<void>;
  /** Children of a prefix of lease ids (sys/leases/lookup LIST). */
  list(prefix: string): Promise<string[]>;
  /** The irrevocable leases, each also under Vault's names (lease_id, mount_id, error). */
  irrevocable(): Promise<IrrevocableLease[]>;
  /** Starts the expiry worker (after unseal). */
  start(): void;
  /** Stops it and waits for in-flight revocations (before seal). */
  stop(): Promise<void>;
  /** Runs one pass of the worker now; returns how many leases it handled. Tests and benchmarks. */
  runDue(): Promise<number>;
}

const PAGE = 256;
/**
 * How long revoking a token waits for its leases' revocations. Long enough that against healthy
 * databases every credential is gone when the revocation answers; short enough that one target
 * that does not answer holds up no other token's revocation for longer.
 */
const TOKEN_LEASES_WAIT_MS = 2_000;
/** A due entry whose lease record is gone (a crash between the two deletes): drop the entry. */
const NOT_FOUND = Symbol('lease not found');

interface RevokeOptions {
  /** Deletes the lease even if the revocation fails. */
  force: boolean;
  /** Yields NOT_FOUND for a lease that does not exist. */
  reportMissing?: boolean;
  /** Resolves before the lease's deletion is committed (sys/leases/revoke only; see LeaseManager.revoke). */
  earlyAck?: boolean;
  /** The id comes from an API caller (see readForCaller). */
  fromCaller?: boolean;
}

export function createLeaseManager(options: LeaseManagerOptions): LeaseManager {
  const { storage, clock, logger } = options;
  const concurrency = options.concurrency ?? 64;

  // Work in flight per lease (creation, renewal, revocation), and deletions not yet committed.
  const lanes = createLeaseLanes();
  const revoker = createLeaseRevoker({
    storage,
    clock,
    logger,
    lanes,
    engineForMount: options.engineForMount,
    maxAttempts: options.maxAttempts ?? 6,
    retryBaseMs: options.retryBaseMs ?? 10_000,
    retryMaxMs: options.retryMaxMs ?? 10 * 60_000,
    // Late-bound: the worker revokes through this revoker. Without it, a retry due in 10 s
    // would wait for the worker's next planned pass (up to a minute).
    onRetryScheduled: (dueAt) => worker.noteDue(dueAt),
  });
  const { remove, rewrite, view } = revoker;
  const info = (record: LeaseRecord): LeaseInfo => leaseInfo(record, clock.now());

  const read = async (id: string): Promise<LeaseRecord | undefined> => {
    await lanes.deleted(id);
    return getJson<LeaseRecord>(storage, recordKey(id));
  };

  /** A lease named by an API caller: an id storage refuses is an invalid lease, not an internal error. */
  const readForCaller = async (id: string): Promise<LeaseRecord | undefined> => {
    if (typeof id !== 'string' || id === '') throw badRequest('missing lease_id');
    try {
      return await read(id);
    } catch (error) {
      if (error instanceof CofferError && error.code === 'internal') throw badRequest('invalid lease');
      throw error;
    }
  };

  const mustRead = async (id: string): Promise<LeaseRecord> => {
    const record = await readForCaller(id);
    if (!record) throw badRequest('invalid lease');
    return record;
  };

  /**
   * A stored lease whose secret may exist although its creation failed: due now, so the worker
   * revokes it shortly (the caller holds the lease's lane; the worker waits for it).
   */
  const revokeSoon = async (record: LeaseRecord, failure: unknown): Promise<void> => {
    logger.warn('a secret whose creation failed may exist all the same; its lease is kept and revoked now', {
      lease: record.id,
      error: leaseErrorText(failure),
    });
    try {
      await rewrite(record, { ...record, expireTime: Math.min(record.expireTime, clock.now()) });
      worker.wakeNow();
    } catch (error) {
      // The lease stays as stored, so its revocation still comes, at its expiry.
      logger.warn('could not make a lease due now; it is revoked when it expires', { lease: record.id, error: leaseErrorText(error) });
      worker.noteDue(record.expireTime);
    }
  };

  /** Stores a new lease while `create` prepares its secret, which it commits after; see LeaseManager.register. */
  const storeWhileCreating = async (record: LeaseRecord, ops: readonly WriteOp[], create: (leaseStored: Promise<void>) => Promise<void>): Promise<void> => {
    const stored = storage.batch(ops);
    const [write, made] = await Promise.allSettled([stored, (async () => create(stored))()]);
    if (made.status === 'rejected') {
      const mayExist = made.reason instanceof CofferError && made.reason.outcomeUnknown;
      if (write.status === 'fulfilled') {
        if (mayExist) {
          await revokeSoon(record, made.reason);
        } else {
          await remove(record).catch((error: unknown) => {
            // Left to expire: its revocation then finds no secret, which succeeds.
            logger.warn('could not delete the lease of a secret whose creation failed', { lease: record.id, error: leaseErrorText(error) });
          });
        }
      } else if (mayExist) {
        // No lease to keep: one attempt now is all there can be.
        await revoker.revokeUnstored(record);
      } else {
        // Nothing was made (usually because the lease could not be stored): that is the error.
        throw write.reason;
      }
      throw made.reason;
    }
    if (write.status === 'rejected') {
      // Only a `create` that ignored `leaseStored` gets here with a secret made.
      await revoker.revokeUnstored(record);
      throw write.reason;
    }
  };

  /** One attempt, after any other work on the lease. Resolves with the failure, if any. */
  const revokeOnce = (id: string, { force, reportMissing = false, earlyAck = false, fromCaller = false }: RevokeOptions): Promise<unknown> =>
    lanes.run(id, async () => {
      const record = await (fromCaller ? readForCaller(id) : read(id));
      if (!record) return reportMissing ? NOT_FOUND : undefined;
      return revoker.attempt(record, force, earlyAck);
    });

  /** One renewal; the caller holds the lease's lane. */
  const renewInLane = async (id: string, incrementSeconds: number | undefined): Promise<RenewResult> => {
    const record = await mustRead(id);
    const now = clock.now();
    // A lease whose revocation failed is being revoked (retried on a schedule): it is not
    // extended, and the caller is told why rather than that it expired.
    if (record.revocation) throw badRequest('lease is being revoked: its revocation failed and is retried; it cannot be renewed');
    if (record.expireTime <= now) throw badRequest('lease expired');
    if (!record.renewable) throw badRequest('lease is not renewable');
    const engine = options.engineForMount(record.mountUuid);
    const secretType = engine?.secretTypes?.[record.secretType];
    if (!secretType) throw new CofferError('internal', 'the engine that issued this lease is not mounted');
    // As Vault: the role's and the mount's TTLs as they are now, counted from the issue time.
    const ttls = await secretType.renewalTtls?.(view(record));
    const increment = incrementSeconds && incrementSeconds > 0 ? incrementSeconds : ttls?.ttl || record.ttl;
    const maxExpireTime = ttls && ttls.maxTtl > 0 ? Math.min(record.maxExpireTime, record.issueTime + ttls.maxTtl * 1000) : record.maxExpireTime;
    const wanted = now + increment * 1000;
    const expireTime = Math.min(wanted, maxExpireTime);
    const warnings: string[] = [];
    if (expireTime < wanted) {
      warnings.push(
        // Go duration text, as Vault prints it ("5h0m0s").
        `TTL of "${formatDuration(increment)}" exceeded the effective max_ttl of "${formatDuration(Math.max(0, Math.round((maxExpireTime - now) / 1000)))}"; TTL value is capped accordingly`,
      );
    }
    if (expireTime <= now) throw badRequest('lease is past its max TTL and cannot be renewed');
    // The target system is extended first: if that fails, Coffer's expiry stays as it was.
    await secretType.renew?.(view(record, expireTime));
    const renewed: LeaseRecord = { ...record, expireTime, lastRenewal: now };
    await rewrite(record, renewed);
    // A renewal may shorten the lease (an increment below what was left): the worker, asleep
    // until the next expiry it knew of, must wake for this one.
    worker.noteDue(expireTime);
    return { id, duration: Math.round((expireTime - now) / 1000), renewable: true, warnings };
  };

  /**
   * The worker found the due entry (dueAt, id). It is acted on only if it is the lease's current
   * entry: one left behind by a crash, or by a change the index missed, must never revoke a lease
   * that a renewal extended. Such an entry, or one whose lease is gone, is deleted here, in the
   * lane, so no rewrite of the lease can race with its deletion.
   */
  const revokeIfDue = async (id: string, dueAt: number): Promise<void> => {
    const record = await read(id);
    const current = record ? dueTimeFor(record) : undefined;
    // Keys, not numbers: the key is what both were written under (fixed-width milliseconds).
    if (record === undefined || current === undefined || dueKey(current, id) !== dueKey(dueAt, id)) {
      await storage.delete(dueKey(dueAt, id));
      return;
    }
    await revoker.attempt(record, false, false);
  };

  const worker = createExpiryWorker({
    storage,
    clock,
    logger,
    concurrency,
    revokeDue: (id, dueAt) => lanes.run(id, () => revokeIfDue(id, dueAt)),
    busy: (id) => lanes.busy(id),
  });

  /**
   * Rewrites a lease as due now (a failed one: its next attempt now, no longer irrevocable). In
   * the lease's lane, like renew: a concurrent renewal must not put back the old expiry.
   */
  const makeDueNow = (id: string): Promise<void> =>
    lanes.run(id, async () => {
      const record = await read(id);
      if (!record) return;
      const now = clock.now();
      const due: LeaseRecord = record.revocation
        ? { ...record, revocation: { ...record.revocation, irrevocable: false, nextAttemptAt: now } }
        : { ...record, expireTime: Math.min(record.expireTime, now) };
      await rewrite(record, due);
    });

  const walkIds = async (prefix: string, visit: (id: string) => Promise<void>): Promise<void> => {
    const exact = await read(prefix).catch(() => undefined);
    if (exact) await visit(exact.id);
    const base = prefix === '' || prefix.endsWith('/') ? prefix : prefix + '/';
    const stack = [base];
    while (stack.length > 0) {
      const dir = stack.pop() as string;
      let after = '';
      for (;;) {
        const page = await storage.listPage(`id/${dir}`, after, PAGE);
        if (page.length === 0) break;
        for (const child of page) {
          if (child.endsWith('/')) stack.push(dir + child);
          else await visit(dir + child);
        }
        after = page[page.length - 1] as string;
      }
    }
  };

  return {
    async register(input, create) {
      const now = clock.now();
      const id = `${input.path.replace(/\/+$/, '')}/${randomBase62(24)}`;
      const record: LeaseRecord = {
        id,
        path: input.path,
        mountUuid: input.mountUuid,
        mountPath: input.mountPath,
        secretType: input.secretType,
        internal: input.internal,
        tokenId: input.tokenId,
        renewable: input.renewable,
        issueTime: now,
        expireTime: now + input.ttl * 1000,
        maxExpireTime: now + input.maxTtl * 1000,
        lastRenewal: 0,
        ttl: input.ttl,
      };
      const ops = registrationOps(record);
      if (create) {
        await lanes.run(id, () => storeWhileCreating(record, ops, create));
      } else {
        try {
          await storage.batch(ops);
        } catch (error) {
          await revoker.revokeUnstored(record);
          throw error;
        }
      }
      worker.noteDue(record.expireTime);
      return record;
    },

    async lookup(id) {
      return info(await mustRead(id));
    },

    renew(id, incrementSeconds) {
      // Inside the lease's lane, reading the record there: a renewal and a revocation (or another
      // renewal) of one lease never interleave, so none of them writes back a stale record (a
      // revoked lease resurrected, or an expiry index entry left behind for the old expiry).
      return lanes.run(id, () => renewInLane(id, incrementSeconds));
    },

    async revoke(id) {
      // Read once, inside the lease's lane: a revoke is one read, one revocation, one delete.
      const failure = await revokeOnce(id, { force: false, fromCaller: true, reportMissing: true, earlyAck: true });
      // As Vault: revoking a lease that is not there (already revoked, say by its token) is
      // done, not an error, so a client's cleanup can always revoke what it holds.
      if (failure === NOT_FOUND) return;
      if (failure !== undefined) {
        // A lease past its last attempt is marked irrevocable and no longer retried on its own.
        const irrevocable = (await read(id).catch(() => undefined))?.revocation?.irrevocable === true;
        const next = irrevocable ? 'the lease is kept, marked irrevocable: revoke it again once the cause is fixed, or revoke-force it' : 'it will be retried';
        throw new CofferError('upstream', `failed to revoke lease: ${leaseErrorText(failure)}; ${next}`);
      }
    },

    async revokeLater(id) {
      // As Vault's LazyRevoke: a lease that is gone (revoked already, with its token, say) is
      // revoked, which succeeds; only a malformed id is refused.
      if ((await readForCaller(id)) === undefined) return;
      // Other work holding the lease (a renewal waiting on its database) is not waited for: the
      // caller is answered at once, as Vault answers sync=false, and the lease is made due after it.
      const behindOtherWork = lanes.busy(id);
      const scheduled = makeDueNow(id).then(() => worker.wakeNow());
      if (!behindOtherWork) return scheduled;
      scheduled.catch((error: unknown) =>
        logger.warn('could not schedule a lease revocation; it is revoked when it expires', { lease: id, error: leaseErrorText(error) }),
      );
    },

    async revokePrefixLater(prefix) {
      // One page of ids at a time, concurrently: their rewrites share commits (group commit)
      // instead of waiting for an fsync each.
      let ids: string[] = [];
      let count = 0;
      const flush = async (): Promise<void> => {
        const batch = ids;
        ids = [];
        await Promise.all(batch.map((id) => makeDueNow(id)));
        count += batch.length;
      };
      await walkIds(prefix, async (id) => {
        ids.push(id);
        if (ids.length >= PAGE) await flush();
      });
      await flush();
      worker.wakeNow();
      return count;
    },

    async revokePrefix(prefix, opts = {}) {
      let count = 0;
      const failures: string[] = [];
      await walkIds(prefix, async (id) => {
        const failure = await revokeOnce(id, { force: opts.force === true });
        if (failure === undefined) count += 1;
        else failures.push(id);
      });
      if (failures.length > 0) {
        throw new CofferError('upstream', `failed to revoke ${failures.length} lease(s) under "${prefix}"; they are kept and retried (those marked irrevocable only when revoked again)`);
      }
      return count;
    },

    async revokeByToken(tokenId) {
      const ids: string[] = [];
      let after = '';
      for (;;) {
        const page = await storage.listPage(`token/${tokenId}/`, after, PAGE);
        if (page.length === 0) break;
        for (const child of page) {
          const raw = await storage.get(`token/${tokenId}/${child}`);
          if (raw) ids.push(raw.toString('utf8'));
        }
        after = page[page.length - 1] as string;
      }
      // Every lease is first made due now, durably (a page at a time, so the rewrites share
      // commits): the token is deleted once this returns, and a lease whose revocation a stop
      // or crash then cuts short must still be revoked by the worker, not live to its own expiry.
      // A lease held by other work (a renewal waiting on its database) is not waited for here:
      // it is made due after that work, as revokeLater does.
      let marking: Promise<void>[] = [];
      for (const id of ids) {
        const behindOtherWork = lanes.busy(id);
        const scheduled = makeDueNow(id).catch((error: unknown) => {
          logger.warn('could not schedule the revocation of a lease of a revoked token; it is revoked when it expires', { lease: id, error: leaseErrorText(error) });
        });
        if (!behindOtherWork) marking.push(scheduled);
        if (marking.length >= PAGE) {
          await Promise.all(marking);
          marking = [];
        }
      }
      await Promise.all(marking);
      // Then `concurrency` at a time, waited for at most TOKEN_LEASES_WAIT_MS: the token's
      // revocation (and the expiry sweep of every other token behind it) must not wait on a
      // database that does not answer, one statement timeout per lease. What is still running
      // then finishes in its lease's lane (stop() waits for it); a failure is recorded and
      // retried by the worker like any other.
      const queue = ids.values();
      const drain = async (): Promise<void> => {
        for (let next = queue.next(); next.done !== true; next = queue.next()) {
          const id = next.value;
          await revokeOnce(id, { force: false }).catch((error: unknown) => {
            logger.error('could not revoke a lease of a revoked token; it is due, so the expiry worker retries it', { lease: id, error: leaseErrorText(error) });
          });
        }
      };
      const all = Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, drain));
      let timer: NodeJS.Timeout | undefined;
      const budget = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, TOKEN_LEASES_WAIT_MS);
      });
      await Promise.race([all, budget]);
      clearTimeout(timer);
    },

    async list(prefix) {
      const dir = prefix === '' || prefix.endsWith('/') ? prefix : prefix + '/';
      // A lease reported revoked must not be listed while its deletion is still committing.
      await lanes.allDeleted();
      return storage.list(`id/${dir}`);
    },

    async irrevocable() {
      const out: IrrevocableLease[] = [];
      let after = '';
      for (;;) {
        const page = await storage.listPage('irrevocable/', after, PAGE);
        if (page.length === 0) return out;
        for (const child of page) {
          const raw = await storage.get(`irrevocable/${child}`);
          const record = raw ? await read(raw.toString('utf8')) : undefined;
          if (record) out.push({ ...info(record), lease_id: record.id, mount_id: record.mountUuid, error: record.revocation?.lastError ?? '' });
        }
        after = page[page.length - 1] as string;
      }
    },

    start: () => worker.start(),

    async stop() {
      await worker.stop();
      await lanes.idle();
    },

    runDue: () => worker.runDue(),
  };
}
