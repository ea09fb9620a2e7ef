/**
 * Load tests: concurrent issuance must not fail, and the recommended group-role statements must
 * carry thousands of live credentials on one table.
 *
 * - 200 credentials, 16 at a time, with Vault's default per-table GRANT statements on the
 *   machine's PostgreSQL (measured here: ~44 % of such grants fail at 4 parallel connections
 *   without the plugin's ACL lane and retries).
 * - 5,000 live credentials with the group-role statements on a throwaway cluster
 *   (synchronous_commit=off), then all revoked.
 * Rates are printed as test diagnostics.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createScratchDatabase, MACHINE_PG, startPgCluster, tryLogin, uniqueSuffix, type PgCluster } from '../../../test/helpers/pg-cluster.js';
import { createDatabaseHarness, type DatabaseHarness, type FakeLease } from './harness.js';

/** Runs `work` over `count` indexes with at most `limit` in flight; rejects on the first failure. */
async function bounded<T>(count: number, limit: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return results;
}

const rate = (n: number, ms: number): string => `${n} in ${(ms / 1000).toFixed(2)} s = ${Math.round((n * 1000) / ms)}/s`;

const VAULT_DEFAULT_CREATE = `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";`;

let cluster: PgCluster;

before(async () => {
  cluster = await startPgCluster({ settings: { synchronous_commit: 'off', max_connections: '40' } });
});

after(async () => {
  await cluster.stop();
});

test('200 credentials issued 16 at a time with per-table GRANT statements all succeed', async (t) => {
  const db = await createScratchDatabase(MACHINE_PG);
  const role = `r${uniqueSuffix(6)}`;
  const h = createDatabaseHarness();
  t.after(async () => {
    await h.shutdown();
    await db.cleanup([`v-%-${role}-%`]);
  });
  await db.query('CREATE TABLE a (id int); CREATE TABLE b (id int)');
  await h.call('write', 'config/pg', {
    plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl,
    username: MACHINE_PG.adminUser, password: 'unused', allowed_roles: '*',
  });
  await h.call('write', `roles/${role}`, { db_name: 'pg', creation_statements: VAULT_DEFAULT_CREATE, default_ttl: '1h' });

  let start = Date.now();
  const sequential = await bounded(50, 1, () => h.creds(role));
  t.diagnostic(`per-table GRANT, sequential: ${rate(50, Date.now() - start)}`);

  start = Date.now();
  const issued = await bounded(200, 16, () => h.creds(role));
  t.diagnostic(`per-table GRANT, 16 in parallel: ${rate(200, Date.now() - start)}`);
  assert.equal(new Set(issued.map((c) => c.username)).size, 200);
  const [counted] = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_roles r WHERE r.rolname LIKE $1 AND has_table_privilege(r.oid, 'a', 'SELECT') AND has_table_privilege(r.oid, 'b', 'SELECT')`,
    [`v-%-${role}-%`]);
  assert.equal(Number(counted?.n), 250, 'every credential holds its grants');

  start = Date.now();
  await bounded(250, 16, (i) => h.revoke((i < 50 ? sequential[i] : issued[i - 50])?.lease as FakeLease));
  t.diagnostic(`per-table GRANT revocation, 16 in parallel: ${rate(250, Date.now() - start)}`);
  assert.deepEqual(await db.roles(`v-%-${role}-%`), []);
});

test('5,000 live credentials on one table with the group-role statements, then all revoked', async (t) => {
  const db = await createScratchDatabase(cluster);
  const role = `r${uniqueSuffix(6)}`;
  const group = `readers_${uniqueSuffix(6)}`;
  const h: DatabaseHarness = createDatabaseHarness();
  t.after(async () => {
    await h.shutdown();
    await db.cleanup([`v-%-${role}-%`, group]);
  });
  await db.query(`CREATE TABLE items (id int); INSERT INTO items VALUES (1); CREATE ROLE "${group}" NOLOGIN; GRANT SELECT ON items TO "${group}"`);
  await h.call('write', 'config/pg', {
    plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl,
    username: cluster.adminUser, password: cluster.adminPassword, allowed_roles: role, max_open_connections: 8,
  });
  await h.call('write', `roles/${role}`, {
    db_name: 'pg', default_ttl: '1h',
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "${group}";`],
  });

  let start = Date.now();
  const warmup = await bounded(100, 1, () => h.creds(role));
  t.diagnostic(`group role, sequential: ${rate(100, Date.now() - start)}`);
  start = Date.now();
  await bounded(100, 1, (i) => h.revoke(warmup[i]?.lease as FakeLease));
  t.diagnostic(`group role revocation, sequential: ${rate(100, Date.now() - start)}`);

  const total = 5000;
  start = Date.now();
  const issued = await bounded(total, 16, () => h.creds(role));
  const issueMs = Date.now() - start;
  t.diagnostic(`group role, 16 in parallel: ${rate(total, issueMs)}`);

  const [members] = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = $1`, [group]);
  assert.equal(Number(members?.n), total, 'all credentials are live at once');
  const sample = issued[total - 1];
  assert.ok(sample);
  assert.equal(await tryLogin(cluster, db.name, sample.username, sample.password), undefined);

  start = Date.now();
  await bounded(total, 16, (i) => h.revoke(issued[i]?.lease as FakeLease));
  t.diagnostic(`group role revocation, 16 in parallel: ${rate(total, Date.now() - start)}`);
  assert.deepEqual(await db.roles(`v-%-${role}-%`), []);
});
