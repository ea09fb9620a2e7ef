/**
 * Rotation without a gap, over real HTTP, against a throwaway PostgreSQL cluster with
 * scram-sha-256 (a login there proves a password; the machine's own server trusts everyone).
 *
 * 1. Eight consumers each open a fresh connection in a loop with the credential they hold,
 *    learn of a new version from the watch stream (sys/watch, server-sent events; polling
 *    static-creds if the stream is not there), re-read static-creds, switch and check in.
 *    Fifty rotate-role calls run back to back: no login may fail, every rotation completes with
 *    all eight confirmed, and in the end the non-current user cannot log in.
 * 2. A consumer that never switches holds a rotation until verify_timeout; on_timeout=revoke
 *    then revokes and names it (response, rotation record, audit log); on_timeout=hold keeps
 *    the old credential until it switches. A consumer cannot confirm ahead of the rotation by
 *    reporting a version not made yet.
 * 3. Crash and restart at every pause point of a scheduled rotation (the test hook stops the
 *    rotation; server.close() without finishing it is the crash); the restarted server resumes
 *    it to completion, and a stored credential logs in at every moment.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '../../src/core/clock.js';
import { setRotationTestOptions, type PausePoint } from '../../src/engines/database/rotation-hooks.js';
import { PHASES, type RotationPhase } from '../../src/engines/database/rotation-record.js';
import { createScratchDatabase, startPgCluster, tryLogin, uniqueSuffix, type PgCluster, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { api, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const CREDS_PATH = 'database/static-creds/app';
const ROUNDS = 50;
const CONSUMERS = 8;

interface Creds { username: string; password: string; version: number }

let cluster: PgCluster;
let db: ScratchDatabase;
const suffix = uniqueSuffix(6);
const userA = `app_a_${suffix}`;
const userB = `app_b_${suffix}`;

before(async () => {
  cluster = await startPgCluster();
  db = await createScratchDatabase(cluster);
  await db.query(`CREATE TABLE items (id int); INSERT INTO items VALUES (1);
    CREATE ROLE "${userA}" LOGIN PASSWORD 'Initial-a-${suffix}'; CREATE ROLE "${userB}" LOGIN PASSWORD 'Initial-b-${suffix}';
    GRANT SELECT ON items TO "${userA}", "${userB}";`);
});

after(async () => {
  await db?.cleanup([userA, userB]).catch(() => undefined);
  await cluster?.stop();
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const login = (c: { username: string; password: string }): Promise<string | undefined> => tryLogin(cluster, db.name, c.username, c.password);

async function setUp(server: TestServer, token: string, policy: Record<string, unknown>): Promise<void> {
  assert.equal((await api(server, 'POST', 'sys/mounts/database', { token, body: { type: 'database' } })).status, 204);
  const config = await api(server, 'POST', 'database/config/pg', {
    token,
    body: { plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl, username: cluster.adminUser, password: cluster.adminPassword, allowed_roles: ['app'] },
  });
  assert.ok(config.status < 300, JSON.stringify(config.body));
  const role = await api(server, 'POST', 'database/static-roles/app', {
    token, body: { db_name: 'pg', username: userA, alternate_username: userB, rotation_period: '1h', rotation_policy: policy },
  });
  assert.equal(role.status, 204, JSON.stringify(role.body));
}

async function readCreds(server: TestServer, token: string): Promise<Creds & { previous?: Creds }> {
  const res = await api(server, 'GET', `database/static-creds/app`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

/** An application instance: holds one credential, logs in over and over, switches on a new version. */
interface LoopConsumer {
  readonly id: string;
  readonly attempts: number;
  readonly failures: string[];
  readonly viaWatch: boolean;
  stop(): Promise<void>;
}

