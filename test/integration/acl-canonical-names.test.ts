/**
 * Paths whose handler canonicalises a name (userpass users: case, width and surrounding space;
 * policies: case and surrounding space) are checked by the ACL both as requested and as the
 * handler will act on them. A deny written for the canonical name therefore
 * stops every other spelling of it, which Vault's check of the raw path alone lets through.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

describe('an exact deny covers every spelling of a canonicalised name', () => {
  let server: TestServer;
  let root: string;
  let helpdesk: string;

  const token = async (policy: string, rules: string): Promise<string> => {
    assert.equal((await api(server, 'PUT', `sys/policies/acl/${policy}`, { token: root, body: { policy: rules } })).status, 204);
    return (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: [policy] } })).body.auth.client_token as string;
  };

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    assert.equal((await api(server, 'POST', 'sys/auth/userpass', { token: root, body: { type: 'userpass' } })).status, 204);
    for (const name of ['admin', 'bob']) {
      assert.equal((await api(server, 'POST', `auth/userpass/users/${name}`, { token: root, body: { password: `pw-${name}-0`, token_policies: name === 'admin' ? ['admin'] : [] } })).status, 204);
    }
    helpdesk = await token(
      'helpdesk',
      `path "auth/userpass/users/+/password" { capabilities = ["update"] }
       path "auth/userpass/users/admin/password" { capabilities = ["deny"] }
       path "sys/policies/acl/*" { capabilities = ["create", "update", "read"] }
       path "sys/policies/acl/admin" { capabilities = ["deny"] }
`,
    );
  });
  after(() => server.destroy());

  it('refuses a password change of the denied user however its name is spelt, and allows another user', async () => {
    for (const spelling of ['admin', 'ADMIN', 'Admin', encodeURIComponent('ＡＤＭＩＮ'), 'admin%20', '%20admin']) {
      const changed = await api(server, 'POST', `auth/userpass/users/${spelling}/password`, { token: helpdesk, body: { password: 'taken-over-1' } });
      assert.equal(changed.status, 403, spelling);
    }
    const login = await api(server, 'POST', 'auth/userpass/login/admin', { body: { password: 'pw-admin-0' } });
    assert.equal(login.status, 200, 'the admin password is unchanged');
    assert.equal((await api(server, 'POST', 'auth/userpass/users/BOB/password', { token: helpdesk, body: { password: 'pw-bob-1' } })).status, 204);
    assert.equal((await api(server, 'POST', 'auth/userpass/login/bob', { body: { password: 'pw-bob-1' } })).status, 200);
  });

  it('refuses a write of the denied policy under another case or with spaces, and allows another policy', async () => {
    for (const spelling of ['admin', 'Admin', '%20admin%20']) {
      const written = await api(server, 'PUT', `sys/policies/acl/${spelling}`, { token: helpdesk, body: { policy: 'path "*" { capabilities = ["sudo", "read"] }' } });
      assert.equal(written.status, 403, spelling);
    }
    assert.equal((await api(server, 'PUT', 'sys/policies/acl/Other', { token: helpdesk, body: { policy: 'path "x/*" { capabilities = ["read"] }' } })).status, 204);
    assert.equal((await api(server, 'GET', 'sys/policies/acl/other', { token: root })).body.data.name, 'other');
  });

  it('leaves mount paths as Vault checks them: a policy for sys/mounts/foo/* still manages foo through foo/, as the Vault CLI sends it', async () => {
    const admin = await token('mounts', 'path "sys/mounts/foo/*" { capabilities = ["create", "update", "delete"] }');
    assert.equal((await api(server, 'POST', 'sys/mounts/foo/', { token: admin, body: { type: 'kv', options: { version: '2' } } })).status, 204);
    assert.equal((await api(server, 'DELETE', 'sys/mounts/foo/', { token: admin })).status, 204);
  });
});
