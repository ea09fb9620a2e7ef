/**
 * One rotation of a static role, as stored: its id, phase, timestamps, the outcome of each step,
 * and who confirmed the switch. The state machine (rotation-machine.ts) writes it before each
 * step's side effect; `rotations/:name` shows it through `rotationView`.
 *
 * The five steps of the dual-credential pattern, for current user A (version N) and standby B:
 *   set_password  give B a new password (B is not current; nobody may use it)
 *   activate      make B current (version N+1), keep A readable as `previous`
 *   notify        publish a `rotate` event for <mount>static-creds/<name>
 *   verify        wait until every live consumer reports version >= N+1, up to verify_timeout
 *   revoke        give A a random password nobody keeps, so the old credential stops working
 * Single-user mode runs set_password (on the current user itself), activate and notify only.
 *
 * Must never: put a password into a view, a history entry or a log line. `pendingPassword` is
 * the only secret here; it is dropped from the record once activate has stored it as current.
 */

import type { ConsumerConfirmation, Straggler } from '../../core/consumers/verification.js';

export type RotationPhase = 'set_password' | 'activate' | 'notify' | 'verify' | 'revoke';
export const PHASES: readonly RotationPhase[] = ['set_password', 'activate', 'notify', 'verify', 'revoke'];

/** running: steps in progress (or to be resumed); waiting: verify timed out under on_timeout=hold. */
export type RotationStatus = 'running' | 'waiting' | 'completed' | 'rolled_back';
export type RotationTrigger = 'import' | 'api' | 'schedule';
export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StepOutcome {
  status: StepStatus;
  startedAt?: number;
  finishedAt?: number;
  /** A database or storage error, already scrubbed of every password. */
  error?: string;
  attempts?: number;
}

export type { ConsumerConfirmation, Straggler } from '../../core/consumers/verification.js';

export interface RotationRecord {
  id: string;
  trigger: RotationTrigger;
  mode: 'dual' | 'single';
  phase: RotationPhase;
  status: RotationStatus;
  /** The credential being replaced (0 / '' for an import, which replaces nothing). */
  fromVersion: number;
  fromUsername: string;
  toVersion: number;
  toUsername: string;
  /** Secret: the password step 1 sets; present only until activate. */
  pendingPassword?: string;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  steps: Record<RotationPhase, StepOutcome>;
  verifyDeadline?: number;
  confirmed: ConsumerConfirmation[];
  stragglers: Straggler[];
  /** Consumers that were waited for and stopped checking in (expired) before confirming. */
  expired: Straggler[];
  /** Why the rotation rolled back, or what the last failed attempt said. */
  error?: string;
  /** How the verify step ended: all confirmed, no consumers, timed out and revoked, held. */
  verifyOutcome?: 'confirmed' | 'no_consumers' | 'consumers_expired' | 'timeout_revoked' | 'timeout_held' | 'not_needed';
}

export function newRotationRecord(input: {
  id: string;
  trigger: RotationTrigger;
  mode: 'dual' | 'single';
  from: { username: string; version: number };
  to: { username: string; version: number };
  pendingPassword: string;
  now: number;
}): RotationRecord {
  const steps = Object.fromEntries(PHASES.map((p) => [p, { status: 'pending' }])) as Record<RotationPhase, StepOutcome>;
  return {
    id: input.id,
    trigger: input.trigger,
    mode: input.mode,
    phase: 'set_password',
    status: 'running',
    fromVersion: input.from.version,
    fromUsername: input.from.username,
    toVersion: input.to.version,
    toUsername: input.to.username,
    pendingPassword: input.pendingPassword,
    startedAt: input.now,
    updatedAt: input.now,
    steps,
    confirmed: [],
    stragglers: [],
    expired: [],
  };
}

/** The record without its secret, as history keeps it. */
export function withoutSecret(record: RotationRecord): RotationRecord {
  const copy = { ...record };
  delete copy.pendingPassword;
  return copy;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

function stepView(step: StepOutcome): Record<string, unknown> {
  return {
    status: step.status,
    started_at: iso(step.startedAt),
    finished_at: iso(step.finishedAt),
    ...(step.error === undefined ? {} : { error: step.error }),
    ...(step.attempts === undefined ? {} : { attempts: step.attempts }),
  };
}

const stragglerView = (s: Straggler): Record<string, unknown> => ({
  consumer_id: s.id, name: s.name, version: s.version, last_check_in: iso(s.lastCheckIn),
});

/** What `rotations/:name` and the CLI show of a record: everything but the password. */
export function rotationView(record: RotationRecord): Record<string, unknown> {
  return {
    id: record.id,
    trigger: record.trigger,
    mode: record.mode,
    status: record.status,
    phase: record.phase,
    from_version: record.fromVersion,
    from_username: record.fromUsername,
    to_version: record.toVersion,
    to_username: record.toUsername,
    started_at: iso(record.startedAt),
    updated_at: iso(record.updatedAt),
    finished_at: iso(record.finishedAt),
    steps: Object.fromEntries(PHASES.map((p) => [p, stepView(record.steps[p])])),
    verify_deadline: iso(record.verifyDeadline),
    verify_outcome: record.verifyOutcome ?? null,
    confirmed: record.confirmed.map((c) => ({ consumer_id: c.id, name: c.name, version: c.version, confirmed_at: iso(c.at) })),
    stragglers: record.stragglers.map(stragglerView),
    expired: record.expired.map(stragglerView),
    ...(record.error === undefined ? {} : { error: record.error }),
  };
}
