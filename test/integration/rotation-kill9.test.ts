/**
 * kill -9 of the server in every phase of a dual-credential rotation. The server runs in its own
 * process, stops at a phase through a test hook, and is killed with SIGKILL there: no clean
 * shutdown, no flushing. Restarted on the same data directory it must finish the rotation, and a
 * working credential must exist at every moment.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { PHASES } from '../../src/engines/database/rotation-record.js';
import { createScratchDatabase, startPgCluster, tryLogin, uniqueSuffix, type PgCluster, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { api, tempDir } from '../helpers/server.js';
import { kill9, startServerChild as startChild } from '../helpers/server-child.js';

const CREDS_PATH = 'database/static-creds/app';

describe('kill -9 in every phase of a dual-credential rotation', () => {
  let cluster: PgCluster;
  let db: ScratchDatabase;
  const suffix = uniqueSuffix(6);
  const userA = `k9_a_${suffix}`;
  const userB = `k9_b_${suffix}`;
  const dataDir = tempDir('coffer-kill9-');

  before(async () => {
    cluster = await startPgCluster();
    db = await createScratchDatabase(cluster);
    await db.query(`CREATE ROLE "${userA}" LOGIN PASSWORD 'Initial-a-${suffix}'; CREATE ROLE "${userB}" LOGIN PASSWORD 'Initial-b-${suffix}';`);
  });

  after(async () => {
    await db?.cleanup([userA, userB]).catch(() => undefined);
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes every interrupted rotation after a restart, with a working credential throughout', async (t) => {
    let server = await startChild(dataDir);
    const token = server.token;
    const call = (method: string, path: string, body?: unknown) => api(server, method, path, { token, ...(body === undefined ? {} : { body }) });
    const creds = async (): Promise<{ username: string; password: string; version: number }> => (await call('GET', 'database/static-creds/app')).body.data;
    const login = (c: { username: string; password: string }) => tryLogin(cluster, db.name, c.username, c.password);

    assert.equal((await call('POST', 'sys/mounts/database', { type: 'database' })).status, 204);
    const config = await call('POST', 'database/config/pg', {
      plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl, username: cluster.adminUser, password: cluster.adminPassword, allowed_roles: ['app'],
    });
    assert.ok(config.status < 300, JSON.stringify(config.body));
    const role = await call('POST', 'database/static-roles/app', {
      db_name: 'pg', username: userA, alternate_username: userB, rotation_period: '24h', rotation_policy: { verify_timeout: '1h', on_timeout: 'revoke' },
    });
    assert.equal(role.status, 204, JSON.stringify(role.body));
    const consumer = (await call('POST', 'sys/consumers/register', { path: CREDS_PATH, name: 'svc', ttl: 86400, version: (await creds()).version })).body.data.consumer_id;
    await kill9(server);

    const summary: string[] = [];
    for (const phase of PHASES) {
      for (const when of ['before', 'after'] as const) {
        server = await startChild(dataDir, { phase, when });
        const before = await creds();
        assert.equal(await login(before), undefined);
        // Start a rotation; it stops at the pause point. A consumer confirms the new version as
        // soon as it appears, so later phases (after verify) are reached too.
        void call('POST', 'database/rotate-role/app').catch(() => undefined);
        let rotationId: string | undefined;
        void server.paused.then((id) => {
          rotationId = id;
        });
        for (let i = 0; i < 400 && rotationId === undefined; i += 1) {
          const now = await creds().catch(() => undefined);
          if (now && now.version === before.version + 1) await call('POST', 'sys/consumers/checkin', { consumer_id: consumer, path: CREDS_PATH, version: now.version });
          await new Promise((r) => setTimeout(r, 25));
        }
        assert.ok(rotationId, `${when} ${phase}: the rotation reached its pause point`);
        const during = await creds();
        assert.equal(await login(during), undefined, `${when} ${phase}: the stored credential logs in at the pause point`);

        await kill9(server);
        assert.equal(await login(during), undefined, `${when} ${phase}: and while Coffer is dead`);

        server = await startChild(dataDir);
        const restarted = await creds();
        assert.equal(await login(restarted), undefined, `${when} ${phase}: and right after the restart`);
        let state: any;
        for (let i = 0; i < 200; i += 1) {
          // The consumer confirms once the new version exists (a version not made yet is refused).
          const now = await creds().catch(() => undefined);
          if (now && now.version === before.version + 1) await call('POST', 'sys/consumers/checkin', { consumer_id: consumer, path: CREDS_PATH, version: now.version });
          state = (await call('GET', 'database/rotations/app')).body.data;
          if (state.current === null && state.last?.id === rotationId) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(state.current, null, `${when} ${phase}: the rotation finished after the restart`);
        assert.equal(state.last.id, rotationId);
        const afterwards = await creds();
        assert.equal(afterwards.version, before.version + 1, `${when} ${phase}: exactly one new version`);
        assert.equal(await login(afterwards), undefined);
        assert.match((await login(before)) ?? '', /password authentication failed/, `${when} ${phase}: the replaced credential is revoked`);
        summary.push(`${when} ${phase}: ${state.last.status}`);
        await kill9(server);
      }
    }
    t.diagnostic(summary.join('; '));
  });
});
