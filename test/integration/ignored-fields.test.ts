/**
 * Fields a path does not read are ignored with Vault's warning, over HTTP: the write still
 * happens, the answer names the ignored fields (never their values), and a write whose fields
 * are all known, or a path that stores whatever it is given, answers as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const ignored = (...fields: string[]): string[] => [`Endpoint ignored these unrecognized parameters: [${fields.join(' ')}]`];

describe('unrecognized request fields', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    token = server.rootToken as string;
  });
  after(() => server.destroy());

  it('a KV v2 write with a stray field is stored and answered with the warning; a clean one has none', async () => {
    const stray = await api(server, 'POST', 'secret/data/app', { token, body: { data: { password: 'pw-1' }, option: { cas: 0 } } });
    assert.equal(stray.status, 200);
    assert.deepEqual(stray.body.warnings, ignored('option'));
    assert.equal(stray.body.data.version, 1);
    const clean = await api(server, 'POST', 'secret/data/app', { token, body: { data: { password: 'pw-2' }, options: { cas: 1 } } });
    assert.equal(clean.status, 200);
    assert.equal(clean.body.warnings, null);
    const read = await api(server, 'GET', 'secret/data/app', { token });
    assert.deepEqual(read.body.data.data, { password: 'pw-2' });
  });

  it('a write that answers 204 stays a 204, as in Vault (its framework warns only in a response)', async () => {
    const policy = await api(server, 'PUT', 'sys/policies/acl/reader', { token, body: { policy: 'path "secret/*" { capabilities = ["read"] }', polcy_typo: 'S3cret-Value-77' } });
    assert.equal(policy.status, 204);
    assert.equal((await api(server, 'GET', 'sys/policies/acl/reader', { token })).status, 200, 'the policy was written');
  });

  it('an auth role with a misspelt TTL keeps the default; a token creation says what it ignored', async () => {
    assert.equal((await api(server, 'POST', 'sys/auth/approle', { token, body: { type: 'approle' } })).status, 204);
    const role = await api(server, 'POST', 'auth/approle/role/web', { token, body: { token_policies: ['reader'], token_tll: '5m' } });
    assert.equal(role.status, 204);
    assert.equal((await api(server, 'GET', 'auth/approle/role/web', { token })).body.data.token_ttl, 0);
    const created = await api(server, 'POST', 'auth/token/create', { token, body: { polices: ['reader'], ttl: '1h' } });
    assert.equal(created.status, 200);
    assert.deepEqual(created.body.warnings, ignored('polices'));
    assert.ok(created.body.auth.client_token);
    // As Vault's Go client sends every creation: entity_alias and type empty.
    const asGo = await api(server, 'POST', 'auth/token/create', { token, body: { policies: ['reader'], entity_alias: '', type: '', ttl: '1h' } });
    assert.equal(asGo.status, 200, JSON.stringify(asGo.body));
    assert.equal(asGo.body.warnings, null);
  });

  it('the fields Vault\'s CLI always sends raise no warning, and KV v1 stores any field', async () => {
    // As `vault secrets enable -version=1 -path=kv1 kv` sends it.
    const enabled = await api(server, 'POST', 'sys/mounts/kv1', {
      token,
      body: { type: 'kv', description: '', config: { default_lease_ttl: '', max_lease_ttl: '', force_no_cache: false }, local: false, seal_wrap: false, external_entropy_access: false, options: { version: '1' } },
    });
    assert.equal(enabled.status, 204);
    const tuned = await api(server, 'POST', 'sys/mounts/kv1/tune', { token, body: { options: null, default_lease_ttl: '1h', max_lease_ttl: '', force_no_cache: false } });
    assert.equal(tuned.status, 204);
    const written = await api(server, 'POST', 'kv1/app', { token, body: { anything: 'a', at_all: 'b' } });
    assert.equal(written.status, 204);
  });
});
