/**
 * `coffer run` end to end against a real server: the child sees the secrets in its environment
 * while neither the command lines of any process (ps) nor the parent's environment hold them;
 * exit codes and signals pass through; AppRole and JWT logins work from files and their token
 * is revoked afterwards; dynamic PostgreSQL credentials it read are revoked once the child exits.
 *
 * Most runs call the CLI's main() in this process (so the parent's environment can be checked
 * directly); signal forwarding runs the CLI as its own process, as a user would.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sign, testKey } from '../../src/auth/jwt/jwt-test-keys.js';
import { main } from '../../src/cli/main.js';
import { createScratchDatabase, startPgCluster, tryLogin, type PgCluster, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { mountPostgres } from '../helpers/database-mount.js';
import { api, startTestServer, type TestServer } from '../helpers/server.js';

const SECRET = 'kv-api-key-Zq81vT3mW0';
const MAIN_URL = new URL('../../src/cli/main.js', import.meta.url).href;

interface Outcome {
  code: number;
  stderr: string;
}

const waitForFile = async (path: string, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A child script (CommonJS, for `node -e`) that records its environment, then waits for `go`. */
const recorder = (names: string[]): string => `
const fs = require('fs');
const out = {};
for (const n of ${JSON.stringify([...names, 'COFFER_TOKEN', 'VAULT_TOKEN', 'COFFER_SECRET_ID', 'COFFER_JWT'])}) out[n] = process.env[n] === undefined ? null : process.env[n];
out.pid = process.pid;
out.argv = process.argv;
fs.writeFileSync(process.env.OUT_FILE + '.tmp', JSON.stringify(out));
fs.renameSync(process.env.OUT_FILE + '.tmp', process.env.OUT_FILE);
const go = process.env.OUT_FILE + '.go';
if (process.env.WAIT === '1') { const t = setInterval(() => { if (fs.existsSync(go)) { clearInterval(t); } }, 20); }
`;

