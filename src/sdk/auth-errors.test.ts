import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAuthError } from './auth-errors.js';

/** Errors shaped as the drivers raise them (the integration tests check the real drivers). */
const pgError = (code: string): Error => Object.assign(new Error('password authentication failed for user "x"'), { code, severity: 'FATAL' });
const mysqlError = (): Error => Object.assign(new Error("Access denied for user 'x'@'localhost'"), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045, sqlState: '28000' });
const redisError = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });

describe('default authentication-failure predicate', () => {
  it('recognises PostgreSQL, MySQL and Redis credential refusals by their codes', () => {
    assert.equal(isAuthError(pgError('28P01')), true);
    assert.equal(isAuthError(pgError('28000')), true);
    assert.equal(isAuthError(mysqlError()), true);
    assert.equal(isAuthError(redisError('WRONGPASS invalid username-password pair or user is disabled.')), true);
    assert.equal(isAuthError(redisError('NOAUTH Authentication required.')), true);
  });

  it('does not treat other failures as authentication failures', () => {
    assert.equal(isAuthError(pgError('42501')), false, 'insufficient_privilege is a grant problem, not a stale credential');
    assert.equal(isAuthError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), false);
    assert.equal(isAuthError(redisError('ERR unknown command')), false);
    assert.equal(isAuthError(new Error('WRONGPASS in a message of some other error')), false, 'message text alone is not enough');
    assert.equal(isAuthError(undefined), false);
    assert.equal(isAuthError('28P01'), false);
  });

  it('finds the refusal inside a cause chain or an AggregateError', () => {
    assert.equal(isAuthError(new Error('pool failed', { cause: pgError('28P01') })), true);
    assert.equal(isAuthError(new AggregateError([new Error('ipv6 failed'), mysqlError()], 'all failed')), true);
    const loop: { cause?: unknown } = new Error('loop');
    loop.cause = loop;
    assert.equal(isAuthError(loop), false);
  });
});
