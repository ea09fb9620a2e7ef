/**
 * Rotation rules in the one shape both APIs share, Secrets Manager's RotationRules:
 * `AutomaticallyAfterDays`, or `ScheduleExpression` (`rate(N hours|days)` or `cron(...)`), with
 * an optional `Duration` window. The Vault-style schedule endpoint translates its
 * `rotation_period` into this shape, so DescribeSecret shows what either API configured.
 *
 * Owns: validation (AWS's limits: at least every four hours, at most every 1000 days) and the
 * next due time after a given moment.
 * Must never: accept a rule it cannot schedule; a rule that never fires is refused up front.
 */
import { badRequest } from '../core/errors.js';
import { nextCronTime, parseCron, type CronSpec } from './cron.js';

export interface RotationRules {
  AutomaticallyAfterDays?: number;
  /** The rotation window, e.g. "3h". Stored and shown; Coffer starts rotations at the window's start. */
  Duration?: string;
  ScheduleExpression?: string;
}

export type CompiledRules = { kind: 'every'; ms: number } | { kind: 'cron'; spec: CronSpec } | { kind: 'manual' };

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const MIN_PERIOD_MS = 4 * HOUR_MS;
const MAX_PERIOD_MS = 1000 * DAY_MS;

function period(ms: number): CompiledRules {
  if (ms < MIN_PERIOD_MS || ms > MAX_PERIOD_MS) throw badRequest('a rotation period must be between 4 hours and 1000 days');
  return { kind: 'every', ms };
}

/**
 * Checks and compiles rules; `{}` (or undefined) means rotation on demand only. With `now`, a
 * cron expression that has no run within five years of it is refused.
 */
export function compileRules(rules: RotationRules | undefined, now?: number): CompiledRules {
  if (!rules) return { kind: 'manual' };
  const days = rules.AutomaticallyAfterDays;
  const expression = rules.ScheduleExpression?.trim();
  if (days !== undefined && expression !== undefined) throw badRequest('give either AutomaticallyAfterDays or ScheduleExpression, not both');
  if (days !== undefined) {
    if (!Number.isInteger(days) || days < 1 || days > 1000) throw badRequest('AutomaticallyAfterDays must be an integer from 1 to 1000');
    return period(days * DAY_MS);
  }
  if (expression === undefined) return { kind: 'manual' };
  const rate = /^rate\(\s*(\d{1,5})\s+(hour|hours|day|days)\s*\)$/i.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    return period(n * ((rate[2] as string).toLowerCase().startsWith('hour') ? HOUR_MS : DAY_MS));
  }
  const cron = /^cron\((.*)\)$/i.exec(expression);
  if (cron) {
    const spec = parseCron(cron[1] as string);
    if (now !== undefined && nextCronTime(spec, now) === undefined) throw badRequest('the cron expression has no run in the next five years');
    return { kind: 'cron', spec };
  }
  throw badRequest('ScheduleExpression must be rate(N hours), rate(N days) or cron(minutes hours day-of-month month day-of-week year)');
}

/**
 * When the next rotation is due: `every` counts from the last rotation (or, before the first,
 * from when rotation was configured); `cron` is the first match after that moment. A missed
 * run (the server was down) is due at once, and runs once, not once per missed window.
 */
export function nextDue(rules: CompiledRules, lastRotated: number | undefined, configuredAt: number): number | undefined {
  const since = lastRotated ?? configuredAt;
  switch (rules.kind) {
    case 'every':
      return since + rules.ms;
    case 'cron':
      return nextCronTime(rules.spec, since);
    case 'manual':
      return undefined;
  }
}

/** Vault's `rotation_period` (a duration in seconds) as a RotationRules expression. */
export function rulesFromPeriod(seconds: number): RotationRules {
  if (seconds % 86_400 === 0) return { ScheduleExpression: `rate(${seconds / 86_400} days)` };
  if (seconds % 3600 === 0) return { ScheduleExpression: `rate(${seconds / 3600} hours)` };
  throw badRequest('rotation_period must be a whole number of hours');
}
