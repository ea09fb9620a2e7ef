/**
 * The lease expiry worker: sleeps until the earliest entry of the due index (expiry or next
 * retry), then revokes every lease that is due, a page at a time, with a bounded number of
 * revocations in flight.
 *
 * Owns: the one timer and the one pass in progress. Nothing per lease is held in memory: the
 * index in storage is the queue, so a restart with a million leases reads one key to know when
 * to wake. Revoking (and moving a failed lease to its next retry time) is the lease manager's.
 * Must never: run two passes at once, or sleep longer than MAX_SLEEP_MS (a clock change or a
 * lease added by another path is noticed within that bound).
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/storage.js';
import { DUE_PREFIX, dueLeaseId, dueTimeOf } from './lease-record.js';

export interface ExpiryWorkerOptions {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  /** Revocations run at once. */
  concurrency: number;
  /**
   * Handles the due entry (`dueAt`, `leaseId`): one revocation attempt if it is the lease's
   * current due entry; otherwise (no such lease, or the lease is now due at another time) the
   * entry is stale and must be deleted without touching the lease. Either way the entry is gone
   * or moved afterwards: a failed attempt moves it to the next retry time (or out, when
   * irrevocable).
   */
  revokeDue(leaseId: string, dueAt: number): Promise<void>;
  /**
   * True while other work holds the lease (a renewal waiting on its database, a creation). The
   * pass leaves such a lease for a later pass rather than wait behind it, so one slow database
   * call never delays the expiry of every other lease.
   */
  busy?(leaseId: string): boolean;
}

export interface ExpiryWorker {
  /** Starts watching the index (after unseal). */
  start(): void;
  /** Stops, and waits for the pass in progress (before seal). */
  stop(): Promise<void>;
  /** Revokes everything due now; returns how many due entries it handled. */
  runDue(): Promise<number>;
  /** A lease now falls due at `dueAt`: wakes earlier than planned if need be. */
  noteDue(dueAt: number): void;
  /** Looks at the index at once. */
  wakeNow(): void;
}

const PAGE = 256;
const MAX_SLEEP_MS = 60_000;
/** How soon a lease left behind because it was busy is looked at again. */
const BUSY_RETRY_MS = 1_000;

export function createExpiryWorker(options: ExpiryWorkerOptions): ExpiryWorker {
  const { storage, clock, logger, concurrency } = options;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  // When the timer fires (clock time); Infinity when none is set.
  let wakeAt = Infinity;
  let pass: Promise<number> | undefined;

  const schedule = (delayMs: number): void => {
    if (!running) return;
    if (timer) clearTimeout(timer);
    const delay = Math.max(0, Math.min(delayMs, MAX_SLEEP_MS));
    wakeAt = clock.now() + delay;
    timer = setTimeout(() => {
      timer = undefined;
      wakeAt = Infinity;
      void tick();
    }, delay);
    timer.unref();
  };

  // Set by a pass that left busy leases behind: the next one comes soon, not at their due time
  // (which has passed, and would make the worker spin while they stay busy).
  let leftBusy = false;

  const runDue = async (): Promise<number> => {
    let handled = 0;
    // Handled entries leave the head of the index (deleted, or moved to a later retry); busy
    // ones stay, so the listing resumes after the last busy entry seen.
    let after = '';
    leftBusy = false;
    for (;;) {
      const now = clock.now();
      const page = await storage.listPage(DUE_PREFIX, after, PAGE);
      const due = page.filter((child) => dueTimeOf(child) <= now);
      if (due.length === 0) return handled;
      const ready = due.filter((child) => options.busy?.(dueLeaseId(child)) !== true);
      if (ready.length < due.length) {
        leftBusy = true;
        after = due.filter((child) => !ready.includes(child)).reduce((a, b) => (a > b ? a : b), after);
      }
      // A sliding window rather than fixed chunks: a slow revocation does not hold up the rest,
      // and the storage writes of many finished revocations share one group commit.
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < ready.length) {
          const child = ready[next++] as string;
          await options.revokeDue(dueLeaseId(child), dueTimeOf(child));
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, ready.length) }, worker));
      // Entries that failed were moved to a later due time, so the next page makes progress.
      handled += ready.length;
    }
  };

  const tick = async (): Promise<void> => {
    if (!running || pass) return;
    pass = runDue();
    try {
      await pass;
    } catch (error) {
      logger.error('lease expiry pass failed', { error: error instanceof Error ? error.message : 'unknown error' });
    } finally {
      pass = undefined;
    }
    if (!running) return;
    try {
      const [next] = await storage.listPage(DUE_PREFIX, '', 1);
      const untilNext = next === undefined ? MAX_SLEEP_MS : dueTimeOf(next) - clock.now();
      schedule(leftBusy ? Math.max(untilNext, BUSY_RETRY_MS) : untilNext);
    } catch {
      schedule(1000);
    }
  };

  return {
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },

    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      wakeAt = Infinity;
      await pass?.catch(() => undefined);
    },

    runDue,

    noteDue(dueAt) {
      // A pass in progress plans the next one from the index when it ends.
      if (running && !pass && dueAt < wakeAt) schedule(dueAt - clock.now());
    },

    wakeNow() {
      schedule(0);
    },
  };
}
