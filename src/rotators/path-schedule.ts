/**
 * Rotation of one secret, through the Vault API (and, via RotateSecret / CancelRotateSecret,
 * the Secrets Manager API, which writes the same `schedule/` path with the caller's token):
 *
 *   schedule/:secret   read, create/update, delete, list: which rotator, the rules
 *                      (`rotation_rules` in AWS shape, or `schedule_expression`,
 *                      `automatically_after_days`, `rotation_period`), `enabled`,
 *                      `verify_timeout`, `on_timeout` (revoke | hold), `rotate_immediately`,
 *                      `client_request_token`
 *   rotate/:secret     start a rotation now
 *   status/:secret     the schedule, the unfinished rotation and recent history
 *
 * Owns: the rule that configuring rotation needs every capability the rotation's policy will
 * grant (rotation-identity.ts), checked against the caller's own policies.
 * Must never: write a policy or a schedule for a secret the caller could not rotate by hand.
 */
import { parseDurationSeconds } from '../core/duration.js';
import { badRequest, CofferError, isCofferError, notFound, permissionDenied } from '../core/errors.js';
import type { KeyedMutex } from '../core/keyed-mutex.js';
import type { PolicyStore } from '../core/policy/store.js';
import type { EngineRequest, EngineResponse, Operation, PathSpec } from '../core/router/engine.js';
import type { Clock } from '../core/clock.js';
import { ROTATOR_NAME_PATTERN } from './path-config.js';
import { isFinal, rotationView } from './rotation-record.js';
import type { RotationIdentity } from './rotation-identity.js';
import type { RotationRunner } from './rotation-runner.js';
import type { OnTimeout, RotatorStore, Schedule } from './rotator-store.js';
import { compileRules, nextDue, rulesFromPeriod, type RotationRules } from './schedule-rules.js';
import type { StagedSecrets } from './staged-secrets.js';

const DEFAULT_VERIFY_TIMEOUT_SECONDS = 300;
const MAX_VERIFY_TIMEOUT_SECONDS = 7 * 86_400;
const DEFAULT_REGION = 'us-east-1';
const ROTATOR_NAME = new RegExp(`^${ROTATOR_NAME_PATTERN}$`);
const INCOMPLETE = "A previous rotation isn't complete. That rotation will be reattempted.";

