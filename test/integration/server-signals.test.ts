/**
 * `coffer server` as its own process and the signals an operator sends it: SIGHUP reopens the
 * audit files (logrotate's postrotate `kill -HUP`, or a file that was removed) and does not
 * stop the server; SIGTERM stops it cleanly.
 *
 * The child is bin/coffer.js, as `npm test` builds it; a partial build elsewhere (no bin next
 * to it) skips these tests.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { api } from '../helpers/server.js';
import { cliServerAvailable, startCliServer } from '../helpers/cli-server.js';
import { createScratchDatabase } from '../helpers/pg-cluster.js';


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

describe('coffer server as a process: signals', { skip: cliServerAvailable ? false : 'bin/coffer.js is not next to this build' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-signals-'));
  const token = `signals-root-${process.pid}`;
  const children: ChildProcess[] = [];

  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts `coffer server --dev` with its data in `name` under the test directory. */
  async function startChild(name: string) {
    const started = await startCliServer(['--dev', '--listen', '127.0.0.1:0', '--data', join(dir, name), '--dev-root-token', token]);
    children.push(started.process);
    return { process: started.process, server: { url: started.url }, exited: started.exited, output: started.output };
  }

  it('reopens a removed audit file on SIGHUP and keeps serving; stops on SIGTERM', async () => {
    const { process: coffer, server, exited, output } = await startChild('data');
    const auditFile = join(dir, 'audit', 'coffer.log');
    mkdirSync(dirname(auditFile));
    assert.equal((await api(server, 'PUT', 'sys/audit/file', { token, body: { type: 'file', options: { file_path: auditFile } } })).status, 204);
    assert.equal((await api(server, 'POST', 'secret/data/app', { token, body: { data: { k: 'v' } } })).status, 200);

    // The only audit device can no longer write: requests fail closed.
    rmSync(auditFile);
    assert.equal((await api(server, 'GET', 'secret/data/app', { token })).status, 500);

    coffer.kill('SIGHUP');
    const read = await eventually('requests to work again after SIGHUP', async () => {
      const res = await api(server, 'GET', 'secret/data/app', { token });
      return res.status === 200 ? res : undefined;
    });
    assert.equal(read.body.data.data.k, 'v');
    assert.equal(coffer.exitCode, null, 'SIGHUP did not stop the server');
    assert.ok(readFileSync(auditFile, 'utf8').trim().split('\n').length >= 1, 'the reopened file receives lines');

    coffer.kill('SIGTERM');
    const { code, signal } = await exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, output.stderr);
  });

  it('refuses requests after a SIGHUP that cannot open the rotated audit file again, and serves again after the next SIGHUP', async () => {
    const { process: coffer, server, exited, output } = await startChild('data-rotate');
    const auditFile = join(dir, 'audit-rotate', 'coffer.log');
    mkdirSync(dirname(auditFile));
    assert.equal((await api(server, 'PUT', 'sys/audit/file', { token, body: { type: 'file', options: { file_path: auditFile } } })).status, 204);
    assert.equal((await api(server, 'POST', 'secret/data/app', { token, body: { data: { k: 'v' } } })).status, 200);

    // Rotated, and the name taken by a directory: no file can be opened there, not even by root.
    renameSync(auditFile, `${auditFile}.1`);
    mkdirSync(auditFile);
    coffer.kill('SIGHUP');
    await eventually('the failed reopen to be logged', async () => (/"message":"audit device failed to reopen/.test(output.stderr) ? true : undefined));
    const refused = await api(server, 'GET', 'secret/data/app', { token });
    assert.equal(refused.status, 500);
    assert.deepEqual(refused.body, { errors: ['no audit backend succeeded in logging the request'] });
    const rotatedLines = readFileSync(`${auditFile}.1`, 'utf8');
    assert.equal((await api(server, 'GET', 'secret/data/app', { token })).status, 500);
    assert.equal(readFileSync(`${auditFile}.1`, 'utf8'), rotatedLines, 'nothing more goes to the rotated file');

    rmdirSync(auditFile);
    coffer.kill('SIGHUP');
    await eventually('requests to work again after the next SIGHUP', async () => {
      const res = await api(server, 'GET', 'secret/data/app', { token });
      return res.status === 200 ? res : undefined;
    });
    assert.ok(readFileSync(auditFile, 'utf8').trim().split('\n').length >= 1, 'the new file receives lines');

    coffer.kill('SIGTERM');
    const { code, signal } = await exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, output.stderr);
  });
});

describe('coffer server as a process: SIGTERM with a database call that does not end', { skip: cliServerAvailable ? false : 'bin/coffer.js is not next to this build' }, () => {
  it('exits soon after shutdown_grace_period, not when the call returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coffer-sigterm-'));
    const db = await createScratchDatabase();
    const token = `sigterm-root-${process.pid}`;
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ shutdown_grace_period: '2s' }));
    const started = await startCliServer(['--dev', '--listen', '127.0.0.1:0', '--data', join(dir, 'data'), '--dev-root-token', token, '--config', configFile]);
    try {
      const server = { url: started.url };
      assert.equal((await api(server, 'POST', 'sys/mounts/database', { token, body: { type: 'database' } })).status, 204);
      assert.equal((await api(server, 'POST', 'database/config/pg', {
        token, body: { plugin_name: 'postgresql-database-plugin', connection_url: db.templateUrl, username: 'postgres', password: 'unused-by-trust-auth', allowed_roles: ['slow'] },
      })).status, 204);
      assert.equal((await api(server, 'POST', 'database/roles/slow', {
        token, body: { db_name: 'pg', creation_statements: ['SELECT pg_sleep(60); CREATE ROLE "{{name}}" LOGIN PASSWORD \'{{password}}\';'], default_ttl: '1h' },
      })).status, 204);
      const slow = api(server, 'GET', 'database/creds/slow', { token }).catch(() => undefined);
      await pause(500);
      const signalled = Date.now();
      started.process.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), 30_000); });
      const exit = await Promise.race([started.exited, giveUp]);
      clearTimeout(timer);
      assert.ok(exit !== undefined, 'the process exited while the database call was still sleeping');
      assert.ok(Date.now() - signalled < 20_000);
      await slow;
    } finally {
      if (started.process.exitCode === null && started.process.signalCode === null) started.process.kill('SIGKILL');
      await db.cleanup(['v-%-slow-%']);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
