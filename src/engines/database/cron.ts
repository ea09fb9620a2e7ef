/**
 * Standard five-field cron expressions for a static role's `rotation_schedule`
 * (minute hour day-of-month month day-of-week), as Vault reads them (robfig/cron's standard
 * parser): `*`, `?`, lists `a,b`, ranges `a-b`, steps `*\/n`, `a-b/n` and `a/n`, month and weekday
 * names (JAN, SAT), Sunday as 0 or 7, and the descriptors @yearly, @annually, @monthly, @weekly,
 * @daily, @midnight and @hourly. Times are UTC.
 *
 * Written here rather than taken from npm: the grammar is small, the engine needs only "the next
 * matching minute after t", and the project keeps its runtime dependencies few.
 * Must never: accept an expression it cannot schedule (one that never fires, such as 30 February,
 * is refused at parse time rather than silently never rotating).
 */
import { badRequest } from '../../core/errors.js';

export interface CronSchedule {
  readonly source: string;
  /** The first matching minute strictly after `afterMs`, or undefined when none within 5 years. */
  next(afterMs: number): number | undefined;
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  // 7 is Sunday too; it is folded into 0 below.
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MINUTE_MS = 60_000;
const SEARCH_YEARS = 5;

interface Field {
  readonly values: ReadonlySet<number>;
  /** Written as a bare `*` or `?`: day-of-month and day-of-week then combine with AND. */
  readonly star: boolean;
}

function parseValue(text: string, spec: FieldSpec): number {
  const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  // Month names count from 1, weekday names from 0.
  if (named >= 0) return spec.min === 1 ? named + 1 : named;
  if (!/^\d{1,2}$/.test(text)) throw badRequest(`invalid rotation_schedule: bad ${spec.name} value`);
  const value = Number(text);
  if (value < spec.min || value > spec.max) {
    throw badRequest(`invalid rotation_schedule: ${spec.name} must be from ${spec.min} to ${spec.max}`);
  }
  return value;
}

function parseField(text: string, spec: FieldSpec): Field {
  const values = new Set<number>();
  let star = false;
  for (const item of text.split(',')) {
    const [range = '', stepText, extra] = item.split('/');
    if (extra !== undefined || range === '') throw badRequest(`invalid rotation_schedule: bad ${spec.name} field`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,2}$/.test(stepText) || Number(stepText) === 0) throw badRequest(`invalid rotation_schedule: bad ${spec.name} step`);
      step = Number(stepText);
    }
    let low: number;
    let high: number;
    if (range === '*' || range === '?') {
      [low, high] = [spec.min, spec.max];
      if (step === 1) star = true;
    } else if (range.includes('-')) {
      const [a = '', b = '', more] = range.split('-');
      if (more !== undefined) throw badRequest(`invalid rotation_schedule: bad ${spec.name} range`);
      [low, high] = [parseValue(a, spec), parseValue(b, spec)];
      if (low > high) throw badRequest(`invalid rotation_schedule: ${spec.name} range runs backwards`);
    } else {
      low = parseValue(range, spec);
      // `a/n` means "from a to the end, every n", as in robfig/cron.
      high = stepText === undefined ? low : spec.max;
    }
    for (let v = low; v <= high; v += step) values.add(v);
  }
  if (spec.name === 'day of week' && values.delete(7)) values.add(0);
  return { values, star };
}

/** Parses and validates an expression; throws a 400 naming what is wrong (never echoing it). */
export function parseCron(source: string): CronSchedule {
  const trimmed = source.trim();
  const expanded = DESCRIPTORS[trimmed.toLowerCase()] ?? trimmed;
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) throw badRequest('invalid rotation_schedule: expected 5 fields (minute hour day-of-month month day-of-week)');
  const [minute, hour, dom, month, dow] = parts.map((part, i) => parseField(part, FIELDS[i] as FieldSpec)) as [Field, Field, Field, Field, Field];

  const dayMatches = (date: Date): boolean => {
    const domHit = dom.values.has(date.getUTCDate());
    const dowHit = dow.values.has(date.getUTCDay());
    // Standard cron: when both day fields are restricted, either one may match.
    return dom.star || dow.star ? domHit && dowHit : domHit || dowHit;
  };

  const next = (afterMs: number): number | undefined => {
    let t = Math.floor(afterMs / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    const limit = t + SEARCH_YEARS * 366 * 24 * 3600 * 1000;
    // Each miss jumps to the start of the next month, day, hour or minute, so a search over
    // years takes at most a few thousand steps.
    while (t < limit) {
      const d = new Date(t);
      const [y, mo, day, h] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
      if (!month.values.has(mo + 1)) t = Date.UTC(y, mo + 1, 1);
      else if (!dayMatches(d)) t = Date.UTC(y, mo, day + 1);
      else if (!hour.values.has(h)) t = Date.UTC(y, mo, day, h + 1);
      else if (!minute.values.has(d.getUTCMinutes())) t += MINUTE_MS;
      else return t;
    }
    return undefined;
  };

  // 29 February fires within 4 years of any moment; 30 February never does.
  if (next(Date.UTC(2024, 2, 1)) === undefined) throw badRequest('invalid rotation_schedule: it never fires');
  return { source: trimmed, next };
}