export interface SchedulePathDeps {
  store: RotatorStore;
  runner: RotationRunner;
  identity: RotationIdentity;
  secrets: StagedSecrets;
  policies: Pick<PolicyStore, 'acl'>;
  clock: Clock;
  locks: KeyedMutex;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export function scheduleView(s: Schedule): Record<string, unknown> {
  return {
    secret: s.secret,
    rotator: s.rotator,
    rotation_lambda_arn: s.lambdaArn,
    rotation_rules: s.rules ?? null,
    enabled: s.enabled,
    verify_timeout: s.verifyTimeoutSeconds,
    on_timeout: s.onTimeout,
    region: s.region,
    policy: s.policy,
    configured_time: iso(s.configuredAt),
    last_rotated: iso(s.lastRotated),
    next_rotation: iso(s.nextRun),
    active_rotation: s.active ?? null,
  };
}

function optionalString(data: Readonly<Record<string, unknown>>, field: string, pattern?: RegExp): string | undefined {
  const value = data[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || (pattern && !pattern.test(value))) throw badRequest(`invalid ${field}`);
  return value;
}

function optionalBool(data: Readonly<Record<string, unknown>>, field: string): boolean | undefined {
  const value = data[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw badRequest(`${field} must be true or false`);
}

/** The rules a write asks for, in AWS shape; undefined when it names none. */
function requestedRules(data: Readonly<Record<string, unknown>>): RotationRules | undefined {
  const given = ['rotation_rules', 'schedule_expression', 'automatically_after_days', 'rotation_period'].filter((f) => data[f] !== undefined && data[f] !== null && data[f] !== '');
  if (given.length > 1) throw badRequest(`give only one of ${given.join(', ')}`);
  const raw = data['rotation_rules'];
  if (raw !== undefined && raw !== null && raw !== '') {
    if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('rotation_rules must be an object');
    const r = raw as Record<string, unknown>;
    const out: RotationRules = {};
    if (typeof r['AutomaticallyAfterDays'] === 'number') out.AutomaticallyAfterDays = r['AutomaticallyAfterDays'];
    if (typeof r['ScheduleExpression'] === 'string') out.ScheduleExpression = r['ScheduleExpression'];
    if (typeof r['Duration'] === 'string') out.Duration = r['Duration'];
    return out;
  }
  const expression = optionalString(data, 'schedule_expression');
  if (expression !== undefined) return { ScheduleExpression: expression };
  const days = data['automatically_after_days'];
  if (days !== undefined && days !== null && days !== '') {
    const n = typeof days === 'string' ? Number(days) : days;
    if (typeof n !== 'number' || !Number.isInteger(n)) throw badRequest('automatically_after_days must be an integer');
    return { AutomaticallyAfterDays: n };
  }
  const period = parseDurationSeconds(data['rotation_period'], 'rotation_period');
  return period === undefined ? undefined : rulesFromPeriod(period);
}

export function schedulePaths(deps: SchedulePathDeps): PathSpec[] {
  const { store, runner, identity, secrets, clock, locks } = deps;

  /** A name the store accepts and whose policy paths have no segment a policy reads as a wildcard. */
  const secretName = (req: EngineRequest): string => {
    const name = secrets.validateName(req.params['secret'] as string);
    if (name.split('/').some((segment) => segment === '+')) throw badRequest('a secret whose name has a "+" path segment cannot have a rotation schedule');
    return name;
  };

  /** The caller must already hold every capability the rotation's policy grants. */
  const requireCallerGrants = async (req: EngineRequest, secret: string): Promise<void> => {
    if (req.auth?.isRoot) return;
    const acl = await deps.policies.acl(req.auth?.policies ?? []);
    for (const grant of secrets.grants(secret)) {
      for (const capability of grant.capabilities) {
        if (!acl.check(grant.path, capability as Operation).allowed) throw permissionDenied();
      }
    }
  };

  const unfinished = async (schedule: Schedule | undefined): Promise<boolean> => {
    if (schedule?.active === undefined) return false;
    const active = await store.getRotation(schedule.secret, schedule.active);
    return active !== undefined && !isFinal(active);
  };

  const settingsAccess = (req: EngineRequest) => (token: string) => ({ token, requestPrefix: `schedule:${req.requestId}` });

  const write = async (req: EngineRequest): Promise<EngineResponse> => {
    const secret = secretName(req);
    // First, so a caller who could not rotate the secret learns nothing about rotators or schedules.
    await requireCallerGrants(req, secret);
    const data = req.data;
    const immediately = optionalBool(data, 'rotate_immediately') ?? false;
    const requestToken = optionalString(data, 'client_request_token', /^[A-Za-z0-9-]{32,64}$/);
    const saved = await locks.run(secret, async () => {
      const existing = await store.getSchedule(secret);
      const rotator = optionalString(data, 'rotator', ROTATOR_NAME) ?? existing?.rotator;
      const enabledGiven = optionalBool(data, 'enabled');
      if (rotator === undefined) {
        // Turning off a schedule that does not exist (CancelRotateSecret) finds nothing to turn off.
        if (enabledGiven === false) throw notFound('no rotation schedule for this secret');
        throw badRequest('rotator is required: the name of a rotator configured at rotators/config/<name>');
      }
      const enabled = enabledGiven ?? existing?.enabled ?? true;
      if (!existing || rotator !== existing.rotator || enabled) {
        if (!(await store.getConfig(rotator))) throw new CofferError('not_found', `rotator ${rotator} is not configured`);
      }
      const rulesGiven = requestedRules(data);
      const rules = rulesGiven ?? existing?.rules;
      // Only rules being set now are held to today's checks: stored ones an earlier build took
      // must not stop an update, least of all enabled=false (CancelRotateSecret).
      const compiled = compileRules(rules, rulesGiven === undefined ? undefined : clock.now());
      const verifyTimeout = parseDurationSeconds(data['verify_timeout'], 'verify_timeout') ?? existing?.verifyTimeoutSeconds ?? DEFAULT_VERIFY_TIMEOUT_SECONDS;
      if (verifyTimeout > MAX_VERIFY_TIMEOUT_SECONDS) throw badRequest('verify_timeout must be at most 7 days');
      const onTimeout = (optionalString(data, 'on_timeout', /^(revoke|hold)$/) ?? existing?.onTimeout ?? 'revoke') as OnTimeout;
      const region = optionalString(data, 'region', /^[a-z0-9-]{1,32}$/) ?? existing?.region ?? DEFAULT_REGION;
      const lambdaArn = optionalString(data, 'lambda_arn') ?? (existing && existing.rotator === rotator ? existing.lambdaArn : rotator);
      if (lambdaArn.length > 2048) throw badRequest('invalid lambda_arn');
      if (immediately && (await unfinished(existing))) {
        const same = requestToken !== undefined && existing?.active === requestToken;
        if (!same) throw new CofferError('conflict', INCOMPLETE);
      }

      const now = clock.now();
      const policy = await identity.writePolicy(secret, secrets.grants(secret));
      const configuredAt = existing?.configuredAt ?? now;
      const nextRun = enabled ? nextDue(compiled, existing?.lastRotated, configuredAt) : undefined;
      try {
        // The secret's own record shows rotation (DescribeSecret); this also proves the secret exists.
        await identity.withToken(secret, rotator, (t) =>
          secrets.updateSettings(secret, settingsAccess(req)(t), { enabled, lambdaArn, rules: rules ?? null, nextRotation: nextRun ?? null }),
        );
      } catch (error) {
        if (!existing) await identity.deletePolicy(secret).catch(() => undefined);
        throw error;
      }
      const schedule: Schedule = {
        secret,
        rotator,
        lambdaArn,
        ...(rules === undefined ? {} : { rules }),
        enabled,
        verifyTimeoutSeconds: verifyTimeout,
        onTimeout,
        region,
        policy,
        configuredAt,
        updatedAt: now,
        ...(existing?.lastRotated === undefined ? {} : { lastRotated: existing.lastRotated }),
        ...(nextRun === undefined ? {} : { nextRun }),
        ...(existing?.active === undefined ? {} : { active: existing.active }),
        history: existing?.history ?? [],
      };
      await store.putSchedule(schedule);
      return schedule;
    });
    let started: Record<string, unknown> = {};
    if (immediately) {
      // Outside the lock: start() takes it itself.
      const rotation = await runner.start(secret, { ...(requestToken ? { id: requestToken } : {}), trigger: req.requestId.startsWith('aws:') ? 'aws' : 'api' });
      started = { active_rotation: rotation.id, rotation_id: rotation.id, version_id: rotation.id };
    }
    return { data: { ...scheduleView(saved), ...started }, auditNonHmacKeys: ['secret', 'rotator', 'rotation_id', 'version_id', 'next_rotation'] };
  };

  const remove = async (req: EngineRequest): Promise<null> => {
    const secret = secretName(req);
    await requireCallerGrants(req, secret);
    await locks.run(secret, async () => {
      const existing = await store.getSchedule(secret);
      if (!existing) return;
      if (await unfinished(existing)) throw new CofferError('conflict', 'a rotation of this secret is in progress; delete the schedule once it has finished');
      try {
        await identity.withToken(secret, existing.rotator, (t) => secrets.updateSettings(secret, settingsAccess(req)(t), { enabled: false, nextRotation: null }));
      } catch (error) {
        // A secret deleted meanwhile has no record to update; anything else must not leave the two out of step.
        if (!(isCofferError(error) && error.code === 'not_found')) throw error;
      }
      await store.deleteSchedule(secret);
      for (const id of existing.history) await store.deleteRotation(secret, id);
      await identity.deletePolicy(secret);
    });
    return null;
  };

  const status = async (req: EngineRequest): Promise<EngineResponse> => {
    const secret = secretName(req);
    const schedule = await store.getSchedule(secret);
    if (!schedule) throw notFound();
    const rotations = [];
    for (const id of [...schedule.history].reverse()) {
      const r = await store.getRotation(secret, id);
      if (r) rotations.push(r);
    }
    const active = rotations.find((r) => r.id === schedule.active && !isFinal(r));
    const last = rotations.find((r) => isFinal(r));
    return {
      data: {
        ...scheduleView(schedule),
        rotation: active ? rotationView(active) : null,
        last_rotation: last ? rotationView(last) : null,
        history: rotations.map(rotationView),
      },
    };
  };

  return [
    {
      pattern: 'schedule/?',
      description: 'List the secrets that have a rotation schedule.',
      operations: { list: async () => ({ data: { keys: await store.listSchedules() } }) },
    },
    {
      pattern: 'schedule/(?<secret>.+)',
      description: 'Configure the rotation of one secret: rotator, rules, verify_timeout, on_timeout.',
      existenceCheck: async (req) => (await store.getSchedule(req.params['secret'] as string)) !== undefined,
      operations: {
        read: async (req) => {
          const schedule = await store.getSchedule(secretName(req));
          if (!schedule) throw notFound();
          return { data: scheduleView(schedule) };
        },
        create: write,
        update: write,
        delete: remove,
      },
    },
    {
      pattern: 'rotate/(?<secret>.+)',
      description: 'Start a rotation of the secret now.',
      operations: {
        update: async (req) => {
          const secret = secretName(req);
          await requireCallerGrants(req, secret);
          const rotation = await runner.start(secret, { trigger: 'api' });
          return { data: { rotation_id: rotation.id, version_id: rotation.id }, auditNonHmacKeys: ['rotation_id', 'version_id'] };
        },
      },
    },
    {
      pattern: 'status/(?<secret>.+)',
      description: 'The rotation schedule of a secret, its unfinished rotation and recent history.',
      operations: { read: status },
    },
  ];
}
