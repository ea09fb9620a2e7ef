/**
 * Authorisation against path tricks and policy edge cases, over real HTTP (attack checklist
 * §2.2, §2.3): traversal and encoding variants, glob grants stretched across KV v2 sub-paths,
 * deny against more specific grants for every operation, `+` wildcards, names that look like
 * root, and token creation that would widen privileges.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { send, type RawResponse } from '../helpers/raw-http.js';

const PRIVATE_CANARY = 'CANARY-private-3f9a61c2-8d0e-4b7a';

type Op = 'read' | 'create' | 'update' | 'patch' | 'delete' | 'list';
const ALL_OPS: readonly Op[] = ['read', 'create', 'update', 'patch', 'delete', 'list'];

describe('paths and policies under attack', () => {
  let server: TestServer;
  let root: string;

  const putPolicy = async (name: string, policy: string): Promise<void> => {
    const res = await send(server, 'PUT', `sys/policies/acl/${encodeURIComponent(name)}`, { token: root, body: { policy } });
    assert.equal(res.status, 204, `${name}: ${res.text}`);
  };
  const childToken = async (policies: string[], parent = root): Promise<string> => {
    const res = await send(server, 'POST', 'auth/token/create', { token: parent, body: { policies, ttl: '1h' } });
    assert.equal(res.status, 200, res.text);
    return res.body.auth.client_token as string;
  };
  const write = async (path: string, data: Record<string, unknown>, token = root): Promise<RawResponse> =>
    send(server, 'POST', `secret/data/${path}`, { token, body: { data } });
  const readValue = async (path: string): Promise<unknown> => {
    const res = await send(server, 'GET', `secret/data/${path}`, { token: root });
    return res.status === 200 ? res.body.data.data : res.status;
  };

  /**
   * Performs `op` on `secret/<data|metadata>/<key>` and returns the status. `create` writes to
   * `createKey` (a key that does not exist yet), by default a fresh key beside `key`.
   */
  const attempt = async (op: Op, key: string, token: string, createKey = `${key}-new-${Math.random().toString(36).slice(2)}`): Promise<number> => {
    switch (op) {
      case 'read':
        return (await send(server, 'GET', `secret/data/${key}`, { token })).status;
      case 'create':
        return (await send(server, 'POST', `secret/data/${createKey}`, { token, body: { data: { v: 'new' } } })).status;
      case 'update':
        return (await send(server, 'POST', `secret/data/${key}`, { token, body: { data: { v: 'overwritten' } } })).status;
      case 'patch':
        return (await send(server, 'PATCH', `secret/data/${key}`, { token, body: { data: { v: 'patched' } }, headers: { 'Content-Type': 'application/merge-patch+json' } })).status;
      case 'delete':
        return (await send(server, 'DELETE', `secret/data/${key}`, { token })).status;
      case 'list':
        return (await send(server, 'LIST', `secret/metadata/${key}`, { token })).status;
    }
  };

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    assert.equal((await write('private/x', { password: PRIVATE_CANARY })).status, 200);
    assert.equal((await write('private/sub/y', { password: PRIVATE_CANARY })).status, 200);
  });
  after(async () => {
    await server.destroy();
  });

  describe('traversal towards secret/data/private/x from a grant on secret/data/allowed/*', () => {
    let token: string;
    before(async () => {
      await putPolicy('allowed-only', [
        'path "secret/data/allowed/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }',
        'path "secret/metadata/allowed/*" { capabilities = ["read", "list", "delete"] }',
        'path "secret/delete/allowed/*" { capabilities = ["update"] }',
        'path "secret/destroy/allowed/*" { capabilities = ["update"] }',
      ].join('\n'));
      token = await childToken(['allowed-only']);
      assert.equal((await write('allowed/own', { v: 'mine' }, token)).status, 200);
    });

    it('allows the granted paths (the control for every denial below)', async () => {
      const read = await send(server, 'GET', 'secret/data/allowed/own', { token });
      assert.equal(read.status, 200);
      assert.equal(read.body.data.data.v, 'mine');
      assert.equal((await send(server, 'LIST', 'secret/metadata/allowed/', { token })).status, 200);
      assert.equal((await send(server, 'GET', 'secret/data/private/x', { token })).status, 403);
    });

    const variants = [
      'allowed/../private/x',
      'allowed/%2e%2e/private/x',
      'allowed/%2E%2E/private/x',
      'allowed/%2e./private/x',
      'allowed/.%2E/private/x',
      'allowed/./../private/x',
      'allowed/%2e/%2e%2e/private/x',
      'allowed/..%2fprivate%2fx',
      'allowed%2f..%2fprivate%2fx',
      'allowed/%2F..%2Fprivate/x',
      'allowed//../private/x',
      'allowed/x/../../private/x',
      'allowed/../../data/private/x',
      'allowed/..',
      'allowed/.',
      'allowed/own/.',
      'allowed/own/..',
      'allowed/%00/../private/x',
      'allowed/%252e%252e/private/x',
      'allowed/..\\private\\x',
      'allowed/..%5cprivate%5cx',
    ];

    it('refuses every traversal variant for read, write, patch, delete and list', async () => {
      for (const variant of variants) {
        const attempts: Array<[string, RawResponse]> = [
          ['GET', await send(server, 'GET', `secret/data/${variant}`, { token })],
          ['POST', await send(server, 'POST', `secret/data/${variant}`, { token, body: { data: { password: 'overwritten' } } })],
          ['PATCH', await send(server, 'PATCH', `secret/data/${variant}`, { token, body: { data: { password: 'patched' } }, headers: { 'Content-Type': 'application/merge-patch+json' } })],
          ['DELETE', await send(server, 'DELETE', `secret/data/${variant}`, { token })],
          ['LIST', await send(server, 'LIST', `secret/metadata/${variant}`, { token })],
          ['DELETE metadata', await send(server, 'DELETE', `secret/metadata/${variant}`, { token })],
          ['POST destroy', await send(server, 'POST', `secret/destroy/${variant}`, { token, body: { versions: [1] } })],
        ];
        for (const [method, res] of attempts) {
          const where = `${method} ${variant} → ${res.status} ${res.text}`;
          // Literal names such as "%2e%2e" (double-encoded) are legal keys under allowed/ and
          // may succeed on their own key; nothing may ever touch or reveal private/x.
          assert.equal(res.text.includes(PRIVATE_CANARY), false, where);
          assert.ok(res.status !== 500, where);
          if (res.status < 400 && !variant.includes('%252e') && !variant.includes('\\') && !variant.includes('%5c')) {
            assert.fail(`traversal variant accepted: ${where}`);
          }
        }
      }
      // The target is untouched: not overwritten, patched, deleted or destroyed.
      const target = await send(server, 'GET', 'secret/data/private/x', { token: root });
      assert.equal(target.status, 200);
      assert.equal(target.body.data.data.password, PRIVATE_CANARY);
      assert.equal(target.body.data.metadata.version, 1);
      const list = await send(server, 'LIST', 'secret/metadata/private', { token: root });
      assert.deepEqual(list.body.data.keys, ['sub/', 'x']);
    });

    it('refuses relative segments with 400 before any policy decision, even for root', async () => {
      for (const variant of ['allowed/../private/x', 'allowed/%2e%2e/private/x', 'allowed/%2E%2E/private/x', 'allowed/./own', 'allowed/own/.']) {
        const res = await send(server, 'GET', `secret/data/${variant}`, { token: root });
        assert.equal(res.status, 400, `${variant}: ${res.text}`);
      }
    });

    it('collapses doubled slashes to the same path for the policy and the router', async () => {
      const own = await send(server, 'GET', 'secret/data/allowed//own', { token });
      assert.equal(own.status, 200);
      assert.equal(own.body.data.data.v, 'mine');
      for (const path of ['secret//data/private/x', 'secret/data//private/x', 'secret/data/private//x', '/secret/data/private/x']) {
        const res = await send(server, 'GET', path, { token });
        assert.equal(res.status, 403, path);
        assert.equal(res.text.includes(PRIVATE_CANARY), false);
      }
    });
  });

  describe('a glob grant on one KV v2 sub-path', () => {
    it('does not let a grant on metadata/* delete, destroy or write data/ paths', async () => {
      await putPolicy('metadata-only', 'path "secret/metadata/*" { capabilities = ["read", "list", "update", "delete"] }');
      const token = await childToken(['metadata-only']);
      assert.equal((await write('glob/victim', { v: 'keep' })).status, 200);
      assert.equal((await send(server, 'LIST', 'secret/metadata/glob', { token })).status, 200, 'control: the grant works');
      const denied = [
        await send(server, 'DELETE', 'secret/data/glob/victim', { token }),
        await send(server, 'POST', 'secret/data/glob/victim', { token, body: { data: { v: 'x' } } }),
        await send(server, 'GET', 'secret/data/glob/victim', { token }),
        await send(server, 'POST', 'secret/delete/glob/victim', { token, body: { versions: [1] } }),
        await send(server, 'POST', 'secret/destroy/glob/victim', { token, body: { versions: [1] } }),
        await send(server, 'POST', 'secret/undelete/glob/victim', { token, body: { versions: [1] } }),
      ];
      for (const res of denied) assert.equal(res.status, 403, res.text);
      assert.deepEqual(await readValue('glob/victim'), { v: 'keep' });
    });

    it('does not let a grant on data/* delete metadata (all versions) or destroy versions', async () => {
      await putPolicy('data-only', 'path "secret/data/*" { capabilities = ["create", "read", "update", "delete", "list"] }');
      const token = await childToken(['data-only']);
      assert.equal((await write('glob/victim2', { v: 'keep' })).status, 200);
      assert.equal((await send(server, 'GET', 'secret/data/glob/victim2', { token })).status, 200, 'control: the grant works');
      for (const res of [
        await send(server, 'DELETE', 'secret/metadata/glob/victim2', { token }),
        await send(server, 'POST', 'secret/destroy/glob/victim2', { token, body: { versions: [1] } }),
        await send(server, 'POST', 'secret/metadata/glob/victim2', { token, body: { max_versions: 1 } }),
        await send(server, 'LIST', 'secret/metadata/glob', { token }),
      ]) {
        assert.equal(res.status, 403, res.text);
      }
      const metadata = await send(server, 'GET', 'secret/metadata/glob/victim2', { token: root });
      assert.equal(metadata.body.data.current_version, 1);
      assert.equal(metadata.body.data.versions['1'].destroyed, false);
    });
  });

  describe('deny against grants', () => {
    before(async () => {
      for (const key of ['team/locked', 'team/open', 'team/secret-stuff/a', 'shared/s', 'ok/k', 'elsewhere/e']) {
        assert.equal((await write(key, { v: key })).status, 200);
      }
    });

    it('an exact deny beats a glob grant for every operation, LIST included', async () => {
      await putPolicy('team-all', 'path "secret/data/team/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }\npath "secret/metadata/team/*" { capabilities = ["list", "read"] }');
      await putPolicy('team-deny', 'path "secret/data/team/locked" { capabilities = ["deny"] }\npath "secret/data/team/locked-new" { capabilities = ["deny"] }\npath "secret/metadata/team/secret-stuff/*" { capabilities = ["deny"] }');
      const token = await childToken(['team-all', 'team-deny']);
      for (const op of ALL_OPS) {
        const key = op === 'list' ? 'team/secret-stuff' : 'team/locked';
        assert.equal(await attempt(op, key, token, 'team/locked-new'), 403, `${op} on ${key}`);
      }
      assert.equal(await readValue('team/locked-new'), 404);
      assert.equal(await attempt('create', 'team/open', token), 200, 'control: create beside the denied keys works');
      assert.equal((await send(server, 'LIST', 'secret/metadata/team/secret-stuff/', { token })).status, 403);
      assert.equal((await send(server, 'GET', 'secret/metadata/team/secret-stuff/a', { token })).status, 403);
      // The grant still applies where nothing denies it.
      assert.equal(await attempt('read', 'team/open', token), 200);
      assert.equal(await attempt('list', 'team', token), 200);
      assert.deepEqual(await readValue('team/locked'), { v: 'team/locked' });
    });

    it('a deny in one policy beats the same pattern granted by another, for every operation', async () => {
      await putPolicy('shared-grant', 'path "secret/data/shared/*" { capabilities = ["create", "read", "update", "patch", "delete", "list"] }\npath "secret/metadata/shared/*" { capabilities = ["list", "read", "delete"] }');
      await putPolicy('shared-deny', 'path "secret/data/shared/*" { capabilities = ["deny"] }\npath "secret/metadata/shared/*" { capabilities = ["deny"] }');
      const granted = await childToken(['shared-grant']);
      assert.equal(await attempt('read', 'shared/s', granted), 200, 'control: the grant alone works');
      assert.equal(await attempt('list', 'shared/', granted), 200, 'control: the grant alone lists');
      const token = await childToken(['shared-grant', 'shared-deny']);
      for (const op of ALL_OPS) assert.equal(await attempt(op, op === 'list' ? 'shared/' : 'shared/s', token), 403, op);
      assert.equal((await send(server, 'DELETE', 'secret/metadata/shared/s', { token })).status, 403);
      assert.deepEqual(await readValue('shared/s'), { v: 'shared/s' });
    });

    it('a broad deny glob yields to a more specific grant, and only there', async () => {
      await putPolicy('deny-broad', 'path "secret/*" { capabilities = ["deny"] }\npath "secret/data/ok/*" { capabilities = ["create", "read", "update", "patch", "delete"] }\npath "secret/metadata/ok/*" { capabilities = ["list"] }');
      const token = await childToken(['deny-broad']);
      for (const op of ALL_OPS) {
        assert.notEqual(await attempt(op, op === 'list' ? 'ok/' : 'ok/k', token), 403, `${op} on ok/`);
        assert.equal(await attempt(op, op === 'list' ? 'elsewhere/' : 'elsewhere/e', token), 403, `${op} on elsewhere/`);
      }
      assert.equal((await send(server, 'LIST', 'secret/metadata/', { token })).status, 403);
    });
  });

  it('matches + as exactly one non-empty segment', async () => {
    await putPolicy('plus', 'path "secret/data/+/config" { capabilities = ["read"] }');
    const token = await childToken(['plus']);
    for (const key of ['app1/config', 'app2/config', 'plus-a/config', 'plus-a/sub/config', 'plus-a/other', 'config']) {
      assert.equal((await write(key, { v: key })).status, 200);
    }
    assert.equal((await send(server, 'GET', 'secret/data/app1/config', { token })).status, 200);
    assert.equal((await send(server, 'GET', 'secret/data/app2/config', { token })).status, 200);
    assert.equal((await send(server, 'POST', 'secret/data/app1/config', { token, body: { data: { v: 'w' } } })).status, 403);
    for (const path of ['plus-a/sub/config', 'plus-a/other', 'config', '/config', 'app1/config/x', 'app1/configs']) {
      assert.equal((await send(server, 'GET', `secret/data/${path}`, { token })).status, 403, path);
    }
  });

  it('honours num_uses exactly under concurrent requests', async () => {
    for (const uses of [1, 3]) {
      const created = await send(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['allowed-only'], num_uses: uses } });
      const token = created.body.auth.client_token as string;
      const results = await Promise.all(Array.from({ length: 20 }, () => send(server, 'GET', 'secret/data/allowed/own', { token })));
      assert.equal(results.filter((r) => r.status === 200).length, uses, `num_uses ${uses}`);
      assert.ok(results.every((r) => r.status === 200 || r.status === 403));
    }
  });

  describe('names that look like root', () => {
    it('refuses to write, delete or shadow a policy called " root", "Root", "ROOT " or "root\\n"', async () => {
      for (const name of [' root', 'Root', 'ROOT ', 'root\n', ' rOOt ']) {
        const put = await send(server, 'PUT', `sys/policies/acl/${encodeURIComponent(name)}`, { token: root, body: { policy: 'path "*" { capabilities = ["read"] }' } });
        assert.equal(put.status, 400, JSON.stringify(name));
        const legacy = await send(server, 'PUT', `sys/policy/${encodeURIComponent(name)}`, { token: root, body: { rules: 'path "*" { capabilities = ["read"] }' } });
        assert.equal(legacy.status, 400, JSON.stringify(name));
        const del = await send(server, 'DELETE', `sys/policies/acl/${encodeURIComponent(name)}`, { token: root });
        assert.equal(del.status, 400, JSON.stringify(name));
      }
      const list = await send(server, 'LIST', 'sys/policies/acl', { token: root });
      assert.equal(list.body.data.keys.filter((k: string) => k.trim().toLowerCase() === 'root').length, 1);
      const rootPolicy = await send(server, 'GET', 'sys/policies/acl/root', { token: root });
      assert.equal(rootPolicy.body.data.policy, '');
    });

    it('gives a token holding a policy named like root no root privileges', async () => {
      await putPolicy('rooty', 'path "auth/token/create" { capabilities = ["update"] }');
      const creator = await childToken(['rooty']);
      for (const policies of [['root'], [' root'], ['Root'], ['ROOT'], ['rooty', 'root']]) {
        const res = await send(server, 'POST', 'auth/token/create', { token: creator, body: { policies } });
        assert.equal(res.status, 400, JSON.stringify(policies));
        assert.equal(res.body.auth, undefined);
      }
      const lookup = await send(server, 'GET', 'auth/token/lookup-self', { token: creator });
      assert.deepEqual(lookup.body.data.policies, ['default', 'rooty']);
      assert.equal((await send(server, 'GET', 'sys/mounts', { token: creator })).status, 403);
    });
  });

  describe('token creation by a non-root token', () => {
    let creator: string;
    before(async () => {
      await putPolicy('creator', 'path "auth/token/create" { capabilities = ["update"] }\npath "secret/data/creator/*" { capabilities = ["read"] }');
      await putPolicy('other', 'path "secret/*" { capabilities = ["read", "list"] }');
      creator = await childToken(['creator']);
    });

    it('may create a child with a subset of its own policies', async () => {
      const res = await send(server, 'POST', 'auth/token/create', { token: creator, body: { policies: ['creator'] } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.auth.policies, ['creator', 'default']);
      assert.equal(res.body.auth.orphan, false);
      const inherited = await send(server, 'POST', 'auth/token/create', { token: creator, body: {} });
      assert.deepEqual(inherited.body.auth.policies, ['creator', 'default']);
    });

    it('cannot create a child with the root policy or a policy it does not hold', async () => {
      for (const policies of [['root'], ['other'], ['creator', 'other'], ['Other']]) {
        const res = await send(server, 'POST', 'auth/token/create', { token: creator, body: { policies } });
        assert.equal(res.status, 400, `${JSON.stringify(policies)}: ${res.text}`);
        assert.equal(res.body.auth, undefined);
      }
    });

    it('cannot create an orphan with no_parent, a custom id or a period without sudo', async () => {
      for (const body of [{ no_parent: true }, { no_parent: 'true' }, { id: 'hvs.chosen-by-attacker' }, { period: '1h' }]) {
        const res = await send(server, 'POST', 'auth/token/create', { token: creator, body: { policies: ['creator'], ...body } });
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      }
      assert.equal((await send(server, 'GET', 'auth/token/lookup-self', { token: 'hvs.chosen-by-attacker' })).status, 403);
    });

    it('may use no_parent with sudo on auth/token/create', async () => {
      await putPolicy('creator-sudo', 'path "auth/token/create" { capabilities = ["update", "sudo"] }');
      const sudoer = await childToken(['creator-sudo']);
      const res = await send(server, 'POST', 'auth/token/create', { token: sudoer, body: { no_parent: true } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.auth.orphan, true);
    });
  });
});
