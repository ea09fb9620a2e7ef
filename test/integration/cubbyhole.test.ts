/**
 * The cubbyhole/ engine over HTTP: each token sees only its own values, nobody else (root
 * included) reaches them, and they are deleted from storage when the token is revoked.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { send } from '../helpers/raw-http.js';

describe('cubbyhole', () => {
  let server: TestServer;
  let root: string;

  const createToken = async (): Promise<{ token: string; accessor: string }> => {
    const created = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['default'], ttl: '1h' } });
    assert.equal(created.status, 200, created.text);
    return { token: created.body.auth.client_token as string, accessor: created.body.auth.accessor as string };
  };

  /** Storage keys of every cubbyhole (keys are not encrypted; values are). */
  const storedCubbyholeKeys = (): string[] => {
    const db = new Database(join(server.dataDir, 'coffer.db'), { readonly: true });
    try {
      return (db.prepare("SELECT key FROM entries WHERE key LIKE 'sys/cubbyhole/%'").all() as Array<{ key: string }>).map((row) => row.key);
    } finally {
      db.close();
    }
  };

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'sqlite' });
    root = server.rootToken as string;
  });
  after(async () => {
    await server?.destroy();
  });

  it('is mounted on every server as type cubbyhole and cannot be disabled', async () => {
    const mounts = await send(server, 'GET', 'sys/mounts', { token: root });
    assert.equal(mounts.body.data['cubbyhole/']?.type, 'cubbyhole');
    assert.equal(mounts.body.data['cubbyhole/']?.local, true);
    const disabled = await send(server, 'DELETE', 'sys/mounts/cubbyhole', { token: root });
    assert.equal(disabled.status, 400, disabled.text);
    assert.equal((await send(server, 'POST', 'sys/mounts/cubbyhole', { token: root, body: { type: 'kv' } })).status, 400);
  });

  it("keeps each token's values private to that token, root included", async () => {
    const alice = await createToken();
    const bob = await createToken();
    const written = await send(server, 'POST', 'cubbyhole/app/key', { token: alice.token, body: { value: 'only-alice', ttl: '1h' } });
    assert.equal(written.status, 204, written.text);
    const read = await send(server, 'GET', 'cubbyhole/app/key', { token: alice.token });
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body.data, { value: 'only-alice', ttl: '1h' });
    // A cubbyhole value is plain data: no refresh interval, unlike KV v1's ttl hint.
    assert.equal(read.body.lease_duration, 0);
    const listed = await send(server, 'LIST', 'cubbyhole/', { token: alice.token });
    assert.deepEqual(listed.body.data.keys, ['app/']);

    for (const other of [bob.token, root]) {
      assert.equal((await send(server, 'GET', 'cubbyhole/app/key', { token: other })).status, 404);
      assert.equal((await send(server, 'LIST', 'cubbyhole/', { token: other })).status, 404);
    }
    assert.equal((await send(server, 'POST', 'cubbyhole/app/key', { token: bob.token, body: { value: 'bob' } })).status, 204);
    assert.deepEqual((await send(server, 'GET', 'cubbyhole/app/key', { token: alice.token })).body.data.value, 'only-alice');
    assert.deepEqual((await send(server, 'GET', 'cubbyhole/app/key', { token: bob.token })).body.data.value, 'bob');

    assert.equal((await send(server, 'POST', 'cubbyhole/empty', { token: alice.token, body: {} })).status, 400);
    assert.equal((await send(server, 'DELETE', 'cubbyhole/app/key', { token: bob.token })).status, 204);
    assert.equal((await send(server, 'GET', 'cubbyhole/app/key', { token: bob.token })).status, 404);
    assert.equal((await send(server, 'GET', 'cubbyhole/app/key', { token: alice.token })).status, 200);
    assert.equal((await send(server, 'GET', 'cubbyhole/app/key')).status, 403);
  });

  it('leaves nothing behind a token revoked while its writes run, so a later token with the same id starts empty', async () => {
    const id = `cubby-fixed-${process.pid}`;
    for (let round = 0; round < 5; round += 1) {
      const created = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['default'], id } });
      assert.equal(created.status, 200, created.text);
      const token = created.body.auth.client_token as string;
      assert.equal((await send(server, 'LIST', 'cubbyhole/', { token })).status, 404, `round ${round}: the new token found an old cubbyhole`);
      const writes = Array.from({ length: 20 }, (_, i) => send(server, 'POST', `cubbyhole/left-${i}`, { token, body: { v: 'from-the-revoked-holder' } }));
      await new Promise((resolve) => setTimeout(resolve, round));
      const revoked = await send(server, 'POST', 'auth/token/revoke-self', { token });
      assert.equal(revoked.status, 204, revoked.text);
      // Each write either landed before the revocation (and went with it) or was refused.
      for (const write of await Promise.all(writes)) assert.ok(write.status === 204 || write.status === 403, write.text);
      assert.deepEqual(storedCubbyholeKeys().filter((key) => key.includes('left-')), [], `round ${round}`);
    }
  });

  it("is not where a wrapping token unwraps: reading cubbyhole/response with one is refused and spends nothing", async () => {
    await send(server, 'POST', 'secret/data/cubby-wrapped', { token: root, body: { data: { v: 'x' } } });
    const wrapped = await send(server, 'GET', 'secret/data/cubby-wrapped', { token: root, headers: { 'X-Vault-Wrap-TTL': '1m' } });
    const wrappingToken = wrapped.body.wrap_info.token as string;
    assert.equal((await send(server, 'GET', 'cubbyhole/response', { token: wrappingToken })).status, 403);
    assert.equal((await send(server, 'POST', 'sys/wrapping/lookup', { body: { token: wrappingToken } })).status, 200);
    assert.equal((await send(server, 'POST', 'sys/wrapping/unwrap', { token: wrappingToken })).body.data.data.v, 'x');
  });

  it('takes a write on the last use of a use-limited token (204, as Vault), and the cubbyhole goes with the token', async () => {
    const created = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['default'], num_uses: 2 } });
    const limited = created.body.auth.client_token as string;
    assert.equal((await send(server, 'POST', 'cubbyhole/first', { token: limited, body: { v: '1' } })).status, 204);
    const last = await send(server, 'POST', 'cubbyhole/last', { token: limited, body: { v: '2' } });
    assert.equal(last.status, 204, last.text);
    assert.equal((await send(server, 'GET', 'cubbyhole/first', { token: limited })).status, 403, 'the token is gone after its last use');
  });

  it("deletes a token's cubbyhole from storage when the token is revoked", async () => {
    const carol = await createToken();
    await send(server, 'POST', 'cubbyhole/one', { token: carol.token, body: { v: '1' } });
    await send(server, 'POST', 'cubbyhole/deep/two', { token: carol.token, body: { v: '2' } });
    const before = storedCubbyholeKeys().length;
    assert.ok(before >= 2);
    const revoked = await send(server, 'POST', 'auth/token/revoke-accessor', { token: root, body: { accessor: carol.accessor } });
    assert.equal(revoked.status, 204, revoked.text);
    assert.equal(storedCubbyholeKeys().length, before - 2);
  });
});
