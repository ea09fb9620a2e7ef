/**
 * Rotation of a static role as a durable state machine (see rotation-record.ts for the steps).
 *
 * Owns: the order of writes and side effects. Each step first stores its intent (phase, step
 * running, attempt count) in the role's account key, then runs its side effect, and its outcome
 * is stored with the next step's intent. So at any crash the stored phase names the step whose
 * side effect may or may not have happened, and every step is safe to run again:
 *   set_password  re-sets the same stored password on the standby user (never current)
 *   activate      is itself one atomic write; skipped if the new version is already current
 *   notify        publishes again (watchers re-read; a duplicate event is harmless)
 *   verify        waits on until the stored deadline (consumer check-ins are durable)
 *   revoke        sets another random password on the old user
 * A failure in set_password rolls the rotation back (the current credential never changed);
 * after activate there is no going back, so a failed revoke is retried until it succeeds, and
 * the new credential is current meanwhile. Never, at any point, is the role without a working
 * current credential: the one static-creds returns is changed only by activate, and only to a
 * password the database already accepted.
 *
 * Between rotations the standby user of a dual-mode role has a random password nobody keeps
 * (the same for PostgreSQL, MySQL/MariaDB and Redis, through each plugin's setPassword), so it
 * cannot log in until a rotation makes it current; revoke does this to the replaced user.
 * Single-user mode (no alternate_username) re-keys the one user in place, as Vault does: set
 * and activate are two steps, and clients still holding the old password fail until they
 * re-read. That gap is what dual mode exists to close.
 *
 * Must never: run two rotations of one role at once (one lane per role), write after the engine
 * stopped (a stopped engine's rotation halts where it is and the next start resumes it), or let
 * a password reach a log line, an error or a stored history entry.
 */
import { CofferError, badRequest } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import type { EngineContext } from '../../core/router/engine.js';
import type { DatabaseStore } from './config-store.js';
import type { Connections } from './connections.js';
import { realSleep, ROTATION_DEFAULTS, type RotationOptions } from './rotation-hooks.js';
import { planRotation } from './rotation-plan.js';
import { withoutSecret, type RotationPhase, type RotationRecord, type RotationTrigger } from './rotation-record.js';
import { createRoleLanes } from './role-lanes.js';
import { waitForConsumers, type ConsumerSnapshot } from './rotation-verify.js';
import { namedInLogs, settledOutcome } from '../../core/consumers/verification.js';
import { createStaticPasswords, failureText } from './static-passwords.js';
import type { StaticAccount, StaticRole, StaticStore } from './static-store.js';

/** Thrown inside a rotation when the engine stopped; the rotation stays where storage says. */
export class RotationStopped extends Error {
  constructor() {
    super('the database engine stopped');
    this.name = 'RotationStopped';
  }
}

export interface RotationMachineDeps {
  ctx: Pick<EngineContext, 'clock' | 'logger' | 'events' | 'consumers' | 'mount' | 'audit'>;
  statics: StaticStore;
  configs: Pick<DatabaseStore, 'getConfig'>;
  connections: Pick<Connections, 'use' | 'open'>;
  /** Read at each use, so test options installed later apply. */
  options: () => RotationOptions;
  isStopped: () => boolean;
}

export interface RotationMachine {
  /**
   * Finishes any unfinished rotation of `name`, then runs a new one. Resolves with the record as
   * it ended: completed, waiting (held for consumers), or running (revoke failed; retried later).
   * Rejects when step 1 failed (the rotation rolled back) or the previous rotation is held.
   */
  rotate(name: string, trigger: RotationTrigger): Promise<RotationRecord>;
  /**
   * The scheduler's form: inside the lane, on freshly read state, rotates only if `due` still
   * says so (another rotation may have just finished); undefined when it did not.
   */
  rotateIfDue(name: string, due: (role: StaticRole, account: StaticAccount) => boolean): Promise<RotationRecord | undefined>;
  /** Drives an unfinished rotation on (a held one is re-checked once); undefined when none. */
  resume(name: string): Promise<RotationRecord | undefined>;
  /** Runs `work` in the role's lane, after any rotation of it (role updates and deletes). */
  exclusive<T>(name: string, work: () => Promise<T>): Promise<T>;
  isBusy(name: string): boolean;
  /** The static-creds path consumers register for. */
  credentialPath(name: string): string;
}

