/**
 * The lease expiry worker: sleeps until the earliest entry of the due index (expiry or next
 * retry), then starts the revocation of every lease that is due, a page at a time, with a
 * bounded number of revocations in flight.
 *
 * Owns: the one timer, the one pass in progress, and the revocations it started. Nothing per
 * lease is held in memory beyond those in flight: the index in storage is the queue, so a
 * restart with a million leases reads one key to know when to wake. Revoking (and moving a
 * failed lease to its next retry time) is the lease manager's.
 * Must never: run two passes at once, wait for a slow revocation before looking at the index
 * again (a database that does not answer would hold back the expiry of every other lease until
 * its timeout), or sleep longer than MAX_SLEEP_MS (a clock change or a lease added by another
 * path is noticed within that bound).
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
  /** Revokes everything due now and waits for those revocations; returns how many due entries it handled. */
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
/**
 * While passes leave everything due behind (one role's database stopped answering, its leases
 * all waiting), each pass re-lists the whole due index: the pause between them doubles up to
 * this. A lease falling due meanwhile wakes the worker by itself (noteDue).
 */
const MAX_BUSY_RETRY_MS = 8_000;
/**
 * A revocation running this long is waiting on its target (a database that does not answer):
 * it stops counting against `concurrency`, so one dead database cannot fill the window and hold
 * back every other lease until its connect timeout (a storm of fast revocations never gets here).
 */
const SLOW_AFTER_MS = 2_000;
/** Slow revocations of one group (a lease's path: one role) after which its others wait. */
const SLOW_PER_GROUP = 8;
/**
 * In flight at most, slow ones included: `concurrency` times this. Each role whose database
 * stopped answering may hold up to `concurrency` (those that started before they were known
 * to be slow), so it takes this many such roles at once to hold back every other lease again.
 */
const CEILING_FACTOR = 16;

/** The group of a due entry: its lease id without the last segment, e.g. 'database/creds/app'. */
function groupOf(leaseId: string): string {
  return leaseId.slice(0, leaseId.lastIndexOf('/'));
}

export function createExpiryWorker(options: ExpiryWorkerOptions): ExpiryWorker {
  const { storage, clock, logger, concurrency } = options;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  // When the timer fires (clock time); Infinity when none is set.
  let wakeAt = Infinity;
  let pass: Promise<number> | undefined;
  // Revocations started and not yet settled (they never reject), with their group and start
  // time (real time, not `clock`: slowness is about waiting on a target, whatever a test's clock says).
  const inFlight = new Map<Promise<void>, { group: string; startedAt: number }>();

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
  let busyRetryMs = BUSY_RETRY_MS;

  // One timer shared by every wait for a slot (a storm waits a hundred thousand times): a
  // window full of revocations that never settle is looked at again this often.
  let looking: Promise<void> | undefined;
  const lookAgain = (): Promise<void> =>
    (looking ??= new Promise<void>((resolve) => {
      setTimeout(() => {
        looking = undefined;
        resolve();
      }, SLOW_AFTER_MS / 4).unref();
    }));

  /**
   * Starts one revocation (added to `started`) once fewer than `concurrency` recent ones are in
   * flight; returns false, starting nothing, when its group already has SLOW_PER_GROUP slow ones
   * (the entry is left for a later pass).
   */
  const start = async (child: string, started: Promise<void>[]): Promise<boolean> => {
    const group = groupOf(dueLeaseId(child));
    for (;;) {
      const now = performance.now();
      // The map keeps insertion order: its first attempt is the oldest still in flight. While
      // that one is recent, none is slow and the plain window applies (a storm of fast
      // revocations never counts anything).
      const oldest = inFlight.values().next();
      const oldestAge = oldest.done === true ? 0 : now - oldest.value.startedAt;
      if (oldestAge < SLOW_AFTER_MS) {
        if (inFlight.size < concurrency) break;
      } else {
        let recent = 0;
        let slowInGroup = 0;
        for (const attempt of inFlight.values()) {
          if (now - attempt.startedAt < SLOW_AFTER_MS) recent += 1;
          else if (attempt.group === group) slowInGroup += 1;
        }
        if (slowInGroup >= SLOW_PER_GROUP) return false;
        if (recent < concurrency && inFlight.size < concurrency * CEILING_FACTOR) break;
      }
      // Until one settles, or the next look at which have turned slow.
      await Promise.race([Promise.race(inFlight.keys()), lookAgain()]);
    }
    const attempt: Promise<void> = options.revokeDue(dueLeaseId(child), dueTimeOf(child))
      .catch((error: unknown) => {
        // The entry stays in the index, so a later pass tries again.
        logger.error('lease expiry failed', { lease: dueLeaseId(child), error: error instanceof Error ? error.message : 'unknown error' });
      })
      .finally(() => inFlight.delete(attempt));
    inFlight.set(attempt, { group, startedAt: performance.now() });
    started.push(attempt);
    return true;
  };

  /**
   * Starts the revocation of every due entry and returns without waiting for them to finish:
   * a sliding window rather than fixed chunks, so a slow revocation holds up neither the rest
   * of its page nor the next pass (which skips its lease, busy until it settles), and the
   * storage writes of many finished revocations share one group commit. `started` collects them.
   */
  const startDue = async (started: Promise<void>[]): Promise<number> => {
    let handled = 0;
    let after = '';
    leftBusy = false;
    for (;;) {
      const now = clock.now();
      const page = await storage.listPage(DUE_PREFIX, after, PAGE);
      const due = page.filter((child) => dueTimeOf(child) <= now);
      if (due.length === 0) return handled;
      for (const child of due) {
        // Busy: held by other work, or by a revocation still in flight from an earlier pass.
        if (options.busy?.(dueLeaseId(child)) === true) {
          leftBusy = true;
          continue;
        }
        if (!(await start(child, started))) {
          leftBusy = true;
          continue;
        }
        handled += 1;
      }
      // Started entries stay in the index until they settle (deleted, or moved to a later
      // retry), so the listing goes on after this page rather than from the head.
      after = due[due.length - 1] as string;
    }
  };

  const runDue = async (): Promise<number> => {
    const started: Promise<void>[] = [];
    const handled = await startDue(started);
    await Promise.all(started);
    return handled;
  };

  const tick = async (): Promise<void> => {
    if (!running || pass) return;
    pass = startDue([]);
    let handled = 0;
    try {
      handled = await pass;
    } catch (error) {
      logger.error('lease expiry pass failed', { error: error instanceof Error ? error.message : 'unknown error' });
    } finally {
      pass = undefined;
    }
    if (!running) return;
    try {
      const [next] = await storage.listPage(DUE_PREFIX, '', 1);
      const untilNext = next === undefined ? MAX_SLEEP_MS : dueTimeOf(next) - clock.now();
      busyRetryMs = leftBusy && handled === 0 ? Math.min(busyRetryMs * 2, MAX_BUSY_RETRY_MS) : BUSY_RETRY_MS;
      schedule(leftBusy ? Math.max(untilNext, busyRetryMs) : untilNext);
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
      await Promise.all(inFlight.keys());
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
