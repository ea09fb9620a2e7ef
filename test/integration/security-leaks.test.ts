/**
 * Nothing secret leaks (attack checklist §2.5, test plan §E): canaries sent in malformed bodies
 * never come back in a response, an audit line or a server log line; tokens and accessors are
 * HMAC'd in the audit file; missing and forbidden mounts look alike before authentication; the
 * data directory and its files are private; the SQLite files hold no secret in clear.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/core/logger.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { send, type RawResponse } from '../helpers/raw-http.js';

const canary = (label: string): string => `CANARY-${label}-${randomUUID()}`;

interface Probe {
  label: string;
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Statuses the probe may get; a 2xx would mean the input was accepted, not refused. */
  expect?: number[];
}

describe('secrets never leak', () => {
  const root = tempDir('coffer-leaks-');
  // Not created beforehand: the server must create it with mode 0700 itself.
  const dataDir = join(root, 'data');
  const auditDir = join(root, 'audit');
  const auditFile = join(auditDir, 'audit.log');
  mkdirSync(auditDir, { mode: 0o700 });
  const lines: string[] = [];
  let server: TestServer;
  let rootToken: string;

  const auditText = (): string => readFileSync(auditFile, 'utf8');
  const logText = (): string => lines.join('\n');

  /** Asserts `value` is in no response of `responses`, no audit line and no server log line. */
  const assertNowhere = (value: string, responses: Array<[string, RawResponse]> = []): void => {
    for (const [label, res] of responses) assert.equal(res.text.includes(value), false, `${label}: the response echoes the canary: ${res.text}`);
    assert.equal(auditText().includes(value), false, 'the audit file holds the canary in clear');
    assert.equal(logText().includes(value), false, 'a server log line holds the canary');
  };

  /**
   * Sends every probe as root and checks the canary went nowhere. `audited`: the probes reach the
   * request pipeline (a body that does not parse is refused before it, so it is never audited).
   */
  const runProbes = async (probes: Probe[], secret: string, audited = true): Promise<void> => {
    const responses: Array<[string, RawResponse]> = [];
    const before = auditText().length;
    for (const probe of probes) {
      const res = await send(server, probe.method, probe.path, {
        token: rootToken,
        ...(probe.body === undefined ? {} : { body: probe.body }),
        headers: { 'Content-Type': 'application/json', ...probe.headers },
      });
      const expected = probe.expect ?? [400];
      assert.ok(expected.includes(res.status), `${probe.label}: status ${res.status} ${res.text}`);
      responses.push([probe.label, res]);
    }
    assertNowhere(secret, responses);
    // The probes were audited (so the file was a real place for the canary to land).
    if (audited) assert.ok(auditText().length > before, 'the probes were audited');
  };

  before(async () => {
    server = await startTestServer({
      dev: true,
      storage: 'sqlite',
      dataDir,
      logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
    });
    rootToken = server.rootToken as string;
    const enabled = await send(server, 'PUT', 'sys/audit/file', { token: rootToken, body: { type: 'file', options: { file_path: auditFile } } });
    if (enabled.status === 204) return;
    throw new Error(`cannot enable the audit device: ${enabled.status} ${enabled.text}`);
  });
  after(async () => {
    await server?.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  describe('malformed input carrying a canary', () => {
    it('broken JSON bodies', async () => {
      const secret = canary('json');
      const json = (text: string): Probe => ({ label: text.slice(0, 40), method: 'POST', path: 'secret/data/leak/json', body: text });
      await runProbes(
        [
          json(`{"data":{"password":"${secret}"`),
          json(`{"data":{"password":"${secret}"}} trailing`),
          json(`{"data":{"password":"${secret}",}}`),
          json(`{'data':{'password':'${secret}'}}`),
          json(`{"data":{"password":"${secret}\u0001"}}`),
          json(`{"data":{"password":${secret}}}`),
          json(`["${secret}"]`),
          json(`"${secret}"`),
          json(`{"__proto__":{"password":"${secret}"}}`),
          json(`{"data":{"constructor":{"prototype":{"password":"${secret}"}}}}`),
          json(`${'{"a":'.repeat(400)}"${secret}"${'}'.repeat(400)}`),
          { label: 'sys/policy broken JSON', method: 'PUT', path: 'sys/policies/acl/leak', body: `{"policy": "${secret}` },
          { label: 'token create broken JSON', method: 'POST', path: 'auth/token/create', body: `{"policies": ["${secret}"` },
        ],
        secret,
        false,
      );
    });

    it('wrong types for every field of KV v2 writes', async () => {
      const secret = canary('kv');
      const kv = (path: string, body: unknown, method = 'POST'): Probe => ({
        label: `${method} ${path} ${JSON.stringify(body).slice(0, 60)}`,
        method,
        path,
        body: JSON.stringify(body),
        ...(method === 'PATCH' ? { headers: { 'Content-Type': 'application/merge-patch+json' } } : {}),
      });
      await runProbes(
        [
          kv('secret/data/leak/kv', { data: secret }),
          kv('secret/data/leak/kv', { data: [secret] }),
          kv('secret/data/leak/kv', { data: 42, note: secret }),
          kv('secret/data/leak/kv', { options: secret, data: { password: secret } }),
          kv('secret/data/leak/kv', { options: [secret], data: { password: secret } }),
          kv('secret/data/leak/kv', { options: { cas: secret }, data: { password: secret } }),
          kv('secret/data/leak/kv', { options: { cas: -1 }, data: { password: secret } }),
          kv('secret/data/leak/kv', { options: { cas: { v: secret } }, data: { password: secret } }),
          kv('secret/data/leak/kv', { data: secret }, 'PATCH'),
          kv('secret/metadata/leak/kv', { max_versions: secret }),
          kv('secret/metadata/leak/kv', { cas_required: secret }),
          kv('secret/metadata/leak/kv', { delete_version_after: secret }),
          kv('secret/metadata/leak/kv', { custom_metadata: secret }),
          kv('secret/metadata/leak/kv', { custom_metadata: { k: [secret] } }),
          kv('secret/metadata/leak/kv', { custom_metadata: { k: `${secret}\u0007` } }),
          kv('secret/config', { max_versions: secret }),
          kv('secret/config', { cas_required: secret }),
          kv('secret/config', { delete_version_after: secret }),
          kv('secret/delete/leak/kv', { versions: secret }),
          kv('secret/undelete/leak/kv', { versions: [secret] }),
          kv('secret/destroy/leak/kv', { versions: { v: secret } }),
          { label: 'read ?version=', method: 'GET', path: `secret/data/leak/kv?version=${secret}` },
          { label: 'subkeys ?depth=', method: 'GET', path: `secret/subkeys/leak/kv?depth=${secret}`, expect: [400, 404] },
        ],
        secret,
      );
      assert.equal((await send(server, 'GET', 'secret/metadata/leak/kv', { token: rootToken })).status, 404, 'none of the writes happened');
    });

    it('a policy with a canary in broken HCL', async () => {
      const secret = canary('hcl');
      const policy = (text: string): Probe => ({ label: text.slice(0, 50), method: 'PUT', path: 'sys/policies/acl/leak-hcl', body: JSON.stringify({ policy: text }) });
      await runProbes(
        [
          policy(`path "secret/*" { capabilities = ["read"] \n password = "${secret}"`),
          policy(`path "secret/*" { capabilities = ["read"] }\n${secret}`),
          policy(`path "secret/*" { capabilities = "${secret}" }`),
          policy(`path "secret/*" { capabilities = ["read"] password = "${secret}" }`),
          policy(`path "secret/*" {\n  capabilities = ["read"]\n  comment = "${secret}\n}`),
          policy(`path "secret/*" { capabilities = [${secret}] }`),
          policy(`# ${secret}\npath "secret/*" {`),
          policy(`path "secret/*" { capabilities = ["read"] }\npath "x" { capabilities = ["read"] } }} "${secret}"`),
          { label: 'legacy rules', method: 'PUT', path: 'sys/policy/leak-hcl', body: JSON.stringify({ rules: `path "a" { capabilities = ["read"] = "${secret}" }` }) },
          { label: 'policy not a string', method: 'PUT', path: 'sys/policies/acl/leak-hcl', body: JSON.stringify({ policy: { text: secret } }) },
        ],
        secret,
      );
      assert.equal((await send(server, 'GET', 'sys/policies/acl/leak-hcl', { token: rootToken })).status, 404);
    });

    it('a token create, lookup or capability check with bad fields', async () => {
      const secret = canary('token');
      const create = (body: unknown, path = 'auth/token/create'): Probe => ({ label: `${path} ${JSON.stringify(body).slice(0, 50)}`, method: 'POST', path, body: JSON.stringify(body) });
      await runProbes(
        [
          create({ ttl: secret }),
          create({ explicit_max_ttl: secret }),
          create({ period: secret }),
          create({ num_uses: secret }),
          create({ renewable: secret }),
          create({ no_parent: secret }),
          create({ no_default_policy: secret }),
          create({ policies: { p: secret } }),
          create({ policies: [7, secret] }),
          create({ meta: secret }),
          create({ meta: { k: [secret] } }),
          create({ type: secret }),
          create({ role_name: secret }),
          create({ ttl: secret }, 'auth/token/create-orphan'),
          { ...create({ token: secret }, 'auth/token/lookup'), expect: [403] }, // Vault: 403 "bad token"
          create({ token: [secret] }, 'auth/token/renew'),
          create({ accessor: secret }, 'auth/token/lookup-accessor'),
          { ...create({ accessor: secret }, 'auth/token/revoke-accessor'), expect: [200] }, // Vault: a warning, nothing found
          create({ increment: secret }, 'auth/token/renew-self'),
          create({ token: secret, paths: ['secret/data/x'] }, 'sys/capabilities'),
          create({ accessor: secret, paths: ['secret/data/x'] }, 'sys/capabilities-accessor'),
          create({ paths: { p: secret } }, 'sys/capabilities-self'),
        ],
        secret,
      );
    });

    it('a canary sent as a token, an unseal key or an init option', async () => {
      const secret = canary('auth');
      const responses: Array<[string, RawResponse]> = [
        ['X-Vault-Token', await send(server, 'GET', 'secret/data/x', { token: secret })],
        ['Bearer', await send(server, 'GET', 'secret/data/x', { headers: { Authorization: `Bearer ${secret}` } })],
        ['unseal', await send(server, 'PUT', 'sys/unseal', { body: { key: secret } })],
        ['init', await send(server, 'PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1, pgp_keys: [secret] } })],
        ['audit-hash wrong device', await send(server, 'POST', 'sys/audit-hash/nope', { token: rootToken, body: { input: secret } })],
      ];
      for (const [label, res] of responses) assert.ok(res.status >= 400 && res.status < 500, `${label}: ${res.status}`);
      assertNowhere(secret, responses);
    });
  });

  it('never writes a token or an accessor to the audit file in clear', async () => {
    const created = await send(server, 'POST', 'auth/token/create', { token: rootToken, body: { policies: ['default'], ttl: '1h' } });
    assert.equal(created.status, 200);
    const child = created.body.auth.client_token as string;
    const accessor = created.body.auth.accessor as string;
    const orphan = await send(server, 'POST', 'auth/token/create-orphan', { token: rootToken, body: { ttl: '1h' } });
    const orphanToken = orphan.body.auth.client_token as string;
    const orphanAccessor = orphan.body.auth.accessor as string;
    const calls = [
      await send(server, 'GET', 'auth/token/lookup-self', { token: child }),
      await send(server, 'POST', 'auth/token/renew-self', { token: child, body: { increment: '30m' } }),
      await send(server, 'POST', 'auth/token/lookup', { token: rootToken, body: { token: child } }),
      await send(server, 'POST', 'auth/token/lookup-accessor', { token: rootToken, body: { accessor } }),
      await send(server, 'POST', 'auth/token/renew-accessor', { token: rootToken, body: { accessor: orphanAccessor } }),
      await send(server, 'POST', 'sys/capabilities', { token: rootToken, body: { token: child, paths: ['secret/data/x'] } }),
      await send(server, 'POST', 'sys/capabilities-accessor', { token: rootToken, body: { accessor, paths: ['secret/data/x'] } }),
      await send(server, 'GET', 'secret/data/x', { headers: { Authorization: `Bearer ${orphanToken}` } }),
      await send(server, 'LIST', 'auth/token/accessors', { token: rootToken }),
      await send(server, 'POST', 'auth/token/revoke-accessor', { token: rootToken, body: { accessor } }),
    ];
    for (const res of calls) assert.ok(res.status < 500, res.text);
    const audit = auditText();
    for (const value of [rootToken, child, accessor, orphanToken, orphanAccessor]) {
      assert.equal(audit.includes(value), false, 'a token or accessor is in the audit file in clear');
      assert.equal(logText().includes(value), false, 'a token or accessor is in the server log');
    }
    // The entries are there, hashed: the control that this test looks at the right lines.
    const entries = audit.trim().split('\n').map((line) => JSON.parse(line));
    const succeeded = (path: string): any => entries.filter((e) => e.type === 'response' && e.request.path === path && e.response.status_code === 200).at(-1);
    const lookup = succeeded('auth/token/lookup-accessor');
    assert.ok(lookup, 'the lookup-accessor response was audited');
    assert.match(lookup.request.data.accessor, /^hmac-sha256:[0-9a-f]{64}$/);
    assert.match(lookup.request.client_token, /^hmac-sha256:/);
    assert.match(lookup.auth.accessor, /^hmac-sha256:/);
    assert.match(lookup.response.data.accessor, /^hmac-sha256:/);
    const creation = succeeded('auth/token/create-orphan');
    assert.match(creation.response.auth.client_token, /^hmac-sha256:/);
    assert.match(creation.response.auth.accessor, /^hmac-sha256:/);
  });

  it('gives an unauthenticated caller the same answer for a missing and a forbidden mount', async () => {
    const cases: Array<[string, string]> = [
      ['GET', 'data/x'],
      ['LIST', 'metadata/'],
      ['POST', 'data/x'],
      ['DELETE', 'data/x'],
      ['GET', 'config'],
      ['GET', ''],
    ];
    for (const token of [undefined, 'hvs.invalidinvalidinvalid']) {
      for (const [method, rest] of cases) {
        const options = { ...(token === undefined ? {} : { token }), ...(method === 'POST' ? { body: { data: { v: 1 } } } : {}) };
        const existing = await send(server, method, `secret/${rest}`, options);
        const missing = await send(server, method, `no-such-mount/${rest}`, options);
        assert.equal(existing.status, 403, `${method} secret/${rest}`);
        assert.equal(missing.status, existing.status, `${method} ${rest}`);
        assert.equal(missing.text, existing.text, `${method} ${rest}`);
      }
    }
    const uiExisting = await send(server, 'GET', 'sys/internal/ui/mounts/secret');
    const uiMissing = await send(server, 'GET', 'sys/internal/ui/mounts/no-such-mount');
    assert.equal(uiExisting.status, uiMissing.status);
    assert.equal(uiExisting.text, uiMissing.text);
  });

  it('keeps the data directory 0700 and every file in it 0600', async () => {
    assert.equal((await send(server, 'POST', 'secret/data/modes', { token: rootToken, body: { data: { v: 'x' } } })).status, 200);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700, 'data directory mode');
    const names = readdirSync(dataDir);
    for (const expected of ['coffer.db', 'coffer.db-wal', 'dev-unseal-key', 'dev-root-token']) assert.ok(names.includes(expected), `${expected} exists`);
    for (const name of names) {
      const st = statSync(join(dataDir, name));
      if (st.isDirectory()) assert.equal(st.mode & 0o777, 0o700, name);
      else assert.equal(st.mode & 0o777, 0o600, `${name} has mode ${(st.mode & 0o777).toString(8)}`);
    }
    assert.equal(statSync(auditFile).mode & 0o777, 0o600, 'audit file mode');
  });

  it('keeps secret values, tokens and key shares out of the SQLite files', async () => {
    const value = canary('stored');
    const policyCanary = canary('policy');
    assert.equal((await send(server, 'POST', 'secret/data/stored', { token: rootToken, body: { data: { password: value } } })).status, 200);
    assert.equal((await send(server, 'POST', 'secret/data/stored', { token: rootToken, body: { data: { password: value, again: value } } })).status, 200);
    assert.equal((await send(server, 'POST', 'secret/metadata/stored', { token: rootToken, body: { custom_metadata: { owner: value } } })).status, 204);
    assert.equal((await send(server, 'PUT', 'sys/policies/acl/stored', { token: rootToken, body: { policy: `# ${policyCanary}\npath "x/*" { capabilities = ["read"] }` } })).status, 204);
    const created = await send(server, 'POST', 'auth/token/create', { token: rootToken, body: { policies: ['stored'], meta: { note: value } } });
    const child = created.body.auth.client_token as string;
    const accessor = created.body.auth.accessor as string;
    const read = await send(server, 'GET', 'secret/data/stored', { token: rootToken });
    assert.equal(read.body.data.data.password, value, 'control: the value was stored');
    const unsealKeyHex = readFileSync(join(dataDir, 'dev-unseal-key'), 'utf8').trim();
    const needles: Array<[string, Buffer]> = [
      ['secret value', Buffer.from(value)],
      ['policy text', Buffer.from(policyCanary)],
      ['root token', Buffer.from(rootToken)],
      ['child token', Buffer.from(child)],
      ['accessor', Buffer.from(accessor)],
      ['unseal key (hex)', Buffer.from(unsealKeyHex)],
      ['unseal key (bytes)', Buffer.from(unsealKeyHex, 'hex')],
    ];
    const files = readdirSync(dataDir).filter((name) => name.startsWith('coffer.db'));
    assert.ok(files.includes('coffer.db-wal'));
    for (const name of files) {
      const bytes = readFileSync(join(dataDir, name));
      for (const [label, needle] of needles) assert.equal(bytes.includes(needle), false, `${name} holds the ${label} in clear`);
    }
  });
});
