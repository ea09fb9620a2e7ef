/**
 * Dynamic PostgreSQL credentials end to end, over real HTTP, against a throwaway PostgreSQL
 * cluster with scram-sha-256 authentication (the machine's own server trusts every local
 * connection, so a login there would prove nothing about a password).
 *
 * Time is an injected clock: TTLs pass by advancing it, and `sys/leases/tidy` runs the expiry
 * worker's pass at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createManualClock } from '../../src/core/clock.js';
import { createScratchDatabase, startPgCluster, tryLogin, type PgCluster, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { mountPostgres } from '../helpers/database-mount.js';
import { rmSync } from 'node:fs';
import { api, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

describe('dynamic PostgreSQL credentials and their leases', () => {
  const clock = createManualClock(Date.now());
  const dataDir = tempDir();
  let cluster: PgCluster;
  let db: ScratchDatabase;
  let server: TestServer;
  let root: string;
  const readersRole = 'app_readers';

  const creds = async (token = root, role = 'readonly'): Promise<{ leaseId: string; username: string; password: string; duration: number }> => {
    const response = await api(server, 'GET', `database/creds/${role}`, { token });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return { leaseId: response.body.lease_id, username: response.body.data.username, password: response.body.data.password, duration: response.body.lease_duration };
  };
  const roleExists = async (name: string): Promise<boolean> => (await db.roles(name)).length === 1;
  const tidy = async (): Promise<void> => {
    assert.equal((await api(server, 'PUT', 'sys/leases/tidy', { token: root })).status, 202);
  };

  before(async () => {
    cluster = await startPgCluster();
    db = await createScratchDatabase(cluster);
    await db.query('CREATE TABLE items (id int primary key, name text)');
    await db.query("INSERT INTO items VALUES (1, 'one')");
    await db.query(`CREATE ROLE ${readersRole} NOLOGIN`);
    await db.query(`GRANT SELECT ON items TO ${readersRole}`);
    server = await startTestServer({ dev: true, dataDir, keepDataDir: true, clock });
    root = server.rootToken as string;
    assert.equal((await api(server, 'POST', 'sys/mounts/database', { token: root, body: { type: 'database' } })).status, 204);
    const config = await api(server, 'POST', 'database/config/pg', {
      token: root,
      body: {
        plugin_name: 'postgresql-database-plugin',
        connection_url: db.templateUrl,
        username: cluster.adminUser,
        password: cluster.adminPassword,
        allowed_roles: ['readonly', 'per-table'],
      },
    });
    assert.ok(config.status === 204 || config.status === 200, JSON.stringify(config.body));
    const role = await api(server, 'POST', 'database/roles/readonly', {
      token: root,
      body: {
        db_name: 'pg',
        creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE ${readersRole};`],
        default_ttl: '1h',
        max_ttl: '2h',
      },
    });
    assert.ok(role.status === 204 || role.status === 200, JSON.stringify(role.body));
  });

  after(async () => {
    await server?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
    await db?.cleanup(['v-%']).catch(() => undefined);
    await cluster?.stop();
  });

  it('issues a credential that logs in and can do exactly what its statements grant', async () => {
    const cred = await creds();
    assert.match(cred.leaseId, /^database\/creds\/readonly\/[0-9A-Za-z]{24}$/);
    assert.equal(cred.duration, 3600);
    assert.match(cred.username, /^v-root-readonly-[0-9a-z]+-\d+$/);
    assert.equal(await tryLogin(cluster, db.name, cred.username, cred.password), undefined);
    assert.match((await tryLogin(cluster, db.name, cred.username, cred.password + 'x')) ?? '', /password authentication failed/);
    const client = new pg.Client({ connectionString: db.url(cred.username, cred.password) });
    await client.connect();
    try {
      assert.equal((await client.query('SELECT name FROM items')).rows[0]?.name, 'one');
      await assert.rejects(client.query("INSERT INTO items VALUES (2, 'two')"), /permission denied/);
    } finally {
      await client.end();
    }
    await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: cred.leaseId } });
  });

  it('removes the user on revoke, so it can no longer log in', async () => {
    const cred = await creds();
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: cred.leaseId } })).status, 204);
    assert.equal(await roleExists(cred.username), false);
    assert.ok(await tryLogin(cluster, db.name, cred.username, cred.password));
    assert.equal((await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: cred.leaseId } })).status, 400);
  });

  it('removes the user when the TTL passes', async () => {
    const cred = await creds();
    clock.advance(3600_000 + 1000);
    await tidy();
    assert.equal(await roleExists(cred.username), false);
  });

  it('renews the lease and the database-side validity, up to the max TTL and no further', async () => {
    const cred = await creds();
    const validUntil = async (): Promise<number> =>
      ((await db.query<{ v: Date }>('SELECT rolvaliduntil AS v FROM pg_roles WHERE rolname = $1', [cred.username]))[0]?.v as Date).getTime();
    const first = await validUntil();
    clock.advance(30 * 60_000);
    const renewed = await api(server, 'PUT', 'sys/leases/renew', { token: root, body: { lease_id: cred.leaseId, increment: '1h' } });
    assert.equal(renewed.status, 200);
    assert.equal(renewed.body.lease_duration, 3600);
    assert.equal(renewed.body.lease_id, cred.leaseId);
    const second = await validUntil();
    assert.ok(second > first, 'VALID UNTIL moved forward');
    assert.ok(Math.abs(second - (clock.now() + 3600_000)) < 2000);
    clock.advance(50 * 60_000);
    const capped = await api(server, 'PUT', 'sys/leases/renew', { token: root, body: { lease_id: cred.leaseId, increment: '1h' } });
    // Issued 80 minutes ago with a 2h max: 40 minutes remain.
    assert.equal(capped.status, 200, JSON.stringify(capped.body));
    assert.equal(capped.body.lease_duration, 2400);
    assert.match(capped.body.warnings[0], /capped/);
    assert.ok(Math.abs((await validUntil()) - (clock.now() + 2400_000)) < 2000, 'VALID UNTIL capped too');
    clock.advance(2400_000 + 1000);
    await tidy();
    assert.equal(await roleExists(cred.username), false);
  });

  it("revokes a token's credentials with the token", async () => {
    await api(server, 'PUT', 'sys/policies/acl/db-reader', { token: root, body: { policy: 'path "database/creds/readonly" { capabilities = ["read"] }' } });
    const token = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['db-reader'] } })).body.auth.client_token;
    const cred = await creds(token);
    assert.equal(await roleExists(cred.username), true);
    assert.equal((await api(server, 'POST', 'auth/token/revoke', { token: root, body: { token } })).status, 204);
    assert.equal(await roleExists(cred.username), false);
  });

  it('leaves no credential behind when the token is revoked while credentials are being issued', async (t) => {
    await api(server, 'PUT', 'sys/policies/acl/db-reader', { token: root, body: { policy: 'path "database/creds/readonly" { capabilities = ["read"] }' } });
    const token = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['db-reader'] } })).body.auth.client_token;
    const issuing = Array.from({ length: 10 }, () => api(server, 'GET', 'database/creds/readonly', { token }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal((await api(server, 'POST', 'auth/token/revoke', { token: root, body: { token } })).status, 204);
    const answers = await Promise.all(issuing);
    // Each request either lost the race outright (403) or got a credential that the token's
    // revocation then removed; none may survive its token.
    t.diagnostic(`statuses while the token was revoked: ${answers.map((a) => a.status).join(',')}`);
    const usernames = answers.filter((a) => a.status === 200).map((a) => a.body.data.username as string);
    assert.ok(answers.every((a) => a.status === 200 || a.status === 403), answers.map((a) => a.status).join(','));
    for (const name of usernames) {
      const deadline = Date.now() + 10_000;
      while ((await roleExists(name)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await roleExists(name), false, 'a credential outlived its revoked token');
    }
    const leases = await api(server, 'LIST', 'sys/leases/lookup/database/creds/readonly', { token: root });
    const live = (leases.body?.data?.keys ?? []) as string[];
    for (const answer of answers.filter((a) => a.status === 200)) {
      assert.equal(live.includes((answer.body.lease_id as string).split('/').pop() as string), false, 'its lease is gone too');
    }
  });

  it('leaves no credential of a mount behind when the mount is disabled while credentials are being issued', async () => {
    await mountPostgres(server, root, {
      mount: 'race-db',
      cluster,
      db,
      roles: { r: { creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' IN ROLE ${readersRole};`], default_ttl: '1h' } },
    });
    let disabled = false;
    const issued: string[] = [];
    const issuer = async (): Promise<void> => {
      while (!disabled) {
        const answer = await api(server, 'GET', 'race-db/creds/r', { token: root });
        if (answer.status === 200) issued.push(answer.body.data.username as string);
      }
    };
    const issuers = [issuer(), issuer(), issuer(), issuer()];
    while (issued.length < 8) await new Promise((resolve) => setTimeout(resolve, 5));
    const disable = await api(server, 'DELETE', 'sys/mounts/race-db', { token: root });
    disabled = true;
    await Promise.all(issuers);
    assert.equal(disable.status, 204, JSON.stringify(disable.body));
    for (const name of issued) assert.equal(await roleExists(name), false, `${name} outlived its mount`);
    assert.equal((await api(server, 'LIST', 'sys/leases/lookup/race-db/', { token: root })).status, 404, 'no lease of the mount is left');
  });

  it('keeps a mount whose disable failed out of service, until a disable succeeds', async () => {
    await mountPostgres(server, root, {
      mount: 'stuck-db',
      cluster,
      db,
      roles: { r: { creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' IN ROLE ${readersRole};`], revocation_statements: ['SELECT 1/0;'], default_ttl: '1h' } },
    });
    const issued = await api(server, 'GET', 'stuck-db/creds/r', { token: root });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const refused = await api(server, 'DELETE', 'sys/mounts/stuck-db', { token: root });
    assert.equal(refused.status, 502, JSON.stringify(refused.body));
    assert.equal((await api(server, 'GET', 'stuck-db/creds/r', { token: root })).status, 404, 'no new credential from a mount being disabled');
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke-force/stuck-db/', { token: root })).status, 204);
    assert.equal((await api(server, 'DELETE', 'sys/mounts/stuck-db', { token: root })).status, 204);
    await db.query(`DROP ROLE IF EXISTS "${issued.body.data.username as string}"`);
  });

  it('revokes the tokens of an auth method when it is disabled, and their credentials with them', async () => {
    assert.equal((await api(server, 'POST', 'sys/auth/up-gone', { token: root, body: { type: 'userpass' } })).status, 204);
    await api(server, 'PUT', 'sys/policies/acl/db-reader', { token: root, body: { policy: 'path "database/creds/readonly" { capabilities = ["read"] }' } });
    assert.equal((await api(server, 'POST', 'auth/up-gone/users/alice', { token: root, body: { password: 'correct horse battery', token_policies: ['db-reader'] } })).status, 204);
    const login = await api(server, 'POST', 'auth/up-gone/login/alice', { body: { password: 'correct horse battery' } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const token = login.body.auth.client_token as string;
    const cred = await creds(token);
    assert.equal(await roleExists(cred.username), true);
    assert.equal((await api(server, 'DELETE', 'sys/auth/up-gone', { token: root })).status, 204);
    assert.equal((await api(server, 'GET', 'auth/token/lookup-self', { token })).status, 403);
    assert.equal(await roleExists(cred.username), false, 'the credential went with its token');
  });

  it('revokes an expired token\'s credentials within seconds of its expiry', async () => {
    await api(server, 'PUT', 'sys/policies/acl/db-reader', { token: root, body: { policy: 'path "database/creds/readonly" { capabilities = ["read"] }' } });
    const token = (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['db-reader'], ttl: '60s' } })).body.auth.client_token;
    const cred = await creds(token);
    clock.advance(61_000);
    const deadline = Date.now() + 5_000;
    while ((await roleExists(cred.username)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await roleExists(cred.username), false, 'the credential outlived its expired token');
  });

  it('revokes a prefix in the background with sync=false, answering 202 at once', async () => {
    const issued = [await creds(), await creds()];
    const answer = await api(server, 'PUT', 'sys/leases/revoke-prefix/database/creds/readonly', { token: root, body: { sync: false } });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    for (const cred of issued) {
      const deadline = Date.now() + 10_000;
      while ((await roleExists(cred.username)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await roleExists(cred.username), false);
    }
  });

  it('revokes with sync=false a lease that is already gone, as Vault does, and refuses a missing lease_id', async () => {
    const cred = await creds();
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: cred.leaseId } })).status, 204);
    const again = await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: cred.leaseId, sync: false } });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    const missing = await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { sync: false } });
    assert.equal(missing.status, 400);
  });

  it('keeps retrying while the database is down and removes the user once it is back', async () => {
    const cred = await creds();
    await cluster.stopServer();
    try {
      clock.advance(3600_000 + 1000);
      await tidy();
      const lookup = await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: cred.leaseId } });
      assert.equal(lookup.status, 200, 'the lease is kept, not dropped');
      assert.equal(lookup.body.data.revocation_attempts, 1);
      assert.ok(lookup.body.data.last_error.length > 0);
      assert.equal(lookup.body.data.last_error.includes(cluster.adminPassword), false);
    } finally {
      await cluster.startServer();
    }
    clock.advance(60_000);
    await tidy();
    assert.equal(await roleExists(cred.username), false);
    assert.equal((await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: cred.leaseId } })).status, 400);
  });

  it('spends one attempt per lease, not two, on a revoke-prefix with sync=false while the database is down', async () => {
    const cred = await creds();
    await cluster.stopServer();
    try {
      const answer = await api(server, 'PUT', 'sys/leases/revoke-prefix/database/creds/readonly', { token: root, body: { sync: false } });
      assert.equal(answer.status, 202);
      const attempts = async (): Promise<number> =>
        (await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: cred.leaseId } })).body.data.revocation_attempts ?? 0;
      const deadline = Date.now() + 10_000;
      while ((await attempts()) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(await attempts(), 1, 'the worker tried once; nothing else spent an attempt');
    } finally {
      await cluster.startServer();
    }
    clock.advance(3_600_000);
    await tidy();
    assert.equal(await roleExists(cred.username), false);
  });

  it('loses no lease across a server restart', async () => {
    const cred = await creds();
    await server.close();
    server = await startTestServer({ dev: true, dataDir, keepDataDir: true, clock });
    const lookup = await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: cred.leaseId } });
    assert.equal(lookup.status, 200);
    clock.advance(3600_000 + 1000);
    await tidy();
    assert.equal(await roleExists(cred.username), false);
  });

  it('issues 200 credentials 16 at a time with per-table GRANT statements, all successfully', async () => {
    const role = await api(server, 'POST', 'database/roles/per-table', {
      token: root,
      body: {
        db_name: 'pg',
        creation_statements: [
          `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
          'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";',
        ],
        default_ttl: '1h',
      },
    });
    assert.ok(role.status === 200 || role.status === 204);
    const statuses: number[] = [];
    for (let i = 0; i < 200; i += 16) {
      const batch = await Promise.all(Array.from({ length: Math.min(16, 200 - i) }, () => api(server, 'GET', 'database/creds/per-table', { token: root })));
      statuses.push(...batch.map((r) => r.status));
    }
    const failure = statuses.find((s) => s !== 200);
    if (failure !== undefined) assert.fail(JSON.stringify((await api(server, 'GET', 'database/creds/per-table', { token: root })).body));
    assert.equal(statuses.filter((s) => s === 200).length, 200);
    assert.equal((await db.roles('v-root-per-tabl%')).length, 200);
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke-prefix/database/creds/per-table', { token: root })).status, 204);
    assert.equal((await db.roles('v-root-per-tabl%')).length, 0);
  });

  it('refuses bad input with a clear error and leaves nothing behind', async () => {
    const before = (await db.roles('v-%')).length;
    const unknownPlugin = await api(server, 'POST', 'database/config/bad', { token: root, body: { plugin_name: 'oracle-database-plugin', connection_url: db.templateUrl, allowed_roles: ['*'] } });
    assert.equal(unknownPlugin.status, 400);
    assert.match(unknownPlugin.body.errors[0], /postgresql-database-plugin/);
    const unreachable = await api(server, 'POST', 'database/config/down', {
      token: root,
      body: { plugin_name: 'postgresql-database-plugin', connection_url: 'postgresql://{{username}}:{{password}}@127.0.0.1:1/x', username: 'a', password: 'hunter2-secret', allowed_roles: ['*'] },
    });
    assert.equal(unreachable.status, 400);
    assert.equal(JSON.stringify(unreachable.body).includes('hunter2-secret'), false);
    await api(server, 'POST', 'database/roles/broken', { token: root, body: { db_name: 'pg', creation_statements: ['CREATE ROLE "{{name}}" WITH LOGIN PASSWORD \'{{password}}\';', 'GRANT SELECT ON no_such_table TO "{{name}}";'] } });
    await api(server, 'POST', 'database/config/pg', { token: root, body: { plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl, username: cluster.adminUser, password: cluster.adminPassword, allowed_roles: ['readonly', 'per-table', 'broken'] } });
    const broken = await api(server, 'GET', 'database/creds/broken', { token: root });
    assert.ok(broken.status >= 400, JSON.stringify(broken.body));
    assert.match(broken.body.errors[0], /no_such_table/);
    const notAllowed = await api(server, 'POST', 'database/roles/outsider', { token: root, body: { db_name: 'pg', creation_statements: ['CREATE ROLE "{{name}}";'] } });
    assert.ok(notAllowed.status < 300);
    const refused = await api(server, 'GET', 'database/creds/outsider', { token: root });
    assert.equal(refused.status, 400);
    assert.match(refused.body.errors[0], /not an allowed role/);
    const ttlAboveMax = await api(server, 'POST', 'database/roles/too-long', { token: root, body: { db_name: 'pg', creation_statements: ['CREATE ROLE "{{name}}";'], default_ttl: '3h', max_ttl: '1h' } });
    assert.equal(ttlAboveMax.status, 400);
    const unnamed = await api(server, 'POST', 'database/roles/unnamed', { token: root, body: { db_name: 'pg', creation_statements: ['SELECT 1'] } });
    assert.equal(unnamed.status, 400, 'creation statements that never name the user are refused');
    assert.match(unnamed.body.errors[0], /must name the new user/);
    assert.equal((await db.roles('v-%')).length, before, 'no half-created user stayed behind');
    const config = await api(server, 'GET', 'database/config/pg', { token: root });
    assert.equal(JSON.stringify(config.body).includes(cluster.adminPassword), false, 'the admin password never comes back');
  });
});

describe('dynamic credentials on a server with its own system lease TTLs', () => {
  let cluster: PgCluster;
  let db: ScratchDatabase;
  let server: TestServer;

  before(async () => {
    cluster = await startPgCluster();
    db = await createScratchDatabase(cluster);
    // The server's default_lease_ttl / max_lease_ttl (10m / 20m) and an untuned mount.
    server = await startTestServer({ dev: true, storage: 'memory', defaultTokenTtl: '10m', maxTokenTtl: '20m' });
    const creation_statements = [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`];
    await mountPostgres(server, server.rootToken as string, {
      mount: 'database',
      cluster,
      db,
      roles: { untimed: { creation_statements }, 'long-max': { creation_statements, max_ttl: '1h' } },
    });
  });

  after(async () => {
    await server?.destroy();
    await db?.cleanup(['v-%']).catch(() => undefined);
    await cluster?.stop();
  });

  it('grants the server default and writes the same end into {{expiration}}', async () => {
    for (const [role, expected] of [['untimed', 600], ['long-max', 600]] as const) {
      const issued = await api(server, 'GET', `database/creds/${role}`, { token: server.rootToken as string });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.lease_duration, expected, role);
      const [row] = await db.query<{ until: Date }>('SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = $1', [issued.body.data.username]);
      const validFor = ((row?.until as Date).getTime() - Date.now()) / 1000;
      assert.ok(Math.abs(validFor - expected) < 30, `${role}: VALID UNTIL is ${Math.round(validFor)} s away, the lease ${expected} s`);
    }
  });
});

describe('renewing credentials after their role or mount TTLs were lowered', () => {
  const clock = createManualClock(Date.now());
  const creation_statements = [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`];
  const role = { creation_statements, default_ttl: '1m', max_ttl: '20m' };
  let cluster: PgCluster;
  let db: ScratchDatabase;
  let server: TestServer;
  let root: string;

  const issue = async (mount: string): Promise<{ leaseId: string; username: string }> => {
    const issued = await api(server, 'GET', `${mount}/creds/app`, { token: root });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    return { leaseId: issued.body.lease_id, username: issued.body.data.username };
  };
  const renew = (leaseId: string, increment?: string) =>
    api(server, 'PUT', 'sys/leases/renew', { token: root, body: { lease_id: leaseId, ...(increment ? { increment } : {}) } });
  const validUntil = async (username: string): Promise<number> =>
    ((await db.query<{ v: Date }>('SELECT rolvaliduntil AS v FROM pg_roles WHERE rolname = $1', [username]))[0]?.v as Date).getTime();

  before(async () => {
    cluster = await startPgCluster();
    db = await createScratchDatabase(cluster);
    server = await startTestServer({ dev: true, storage: 'memory', clock });
    root = server.rootToken as string;
    // Two mounts on one database: one has its role lowered, the other its own tuning.
    await mountPostgres(server, root, { mount: 'db-role', cluster, db, roles: { app: role } });
    await mountPostgres(server, root, { mount: 'db-tuned', cluster, db, roles: { app: role } });
  });

  after(async () => {
    await server?.destroy();
    await db?.cleanup(['v-%']).catch(() => undefined);
    await cluster?.stop();
  });

  it('caps a renewal by the role max_ttl as it is now, from the issue time, with a warning, in the database too', async () => {
    const cred = await issue('db-role');
    const lowered = await api(server, 'POST', 'db-role/roles/app', { token: root, body: { db_name: 'pg', ...role, max_ttl: '2m' } });
    assert.ok(lowered.status === 204 || lowered.status === 200, JSON.stringify(lowered.body));
    clock.advance(30_000);
    const renewed = await renew(cred.leaseId, '15m');
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal(renewed.body.lease_duration, 90);
    assert.match(renewed.body.warnings?.[0] ?? '', /exceeded the effective max_ttl of "1m30s"/);
    assert.ok(Math.abs((await validUntil(cred.username)) - (clock.now() + 90_000)) < 2000, 'VALID UNTIL is capped too');
  });

  it('renews by the role default_ttl as it is now when no increment is given', async () => {
    const cred = await issue('db-role');
    const changed = await api(server, 'POST', 'db-role/roles/app', { token: root, body: { db_name: 'pg', ...role, default_ttl: '40s' } });
    assert.ok(changed.status === 204 || changed.status === 200, JSON.stringify(changed.body));
    const renewed = await renew(cred.leaseId);
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal(renewed.body.lease_duration, 40);
  });

  it('caps a renewal by the mount max_lease_ttl as it is now', async () => {
    const cred = await issue('db-tuned');
    assert.equal((await api(server, 'POST', 'sys/mounts/db-tuned/tune', { token: root, body: { max_lease_ttl: '3m' } })).status, 204);
    clock.advance(30_000);
    const renewed = await renew(cred.leaseId, '15m');
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal(renewed.body.lease_duration, 150);
    assert.match(renewed.body.warnings?.[0] ?? '', /exceeded the effective max_ttl of "2m30s"/);
    assert.ok(Math.abs((await validUntil(cred.username)) - (clock.now() + 150_000)) < 2000, 'VALID UNTIL is capped too');
  });
});
