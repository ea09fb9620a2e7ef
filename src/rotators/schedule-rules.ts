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

function period(ms: number): CompiledRules & { kind: 'every' } {
  if (ms < MIN_PERIOD_MS || ms > MAX_PERIOD_MS) throw badRequest('a rotation period must be between 4 hours and 1000 days');
  return { kind: 'every', ms };
}

/**
 * How far ahead a cron schedule's runs are compared to find its shortest gap: four years hold
 * every calendar pattern (a leap day included), and a schedule that passes the 4-hour minimum
 * runs at most 6 times a day, so this is at most ~8,800 steps of nextCronTime.
 */
const CRON_GAP_HORIZON_MS = 4 * 366 * DAY_MS;
const CRON_GAP_MAX_STEPS = 10_000;

/** The shortest time between two of the schedule's runs within the horizon after `now`; undefined when it has none. */
function shortestCronGap(spec: CronSpec, now: number): number | undefined {
  let previous = nextCronTime(spec, now);
  if (previous === undefined) return undefined;
  const end = previous + CRON_GAP_HORIZON_MS;
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < CRON_GAP_MAX_STEPS && previous < end; i++) {
    const next = nextCronTime(spec, previous);
    if (next === undefined) break;
    shortest = Math.min(shortest, next - previous);
    // Already too frequent: no need to look further.
    if (shortest < MIN_PERIOD_MS) break;
    previous = next;
  }
  return shortest;
}

/**
 * Checks `Duration` as AWS does: whole hours, at least 1, within the UTC day and shorter than
 * the time between two rotations, so windows never overlap.
 */
function checkDuration(duration: string | undefined, gapMs: number): void {
  if (duration === undefined) return;
  const match = /^(\d{1,2})h$/.exec(duration);
  const hours = match ? Number(match[1]) : 0;
  if (hours < 1 || hours > 24) throw badRequest('Duration must be a whole number of hours from 1h to 24h, such as 3h');
  if (hours * HOUR_MS > gapMs) throw badRequest('Duration must not run into the next rotation window');
}

/**
 * Checks and compiles rules; `{}` (or undefined) means rotation on demand only. With `now` (when
 * rules are configured, not when stored ones are read back), a cron expression that has no run
 * within five years of it, or runs more often than every four hours, and a Duration AWS would
 * refuse, are refused.
 */
export function compileRules(rules: RotationRules | undefined, now?: number): CompiledRules {
  if (!rules) return { kind: 'manual' };
  const days = rules.AutomaticallyAfterDays;
  const expression = rules.ScheduleExpression?.trim();
  if (days !== undefined && expression !== undefined) throw badRequest('give either AutomaticallyAfterDays or ScheduleExpression, not both');
  if (days !== undefined) {
    if (!Number.isInteger(days) || days < 1 || days > 1000) throw badRequest('AutomaticallyAfterDays must be an integer from 1 to 1000');
    const every = period(days * DAY_MS);
    if (now !== undefined) checkDuration(rules.Duration, every.ms);
    return every;
  }
  if (expression === undefined) {
    if (now !== undefined) checkDuration(rules.Duration, DAY_MS);
    return { kind: 'manual' };
  }
  const rate = /^rate\(\s*(\d{1,5})\s+(hour|hours|day|days)\s*\)$/i.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const every = period(n * ((rate[2] as string).toLowerCase().startsWith('hour') ? HOUR_MS : DAY_MS));
    if (now !== undefined) checkDuration(rules.Duration, every.ms);
    return every;
  }
  const cron = /^cron\((.*)\)$/i.exec(expression);
  if (cron) {
    const spec = parseCron(cron[1] as string, now !== undefined);
    if (now !== undefined) {
      const gap = shortestCronGap(spec, now);
      if (gap === undefined) throw badRequest('the cron expression has no run in the next five years');
      if (gap < MIN_PERIOD_MS) throw badRequest('a cron schedule must not rotate more often than every 4 hours');
      checkDuration(rules.Duration, gap);
    }
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
