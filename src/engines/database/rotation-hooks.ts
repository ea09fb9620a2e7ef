/**
 * Tuning and test hooks of static-role rotation.
 *
 * `RotationOptions` is what `createDatabaseEngine(ctx, { rotation })` accepts. Production code
 * (main.ts) passes none of it; the defaults are the production values.
 *
 * `pauseAt` lets a test stop a rotation at a precise point, to crash the server there: it is
 * awaited right before a step's side effect ('before', the step's intent is already stored) and
 * right after it ('after', its outcome not yet stored). Whole-server tests cannot reach the
 * engine's options through main.ts, so `setRotationTestOptions` installs options for every
 * database engine of this process that was built without its own. It is for tests only: nothing
 * in src/ calls it, and nothing reachable from the API or the environment can.
 */
import type { RotationPhase } from './rotation-record.js';

export interface PausePoint {
  readonly mount: string;
  readonly role: string;
  readonly rotationId: string;
  readonly phase: RotationPhase;
  readonly when: 'before' | 'after';
}

export interface RotationOptions {
  /** Awaited at every pause point; off (undefined) by default. */
  pauseAt?: (point: PausePoint) => Promise<void> | void;
  /** How often the scheduler looks for due rotations and unfinished ones (real ms). Default 1000; 0 = never (tests tick by hand). */
  tickIntervalMs?: number;
  /** First and longest wait between two looks at the consumers during verify (real ms). */
  verifyPollMinMs?: number;
  verifyPollMaxMs?: number;
  /**
   * How long after a failed attempt the scheduler tries a rotation (or an unfinished step) again
   * (ms of ctx.clock); doubled after each further failure up to `maxRetryDelayMs`.
   */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** The wait between polls; tests may inject one. Default: a real, unref'd timer. */
  sleep?: (ms: number) => Promise<void>;
}

export const ROTATION_DEFAULTS = {
  tickIntervalMs: 1000,
  verifyPollMinMs: 10,
  verifyPollMaxMs: 250,
  retryDelayMs: 10_000,
  maxRetryDelayMs: 3_600_000,
} as const;

let processOptions: RotationOptions | undefined;

/** Test-only: options for database engines built without `rotation` options. Pass undefined to clear. */
export function setRotationTestOptions(options: RotationOptions | undefined): void {
  processOptions = options;
}

/** The options in force: the engine's own, else the test options of the process, read at each use. */
export function currentRotationOptions(own: RotationOptions | undefined): RotationOptions {
  return own ?? processOptions ?? {};
}

export const realSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref?.();
  });