async function startConsumer(server: TestServer, token: string, name: string, seen: Map<string, Set<string>>): Promise<LoopConsumer> {
  const post = async (path: string, body: Record<string, unknown>): Promise<any> => {
    const res = await api(server, 'POST', path, { token, body });
    assert.ok(res.status < 300, `${path}: ${JSON.stringify(res.body)}`);
    return res.body?.data;
  };
  const remember = (c: Creds): void => {
    const set = seen.get(c.username) ?? new Set<string>();
    set.add(c.password);
    seen.set(c.username, set);
  };
  let held = await readCreds(server, token);
  remember(held);
  const id = (await post('sys/consumers/register', { path: CREDS_PATH, name, ttl: 60, version: held.version })).consumer_id as string;
  let announced = held.version;
  let running = true;
  let attempts = 0;
  const failures: string[] = [];

  // The watch stream, or polling when the server has none.
  const controller = new AbortController();
  let viaWatch = false;
  const response = await fetch(`${server.url}/v1/sys/watch?prefix=${encodeURIComponent(CREDS_PATH)}`, {
    headers: { 'X-Vault-Token': token, accept: 'text/event-stream' }, signal: controller.signal,
  }).catch(() => undefined);
  let watcher: Promise<void>;
  if (response?.status === 200 && (response.headers.get('content-type') ?? '').includes('text/event-stream') && response.body) {
    viaWatch = true;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    watcher = (async () => {
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          for (const line of block.split('\n')) {
            if (!line.startsWith('data: ')) continue;
            const event = JSON.parse(line.slice(6)) as { path?: string; version?: number | null };
            if (event.path === CREDS_PATH && typeof event.version === 'number') announced = Math.max(announced, event.version);
          }
        }
      }
    })().catch(() => undefined);
  } else {
    await response?.body?.cancel().catch(() => undefined);
    watcher = (async () => {
      while (running) {
        announced = Math.max(announced, (await readCreds(server, token)).version);
        await pause(20);
      }
    })();
  }

  const loop = (async () => {
    let lastCheckIn = Date.now();
    while (running) {
      // Switch only between two connections: once checked in, the old credential is never used again.
      if (announced > held.version) {
        const next = await readCreds(server, token);
        if (next.version > held.version) {
          held = next;
          remember(held);
          await post('sys/consumers/checkin', { consumer_id: id, path: CREDS_PATH, version: held.version });
          lastCheckIn = Date.now();
        }
      } else if (Date.now() - lastCheckIn > 10_000) {
        await post('sys/consumers/checkin', { consumer_id: id, path: CREDS_PATH, version: held.version });
        lastCheckIn = Date.now();
      }
      attempts += 1;
      const failed = await login(held);
      if (failed !== undefined) failures.push(`v${held.version} ${held.username}: ${failed}`);
      await pause(25);
    }
  })();

  return {
    id,
    get attempts() { return attempts; },
    failures,
    viaWatch,
    async stop() {
      running = false;
      await loop;
      controller.abort();
      await watcher;
      await post('sys/consumers/deregister', { consumer_id: id, path: CREDS_PATH });
    },
  };
}

