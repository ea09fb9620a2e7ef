/**
 * Tests of main() that need no server: usage and exit codes, where address and token come from,
 * and the one-line error format, against a canned fetch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { main } from './main.js';
import type { CliStdin } from './io.js';

async function run(argv: string[], env: Record<string, string> = {}, fetchImpl?: typeof fetch) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    env: { HOME: '/nonexistent-coffer-home', ...env },
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: Readable.from([]) as CliStdin,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  return { code, stdout, stderr };
}

/** A fetch that answers every request with one canned response and records what was asked. */
function cannedFetch(status: number, body: unknown, seen: Request[] = []): typeof fetch {
  return async (input, init) => {
    seen.push(new Request(input, init));
    return new Response(body === undefined ? null : JSON.stringify(body), { status });
  };
}

test('no command prints usage and exits 1; help exits 0', async () => {
  const none = await run([]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^Usage: coffer <command>/);
  for (const word of ['help', '-h', '--help']) {
    const r = await run([word]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /Commands:\n(.|\n)*\bkv\b/);
  }
});

test('version prints the Coffer release and the Vault API it speaks, not the reported server version', async () => {
  for (const word of ['version', '-v', '--version']) {
    const r = await run([word]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'Coffer v0.1.0 (Vault API 1.17.0)\n');
  }
  assert.match((await run(['help'])).stderr, /\n {4}version +Print the Coffer version\n/);
});

test('a group without a subcommand prints its subcommands and exits 1', async () => {
  const r = await run(['token']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Subcommands:\n(.|\n)*create(.|\n)*revoke/);
});

test('address and token come from COFFER_* before VAULT_*, and the token travels only in X-Vault-Token', async () => {
  const seen: Request[] = [];
  const fetchImpl = cannedFetch(200, { data: { keys: ['a'] } }, seen);
  const r = await run(['list', 'secret/'], { COFFER_ADDR: 'http://coffer:1', VAULT_ADDR: 'http://vault:2', COFFER_TOKEN: 'c-token', VAULT_TOKEN: 'v-token' }, fetchImpl);
  assert.equal(r.code, 0, r.stderr);
  const req = seen[0] as Request;
  assert.equal(req.url, 'http://coffer:1/v1/secret/?list=true');
  assert.equal(req.headers.get('x-vault-token'), 'c-token');
  assert.equal(req.headers.get('x-vault-request'), 'true');

  seen.length = 0;
  await run(['list', '-address=http://flag:3', '-token=f-token', 'secret'], { VAULT_ADDR: 'http://vault:2', VAULT_TOKEN: 'v-token' }, fetchImpl);
  assert.equal((seen[0] as Request).url, 'http://flag:3/v1/secret/?list=true');
  assert.equal((seen[0] as Request).headers.get('x-vault-token'), 'f-token');

  seen.length = 0;
  await run(['list', 'secret'], { VAULT_ADDR: 'http://vault:2', VAULT_TOKEN: 'v-token' }, fetchImpl);
  assert.equal((seen[0] as Request).url, 'http://vault:2/v1/secret/?list=true');
  assert.equal((seen[0] as Request).headers.get('x-vault-token'), 'v-token');
});

test('a token variable is not sent to the other family\'s server', async () => {
  const seen: Request[] = [];
  const fetchImpl = cannedFetch(200, { data: { keys: ['a'] } }, seen);
  // A Vault user's profile exports VAULT_ADDR and VAULT_TOKEN; COFFER_ADDR points at Coffer.
  const vaultUser = await run(['list', 'secret'], { COFFER_ADDR: 'http://coffer:1', VAULT_ADDR: 'https://vault.example', VAULT_TOKEN: 'hvs.vault-prod' }, fetchImpl);
  assert.equal((seen[0] as Request).url, 'http://coffer:1/v1/secret/?list=true');
  assert.equal((seen[0] as Request).headers.get('x-vault-token'), null);
  assert.match(vaultUser.stderr, /Warning: VAULT_TOKEN is not sent to http:\/\/coffer:1, which comes from COFFER_ADDR while VAULT_ADDR names another server/);
  assert.ok(!vaultUser.stderr.includes('hvs.vault-prod'));

  seen.length = 0;
  const cofferUser = await run(['list', 'secret'], { COFFER_TOKEN: 'hvs.coffer', VAULT_ADDR: 'https://vault.example' }, fetchImpl);
  assert.equal((seen[0] as Request).url, 'https://vault.example/v1/secret/?list=true');
  assert.equal((seen[0] as Request).headers.get('x-vault-token'), null);
  assert.match(cofferUser.stderr, /Warning: COFFER_TOKEN is not sent to https:\/\/vault.example, which comes from VAULT_ADDR/);

  // Both variables naming the same server, or only one family set: the token goes as before.
  seen.length = 0;
  await run(['list', 'secret'], { COFFER_ADDR: 'http://coffer:1', VAULT_ADDR: 'http://coffer:1/', VAULT_TOKEN: 'v-token' }, fetchImpl);
  assert.equal((seen[0] as Request).headers.get('x-vault-token'), 'v-token');
  seen.length = 0;
  await run(['list', 'secret'], { COFFER_ADDR: 'http://coffer:1', VAULT_TOKEN: 'v-token' }, fetchImpl);
  assert.equal((seen[0] as Request).headers.get('x-vault-token'), 'v-token');
});

