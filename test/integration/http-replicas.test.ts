/**
 * HTTP replica processes (--http-replicas): a real server with one replica, reached over real
 * keep-alive connections. Connections alternate between the primary and the replica, so each
 * test finds a connection the replica serves (its answers carry x-coffer-served-by) and checks
 * that what the replica answers is exactly what the primary would: never a revoked token, a
 * loosened policy, a stale secret or a sealed server's data.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

interface Reply {
  status: number;
  servedBy: string | undefined;
  body: any;
}

/** One keep-alive connection: every call on it goes over the same socket. */
interface Connection {
  call(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<Reply>;
  close(): void;
}

function connect(url: string): Connection {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(url);
  return {
    call: (method, path, options = {}) =>
      new Promise<Reply>((resolve, reject) => {
        const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
        const headers: Record<string, string> = { ...options.headers };
        if (options.token !== undefined) headers['x-vault-token'] = options.token;
        if (payload !== undefined) headers['content-type'] = 'application/json';
        const req = request({ host: hostname, port, method, path: `/v1/${path}`, headers, agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            const servedBy = res.headers['x-coffer-served-by'];
            resolve({ status: res.statusCode ?? 0, servedBy: typeof servedBy === 'string' ? servedBy : undefined, body: text === '' ? undefined : JSON.parse(text) });
          });
        });
        req.on('error', reject);
        req.end(payload);
      }),
    close: () => agent.destroy(),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const BODY_LIMIT = 64 * 1024;

let server: TestServer;
let root: string;

/** A connection the replica serves, proven by a read it answered itself. */
async function replicaConnection(token = root, path = 'secret/data/probe'): Promise<Connection> {
  for (let attempt = 0; attempt < 300; attempt += 1) {
    const connection = connect(server.url);
    const reply = await connection.call('GET', path, { token });
    if (reply.servedBy === 'replica') return connection;
    connection.close();
    await sleep(50);
  }
  throw new Error('no connection was served by the replica');
}

/** Reads on `connection` until the replica answers one itself (its core caught up with a write). */
async function untilReplicaAnswers(connection: Connection, path: string, token = root): Promise<Reply> {
  for (let attempt = 0; attempt < 300; attempt += 1) {
    const reply = await connection.call('GET', path, { token });
    if (reply.servedBy === 'replica') return reply;
    await sleep(50);
  }
  throw new Error('the replica never answered');
}

before(async () => {
  // A small body limit, so the test of an oversized body need not send 32 MiB.
  server = await startTestServer({ dev: true, storage: 'sqlite', httpReplicas: 1, maxRequestBytes: BODY_LIMIT });
  root = server.rootToken as string;
  const seeded = await connect(server.url).call('POST', 'secret/data/probe', { token: root, body: { data: { value: 'v1' } } });
  assert.equal(seeded.status, 200);
});

after(async () => {
  await server?.destroy();
});

test('a replica answers KV reads itself, forwards writes, and never serves a version older than the last acknowledged write', async () => {
  const connection = await replicaConnection();
  const first = await connection.call('GET', 'secret/data/probe', { token: root });
  assert.equal(first.body.data.data.value, 'v1');
  assert.equal(first.body.mount_type, 'kv');

  // A write on the replica connection is the primary's: forwarded, answered without the header.
  const written = await connection.call('POST', 'secret/data/probe', { token: root, body: { data: { value: 'v2' } } });
  assert.equal(written.status, 200);
  assert.equal(written.servedBy, undefined);
  assert.equal(written.body.data.version, 2);

  // The replica follows the primary's change log: the very next read is its own, and current.
  const next = await connection.call('GET', 'secret/data/probe', { token: root });
  assert.equal(next.servedBy, 'replica');
  assert.equal(next.body.data.data.value, 'v2');
  assert.equal(next.body.data.metadata.version, 2);

  const listed = await connection.call('GET', 'secret/metadata/?list=true', { token: root });
  assert.equal(listed.status, 200);
  assert.ok(listed.body.data.keys.includes('probe'));
  connection.close();
});

test('a replica forgets exactly what the primary changed: a deleted secret and a revoked token at once, without a reload', async () => {
  const primary = connect(server.url);
  for (const name of ['keep', 'drop']) {
    assert.equal((await primary.call('POST', `secret/data/forget-${name}`, { token: root, body: { data: { value: name } } })).status, 200);
  }
  const created = await primary.call('POST', 'auth/token/create', { token: root, body: { policies: ['root'], ttl: '1h' } });
  const doomed: string = created.body.auth.client_token;
  const connection = await replicaConnection();
  // Both secrets and the token are in the replica's caches now.
  for (const name of ['keep', 'drop']) assert.equal((await untilReplicaAnswers(connection, `secret/data/forget-${name}`)).body.data.data.value, name);
  assert.equal((await untilReplicaAnswers(connection, 'secret/data/forget-keep', doomed)).status, 200);

  assert.equal((await primary.call('DELETE', 'secret/data/forget-drop', { token: root })).status, 204);
  assert.equal((await primary.call('POST', 'auth/token/revoke', { token: root, body: { token: doomed } })).status, 204);

  // What did not change is still the replica's to answer, with no reload in between...
  const kept = await connection.call('GET', 'secret/data/forget-keep', { token: root });
  assert.equal(kept.servedBy, 'replica');
  assert.equal(kept.body.data.data.value, 'keep');
  // ...and what changed is gone from its caches. The replica itself finds the deletion (Vault's
  // 404 with the version's metadata); a denial is always the primary's to give.
  const dropped = await connection.call('GET', 'secret/data/forget-drop', { token: root });
  assert.equal(dropped.status, 404);
  assert.equal(dropped.servedBy, 'replica');
  assert.notEqual(dropped.body.data.metadata.deletion_time, '');
  const revoked = await connection.call('GET', 'secret/data/forget-keep', { token: doomed });
  assert.equal(revoked.status, 403);
  assert.equal(revoked.servedBy, undefined);
  connection.close();
  primary.close();
});

test('a revoked token and a tightened policy stop working on a replica connection at once', async () => {
  const primary = connect(server.url);
  const policy = (text: string) => primary.call('PUT', 'sys/policies/acl/replica-reader', { token: root, body: { policy: text } });
  assert.equal((await policy('path "secret/data/*" { capabilities = ["read"] }')).status, 204);
  const created = await primary.call('POST', 'auth/token/create', { token: root, body: { policies: ['replica-reader'], ttl: '1h' } });
  const reader: string = created.body.auth.client_token;
  const other = await primary.call('POST', 'auth/token/create', { token: root, body: { policies: ['replica-reader'], ttl: '1h' } });
  const otherReader: string = other.body.auth.client_token;

  const connection = await replicaConnection(reader);
  await untilReplicaAnswers(connection, 'secret/data/probe', otherReader);

  assert.equal((await primary.call('POST', 'auth/token/revoke', { token: root, body: { token: reader } })).status, 204);
  const afterRevoke = await connection.call('GET', 'secret/data/probe', { token: reader });
  assert.equal(afterRevoke.status, 403);

  await untilReplicaAnswers(connection, 'secret/data/probe', otherReader);
  assert.equal((await policy('path "secret/data/other" { capabilities = ["read"] }')).status, 204);
  const afterPolicy = await connection.call('GET', 'secret/data/probe', { token: otherReader });
  assert.equal(afterPolicy.status, 403);
  connection.close();
  primary.close();
});

test('while a rate limit quota exists, the primary answers everything, so one bucket counts every connection', async () => {
  const connection = await replicaConnection();
  const primary = connect(server.url);
  assert.equal((await primary.call('PUT', 'sys/quotas/rate-limit/replica-test', { token: root, body: { path: 'secret/', rate: 1000 } })).status, 204);
  try {
    const limited = await connection.call('GET', 'secret/data/probe', { token: root });
    assert.equal(limited.status, 200);
    assert.equal(limited.servedBy, undefined);
  } finally {
    assert.equal((await primary.call('DELETE', 'sys/quotas/rate-limit/replica-test', { token: root })).status, 204);
  }
  assert.equal((await untilReplicaAnswers(connection, 'secret/data/probe')).status, 200);
  connection.close();
  primary.close();
});

test('a token with limited uses is spent once per request through a replica', async () => {
  const primary = connect(server.url);
  const created = await primary.call('POST', 'auth/token/create', { token: root, body: { policies: ['root'], num_uses: 2 } });
  const token: string = created.body.auth.client_token;
  const connection = await replicaConnection();
  const replies = [];
  for (let i = 0; i < 3; i += 1) replies.push(await connection.call('GET', 'secret/data/probe', { token }));
  assert.deepEqual(replies.map((r) => r.status), [200, 200, 403]);
  // Spending a use is a write: the primary answered these.
  assert.deepEqual(replies.map((r) => r.servedBy), [undefined, undefined, undefined]);
  connection.close();
  primary.close();
});

test('with an audit device enabled, replica connections are audited by the primary with the real client address', async () => {
  const connection = await replicaConnection();
  const logDir = tempDir('coffer-replica-audit-');
  const logPath = join(logDir, 'audit.log');
  const primary = connect(server.url);
  assert.equal((await primary.call('PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: logPath } } })).status, 204);

  // A client cannot pick the address the primary records.
  const reply = await connection.call('GET', 'secret/data/probe', { token: root, headers: { 'x-coffer-client-address': '203.0.113.9' } });
  assert.equal(reply.status, 200);
  assert.equal(reply.servedBy, undefined);
  const fromPrimary = await primary.call('GET', 'secret/data/probe', { token: root, headers: { 'x-coffer-client-address': '203.0.113.9' } });
  assert.equal(fromPrimary.status, 200);

  const lines = readFileSync(logPath, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const reads = lines.filter((entry) => entry.type === 'request' && entry.request?.path === 'secret/data/probe');
  assert.equal(reads.length, 2);
  for (const entry of reads) assert.match(entry.request.remote_address, /127\.0\.0\.1$/);

  assert.equal((await primary.call('DELETE', 'sys/audit/file', { token: root })).status, 204);
  rmSync(logDir, { recursive: true, force: true });
  await untilReplicaAnswers(connection, 'secret/data/probe');
  connection.close();
  primary.close();
});

test('the primary socket replicas forward to is private to the server user', () => {
  // Found through the process's own listening sockets would be fragile; the set names it.
  const sockets = readFileSync('/proc/net/unix', 'utf8').split('\n').filter((line) => /coffer-[^/]+\/primary\.sock$/.test(line));
  assert.ok(sockets.length > 0);
  for (const line of sockets) {
    const path = line.trim().split(/\s+/).at(-1) as string;
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
    } catch (error) {
      // Another test server's socket may have gone between the listing and the stat.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
});

test('a body a client framed chunked reaches the primary framed, so no request hidden in it is smuggled onto the shared connection', async () => {
  // The attack: a DELETE (which node would forward with no framing of its own) whose chunked
  // body is a whole second request, asserting another client address.
  const smuggled = [
    'POST /v1/secret/data/smuggled HTTP/1.1',
    'Host: a',
    `X-Vault-Token: ${root}`,
    'X-Coffer-Client-Address: 6.6.6.6',
    'Content-Type: application/json',
    'Content-Length: 24',
    '',
    '{"data":{"via":"smug"}}\n',
  ].join('\r\n');
  const { hostname, port } = new URL(server.url);
  // A connection the replica serves: one socket per agent, kept alive, proven by a read.
  let agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let tries = 0; ; tries += 1) {
    const servedBy = await new Promise<string | undefined>((resolve, reject) => {
      const req = request({ host: hostname, port, method: 'GET', path: '/v1/secret/data/probe', headers: { 'x-vault-token': root }, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers['x-coffer-served-by'] as string | undefined));
      });
      req.on('error', reject);
      req.end();
    });
    if (servedBy === 'replica') break;
    assert.ok(tries < 300, 'no connection was served by the replica');
    agent.destroy();
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
  }
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: hostname, port, method: 'DELETE', path: '/v1/secret/data/nothing', headers: { 'x-vault-token': root, 'transfer-encoding': 'chunked' }, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(smuggled);
    });
    assert.ok(status > 0);
  }
  agent.destroy();
  // Whatever the DELETEs answered, the request in their bodies never ran, on either process.
  await sleep(200);
  const primary = connect(server.url);
  const missing = await primary.call('GET', 'secret/data/smuggled', { token: root });
  assert.equal(missing.status, 404, JSON.stringify(missing.body));
  primary.close();
});

