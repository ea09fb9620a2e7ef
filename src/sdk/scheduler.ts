/**
 * Timers for the SDK's background work (token and lease renewal, heartbeats, reconnects), all
 * tracked so that `close()` can stop every one of them, and unref'd so that they never keep a
 * process alive on their own.
 *
 * Owns: the clock the background work reads and the retry backoff.
 * Must never: run a callback after stop(), or let a callback's rejection escape as an unhandled
 * rejection (it goes to the onError the owner gave).
 */

export interface Scheduler {
  now(): number;
  /** How long to wait before the next try after `failures` (1, 2, ...) consecutive failures. */
  backoff(failures: number): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. Does nothing once stopped. */
  after(ms: number, fn: () => unknown): () => void;
  /** Cancels every pending timer; later `after` calls are ignored. */
  stop(): void;
  readonly stopped: boolean;
}

export interface TimerApi {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: TimerApi = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

// setTimeout stores its delay as a signed 32-bit integer; longer delays fire at once.
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The backoff of every background retry: the first after `initialMs`, doubling, capped at
 * `maxMs` (with jitter). An application or the agent that promises its operators a backoff
 * passes it here, so that renewals, re-logins, heartbeats and reconnects all follow it.
 */
export interface RetryBackoff {
  initialMs: number;
  maxMs: number;
}

/**
 * `retry` sets the backoff of background retries; without it they wait 2 s, 4 s ... up to 30 s
 * (a watch's reconnects have their own, quicker default).
 */
export function createScheduler(onError: (err: unknown) => void, timers: TimerApi = REAL_TIMERS, retry?: RetryBackoff): Scheduler {
  const pending = new Set<unknown>();
  let stopped = false;
  return {
    now: () => timers.now(),
    backoff: (failures) => (retry === undefined ? backoffDelay(failures) : cappedBackoff(failures, retry)),
    get stopped() {
      return stopped;
    },
    after(ms, fn) {
      if (stopped) return () => undefined;
      const delay = Math.min(Math.max(0, Math.round(ms)), MAX_DELAY_MS);
      const handle = timers.setTimeout(() => {
        pending.delete(handle);
        if (stopped) return;
        try {
          Promise.resolve(fn()).catch(onError);
        } catch (err) {
          onError(err);
        }
      }, delay);
      pending.add(handle);
      return () => {
        if (pending.delete(handle)) timers.clearTimeout(handle);
      };
    },
    stop() {
      stopped = true;
      for (const handle of pending) timers.clearTimeout(handle);
      pending.clear();
    },
  };
}

/** One pending timer at a time: setting it again replaces the previous one. */
export interface TimerSlot {
  set(ms: number, fn: () => unknown): void;
  clear(): void;
}

export function createTimerSlot(scheduler: Scheduler): TimerSlot {
  let cancel: (() => void) | undefined;
  return {
    set(ms, fn) {
      cancel?.();
      cancel = scheduler.after(ms, () => {
        cancel = undefined;
        return fn();
      });
    },
    clear() {
      cancel?.();
      cancel = undefined;
    },
  };
}

/**
 * When to act on something that lasts `durationMs` from now: about two thirds in, with a little
 * jitter (60–70 %) so that many clients started together do not renew in lockstep.
 */
export function renewDelay(durationMs: number, random: () => number = Math.random): number {
  return durationMs * (0.6 + 0.1 * random());
}

/** Exponential backoff with ±20 % jitter: 1 s, 2 s, 4 s ... capped at `maxMs`. */
export function backoffDelay(attempt: number, baseMs = 1000, maxMs = 30_000, random: () => number = Math.random): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return raw * (0.8 + 0.4 * random());
}

/** `initialMs` after the first failure, doubling after each further one, capped at `maxMs`; ±20 % jitter. */
export function cappedBackoff(failures: number, retry: RetryBackoff, random: () => number = Math.random): number {
  const raw = Math.min(retry.maxMs, retry.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(raw * (0.8 + 0.4 * random()));
}
