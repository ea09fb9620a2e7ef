/**
 * One revocation attempt of a stored lease, and what follows it: on success the lease and its
 * index entries are deleted; on failure the attempt is recorded and the lease moves to its next
 * retry time (exponential backoff with ±25 % jitter), or is marked irrevocable after
 * `maxAttempts`, kept and listed with its last error.
 *
 * Owns: the storage writes that change or delete a lease record together with its index
 * entries (always one atomic batch), and the call back into the engine that issued the secret.
 * Ordering is the caller's: the lease manager runs every attempt inside the lease's lane.
 * Must never: delete a lease whose revocation failed, unless forced; put a secret into a log
 * line (engines scrub their errors; only their message is recorded).
 */
import type { Clock } from '../clock.js';
import { CofferError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Engine, LeaseView } from '../router/engine.js';
import { jsonBytes, type Storage, type WriteOp } from '../storage/storage.js';
import type { LeaseLanes } from './lease-lanes.js';
import { dueKey, dueTimeFor, irrevocableKey, recordKey, removalOps, type LeaseRecord } from './lease-record.js';

export interface LeaseRevokerOptions {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  lanes: LeaseLanes;
  /** Finds the engine that issued a lease; undefined when its mount is gone. */
  engineForMount(uuid: string): Engine | undefined;
  /** Attempts before a lease is marked irrevocable (Vault: 6). */
  maxAttempts: number;
  /** First retry delay, ms; doubles each attempt. */
  retryBaseMs: number;
  /** Longest retry delay, ms. */
  retryMaxMs: number;
  /** A failed lease is now due again at `dueAt` (the expiry worker may have to wake earlier). */
  onRetryScheduled(dueAt: number): void;
}

export interface LeaseRevoker {
  /**
   * Revokes the lease's secret. Success (or failure with `force`) deletes the lease: awaited,
   * or with `earlyAck` committed after this resolves (reads of it wait, see LeaseLanes).
   * Failure records the attempt and resolves with the error.
   */
  attempt(record: LeaseRecord, force: boolean, earlyAck: boolean): Promise<unknown>;
  /** Best effort, for a secret whose lease could not be stored: there is no lease left to retry it with. */
  revokeUnstored(record: LeaseRecord): Promise<void>;
  /** Deletes a lease and its index entries. */
  remove(record: LeaseRecord): Promise<void>;
  /** Replaces a record and moves its index entries, in one atomic batch. */
  rewrite(before: LeaseRecord, after: LeaseRecord): Promise<void>;
  /** What an engine sees of a lease, with `expireTime` as it will be. */
  view(record: LeaseRecord, expireTime?: number): LeaseView;
}

/** A failure's message for logs and lease lookups; engines already scrubbed it of secrets. */
export function leaseErrorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return 'revocation failed';
}

export function createLeaseRevoker(options: LeaseRevokerOptions): LeaseRevoker {
  const { storage, clock, logger, lanes, maxAttempts, retryBaseMs, retryMaxMs } = options;

  const view = (record: LeaseRecord, expireTime = record.expireTime): LeaseView => ({
    id: record.id,
    internal: record.internal,
    issueTime: record.issueTime,
    expireTime,
  });

  const rewrite = async (before: LeaseRecord, after: LeaseRecord): Promise<void> => {
    const ops: WriteOp[] = [{ type: 'put', key: recordKey(after.id), value: jsonBytes(after) }];
    const oldDue = dueTimeFor(before);
    const newDue = dueTimeFor(after);
    if (oldDue !== undefined && oldDue !== newDue) ops.push({ type: 'delete', key: dueKey(oldDue, before.id) });
    if (newDue !== undefined && newDue !== oldDue) ops.push({ type: 'put', key: dueKey(newDue, after.id), value: Buffer.alloc(0) });
    if (after.revocation?.irrevocable && !before.revocation?.irrevocable) {
      ops.push({ type: 'put', key: irrevocableKey(after.id), value: Buffer.from(after.id) });
    }
    if (!after.revocation?.irrevocable && before.revocation?.irrevocable) ops.push({ type: 'delete', key: irrevocableKey(after.id) });
    await storage.batch(ops);
  };

  const remove = (record: LeaseRecord): Promise<void> => storage.batch(removalOps(record));

  /**
   * Deletes the lease of a secret that is revoked, without an fsync of its own (durability
   * 'deferred'): losing the deletion to a power cut only brings the lease back, and its
   * revocation then runs again at expiry and finds nothing left, which succeeds.
   */
  const removeRevoked = (record: LeaseRecord): Promise<void> => storage.batch(removalOps(record), { durability: 'deferred' });

  /** Deletes a lease with `removal` without the caller waiting; reads of it wait instead. */
  const removeLater = (record: LeaseRecord, removal: (record: LeaseRecord) => Promise<void>): void => {
    const deletion = removal(record).catch((error: unknown) => {
      // The record and its due entry stay, so the lease is revoked again when it expires.
      logger.error('could not delete a revoked lease; it will be revoked again at expiry', { lease: record.id, error: leaseErrorText(error) });
    });
    lanes.trackDeletion(record.id, deletion);
  };

  /** Revokes the secret through the engine that issued it; throws when that mount is gone. */
  const revokeSecret = async (record: LeaseRecord): Promise<void> => {
    const secretType = options.engineForMount(record.mountUuid)?.secretTypes?.[record.secretType];
    if (!secretType) throw new CofferError('internal', `no engine to revoke the lease with at ${record.mountPath}`);
    await secretType.revoke(view(record));
  };

  const backoff = (attempts: number): number => {
    const base = Math.min(retryMaxMs, retryBaseMs * 2 ** (attempts - 1));
    const jitter = base * 0.25 * (Math.random() * 2 - 1);
    return Math.max(1, Math.round(base + jitter));
  };

  return {
    view,
    rewrite,
    remove,

    async revokeUnstored(record) {
      try {
        await revokeSecret(record);
      } catch (error) {
        logger.error('could not revoke a secret whose lease failed to register', { path: record.path, error: leaseErrorText(error) });
      }
    },

    async attempt(record, force, earlyAck) {
      let failure: unknown;
      try {
        await revokeSecret(record);
      } catch (error) {
        failure = error;
      }
      if (failure === undefined || force) {
        if (failure !== undefined) logger.warn('lease force-revoked despite a failed revocation', { lease: record.id, error: leaseErrorText(failure) });
        // A forced removal after a failed revocation is the operator's decision, not a fact
        // about the secret (which may still exist): it is made durable like any other. So is the
        // removal of a lease marked irrevocable: one brought back would have no due time, and
        // nothing would ever revoke it again.
        const removal = failure === undefined && record.revocation?.irrevocable !== true ? removeRevoked : remove;
        if (earlyAck) removeLater(record, removal);
        else await removal(record);
        return undefined;
      }
      const attempts = (record.revocation?.attempts ?? 0) + 1;
      const irrevocable = attempts >= maxAttempts;
      const next: LeaseRecord = {
        ...record,
        revocation: { attempts, lastError: leaseErrorText(failure), irrevocable, nextAttemptAt: irrevocable ? 0 : clock.now() + backoff(attempts) },
      };
      await rewrite(record, next);
      if (!irrevocable) options.onRetryScheduled(next.revocation?.nextAttemptAt ?? 0);
      logger.warn(irrevocable ? 'lease marked irrevocable' : 'lease revocation failed; will retry', {
        lease: record.id,
        attempts,
        error: leaseErrorText(failure),
      });
      return failure;
    },
  };
}
