/**
 * The rotators engine's one timer: every tick it starts the rotations whose schedule is due,
 * and resumes unfinished ones that nothing in this process is driving (after a restart or an
 * unseal, a held verify waiting for consumers, a finishSecret waiting to be retried).
 *
 * Time comes from the injected Clock; only the tick interval is real time, so tests move the
 * clock and wait for a tick instead of waiting out a schedule.
 * Must never: run two ticks at once, or let one bad schedule stop the others.
 */
import type { Clock } from '../core/clock.js';
import { isCofferError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isFinal } from './rotation-record.js';
import { safeError, type RotationRunner } from './rotation-runner.js';
import type { RotatorStore } from './rotator-store.js';

export interface RotationScheduler {
  start(): void;
  stop(): Promise<void>;
  /** One pass (exported for tests and for the first pass after start). */
  tick(): Promise<void>;
}

export interface RotationSchedulerDeps {
  store: RotatorStore;
  runner: RotationRunner;
  clock: Clock;
  logger: Logger;
  tickMs: number;
}

export function createRotationScheduler(deps: RotationSchedulerDeps): RotationScheduler {
  const { store, runner, clock, logger } = deps;
  let timer: ReturnType<typeof setInterval> | undefined;
  let ticking: Promise<void> | undefined;

  const visit = async (secret: string): Promise<void> => {
    if (runner.isDriving(secret)) return;
    const schedule = await store.getSchedule(secret);
    if (!schedule) return;
    const now = clock.now();
    if (schedule.active !== undefined) {
      const active = await store.getRotation(secret, schedule.active);
      if (active && !isFinal(active)) {
        if (active.status === 'waiting' || active.nextAttemptAt === undefined || active.nextAttemptAt <= now) runner.resume(secret, active.id);
        return;
      }
    }
    if (schedule.enabled && schedule.nextRun !== undefined && schedule.nextRun <= now) {
      await runner.start(secret, { trigger: 'schedule' });
    }
  };

  const pass = async (): Promise<void> => {
    let secrets: string[];
    try {
      secrets = await store.listSchedules();
    } catch (error) {
      if (!(isCofferError(error) && error.code === 'sealed')) logger.error('rotation scheduler could not list schedules', { error: safeError(error) });
      return;
    }
    for (const secret of secrets) {
      try {
        await visit(secret);
      } catch (error) {
        if (isCofferError(error) && error.code === 'sealed') return;
        logger.error('rotation scheduler could not start a rotation', { secret, error: safeError(error) });
      }
    }
  };

  const tick = (): Promise<void> => {
    ticking ??= pass().finally(() => {
      ticking = undefined;
    });
    return ticking;
  };

  return {
    start() {
      if (timer) return;
      timer = setInterval(() => void tick(), deps.tickMs);
      timer.unref?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await ticking;
    },
    tick,
  };
}
