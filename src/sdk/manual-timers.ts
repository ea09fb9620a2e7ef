/**
 * A hand-driven clock and timer queue for the SDK's unit tests: `advance(ms)` moves time on and
 * runs every timer that falls due, in order, letting promises settle in between, so renewal
 * schedules are tested without sleeping.
 *
 * Used only by tests; never imported by the SDK itself.
 */
import type { TimerApi } from './scheduler.js';

export interface ManualTimers extends TimerApi {
  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): Promise<void>;
  /** Lets pending promise callbacks run without moving time. */
  settle(): Promise<void>;
  /** Delays of the timers now pending, soonest first (relative to now). */
  pending(): number[];
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export function createManualTimers(start = 1_700_000_000_000): ManualTimers {
  let now = start;
  let seq = 0;
  const timers = new Map<number, Timer>();
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return {
    now: () => now,
    setTimeout(fn, ms) {
      seq += 1;
      timers.set(seq, { at: now + Math.max(0, ms), seq, fn });
      return seq;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    settle,
    pending: () => [...timers.values()].sort((a, b) => a.at - b.at || a.seq - b.seq).map((t) => t.at - now),
    async advance(ms) {
      const end = now + ms;
      await settle();
      for (;;) {
        const next = [...timers.values()].filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
        if (!next) break;
        timers.delete(next.seq);
        now = Math.max(now, next.at);
        next.fn();
        await settle();
      }
      now = end;
    },
  };
}