test("the primary's internal listener refuses a request that does not carry the replicas' key", async () => {
  const sockets = readFileSync('/proc/net/unix', 'utf8').split('\n').filter((line) => /coffer-[^/]+\/primary\.sock$/.test(line));
  assert.ok(sockets.length > 0);
  const path = (sockets[0] as string).trim().split(/\s+/).at(-1) as string;
  const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ socketPath: path, method: 'GET', path: '/v1/sys/health', headers: { 'x-coffer-client-address': '6.6.6.6', 'x-coffer-hop-key': 'guess' } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  }).catch((error: NodeJS.ErrnoException) => {
    // Another test server's socket may have gone between the listing and the connect.
    if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') return { status: 400, text: 'request not forwarded by a replica of this server' };
    throw error;
  });
  assert.equal(reply.status, 400);
  assert.match(reply.text, /request not forwarded by a replica of this server/);
});

/** POSTs a streamed (chunked, no Content-Length) body of `bytes` on a new connection. */
function postChunked(url: string, path: string, bytes: number): Promise<{ status: number; connection: string | undefined }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method: 'POST', path: `/v1/${path}`, headers: { 'x-vault-token': root, 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(16 * 1024, 'a');
    for (let sent = 0; sent < bytes; sent += chunk.length) req.write(chunk);
    req.end();
  });
}