test('coffer run follows the same rule: a token variable is never sent to the other family\'s server', async () => {
  const seen: Request[] = [];
  const fetchImpl = cannedFetch(200, { data: { data: { b: 'value' } } }, seen);
  const argv = ['run', '-env', 'X=secret/data/a#b', '--', 'true'];
  const vaultUser = await run(argv, { COFFER_ADDR: 'http://coffer:1', VAULT_ADDR: 'https://vault.example', VAULT_TOKEN: 'hvs.vault-prod' }, fetchImpl);
  assert.notEqual(vaultUser.code, 0);
  assert.ok(seen.every((r) => r.headers.get('x-vault-token') !== 'hvs.vault-prod'), 'the Vault token never went to Coffer');
  assert.ok(!vaultUser.stderr.includes('hvs.vault-prod'));
  seen.length = 0;
  const cofferUser = await run(argv, { COFFER_TOKEN: 'hvs.coffer', VAULT_ADDR: 'https://vault.example' }, fetchImpl);
  assert.notEqual(cofferUser.code, 0);
  assert.ok(seen.every((r) => r.headers.get('x-vault-token') !== 'hvs.coffer'), 'the Coffer token never went to Vault');
  // The same family: sent as before.
  seen.length = 0;
  await run(argv, { COFFER_ADDR: 'http://coffer:1', COFFER_TOKEN: 'hvs.coffer' }, fetchImpl);
  assert.ok(seen.length > 0);
  assert.ok(seen.every((r) => r.headers.get('x-vault-token') === 'hvs.coffer'));
});

test('VAULT_FORMAT=yaml (a Vault user\'s profile) is passed over, not a failure of every command; VAULT_FORMAT=json is followed', async () => {
  const fetchImpl = cannedFetch(200, { data: { keys: ['a'] } });
  const yaml = await run(['list', 'secret'], { VAULT_FORMAT: 'yaml', COFFER_TOKEN: 't' }, fetchImpl);
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.match(yaml.stdout, /^Keys\n/);
  const json = await run(['list', 'secret'], { VAULT_FORMAT: 'json', COFFER_TOKEN: 't' }, fetchImpl);
  assert.deepEqual(JSON.parse(json.stdout), ['a']);
  assert.equal((await run(['list', 'secret'], { COFFER_FORMAT: 'yaml', COFFER_TOKEN: 't' }, fetchImpl)).code, 1, 'a format asked of Coffer itself is still checked');
});

test('a redirect is never followed: neither the token nor the body leaves for the other host', async () => {
  const seen: Request[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    seen.push(new Request(input, init));
    assert.equal(init?.redirect, 'manual');
    return new Response(null, { status: 307, headers: { location: 'http://elsewhere:9/v1/secret/data/app?x=hunter2' } });
  };
  const r = await run(['write', 'secret/data/app', 'pw=hunter2'], { COFFER_ADDR: 'http://coffer:1', COFFER_TOKEN: 'hvs.tok' }, fetchImpl);
  assert.equal(r.code, 2);
  assert.equal(seen.length, 1);
  assert.match(r.stderr, /^Error: the server at http:\/\/coffer:1 answered with a redirect to http:\/\/elsewhere:9 \(HTTP 307\), which is not followed/);
  assert.ok(!r.stderr.includes('hunter2') && !r.stderr.includes('hvs.tok'));
});

test('a server error becomes one line with its messages and status, exit 2, no stack', async () => {
  const r = await run(['read', 'secret/x'], { COFFER_TOKEN: 't' }, cannedFetch(400, { errors: ['first problem', 'second problem'] }));
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'Error: GET secret/x: first problem; second problem (HTTP 400)\n');
});

test('an error line never shows the token, even if the server echoes it', async () => {
  const token = 'hvs.leaky-token-value';
  const r = await run(['read', 'secret/x'], { COFFER_TOKEN: token }, cannedFetch(500, { errors: [`bad token ${token}`] }));
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'Error: GET secret/x: bad token <redacted> (HTTP 500)\n');
});

test('query values given to read are not printed in errors', async () => {
  const r = await run(['read', 'secret/x', 'password=hunter2-secret'], { COFFER_TOKEN: 't' }, cannedFetch(403, { errors: ['permission denied'] }));
  assert.equal(r.code, 2);
  assert.ok(!r.stderr.includes('hunter2-secret'), r.stderr);
});