describe('coffer run', () => {
  let server: TestServer;
  let root: string;
  let dir: string;
  let cluster: PgCluster;
  let db: ScratchDatabase;
  let n = 0;

  /** Runs `coffer run ARGS` in this process; `outFile` is where the child records what it saw. */
  const run = async (args: string[], env: Record<string, string> = {}): Promise<Outcome & { outFile: string; seen: () => Record<string, unknown> }> => {
    n += 1;
    const outFile = join(dir, `out-${n}.json`);
    let stderr = '';
    const code = await main(['run', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, COFFER_ADDR: server.url, COFFER_TOKEN: root, OUT_FILE: outFile, ...env },
      stdout: { write: () => true },
      stderr: { write: (text: string) => ((stderr += text), true) },
    });
    return { code, stderr, outFile, seen: () => JSON.parse(readFileSync(outFile, 'utf8')) };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-'));
    cluster = await startPgCluster();
    db = await createScratchDatabase(cluster);
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    assert.equal((await api(server, 'POST', 'secret/data/app', { token: root, body: { data: { key: SECRET, region: 'eu-1' } } })).status, 200);
    await mountPostgres(server, root, {
      mount: 'database',
      cluster,
      db,
      allowedRoles: ['app', 'short'],
      roles: {
        app: { creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`], default_ttl: '1h', max_ttl: '2h' },
        short: { creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`], default_ttl: '2s', max_ttl: '3s' },
      },
    });
  });

  after(async () => {
    await server?.destroy();
    await db?.cleanup(['v-%']).catch(() => undefined);
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts the secret in the child\'s environment only: not in any command line, not in the parent', async () => {
    n += 1;
    const outFile = join(dir, `out-${n}.json`);
    const pending = main(['run', '-env', 'API_KEY=secret/data/app#key', '--', process.execPath, '-e', recorder(['API_KEY'])], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, COFFER_ADDR: server.url, COFFER_TOKEN: root, OUT_FILE: outFile, WAIT: '1' },
      stdout: { write: () => true },
      stderr: { write: () => true },
    });
    await waitForFile(outFile);
    const seen = JSON.parse(readFileSync(outFile, 'utf8'));
    try {
      assert.equal(seen.API_KEY, SECRET, 'the child sees the secret');
      // While the child runs: every process's command line, as ps shows it, is free of it.
      const ps = spawnSync('ps', ['-eww', '-o', 'pid=,args='], { encoding: 'utf8' });
      assert.equal(ps.status, 0);
      assert.ok(ps.stdout.includes(String(seen.pid)), 'ps lists the child');
      assert.ok(!ps.stdout.includes(SECRET), 'no command line contains the secret');
      assert.ok(!readFileSync(`/proc/${seen.pid}/cmdline`, 'utf8').includes(SECRET));
      // ...while the same secret is in the child's environment, so the checks above could fail.
      assert.ok(readFileSync(`/proc/${seen.pid}/environ`, 'utf8').includes(`API_KEY=${SECRET}`));
      assert.ok(!JSON.stringify(process.env).includes(SECRET), 'the parent\'s environment does not have it');
      assert.equal(process.env['API_KEY'], undefined);
    } finally {
      writeFileSync(`${outFile}.go`, '');
    }
    assert.equal(await pending, 0);
    assert.equal(seen.COFFER_TOKEN, null, 'the run\'s token is not passed on');
    assert.ok(!JSON.stringify(seen.argv).includes(SECRET));
  });

  it('exits with the child\'s exit code, or 128 + the signal that ended it', async () => {
    assert.equal((await run(['--', process.execPath, '-e', 'process.exit(7)'])).code, 7);
    assert.equal((await run(['-env', 'K=secret/data/app#key', '--', process.execPath, '-e', 'process.exit(0)'])).code, 0);
    assert.equal((await run(['--', process.execPath, '-e', "process.kill(process.pid, 'SIGTERM')"])).code, 128 + 15);
    const missing = await run(['--', join(dir, 'no-such-program')]);
    assert.equal(missing.code, 127);
  });

  it('renders a template file, shares one read between fields, and strips its credentials from the child', async () => {
    const template = join(dir, 'app.env.tpl');
    writeFileSync(template, '# app\nAPI_URL="https://api.example.test/?key={{ secret/data/app#key }}&r={{secret/data/app#region}}"\nexport PLAIN=value\n');
    const result = await run(['-env-file-template', template, '-env', 'REGION=secret/data/app#region', '--', process.execPath, '-e', recorder(['API_URL', 'PLAIN', 'REGION'])], {
      COFFER_SECRET_ID: 'not-for-the-child', VAULT_TOKEN: 'not-for-the-child-either',
    });
    assert.equal(result.code, 0, result.stderr);
    const seen = result.seen();
    assert.equal(seen.API_URL, `https://api.example.test/?key=${SECRET}&r=eu-1`);
    assert.equal(seen.PLAIN, 'value');
    assert.equal(seen.REGION, 'eu-1');
    assert.equal(seen.COFFER_SECRET_ID, null);
    assert.equal(seen.VAULT_TOKEN, null);
  });

  it('fails before running anything when a reference cannot be resolved, without printing secrets', async () => {
    const noField = await run(['-env', 'X=secret/data/app#nope', '--', process.execPath, '-e', recorder([])]);
    assert.equal(noField.code, 2);
    assert.match(noField.stderr, /field "nope" not present in the secret at secret\/data\/app/);
    assert.ok(!noField.stderr.includes(SECRET));
    assert.equal(existsSync(noField.outFile), false, 'the command did not run');
    const denied = await run(['-env', 'X=secret/data/app#key', '--', 'true'], { COFFER_TOKEN: 'hvs.not-a-real-token-123' });
    assert.equal(denied.code, 2);
    assert.match(denied.stderr, /permission denied/);
    assert.ok(!denied.stderr.includes('hvs.not-a-real-token-123'));
    const usage = await run(['-env', 'lower case=secret/data/app#key', '--', 'true']);
    assert.equal(usage.code, 1);
  });

  it('logs in with AppRole from files or the environment, and revokes that token when the child exits', async () => {
    assert.equal((await api(server, 'POST', 'sys/auth/approle', { token: root, body: { type: 'approle' } })).status, 204);
    await api(server, 'PUT', 'sys/policies/acl/app-read', { token: root, body: { policy: 'path "secret/data/app" { capabilities = ["read"] }' } });
    await api(server, 'POST', 'auth/approle/role/runner', { token: root, body: { token_policies: ['app-read'] } });
    const roleId = (await api(server, 'GET', 'auth/approle/role/runner/role-id', { token: root })).body.data.role_id;
    const secretId = (await api(server, 'POST', 'auth/approle/role/runner/secret-id', { token: root })).body.data.secret_id;
    writeFileSync(join(dir, 'role-id'), `${roleId}\n`);
    writeFileSync(join(dir, 'secret-id'), `${secretId}\n`, { mode: 0o600 });
    const accessors = async (): Promise<number> => (await api(server, 'LIST', 'auth/token/accessors', { token: root })).body.data.keys.length;
    const before = await accessors();

    const fromFiles = await run(['-method=approle', '-role-id-file', join(dir, 'role-id'), '-secret-id-file', join(dir, 'secret-id'), '-env', 'API_KEY=secret/data/app#key', '--', process.execPath, '-e', recorder(['API_KEY'])], { COFFER_TOKEN: '' });
    assert.equal(fromFiles.code, 0, fromFiles.stderr);
    assert.equal(fromFiles.seen().API_KEY, SECRET);
    const fromEnv = await run(['-method=approle', '-env', 'API_KEY=secret/data/app#key', '--', process.execPath, '-e', recorder(['API_KEY'])], { COFFER_TOKEN: '', COFFER_ROLE_ID: roleId, COFFER_SECRET_ID: secretId });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(fromEnv.seen().COFFER_SECRET_ID, null, 'the secret id is not passed on');
    assert.equal(await accessors(), before, 'the tokens of both logins were revoked');

    const wrong = await run(['-method=approle', '-role-id', roleId, '-env', 'API_KEY=secret/data/app#key', '--', 'true'], { COFFER_TOKEN: '', COFFER_SECRET_ID: 'wrong-secret-id-value' });
    assert.equal(wrong.code, 2);
    assert.ok(!wrong.stderr.includes('wrong-secret-id-value'));
  });

  it('logs in with a JWT from a file', async () => {
    const key = await testKey('RS256', 'run-key');
    assert.equal((await api(server, 'POST', 'sys/auth/jwt', { token: root, body: { type: 'jwt' } })).status, 204);
    await api(server, 'POST', 'auth/jwt/config', { token: root, body: { jwt_validation_pubkeys: [key.publicPem] } });
    await api(server, 'POST', 'auth/jwt/role/ci', { token: root, body: { role_type: 'jwt', user_claim: 'sub', bound_audiences: ['coffer'], token_policies: ['app-read'] } });
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(join(dir, 'ci.jwt'), await sign(key, { sub: 'job-1', aud: 'coffer', iat: now, exp: now + 120 }));
    const result = await run(['-method=jwt', '-role=ci', '-jwt-file', join(dir, 'ci.jwt'), '-env', 'API_KEY=secret/data/app#key', '--', process.execPath, '-e', recorder(['API_KEY'])], { COFFER_TOKEN: '' });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.seen().API_KEY, SECRET);
  });

  it('revokes the dynamic database lease it created once the child exits', async () => {
    n += 1;
    const outFile = join(dir, `out-${n}.json`);
    const pending = main(['run', '-env', 'DB_USER=database/creds/app#username', '-env', 'DB_PASS=database/creds/app#password', '--', process.execPath, '-e', recorder(['DB_USER', 'DB_PASS'])], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, COFFER_ADDR: server.url, COFFER_TOKEN: root, OUT_FILE: outFile, WAIT: '1' },
      stdout: { write: () => true },
      stderr: { write: () => true },
    });
    await waitForFile(outFile);
    const seen = JSON.parse(readFileSync(outFile, 'utf8'));
    const listed = await api(server, 'LIST', 'sys/leases/lookup/database/creds/app/', { token: root });
    let leaseId = '';
    try {
      assert.equal(listed.status, 200);
      assert.equal(listed.body.data.keys.length, 1, 'one lease for both fields');
      leaseId = `database/creds/app/${listed.body.data.keys[0]}`;
      assert.equal(await tryLogin(cluster, db.name, seen.DB_USER, seen.DB_PASS), undefined, 'user and password are one working credential');
    } finally {
      writeFileSync(`${outFile}.go`, '');
    }
    assert.equal(await pending, 0);
    assert.equal((await api(server, 'PUT', 'sys/leases/lookup', { token: root, body: { lease_id: leaseId } })).status, 400, 'the lease is gone');
    assert.deepEqual(await db.roles(seen.DB_USER), [], 'the database user is gone');
  });

  it('warns once on stderr, naming the path and never the secret, when a lease reaches its max TTL while the command runs', async () => {
    n += 1;
    const outFile = join(dir, `out-${n}.json`);
    let stderr = '';
    const pending = main(['run', '-env', 'DB_USER=database/creds/short#username', '-env', 'DB_PASS=database/creds/short#password', '--', process.execPath, '-e', recorder(['DB_USER', 'DB_PASS'])], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, COFFER_ADDR: server.url, COFFER_TOKEN: root, OUT_FILE: outFile, WAIT: '1' },
      stdout: { write: () => true },
      stderr: { write: (text: string) => ((stderr += text), true) },
    });
    await waitForFile(outFile);
    const seen = JSON.parse(readFileSync(outFile, 'utf8'));
    try {
      const end = Date.now() + 15_000;
      while (!stderr.includes('max TTL')) {
        if (Date.now() > end) throw new Error(`no warning; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      writeFileSync(`${outFile}.go`, '');
    }
    assert.equal(await pending, 0);
    const lines = stderr.split('\n').filter((l) => l !== '');
    const warnings = lines.filter((l) => l.includes('database/creds/short'));
    assert.equal(warnings.length, 1, stderr);
    assert.match(warnings[0] as string, /^Warning: the lease of database\/creds\/short reached its max TTL and ends at \S+Z; the command keeps running/);
    for (const secret of [seen.DB_USER, seen.DB_PASS, root]) assert.ok(!stderr.includes(secret));
  });

  it('forwards SIGTERM, SIGINT and SIGHUP to the child and revokes its lease afterwards', async () => {
    const entry = join(dir, 'coffer-entry.mjs');
    writeFileSync(entry, `const { main } = await import(${JSON.stringify(MAIN_URL)});\nprocess.exitCode = await main(process.argv.slice(2));\n`);
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const ready = join(dir, `ready-${signal}`);
      const got = join(dir, `got-${signal}`);
      const script = `
        const fs = require('fs');
        for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => { fs.writeFileSync(${JSON.stringify(got)}, s + ' ' + process.env.DB_USER); process.exit(42); });
        fs.writeFileSync(${JSON.stringify(ready)}, '');
        setInterval(() => {}, 1000);
      `;
      const cli = spawn(process.execPath, [entry, 'run', '-env', 'DB_USER=database/creds/app#username', '--', process.execPath, '-e', script], {
        env: { PATH: process.env.PATH ?? '', HOME: dir, COFFER_ADDR: server.url, COFFER_TOKEN: root },
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
      await waitForFile(ready, 15_000);
      cli.kill(signal);
      assert.equal(await exited, 42, `${signal}: coffer run exits with the child's code`);
      const [received, user] = readFileSync(got, 'utf8').split(' ');
      assert.equal(received, signal, 'the child received the same signal');
      assert.deepEqual(await db.roles(user as string), [], `${signal}: the lease was revoked after the child exited`);
    }
  });

  // `script` (util-linux) runs the CLI on a pseudo-terminal as its foreground job; a 0x03 byte
  // written to it is a ^C typed there, which the terminal sends to the whole process group.
  const hasScript = spawnSync('script', ['--version']).status === 0;

  /**
   * Runs `coffer run -- ...command` on a pseudo-terminal, types ^C once `ready` exists, and
   * resolves with the exit code (the command's, passed on by coffer run).
   */
  const typeInterruptOnPty = async (name: string, command: string[], ready: string): Promise<number | null> => {
    const entry = join(dir, `coffer-entry-${name}.mjs`);
    writeFileSync(entry, `const { main } = await import(${JSON.stringify(MAIN_URL)});\nprocess.exitCode = await main(process.argv.slice(2));\n`);
    const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;
    const line = 'exec ' + [process.execPath, entry, 'run', '-env', 'K=secret/data/app#key', '--', ...command].map(quote).join(' ');
    const tty = spawn('script', ['-q', '-e', '-c', line, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, COFFER_ADDR: server.url, COFFER_TOKEN: root, SHELL: '/bin/sh' },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const exited = new Promise<number | null>((resolve) => tty.once('exit', (code) => resolve(code)));
    await waitForFile(ready, 15_000);
    tty.stdin?.write('\x03');
    return exited;
  };

  it('lets a ^C typed in the terminal reach the child once, not a second time from coffer run', { skip: hasScript ? false : 'util-linux script is not installed' }, async () => {
    const ready = join(dir, 'ready-tty');
    const got = join(dir, 'got-tty');
    // Counts SIGINTs for a while after the first, so a second copy would be seen.
    const child = `
      const fs = require('fs');
      let count = 0;
      process.on('SIGINT', () => { count += 1; fs.writeFileSync(${JSON.stringify(got)}, String(count)); if (count === 1) setTimeout(() => process.exit(42), 500); });
      fs.writeFileSync(${JSON.stringify(ready)}, '');
      setInterval(() => {}, 1000);
    `;
    assert.equal(await typeInterruptOnPty('tty', [process.execPath, '-e', child], ready), 42, 'the child handled the ^C and coffer run passed its exit code on');
    assert.equal(readFileSync(got, 'utf8'), '1', 'exactly one SIGINT reached the child');
  });

  it('passes a terminal ^C on to a command that left the foreground process group', { skip: hasScript ? false : 'util-linux script is not installed', timeout: 60_000 }, async () => {
    const ready = join(dir, 'ready-own-group');
    const got = join(dir, 'got-own-group');
    // setsid -w puts the command in a session (and group) of its own, as GNU timeout puts itself
    // in a group of its own: the terminal's ^C reaches coffer run only.
    const child = `
      const fs = require('fs');
      process.on('SIGINT', () => { fs.writeFileSync(${JSON.stringify(got)}, 'INT'); process.exit(42); });
      fs.writeFileSync(${JSON.stringify(ready)}, '');
      setInterval(() => {}, 1000);
    `;
    assert.equal(await typeInterruptOnPty('own-group', ['setsid', '-w', process.execPath, '-e', child], ready), 42, 'coffer run passed the SIGINT on');
    assert.equal(readFileSync(got, 'utf8'), 'INT');
  });
});
