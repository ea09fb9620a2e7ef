/**
 * The webhook rotation state machine: drives one rotation through createSecret, setSecret,
 * testSecret, promote, verify and finishSecret (rotation-record.ts), writing the record before
 * each step's side effect.
 *
 * Failure rules, so that a working current credential exists at every moment:
 * - before promote (createSecret, setSecret, testSecret, or promote itself not taking effect):
 *   roll back: AWSPENDING is taken off the new version, AWSCURRENT never moved, the webhook is
 *   not asked to revoke anything;
 * - after promote: never roll back. A failed finishSecret is retried later (the old credential
 *   simply stays valid a little longer);
 * - the server stopping (seal, shutdown) or sealed storage is not a failure: the record stays
 *   at its phase and the rotation resumes after the next unseal. Every step is idempotent for
 *   one ClientRequestToken (the webhook contract), so repeating the one in flight is safe.
 *
 * Owns: one driver per secret at a time in this process, the abortable waits, and the schedule
 * fields a rotation changes (active, history, lastRotated, nextRun).
 * Must never: put a secret value in the record, a log line or an error; or revoke the old
 * credential before AWSCURRENT has moved and consumers were verified (or timed out under
 * on_timeout=revoke with the stragglers named in the audit log).
 */
import type { Clock } from '../core/clock.js';
import type { ConsumerRegistry } from '../core/consumers/consumer-registry.js';
import { CofferError, isCofferError } from '../core/errors.js';
import type { EventBus } from '../core/events/event-bus.js';
import { uuid } from '../core/ids.js';
import type { KeyedMutex } from '../core/keyed-mutex.js';
import type { Logger } from '../core/logger.js';
import { isFinal, newRotationRecord, type RotationPhase, type RotationRecord, type RotationTrigger } from './rotation-record.js';
import type { RotationIdentity } from './rotation-identity.js';
import { HISTORY_LIMIT, type RotatorStore, type Schedule } from './rotator-store.js';
import { compileRules, nextDue } from './schedule-rules.js';
import type { StagedAccess, StagedSecrets } from './staged-secrets.js';
import { classifyConsumers, namedInLogs, settledOutcome, verifyDeadline } from '../core/consumers/verification.js';
import { WebhookError, type RotationStep, type StepRequest, type WebhookCaller, type WebhookTarget } from './webhook.js';

export interface RotationRunnerDeps {
  store: RotatorStore;
  secrets: StagedSecrets;
  identity: RotationIdentity;
  webhook: WebhookCaller;
  consumers: Pick<ConsumerRegistry, 'list' | 'servingSince'> | undefined;
  events: Pick<EventBus, 'publish'> | undefined;
  clock: Clock;
  logger: Logger;
  /** Per-secret serialisation of schedule read-modify-write, shared with the endpoints. */
  locks: KeyedMutex;
  /**
   * Records a verify timeout in the audit log, naming the stragglers. Throws when that cannot be
   * recorded (audit fails closed): the rotation then waits and tries again.
   */
  auditTimeout(rotation: RotationRecord, onTimeout: 'revoke' | 'hold'): void;
  /** Real milliseconds between two looks at the consumers during verify. */
  pollMs: number;
  /** Milliseconds (of the Clock) before a failed rotation or finishSecret is tried again. */
  retryMs: number;
}

export interface RotationRunner {
  /**
   * Starts a rotation now; the schedule must exist and no other rotation of the secret may be
   * unfinished (conflict). Starting again with the id of an existing rotation returns it.
   */
  start(secret: string, options: { id?: string; trigger: RotationTrigger }): Promise<RotationRecord>;
  /** Continues a stored, unfinished rotation in the background, unless one is driving already. */
  resume(secret: string, id: string): void;
  isDriving(secret: string): boolean;
  /** Stops every driver at its next await; records stay where they are, to be resumed. */
  stop(): Promise<void>;
}