test('an unexpected failure is one line without a stack trace', async () => {
  const broken: typeof fetch = async () => ({ status: 200, text: async () => { throw new TypeError('boom'); } }) as unknown as Response;
  const r = await run(['read', 'secret/x'], { COFFER_TOKEN: 't' }, broken);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error: unexpected failure: boom\n');
});

test('an invalid address is a local error', async () => {
  const r = await run(['status', '-address=not a url']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: invalid address/);
});

test('coffer server -h, -help and --help print every server flag and exit 0 without starting a server', async () => {
  for (const word of ['-h', '-help', '--help']) {
    const r = await run(['server', word]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Usage: coffer server \[options\]\n/);
    for (const flag of ['-listen=<string>', '-data=<string>', '-dev ', '-dev-root-token=<string>', '-config=<string>', '-storage=<string>', '-log-level=<string>', '-http-replicas=<int>']) {
      assert.ok(r.stderr.includes(`\n  ${flag}`), `${word}: ${flag} missing from\n${r.stderr}`);
    }
    assert.match(r.stderr, /Config file keys: listen, data_dir,/);
  }
  // Help after other flags still prints help and starts nothing.
  assert.equal((await run(['server', '-dev', '-listen', '127.0.0.1:0', '--help'])).code, 0);
});

test('coffer help server prints the server help; coffer help COMMAND prints that command help', async () => {
  const server = await run(['help', 'server']);
  assert.equal(server.code, 0);
  assert.match(server.stderr, /^Usage: coffer server \[options\]\n(.|\n)*-http-replicas=<int>/);
  const kvGet = await run(['help', 'kv', 'get']);
  assert.equal(kvGet.code, 0);
  assert.match(kvGet.stderr, /^Usage: coffer kv get \[options\] PATH/);
  const group = await run(['help', 'token']);
  assert.equal(group.code, 0);
  assert.match(group.stderr, /^Usage: coffer token(.|\n)*Subcommands:/);
  const unknown = await run(['help', 'kv', 'nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^Error: unknown subcommand "nope"\nRun "coffer kv -h" for usage\.\n$/);
  assert.equal((await run(['help', 'nope'])).code, 1);
});

test('coffer help run COMMAND prints the help of run and never runs the command', async () => {
  const r = await run(['help', 'run', 'definitely-not-a-command']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown subcommand "definitely-not-a-command"/);
});

test('a mistyped server flag is a usage error that points at coffer server -h', async () => {
  const r = await run(['server', '-lisen', '127.0.0.1:0']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: unknown flag -lisen; known: -config -listen /);
  assert.match(r.stderr, /\nRun "coffer server -h" for usage\.\n$/);
});

test('an https server signed by a private CA is trusted with -ca-cert or VAULT_CACERT, or not verified with -tls-skip-verify', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-cli-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ type: 'shamir', initialized: true, sealed: false, t: 1, n: 1, progress: 0, nonce: '', version: '1.17.0' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const untrusted = await run(['status', `-address=${address}`]);
  assert.equal(untrusted.code, 1, untrusted.stderr);
  assert.match(untrusted.stderr, /cannot reach the server at https:\/\/127\.0\.0\.1:\d+: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/);
  const byFlag = await run(['status', `-address=${address}`, `-ca-cert=${join(dir, 'cert.pem')}`]);
  assert.equal(byFlag.code, 0, byFlag.stderr);
  assert.match(byFlag.stdout, /Sealed\s+false/);
  assert.equal((await run(['status'], { VAULT_ADDR: address, VAULT_CACERT: join(dir, 'cert.pem') })).code, 0);
  assert.equal((await run(['status', `-address=${address}`, '-tls-skip-verify'])).code, 0);
  assert.equal((await run(['status'], { COFFER_ADDR: address, VAULT_SKIP_VERIFY: 'true' })).code, 0);
  // coffer run reads its secrets with the same trust (this server answers no secret, so it
  // fails, but on the answer, not on the certificate).
  const certificateError = /SELF_SIGNED|DEPTH_ZERO|UNABLE_TO_VERIFY/;
  const runUntrusted = await run(['run', `-address=${address}`, '-token=t0ken', '-env', 'X=secret/data/app#pw', '--', 'true']);
  assert.match(runUntrusted.stderr, certificateError);
  const runTrusted = await run(['run', `-address=${address}`, '-token=t0ken', `-ca-cert=${join(dir, 'cert.pem')}`, '-env', 'X=secret/data/app#pw', '--', 'true']);
  assert.ok(!certificateError.test(runTrusted.stderr), runTrusted.stderr);
  const missing = await run(['status', `-address=${address}`, '-ca-cert=/nonexistent/ca.pem']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^Error: cannot read the CA certificate file \/nonexistent\/ca\.pem \(ENOENT\)\n$/);
});