test('a body over the limit gets 413 and a closed connection through a replica too, declared or streamed', async () => {
  const connection = await replicaConnection();
  const declared = await connection.call('POST', 'secret/data/big', { token: root, body: { data: { value: 'x'.repeat(2 * BODY_LIMIT) } } });
  assert.equal(declared.status, 413);
  connection.close();
  // Streamed bodies, on as many new connections as it takes to have used the replica's too.
  for (let i = 0; i < 4; i += 1) {
    const streamed = await postChunked(server.url, 'secret/data/big', 4 * BODY_LIMIT);
    assert.equal(streamed.status, 413);
    assert.equal(streamed.connection, 'close');
  }
  const primary = connect(server.url);
  assert.equal((await primary.call('GET', 'secret/data/big', { token: root })).status, 404);
  primary.close();
});

test('a server with a replica closes promptly while a client holds an event stream on the replica', { timeout: 60_000 }, async () => {
  const other = await startTestServer({ dev: true, storage: 'sqlite', httpReplicas: 1 });
  const otherRoot = other.rootToken as string;
  const { hostname, port } = new URL(other.url);
  assert.equal((await connect(other.url).call('POST', 'secret/data/w', { token: otherRoot, body: { data: { v: '1' } } })).status, 200);
  // New connections alternate: open watch streams until one is held by the replica.
  const streams: Array<{ destroy(): void }> = [];
  for (let i = 0; i < 6; i += 1) {
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: hostname, port, path: '/v1/sys/watch?prefix=secret/', headers: { 'x-vault-token': otherRoot }, agent: false }, (res) => {
        assert.equal(res.statusCode, 200);
        res.on('error', () => undefined);
        resolve();
      });
      req.on('error', reject);
      req.end();
      streams.push(req);
    });
  }
  // Resolves (the test would time out otherwise) although the streams are still open.
  await other.destroy();
  for (const stream of streams) stream.destroy();
});

