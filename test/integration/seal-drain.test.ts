/**
 * Sealing and stopping a server with requests in flight, over real HTTP, against the machine's
 * PostgreSQL. A request is made slow for real: its role's creation statements first take a
 * PostgreSQL advisory lock that the test holds, so `database/creds/<role>` stays in flight
 * (its credential not yet made, its lease not yet stored) until the test lets the lock go.
 *
 * What must hold: a seal issued meanwhile waits for it, and it completes normally (200, its
 * lease stored); a request sent once the seal began gets 503; the seal answers after the slow
 * request. SIGTERM to a server process lets it finish and write its answer, closes watch streams
 * and idle connections at once, refuses new connections, and exits 0. The same through an HTTP
 * replica. Only the order of events is asserted, never how long anything took.
 * Every database object is named fx_/fx- with a random suffix and removed afterwards.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { createLogger } from '../../src/core/logger.js';
import { ADMIN_POLICY, awsError, startAwsServer, type AwsTestServer } from './aws-harness.js';
import { createScratchDatabase, MACHINE_PG, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { eventually, read, waitFor } from '../helpers/polling.js';
import { api, startTestServer, tempDir, type ApiResponse, type TestServer } from '../helpers/server.js';
import { cliServerAvailable, startCliServer } from '../helpers/cli-server.js';


const suffix = randomBytes(3).toString('hex');
/** Stops a test that hangs; never reached by one that works. */
const HANG_GUARD = { timeout: 90_000 };
const WAIT_MS = 30_000;

let db: ScratchDatabase;

before(async () => {
  db = await createScratchDatabase(MACHINE_PG, 'fx_seal_');
});

after(async () => {
  await db?.cleanup([`fx-%${suffix}-%`]).catch(() => undefined);
});

/**
 * An advisory lock the test holds on its own connection to the scratch database; a role whose
 * creation statements take the same lock waits for it.
 */
interface HeldLock {
  readonly key: number;
  /** Resolves once a statement is waiting for the lock (the slow request is in flight). */
  waiterArrived(): Promise<void>;
  release(): Promise<void>;
}

async function holdLock(): Promise<HeldLock> {
  const key = randomInt(1, 2 ** 31 - 1);
  const client = new pg.Client({ connectionString: db.url() });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('SELECT pg_advisory_lock($1)', [key]);
  let released = false;
  return {
    key,
    waiterArrived: () =>
      eventually(
        async () => {
          const rows = await db.query(
            `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid::bigint = $1 AND d.datname = $2`,
            [key, db.name],
          );
          return (rows[0] as { n: number }).n > 0;
        },
        WAIT_MS,
        'the slow request to wait for the lock',
      ),
    async release() {
      if (released) return;
      released = true;
      await client.query('SELECT pg_advisory_unlock($1)', [key]);
      await client.end();
    },
  };
}

/** Mounts `database/` with a role `held<suffix>` whose credentials wait for `lock`. */
async function mountHeldRole(server: { url: string }, token: string, lock: HeldLock): Promise<string> {
  const role = `held${suffix}`;
  const write = async (path: string, body: Record<string, unknown>): Promise<void> => {
    const response = await api(server, 'POST', path, { token, body });
    assert.ok(response.status < 300, `${path}: ${JSON.stringify(response.body)}`);
  };
  await write('sys/mounts/database', { type: 'database' });
  await write('database/config/pg', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: db.templateUrl,
    username: MACHINE_PG.adminUser,
    password: 'unused-by-trust',
    allowed_roles: ['*'],
    username_template: 'fx-{{.RoleName}}-{{random 8}}',
  });
  await write(`database/roles/${role}`, {
    db_name: 'pg',
    creation_statements: [`SELECT pg_advisory_xact_lock(${lock.key})`, 'CREATE ROLE "{{name}}" LOGIN PASSWORD \'{{password}}\''],
    default_ttl: '1h',
  });
  return role;
}

/** Records `label` in `events` when `promise` settles, and passes its value on. */
function noted<T>(events: string[], label: string, promise: Promise<T>): Promise<T> {
  return promise.finally(() => events.push(label));
}

async function roleExists(name: string): Promise<boolean> {
  return (await db.roles(name)).length === 1;
}

