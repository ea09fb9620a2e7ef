import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createReloader, reload, ReloadError } from './reload.js';

const dir = mkdtempSync(join(tmpdir(), 'coffer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('runs the command without the agent\'s credentials in its environment and reports its exit code', async () => {
  const out = join(dir, 'env.txt');
  const outcome = await reload(
    { kind: 'command', argv: ['sh', '-c', `echo "t=$COFFER_TOKEN v=$VAULT_TOKEN k=$KEEP" > ${out}; exit 3`], timeoutMs: 5000 },
    { PATH: process.env.PATH, COFFER_TOKEN: 'agent-token-123', VAULT_TOKEN: 'agent-token-456', KEEP: 'yes' },
  );
  assert.deepEqual(outcome, { kind: 'command', exitCode: 3, signal: null, timedOut: false });
  assert.equal(readFileSync(out, 'utf8'), 't= v= k=yes\n');
});

test('stops a command that outlives its timeout', async () => {
  const outcome = await reload({ kind: 'command', argv: ['sleep', '30'], timeoutMs: 200 }, { PATH: process.env.PATH });
  assert.equal(outcome.kind, 'command');
  assert.equal(outcome.kind === 'command' && outcome.timedOut, true);
  assert.equal(outcome.kind === 'command' && outcome.signal, 'SIGTERM');
});

test('a command that cannot start is a ReloadError naming it', async () => {
  await assert.rejects(reload({ kind: 'command', argv: ['/nonexistent/reloader'], timeoutMs: 1000 }), (err: Error) => err instanceof ReloadError && /cannot run \/nonexistent\/reloader: ENOENT/.test(err.message));
});

test('sends the signal to the process named in the pid file', async () => {
  const marker = join(dir, 'got-hup');
  const child = spawn(process.execPath, ['-e', `process.on('SIGHUP', () => { require('fs').writeFileSync(${JSON.stringify(marker)}, 'hup'); process.exit(0); }); setInterval(() => {}, 1000); process.send && 0; console.log('up');`], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const pidFile = join(dir, 'app.pid');
  writeFileSync(pidFile, `${child.pid}\n`);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  assert.deepEqual(await reload({ kind: 'signal', pidFile, signal: 'SIGHUP' }), { kind: 'signal', pid: child.pid, signal: 'SIGHUP' });
  await exited;
  assert.equal(existsSync(marker), true);
});

test('refuses a missing or meaningless pid file', async () => {
  await assert.rejects(reload({ kind: 'signal', pidFile: join(dir, 'none.pid'), signal: 'SIGHUP' }), /cannot read the pid file .*none\.pid: ENOENT/);
  for (const content of ['', 'abc', '0', '-1', '1']) {
    const pidFile = join(dir, 'bad.pid');
    writeFileSync(pidFile, content);
    await assert.rejects(reload({ kind: 'signal', pidFile, signal: 'SIGHUP' }), /does not hold a process id/, JSON.stringify(content));
  }
});

test('a reloader never runs two reloads of a template at once, and runs once more for changes made meanwhile', async () => {
  const log = join(dir, 'serial.log');
  const outcomes: number[] = [];
  let settle!: () => void;
  const done = new Promise<void>((resolve) => { settle = resolve; });
  const reloader = createReloader(
    { kind: 'command', argv: ['sh', '-c', `echo start >> ${log}; sleep 0.2; echo end >> ${log}`], timeoutMs: 5000 },
    {
      env: { PATH: process.env.PATH },
      onOutcome: (o) => {
        outcomes.push(o.kind === 'command' ? (o.exitCode ?? -1) : -2);
        if (outcomes.length === 2) settle();
      },
      onError: (err) => assert.fail(String(err)),
    },
  );
  reloader.trigger();
  reloader.trigger();
  reloader.trigger();
  await done;
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(outcomes, [0, 0], 'three triggers during one run: one more run, not two');
  assert.equal(readFileSync(log, 'utf8'), 'start\nend\nstart\nend\n');
  reloader.stop();
  reloader.trigger();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(outcomes.length, 2, 'nothing runs after stop()');
});
