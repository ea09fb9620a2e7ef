/**
 * The fields of `static-roles/:name`, parsed and validated into a StaticRole, and the view a
 * read returns.
 *
 * Vault's fields: db_name, username, rotation_period | rotation_schedule (+ rotation_window),
 * rotation_statements, credential_type (password). Coffer's dual-credential fields:
 *   alternate_username   the second database user the role alternates with
 *   rotation_policy      { verify_timeout: "60s", on_timeout: "revoke" | "hold" }
 *                        (also accepted as top-level verify_timeout / on_timeout)
 * db_name, username and alternate_username are fixed once the role exists, as in Vault: the
 * rotation state refers to those users.
 * Must never: echo a field's value in an error (statements may carry secrets).
 */
import { rfc3339 } from '../../core/clock.js';
import { badRequest } from '../../core/errors.js';
import { has, parseBool, parseDuration, parseStatements, parseString } from './input.js';
import { parseCron } from './cron.js';
import { MIN_ROTATION_PERIOD_SECONDS, MIN_ROTATION_WINDOW_SECONDS, type RotationTiming } from './static-schedule.js';
import type { OnTimeout, RotationPolicy, StaticRole } from './static-store.js';
import { checkRotationStatements } from './statement-placeholders.js';

export const DEFAULT_VERIFY_TIMEOUT_SECONDS = 60;
export const DEFAULT_ON_TIMEOUT: OnTimeout = 'revoke';
const MAX_VERIFY_TIMEOUT_SECONDS = 24 * 3600;

/**
 * Usernames are substituted into statements inside quotes, so they keep to an alphabet every
 * plugin accepts unquoted-safe: letters, digits, '_', '.', '-'.
 */
const STATIC_USERNAME = /^[A-Za-z0-9_.-]{1,63}$/;

function parseUsername(raw: unknown, field: string): string {
  const value = parseString(raw, field).trim();
  if (!STATIC_USERNAME.test(value)) throw badRequest(`invalid ${field}: use 1 to 63 letters, digits, "_", "." or "-"`);
  return value;
}

function policyObject(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw === 'string') {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // fall through to the error below
    }
  } else if (typeof raw === 'object' && !Array.isArray(raw)) {
    return raw as Record<string, unknown>;
  }
  throw badRequest('invalid rotation_policy: must be an object such as {"verify_timeout":"60s","on_timeout":"revoke"}');
}

function parsePolicy(data: Readonly<Record<string, unknown>>, existing: RotationPolicy | undefined): RotationPolicy {
  const nested = policyObject(data['rotation_policy']);
  for (const key of Object.keys(nested)) {
    if (key !== 'verify_timeout' && key !== 'on_timeout') throw badRequest('invalid rotation_policy: the fields are verify_timeout and on_timeout');
  }
  const pick = (field: string): unknown => (has(nested, field) ? nested[field] : data[field]);
  const policy: RotationPolicy = {
    verifyTimeout: existing?.verifyTimeout ?? DEFAULT_VERIFY_TIMEOUT_SECONDS,
    onTimeout: existing?.onTimeout ?? DEFAULT_ON_TIMEOUT,
  };
  const timeout = pick('verify_timeout');
  if (timeout !== undefined && timeout !== null && timeout !== '') {
    policy.verifyTimeout = parseDuration(timeout, 'verify_timeout');
    if (policy.verifyTimeout < 1 || policy.verifyTimeout > MAX_VERIFY_TIMEOUT_SECONDS) {
      throw badRequest(`invalid verify_timeout: must be from 1s to ${MAX_VERIFY_TIMEOUT_SECONDS / 3600}h`);
    }
  }
  const onTimeout = pick('on_timeout');
  if (onTimeout !== undefined && onTimeout !== null && onTimeout !== '') {
    const value = parseString(onTimeout, 'on_timeout').trim();
    if (value !== 'revoke' && value !== 'hold') throw badRequest('invalid on_timeout: must be "revoke" or "hold"');
    policy.onTimeout = value;
  }
  return policy;
}

