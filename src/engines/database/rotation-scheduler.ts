/**
 * The loop that rotates static roles on time and carries unfinished rotations on.
 *
 * Owns: an in-memory index of static roles (timing, last rotation, unfinished rotation, retry
 * time), built on start and refreshed after every change, and a tick that, for each role not
 * already in its lane: resumes an unfinished rotation (at once on start: that is the recovery
 * after a crash or a seal), re-checks a held one, or starts a rotation whose time has come.
 * Due-ness is judged on the engine's Clock, so tests move time; the tick itself is a real,
 * unref'd interval. A failed attempt is tried again after `retryDelayMs` of that Clock, doubled
 * after each further failure up to `maxRetryDelayMs`: a rotation that keeps failing (a bad
 * rotation statement, a refused ALTER USER) must not hit the database every 10 s for ever, as
 * each attempt of a one-user role may cost a failed login as the application's user (the check
 * whether the password took anyway), and failed logins can lock the account (MySQL's
 * FAILED_LOGIN_ATTEMPTS, MariaDB's max_password_errors). A write of the role starts over.
 * Must never: block unseal (recovery runs in the background), or keep running after stop().
 */
import type { EngineContext } from '../../core/router/engine.js';
import { ROTATION_DEFAULTS, type RotationOptions } from './rotation-hooks.js';
import { RotationStopped, type RotationMachine } from './rotation-machine.js';
import type { RotationRecord } from './rotation-record.js';
import { isRotationDue, type RotationTiming } from './static-schedule.js';
import type { StaticStore } from './static-store.js';

export interface RotationScheduler {
  /** Loads the index, resumes unfinished rotations in the background and starts the timer. */
  start(): Promise<void>;
  stop(): void;
  /** One pass; resolves when the work it started has ended (tests tick by hand). */
  tick(): Promise<void>;
  /**
   * Re-reads one role after a write, a delete or a rotation; `fresh` (an operator wrote the role
   * or asked for a rotation) also drops the failed-attempt backoff.
   */
  refresh(name: string, fresh?: boolean): Promise<void>;
}

interface Entry {
  timing: RotationTiming;
  lastRotation: number;
  hasCurrent: boolean;
  unfinished: 'running' | 'waiting' | null;
  retryAt: number;
  /** Failed attempts in a row; the next waits retryDelayMs × 2^(failures − 1), capped. */
  failures: number;
}

export function createRotationScheduler(deps: {
  ctx: Pick<EngineContext, 'clock' | 'logger'>;
  statics: StaticStore;
  machine: RotationMachine;
  options: () => RotationOptions;
  isStopped: () => boolean;
}): RotationScheduler {
  const { ctx, statics, machine } = deps;
  const index = new Map<string, Entry>();
  // Roles whose work (including the index refresh after it) is under way in this process.
  const active = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  /** `fresh`: the role was written, so a failed rotation is tried again at once, its backoff reset. */
  const refresh = async (name: string, fresh = false): Promise<void> => {
    const role = await statics.getRole(name);
    if (!role) {
      index.delete(name);
      return;
    }
    const account = await statics.getAccount(name);
    const status = account?.rotation?.status;
    index.set(name, {
      timing: role.timing,
      lastRotation: account?.lastRotation ?? 0,
      hasCurrent: Boolean(account?.current),
      unfinished: status === 'running' || status === 'waiting' ? status : null,
      retryAt: fresh ? 0 : index.get(name)?.retryAt ?? 0,
      failures: fresh ? 0 : index.get(name)?.failures ?? 0,
    });
  };

  const retryLater = (name: string): void => {
    const entry = index.get(name);
    if (!entry) return;
    const options = deps.options();
    const base = options.retryDelayMs ?? ROTATION_DEFAULTS.retryDelayMs;
    const cap = Math.max(base, options.maxRetryDelayMs ?? ROTATION_DEFAULTS.maxRetryDelayMs);
    entry.failures += 1;
    entry.retryAt = ctx.clock.now() + Math.min(cap, base * 2 ** Math.min(entry.failures - 1, 30));
  };

  const run = async (name: string, work: () => Promise<RotationRecord | undefined>): Promise<void> => {
    active.add(name);
    try {
      const outcome = await work();
      // A rotation whose revoke failed is still running; do not hammer the database.
      if (outcome?.status === 'running') retryLater(name);
      else if (outcome !== undefined) {
        const entry = index.get(name);
        if (entry) entry.failures = 0;
      }
    } catch (err) {
      if (err instanceof RotationStopped) return;
      // Messages from the machine are already free of passwords.
      ctx.logger.warn('static role rotation attempt failed; will retry', { role: name, error: err instanceof Error ? err.message : String(err) });
      retryLater(name);
    } finally {
      if (!deps.isStopped()) await refresh(name).catch(() => undefined);
      active.delete(name);
    }
  };

  /** A stored timing that no longer parses (validated on write, so only by corruption) is skipped, not fatal. */
  const dueSafely = (name: string, entry: Entry, now: number): boolean => {
    try {
      return isRotationDue(entry.timing, entry.lastRotation, now);
    } catch {
      ctx.logger.error('static role has an unreadable rotation schedule', { role: name });
      retryLater(name);
      return false;
    }
  };

  const tick = async (): Promise<void> => {
    if (deps.isStopped()) return;
    const now = ctx.clock.now();
    const started: Promise<void>[] = [];
    for (const [name, entry] of index) {
      if (active.has(name) || machine.isBusy(name) || now < entry.retryAt) continue;
      if (entry.unfinished !== null) {
        started.push(run(name, () => machine.resume(name)));
      } else if (!entry.hasCurrent || dueSafely(name, entry, now)) {
        // Judged again inside the lane on fresh state: an API rotation may have just run.
        started.push(run(name, () => machine.rotateIfDue(name, (role, account) =>
          !account.current || isRotationDue(role.timing, account.lastRotation, ctx.clock.now()))));
      }
    }
    await Promise.all(started);
  };

  /** A tick from the timer: nothing it meets may become an unhandled rejection. */
  const safeTick = (): void => {
    tick().catch((err: unknown) => ctx.logger.warn('static role scheduler pass failed', { error: err instanceof Error ? err.message : String(err) }));
  };

  return {
    async start() {
      index.clear();
      for (const name of await statics.listRoles()) {
        // One unreadable role must not keep the others (or the mount) from working.
        await refresh(name).catch((err: unknown) => ctx.logger.error('cannot load static role for rotation', { role: name, error: err instanceof Error ? err.message : String(err) }));
      }
      // Recovery first, without holding up unseal.
      safeTick();
      const every = deps.options().tickIntervalMs ?? ROTATION_DEFAULTS.tickIntervalMs;
      if (every > 0) {
        timer = setInterval(safeTick, every);
        timer.unref();
      }
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    tick,
    refresh,
  };
}