const INCOMPLETE = "A previous rotation isn't complete. That rotation will be reattempted.";

/** The one text a failure leaves in a record: safe by construction. */
export function safeError(error: unknown): string {
  if (error instanceof WebhookError) return error.message;
  if (isCofferError(error)) return error.code === 'internal' ? 'internal error' : `${error.code}${error.message ? `: ${error.message}` : ''}`;
  return 'internal error';
}

/** Errors that mean "come back later", not "this rotation failed". */
const isInterruption = (error: unknown, signal: AbortSignal): boolean =>
  signal.aborted || (isCofferError(error) && (error.code === 'sealed' || error.code === 'audit_failed'));

export function createRotationRunner(deps: RotationRunnerDeps): RotationRunner {
  const { store, secrets, identity, webhook, clock, logger } = deps;
  const driving = new Map<string, Promise<void>>();
  let abort = new AbortController();

  const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      timer.unref?.();
      signal.addEventListener('abort', done, { once: true });
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });

  const access = (r: RotationRecord, token: string): StagedAccess => ({ token, requestPrefix: `rotation:${r.id}` });

  const updateSchedule = (secret: string, change: (s: Schedule) => Schedule): Promise<Schedule | undefined> =>
    deps.locks.run(secret, async () => {
      const current = await store.getSchedule(secret);
      if (!current) return undefined;
      const next = change(current);
      await store.putSchedule(next);
      return next;
    });

  /** The schedule's next run after `since`; a failure pushes it at least `retryMs` out. */
  const nextRunOf = (s: Schedule, lastRotated: number | undefined, after?: number): number | undefined => {
    if (!s.enabled) return undefined;
    let due: number | undefined;
    try {
      due = nextDue(compileRules(s.rules), lastRotated, s.configuredAt);
    } catch (error) {
      logger.error('a stored rotation schedule cannot be read; it will not rotate on schedule until its rules are set again', {
        secret: s.secret, error: error instanceof Error ? error.message : String(error),
      });
      due = undefined;
    }
    if (due === undefined) return undefined;
    return after === undefined ? due : Math.max(due, after);
  };

  const save = async (r: RotationRecord): Promise<void> => {
    r.updatedAt = clock.now();
    await store.putRotation(r);
  };

  const finishRecord = async (r: RotationRecord, status: 'completed' | 'rolled_back'): Promise<void> => {
    r.status = status;
    r.finishedAt = clock.now();
    delete r.nextAttemptAt;
    await save(r);
    await updateSchedule(r.secret, (s) => {
      const { active, ...rest } = s;
      const next: Schedule = { ...rest, updatedAt: clock.now() };
      if (active !== undefined && active !== r.id) next.active = active;
      if (status === 'rolled_back') {
        // A failed rotation is tried again on schedule, but not in a tight loop.
        const retry = nextRunOf(s, s.lastRotated, clock.now() + deps.retryMs);
        if (retry === undefined) delete next.nextRun;
        else next.nextRun = retry;
      }
      return next;
    });
    logger.info(status === 'completed' ? 'rotation completed' : 'rotation rolled back', { secret: r.secret, rotation_id: r.id, ...(r.error ? { error: r.error } : {}) });
  };

  const begin = async (r: RotationRecord, phase: RotationPhase): Promise<void> => {
    const step = r.steps[phase];
    r.phase = phase;
    r.steps[phase] = { ...step, status: 'running', startedAt: step.startedAt ?? clock.now(), attempts: (step.attempts ?? 0) + 1 };
    await save(r);
  };

  const done = async (r: RotationRecord, phase: RotationPhase, next: RotationPhase | undefined): Promise<void> => {
    const step = r.steps[phase];
    const { error: _cleared, ...rest } = step;
    r.steps[phase] = { ...rest, status: 'done', finishedAt: clock.now() };
    if (next) r.phase = next;
    await save(r);
  };

  const rollBack = async (r: RotationRecord, error: unknown): Promise<void> => {
    const message = safeError(error);
    r.steps[r.phase] = { ...r.steps[r.phase], status: 'failed', finishedAt: clock.now(), error: message };
    r.error = message;
    await save(r);
    try {
      await identity.withToken(r.secret, r.rotator, (t) => secrets.dropPending(r.secret, access(r, t), r.id));
    } catch (dropError) {
      // The pending version stays labelled; the next rotation moves the label away from it.
      logger.warn('could not take AWSPENDING off a rolled-back version', { secret: r.secret, rotation_id: r.id, error: safeError(dropError) });
    }
    await finishRecord(r, 'rolled_back');
  };

  const targetOf = async (r: RotationRecord): Promise<{ target: WebhookTarget; schedule: Schedule }> => {
    const schedule = await store.getSchedule(r.secret);
    if (!schedule) throw new CofferError('not_found', 'the rotation schedule of this secret was deleted');
    const config = await store.getConfig(r.rotator);
    if (!config) throw new CofferError('not_found', `rotator ${r.rotator} is no longer configured`);
    return { schedule, target: { url: config.url, hmacKey: config.hmacKey, timeoutMs: config.timeoutSeconds * 1000 } };
  };

  type StepValues = Pick<StepRequest, 'currentValue' | 'pendingValue' | 'previousValue'>;
  const callStep = (target: WebhookTarget, step: RotationStep, r: RotationRecord, arn: string, values: StepValues, signal: AbortSignal) =>
    webhook.call(target, { ...values, step, secretId: arn, secretName: r.secret, clientRequestToken: r.id }, signal);

  /** createSecret, setSecret, testSecret: any failure rolls back. */
  const preparePhase = async (r: RotationRecord, phase: 'createSecret' | 'setSecret' | 'testSecret', signal: AbortSignal): Promise<'next' | 'stop'> => {
    try {
      await begin(r, phase);
      const { target, schedule } = await targetOf(r);
      await identity.withToken(r.secret, r.rotator, async (t) => {
        const snap = await secrets.snapshot(r.secret, access(r, t), schedule.region, r.id);
        if (phase === 'createSecret') {
          if (r.fromVersionId === undefined && snap.current && snap.current.id !== r.id) {
            r.fromVersionId = snap.current.id;
            r.fromKv = snap.current.kv;
          }
          if (snap.byId) {
            // Resumed after B was stored: the webhook already answered for this token.
            r.toKv = snap.byId.kv;
            return;
          }
          const value = await callStep(target, 'createSecret', r, snap.arn, { currentValue: snap.current?.value }, signal);
          if (!value) throw new WebhookError('createSecret', 'the rotator returned no value');
          r.toKv = (await secrets.putPending(r.secret, access(r, t), r.id, value)).kv;
          return;
        }
        if (!snap.byId?.value) throw new CofferError('not_found', 'the pending version of this rotation is gone');
        await callStep(target, phase, r, snap.arn, { currentValue: snap.current?.value, pendingValue: snap.byId.value }, signal);
      });
      await done(r, phase, phase === 'createSecret' ? 'setSecret' : phase === 'setSecret' ? 'testSecret' : 'promote');
      return 'next';
    } catch (error) {
      if (isInterruption(error, signal)) return 'stop';
      await rollBack(r, error);
      return 'stop';
    }
  };

  const promotePhase = async (r: RotationRecord, signal: AbortSignal): Promise<'next' | 'stop'> => {
    try {
      await begin(r, 'promote');
      const { schedule } = await targetOf(r);
      const now = clock.now();
      const nextRun = nextRunOf(schedule, now);
      await identity.withToken(r.secret, r.rotator, async (t) => {
        try {
          r.toKv = (await secrets.promote(r.secret, access(r, t), r.id, { lastRotated: now, nextRotation: nextRun ?? null })).kv;
        } catch (error) {
          // The label move is one record write: if AWSCURRENT is on B now, it took effect.
          const snap = await secrets.snapshot(r.secret, access(r, t), schedule.region).catch(() => undefined);
          if (snap?.current?.id !== r.id) throw error;
          r.toKv = snap.current.kv;
        }
      });
      // No next run (rotation on demand, or rules that no longer compute one): the past one must
      // go, or the scheduler would find it due again at every tick.
      await updateSchedule(r.secret, (s) => {
        const { nextRun: _past, ...rest } = s;
        return { ...rest, lastRotated: now, ...(nextRun === undefined ? {} : { nextRun }), updatedAt: now };
      });
      deps.events?.publish({ path: secrets.readPath(r.secret), version: r.toKv ?? null, event: 'rotate' });
      r.verifyDeadline = clock.now() + schedule.verifyTimeoutSeconds * 1000;
      await done(r, 'promote', 'verify');
      return 'next';
    } catch (error) {
      if (isInterruption(error, signal)) return 'stop';
      await rollBack(r, error);
      return 'stop';
    }
  };

  /** Waits for consumers; 'hold' ends here with status waiting, to be looked at again later. */
  const verifyPhase = async (r: RotationRecord, signal: AbortSignal): Promise<'next' | 'stop'> => {
    if (r.steps.verify.status !== 'running') await begin(r, 'verify');
    const schedule = await store.getSchedule(r.secret);
    const onTimeout = schedule?.onTimeout ?? 'revoke';
    const path = secrets.readPath(r.secret);
    const toVersion = r.toKv ?? Number.MAX_SAFE_INTEGER;
    for (;;) {
      if (signal.aborted) return 'stop';
      const list = deps.consumers ? await deps.consumers.list(path) : [];
      const standing = classifyConsumers(list, toVersion, r.confirmed);
      const changed = standing.confirmed.length !== r.confirmed.length || standing.pending.length !== r.stragglers.length;
      r.confirmed = standing.confirmed;
      r.stragglers = standing.pending;
      r.expired = standing.expired;
      if (standing.pending.length === 0) {
        if (r.verifyOutcome !== 'timeout_held') r.verifyOutcome = settledOutcome(standing);
        if (standing.expired.length > 0) {
          logger.warn('rotation finishes; consumers that stopped checking in never confirmed the new version', { secret: r.secret, rotation_id: r.id, expired: namedInLogs(standing.expired.map((s) => s.id)), expired_count: standing.expired.length });
        }
        r.status = 'running';
        await done(r, 'verify', 'finishSecret');
        return 'next';
      }
      if (clock.now() >= verifyDeadline(r.verifyDeadline ?? 0, r.steps.verify.startedAt, (schedule?.verifyTimeoutSeconds ?? 0) * 1000, list, toVersion, deps.consumers?.servingSince?.())) {
        // Held, and still to be held: look again later. A schedule changed to on_timeout=revoke
        // meanwhile releases it now, as a static role's does.
        if (r.status === 'waiting' && onTimeout === 'hold') {
          if (changed) await save(r);
          return 'stop';
        }
        r.status = 'running';
        // The audit log must name who still holds the old credential before anything happens.
        deps.auditTimeout(r, onTimeout);
        if (onTimeout === 'hold') {
          r.verifyOutcome = 'timeout_held';
          r.status = 'waiting';
          await save(r);
          logger.warn('rotation held: consumers did not switch before verify_timeout', { secret: r.secret, rotation_id: r.id, stragglers: namedInLogs(r.stragglers.map((s) => s.id)), stragglers_count: r.stragglers.length });
          return 'stop';
        }
        r.verifyOutcome = 'timeout_revoked';
        logger.warn('rotation revokes the old credential although consumers did not switch', { secret: r.secret, rotation_id: r.id, stragglers: namedInLogs(r.stragglers.map((s) => s.id)), stragglers_count: r.stragglers.length });
        await done(r, 'verify', 'finishSecret');
        return 'next';
      }
      if (changed) await save(r);
      await sleep(deps.pollMs, signal);
    }
  };

  const finishPhase = async (r: RotationRecord, signal: AbortSignal): Promise<'next' | 'stop'> => {
    if (r.nextAttemptAt !== undefined && clock.now() < r.nextAttemptAt) return 'stop';
    try {
      await begin(r, 'finishSecret');
      const { target, schedule } = await targetOf(r);
      await identity.withToken(r.secret, r.rotator, async (t) => {
        const mine = await secrets.snapshot(r.secret, access(r, t), schedule.region, r.id);
        const old = r.fromVersionId === undefined ? undefined : await secrets.snapshot(r.secret, access(r, t), schedule.region, r.fromVersionId);
        await callStep(target, 'finishSecret', r, mine.arn, { currentValue: mine.byId?.value, previousValue: old?.byId?.value }, signal);
      });
      delete r.error;
      await done(r, 'finishSecret', undefined);
      await finishRecord(r, 'completed');
      return 'stop';
    } catch (error) {
      if (isInterruption(error, signal)) return 'stop';
      // After promote there is no going back: the old credential stays valid until a retry works.
      const message = safeError(error);
      r.steps.finishSecret = { ...r.steps.finishSecret, status: 'failed', error: message };
      r.error = message;
      r.nextAttemptAt = clock.now() + deps.retryMs;
      await save(r);
      logger.warn('finishSecret failed; it will be retried', { secret: r.secret, rotation_id: r.id, error: message });
      return 'stop';
    }
  };

  const drive = async (secret: string, id: string, signal: AbortSignal): Promise<void> => {
    const r = await store.getRotation(secret, id);
    if (!r || isFinal(r)) return;
    for (let outcome: 'next' | 'stop' = 'next'; outcome === 'next' && !isFinal(r); ) {
      switch (r.phase) {
        case 'createSecret':
        case 'setSecret':
        case 'testSecret':
          outcome = await preparePhase(r, r.phase, signal);
          break;
        case 'promote':
          outcome = await promotePhase(r, signal);
          break;
        case 'verify':
          outcome = await verifyPhase(r, signal);
          break;
        case 'finishSecret':
          outcome = await finishPhase(r, signal);
          break;
      }
    }
  };

  const launch = (secret: string, id: string): void => {
    if (driving.has(secret)) return;
    const signal = abort.signal;
    const run = drive(secret, id, signal)
      .catch((error: unknown) => {
        if (!isInterruption(error, signal)) logger.error('rotation driver failed; it will be resumed', { secret, rotation_id: id, error: safeError(error) });
      })
      .finally(() => {
        if (driving.get(secret) === run) driving.delete(secret);
      });
    driving.set(secret, run);
  };

  return {
    start(secret, options) {
      return deps.locks.run(secret, async () => {
        const schedule = await store.getSchedule(secret);
        if (!schedule) throw new CofferError('not_found', 'no rotation is configured for this secret');
        const id = options.id ?? uuid();
        const existing = await store.getRotation(secret, id);
        if (existing) return existing;
        if (schedule.active !== undefined) {
          const active = await store.getRotation(secret, schedule.active);
          if (active && !isFinal(active)) throw new CofferError('conflict', INCOMPLETE);
        }
        const r = newRotationRecord({ id, secret, rotator: schedule.rotator, trigger: options.trigger, now: clock.now() });
        await store.putRotation(r);
        const history = [...schedule.history.filter((h) => h !== id), id];
        for (const old of history.splice(0, Math.max(0, history.length - HISTORY_LIMIT))) await store.deleteRotation(secret, old);
        await store.putSchedule({ ...schedule, active: id, history, updatedAt: clock.now() });
        launch(secret, id);
        return r;
      });
    },
    resume: launch,
    isDriving: (secret) => driving.has(secret),
    async stop() {
      abort.abort();
      await Promise.allSettled([...driving.values()]);
      abort = new AbortController();
    },
  };
}
