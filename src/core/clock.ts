/**
 * Time as a dependency, so tests can move it instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests drive by hand. */
export interface ManualClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
}

export function createManualClock(startMs = Date.UTC(2026, 0, 1)): ManualClock {
  let current = startMs;
  return {
    now: () => current,
    set: (ms) => { current = ms; },
    advance: (ms) => { current += ms; },
  };
}

// Responses print the same stored times again and again (a secret's created_time on every
// read), and formatting one showed as 2.6 % of a KV read's CPU profile.
const RFC3339_MEMO_SIZE = 4096;
const rfc3339Memo = new Map<number, string>();

/** Go's RFC 3339 with nanoseconds, as Vault prints times. */
export function rfc3339(ms: number): string {
  let text = rfc3339Memo.get(ms);
  if (text === undefined) {
    text = formatRfc3339(ms);
    if (rfc3339Memo.size >= RFC3339_MEMO_SIZE) rfc3339Memo.clear();
    rfc3339Memo.set(ms, text);
  }
  return text;
}

function formatRfc3339(ms: number): string {
  // toISOString is always 'YYYY-MM-DDTHH:mm:ss.sssZ' for years 0–9999: pad the fraction to ns.
  const iso = new Date(ms).toISOString();
  return iso.length === 24 ? `${iso.slice(0, 23)}000000Z` : iso;
}
