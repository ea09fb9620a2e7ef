/**
 * The SDK's default isAuthError against the real drivers' errors for a refused password: the
 * machine's MariaDB (mysql2) and Redis (ioredis), and a scram-sha-256 PostgreSQL cluster (pg),
 * plus failures of the same drivers that are not authentication failures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { isAuthError } from '../../src/sdk/index.js';
import { freePort, startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';

const failure = async (fn: () => Promise<unknown>): Promise<unknown> => {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a failure');
};

describe('isAuthError with real database drivers', () => {
  let cluster: PgCluster;
  before(async () => {
    cluster = await startPgCluster();
  });
  after(() => cluster?.stop());

  it('recognises PostgreSQL refusing a password (pg)', async () => {
    const client = new pg.Client({ connectionString: cluster.url(cluster.adminUser, 'not-the-password') });
    client.on('error', () => undefined);
    const err = await failure(() => client.connect());
    assert.equal((err as { code?: string }).code, '28P01');
    assert.equal(isAuthError(err), true);
    const missing = new pg.Client({ connectionString: cluster.url(cluster.adminUser, cluster.adminPassword, 'no_such_database') });
    missing.on('error', () => undefined);
    const notAuth = await failure(() => missing.connect());
    assert.equal((notAuth as { code?: string }).code, '3D000');
    assert.equal(isAuthError(notAuth), false, 'a missing database is not an authentication failure');
  });

  it('recognises MySQL/MariaDB refusing a password (mysql2)', async () => {
    // A wrong password for an existing user (a rotated static role) and a dropped user (a revoked dynamic one).
    const wrongPassword = await failure(() => createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: 'wrong-password' }));
    assert.equal((wrongPassword as { errno?: number }).errno, 1045);
    assert.equal(isAuthError(wrongPassword), true);
    const droppedUser = await failure(() => createConnection({ host: '127.0.0.1', port: 3306, user: 'coffer_no_such_user', password: 'wrong-password' }));
    assert.ok([1045, 1698].includes((droppedUser as { errno?: number }).errno ?? 0));
    assert.equal(isAuthError(droppedUser), true);
    const closed = await failure(async () => createConnection({ host: '127.0.0.1', port: await freePort(), user: 'x', password: 'y', connectTimeout: 2000 }));
    assert.equal(isAuthError(closed), false, 'a refused connection is not an authentication failure');
  });

  it('recognises Redis refusing a password (ioredis)', async () => {
    // The AUTH reply fails the application's first command (an explicit lazy connect() only says "Connection is closed.").
    const redis = new Redis({ host: '127.0.0.1', port: 6379, username: 'coffer-no-such-user', password: 'wrong-password', maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      const err = await failure(() => redis.get('anything'));
      assert.match(String((err as Error).message), /^WRONGPASS/);
      assert.equal(isAuthError(err), true);
    } finally {
      redis.disconnect();
    }
  });
});