function parseTiming(data: Readonly<Record<string, unknown>>, existing: RotationTiming | undefined): RotationTiming {
  const hasPeriod = has(data, 'rotation_period') && data['rotation_period'] !== '';
  const hasSchedule = has(data, 'rotation_schedule') && data['rotation_schedule'] !== '';
  const hasWindow = has(data, 'rotation_window') && data['rotation_window'] !== '';
  if (hasPeriod && hasSchedule) throw badRequest('mutually exclusive fields rotation_period and rotation_schedule were both specified');
  if (hasPeriod) {
    if (hasWindow) throw badRequest('rotation_window is invalid with use of rotation_period');
    const periodSeconds = parseDuration(data['rotation_period'], 'rotation_period');
    if (periodSeconds < MIN_ROTATION_PERIOD_SECONDS) throw badRequest(`rotation_period must be ${MIN_ROTATION_PERIOD_SECONDS} seconds or more`);
    return { kind: 'period', periodSeconds };
  }
  const schedule = hasSchedule
    ? parseString(data['rotation_schedule'], 'rotation_schedule').trim()
    : existing?.kind === 'schedule' ? existing.schedule : undefined;
  if (schedule === undefined) {
    if (hasWindow) throw badRequest('rotation_window is invalid with use of rotation_period');
    if (existing) return existing;
    throw badRequest('one of rotation_period or rotation_schedule is required');
  }
  parseCron(schedule);
  const windowSeconds = hasWindow
    ? parseDuration(data['rotation_window'], 'rotation_window')
    : existing?.kind === 'schedule' && !hasSchedule ? existing.windowSeconds : 0;
  if (windowSeconds !== 0 && windowSeconds < MIN_ROTATION_WINDOW_SECONDS) {
    throw badRequest(`rotation_window must be ${MIN_ROTATION_WINDOW_SECONDS} seconds (1h) or more`);
  }
  return { kind: 'schedule', schedule, windowSeconds };
}

/** Every field parseStaticRole reads (verify_timeout and on_timeout also inside rotation_policy). */
export const STATIC_ROLE_FIELDS: ReadonlySet<string> = new Set([
  'db_name', 'username', 'alternate_username', 'rotation_period', 'rotation_schedule', 'rotation_window', 'rotation_statements',
  'rotation_policy', 'verify_timeout', 'on_timeout', 'credential_type', 'skip_import_rotation',
]);

/** The role after applying `data` to `existing` (undefined: a new role). */
export function parseStaticRole(data: Readonly<Record<string, unknown>>, existing: StaticRole | undefined): StaticRole {
  const fixed = (field: string, current: string | undefined, parse: (raw: unknown) => string): string => {
    if (!has(data, field)) return current ?? '';
    const value = parse(data[field]);
    if (current !== undefined && value !== current) throw badRequest(`cannot update static role ${field}`);
    return value;
  };
  const role: StaticRole = {
    dbName: fixed('db_name', existing?.dbName, (r) => parseString(r, 'db_name').trim()),
    username: fixed('username', existing?.username, (r) => parseUsername(r, 'username')),
    alternateUsername: fixed('alternate_username', existing?.alternateUsername, (r) => (parseString(r, 'alternate_username').trim() === '' ? '' : parseUsername(r, 'alternate_username'))),
    timing: parseTiming(data, existing?.timing),
    rotationStatements: has(data, 'rotation_statements') ? parseStatements(data['rotation_statements'], 'rotation_statements') : existing?.rotationStatements ?? [],
    policy: parsePolicy(data, existing?.policy),
  };
  if (role.dbName === '') throw badRequest('empty database name attribute');
  if (role.username === '') throw badRequest('username is a required field to create a static account');
  if (has(data, 'rotation_statements') && role.rotationStatements.length > 0) checkRotationStatements(role.rotationStatements);
  if (role.alternateUsername === role.username) throw badRequest('alternate_username must name a different database user than username');
  if (has(data, 'credential_type') && parseString(data['credential_type'], 'credential_type') !== 'password') {
    throw badRequest('invalid credential_type: only "password" is supported');
  }
  if (has(data, 'skip_import_rotation') && parseBool(data['skip_import_rotation'], 'skip_import_rotation')) {
    throw badRequest('skip_import_rotation is not supported: Coffer always sets the password when a static role is created, so it knows it');
  }
  return role;
}

export function timingView(timing: RotationTiming): Record<string, unknown> {
  return timing.kind === 'period'
    ? { rotation_period: timing.periodSeconds }
    : { rotation_schedule: timing.schedule, rotation_window: timing.windowSeconds };
}

export function staticRoleView(role: StaticRole, lastRotation: number, version: number): Record<string, unknown> {
  return {
    db_name: role.dbName,
    username: role.username,
    alternate_username: role.alternateUsername,
    credential_type: 'password',
    credential_config: {},
    rotation_statements: [...role.rotationStatements],
    ...timingView(role.timing),
    rotation_policy: { verify_timeout: role.policy.verifyTimeout, on_timeout: role.policy.onTimeout },
    last_vault_rotation: lastRotation > 0 ? rfc3339(lastRotation) : null,
    version,
  };
}
