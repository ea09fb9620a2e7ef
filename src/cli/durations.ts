/**
 * Duration flags (`-ttl=1h`, `-increment=30m`): checked locally so that a typo is a usage error
 * (exit 1) rather than a server round trip, then sent as Vault's CLI sends them.
 */
import { parseDurationSeconds } from '../core/duration.js';
import { CliError } from './errors.js';

/** Whole seconds, or undefined when the flag was not given. */
export function durationSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDurationSeconds(value, flag);
  } catch {
    throw new CliError(`invalid -${flag}: expected a duration such as 30m, 1h or 3600`);
  }
}

/** As a duration string ("3600s"), the form Vault's CLI sends for TTL fields. */
export function durationString(value: string | undefined, flag: string): string | undefined {
  const seconds = durationSeconds(value, flag);
  return seconds === undefined ? undefined : `${seconds}s`;
}
