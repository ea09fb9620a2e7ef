/**
 * The default answer to "did this fail because the credential is no longer accepted?", used by
 * `withRotation` to decide whether to fetch the secret again and retry.
 *
 * Recognised (by error code, never by free-form message text):
 *  - PostgreSQL (pg): SQLSTATE 28P01 invalid_password, 28000 invalid_authorization_specification
 *  - MySQL / MariaDB (mysql2): ER_ACCESS_DENIED_ERROR (errno 1045), MariaDB's
 *    ER_ACCESS_DENIED_NO_PASSWORD_ERROR (1698, for a user that no longer exists), or SQLSTATE 28000
 *  - Redis (ioredis, node-redis): replies whose error code (the first word of a Redis error
 *    reply, by protocol) is WRONGPASS or NOAUTH
 * The error's `cause` chain and an AggregateError's members are searched too (pools and
 * dual-stack connects wrap the driver's error). ioredis reports the refusal on the first command;
 * an explicit `connect()` with lazyConnect rejects with a generic "Connection is closed." that no
 * predicate can tell apart, so pass your own isAuthError if you use that form.
 */

const SQLSTATES: ReadonlySet<string> = new Set(['28P01', '28000']);
const MYSQL_CODES: ReadonlySet<string> = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR']);
const MYSQL_ERRNOS: ReadonlySet<number> = new Set([1045, 1698]);
const REDIS_CODES: ReadonlySet<string> = new Set(['WRONGPASS', 'NOAUTH']);

function matchesOne(err: object): boolean {
  const e = err as { code?: unknown; errno?: unknown; sqlState?: unknown; name?: unknown; message?: unknown };
  if (typeof e.code === 'string' && (SQLSTATES.has(e.code) || MYSQL_CODES.has(e.code))) return true;
  if (typeof e.errno === 'number' && MYSQL_ERRNOS.has(e.errno) && typeof e.sqlState === 'string') return true;
  if (typeof e.sqlState === 'string' && SQLSTATES.has(e.sqlState)) return true;
  // A Redis error reply is "<CODE> <text>"; the code is the protocol's, the rest is free text.
  if (typeof e.name === 'string' && /ReplyError$/.test(e.name) && typeof e.message === 'string') {
    const code = e.message.split(' ', 1)[0] ?? '';
    if (REDIS_CODES.has(code)) return true;
  }
  return false;
}

/** True when `err` (or an error it wraps) says the database refused the credential. */
export function isAuthError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length > 0 && seen.size < 16) {
    const current = stack.pop();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    if (matchesOne(current)) return true;
    const cause = (current as { cause?: unknown }).cause;
    if (cause !== undefined) stack.push(cause);
    if (current instanceof AggregateError) stack.push(...current.errors);
  }
  return false;
}
