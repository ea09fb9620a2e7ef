/**
 * A file audit device with `file_path=discard` on a real server process (bin/coffer.js), as in
 * Vault: requests are audited (formatted, HMAC'd) and succeed, sys/audit-hash answers with the
 * device's key, but nothing is written anywhere: no audit line on stdout, no file named
 * "discard" in the working or data directory. Verification answers 400 (there is no file),
 * through the API and `coffer audit verify -device`; SIGHUP leaves the device working.
 *
 * The server and the CLI run as their own processes, so their working directory and stdout are
 * theirs to inspect. A partial build elsewhere (no bin next to it) skips these tests.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { api } from '../helpers/server.js';
import { waitFor } from '../helpers/polling.js';
import { cliServerAvailable, COFFER_BIN as BIN, startCliServer } from '../helpers/cli-server.js';

const run = promisify(execFile);

const SECRET = 'discard-secret-value-3c9d';

/** Every file and directory name below `dir`, as paths relative to it. */
function walk(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    return entry.isDirectory() ? [rel, ...walk(join(dir, entry.name), rel)] : [rel];
  });
}

describe('a file audit device with file_path=discard', { skip: cliServerAvailable ? false : 'bin/coffer.js is not next to this build' }, () => {
  const work = mkdtempSync(join(tmpdir(), 'coffer-audit-discard-'));
  const dataDir = join(work, 'data');
  const token = `discard-root-${process.pid}`;
  let child: ChildProcess | undefined;

  after(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('audits every request but writes nothing anywhere, hashes with its key, and has no file to verify', async () => {
    // The server's working directory is `work`: a device that took "discard" for a relative file
    // name would create work/discard.
    const started = await startCliServer(['--dev', '--listen', '127.0.0.1:0', '--data', dataDir, '--dev-root-token', token], { cwd: work });
    child = started.process;
    const { exited, output } = started;
    const server = { url: started.url };
    const cli = (args: string[]) =>
      run(process.execPath, [BIN, ...args], { cwd: work, env: { ...process.env, COFFER_ADDR: server.url, COFFER_TOKEN: token, VAULT_TOKEN: '' } }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
      );

    const enabled = await api(server, 'PUT', 'sys/audit/discard', { token, body: { type: 'file', description: 'nowhere', options: { file_path: 'discard' } } });
    assert.equal(enabled.status, 204, JSON.stringify(enabled.body));
    const listed = await api(server, 'GET', 'sys/audit', { token });
    assert.deepEqual(listed.body.data['discard/'], { type: 'file', description: 'nowhere', options: { file_path: 'discard' }, path: 'discard/', local: false });
    const list = await cli(['audit', 'list', '-detailed']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /\ndiscard\/\s+file\s+nowhere\s+map\[file_path:discard\]\n/);

    // Requests are audited (a device is enabled) and succeed.
    assert.equal((await api(server, 'POST', 'secret/data/app', { token, body: { data: { password: SECRET } } })).status, 200);
    const read = await api(server, 'GET', 'secret/data/app', { token });
    assert.equal(read.status, 200);
    assert.equal(read.body.data.data.password, SECRET);

    const hash = async (): Promise<string> => {
      const res = await api(server, 'PUT', 'sys/audit-hash/discard', { token, body: { input: SECRET } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.data.hash as string;
    };
    const first = await hash();
    assert.match(first, /^hmac-sha256:[0-9a-f]{64}$/);
    assert.equal(await hash(), first, 'the device keeps one key');

    const noFile = /audit device "discard\/" discards its entries \(file_path=discard\): there is no file to verify/;
    const verified = await api(server, 'PUT', 'sys/audit-verify/discard', { token, body: {} });
    assert.equal(verified.status, 400);
    assert.match(verified.body.errors[0], noFile);
    const verify = await cli(['audit', 'verify', '-device=discard']);
    assert.notEqual(verify.code, 0);
    assert.match(verify.stderr, noFile);

    // SIGHUP reopens nothing and the device keeps auditing.
    started.process.kill('SIGHUP');
    await waitFor(() => /"message":"audit device reopened"[^\n]*"path":"discard\/"/.test(output.stderr), 10_000, 'the reopen to be logged');
    assert.equal((await api(server, 'GET', 'secret/data/app', { token })).status, 200);
    assert.equal(await hash(), first, 'SIGHUP keeps the key');

    started.process.kill('SIGTERM');
    const { code, signal } = await exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, output.stderr);

    // Nothing was written: no audit line on stdout (or in the log on stderr), no file named discard.
    assert.doesNotMatch(output.stdout, /"type":"(request|response)"/);
    assert.doesNotMatch(output.stdout + output.stderr, new RegExp(SECRET));
    assert.doesNotMatch(output.stdout + output.stderr, /hmac-sha256:/);
    const names = walk(work);
    assert.deepEqual(names.filter((name) => name.split('/').includes('discard')), [], names.join(', '));
    assert.deepEqual(readdirSync(work), ['data'], 'the server created nothing in its working directory');
  });
});
