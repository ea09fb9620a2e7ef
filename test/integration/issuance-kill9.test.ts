/**
 * kill -9 of the server while it issues dynamic PostgreSQL credentials, 200 at once. The server
 * runs in its own process on SQLite and is killed with SIGKILL mid-burst: no clean shutdown, no
 * flushing. Restarted on the same data directory, every user the killed server made must have a
 * lease: revoking the role's leases leaves none of its users in the database. Leases whose user
 * never committed (the kill came between the lease's write and COMMIT) revoke cleanly, although
 * the role's revocation statement has no IF EXISTS.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { mountPostgres } from '../helpers/database-mount.js';
import { createScratchDatabase, MACHINE_PG, uniqueSuffix, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { eventually } from '../helpers/polling.js';
import { api, tempDir } from '../helpers/server.js';
import { kill9, startServerChild } from '../helpers/server-child.js';

const ISSUES = 200;
/** The pool's size: the machine's PostgreSQL allows 100 connections, shared with other tests. */
const CONNECTIONS = 20;
/** Answers received before each kill: early, mid-burst and late. */
const KILL_AFTER = [20, 80, 150];

describe('kill -9 while credentials are being issued', () => {
  const suffix = uniqueSuffix(4);
  const role = `fxk9${suffix}`;
  const group = `fx_k9_${suffix}`;
  const users = `v-%${role}-%`;
  const dataDir = tempDir('coffer-issue-kill9-');
  let db: ScratchDatabase;

  before(async () => {
    db = await createScratchDatabase(MACHINE_PG, 'fx_');
    await db.query(`CREATE ROLE "${group}" NOLOGIN`);
  });

  after(async () => {
    await db?.cleanup([users, group]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Sessions Coffer holds on the scratch database (those of a killed server end as PostgreSQL notices). */
  const cofferSessions = async (): Promise<number> =>
    Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'coffer'", [db.name]))[0]?.n ?? 0);

  it('leaves no database user without a lease, wherever the kill falls', async (t) => {
    let server = await startServerChild(dataDir);
    await mountPostgres(server, server.token, {
      mount: 'database',
      cluster: MACHINE_PG,
      db,
      roles: {
        [role]: {
          creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "${group}";`],
          revocation_statements: ['DROP ROLE "{{name}}";'],
          default_ttl: '1h',
        },
      },
    });
    // Enough connections that creations do not queue for one behind the leases' writes: the
    // race between the two commits is what this test is about.
    const tuned = await api(server, 'POST', 'database/config/pg', { token: server.token, body: { max_open_connections: CONNECTIONS } });
    assert.ok(tuned.status < 300, JSON.stringify(tuned.body));
    const summary: string[] = [];
    try {
      for (const killAfter of KILL_AFTER) {
        let answered = 0;
        let killing: Promise<void> | undefined;
        const victim = server;
        await Promise.all(Array.from({ length: ISSUES }, async () => {
          const response = await api(victim, 'GET', `database/creds/${role}`, { token: victim.token }).catch(() => undefined);
          if (response?.status === 200) answered += 1;
          if (answered >= killAfter) killing ??= kill9(victim);
        }));
        await (killing ?? kill9(victim));

        server = await startServerChild(dataDir);
        // The killed server's transactions end once PostgreSQL sees their connections gone
        // (rolled back, or committed if COMMIT had been sent): only then is the count final.
        await eventually(async () => (await cofferSessions()) === 0, 15_000, "the killed server's sessions to end");
        const made = (await db.roles(users)).length;
        const listed = await api(server, 'LIST', `sys/leases/lookup/database/creds/${role}/`, { token: server.token });
        const leases = ((listed.body?.data?.keys ?? []) as string[]).length;
        assert.ok(leases >= made, `killed after ${answered} answers: ${made} users but only ${leases} leases`);
        const revoked = await api(server, 'PUT', `sys/leases/revoke-prefix/database/creds/${role}`, { token: server.token });
        assert.equal(revoked.status, 204, JSON.stringify(revoked.body));
        assert.deepEqual(await db.roles(users), [], `killed after ${answered} answers: every user had a lease that revoked it`);
        summary.push(`killed after ${answered} answers: ${made} users, ${leases} leases`);
      }
    } finally {
      await kill9(server);
      t.diagnostic(summary.join('; '));
    }
  });
});
