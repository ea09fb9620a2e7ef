/**
 * Tests: JWT/OIDC config and role validation.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, test } from 'node:test';
import { createAuthHarness } from '../shared/harness.js';
import { createJwtEngine } from './engine.js';
import { testKey, type TestKey } from './jwt-test-keys.js';

let rsa: TestKey;
before(async () => {
  rsa = await testKey('RS256', 'k1');
});

const harness = () => createAuthHarness(createJwtEngine, { type: 'jwt' });

test('config needs exactly one key source', async () => {
  const h = harness();
  assert.match((await h.fail('write', 'config', { bound_issuer: 'x' })).message, /exactly one/);
  assert.match((await h.fail('write', 'config', { jwks_url: 'https://a.example/jwks', jwt_validation_pubkeys: [rsa.publicPem] })).message, /exactly one/);
  await h.call('write', 'config', { jwt_validation_pubkeys: [rsa.publicPem], bound_issuer: 'iss' });
  const data = (await h.call('read', 'config'))?.data as Record<string, unknown>;
  assert.deepEqual(data['jwt_validation_pubkeys'], [rsa.publicPem.trim()]);
  assert.equal(data['bound_issuer'], 'iss');
});

test('a default_role no role can have is refused', async () => {
  const h = harness();
  for (const role of ['../x', '..', 'a/b']) {
    const err = await h.fail('write', 'config', { jwt_validation_pubkeys: [rsa.publicPem], default_role: role });
    assert.equal(err.code, 'bad_request');
    assert.match(err.message, /invalid default_role/);
  }
  await h.call('write', 'config', { jwt_validation_pubkeys: [rsa.publicPem], default_role: 'ci.deploy@x' });
});

test('private keys, garbage PEM and non-http URLs are refused', async () => {
  const h = harness();
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.match((await h.fail('write', 'config', { jwt_validation_pubkeys: [privatePem] })).message, /private key/);
  assert.match((await h.fail('write', 'config', { jwt_validation_pubkeys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'] })).message, /PEM public key/);
  assert.match((await h.fail('write', 'config', { jwks_url: 'file:///etc/passwd' })).message, /http/);
  assert.match((await h.fail('write', 'config', { jwks_url: 'https://user:pw@a.example/jwks' })).message, /credentials/);
});

test('symmetric algorithms cannot be enabled', async () => {
  const h = harness();
  assert.match((await h.fail('write', 'config', { jwt_validation_pubkeys: [rsa.publicPem], jwt_supported_algs: ['HS256'] })).message, /supported algorithms/);
  assert.match((await h.fail('write', 'config', { jwt_validation_pubkeys: [rsa.publicPem], jwt_supported_algs: 'none' })).message, /supported algorithms/);
});

test('the browser OIDC flow settings are refused rather than silently ignored', async () => {
  const h = harness();
  assert.match((await h.fail('write', 'config', { jwt_validation_pubkeys: [rsa.publicPem], oidc_client_id: 'app' })).message, /not supported/);
  await h.call('write', 'config', { jwt_validation_pubkeys: [rsa.publicPem] });
  assert.match((await h.fail('write', 'role/r', { role_type: 'oidc', user_claim: 'sub', bound_subject: 's' })).message, /only "jwt"/);
});

test('an unreachable discovery URL fails the config write', async () => {
  const h = harness();
  const err = await h.fail('write', 'config', { oidc_discovery_url: 'http://127.0.0.1:1' });
  assert.equal(err.code, 'bad_request');
  assert.match(err.message, /oidc_discovery_url/);
  assert.equal(await h.call('read', 'config'), null);
});

test('a discovery document larger than 1 MiB sent without a length is refused after reading 1 MiB of it', async () => {
  let sent = 0;
  let aborted = false;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = (): void => {
      while (sent < 64 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => void (aborted = true));
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const h = harness();
    const err = await h.fail('write', 'config', { oidc_discovery_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    assert.match(err.message, /the discovery document is too large/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(aborted, 'the connection was closed');
    assert.ok(sent < 16 * 1024 * 1024, `stopped early, not after all 64 MiB (${sent} bytes sent)`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a role needs user_claim and at least one bound constraint', async () => {
  const h = harness();
  assert.match((await h.fail('write', 'role/r', { bound_audiences: 'a' })).message, /user_claim/);
  assert.match((await h.fail('write', 'role/r', { user_claim: 'sub' })).message, /bound constraint/);
  assert.match((await h.fail('write', 'role/r', { user_claim: 'sub', bound_subject: 's', claim_mappings: { a: 'role' } })).message, /reserved/);
  assert.match((await h.fail('write', 'role/r', { user_claim: 'sub', bound_claims: { a: [] } })).message, /bound_claims/);
  await h.call('write', 'role/r', { user_claim: 'sub', bound_audiences: 'a, b', token_policies: 'p', token_ttl: '1h' });
  const data = (await h.call('read', 'role/r'))?.data as Record<string, unknown>;
  assert.deepEqual(data['bound_audiences'], ['a', 'b']);
  assert.equal(data['token_ttl'], 3600);
  assert.equal(data['clock_skew_leeway'], 60);
  assert.equal(data['expiration_leeway'], 150);
  assert.equal(data['role_type'], 'jwt');
  assert.deepEqual((await h.call('list', 'role/'))?.data, { keys: ['r'] });
  await h.call('delete', 'role/r');
  assert.equal((await h.fail('read', 'role/r')).code, 'not_found');
});

test('the engine reports the type it was mounted as', () => {
  const h = createAuthHarness(createJwtEngine, { type: 'oidc' });
  assert.equal(h.engine.type, 'oidc');
});
