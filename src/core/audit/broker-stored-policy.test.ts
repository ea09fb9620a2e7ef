/**
 * The file policy applied to devices already in the table: enabled through the API before the
 * policy existed (an earlier build) or before the operator set audit_file_dirs. Every load and
 * reopen asks the policy; a refused device is not opened, stays listed, and counts as failing.
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
import type { Storage } from '../storage/storage.js';
import { scope } from '../storage/view.js';
import { createAuditBroker, type AuditBroker } from './broker.js';
import { parseDeclaredAuditDevices } from './declared.js';
import type { AuditEvent } from './entry.js';
import { createAuditFilePolicy, type AuditFilePolicy } from './file-path-policy.js';
import { verifyAuditFile } from './verify.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-stored-policy-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const freshDir = (name: string): string => fs.mkdtempSync(path.join(root, `${name}-`));

const event = (n: number): AuditEvent => ({
  time: Date.UTC(2026, 0, 1),
  request: { id: `req-${n}`, operation: 'read', path: 'secret/data/x', remoteAddress: '10.0.0.1', data: null },
});

interface Made {
  broker: AuditBroker;
  logs: string[];
}

function make(storage: Storage, options: { declared?: unknown[]; filePolicy?: AuditFilePolicy } = {}): Made {
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const broker = createAuditBroker({
    storage,
    clock: createManualClock(),
    logger,
    declared: parseDeclaredAuditDevices(options.declared ?? []),
    ...(options.filePolicy ? { filePolicy: options.filePolicy } : {}),
  });
  return { broker, logs };
}

const freshStorage = (): Storage => scope(createMemoryStorage(), 'audit/');
const isAuditFailed = (err: unknown): boolean => err instanceof CofferError && err.code === 'audit_failed';
const lineCount = (file: string): number => fs.readFileSync(file, 'utf8').trim().split('\n').length;
const refusals = (logs: readonly string[]): Record<string, unknown>[] =>
  logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l['message']).startsWith('audit device not opened: the audit file policy refuses'));

/** Enables `name` at `filePath` as a build without the file policy did, and closes that broker. */
async function plantWithoutPolicy(storage: Storage, name: string, filePath: string): Promise<string> {
  const old = make(storage);
  await old.broker.load();
  await old.broker.enable(name, { type: 'file', options: { file_path: filePath } });
  old.broker.logRequest(event(0));
  await old.broker.close();
  const table = JSON.parse(((await storage.get('table')) as Buffer).toString('utf8')) as { devices: { hmacKey: string }[] };
  return table.devices[0]?.hmacKey ?? '';
}

test('a stored device writing inside the data directory is not opened at load or reopen: listed, logged, and alone it fails closed', async () => {
  const storage = freshStorage();
  const dataDir = freshDir('data');
  const rogue = path.join(dataDir, 'rogue.log');
  const hmacKey = await plantWithoutPolicy(storage, 'rogue', rogue);
  fs.rmSync(rogue);

  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [freshDir('allowed')] });
  const { broker, logs } = make(storage, { filePolicy: policy });
  await broker.load();
  assert.deepEqual(Object.keys(broker.list()), ['rogue/'], 'still listed, so it can be seen and disabled');
  assert.equal(broker.enabled, true);
  assert.throws(() => broker.logRequest(event(1)), isAuditFailed, 'no device can write: fail closed');
  assert.equal(fs.existsSync(rogue), false, 'the file is not created again');
  const [refusal, ...more] = refusals(logs);
  assert.equal(more.length, 0, 'one error at load');
  assert.equal(refusal?.['level'], 'error');
  assert.equal(refusal?.['path'], 'rogue/');
  assert.equal(refusal?.['origin'], 'api');
  assert.match(String(refusal?.['error']), new RegExp(`file_path "${rogue}" is inside the server's data directory`));
  assert.ok(!logs.some((l) => l.includes(hmacKey)), 'the key is never logged');

  await broker.reopen();
  assert.equal(fs.existsSync(rogue), false, 'SIGHUP does not open it either');
  assert.equal(refusals(logs).length, 2);
  assert.throws(() => broker.logRequest(event(2)), isAuditFailed);

  await broker.disable('rogue');
  assert.deepEqual(broker.list(), {});
  broker.logRequest(event(3));
  await broker.close();
});