describe('dual-credential rotation under load, with consumers that verify', () => {
  let server: TestServer;
  let root: string;
  // Not in the data directory: no audit device may write there.
  const auditDir = tempDir('coffer-rotation-audit-');

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'sqlite' });
    root = server.rootToken as string;
    await setUp(server, root, { verify_timeout: '30s', on_timeout: 'revoke' });
  });

  after(async () => {
    await server?.destroy();
    rmSync(auditDir, { recursive: true, force: true });
  });

  it(`${CONSUMERS} consumers logging in continuously see no failed login across ${ROUNDS} rotations`, async (t) => {
    const seen = new Map<string, Set<string>>();
    const consumers: LoopConsumer[] = [];
    for (let i = 0; i < CONSUMERS; i += 1) consumers.push(await startConsumer(server, root, `loop-${i}`, seen));
    let rotations = 0;
    const outcomes: string[] = [];
    try {
      await pause(200);
      for (let i = 0; i < ROUNDS; i += 1) {
        const res = await api(server, 'POST', 'database/rotate-role/app', { token: root });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const data = res.body.data;
        outcomes.push(`${data.status}/${data.verify_outcome}/${data.confirmed.length}`);
        if (data.status === 'completed') rotations += 1;
        assert.equal(data.status, 'completed');
        assert.equal(data.verify_outcome, 'confirmed');
        assert.deepEqual(data.stragglers, []);
        assert.deepEqual(data.confirmed.map((c: any) => c.consumer_id).sort(), consumers.map((c) => c.id).sort());
      }
    } finally {
      for (const consumer of consumers) await consumer.stop();
    }
    const attempted = consumers.reduce((n, c) => n + c.attempts, 0);
    const failed = consumers.flatMap((c) => c.failures);
    const counts = `connections attempted: ${attempted}, failed: ${failed.length}, rotations done: ${rotations}/${ROUNDS}`
      + ` (consumers learned of new versions via ${consumers.every((c) => c.viaWatch) ? 'the sys/watch stream' : 'polling static-creds'})`;
    t.diagnostic(counts);
    console.log(`rotation-pg: ${counts}`);
    assert.deepEqual(failed, [], 'no login failed');
    assert.equal(rotations, ROUNDS);
    assert.ok(attempted >= CONSUMERS * ROUNDS, `every consumer kept logging in (${attempted})`);

    const current = await readCreds(server, root);
    assert.equal(current.version, ROUNDS + 1);
    assert.equal(current.previous, undefined);
    assert.equal(await login(current), undefined);
    const standby = current.username === userA ? userB : userA;
    const known = [...(seen.get(standby) ?? [])];
    assert.ok(known.length >= ROUNDS / 2, 'consumers held the standby user\'s passwords in earlier rounds');
    for (const password of known) {
      assert.match((await login({ username: standby, password })) ?? '', /password authentication failed/);
    }
    const history = (await api(server, 'GET', 'database/rotations/app', { token: root })).body.data.history as any[];
    assert.equal(history.length, 20);
    assert.ok(history.every((r) => r.status === 'completed' && r.confirmed.length === CONSUMERS));
  });

  it('a consumer that never switches holds the rotation until verify_timeout; on_timeout=revoke names it in the response, the record and the audit log', async () => {
    const auditFile = join(auditDir, 'audit.log');
    assert.equal((await api(server, 'PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: auditFile } } })).status, 204);
    await api(server, 'POST', 'database/static-roles/app', { token: root, body: { rotation_policy: { verify_timeout: '2s', on_timeout: 'revoke' } } });
    const before = await readCreds(server, root);
    const stuck = (await api(server, 'POST', 'sys/consumers/register', { token: root, body: { path: CREDS_PATH, name: 'stuck-pod', ttl: 60, version: before.version } })).body.data.consumer_id;

    const started = Date.now();
    const res = await api(server, 'POST', 'database/rotate-role/app', { token: root });
    const waited = Date.now() - started;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(waited >= 1900, `held for the verify_timeout (${waited} ms)`);
    assert.equal(res.body.data.status, 'completed');
    assert.equal(res.body.data.verify_outcome, 'timeout_revoked');
    assert.deepEqual(res.body.data.stragglers.map((s: any) => [s.consumer_id, s.name, s.version]), [[stuck, 'stuck-pod', before.version]]);
    assert.match(res.body.warnings[0], /revoked although 1 consumer/);
    assert.match((await login(before)) ?? '', /password authentication failed/, 'on_timeout=revoke revoked the old credential');

    const record = (await api(server, 'GET', 'database/rotations/app', { token: root })).body.data.last;
    assert.deepEqual(record.stragglers.map((s: any) => s.consumer_id), [stuck]);
    const entries = readFileSync(auditFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const logged = entries.find((e) => e.type === 'response' && e.request?.path === 'database/rotate-role/app');
    assert.deepEqual(logged?.response?.data?.stragglers?.map((s: any) => s.consumer_id), [stuck], 'the audit log names the straggler in clear');
    // The rotation itself (not only the API call that triggered it) is audited, as a scheduled one would be.
    const internal = entries.find((e) => e.type === 'response' && e.request?.operation === 'rotate' && e.request?.path === CREDS_PATH);
    assert.equal(internal?.response?.data?.outcome, 'timeout_revoked');
    assert.deepEqual(internal?.response?.data?.stragglers, [stuck]);
    assert.ok(!readFileSync(auditFile, 'utf8').includes(before.password));
    await api(server, 'POST', 'sys/consumers/deregister', { token: root, body: { consumer_id: stuck, path: CREDS_PATH } });
    await api(server, 'DELETE', 'sys/audit/file', { token: root });
  });

  it('on_timeout=hold keeps the old credential logging in until the straggler switches, then revokes it', async () => {
    await api(server, 'POST', 'database/static-roles/app', { token: root, body: { rotation_policy: { verify_timeout: '1s', on_timeout: 'hold' } } });
    const before = await readCreds(server, root);
    const slow = (await api(server, 'POST', 'sys/consumers/register', { token: root, body: { path: CREDS_PATH, name: 'slow-pod', ttl: 60, version: before.version } })).body.data.consumer_id;
    const res = await api(server, 'POST', 'database/rotate-role/app', { token: root });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.status, 'waiting');
    assert.deepEqual(res.body.data.stragglers.map((s: any) => s.consumer_id), [slow]);
    const held = await readCreds(server, root);
    assert.equal(held.version, before.version + 1);
    assert.equal(held.previous?.password, before.password);
    assert.equal(await login(held), undefined);
    assert.equal(await login(before), undefined, 'the old credential still works while held');
    await pause(1500);
    assert.equal(await login(before), undefined, 'and goes on working past the timeout');

    await api(server, 'POST', 'sys/consumers/checkin', { token: root, body: { consumer_id: slow, path: CREDS_PATH, version: held.version } });
    let state: any;
    for (let i = 0; i < 100; i += 1) {
      state = (await api(server, 'GET', 'database/rotations/app', { token: root })).body.data;
      if (state.current === null) break;
      await pause(100);
    }
    assert.equal(state.current, null, 'the held rotation finished once the straggler switched');
    assert.equal(state.last.status, 'completed');
    assert.equal(state.last.verify_outcome, 'confirmed');
    assert.match((await login(before)) ?? '', /password authentication failed/);
    assert.equal(await login(await readCreds(server, root)), undefined);
    await api(server, 'POST', 'sys/consumers/deregister', { token: root, body: { consumer_id: slow, path: CREDS_PATH } });
  });

  it('a consumer reporting a version no rotation has made yet is refused, and cannot verify the rotation that makes it', async () => {
    await api(server, 'POST', 'database/static-roles/app', { token: root, body: { rotation_policy: { verify_timeout: '1s', on_timeout: 'hold' } } });
    const before = await readCreds(server, root);
    const future = before.version + 1;
    const refusal = `version ${future} does not exist: the current version is ${before.version}`;
    const early = await api(server, 'POST', 'sys/consumers/register', { token: root, body: { path: CREDS_PATH, name: 'eager-pod', ttl: 60, version: future } });
    assert.equal(early.status, 400);
    assert.deepEqual(early.body, { errors: [refusal] });

    const eager = (await api(server, 'POST', 'sys/consumers/register', { token: root, body: { path: CREDS_PATH, name: 'eager-pod', ttl: 60, version: before.version } })).body.data.consumer_id;
    const claimed = await api(server, 'POST', 'sys/consumers/checkin', { token: root, body: { consumer_id: eager, path: CREDS_PATH, version: future } });
    assert.equal(claimed.status, 400);
    assert.deepEqual(claimed.body, { errors: [refusal] });

    // The rotation to that version finds the consumer still on the old one: not verified, held.
    const res = await api(server, 'POST', 'database/rotate-role/app', { token: root });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.data.status, 'waiting');
    assert.deepEqual(res.body.data.confirmed, []);
    assert.deepEqual(res.body.data.stragglers.map((s: any) => [s.consumer_id, s.version]), [[eager, before.version]]);
    assert.equal(await login(before), undefined, 'the credential the consumer holds still works');

    // Once the version exists, the same report is taken and verifies the rotation.
    assert.equal((await api(server, 'POST', 'sys/consumers/checkin', { token: root, body: { consumer_id: eager, path: CREDS_PATH, version: future } })).status, 200);
    let state: any;
    for (let i = 0; i < 100; i += 1) {
      state = (await api(server, 'GET', 'database/rotations/app', { token: root })).body.data;
      if (state.current === null) break;
      await pause(100);
    }
    assert.equal(state.current, null);
    assert.equal(state.last.verify_outcome, 'confirmed');
    await api(server, 'POST', 'sys/consumers/deregister', { token: root, body: { consumer_id: eager, path: CREDS_PATH } });
  });
});

