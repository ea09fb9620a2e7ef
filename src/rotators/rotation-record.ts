/**
 * One webhook rotation, as stored: its id (the new version's id, the ClientRequestToken the
 * webhook sees), phase, status, the outcome of each step with timestamps, and which consumers
 * confirmed the switch. The runner writes it before each step's side effect, so a restart
 * resumes at the step that was in flight (every step is idempotent for one token).
 *
 * The phases, for current credential A and new credential B:
 *   createSecret  the webhook creates B at the service (A still works); B is stored as AWSPENDING
 *   setSecret     the webhook confirms B is set up
 *   testSecret    the webhook confirms B works
 *   promote       AWSCURRENT moves to B (A becomes AWSPREVIOUS); a `rotate` event is published
 *   verify        wait until every live consumer reports B's version, up to verify_timeout
 *   finishSecret  the webhook revokes A
 *
 * Must never: hold a secret value. Values live only in the secret's own versions.
 */

import type { ConsumerConfirmation as Confirmation, Straggler } from '../core/consumers/verification.js';

export type RotationPhase = 'createSecret' | 'setSecret' | 'testSecret' | 'promote' | 'verify' | 'finishSecret';
export const PHASES: readonly RotationPhase[] = ['createSecret', 'setSecret', 'testSecret', 'promote', 'verify', 'finishSecret'];

/** running: in progress or to be resumed; waiting: verify timed out under on_timeout=hold. */
export type RotationStatus = 'running' | 'waiting' | 'completed' | 'rolled_back';
export type RotationTrigger = 'aws' | 'api' | 'schedule';
export type StepStatus = 'pending' | 'running' | 'done' | 'failed';
export type VerifyOutcome = 'confirmed' | 'no_consumers' | 'consumers_expired' | 'timeout_revoked' | 'timeout_held';

export interface StepOutcome {
  status: StepStatus;
  startedAt?: number;
  finishedAt?: number;
  /** Safe text: step name and a general reason, never a value or an answer body. */
  error?: string;
  attempts?: number;
}

export type { ConsumerConfirmation as Confirmation, Straggler } from '../core/consumers/verification.js';

export interface RotationRecord {
  id: string;
  secret: string;
  rotator: string;
  trigger: RotationTrigger;
  phase: RotationPhase;
  status: RotationStatus;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  steps: Record<RotationPhase, StepOutcome>;
  /** The AWSCURRENT version being replaced (absent when the secret had no value). */
  fromVersionId?: string;
  fromKv?: number;
  /** B's KV version, known once createSecret has stored it. */
  toKv?: number;
  verifyDeadline?: number;
  confirmed: Confirmation[];
  stragglers: Straggler[];
  /** Consumers that stopped checking in before confirming. */
  expired: Straggler[];
  verifyOutcome?: VerifyOutcome;
  /** Why the rotation rolled back, or what the last failed finishSecret attempt said. */
  error?: string;
  /** A failed finishSecret is retried, not before this. */
  nextAttemptAt?: number;
}

export function newRotationRecord(input: { id: string; secret: string; rotator: string; trigger: RotationTrigger; now: number }): RotationRecord {
  const steps = Object.fromEntries(PHASES.map((p) => [p, { status: 'pending' }])) as Record<RotationPhase, StepOutcome>;
  return {
    id: input.id,
    secret: input.secret,
    rotator: input.rotator,
    trigger: input.trigger,
    phase: 'createSecret',
    status: 'running',
    startedAt: input.now,
    updatedAt: input.now,
    steps,
    confirmed: [],
    stragglers: [],
    expired: [],
  };
}

export const isFinal = (r: RotationRecord): boolean => r.status === 'completed' || r.status === 'rolled_back';

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** The Vault-API view of a rotation (snake_case, RFC 3339 times). */
export function rotationView(r: RotationRecord): Record<string, unknown> {
  return {
    rotation_id: r.id,
    version_id: r.id,
    secret: r.secret,
    rotator: r.rotator,
    trigger: r.trigger,
    phase: r.phase,
    status: r.status,
    started_at: iso(r.startedAt),
    updated_at: iso(r.updatedAt),
    finished_at: iso(r.finishedAt),
    from_version_id: r.fromVersionId ?? null,
    from_version: r.fromKv ?? null,
    to_version: r.toKv ?? null,
    steps: Object.fromEntries(
      PHASES.map((p) => {
        const s = r.steps[p];
        return [p, { status: s.status, started_at: iso(s.startedAt), finished_at: iso(s.finishedAt), ...(s.error ? { error: s.error } : {}), ...(s.attempts ? { attempts: s.attempts } : {}) }];
      }),
    ),
    verify_deadline: iso(r.verifyDeadline),
    verify_outcome: r.verifyOutcome ?? null,
    consumers_confirmed: r.confirmed.map((c) => ({ consumer_id: c.id, name: c.name, version: c.version, confirmed_at: iso(c.at) })),
    stragglers: r.stragglers.map((s) => ({ consumer_id: s.id, name: s.name, version: s.version, last_check_in: iso(s.lastCheckIn) })),
    expired_consumers: r.expired.map((s) => ({ consumer_id: s.id, name: s.name, version: s.version, last_check_in: iso(s.lastCheckIn) })),
    error: r.error ?? null,
  };
}