describe('a seal with requests in flight', () => {
  let aws: AwsTestServer | undefined;
  let lock: HeldLock | undefined;

  after(async () => {
    await lock?.release().catch(() => undefined);
    await aws?.destroy();
  });

  it('waits for a slow request, which completes with its lease stored; a request sent meanwhile gets 503; the seal answers last', HANG_GUARD, async () => {
    aws = await startAwsServer();
    const { server, root } = aws;
    await aws.putPolicy('aws-admin', ADMIN_POLICY);
    const secretsManager = aws.client(await aws.issueKey(['aws-admin']));
    lock = await holdLock();
    const role = await mountHeldRole(server, root, lock);
    assert.equal((await api(server, 'POST', 'secret/data/app', { token: root, body: { data: { k: 'v' } } })).status, 200);
    // A client that has used up its rate limit quota.
    assert.equal((await api(server, 'PUT', 'sys/quotas/rate-limit/one', { token: root, body: { path: 'secret/data/limited', rate: 1, interval: '1h' } })).status, 204);
    assert.equal((await api(server, 'GET', 'secret/data/limited', { token: root })).status, 404);
    assert.equal((await api(server, 'GET', 'secret/data/limited', { token: root })).status, 429);

    const events: string[] = [];
    const slow = noted(events, 'slow request answered', api(server, 'GET', `database/creds/${role}`, { token: root }));
    await lock.waiterArrived();

    const seal = noted(events, 'seal answered', api(server, 'PUT', 'sys/seal', { token: root }));
    await eventually(async () => (await api(server, 'GET', 'sys/seal-status')).body.sealed === true, WAIT_MS, 'the seal to begin');
    const refused = await api(server, 'GET', 'secret/data/app', { token: root });
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, { errors: ['Vault is sealed'] });
    assert.equal((await api(server, 'GET', 'secret/data/app?help=1', { token: root })).status, 503, 'a help request is refused too');
    const limited = await api(server, 'GET', 'secret/data/limited', { token: root });
    assert.deepEqual([limited.status, limited.body], [503, { errors: ['Vault is sealed'] }], 'sealing, not a rate limit, is the answer');
    const awsRefused = await awsError(() => secretsManager.send(new ListSecretsCommand({})), 'ServiceUnavailableException', /sealed/);
    assert.equal(awsRefused.$metadata?.httpStatusCode, 503);
    assert.equal((await api(server, 'GET', 'sys/health')).status, 503, 'health says sealed from the moment the seal began');
    assert.deepEqual(events, [], 'the seal waits for the request in flight');

    await lock.release();
    const [slowReply, sealReply] = await Promise.all([slow, seal]);
    assert.equal(slowReply.status, 200, JSON.stringify(slowReply.body));
    const username = slowReply.body.data.username as string;
    assert.match(username, /^fx-held/);
    assert.equal(sealReply.status, 204);
    assert.deepEqual(events, ['slow request answered', 'seal answered']);
    assert.equal((await api(server, 'GET', 'secret/data/app', { token: root })).status, 503, 'sealed once the seal answered');

    // Done whole: the database user exists, and its lease was stored before the keys went.
    assert.ok(await roleExists(username));
    const key = readFileSync(join(server.dataDir, 'dev-unseal-key'), 'utf8').trim();
    assert.equal((await api(server, 'PUT', 'sys/unseal', { body: { key } })).body.sealed, false);
    const lease = await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: slowReply.body.lease_id } });
    assert.equal(lease.status, 200, JSON.stringify(lease.body));
    assert.equal((await api(server, 'PUT', 'sys/leases/revoke', { token: root, body: { lease_id: slowReply.body.lease_id } })).status, 204);
    await eventually(async () => !(await roleExists(username)), WAIT_MS, 'the revoked user to be dropped');
  });

  it('answers a long poll in progress as the seal begins, instead of being waited for', HANG_GUARD, async () => {
    const local = await startTestServer({ dev: true, storage: 'memory' });
    const auditDir = tempDir('coffer-seal-audit-');
    try {
      const root = local.rootToken as string;
      // The audit log says when the poll has been authorised, i.e. is admitted and about to wait.
      const auditFile = join(auditDir, 'audit.log');
      assert.equal((await api(local, 'PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: auditFile } } })).status, 204);
      const events: string[] = [];
      // The longest wait a poll may ask for, far longer than this test takes.
      const poll = noted(events, 'poll answered', api(local, 'GET', 'sys/watch/poll?prefix=secret/&wait=60s', { token: root }));
      await waitFor(
        () => read(auditFile).split('\n').some((line) => line.includes('"type":"response"') && line.includes('sys/watch/poll')),
        WAIT_MS,
        'the poll to be authorised',
      );
      const seal = noted(events, 'seal answered', api(local, 'PUT', 'sys/seal', { token: root }));
      const reply = await poll;
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body.data.events, []);
      assert.equal((await seal).status, 204);
      assert.deepEqual(events, ['poll answered', 'seal answered']);
    } finally {
      await local.destroy();
      rmSync(auditDir, { recursive: true, force: true });
    }
  });
});

