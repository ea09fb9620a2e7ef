/**
 * A handle on a leased secret (a dynamic database credential, AWS keys...): it renews the
 * lease at about two thirds of its duration, and when renewal stops helping (the max TTL caps
 * it, or the server no longer knows the lease) it reads a fresh secret before the old one ends
 * and hands it to `onRotate`. A secret without a lease but with a `ttl` (a static role) is
 * re-read when that ttl has passed.
 *
 * Owns: the current secret, the leases it created (current and replaced-but-still-valid), one
 * background timer, and revoking those leases on close.
 * Must never: let two renewals or rotations of one handle run at once, or put the secret into
 * an error message.
 */
import { CofferBadRequestError, CofferClosedError, isDefinitive } from './errors.js';
import { createTimerSlot, renewDelay, type Scheduler } from './scheduler.js';
import { secretTtl } from './secret-value.js';
import type { Requester } from './token-manager.js';
import { asEnvelope, type Envelope } from './wire.js';

/** How soon a lease that came back with 0 s left is replaced. */
const ZERO_LEASE_RETRY_MS = 1000;

export interface LeaseInfo {
  leaseId: string;
  /** Seconds from now. */
  leaseDuration: number;
  renewable: boolean;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** Why a lease can no longer be extended. */
export type RenewalEndReason =
  /** The last renewal gave less than asked for: the lease's max TTL caps it. */
  | 'max_ttl'
  /** The lease was issued as not renewable. */
  | 'not_renewable'
  /** The server refused to renew it (revoked, expired, unknown). */
  | 'refused';

export interface LeasedSecretOptions<T> {
  /** After each successful renewal. */
  onRenew?: (info: LeaseInfo) => void;
  /**
   * Once per lease, when renewing can no longer extend it; it ends at `info.expiresAt` (already
   * past for 'refused'). With `rotate` a fresh secret follows; without, whoever uses the secret
   * is left with a credential that stops working then, and may want to say so.
   */
  onRenewalEnd?: (info: LeaseInfo & { reason: RenewalEndReason }) => void;
  /** After a fresh secret replaced the previous one (max TTL near, lease lost, re-login). */
  onRotate?: (next: T, previous: T) => void;
  /** Background failures (they are retried); never carries the secret. */
  onError?: (err: unknown) => void;
  /** Read a fresh secret before the lease ends for good (default true); false only renews. */
  rotate?: boolean;
}

export interface LeasedSecret<T> {
  /** The secret to use now. */
  readonly current: T;
  /** The current lease id ('' for a secret without a lease). */
  readonly leaseId: string;
  /** When the current lease ends unless renewed (undefined: no lease). */
  readonly expiresAt: Date | undefined;
  /** 1 for the first secret, one more for each fresh one. */
  readonly generation: number;
  /** Reads a fresh secret now (the old lease is kept until it ends or the handle closes). */
  refresh(): Promise<T>;
  /**
   * Reads a fresh secret now if the current lease has ended (an outage outlasted it), instead of
   * waiting for the handle's own retry; true when it did. For a caller that just saw the server
   * come back.
   */
  refreshIfExpired(): Promise<boolean>;
  /** Stops the background work and revokes every lease this handle created. */
  revoke(): Promise<void>;
  close(): Promise<void>;
}

export interface LeasedSecretDeps<T> {
  path: string;
  read(): Promise<Envelope<unknown>>;
  request: Requester;
  scheduler: Scheduler;
  toSecret(envelope: Envelope<unknown>): T;
  /** Where errors go when the options give no onError. */
  onError(err: unknown): void;
  /** An answer already read (by withRotation or `coffer run`), so the first read is not repeated. */
  initial?: Envelope<unknown>;
}

interface Held<T> {
  leaseId: string;
  secret: T;
  /** The TTL asked for at each renewal: the lease's first duration. */
  increment: number;
  renewable: boolean;
  /** Milliseconds since the epoch; 0 without a lease. */
  expiresAt: number;
  ttl: number | undefined;
}

export async function openLeasedSecret<T>(deps: LeasedSecretDeps<T>, options: LeasedSecretOptions<T> = {}): Promise<LeasedSecret<T>> {
  const { scheduler, request } = deps;
  const slot = createTimerSlot(scheduler);
  const rotate = options.rotate ?? true;
  const report = (err: unknown): void => (options.onError ?? deps.onError)(err);
  /** Replaced leases that are still valid: id → expiry. */
  const retired = new Map<string, number>();
  let closed = false;
  let generation = 1;
  let attempts = 0;
  let chain: Promise<unknown> = Promise.resolve();

  const hold = (envelope: Envelope<unknown>): Held<T> => ({
    leaseId: envelope.lease_id,
    secret: deps.toSecret(envelope),
    increment: envelope.lease_duration,
    renewable: envelope.renewable,
    expiresAt: envelope.lease_id !== '' && envelope.lease_duration > 0 ? scheduler.now() + envelope.lease_duration * 1000 : 0,
    ttl: secretTtl(envelope),
  });

  /** Runs background steps and refreshes one at a time. */
  const serial = <R>(fn: () => Promise<R>): Promise<R> => {
    const next = chain.then(fn);
    chain = next.catch(() => undefined);
    return next;
  };

  let held = hold(deps.initial ?? (await deps.read()));
  /** The lease whose renewal end was reported (once per lease). */
  let endReported = '';

  const renewalEnded = (reason: RenewalEndReason): void => {
    if (closed || held.leaseId === '' || endReported === held.leaseId) return;
    endReported = held.leaseId;
    try {
      options.onRenewalEnd?.({ leaseId: held.leaseId, leaseDuration: Math.max(0, Math.round((held.expiresAt - scheduler.now()) / 1000)), renewable: false, expiresAt: held.expiresAt, reason });
    } catch (err) {
      report(err);
    }
  };

  const plan = (durationSeconds: number, capped: boolean): void => {
    attempts = 0;
    if (closed) return;
    if (held.leaseId === '') {
      // A static role says when its password changes; read again just after.
      if (rotate && held.ttl !== undefined) slot.set(held.ttl * 1000 + 1000, () => serial(() => fresh(true)));
      return;
    }
    if (!held.renewable) renewalEnded('not_renewable');
    else if (capped) renewalEnded('max_ttl');
    if (durationSeconds <= 0) {
      // Nothing left of the lease (a renewal answered at its max TTL with 0 s): replace it now,
      // or nothing would ever be scheduled again. A second apart, so a server that keeps
      // answering 0 s is not asked in a tight loop.
      if (rotate) slot.set(ZERO_LEASE_RETRY_MS, () => serial(() => fresh(true)));
      else slot.clear();
      return;
    }
    const delay = renewDelay(durationSeconds * 1000);
    if (held.renewable && !capped) slot.set(delay, () => serial(renew));
    else if (rotate) slot.set(delay, () => serial(() => fresh(true)));
    else slot.clear();
  };

  const retry = (fn: () => Promise<void>): void => {
    attempts += 1;
    let delay = scheduler.backoff(attempts);
    // Before the lease runs out, a retry must come in time; after, the backoff stands.
    const left = held.expiresAt - scheduler.now();
    if (held.expiresAt > 0 && left > 0) delay = Math.min(delay, Math.max(250, left / 2));
    slot.set(delay, () => serial(fn));
  };

  /**
   * Makes a newly read answer the current secret. `keepOld` keeps the replaced lease (still
   * valid, maybe still in use by open connections) for close() to revoke. False when closed.
   */
  async function adopt(envelope: Envelope<unknown>, keepOld: boolean): Promise<boolean> {
    if (closed) {
      // close() ran while this read was in flight: its lease is ours to revoke.
      if (envelope.lease_id !== '') await revokeLease(envelope.lease_id).catch(() => undefined);
      return false;
    }
    const previous = held;
    held = hold(envelope);
    generation += 1;
    if (keepOld && previous.leaseId !== '' && previous.expiresAt > scheduler.now()) retired.set(previous.leaseId, previous.expiresAt);
    plan(envelope.lease_duration, false);
    try {
      options.onRotate?.(held.secret, previous.secret);
    } catch (err) {
      report(err);
    }
    return true;
  }

  async function fresh(keepOld: boolean): Promise<void> {
    if (closed) return;
    let envelope: Envelope<unknown>;
    try {
      envelope = await deps.read();
    } catch (err) {
      report(err);
      retry(() => fresh(keepOld));
      return;
    }
    await adopt(envelope, keepOld);
  }

  async function renew(): Promise<void> {
    if (closed) return;
    const id = held.leaseId;
    try {
      const res = await request('PUT', 'sys/leases/renew', { body: { lease_id: id, increment: held.increment } });
      if (held.leaseId !== id || closed) return;
      const envelope = asEnvelope(res.body);
      const duration = envelope.lease_duration;
      held.expiresAt = scheduler.now() + duration * 1000;
      held.renewable = envelope.renewable;
      try {
        options.onRenew?.({ leaseId: id, leaseDuration: duration, renewable: envelope.renewable, expiresAt: held.expiresAt });
      } catch (err) {
        report(err);
      }
      // Less than asked for: the max TTL caps the lease, so the next step is a fresh secret.
      plan(duration, duration < held.increment || !envelope.renewable);
    } catch (err) {
      if (held.leaseId !== id || closed) return;
      report(err);
      if (isDefinitive(err) || scheduler.now() >= held.expiresAt) {
        // The lease is gone (revoked, expired) or refuses renewal: only a fresh secret helps.
        renewalEnded('refused');
        if (rotate) await fresh(false);
        return;
      }
      retry(renew);
    }
  }

  async function revokeLease(id: string): Promise<void> {
    try {
      await request('PUT', 'sys/leases/revoke', { body: { lease_id: id } });
    } catch (err) {
      // Already revoked or expired: nothing left to do.
      if (!(err instanceof CofferBadRequestError)) throw err;
    }
  }

  plan(held.increment, false);

  const revokeAll = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    slot.clear();
    await chain;
    const now = scheduler.now();
    const ids = [held.leaseId, ...[...retired].filter(([, end]) => end > now).map(([id]) => id)].filter((id) => id !== '');
    retired.clear();
    const results = await Promise.allSettled(ids.map(revokeLease));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  return {
    get current() {
      return held.secret;
    },
    get leaseId() {
      return held.leaseId;
    },
    get expiresAt() {
      return held.expiresAt > 0 ? new Date(held.expiresAt) : undefined;
    },
    get generation() {
      return generation;
    },
    refresh() {
      if (closed) return Promise.reject(new CofferClosedError(`the handle for ${deps.path}`));
      return serial(async () => {
        if (!(await adopt(await deps.read(), true))) throw new CofferClosedError(`the handle for ${deps.path}`);
        return held.secret;
      });
    },
    refreshIfExpired() {
      if (closed) return Promise.resolve(false);
      return serial(async () => {
        // Checked inside the queue: a fresh read that was already running may have replaced it.
        if (closed || held.expiresAt === 0 || held.expiresAt > scheduler.now()) return false;
        // The old lease has ended: nothing of it to keep.
        return adopt(await deps.read(), false);
      });
    },
    revoke: revokeAll,
    close: revokeAll,
  };
}
