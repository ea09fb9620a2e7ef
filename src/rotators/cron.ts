/**
 * AWS-style cron expressions, as Secrets Manager's `ScheduleExpression: "cron(...)"` takes them:
 * six fields `minutes hours day-of-month month day-of-week year`, in UTC.
 *
 * Owns: parsing (`*`, `?`, numbers, `a-b`, lists, `/step`, month names JAN-DEC, day names
 * SUN-SAT with SUN = 1 as in AWS) and finding the next matching minute. `L`, `W` and `#` are
 * refused with a message that says so, rather than silently misread.
 * Must never: loop without bound. The search gives up after MAX_YEARS of calendar.
 */
import { badRequest } from '../core/errors.js';

export interface CronSpec {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  /** Days of the month 1..31; undefined when the field is `*` or `?` (no restriction). */
  readonly daysOfMonth: ReadonlySet<number> | undefined;
  /** 1..12 */
  readonly months: ReadonlySet<number>;
  /** 0 (Sunday)..6, as Date.getUTCDay() counts; undefined when unrestricted. */
  readonly daysOfWeek: ReadonlySet<number> | undefined;
  /** undefined when `*`. */
  readonly years: ReadonlySet<number> | undefined;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MAX_YEARS = 5;
const MINUTE_MS = 60_000;

interface FieldRule {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** The number the first name stands for (JAN = 1, SUN = 1). */
  nameBase?: number;
}

const FIELDS: readonly FieldRule[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, nameBase: 1 },
  { name: 'year', min: 1970, max: 2199 },
];

function atom(text: string, rule: FieldRule): number {
  const upper = text.toUpperCase();
  const named = rule.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + (rule.nameBase ?? 0);
  if (!/^\d{1,4}$/.test(text)) throw badRequest(`invalid cron ${rule.name} field: "${text.slice(0, 32)}" is not a number${rule.names ? ' or name' : ''}`);
  const n = Number(text);
  if (n < rule.min || n > rule.max) throw badRequest(`invalid cron ${rule.name} field: ${n} is outside ${rule.min}-${rule.max}`);
  return n;
}

/** Parses one field into its set of values, or undefined for `*` / `?`. */
function field(text: string, rule: FieldRule): Set<number> | undefined {
  if (text === '*' || text === '?') return undefined;
  if (/[LW#]/i.test(text.replace(/[A-Z]{3}/gi, (m) => (rule.names?.includes(m.toUpperCase()) ? 'X' : m)))) {
    throw badRequest(`cron ${rule.name} field: L, W and # are not supported by Coffer`);
  }
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1 || (stepText !== undefined && !/^\d{1,4}$/.test(stepText))) {
      throw badRequest(`invalid cron ${rule.name} field: bad step in "${part.slice(0, 32)}"`);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = rule.min;
      to = rule.max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      from = atom(a, rule);
      to = atom(b, rule);
      if (to < from) throw badRequest(`invalid cron ${rule.name} field: range "${range.slice(0, 32)}" runs backwards`);
    } else {
      from = atom(range, rule);
      to = stepText === undefined ? from : rule.max;
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

/**
 * Parses the inside of `cron(...)`. Throws bad_request naming the field that is wrong. `strict`
 * (when rules are being set) also requires AWS's "?" in exactly one day field; a stored rule
 * set before that check existed is still read, both restricted days meaning either may match.
 */
export function parseCron(expression: string, strict = false): CronSpec {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) throw badRequest('a cron expression needs six fields: minutes hours day-of-month month day-of-week year');
  const text = (i: number): string => parts[i] as string;
  const rule = (i: number): FieldRule => FIELDS[i] as FieldRule;
  const every = (i: number): Set<number> => {
    const s = new Set<number>();
    for (let n = rule(i).min; n <= rule(i).max; n++) s.add(n);
    return s;
  };
  const values = (i: number): Set<number> => field(text(i), rule(i)) ?? every(i);
  if (text(0) === '?' || text(1) === '?' || text(3) === '?' || text(5) === '?') {
    throw badRequest('"?" is only allowed in the day-of-month and day-of-week fields');
  }
  // As AWS requires: one day field says which days, the other is "?" (else it is unclear
  // whether both must match or either).
  if (strict && (text(2) === '?') === (text(4) === '?')) {
    throw badRequest('exactly one of day-of-month and day-of-week must be "?"');
  }
  const daysOfWeek = field(text(4), rule(4));
  return {
    minutes: values(0),
    hours: values(1),
    daysOfMonth: field(text(2), rule(2)),
    months: values(3),
    // AWS counts SUN = 1; Date.getUTCDay() counts Sunday = 0.
    daysOfWeek: daysOfWeek === undefined ? undefined : new Set([...daysOfWeek].map((d) => d - 1)),
    years: field(text(5), rule(5)),
  };
}

function dayMatches(spec: CronSpec, date: Date): boolean {
  if (spec.years && !spec.years.has(date.getUTCFullYear())) return false;
  if (!spec.months.has(date.getUTCMonth() + 1)) return false;
  const dom = spec.daysOfMonth?.has(date.getUTCDate());
  const dow = spec.daysOfWeek?.has(date.getUTCDay());
  // As in classic cron: both restricted means either may match.
  if (dom !== undefined && dow !== undefined) return dom || dow;
  return dom ?? dow ?? true;
}

/** The first minute strictly after `after` (ms) that matches; undefined when none within MAX_YEARS. */
export function nextCronTime(spec: CronSpec, after: number): number | undefined {
  const start = Math.floor(after / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const first = new Date(start);
  const hours = [...spec.hours].sort((a, b) => a - b);
  const minutes = [...spec.minutes].sort((a, b) => a - b);
  let day = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate());
  for (let i = 0; i < MAX_YEARS * 366; i++, day += 86_400_000) {
    if (!dayMatches(spec, new Date(day))) continue;
    for (const h of hours) {
      for (const m of minutes) {
        const t = day + h * 3_600_000 + m * MINUTE_MS;
        if (t >= start) return t;
      }
    }
  }
  return undefined;
}