describe('a crash at any point of a rotation, and the restart', () => {
  const clock = createManualClock(Date.now());
  const dataDir = tempDir('coffer-rotation-crash-');
  let server: TestServer;
  let root: string;
  let consumerId: string;
  const start = (): Promise<TestServer> => startTestServer({ dev: true, storage: 'sqlite', dataDir, keepDataDir: true, clock });

  before(async () => {
    setRotationTestOptions({ tickIntervalMs: 50 });
    server = await start();
    root = server.rootToken as string;
    await setUp(server, root, { verify_timeout: '1h', on_timeout: 'revoke' });
    const v1 = await readCreds(server, root);
    consumerId = (await api(server, 'POST', 'sys/consumers/register', { token: root, body: { path: CREDS_PATH, name: 'svc', ttl: 24 * 3600, version: v1.version } })).body.data.consumer_id;
  });

  after(async () => {
    setRotationTestOptions(undefined);
    await server?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const points = PHASES.flatMap((phase) => (['before', 'after'] as const).map((when) => ({ phase, when })));

  it(`resumes a scheduled rotation stopped at each of ${points.length} points and completes it; a credential logs in throughout`, async (t) => {
    const summary: string[] = [];
    for (const { phase, when } of points) {
      const before = await readCreds(server, root);
      const checkIn = (version: number) => api(server, 'POST', 'sys/consumers/checkin', { token: root, body: { consumer_id: consumerId, path: CREDS_PATH, version } });
      let signal!: (p: PausePoint) => void;
      let release!: () => void;
      const reached = new Promise<PausePoint>((resolve) => { signal = resolve; });
      const hold = new Promise<void>((resolve) => { release = resolve; });
      const confirmEarly = (phase === 'verify' && when === 'after') || phase === 'revoke';
      setRotationTestOptions({
        tickIntervalMs: 50,
        pauseAt: async (p) => {
          if (confirmEarly && p.phase === 'verify' && p.when === 'before') await checkIn(before.version + 1);
          if (p.phase !== phase as RotationPhase || p.when !== when) return undefined;
          signal(p);
          return hold;
        },
      });
      clock.advance(3600_000 + 1000);
      const point = await reached;

      const paused = await readCreds(server, root);
      assert.equal(await login(paused), undefined, `${when} ${phase}: the stored credential logs in while paused`);
      // The crash: the server goes away with the rotation half done.
      setRotationTestOptions({ tickIntervalMs: 50 });
      await server.close();
      release();
      assert.equal(await login(paused), undefined, `${when} ${phase}: and while Coffer is down`);

      server = await start();
      const early = await readCreds(server, root);
      assert.equal(await login(early), undefined, `${when} ${phase}: and right after the restart`);
      let state: any;
      for (let i = 0; i < 200; i += 1) {
        // The consumer confirms once the new version exists (a version not made yet is refused).
        if ((await readCreds(server, root)).version === before.version + 1) await checkIn(before.version + 1);
        state = (await api(server, 'GET', 'database/rotations/app', { token: root })).body.data;
        if (state.current === null) break;
        await pause(50);
      }
      assert.equal(state.current, null, `${when} ${phase}: the rotation finished after the restart`);
      assert.equal(state.last.id, point.rotationId);
      assert.equal(state.last.status, 'completed');
      const afterwards = await readCreds(server, root);
      assert.equal(afterwards.version, before.version + 1);
      assert.notEqual(afterwards.username, before.username);
      assert.equal(await login(afterwards), undefined);
      assert.match((await login(before)) ?? '', /password authentication failed/, `${when} ${phase}: the replaced credential is revoked`);
      summary.push(`${when} ${phase}: ${state.last.steps[phase].attempts} attempt(s) of ${phase}`);
    }
    t.diagnostic(summary.join('; '));
  });
});
