/**
 * The SDK with real dynamic PostgreSQL credentials: a throwaway scram-sha-256 cluster (so a
 * stale password is really refused), the database engine over HTTP, and real time (the SDK's
 * timers are real, so the lease tests use TTLs of a few seconds).
 *
 * Shows: a credential handle renewing its lease and switching to a fresh credential before the
 * max TTL ends; withRotation recovering when the credential it held was revoked behind its back
 * (PostgreSQL refuses it with 28P01) and when a KV-held password was rotated; close() revoking
 * every lease the SDK created.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Coffer, isAuthError, type DatabaseCredential, type LeaseInfo } from '../../src/sdk/index.js';
import { createScratchDatabase, startPgCluster, tryLogin, uniqueSuffix, type PgCluster, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const waitFor = async (check: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  return check();
};

describe('SDK dynamic database credentials and withRotation', () => {
  let cluster: PgCluster;
  let db: ScratchDatabase;
  let server: TestServer;
  let root: string;
  const clients: Coffer[] = [];
  const coffer = (errors: unknown[] = []): Coffer => {
    const c = new Coffer({ address: server.url, token: root, onError: (err) => errors.push(err) });
    clients.push(c);
    return c;
  };
  const leaseStatus = async (leaseId: string): Promise<number> => (await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: leaseId } })).status;
  const leasesOf = async (role: string): Promise<string[]> => {
    const res = await api(server, 'LIST', `sys/leases/lookup/database/creds/${role}/`, { token: root });
    return res.status === 404 ? [] : res.body.data.keys.map((k: string) => `database/creds/${role}/${k}`);
  };
  const roleExists = async (name: string): Promise<boolean> => (await db.roles(name)).length === 1;

  /** Connects as the credential and runs a query; the driver's own errors escape unchanged. */
  const queryAs = async (cred: { username: string; password: string }): Promise<string> => {
    const client = new pg.Client({ connectionString: db.url(cred.username, cred.password), connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.query<{ name: string }>('SELECT name FROM items WHERE id = 1')).rows[0]?.name ?? '';
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  before(async () => {
    cluster = await startPgCluster();
    db = await createScratchDatabase(cluster);
    await db.query('CREATE TABLE items (id int primary key, name text)');
    await db.query("INSERT INTO items VALUES (1, 'one')");
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    assert.equal((await api(server, 'POST', 'sys/mounts/database', { token: root, body: { type: 'database' } })).status, 204);
    const config = await api(server, 'POST', 'database/config/pg', {
      token: root,
      body: { plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl, username: cluster.adminUser, password: cluster.adminPassword, allowed_roles: ['*'] },
    });
    assert.ok(config.status === 204 || config.status === 200, JSON.stringify(config.body));
    const creation = [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`, `GRANT SELECT ON items TO "{{name}}";`];
    for (const [name, ttl, max] of [['short', '4s', '6s'], ['app', '1h', '2h']] as const) {
      const role = await api(server, 'POST', `database/roles/${name}`, { token: root, body: { db_name: 'pg', creation_statements: creation, default_ttl: ttl, max_ttl: max } });
      assert.ok(role.status === 204 || role.status === 200, JSON.stringify(role.body));
    }
  });

  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await server?.destroy();
    await db?.cleanup(['v-%', 'sdk_kv_%']).catch(() => undefined);
    await cluster?.stop();
  });

  it('renews the lease in the background and switches to a fresh credential before the max TTL ends', async () => {
    const errors: unknown[] = [];
    const renewals: LeaseInfo[] = [];
    const rotations: Array<{ next: DatabaseCredential; previous: DatabaseCredential; at: number }> = [];
    const issuedAt = Date.now();
    const handle = await coffer(errors).db.credentials('short', {
      onRenew: (info) => renewals.push(info),
      onRotate: (next, previous) => rotations.push({ next, previous, at: Date.now() }),
    });
    const first = handle.current;
    const firstLease = handle.leaseId;
    assert.match(firstLease, /^database\/creds\/short\//);
    assert.equal(await queryAs(first), 'one');

    assert.ok(await waitFor(() => rotations.length === 1, 7000), 'a fresh credential arrived');
    const rotation = rotations[0]!;
    assert.ok(renewals.length >= 1, 'the lease was renewed first');
    assert.equal(renewals[0]?.leaseId, firstLease);
    assert.ok(rotation.at < issuedAt + 6000, `rotated ${rotation.at - issuedAt} ms after issue, before the 6 s max TTL`);
    assert.equal(rotation.previous.username, first.username);
    assert.notEqual(rotation.next.username, first.username);
    assert.deepEqual(handle.current, rotation.next);
    assert.notEqual(handle.leaseId, firstLease);
    assert.equal(await queryAs(handle.current), 'one', 'the fresh credential works');

    const secondLease = handle.leaseId;
    await handle.revoke();
    assert.equal(await leaseStatus(secondLease), 400, 'revoke() revoked the current lease');
    assert.equal(await roleExists(rotation.next.username), false);
    assert.equal(await leaseStatus(firstLease), 400, 'the replaced lease is gone too');
    assert.equal(await roleExists(first.username), false);
    assert.deepEqual(errors, []);
  });

  it('reads fresh credentials under the new token after a re-login, before the old token takes its leases with it', async () => {
    const policy = [
      'path "database/creds/app" { capabilities = ["read"] }',
      'path "sys/leases/renew" { capabilities = ["update"] }',
      'path "sys/leases/revoke" { capabilities = ["update"] }',
    ].join('\n');
    assert.equal((await api(server, 'PUT', 'sys/policies/acl/db-app', { token: root, body: { policy } })).status, 204);
    assert.equal((await api(server, 'POST', 'sys/auth/approle', { token: root, body: { type: 'approle' } })).status, 204);
    await api(server, 'POST', 'auth/approle/role/db-app', { token: root, body: { token_policies: ['db-app'], token_ttl: '4s', token_max_ttl: '5s' } });
    const roleId = (await api(server, 'GET', 'auth/approle/role/db-app/role-id', { token: root })).body.data.role_id;
    const secretId = (await api(server, 'POST', 'auth/approle/role/db-app/secret-id', { token: root })).body.data.secret_id;

    const errors: unknown[] = [];
    const c = new Coffer({ address: server.url, onError: (err) => errors.push(err) });
    clients.push(c);
    const started = Date.now();
    await c.loginAppRole({ roleId, secretId });
    const firstToken = c.token;
    const rotations: DatabaseCredential[] = [];
    const handle = await c.db.credentials('app', { onRotate: (next) => rotations.push(next) });
    const first = handle.current;
    assert.ok(await waitFor(() => rotations.length === 1, 6000), 'fresh credentials after the re-login');
    assert.notEqual(c.token, firstToken);
    // Once the first token has ended (and the server's sweep ran), its lease and user are gone;
    // the credential read under the new token lives on.
    await new Promise((r) => setTimeout(r, Math.max(0, started + 5500 - Date.now())));
    assert.equal((await api(server, 'POST', 'auth/token/tidy', { token: root })).status, 202);
    assert.equal(await roleExists(first.username), false, 'the first user went with the first token');
    assert.equal(await queryAs(handle.current), 'one', 'the credential read under the new token still works');
    const lease = handle.leaseId;
    await c.close();
    assert.equal(await leaseStatus(lease), 400);
    assert.deepEqual(errors, []);
  });

  it('a credential handle whose lease this client revokes reads a fresh credential at once', async () => {
    const errors: unknown[] = [];
    const c = coffer(errors);
    const rotations: DatabaseCredential[] = [];
    const handle = await c.db.credentials('app', { onRotate: (next) => rotations.push(next) });
    const first = handle.current;
    const firstLease = handle.leaseId;
    await c.revokeLease(firstLease);
    assert.equal(rotations.length, 1, 'replaced before revokeLease returned');
    assert.notEqual(handle.current.username, first.username);
    assert.notEqual(handle.leaseId, firstLease);
    assert.equal(await roleExists(first.username), false);
    assert.equal(await queryAs(handle.current), 'one', 'the fresh credential works');
    await c.close();
    assert.deepEqual(await leasesOf('app'), []);
    assert.deepEqual(errors, []);
  });

  it('withRotation recovers when the credential it held was revoked behind its back', async () => {
    const c = coffer();
    const seen: unknown[] = [];
    const used: string[] = [];
    const work = (cred: DatabaseCredential): Promise<string> => {
      used.push(cred.username);
      return queryAs(cred);
    };
    const options = { isAuthError: (err: unknown) => (seen.push(err), isAuthError(err)) };
    assert.equal(await c.withRotation('database/creds/app', work, options), 'one');
    assert.equal(await c.withRotation('database/creds/app', work, options), 'one', 'the cached credential is reused');
    assert.equal(used.length, 2);
    assert.equal(used[0], used[1]);
    const [lease] = await leasesOf('app');
    assert.ok(lease);

    // A rotation the application did not see: the operator revokes the lease, the user is dropped.
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: lease } })).status, 204);
    assert.equal(await roleExists(used[0] as string), false);

    assert.equal(await c.withRotation('database/creds/app', work, options), 'one');
    assert.equal(used.length, 4, 'one failed attempt, one retry');
    assert.equal(used[2], used[0], 'first with the stale credential');
    assert.notEqual(used[3], used[0], 'then with a fresh one');
    assert.equal(seen.length, 1);
    assert.equal((seen[0] as { code?: string }).code, '28P01', 'PostgreSQL refused the stale password');

    const failure = new Error('a bug in the application');
    await assert.rejects(c.withRotation('database/creds/app', () => Promise.reject(failure)), (err) => err === failure, 'other failures are not retried');

    await c.close();
    assert.deepEqual(await leasesOf('app'), [], 'close() revoked the lease withRotation created');
    assert.equal(await roleExists(used[3] as string), false);
  });

  it('withRotation re-reads a KV-held password after a rotation and checks in the version it used', async () => {
    const user = `sdk_kv_${uniqueSuffix()}`;
    await db.query(`CREATE ROLE ${user} LOGIN PASSWORD 'first-Passw0rd'`);
    await db.query(`GRANT SELECT ON items TO ${user}`);
    const store = async (password: string): Promise<void> => {
      assert.equal((await api(server, 'POST', 'secret/data/pg-user', { token: root, body: { data: { username: user, password } } })).status, 200);
    };
    await store('first-Passw0rd');
    const c = coffer();
    const options = { consumer: { name: 'sdk-test' } };
    assert.equal(await c.withRotation<DatabaseCredential, string>('secret/data/pg-user', queryAs, options), 'one');

    await db.query(`ALTER ROLE ${user} PASSWORD 'second-Passw0rd'`);
    await store('second-Passw0rd');
    let attempts = 0;
    const result = await c.withRotation<DatabaseCredential, string>('secret/data/pg-user', (cred) => {
      attempts += 1;
      return queryAs(cred);
    }, options);
    assert.equal(result, 'one');
    assert.equal(attempts, 2);
    assert.equal(await tryLogin(cluster, db.name, user, 'first-Passw0rd') !== undefined, true, 'the old password really is refused');

    const consumers = (await api(server, 'GET', 'sys/consumers?path=secret/data/pg-user', { token: root })).body.data.consumers;
    assert.equal(consumers.length, 1);
    assert.equal(consumers[0].name, 'sdk-test');
    assert.equal(consumers[0].version, 2, 'checked in with the version that worked');
  });
});
