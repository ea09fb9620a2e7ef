/**
 * Vault's `?help=1` over real HTTP: any method asks for help and runs nothing, the answer is the
 * bare help object (not the response envelope), any valid token may ask, and an audit device
 * records it as a help request.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { send } from '../helpers/raw-http.js';

describe('path help (?help=1)', () => {
  const dir = tempDir('coffer-path-help-');
  const auditFile = join(dir, 'audit.log');
  let server: TestServer;
  let root: string;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    const enabled = await send(server, 'PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: auditFile } } });
    assert.equal(enabled.status, 204, enabled.text);
  });
  after(async () => {
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes a KV v2 path with the bare help object', async () => {
    const res = await send(server, 'GET', 'secret/data/app/db?help=1', { token: root });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ['help', 'see_also']);
    assert.match(res.body.help, /^Request: +data\/app\/db\nMatching Route: \^data\/\(\?<path>\.\*\)\$/);
    assert.match(res.body.help, /## OPERATIONS\n\ncreate, read, update, patch, delete/);
  });

  it('runs nothing: a write, a patch and a delete asking for help leave the secret as it was', async () => {
    const first = await send(server, 'POST', 'secret/data/kept', { token: root, body: { data: { v: 'one' } } });
    assert.equal(first.status, 200, first.text);
    for (const [method, path, body] of [
      ['POST', 'secret/data/kept?help=1', { data: { v: 'two' } }],
      ['PUT', 'secret/data/never?help=true', { data: { v: 'x' } }],
      ['DELETE', 'secret/data/kept?help=1', undefined],
      ['DELETE', 'secret/metadata/kept?help=1', undefined],
      ['POST', 'secret/destroy/kept?help=1', { versions: [1] }],
    ] as const) {
      const res = await send(server, method, path, { token: root, ...(body === undefined ? {} : { body }) });
      assert.equal(res.status, 200, `${method} ${path}: ${res.text}`);
      assert.equal(typeof res.body.help, 'string');
    }
    const read = await send(server, 'GET', 'secret/data/kept', { token: root });
    assert.deepEqual([read.status, read.body.data.data, read.body.data.metadata.version], [200, { v: 'one' }, 1]);
    assert.equal((await send(server, 'GET', 'secret/data/never', { token: root })).status, 404);
  });

  it('lists the engine paths at a mount root, and refuses a path no route matches', async () => {
    const mountRoot = await send(server, 'GET', 'secret/?help=1', { token: root });
    assert.equal(mountRoot.status, 200, mountRoot.text);
    assert.match(mountRoot.body.help, /\^data\/\(\?<path>\.\*\)\$\n {8}\S/);
    assert.match(mountRoot.body.help, /\^metadata\(/);
    const tokenCreate = await send(server, 'GET', 'auth/token/create?help=1', { token: root });
    assert.match(tokenCreate.body.help, /Matching Route: \^create\$\n\nCreate a token/);
    // No existence check there: every write is an update.
    assert.match(tokenCreate.body.help, /## OPERATIONS\n\nupdate$/);
    const leaseRevoke = await send(server, 'GET', 'sys/leases/revoke?help=1', { token: root });
    assert.match(leaseRevoke.body.help, /Revoke a lease now/);
    const unmatched = await send(server, 'GET', 'secret/no-such-route/x?help=1', { token: root });
    assert.equal(unmatched.status, 404, unmatched.text);
    const unmounted = await send(server, 'GET', 'nowhere/x?help=1', { token: root });
    assert.equal(unmounted.status, 404, unmounted.text);
  });

  it('needs a valid token, which any policy lets ask; an empty help value is an ordinary request', async () => {
    assert.equal((await send(server, 'GET', 'secret/data/kept?help=1')).status, 403);
    assert.equal((await send(server, 'GET', 'secret/data/kept?help=1', { token: 'hvs.not-a-token' })).status, 403);
    const created = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['default'], ttl: '1h' } });
    const limited = created.body.auth.client_token as string;
    assert.equal((await send(server, 'GET', 'secret/data/kept', { token: limited })).status, 403);
    const help = await send(server, 'GET', 'secret/data/kept?help=1', { token: limited });
    assert.equal(help.status, 200, help.text);
    const ordinary = await send(server, 'GET', 'secret/data/kept?help=', { token: root });
    assert.deepEqual(ordinary.body.data.data, { v: 'one' });
  });

  it('spends a use of a use-limited token, and its last use revokes the token (as in Vault)', async () => {
    const created = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['default'], ttl: '1h', num_uses: 3 } });
    const limited = created.body.auth.client_token as string;
    assert.equal((await send(server, 'GET', 'secret/data/kept?help=1', { token: limited })).status, 200);
    const looked = await send(server, 'GET', 'auth/token/lookup-self', { token: limited });
    // One use by help, one by this lookup.
    assert.equal(looked.body.data.num_uses, 1, looked.text);
    assert.equal((await send(server, 'GET', 'secret/data/kept?help=1', { token: limited })).status, 200);
    assert.equal((await send(server, 'GET', 'secret/data/kept?help=1', { token: limited })).status, 403);
    const gone = await send(server, 'POST', 'auth/token/lookup', { token: root, body: { token: limited } });
    assert.equal(gone.status, 403, gone.text);
  });

  it('is audited as a help request', () => {
    const entries = readFileSync(auditFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const helps = entries.filter((entry) => entry.request?.operation === 'help' && entry.request.path === 'secret/data/kept');
    assert.ok(helps.some((entry) => entry.type === 'request') && helps.some((entry) => entry.type === 'response'), JSON.stringify(helps.slice(0, 2)));
  });
});