interface Run {
  readonly name: string;
  readonly role: StaticRole;
  account: StaticAccount;
}

type StepResult = 'next' | 'halt';

/** Thrown by revoke when the database refused; the record already says so. */
class RevokePending extends Error {}

export function createRotationMachine(deps: RotationMachineDeps): RotationMachine {
  const { ctx, statics } = deps;
  const passwords = createStaticPasswords(deps);
  const lanes = createRoleLanes();
  const now = (): number => ctx.clock.now();
  const credentialPath = (name: string): string => `${ctx.mount.path}static-creds/${name}`;

  const guard = (): void => {
    if (deps.isStopped()) throw new RotationStopped();
  };

  const exclusive = <T>(name: string, work: () => Promise<T>): Promise<T> => lanes.run(name, work);

  const record = (run: Run): RotationRecord => {
    const r = run.account.rotation;
    if (!r) throw new CofferError('internal', 'rotation record missing');
    return r;
  };

  const save = async (run: Run): Promise<void> => {
    guard();
    record(run).updatedAt = now();
    await deps.statics.putAccount(run.name, run.account);
  };

  const pause = async (run: Run, phase: RotationPhase, when: 'before' | 'after'): Promise<void> => {
    const hook = deps.options().pauseAt;
    if (!hook) return;
    await hook({ mount: ctx.mount.path, role: run.name, rotationId: record(run).id, phase, when });
    guard();
  };

  /** Stores the intent of `phase` (with the previous step's outcome), then pauses if asked. */
  const begin = async (run: Run, phase: RotationPhase): Promise<void> => {
    const r = record(run);
    const step = r.steps[phase];
    r.phase = phase;
    r.steps[phase] = { ...step, status: 'running', startedAt: step.startedAt ?? now(), attempts: (step.attempts ?? 0) + 1 };
    if (phase === 'verify') r.verifyDeadline ??= now() + run.role.policy.verifyTimeout * 1000;
    // From here on the old credential is on its way out: it is no longer handed to readers.
    if (phase === 'revoke') run.account.previous = null;
    await save(run);
    await pause(run, phase, 'before');
  };

  const done = (run: Run, phase: RotationPhase, status: 'done' | 'skipped' = 'done'): void => {
    const r = record(run);
    const { error: _dropped, ...rest } = r.steps[phase];
    r.steps[phase] = { ...rest, status, finishedAt: now() };
  };

  const finish = async (run: Run, status: 'completed' | 'rolled_back'): Promise<RotationRecord> => {
    const r = record(run);
    r.status = status;
    r.finishedAt = now();
    r.updatedAt = r.finishedAt;
    const finished = withoutSecret(r);
    run.account = { ...run.account, rotation: null };
    guard();
    await statics.finishRotation(run.name, run.account, finished);
    return finished;
  };

  /**
   * After a failed set_password of the user readers get (one-user mode, or the import that
   * first sets a role's password): did the database take the new password all the same? A
   * failure does not prove it did not: MySQL commits ALTER USER at once, so a later statement
   * of rotation_statements can fail after it, and a reply can be lost after the change. Rolling
   * back then would hand readers a password the database no longer takes. A standby user of a
   * two-user role is in nobody's hands: its rollback loses nothing.
   */
  const appliedAnyway = async (run: Run, password: string): Promise<boolean> => {
    const r = record(run);
    if (r.mode !== 'single' && r.fromVersion > 0) return false;
    const applied = await passwords.takes(run.role, r.toUsername, password).catch(() => false);
    guard();
    return applied;
  };

  const stepSetPassword = async (run: Run): Promise<StepResult> => {
    await begin(run, 'set_password');
    const r = record(run);
    const password = r.pendingPassword;
    try {
      if (password === undefined) throw new CofferError('internal', 'the new password was not stored');
      await passwords.set(run.role, r.toUsername, password);
    } catch (err) {
      guard();
      if (password !== undefined && (await appliedAnyway(run, password))) {
        // Readers must get the password the database now takes, or nobody would know it.
        ctx.logger.warn('a static role rotation statement failed after the new password took effect; the rotation goes on with it', {
          role: run.name, rotation_id: r.id, error: failureText(err, [password]),
        });
        await pause(run, 'set_password', 'after');
        done(run, 'set_password');
        return 'next';
      }
      // Nothing changed for readers: the current credential is the one before this rotation.
      const text = failureText(err, password === undefined ? [] : [password]);
      r.steps.set_password = { ...r.steps.set_password, status: 'failed', finishedAt: now(), error: text };
      r.error = text;
      const finished = await finish(run, 'rolled_back');
      ctx.logger.warn('static role rotation rolled back', { role: run.name, rotation_id: finished.id, error: text });
      throw err;
    }
    await pause(run, 'set_password', 'after');
    done(run, 'set_password');
    return 'next';
  };

  const stepActivate = async (run: Run): Promise<StepResult> => {
    await begin(run, 'activate');
    const r = record(run);
    const current = run.account.current;
    if (current?.version !== r.toVersion) {
      if (r.pendingPassword === undefined) throw new CofferError('internal', 'the new password was not stored');
      run.account.current = { username: r.toUsername, password: r.pendingPassword, version: r.toVersion };
      // Dual mode keeps the replaced credential readable (and working) until revoke.
      run.account.previous = r.mode === 'dual' && current && r.fromVersion > 0 ? current : null;
      run.account.lastRotation = now();
    }
    delete r.pendingPassword;
    done(run, 'activate');
    // The side effect: swap and record in one atomic write.
    await save(run);
    await pause(run, 'activate', 'after');
    return 'next';
  };

  const stepNotify = async (run: Run): Promise<StepResult> => {
    await begin(run, 'notify');
    const r = record(run);
    ctx.events?.publish({ path: credentialPath(run.name), version: r.toVersion, event: 'rotate' });
    await pause(run, 'notify', 'after');
    done(run, 'notify');
    return 'next';
  };

  const applySnapshot = (run: Run, snapshot: ConsumerSnapshot): void => {
    const r = record(run);
    r.confirmed = snapshot.confirmed;
    r.stragglers = snapshot.pending;
    r.expired = snapshot.expired;
  };

  const waitDeps = () => {
    const options = deps.options();
    return {
      deps: { consumers: ctx.consumers, clock: ctx.clock, sleep: options.sleep ?? realSleep, guard },
      minPollMs: options.verifyPollMinMs ?? ROTATION_DEFAULTS.verifyPollMinMs,
      maxPollMs: options.verifyPollMaxMs ?? ROTATION_DEFAULTS.verifyPollMaxMs,
    };
  };

  /** The verify outcome once every live consumer confirmed; then revoke runs. */
  const verified = (run: Run, snapshot: ConsumerSnapshot): void => {
    const r = record(run);
    applySnapshot(run, snapshot);
    r.stragglers = [];
    r.verifyOutcome = settledOutcome(snapshot);
    if (snapshot.expired.length > 0) {
      ctx.logger.warn('static role rotation revokes the previous credential; consumers that stopped checking in never confirmed the new one', {
        role: run.name, rotation_id: r.id, version: r.toVersion, expired: namedInLogs(snapshot.expired.map((s) => s.id)), expired_count: snapshot.expired.length,
      });
    }
  };

  /** on_timeout=revoke with stragglers: recorded, and logged by id (an audit hook would go here). */
  const revokingAnyway = (run: Run, stragglers: string[]): void => {
    const r = record(run);
    try {
      // The audit log names who will lose the credential they still use; if that cannot be
      // recorded (audit fails closed), the rotation waits and retries rather than revoke silently.
      ctx.audit?.record({
        path: credentialPath(run.name),
        operation: 'rotate',
        data: { rotation_id: r.id, outcome: 'timeout_revoked', version: r.toVersion, trigger: r.trigger, stragglers: namedInLogs(stragglers), stragglers_count: stragglers.length },
        nonHmacKeys: ['rotation_id', 'outcome', 'version', 'trigger', 'stragglers', 'stragglers_count'],
      });
    } catch {
      ctx.logger.error('could not audit a rotation that revokes despite stragglers; holding it', { role: run.name, rotation_id: r.id });
      throw new RevokePending();
    }
    r.verifyOutcome = 'timeout_revoked';
    ctx.logger.warn('static role rotation revokes the previous credential although consumers have not switched', {
      role: run.name, rotation_id: r.id, trigger: r.trigger, version: r.toVersion, stragglers: namedInLogs(stragglers), stragglers_count: stragglers.length,
    });
  };

  const stepVerify = async (run: Run): Promise<StepResult> => {
    await begin(run, 'verify');
    const r = record(run);
    const { deps: waitOn, minPollMs, maxPollMs } = waitDeps();
    const result = await waitForConsumers(waitOn, {
      path: credentialPath(run.name),
      toVersion: r.toVersion,
      deadline: r.verifyDeadline ?? now(),
      ...(r.steps.verify.startedAt === undefined ? {} : { startedAt: r.steps.verify.startedAt }),
      windowMs: run.role.policy.verifyTimeout * 1000,
      earlier: r.confirmed,
      minPollMs,
      maxPollMs,
      onProgress: async (snapshot) => {
        applySnapshot(run, snapshot);
        await save(run);
      },
    });
    if (result.done) {
      verified(run, result);
    } else {
      applySnapshot(run, result);
      const ids = result.pending.map((s) => s.id);
      if (run.role.policy.onTimeout === 'hold') {
        r.status = 'waiting';
        r.verifyOutcome = 'timeout_held';
        await save(run);
        ctx.logger.warn('static role rotation is holding the previous credential for consumers that have not switched', {
          role: run.name, rotation_id: r.id, version: r.toVersion, stragglers: namedInLogs(ids), stragglers_count: ids.length,
        });
        return 'halt';
      }
      revokingAnyway(run, ids);
    }
    await pause(run, 'verify', 'after');
    done(run, 'verify');
    return 'next';
  };

  const stepRevoke = async (run: Run): Promise<StepResult> => {
    await begin(run, 'revoke');
    const r = record(run);
    // A password nobody keeps: the old user cannot log in until a rotation makes it current.
    const random = await passwords.generate(run.role);
    try {
      await passwords.set(run.role, r.fromUsername, random);
    } catch (err) {
      guard();
      const text = failureText(err, [random]);
      r.steps.revoke = { ...r.steps.revoke, error: text };
      r.error = text;
      await save(run);
      ctx.logger.warn('static role rotation could not revoke the previous credential; will retry', { role: run.name, rotation_id: r.id, error: text });
      throw new RevokePending();
    }
    await pause(run, 'revoke', 'after');
    done(run, 'revoke');
    return 'next';
  };

  const STEPS: Record<RotationPhase, (run: Run) => Promise<StepResult>> = {
    set_password: stepSetPassword,
    activate: stepActivate,
    notify: stepNotify,
    verify: stepVerify,
    revoke: stepRevoke,
  };

  /** What follows `phase`; marks the steps a rotation of this kind does not have. */
  const nextPhase = (run: Run, phase: RotationPhase): RotationPhase | 'finish' => {
    const r = record(run);
    if (phase === 'set_password') return 'activate';
    if (phase === 'activate') return 'notify';
    if (phase === 'notify') {
      if (r.mode === 'single') {
        done(run, 'verify', 'skipped');
        done(run, 'revoke', 'skipped');
        r.verifyOutcome = 'not_needed';
        return 'finish';
      }
      // An import replaces no credential anyone holds: nothing to wait for, but the standby
      // user still gets its unknown password.
      if (r.fromVersion === 0) {
        done(run, 'verify', 'skipped');
        r.verifyOutcome = 'not_needed';
        return 'revoke';
      }
      return 'verify';
    }
    if (phase === 'verify') return 'revoke';
    return 'finish';
  };

  const drive = async (run: Run, from: RotationPhase = record(run).phase): Promise<RotationRecord> => {
    let phase: RotationPhase | 'finish' = from;
    try {
      while (phase !== 'finish') {
        if ((await STEPS[phase](run)) === 'halt') return withoutSecret(record(run));
        phase = nextPhase(run, phase);
      }
    } catch (err) {
      if (err instanceof RevokePending) return withoutSecret(record(run));
      throw err;
    }
    const finished = await finish(run, 'completed');
    ctx.logger.info('static role rotated', {
      role: run.name, rotation_id: finished.id, trigger: finished.trigger, version: finished.toVersion,
      confirmed: finished.confirmed.length, stragglers: finished.stragglers.map((s) => s.id),
    });
    return finished;
  };

  /**
   * A held rotation: look at the consumers once; revoke if they have all switched now, or if
   * the role's on_timeout has since been changed to revoke.
   */
  const recheck = async (run: Run): Promise<RotationRecord> => {
    const r = record(run);
    const { deps: waitOn, minPollMs, maxPollMs } = waitDeps();
    const result = await waitForConsumers(waitOn, {
      path: credentialPath(run.name), toVersion: r.toVersion, deadline: 0, earlier: r.confirmed, minPollMs, maxPollMs, once: true,
    });
    if (!result.done) {
      const before = JSON.stringify([r.confirmed, r.stragglers, r.expired]);
      applySnapshot(run, result);
      // The operator's way out of a hold: set on_timeout=revoke, and the next look revokes.
      if (run.role.policy.onTimeout === 'revoke') {
        r.status = 'running';
        revokingAnyway(run, result.pending.map((s) => s.id));
        done(run, 'verify');
        return drive(run, 'revoke');
      }
      if (JSON.stringify([r.confirmed, r.stragglers, r.expired]) !== before) await save(run);
      return withoutSecret(r);
    }
    verified(run, result);
    r.status = 'running';
    done(run, 'verify');
    return drive(run, 'revoke');
  };

  const continueRun = (run: Run): Promise<RotationRecord> =>
    record(run).status === 'waiting' ? recheck(run) : drive(run);

  const load = async (name: string): Promise<{ role: StaticRole; account: StaticAccount }> => {
    guard();
    const role = await statics.getRole(name);
    if (!role) throw badRequest(`unknown static role: ${name}`);
    const account = (await statics.getAccount(name)) ?? { current: null, previous: null, lastRotation: 0, rotation: null };
    return { role, account };
  };

  const startRotation = async (name: string, role: StaticRole, account: StaticAccount, trigger: RotationTrigger): Promise<RotationRecord> => {
    const r = planRotation({ role, account, trigger, id: uuid(), password: await passwords.generate(role), now: now() });
    return drive({ name, role, account: { ...account, rotation: r } }, 'set_password');
  };

  return {
    rotate: (name, trigger) => exclusive(name, async () => {
      let { role, account } = await load(name);
      if (account.rotation) {
        const earlier = await continueRun({ name, role, account });
        if (earlier.status === 'waiting') {
          throw new CofferError('conflict', `rotation ${earlier.id} of static role "${name}" is holding the previous credential `
            + `until ${earlier.stragglers.length} consumer(s) switch to version ${earlier.toVersion}; see rotations/${name}`);
        }
        if (earlier.status === 'running') {
          throw new CofferError('upstream', `rotation ${earlier.id} of static role "${name}" has not yet revoked the previous credential `
            + `(${earlier.error ?? 'retrying'}); see rotations/${name}`);
        }
        ({ role, account } = await load(name));
      }
      return startRotation(name, role, account, trigger);
    }),

    rotateIfDue: (name, due) => exclusive(name, async () => {
      guard();
      const role = await statics.getRole(name);
      const account = await statics.getAccount(name);
      if (!role || account?.rotation) return undefined;
      const state = account ?? { current: null, previous: null, lastRotation: 0, rotation: null };
      if (!due(role, state)) return undefined;
      return startRotation(name, role, state, 'schedule');
    }),

    resume: (name) => exclusive(name, async () => {
      guard();
      const role = await statics.getRole(name);
      const account = await statics.getAccount(name);
      if (!role || !account?.rotation) return undefined;
      return continueRun({ name, role, account });
    }),

    exclusive,
    isBusy: (name) => lanes.isBusy(name),
    credentialPath,
  };
}