describe('a seal whose request in flight never finishes', () => {
  let server: TestServer | undefined;
  let lock: HeldLock | undefined;

  after(async () => {
    await lock?.release().catch(() => undefined);
    await server?.destroy();
  });

  it('seals anyway once seal_drain_timeout has passed, and logs it', HANG_GUARD, async () => {
    const lines: string[] = [];
    server = await startTestServer({ dev: true, storage: 'sqlite', sealDrainTimeout: '1s', logger: createLogger({ level: 'warn', write: (line) => lines.push(line) }) });
    const root = server.rootToken as string;
    lock = await holdLock();
    const role = await mountHeldRole(server, root, lock);
    const stuck = api(server, 'GET', `database/creds/${role}`, { token: root });
    await lock.waiterArrived();

    // Answered while the lock is still held: the seal did not wait for the request.
    const seal = await api(server, 'PUT', 'sys/seal', { token: root });
    assert.equal(seal.status, 204);
    assert.equal((await api(server, 'GET', 'sys/seal-status')).body.sealed, true);
    const warning = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => /seal drain timeout passed/.test(String(entry.message)));
    assert.ok(warning, lines.join('\n'));
    assert.equal(warning.in_flight, 1);

    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(logged.some((entry) => /before every engine and service has stopped/.test(String(entry.message))), 'the keys went although the database pool was still busy');

    // An unseal while the cut-off call is still stuck is refused, not left hanging with the
    // keys in memory (a seal or a stop sent meanwhile would wait behind it).
    const key = readFileSync(join(server.dataDir, 'dev-unseal-key'), 'utf8').trim();
    const early = await api(server, 'PUT', 'sys/unseal', { body: { key } });
    assert.equal(early.status, 503, JSON.stringify(early.body));
    assert.match(String(early.body.errors?.[0]), /the last seal is still stopping/);
    assert.equal((await api(server, 'GET', 'sys/seal-status')).body.sealed, true);

    await lock.release();
    // The request cut off by the seal fails on the sealed barrier; it never reports a
    // credential whose lease it could not store.
    const cutOff = await stuck;
    assert.equal(cutOff.status, 503);
    assert.deepEqual(cutOff.body, { errors: ['Vault is sealed'] });
    const unsealed = await api(server, 'PUT', 'sys/unseal', { body: { key } });
    assert.equal(unsealed.status, 200, JSON.stringify(unsealed.body));
    assert.equal(unsealed.body.sealed, false);
  });
});

interface Reply extends ApiResponse {
  connection: string | undefined;
  servedBy: string | undefined;
}

/** A keep-alive connection whose requests all go over one socket; says when that socket closes. */
function keepAliveConnection(url: string): { call(path: string, token: string): Promise<Reply>; closed: Promise<void>; destroy(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(url);
  let socketClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolveClosed) => (socketClosed = resolveClosed));
  return {
    closed,
    call: (path, token) =>
      new Promise((resolveCall, reject) => {
        const req = request({ host: hostname, port, path: `/v1/${path}`, headers: { 'x-vault-token': token }, agent }, (res) => {
          res.socket.once('close', () => socketClosed());
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            const servedBy = res.headers['x-coffer-served-by'];
            resolveCall({
              status: res.statusCode ?? 0,
              body: text === '' ? undefined : JSON.parse(text),
              connection: res.headers.connection,
              servedBy: typeof servedBy === 'string' ? servedBy : undefined,
            });
          });
        });
        req.on('error', reject);
        req.end();
      }),
    destroy: () => agent.destroy(),
  };
}

