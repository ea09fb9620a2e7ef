/**
 * SIGHUP after a log rotation, when the file cannot be opened again: the device must not go on
 * writing to the rotated file it still holds. It is closed and counts as failing (alone, it
 * fails closed), and a later SIGHUP, once the path is fixed, opens it again. Real files and real
 * path changes that stop root too (a path that is now a directory, a parent that is now a file).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { createManualClock } from '../clock.js';
import { CofferError } from '../errors.js';
import { createLogger } from '../logger.js';
import { createMemoryStorage } from '../storage/memory.js';
import { scope } from '../storage/view.js';
import { createAuditBroker, NO_AUDIT_BACKEND_MESSAGE, type AuditBroker } from './broker.js';
import type { AuditEvent } from './entry.js';
import { createAuditFilePolicy, type AuditFilePolicy } from './file-path-policy.js';
import { verifyAuditFile } from './verify.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-reopen-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const freshDir = (name: string): string => fs.mkdtempSync(path.join(root, `${name}-`));

const TOKEN = 'hvs.CANARYreopenTokenQQQQQQQ';
const SECRET = 'CANARY-reopen-password-zzz';

const event = (n: number): AuditEvent => ({
  time: Date.UTC(2026, 0, 1),
  auth: { clientToken: TOKEN, accessor: 'CANARYreopenAccessorWWW', policies: ['default'] },
  request: { id: `req-${n}`, operation: 'update', path: 'secret/data/db', remoteAddress: '10.0.0.1', clientToken: TOKEN, data: { data: { password: SECRET } } },
});

interface Made {
  broker: AuditBroker;
  logs: string[];
}

async function loaded(filePolicy?: AuditFilePolicy): Promise<Made> {
  const logs: string[] = [];
  const broker = createAuditBroker({
    storage: scope(createMemoryStorage(), 'audit/'),
    clock: createManualClock(),
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    ...(filePolicy ? { filePolicy } : {}),
  });
  await broker.load();
  return { broker, logs };
}

const isAuditFailed = (err: unknown): boolean => err instanceof CofferError && err.code === 'audit_failed' && err.message === NO_AUDIT_BACKEND_MESSAGE;
const lineCount = (file: string): number => fs.readFileSync(file, 'utf8').trim().split('\n').length;
const entries = (logs: readonly string[]): Record<string, unknown>[] => logs.map((l) => JSON.parse(l) as Record<string, unknown>);
const reopenFailures = (logs: readonly string[]): Record<string, unknown>[] =>
  entries(logs).filter((l) => String(l['message']).startsWith('audit device failed to reopen'));

test('a SIGHUP that finds the path turned into a directory closes the device: requests are refused, the rotated file gets nothing more, and a later SIGHUP recovers', async () => {
  const { broker, logs } = await loaded();
  const file = path.join(freshDir('logs'), 'audit.log');
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event(1));
  broker.logResponse(event(1));

  // The rotation: the file is moved away, and something that cannot be a file takes its name.
  fs.renameSync(file, `${file}.1`);
  fs.mkdirSync(file);
  await broker.reopen();
  assert.throws(() => broker.logRequest(event(2)), isAuditFailed, 'its only device cannot write: fail closed');
  assert.throws(() => broker.logResponse(event(2)), isAuditFailed);
  assert.equal(lineCount(`${file}.1`), 2, 'nothing more goes to the rotated file');

  const [failure, ...more] = reopenFailures(logs);
  assert.equal(more.length, 0);
  assert.equal(failure?.['level'], 'error');
  assert.equal(failure?.['path'], 'file/');
  assert.match(String(failure?.['error']), /exists and is not a regular file/);
  const text = logs.join('\n');
  assert.ok(!text.includes(TOKEN) && !text.includes(SECRET), 'no secret in the log');
  assert.ok(!text.includes('hmac-sha256:'), 'no entry in the log');

  // The operator fixes the path and sends SIGHUP again.
  fs.rmdirSync(file);
  await broker.reopen();
  broker.logRequest(event(3));
  assert.equal(lineCount(file), 1);
  assert.equal(lineCount(`${file}.1`), 2);
  assert.ok(entries(logs).some((l) => l['message'] === 'audit device recovered' && l['path'] === 'file/'));
  assert.equal((await broker.verify('file/')).ok, true);
  assert.equal((await broker.verify('file/', `${file}.1`)).ok, true);
  await broker.close();
});

test('a SIGHUP after the directory was replaced by a file closes the device, until the directory is back', async () => {
  const { broker, logs } = await loaded();
  const dir = freshDir('logs');
  const file = path.join(dir, 'audit.log');
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event(1));

  fs.renameSync(dir, `${dir}.old`);
  fs.writeFileSync(dir, 'not a directory\n');
  await broker.reopen();
  assert.throws(() => broker.logRequest(event(2)), isAuditFailed);
  assert.equal(lineCount(path.join(`${dir}.old`, 'audit.log')), 1, 'the file held open is not written to');
  assert.equal(reopenFailures(logs).length, 1);

  // Still broken at the next SIGHUP: still closed, and said again.
  await broker.reopen();
  assert.throws(() => broker.logRequest(event(3)), isAuditFailed);
  assert.equal(reopenFailures(logs).length, 2);

  fs.rmSync(dir);
  fs.mkdirSync(dir);
  await broker.reopen();
  broker.logRequest(event(4));
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 1 });
  await broker.close();
});

test('a device that cannot reopen is closed while another device keeps requests audited', async () => {
  const { broker } = await loaded();
  const broken = path.join(freshDir('broken'), 'audit.log');
  const good = path.join(freshDir('good'), 'audit.log');
  await broker.enable('broken', { type: 'file', options: { file_path: broken } });
  await broker.enable('good', { type: 'file', options: { file_path: good } });
  broker.logRequest(event(1));

  fs.renameSync(broken, `${broken}.1`);
  fs.mkdirSync(broken);
  await broker.reopen();
  broker.logRequest(event(2));
  broker.logResponse(event(2));
  assert.equal(lineCount(good), 3);
  assert.equal(lineCount(`${broken}.1`), 1, 'the closed device writes nowhere');
  await broker.close();
});

test('the file policy still decides at the SIGHUP that recovers a device whose reopen failed', async () => {
  const dataDir = freshDir('data');
  const logsDir = freshDir('logs');
  const link = path.join(root, `link-${path.basename(logsDir)}`);
  fs.symlinkSync(logsDir, link);
  const file = path.join(link, 'audit.log');
  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [logsDir] });
  const { broker, logs } = await loaded(policy);
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event(1));

  // The policy allows the path, but no file can be opened there.
  fs.renameSync(path.join(logsDir, 'audit.log'), path.join(logsDir, 'audit.log.1'));
  fs.mkdirSync(path.join(logsDir, 'audit.log'));
  await broker.reopen();
  assert.throws(() => broker.logRequest(event(2)), isAuditFailed);
  assert.equal(reopenFailures(logs).length, 1);

  // "Fixed" by pointing the directory into the data directory: refused, not opened there.
  fs.rmSync(link);
  fs.symlinkSync(dataDir, link);
  await broker.reopen();
  assert.throws(() => broker.logRequest(event(3)), isAuditFailed);
  assert.equal(fs.existsSync(path.join(dataDir, 'audit.log')), false);
  assert.ok(entries(logs).some((l) => String(l['message']).startsWith('audit device not opened: the audit file policy refuses')));

  fs.rmSync(link);
  fs.symlinkSync(logsDir, link);
  fs.rmdirSync(path.join(logsDir, 'audit.log'));
  await broker.reopen();
  broker.logRequest(event(4));
  assert.deepEqual(await verifyAuditFile(path.join(logsDir, 'audit.log')), { ok: true, lines: 1 });
  assert.equal(lineCount(path.join(logsDir, 'audit.log.1')), 1);
  await broker.close();
});