test('a refused stored device beside a declared one: requests are written to the declared file only', async () => {
  const storage = freshStorage();
  const dataDir = freshDir('data');
  const rogue = path.join(dataDir, 'rogue.log');
  await plantWithoutPolicy(storage, 'rogue', rogue);
  fs.rmSync(rogue);
  const declaredFile = path.join(freshDir('logs'), 'declared.log');

  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [] });
  const { broker, logs } = make(storage, { filePolicy: policy, declared: [{ path: 'declared', type: 'file', options: { file_path: declaredFile } }] });
  await broker.load();
  assert.deepEqual(Object.keys(broker.list()), ['declared/', 'rogue/']);
  broker.logRequest(event(1));
  broker.logResponse(event(1));
  assert.equal(lineCount(declaredFile), 2);
  assert.equal(fs.existsSync(rogue), false);
  assert.equal(refusals(logs).length, 1);
  await broker.close();
});

test('a stored API device outside audit_file_dirs set since is refused, unless the config file now declares it as it is', async () => {
  const storage = freshStorage();
  const outside = freshDir('outside');
  const planted = path.join(outside, 'planted.log');
  const adopted = path.join(outside, 'adopted.log');
  await plantWithoutPolicy(storage, 'planted', planted);
  const before = make(storage);
  await before.broker.load();
  await before.broker.enable('adopted', { type: 'file', options: { file_path: adopted } });
  await before.broker.close();

  const policy = createAuditFilePolicy({ dataDir: freshDir('data'), allowedDirs: [freshDir('allowed')] });
  const { broker, logs } = make(storage, { filePolicy: policy, declared: [{ path: 'adopted', type: 'file', options: { file_path: adopted } }] });
  await broker.load();
  assert.deepEqual(Object.keys(broker.list()), ['adopted/', 'planted/']);
  const [refusal, ...more] = refusals(logs);
  assert.equal(more.length, 0, 'the declared one is held to the config rules, not audit_file_dirs');
  assert.equal(refusal?.['path'], 'planted/');
  assert.match(String(refusal?.['error']), /is outside the directories allowed for audit files \(audit_file_dirs\)/);
  const plantedLines = lineCount(planted);
  broker.logRequest(event(1));
  assert.equal(lineCount(planted), plantedLines, 'nothing more is written to the refused file');
  assert.equal(lineCount(adopted), 1);
  await broker.close();
});

test('SIGHUP closes a device whose directory now leads into the data directory, and reopens it once it no longer does', async () => {
  const storage = freshStorage();
  const dataDir = freshDir('data');
  const logs = freshDir('logs');
  const link = path.join(root, `link-${path.basename(logs)}`);
  fs.symlinkSync(logs, link);
  const file = path.join(link, 'audit.log');
  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [] });
  const { broker, logs: logged } = make(storage, { filePolicy: policy });
  await broker.load();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event(1));

  fs.rmSync(link);
  fs.symlinkSync(dataDir, link);
  await broker.reopen();
  assert.throws(() => broker.logRequest(event(2)), isAuditFailed, 'closed: its only device may not write there');
  assert.equal(fs.existsSync(path.join(dataDir, 'audit.log')), false);
  assert.equal(refusals(logged).length, 1);

  fs.rmSync(link);
  fs.symlinkSync(logs, link);
  await broker.reopen();
  broker.logRequest(event(3));
  await broker.close();
  assert.deepEqual(await verifyAuditFile(path.join(logs, 'audit.log')), { ok: true, lines: 2 });
});
