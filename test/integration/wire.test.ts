/**
 * Vault's wire format, checked byte by byte over real HTTP: the envelope, LIST (as a method, on
 * keep-alive and pipelined connections, and as ?list=), status codes, raw sys bodies, legacy
 * top-level copies, and the headers clients and caches rely on.
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { openConnection, rawRequest, send, type RawResponse } from '../helpers/raw-http.js';
import { rmSync } from 'node:fs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function childToken(server: TestServer, policies: string[]): Promise<string> {
  const res = await send(server, 'POST', 'auth/token/create', { token: server.rootToken, body: { policies, ttl: '1h' } });
  assert.equal(res.status, 200, res.text);
  return res.body.auth.client_token as string;
}

async function putPolicy(server: TestServer, name: string, policy: string): Promise<void> {
  const res = await send(server, 'PUT', `sys/policies/acl/${name}`, { token: server.rootToken, body: { policy } });
  assert.equal(res.status, 204, res.text);
}

function assertNoStoreJson(res: { headers: Record<string, unknown> }): void {
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.match(String(res.headers['content-type']), /^application\/json/);
}

describe('the Vault wire format on an unsealed dev server', () => {
  let server: TestServer;
  let root: string;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    for (const key of ['list/a', 'list/b', 'list/sub/c']) {
      const res = await send(server, 'POST', `secret/data/${key}`, { token: root, body: { data: { v: key } } });
      assert.equal(res.status, 200, res.text);
    }
  });
  after(async () => {
    await server.destroy();
  });

  it('wraps a KV read in the full response envelope', async () => {
    const written = await send(server, 'POST', 'secret/data/envelope', { token: root, body: { data: { password: 'p1' } } });
    assert.equal(written.status, 200);
    const res = await send(server, 'GET', 'secret/data/envelope', { token: root });
    assert.equal(res.status, 200);
    assertNoStoreJson(res);
    assert.deepEqual(Object.keys(res.body).sort(), ['auth', 'data', 'lease_duration', 'lease_id', 'mount_type', 'renewable', 'request_id', 'warnings', 'wrap_info']);
    assert.match(res.body.request_id, UUID);
    assert.notEqual(res.body.request_id, written.body.request_id);
    assert.equal(res.body.lease_id, '');
    assert.equal(res.body.renewable, false);
    assert.equal(res.body.lease_duration, 0);
    assert.equal(res.body.wrap_info, null);
    assert.equal(res.body.warnings, null);
    assert.equal(res.body.auth, null);
    assert.equal(res.body.mount_type, 'kv');
    assert.deepEqual(res.body.data.data, { password: 'p1' });
    const metadata = res.body.data.metadata;
    assert.deepEqual(Object.keys(metadata).sort(), ['created_time', 'custom_metadata', 'deletion_time', 'destroyed', 'version']);
    assert.match(metadata.created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    assert.equal(metadata.custom_metadata, null);
    assert.equal(metadata.deletion_time, '');
    assert.equal(metadata.destroyed, false);
    assert.equal(metadata.version, 1);
    // Not a legacy route: nothing is copied to the top level.
    assert.equal(res.body.metadata, undefined);
  });

  it('answers LIST as a method exactly like GET ?list=true and ?list=1', async () => {
    const viaMethod = await send(server, 'LIST', 'secret/metadata/list', { token: root });
    const viaMethodSlash = await send(server, 'LIST', 'secret/metadata/list/', { token: root });
    const viaTrue = await send(server, 'GET', 'secret/metadata/list?list=true', { token: root });
    const viaOne = await send(server, 'GET', 'secret/metadata/list/?list=1', { token: root });
    for (const res of [viaMethod, viaMethodSlash, viaTrue, viaOne]) {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.data.keys, ['a', 'b', 'sub/']);
      assert.equal(res.body.mount_type, 'kv');
    }
    // Without the list flag the same path is a read of metadata, not a list.
    const read = await send(server, 'GET', 'secret/metadata/list', { token: root });
    assert.equal(read.status, 404);
  });

  it('keeps other query parameters of a LIST request', async () => {
    const res = await send(server, 'LIST', 'secret/metadata/list?foo=bar', { token: root });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.data.keys, ['a', 'b', 'sub/']);
  });

  it('treats LIST as a list even when the target already carries a list parameter', async () => {
    for (const target of ['secret/metadata/list?list=true', 'secret/metadata/list?list=false']) {
      const res = await send(server, 'LIST', target, { token: root });
      assert.equal(res.status, 200, `${target}: ${res.text}`);
      assert.deepEqual(res.body.data.keys, ['a', 'b', 'sub/'], target);
    }
  });

  it('accepts Go-style booleans for ?list= and refuses values that are not booleans', async () => {
    for (const flag of ['t', 'TRUE', 'True']) {
      const res = await send(server, 'GET', `secret/metadata/list?list=${flag}`, { token: root });
      assert.equal(res.status, 200, flag);
      assert.deepEqual(res.body.data.keys, ['a', 'b', 'sub/']);
    }
    const off = await send(server, 'GET', 'secret/data/list/a?list=false', { token: root });
    assert.equal(off.status, 200);
    assert.equal(off.body.data.data.v, 'list/a');
    const bad = await send(server, 'GET', 'secret/metadata/list?list=yes', { token: root });
    assert.equal(bad.status, 400);
  });

  it('answers LIST as the 2nd and 3rd request of a keep-alive connection after a POST with a body', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<unknown>();
      agent.on('free', (socket) => sockets.add(socket));
      const post = await send(server, 'POST', 'secret/data/list/d', { token: root, body: { data: { v: 'x'.repeat(3000) } }, agent });
      assert.equal(post.status, 200);
      const second = await send(server, 'LIST', 'secret/metadata/list', { token: root, agent });
      const third = await send(server, 'LIST', 'secret/metadata/list/sub', { token: root, agent });
      assert.equal(second.status, 200, second.text);
      assert.deepEqual(second.body.data.keys, ['a', 'b', 'd', 'sub/']);
      assert.equal(third.status, 200, third.text);
      assert.deepEqual(third.body.data.keys, ['c']);
      assert.equal(sockets.size, 1, 'all three requests went over one connection');
    } finally {
      agent.destroy();
      await send(server, 'DELETE', 'secret/metadata/list/d', { token: root });
    }
  });

  it('answers pipelined POST, LIST, LIST sent in one write, in order', async () => {
    const conn = await openConnection(server);
    try {
      // The POST's body must not be mistaken for the next request.
      const body = JSON.stringify({ data: { v: 'pipelined' } });
      await conn.write(
        Buffer.concat([
          rawRequest('POST', '/v1/secret/data/pipelined', { token: root, body, headers: { 'Content-Type': 'application/json' } }),
          rawRequest('LIST', '/v1/secret/metadata/list', { token: root }),
          rawRequest('LIST', '/v1/secret/metadata/list/sub/', { token: root }),
        ]),
      );
      const post = await conn.next();
      const list = await conn.next();
      const sub = await conn.next();
      assert.equal(post.status, 200, post.text);
      assert.equal(post.body.data.version, 1);
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(list.body.data.keys, ['a', 'b', 'sub/']);
      assert.equal(sub.status, 200, sub.text);
      assert.deepEqual(sub.body.data.keys, ['c']);
      await conn.write(rawRequest('GET', '/v1/secret/data/pipelined', { token: root }));
      const read = await conn.next();
      assert.equal(read.body.data.data.v, 'pipelined');
    } finally {
      conn.destroy();
    }
  });

  it('handles pipelined requests one after another: a read sent behind a write sees the write', async () => {
    const conn = await openConnection(server);
    try {
      const write = (v: string): Buffer =>
        rawRequest('POST', '/v1/secret/data/pipelined-order', { token: root, body: JSON.stringify({ data: { v } }), headers: { 'Content-Type': 'application/json' } });
      const read = rawRequest('GET', '/v1/secret/data/pipelined-order', { token: root });
      // RFC 9112 §9.3.2: only a run of safe requests may be processed in parallel.
      await conn.write(Buffer.concat([write('one'), read, write('two'), read, rawRequest('DELETE', '/v1/secret/metadata/pipelined-order', { token: root }), read]));
      const answers = [];
      for (let i = 0; i < 6; i++) answers.push(await conn.next());
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200, 200, 204, 404],
        answers.map((a) => a.text).join('\n'),
      );
      assert.equal(answers[0]?.body.data.version, 1);
      assert.equal(answers[1]?.body.data.data.v, 'one');
      assert.equal(answers[2]?.body.data.version, 2);
      assert.equal(answers[3]?.body.data.data.v, 'two');
    } finally {
      conn.destroy();
    }
  });

  it('answers a LIST whose head arrives split across several TCP segments', async () => {
    const conn = await openConnection(server);
    try {
      const bytes = rawRequest('LIST', '/v1/secret/metadata/list', { token: root });
      for (const cut of [[0, 2], [2, 7], [7, 40], [40, bytes.length]] as const) {
        await conn.write(bytes.subarray(cut[0], cut[1]));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const res = await conn.next();
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.data.keys, ['a', 'b', 'sub/']);
    } finally {
      conn.destroy();
    }
  });

  it('treats PUT exactly as POST', async () => {
    const put = await send(server, 'PUT', 'secret/data/put-post', { token: root, body: { data: { v: 'put' } } });
    const post = await send(server, 'POST', 'secret/data/put-post', { token: root, body: { data: { v: 'post' } } });
    assert.equal(put.status, 200);
    assert.equal(post.status, 200);
    assert.deepEqual(Object.keys(put.body).sort(), Object.keys(post.body).sort());
    assert.equal(put.body.data.version, 1);
    assert.equal(post.body.data.version, 2);
    const putCas = await send(server, 'PUT', 'secret/data/put-post', { token: root, body: { options: { cas: 1 }, data: { v: 'stale' } } });
    assert.equal(putCas.status, 400);
    const read = await send(server, 'GET', 'secret/data/put-post', { token: root });
    assert.equal(read.body.data.data.v, 'post');
  });

  it('answers a read of a deleted version with 404 and the whole envelope, as Vault\'s RespondWithStatusCode', async () => {
    await send(server, 'POST', 'secret/data/wire-deleted', { token: root, body: { data: { v: 1 } } });
    assert.equal((await send(server, 'DELETE', 'secret/data/wire-deleted', { token: root })).status, 204);
    const res = await send(server, 'GET', 'secret/data/wire-deleted', { token: root });
    assert.equal(res.status, 404);
    const body = JSON.parse(res.text);
    assert.equal(body.errors, undefined);
    assert.deepEqual(Object.keys(body).sort(), ['auth', 'data', 'lease_duration', 'lease_id', 'mount_type', 'renewable', 'request_id', 'warnings', 'wrap_info']);
    assert.equal(body.data.data, null);
    assert.equal(body.data.metadata.version, 1);
    assert.notEqual(body.data.metadata.deletion_time, '');
  });

  it('requires application/merge-patch+json on PATCH: 415 for another type, 400 for none', async () => {
    await send(server, 'POST', 'secret/data/wire-patch', { token: root, body: { data: { a: 1 } } });
    const json = await send(server, 'PATCH', 'secret/data/wire-patch', { token: root, body: { data: { b: 2 } }, headers: { 'Content-Type': 'application/json' } });
    assert.equal(json.status, 415);
    assert.equal(json.headers['connection'], 'close', 'the unread body is not drained: the connection closes');
    assert.deepEqual(JSON.parse(json.text), { errors: ['PATCH requires Content-Type of application/merge-patch+json, got "application/json"'] });
    const none = await send(server, 'PATCH', 'secret/data/wire-patch', { token: root, body: { data: { b: 2 } }, headers: { 'Content-Type': '' } });
    assert.equal(none.status, 400);
    const merged = await send(server, 'PATCH', 'secret/data/wire-patch', { token: root, body: { data: { b: 2 } }, headers: { 'Content-Type': 'application/merge-patch+json; charset=utf-8' } });
    assert.equal(merged.status, 200, merged.text);
    assert.deepEqual(JSON.parse((await send(server, 'GET', 'secret/data/wire-patch', { token: root })).text).data.data, { a: 1, b: 2 });
  });

  it('answers a read of a missing path with 404 and an empty error list', async () => {
    const res = await send(server, 'GET', 'secret/data/does-not-exist', { token: root });
    assert.equal(res.status, 404);
    assert.equal(res.text, '{"errors":[]}');
    assertNoStoreJson(res);
    const outside = await send(server, 'GET', 'not-v1', { token: root });
    assert.equal(outside.status, 404);
  });

  it('answers an unknown mount with 404 for root and 403 for anyone else', async () => {
    const asRoot = await send(server, 'GET', 'no-such-mount/x', { token: root });
    assert.equal(asRoot.status, 404);
    assert.match(asRoot.body.errors[0], /no handler for route/);
    const anonymous = await send(server, 'GET', 'no-such-mount/x');
    assert.equal(anonymous.status, 403);
    assert.deepEqual(anonymous.body, { errors: ['permission denied'] });
    const limited = await send(server, 'GET', 'no-such-mount/x', { token: await childToken(server, ['default']) });
    assert.equal(limited.status, 403);
    assert.deepEqual(limited.body, { errors: ['permission denied'] });
  });

  it('answers an operation a path does not support with 405', async () => {
    const listData = await send(server, 'LIST', 'secret/data/list', { token: root });
    assert.equal(listData.status, 405, listData.text);
    assert.deepEqual(listData.body, { errors: ['unsupported operation'] });
    const deleteMounts = await send(server, 'DELETE', 'sys/mounts', { token: root });
    assert.equal(deleteMounts.status, 405);
    const headKv = await send(server, 'HEAD', 'secret/data/list/a', { token: root });
    assert.equal(headKv.status, 405);
    assert.equal(headKv.text, '');
  });

  it('answers a method Vault does not know with 405', async () => {
    for (const method of ['OPTIONS', 'TRACE', 'PROPFIND']) {
      const res = await send(server, method, 'secret/data/list/a', { token: root });
      assert.equal(res.status, 405, method);
      assert.deepEqual(res.body, { errors: ['unsupported operation'] });
      assertNoStoreJson(res);
    }
  });

  it('answers a malformed or overlong URL in Vault error format without echoing it', async () => {
    for (const target of ['secret/data/bad%', 'secret/data/bad%zz', 'secret/data/bad%ff%fe']) {
      const res = await send(server, 'GET', target, { token: root });
      assert.equal(res.status, 400, target);
      assert.deepEqual(res.body, { errors: ['invalid request path: bad percent-encoding'] });
      assertNoStoreJson(res);
    }
    const long = 'secret/data/' + 'long-segment-'.repeat(700);
    const tooLong = await send(server, 'GET', long, { token: root });
    assert.equal(tooLong.status, 414);
    assert.deepEqual(Object.keys(tooLong.body), ['errors']);
    assert.equal(tooLong.text.includes('long-segment-long-segment'), false);
    assertNoStoreJson(tooLong);
    // The server carries on normally.
    assert.equal((await send(server, 'GET', 'secret/data/list/a', { token: root })).status, 200);
  });

  it('answers a write without response data with 204 and an empty body', async () => {
    const conn = await openConnection(server);
    try {
      await conn.write(rawRequest('PUT', '/v1/sys/policies/acl/empty-204', { token: root, body: JSON.stringify({ policy: 'path "x/*" { capabilities = ["read"] }' }) }));
      const res = await conn.next();
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
      assert.equal(res.headers['content-length'], undefined);
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.equal(res.headers['cache-control'], 'no-store');
      // The connection stays usable: nothing was left over from a body.
      await conn.write(rawRequest('DELETE', '/v1/secret/data/put-post', { token: root }));
      const deleted = await conn.next();
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, '');
    } finally {
      conn.destroy();
    }
  });

  it('copies data to the top level on sys/mounts, sys/auth, sys/policy and sys/audit', async () => {
    const auditDir = tempDir('coffer-wire-audit-');
    try {
      const enabled = await send(server, 'PUT', 'sys/audit/wire', { token: root, body: { type: 'file', options: { file_path: join(auditDir, 'audit.log') } } });
      assert.equal(enabled.status, 204, enabled.text);
      const checks: Array<[string, string]> = [
        ['sys/mounts', 'secret/'],
        ['sys/auth', 'token/'],
        ['sys/policy', 'policies'],
        ['sys/audit', 'wire/'],
        ['sys/mounts/secret', 'type'],
      ];
      for (const [path, key] of checks) {
        const res = await send(server, 'GET', path, { token: root });
        assert.equal(res.status, 200, `${path}: ${res.text}`);
        assert.ok(res.body.data[key] !== undefined, `${path} has data.${key}`);
        assert.deepEqual(res.body[key], res.body.data[key], `${path} copies ${key} to the top level`);
        assert.match(res.body.request_id, UUID, `${path} keeps the envelope`);
      }
      const mounts = await send(server, 'GET', 'sys/mounts', { token: root });
      assert.equal(mounts.body['secret/'].type, 'kv');
      assert.deepEqual(mounts.body['secret/'].options, { version: '2' });
      assert.equal(mounts.body['sys/'].type, 'system');
      const policy = await send(server, 'GET', 'sys/policy', { token: root });
      assert.ok(policy.body.policies.includes('root') && policy.body.policies.includes('default'));
    } finally {
      await send(server, 'DELETE', 'sys/audit/wire', { token: root });
      rmSync(auditDir, { recursive: true, force: true });
    }
  });

  it('answers sys/internal/ui/mounts/secret/foo for a token with access, and 403 alike for no access and no mount', async () => {
    await putPolicy(server, 'ui-reader', 'path "secret/data/foo/*" { capabilities = ["read"] }');
    const reader = await childToken(server, ['ui-reader']);
    const res = await send(server, 'GET', 'sys/internal/ui/mounts/secret/foo', { token: reader });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.data.path, 'secret/');
    assert.equal(res.body.data.type, 'kv');
    assert.deepEqual(res.body.data.options, { version: '2' });
    assert.match(res.body.data.accessor, /^kv_/);
    const nobody = await childToken(server, ['default']);
    const noAccess = await send(server, 'GET', 'sys/internal/ui/mounts/secret/foo', { token: nobody });
    const noMount = await send(server, 'GET', 'sys/internal/ui/mounts/no-such-mount/foo', { token: nobody });
    const noMountReader = await send(server, 'GET', 'sys/internal/ui/mounts/no-such-mount/foo', { token: reader });
    // Vault's message, which names only the path asked about: nothing tells the cases apart.
    const refusals: Array<[typeof noAccess, string]> = [[noAccess, 'secret/foo/'], [noMount, 'no-such-mount/foo/'], [noMountReader, 'no-such-mount/foo/']];
    for (const [denied, path] of refusals) {
      assert.equal(denied.status, 403);
      assert.deepEqual(denied.body, { errors: [`preflight capability check returned 403, please ensure client's policies grant access to path "${path}"`] });
    }
  });

  it('accepts the token as Authorization: Bearer', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await send(server, 'GET', 'secret/data/list/a', { headers: { Authorization: `${scheme} ${root}` } });
      assert.equal(res.status, 200, scheme);
      assert.equal(res.body.data.data.v, 'list/a');
    }
    const wrong = await send(server, 'GET', 'secret/data/list/a', { headers: { Authorization: 'Bearer hvs.not-a-token' } });
    assert.equal(wrong.status, 403);
    const basic = await send(server, 'GET', 'secret/data/list/a', { headers: { Authorization: `Basic ${root}` } });
    assert.equal(basic.status, 403);
  });

  it('sends Cache-Control: no-store on successes, errors, empty and raw responses', async () => {
    const responses: RawResponse[] = [
      await send(server, 'GET', 'secret/data/list/a', { token: root }),
      await send(server, 'GET', 'secret/data/missing', { token: root }),
      await send(server, 'GET', 'secret/data/list/a'),
      await send(server, 'POST', 'secret/data/list/a', { token: root, body: '{broken' }),
      await send(server, 'DELETE', 'secret/data/nothing-here', { token: root }),
      await send(server, 'GET', 'sys/seal-status'),
      await send(server, 'GET', 'sys/health'),
    ];
    for (const res of responses) assert.equal(res.headers['cache-control'], 'no-store', `status ${res.status}`);
  });

  it('round-trips a policy through sys/policies/acl', async () => {
    const text = 'path "secret/data/rt/*" {\n  capabilities = ["read", "list"]\n}\n';
    await putPolicy(server, 'round-trip', text);
    const read = await send(server, 'GET', 'sys/policies/acl/round-trip', { token: root });
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.data, { name: 'round-trip', policy: text });
    const list = await send(server, 'LIST', 'sys/policies/acl', { token: root });
    assert.equal(list.status, 200);
    assert.ok(list.body.data.keys.includes('round-trip'));
    const deleted = await send(server, 'DELETE', 'sys/policies/acl/round-trip', { token: root });
    assert.equal(deleted.status, 204);
    const gone = await send(server, 'GET', 'sys/policies/acl/round-trip', { token: root });
    assert.equal(gone.status, 404);
    const missing = await send(server, 'PUT', 'sys/policies/acl/no-text', { token: root, body: {} });
    assert.equal(missing.status, 400);
  });

  it('round-trips a policy through the legacy sys/policy with rules and top-level copies', async () => {
    const text = 'path "secret/data/legacy/*" { capabilities = ["read"] }';
    const put = await send(server, 'PUT', 'sys/policy/Legacy-Pol', { token: root, body: { rules: text } });
    assert.equal(put.status, 204, put.text);
    const read = await send(server, 'GET', 'sys/policy/legacy-pol', { token: root });
    assert.equal(read.status, 200);
    assert.equal(read.body.data.name, 'legacy-pol');
    assert.equal(read.body.data.rules, text);
    assert.equal(read.body.rules, text);
    assert.equal(read.body.name, 'legacy-pol');
    const viaAcl = await send(server, 'GET', 'sys/policies/acl/legacy-pol', { token: root });
    assert.equal(viaAcl.body.data.policy, text);
    assert.equal((await send(server, 'DELETE', 'sys/policy/legacy-pol', { token: root })).status, 204);
    assert.equal((await send(server, 'GET', 'sys/policy/legacy-pol', { token: root })).status, 404);
  });

  it('reads and tunes a mount through sys/mounts/:path/tune', async () => {
    const mount = await send(server, 'POST', 'sys/mounts/tuned', { token: root, body: { type: 'kv', options: { version: '2' } } });
    assert.equal(mount.status, 204, mount.text);
    const before = await send(server, 'GET', 'sys/mounts/tuned/tune', { token: root });
    assert.equal(before.status, 200);
    assert.equal(before.body.data.default_lease_ttl, 768 * 3600);
    assert.equal(before.body.default_lease_ttl, 768 * 3600);
    const tune = await send(server, 'POST', 'sys/mounts/tuned/tune', { token: root, body: { default_lease_ttl: '1h', max_lease_ttl: 7200, description: 'tuned kv' } });
    assert.equal(tune.status, 204, tune.text);
    const afterTune = await send(server, 'GET', 'sys/mounts/tuned/tune', { token: root });
    assert.equal(afterTune.body.data.default_lease_ttl, 3600);
    assert.equal(afterTune.body.data.max_lease_ttl, 7200);
    assert.equal(afterTune.body.data.description, 'tuned kv');
    const mounts = await send(server, 'GET', 'sys/mounts', { token: root });
    assert.equal(mounts.body.data['tuned/'].config.default_lease_ttl, 3600);
    const badTune = await send(server, 'POST', 'sys/mounts/tuned/tune', { token: root, body: { default_lease_ttl: 'soon' } });
    assert.equal(badTune.status, 400);
    const missing = await send(server, 'GET', 'sys/mounts/not-mounted/tune', { token: root });
    assert.equal(missing.status, 400);
  });

  it('reports the caller capabilities through sys/capabilities-self', async () => {
    await putPolicy(server, 'caps', 'path "secret/data/caps/*" { capabilities = ["read", "list", "update"] }\npath "secret/data/caps/no" { capabilities = ["deny"] }');
    const token = await childToken(server, ['caps']);
    const one = await send(server, 'POST', 'sys/capabilities-self', { token, body: { paths: ['secret/data/caps/x'] } });
    assert.equal(one.status, 200, one.text);
    // Sorted, as Vault's sort.Strings leaves them.
    assert.deepEqual(one.body.data['secret/data/caps/x'], ['list', 'read', 'update']);
    assert.deepEqual(one.body.data.capabilities, ['list', 'read', 'update']);
    assert.deepEqual(one.body.capabilities, ['list', 'read', 'update']);
    const many = await send(server, 'POST', 'sys/capabilities-self', { token, body: { paths: ['secret/data/caps/no', 'secret/data/other'] } });
    assert.deepEqual(many.body.data['secret/data/caps/no'], ['deny']);
    assert.deepEqual(many.body.data['secret/data/other'], ['deny']);
    assert.equal(many.body.data.capabilities, undefined);
    const legacyPath = await send(server, 'POST', 'sys/capabilities-self', { token, body: { path: 'secret/data/caps/y' } });
    assert.deepEqual(legacyPath.body.data.capabilities, ['list', 'read', 'update']);
    const asRoot = await send(server, 'POST', 'sys/capabilities-self', { token: root, body: { paths: ['anything'] } });
    assert.deepEqual(asRoot.body.data.capabilities, ['root']);
  });

  it('answers a KV v1 read with the secret ttl, or the mount default lease TTL, as lease_duration and no lease', async () => {
    assert.equal((await send(server, 'POST', 'sys/mounts/hint-kv', { token: root, body: { type: 'kv', options: { version: '1' } } })).status, 204);
    await send(server, 'POST', 'hint-kv/with-ttl', { token: root, body: { a: 'b', ttl: '1h' } });
    await send(server, 'POST', 'hint-kv/plain', { token: root, body: { a: 'b' } });
    const hinted = await send(server, 'GET', 'hint-kv/with-ttl', { token: root });
    assert.equal(hinted.body.lease_duration, 3600);
    assert.equal(hinted.body.lease_id, '');
    assert.equal(hinted.body.renewable, false);
    assert.equal((await send(server, 'GET', 'hint-kv/plain', { token: root })).body.lease_duration, 768 * 3600, 'the default lease TTL');
    assert.equal((await send(server, 'POST', 'sys/mounts/hint-kv/tune', { token: root, body: { default_lease_ttl: '10m' } })).status, 204);
    assert.equal((await send(server, 'GET', 'hint-kv/plain', { token: root })).body.lease_duration, 600, 'the tuned default');
    assert.equal((await send(server, 'LIST', 'sys/leases/lookup/hint-kv/', { token: root })).status, 404, 'no lease was made');
  });

  it('reads a form-encoded body as a form, as Vault does, unless it starts like JSON', async () => {
    assert.equal((await send(server, 'POST', 'sys/mounts/form-kv', { token: root, body: { type: 'kv', options: { version: '1' } } })).status, 204);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const written = await send(server, 'POST', 'form-kv/app', { token: root, body: 'foo=bar&n=1&list=a&list=b&sp=a+b%26c', headers: form });
    assert.equal(written.status, 204, written.text);
    const read = await send(server, 'GET', 'form-kv/app', { token: root });
    assert.deepEqual(read.body.data, { foo: 'bar', n: '1', list: 'a,b', sp: 'a b&c' });
    // curl -d '{"a":1}' sends the same header with a JSON body: still JSON.
    assert.equal((await send(server, 'POST', 'form-kv/json', { token: root, body: ' {"a":1}', headers: form })).status, 204);
    assert.deepEqual((await send(server, 'GET', 'form-kv/json', { token: root })).body.data, { a: 1 });
    const proto = await send(server, 'POST', 'form-kv/proto', { token: root, body: '__proto__=x', headers: form });
    assert.equal(proto.status, 400, proto.text);
    // Without the form header, a form body is not JSON.
    assert.equal((await send(server, 'POST', 'form-kv/plain', { token: root, body: 'foo=bar', headers: { 'content-type': 'text/plain' } })).status, 400);
  });

  it('takes body paths and route parameters as already decoded: "%" is a plain character there', async () => {
    await putPolicy(server, 'pct', 'path "secret/data/a%41" { capabilities = ["read"] }\npath "secret/data/50%" { capabilities = ["read"] }');
    const token = await childToken(server, ['pct']);
    const caps = await send(server, 'POST', 'sys/capabilities-self', { token, body: { paths: ['secret/data/a%41', 'secret/data/50%', 'secret/data/aA'] } });
    assert.equal(caps.status, 200, caps.text);
    assert.deepEqual(caps.body.data['secret/data/a%41'], ['read']);
    assert.deepEqual(caps.body.data['secret/data/50%'], ['read']);
    assert.deepEqual(caps.body.data['secret/data/aA'], ['deny']);
    // The URL is decoded once: %25 is "%".
    assert.equal((await send(server, 'PUT', 'secret/data/50%25', { token: root, body: { data: { a: 1 } } })).status, 200);
    assert.equal((await send(server, 'GET', 'secret/data/50%25', { token })).status, 200);
    const preflight = await send(server, 'GET', 'sys/internal/ui/mounts/secret/50%25', { token: root });
    assert.equal(preflight.status, 200, preflight.text);
    assert.equal(preflight.body.data.path, 'secret/');
  });
});

describe('raw sys endpoints across the seal lifecycle', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ storage: 'memory' });
  });
  after(async () => {
    await server.destroy();
  });

  function assertRaw(res: RawResponse): void {
    assert.equal(res.body.request_id, undefined, 'raw bodies have no envelope');
    assert.equal(res.body.data, undefined);
    assertNoStoreJson(res);
  }

  it('walks health, init, unseal, seal with raw bodies and the right status codes', async () => {
    let health = await send(server, 'GET', 'sys/health');
    assert.equal(health.status, 501);
    assertRaw(health);
    assert.equal(health.body.initialized, false);
    assert.equal(health.body.sealed, true);
    assert.equal(health.body.standby, false);
    assert.equal(typeof health.body.server_time_utc, 'number');
    assert.equal((await send(server, 'GET', 'sys/health?uninitcode=200')).status, 200);
    const headUninit = await send(server, 'HEAD', 'sys/health');
    assert.equal(headUninit.status, 501);
    assert.equal(headUninit.text, '');

    const unsealEarly = await send(server, 'PUT', 'sys/unseal', { body: { key: 'aa'.repeat(33) } });
    assert.equal(unsealEarly.status, 400, unsealEarly.text);
    const wrongMethods: Array<[string, string]> = [
      ['POST', 'sys/health'],
      ['DELETE', 'sys/health'],
      ['PUT', 'sys/seal-status'],
      ['DELETE', 'sys/init'],
      ['PATCH', 'sys/init'],
      ['GET', 'sys/unseal'],
      ['DELETE', 'sys/unseal'],
      ['POST', 'sys/leader'],
    ];
    for (const [method, path] of wrongMethods) {
      const res = await send(server, method, path, method === 'GET' || method === 'DELETE' ? {} : { body: {} });
      assert.equal(res.status, 405, `${method} ${path}: ${res.text}`);
      assert.deepEqual(res.body, { errors: ['unsupported operation'] });
    }
    const leader = await send(server, 'GET', 'sys/leader');
    assert.equal(leader.status, 200);
    assert.equal(leader.body.ha_enabled, false);
    assertRaw(leader);

    const initRead = await send(server, 'GET', 'sys/init');
    assert.deepEqual(initRead.body, { initialized: false });
    let status = await send(server, 'GET', 'sys/seal-status');
    assertRaw(status);
    assert.equal(status.body.type, 'shamir');
    assert.equal(status.body.initialized, false);
    assert.equal(status.body.sealed, true);
    assert.equal(status.body.t, 0);
    assert.equal(status.body.n, 0);

    const init = await send(server, 'PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
    assert.equal(init.status, 200, init.text);
    assertRaw(init);
    assert.deepEqual(Object.keys(init.body).sort(), ['keys', 'keys_base64', 'root_token']);
    assert.equal(init.body.keys.length, 3);
    assert.equal(Buffer.from(init.body.keys_base64[0], 'base64').toString('hex'), init.body.keys[0]);
    const root = init.body.root_token as string;
    const again = await send(server, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 } });
    assert.equal(again.status, 400);

    health = await send(server, 'GET', 'sys/health');
    assert.equal(health.status, 503);
    assert.equal(health.body.initialized, true);
    assert.equal(health.body.sealed, true);
    assert.equal((await send(server, 'GET', 'sys/health?sealedcode=299')).status, 299);
    const headSealed = await send(server, 'HEAD', 'sys/health');
    assert.equal(headSealed.status, 503);
    assert.equal(headSealed.text, '');
    assert.equal((await send(server, 'GET', 'sys/health?sealedcode=99')).status, 400);

    for (const [path, token] of [['secret/data/x', root], ['sys/mounts', root], ['sys/mounts', undefined]] as const) {
      const sealed = await send(server, 'GET', path, token === undefined ? {} : { token });
      assert.equal(sealed.status, 503, path);
      assert.deepEqual(sealed.body, { errors: ['Vault is sealed'] });
    }

    status = await send(server, 'PUT', 'sys/unseal', { body: { key: init.body.keys[2] } });
    assertRaw(status);
    assert.equal(status.body.sealed, true);
    assert.equal(status.body.progress, 1);
    assert.equal(status.body.t, 2);
    assert.equal(status.body.n, 3);
    status = await send(server, 'POST', 'sys/unseal', { body: { key: init.body.keys_base64[0] } });
    assert.equal(status.body.sealed, false);
    assert.equal(status.body.progress, 0);
    assert.equal(typeof status.body.cluster_name, 'string');

    health = await send(server, 'GET', 'sys/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.sealed, false);
    assert.equal((await send(server, 'GET', 'sys/health?activecode=299')).status, 299);
    const headActive = await send(server, 'HEAD', 'sys/health');
    assert.equal(headActive.status, 200);
    assert.equal(headActive.text, '');

    const mounts = await send(server, 'GET', 'sys/mounts', { token: root });
    assert.equal(mounts.status, 200);

    const seal = await send(server, 'PUT', 'sys/seal', { token: root });
    assert.equal(seal.status, 204);
    for (let i = 0; i < 50 && !(await send(server, 'GET', 'sys/seal-status')).body.sealed; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal((await send(server, 'GET', 'sys/seal-status')).body.sealed, true);
    const sealed = await send(server, 'GET', 'sys/mounts', { token: root });
    assert.equal(sealed.status, 503);
    assert.deepEqual(sealed.body, { errors: ['Vault is sealed'] });
  });
});
