/**
 * Durations as Vault accepts and prints them: an integer number of seconds, or Go duration
 * strings such as "90s", "1h30m", "3h25m19s", "768h".
 */
import { badRequest } from './errors.js';

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;

/**
 * Go's time.Duration tops out at about 292 years; Vault refuses longer durations. So does
 * Coffer: every TTL is capped later, but a number this large would already break the date
 * arithmetic (and the RFC 3339 rendering) on its way there.
 */
export const MAX_DURATION_SECONDS = 9_223_372_036;

function inRange(seconds: number, field: string): number {
  if (seconds > MAX_DURATION_SECONDS) throw badRequest(`invalid ${field}: must be at most ${MAX_DURATION_SECONDS} seconds`);
  return seconds;
}

/**
 * Whole seconds, rounded down, except that a positive duration under a second counts as one:
 * 0 means "unset" (the default, or no limit) to every caller, so "500ms" must not become it.
 */
function wholeSeconds(seconds: number): number {
  return seconds > 0 && seconds < 1 ? 1 : Math.floor(seconds);
}

/**
 * Parses a duration into whole seconds (a positive one under a second gives 1, not 0). Accepts
 * numbers, numeric strings and Go duration strings. Empty string and undefined give `undefined` so callers can apply their default.
 * Throws a bad_request error naming `field` for anything else, including negative values.
 */
export function parseDurationSeconds(value: unknown, field = 'duration'): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw badRequest(`invalid ${field}: must be a non-negative duration`);
    return inRange(wholeSeconds(value), field);
  }
  if (typeof value !== 'string') throw badRequest(`invalid ${field}: must be a duration such as "1h" or a number of seconds`);
  const text = value.trim();
  if (/^\d+$/.test(text)) return inRange(Number(text), field);
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
    consumed = PART.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw badRequest(`invalid ${field}: must be a duration such as "1h" or a number of seconds`);
  }
  return inRange(wholeSeconds(total), field);
}

/** Formats whole seconds the way Go's time.Duration prints them ("0s", "1h0m0s", "3h25m19s"). */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
