/**
 * Vault behaviours a reviewer found Coffer missing, each checked over real HTTP against what
 * Vault answers: the unauthenticated UI mounts preflight, the reported version, base64 policy
 * text, DELETE data from the query, sorted capabilities, unseal reset, TTL cap warnings, and
 * the irrevocable lease list read without a type.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { send } from '../helpers/raw-http.js';

const preflightRefusal = (path: string): { errors: string[] } => ({
  errors: [`preflight capability check returned 403, please ensure client's policies grant access to path "${path}"`],
});

describe('Vault API details on a dev server', () => {
  let server: TestServer;
  let root: string;

  const putPolicy = async (name: string, policy: string): Promise<void> => {
    const res = await send(server, 'PUT', `sys/policies/acl/${name}`, { token: root, body: { policy } });
    assert.equal(res.status, 204, res.text);
  };
  const createToken = async (body: Record<string, unknown>): Promise<{ token: string; accessor: string }> => {
    const res = await send(server, 'POST', 'auth/token/create', { token: root, body: { ttl: '1h', ...body } });
    assert.equal(res.status, 200, res.text);
    return { token: res.body.auth.client_token as string, accessor: res.body.auth.accessor as string };
  };

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    assert.equal((await send(server, 'POST', 'sys/mounts/hidden', { token: root, body: { type: 'kv', options: { version: '2' } } })).status, 204);
    assert.equal((await send(server, 'POST', 'secret/data/app/config', { token: root, body: { data: { v: 'x' } } })).status, 200);
    await putPolicy('app-reader', 'path "secret/data/app/*" { capabilities = ["read"] }');
  });
  after(async () => {
    await server.destroy();
  });

  describe('sys/internal/ui/mounts', () => {
    it('answers a token without the default policy for the mounts it can reach, as vault kv needs', async () => {
      const { token } = await createToken({ policies: ['app-reader'], no_default_policy: true });
      const one = await send(server, 'GET', 'sys/internal/ui/mounts/secret/app/config', { token });
      assert.equal(one.status, 200, one.text);
      assert.equal(one.body.data.path, 'secret/');
      assert.equal(one.body.data.type, 'kv');
      assert.deepEqual(one.body.data.options, { version: '2' });
      const all = await send(server, 'GET', 'sys/internal/ui/mounts', { token });
      assert.equal(all.status, 200, all.text);
      assert.deepEqual(Object.keys(all.body.data.secret), ['secret/'], 'only the mount it has access under');
      assert.deepEqual(all.body.data.auth, {});
    });

    it('answers when the default policy was rewritten without the preflight paths', async () => {
      const original = await send(server, 'GET', 'sys/policies/acl/default', { token: root });
      try {
        await putPolicy('default', 'path "auth/token/lookup-self" { capabilities = ["read"] }');
        const { token } = await createToken({ policies: ['app-reader'] });
        const res = await send(server, 'GET', 'sys/internal/ui/mounts/secret/app', { token });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.data.path, 'secret/');
      } finally {
        await putPolicy('default', original.body.data.policy as string);
      }
    });

    it('refuses a mount the token has no access under exactly as one that does not exist', async () => {
      const { token } = await createToken({ policies: ['app-reader'], no_default_policy: true });
      const hidden = await send(server, 'GET', 'sys/internal/ui/mounts/hidden/x', { token });
      const missing = await send(server, 'GET', 'sys/internal/ui/mounts/no-such-mount/x', { token });
      assert.equal(hidden.status, 403);
      assert.deepEqual(hidden.body, preflightRefusal('hidden/x/'));
      assert.equal(missing.status, 403);
      assert.deepEqual(missing.body, preflightRefusal('no-such-mount/x/'));
    });

    it('without a token lists nothing and refuses every single mount alike', async () => {
      const all = await send(server, 'GET', 'sys/internal/ui/mounts');
      assert.equal(all.status, 200, all.text);
      assert.deepEqual(all.body.data, { secret: {}, auth: {} });
      const existing = await send(server, 'GET', 'sys/internal/ui/mounts/secret');
      const missing = await send(server, 'GET', 'sys/internal/ui/mounts/no-such-mount');
      assert.equal(existing.status, 403);
      assert.deepEqual(existing.body, { errors: ['permission denied'] });
      assert.equal(missing.text, existing.text);
    });

    it('refuses an invalid token on both paths, whatever the mount', async () => {
      const token = 'hvs.notarealtokennotarealtoken';
      const all = await send(server, 'GET', 'sys/internal/ui/mounts', { token });
      const existing = await send(server, 'GET', 'sys/internal/ui/mounts/secret', { token });
      const missing = await send(server, 'GET', 'sys/internal/ui/mounts/no-such-mount', { token });
      for (const res of [all, existing, missing]) {
        assert.equal(res.status, 403);
        assert.deepEqual(res.body, { errors: ['permission denied'] });
      }
    });

    it('spends no use of a use-limited token, so a one-use token can still read after the preflight', async () => {
      const { token } = await createToken({ policies: ['app-reader'], num_uses: 1 });
      assert.equal((await send(server, 'GET', 'sys/internal/ui/mounts/secret/app/config', { token })).status, 200);
      const read = await send(server, 'GET', 'secret/data/app/config', { token });
      assert.equal(read.status, 200, read.text);
      assert.equal((await send(server, 'GET', 'secret/data/app/config', { token })).status, 403, 'that read was its one use');
    });
  });

  it('answers a lease list or count read without type=irrevocable with an empty 404, as Vault does', async () => {
    for (const path of ['sys/leases', 'sys/leases/count']) {
      for (const query of ['', '?type=', '?type=expiring']) {
        const res = await send(server, 'GET', path + query, { token: root });
        assert.equal(res.status, 404, `${path}${query}: ${res.text}`);
        assert.deepEqual(res.body, { errors: [] });
      }
      // Vault compares the type in lower case.
      const listed = await send(server, 'GET', `${path}?type=Irrevocable`, { token: root });
      assert.equal(listed.status, 200, listed.text);
      assert.equal(listed.body.data.lease_count, 0);
    }
  });

  it('reports a Vault version with the Coffer version as build metadata', async () => {
    for (const path of ['sys/seal-status', 'sys/health']) {
      const res = await send(server, 'GET', path);
      assert.equal(res.status, 200);
      assert.equal(res.body.version, '1.17.0+coffer.0.1.0', path);
    }
  });

  it('takes base64-encoded policy text on both policy endpoints and stores it decoded', async () => {
    const hcl = 'path "secret/data/b64/*" {\n  capabilities = ["read"]\n}\n';
    const encoded = Buffer.from(hcl).toString('base64');
    assert.equal((await send(server, 'PUT', 'sys/policies/acl/b64', { token: root, body: { policy: encoded } })).status, 204);
    assert.equal((await send(server, 'GET', 'sys/policies/acl/b64', { token: root })).body.data.policy, hcl);
    assert.equal((await send(server, 'PUT', 'sys/policy/b64-legacy', { token: root, body: { rules: encoded } })).status, 204);
    assert.equal((await send(server, 'GET', 'sys/policy/b64-legacy', { token: root })).body.data.rules, hcl);
    const { token } = await createToken({ policies: ['b64'] });
    const caps = await send(server, 'POST', 'sys/capabilities-self', { token, body: { paths: ['secret/data/b64/x'] } });
    assert.deepEqual(caps.body.data.capabilities, ['read']);
  });

  it('reads DELETE data from the query, the body winning where both name a field', async () => {
    assert.equal((await send(server, 'POST', 'sys/auth/approle', { token: root, body: { type: 'approle' } })).status, 204);
    assert.equal((await send(server, 'POST', 'auth/approle/role/r1', { token: root, body: { token_policies: ['app-reader'] } })).status, 204);
    const newSecretId = async (): Promise<string> => {
      const res = await send(server, 'POST', 'auth/approle/role/r1/secret-id', { token: root, body: {} });
      assert.equal(res.status, 200, res.text);
      return res.body.data.secret_id as string;
    };
    const exists = async (secretId: string): Promise<boolean> =>
      (await send(server, 'POST', 'auth/approle/role/r1/secret-id/lookup', { token: root, body: { secret_id: secretId } })).status === 200;

    const viaQuery = await newSecretId();
    const destroyed = await send(server, 'DELETE', `auth/approle/role/r1/secret-id/destroy?secret_id=${encodeURIComponent(viaQuery)}`, { token: root });
    assert.equal(destroyed.status, 204, destroyed.text);
    assert.equal(await exists(viaQuery), false);

    const inQuery = await newSecretId();
    const inBody = await newSecretId();
    const both = await send(server, 'DELETE', `auth/approle/role/r1/secret-id/destroy?secret_id=${encodeURIComponent(inQuery)}`, { token: root, body: { secret_id: inBody } });
    assert.equal(both.status, 204, both.text);
    assert.equal(await exists(inBody), false, 'the body names the one destroyed');
    assert.equal(await exists(inQuery), true);
  });

  it('sorts capabilities on all three capabilities endpoints', async () => {
    await putPolicy('unsorted', 'path "secret/data/caps" { capabilities = ["update", "read", "list", "create", "delete"] }');
    const { token, accessor } = await createToken({ policies: ['unsorted'] });
    const sorted = ['create', 'delete', 'list', 'read', 'update'];
    const answers = [
      await send(server, 'POST', 'sys/capabilities-self', { token, body: { paths: ['secret/data/caps'] } }),
      await send(server, 'POST', 'sys/capabilities', { token: root, body: { token, paths: ['secret/data/caps'] } }),
      await send(server, 'POST', 'sys/capabilities-accessor', { token: root, body: { accessor, paths: ['secret/data/caps'] } }),
    ];
    for (const res of answers) {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.data['secret/data/caps'], sorted);
      assert.deepEqual(res.body.data.capabilities, sorted);
    }
    const rootCaps = await send(server, 'POST', 'sys/capabilities-self', { token: root, body: { paths: ['secret/data/caps'] } });
    assert.deepEqual(rootCaps.body.data.capabilities, ['root']);
  });

  describe('TTL cap warnings on tokens', () => {
    it('warns when a token is created with a TTL above the max', async () => {
      const res = await send(server, 'POST', 'auth/token/create', { token: root, body: { ttl: '10000h' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.auth.lease_duration, 768 * 3600);
      assert.deepEqual(res.body.warnings, ['TTL of "10000h0m0s" exceeded the effective max_ttl of "768h0m0s"; TTL value is capped accordingly']);
      const fine = await send(server, 'POST', 'auth/token/create', { token: root, body: { ttl: '1h' } });
      assert.equal(fine.body.warnings, null);
    });

    it('warns when renew-self, renew and renew-accessor are capped by explicit_max_ttl', async () => {
      const capped = /^TTL of "10h0m0s" exceeded the effective max_ttl of "(2h0m0s|1h59m\d+s)"; TTL value is capped accordingly$/;
      const { token, accessor } = await createToken({ ttl: '1h', explicit_max_ttl: '2h' });
      const renewals = [
        await send(server, 'POST', 'auth/token/renew-self', { token, body: { increment: '10h' } }),
        await send(server, 'POST', 'auth/token/renew', { token: root, body: { token, increment: '10h' } }),
        await send(server, 'POST', 'auth/token/renew-accessor', { token: root, body: { accessor, increment: '10h' } }),
      ];
      for (const res of renewals) {
        assert.equal(res.status, 200, res.text);
        assert.ok(res.body.auth.lease_duration <= 7200);
        assert.equal(res.body.warnings.length, 1, res.text);
        assert.match(res.body.warnings[0], capped);
      }
      const within = await send(server, 'POST', 'auth/token/renew-self', { token, body: { increment: '10m' } });
      assert.equal(within.body.warnings, null);
    });
  });
});

describe('sys/unseal reset, as Vault answers it', () => {
  let server: TestServer;
  let keys: string[];

  before(async () => {
    server = await startTestServer({ storage: 'memory' });
    const init = await send(server, 'PUT', 'sys/init', { body: { secret_shares: 3, secret_threshold: 2 } });
    assert.equal(init.status, 200, init.text);
    keys = init.body.keys as string[];
  });
  after(async () => {
    await server.destroy();
  });

  it('only resets when a key comes with the reset, then refuses a reset once unsealed', async () => {
    const first = await send(server, 'PUT', 'sys/unseal', { body: { key: keys[0] } });
    assert.equal(first.body.progress, 1);
    const reset = await send(server, 'PUT', 'sys/unseal', { body: { reset: true, key: keys[1] } });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.body.progress, 0, 'the key sent with the reset is not counted');
    assert.equal(reset.body.sealed, true);
    assert.equal((await send(server, 'PUT', 'sys/unseal', { body: { key: keys[1] } })).body.progress, 1);
    assert.equal((await send(server, 'PUT', 'sys/unseal', { body: { key: keys[2] } })).body.sealed, false);

    const unsealed = await send(server, 'PUT', 'sys/unseal', { body: { reset: true } });
    assert.equal(unsealed.status, 400);
    assert.deepEqual(unsealed.body, { errors: ['vault is unsealed'] });
  });
});
