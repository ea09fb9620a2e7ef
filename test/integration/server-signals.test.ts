/**
 * `coffer server` as its own process and the signals an operator sends it: SIGHUP reopens the
 * audit files (logrotate's postrotate `kill -HUP`, or a file that was removed) and does not
 * stop the server; SIGTERM stops it cleanly.
 *
 * The child is bin/coffer.js, as `npm test` builds it; a partial build elsewhere (no bin next
 * to it) skips these tests.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { api } from '../helpers/server.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(HERE, '..', '..', '..', 'bin', 'coffer.js');
const viaBin = existsSync(BIN) && existsSync(resolve(HERE, '..', '..', 'src', 'main.js'));

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await pause(25);
  }
}

describe('coffer server as a process: signals', { skip: viaBin ? false : 'bin/coffer.js is not next to this build' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-signals-'));
  const token = `signals-root-${process.pid}`;
  let child: ChildProcess | undefined;

  after(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('reopens a removed audit file on SIGHUP and keeps serving; stops on SIGTERM', async () => {
    child = spawn(process.execPath, [BIN, 'server', '--dev', '--listen', '127.0.0.1:0', '--data', join(dir, 'data'), '--dev-root-token', token], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, COFFER_TOKEN: '', VAULT_TOKEN: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child?.once('exit', (code, signal) => res({ code, signal })));

    const url = await eventually('the dev banner', async () => /Address:\s+(http:\/\/\S+)/.exec(stdout)?.[1]);
    const server = { url };
    const auditFile = join(dir, 'audit', 'coffer.log');
    mkdirSync(dirname(auditFile));
    assert.equal((await api(server, 'PUT', 'sys/audit/file', { token, body: { type: 'file', options: { file_path: auditFile } } })).status, 204);
    assert.equal((await api(server, 'POST', 'secret/data/app', { token, body: { data: { k: 'v' } } })).status, 200);

    // The only audit device can no longer write: requests fail closed.
    rmSync(auditFile);
    assert.equal((await api(server, 'GET', 'secret/data/app', { token })).status, 500);

    child.kill('SIGHUP');
    const read = await eventually('requests to work again after SIGHUP', async () => {
      const res = await api(server, 'GET', 'secret/data/app', { token });
      return res.status === 200 ? res : undefined;
    });
    assert.equal(read.body.data.data.k, 'v');
    assert.equal(child.exitCode, null, 'SIGHUP did not stop the server');
    assert.ok(readFileSync(auditFile, 'utf8').trim().split('\n').length >= 1, 'the reopened file receives lines');

    child.kill('SIGTERM');
    const { code, signal } = await exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, stderr);
  });
});