/** The pid of this process's replica child, if one runs. */
function replicaPidOf(parent: number): number | undefined {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .find((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === parent && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('replica-process');
      } catch {
        return false;
      }
    });
}

test('a replica ignores SIGHUP, SIGINT and SIGTERM sent to it, and keeps serving its connections', async () => {
  const replicaPid = replicaPidOf(process.pid);
  assert.ok(replicaPid !== undefined, 'the replica process is a child of this process');
  const connection = await replicaConnection();
  for (const signal of ['SIGHUP', 'SIGINT', 'SIGTERM'] as const) process.kill(replicaPid, signal);
  await sleep(200);
  assert.doesNotThrow(() => process.kill(replicaPid, 0), 'the replica is still running');
  const reply = await connection.call('GET', 'secret/data/probe', { token: root });
  assert.equal(reply.status, 200);
  assert.equal(reply.servedBy, 'replica', 'the same connection, still served by the replica');
  connection.close();
});

test('a replica that stops answering is killed and replaced, and gets no new connections meanwhile', { timeout: 60_000 }, async () => {
  const hung = replicaPidOf(process.pid);
  assert.ok(hung !== undefined);
  process.kill(hung, 'SIGSTOP');
  try {
    for (let waited = 0; existsSync(`/proc/${hung}`) && waited < 30_000; waited += 100) await sleep(100);
    assert.ok(!existsSync(`/proc/${hung}`), 'the hung replica was killed');
  } finally {
    if (existsSync(`/proc/${hung}`)) process.kill(hung, 'SIGKILL');
  }
  // Fresh connections are all answered: by the primary, or by the replica started instead.
  for (let i = 0; i < 6; i += 1) {
    const connection = connect(server.url);
    assert.equal((await connection.call('GET', 'secret/data/probe', { token: root })).status, 200);
    connection.close();
  }
  await replicaConnection();
});

test('sealing takes the key back from the replica before it completes', async () => {
  const connection = await replicaConnection();
  const primary = connect(server.url);
  // sys/seal answers once sealed (as Vault), and a seal completes only once every replica has
  // confirmed it dropped the key: the very next read on the replica connection is refused.
  assert.equal((await primary.call('PUT', 'sys/seal', { token: root })).status, 204);
  assert.equal((await primary.call('GET', 'sys/seal-status')).body.sealed, true);
  const reply = await connection.call('GET', 'secret/data/probe', { token: root });
  assert.equal(reply.status, 503);
  assert.equal(reply.servedBy, undefined);
  connection.close();
  primary.close();
});