/** Opens a sys/watch stream; `ended` resolves with everything it received once the server ends it. */
function openWatch(url: string, token: string): Promise<{ ended: Promise<string> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolveOpen, reject) => {
    const req = request({ host: hostname, port, path: '/v1/sys/watch?prefix=secret/', headers: { 'x-vault-token': token }, agent: false }, (res) => {
      assert.equal(res.statusCode, 200);
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', () => undefined);
      resolveOpen({ ended: new Promise((resolveEnded) => res.on('close', () => resolveEnded(text))) });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once a new connection to `url` is refused (the listener has closed). */
async function untilRefused(url: string): Promise<void> {
  await eventually(
    () => fetch(`${url}/v1/sys/health`).then(() => false, (error: Error & { cause?: { code?: string } }) => error.cause?.code === 'ECONNREFUSED'),
    WAIT_MS,
    'new connections to be refused',
  );
}

describe('SIGTERM to a server process with a request in flight', { skip: cliServerAvailable ? false : 'bin/coffer.js is not next to this build' }, () => {
  const dir = tempDir('coffer-sigterm-');
  let child: ChildProcess | undefined;
  let lock: HeldLock | undefined;

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await lock?.release().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers it in full, closes watch streams and idle connections at once, refuses new connections, and exits 0', HANG_GUARD, async () => {
    const token = `sigterm-root-${suffix}`;
    const config = join(dir, 'config.json');
    // Longer than this test could take: the request is let go by the test, never cut by the grace.
    writeFileSync(config, JSON.stringify({ shutdown_grace_period: '60s' }));
    const started = await startCliServer(['--dev', '--listen', '127.0.0.1:0', '--data', join(dir, 'data'), '--dev-root-token', token, '--config', config], { waitMs: WAIT_MS });
    child = started.process;
    const events: string[] = [];
    const exited = noted(events, 'process exited', started.exited);
    const { url } = started;
    const server = { url };

    lock = await holdLock();
    const role = await mountHeldRole(server, token, lock);
    const idle = keepAliveConnection(url);
    assert.equal((await idle.call('sys/health', token)).status, 200);
    const watch = await openWatch(url, token);
    const busy = keepAliveConnection(url);
    const slow = noted(events, 'slow request answered', busy.call(`database/creds/${role}`, token));
    await lock.waiterArrived();

    started.process.kill('SIGTERM');
    const streamText = await watch.ended;
    assert.match(streamText, /event: end\n/);
    await idle.closed;
    await untilRefused(url);
    assert.deepEqual(events, [], 'the process waits for the request in flight');

    await lock.release();
    const reply = await slow;
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.match(reply.body.data.username, /^fx-held/);
    assert.equal(reply.connection, 'close');
    assert.deepEqual(await exited, { code: 0, signal: null }, started.output.stderr);
    assert.deepEqual(events, ['slow request answered', 'process exited']);
    idle.destroy();
    busy.destroy();
  });
});

describe('stopping a server with an HTTP replica and a request in flight on a replica connection', () => {
  let server: TestServer | undefined;
  let dataDir: string | undefined;
  let lock: HeldLock | undefined;

  after(async () => {
    await lock?.release().catch(() => undefined);
    await server?.close().catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('lets the replica relay the answer before either process stops', HANG_GUARD, async () => {
    dataDir = tempDir();
    const started = await startTestServer({ dev: true, storage: 'sqlite', httpReplicas: 1, dataDir, shutdownGracePeriod: '60s' });
    server = started;
    const root = started.rootToken as string;
    lock = await holdLock();
    const role = await mountHeldRole(started, root, lock);
    assert.equal((await api(started, 'POST', 'secret/data/probe', { token: root, body: { data: { v: '1' } } })).status, 200);

    // New connections alternate between the server and the replica: take one the replica serves.
    let onReplica: ReturnType<typeof keepAliveConnection> | undefined;
    await eventually(
      async () => {
        const candidate = keepAliveConnection(started.url);
        if ((await candidate.call('secret/data/probe', root)).servedBy === 'replica') {
          onReplica = candidate;
          return true;
        }
        candidate.destroy();
        return false;
      },
      WAIT_MS,
      'a connection served by the replica',
    );
    const connection = onReplica as ReturnType<typeof keepAliveConnection>;

    const events: string[] = [];
    // Not a KV read: the replica forwards it to the server, which holds it at the lock.
    const slow = noted(events, 'slow request answered', connection.call(`database/creds/${role}`, root));
    await lock.waiterArrived();
    const closed = noted(events, 'server closed', started.close());
    server = undefined;
    await untilRefused(started.url);
    assert.deepEqual(events, [], 'the server waits for the request in flight on the replica');

    await lock.release();
    const reply = await slow;
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.match(reply.body.data.username, /^fx-held/);
    assert.equal(reply.connection, 'close');
    await closed;
    assert.deepEqual(events, ['slow request answered', 'server closed']);
    connection.destroy();
  });
});
