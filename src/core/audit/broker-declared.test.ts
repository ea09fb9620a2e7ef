/**
 * The broker with devices declared in the config file and a file policy: what a load does with
 * the table it finds, and what the API may no longer do.
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

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-declared-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshPath = (dir = root): string => path.join(dir, `audit-${++counter}.log`);

const event = (n: number): AuditEvent => ({
  time: Date.UTC(2026, 0, 1),
  request: { id: `req-${n}`, operation: 'read', path: 'secret/data/x', remoteAddress: '10.0.0.1', data: null },
});

interface Made {
  broker: AuditBroker;
  logs: string[];
}

function make(storage: Storage, declared: unknown[] = [], filePolicy?: AuditFilePolicy): Made {
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const broker = createAuditBroker({ storage, clock: createManualClock(), logger, declared: parseDeclaredAuditDevices(declared), ...(filePolicy ? { filePolicy } : {}) });
  return { broker, logs };
}

const fileDevice = (devicePath: string, filePath: string) => ({ path: devicePath, type: 'file', options: { file_path: filePath } });
const freshStorage = (): Storage => scope(createMemoryStorage(), 'audit/');
const lineCount = (file: string): number => fs.readFileSync(file, 'utf8').trim().split('\n').length;
const isAuditFailed = (err: unknown): boolean => err instanceof CofferError && err.code === 'audit_failed';

test('enables the declared devices at load, and keeps them with the same key at every later load and restart', async () => {
  const storage = freshStorage();
  const file = freshPath();
  const declared = [fileDevice('file', file)];
  const first = make(storage, declared);
  await first.broker.load();
  assert.deepEqual(Object.keys(first.broker.list()), ['file/']);
  const hmac = first.broker.hash('file', 'input');
  first.broker.logRequest(event(1));
  // Seal and unseal: the same broker loads again.
  await first.broker.close();
  await first.broker.load();
  assert.deepEqual(Object.keys(first.broker.list()), ['file/']);
  first.broker.logRequest(event(2));
  await first.broker.close();
  // Restart: a new broker over the same table.
  const second = make(storage, declared);
  await second.broker.load();
  assert.deepEqual(Object.keys(second.broker.list()), ['file/']);
  assert.equal(second.broker.hash('file', 'input'), hmac, 'the same device, not a new one');
  second.broker.logRequest(event(3));
  await second.broker.close();
  assert.equal(lineCount(file), 3);
  const verified = await verifyAuditFile(file);
  assert.equal(verified.ok, true, JSON.stringify(verified));
  assert.equal(second.logs.filter((l) => l.includes('audit device enabled')).length, 0, 'nothing enabled a second time');
});

test('refuses to disable a declared device through the API, and disables one that is not declared', async () => {
  const { broker } = make(freshStorage(), [fileDevice('declared', freshPath())]);
  await broker.load();
  await broker.enable('api', { type: 'file', options: { file_path: freshPath() } });
  await assert.rejects(
    broker.disable('declared/'),
    (err: unknown) => err instanceof CofferError && err.code === 'bad_request' && /"declared\/" is declared in the server config file; remove it from the "audit" list there and restart/.test(err.message),
  );
  await broker.disable('api');
  assert.deepEqual(Object.keys(broker.list()), ['declared/']);
  await broker.close();
});

test('a device enabled through the API at a declared path with other options fails the load, leaving the table as it was', async () => {
  const storage = freshStorage();
  const apiFile = freshPath();
  const before = make(storage);
  await before.broker.load();
  await before.broker.enable('file', { type: 'file', options: { file_path: apiFile } });
  await before.broker.close();

  const declaredFile = freshPath();
  const conflicting = make(storage, [fileDevice('file', declaredFile)]);
  await assert.rejects(conflicting.broker.load(), (err: unknown) => err instanceof CofferError && err.code === 'internal' && /differs from the device enabled at that path through the API/.test(err.message));
  assert.deepEqual(conflicting.broker.list(), {}, 'no device left open');
  assert.throws(() => conflicting.broker.logRequest(event(1)), isAuditFailed, 'fails closed');
  assert.equal(fs.existsSync(declaredFile), false);
  assert.ok(conflicting.logs.some((l) => l.includes('conflict with the device table')));

  const after = make(storage);
  await after.broker.load();
  assert.deepEqual(after.broker.list()['file/']?.options, { file_path: apiFile });
  await after.broker.close();
});

test('an API device declared as it is becomes the config one: kept with its key, then no longer disabled through the API', async () => {
  const storage = freshStorage();
  const file = freshPath();
  const before = make(storage);
  await before.broker.load();
  await before.broker.enable('file', { type: 'file', options: { file_path: file } });
  const hmac = before.broker.hash('file', 'input');
  await before.broker.close();

  const adopted = make(storage, [{ ...fileDevice('file', file), description: 'now declared' }]);
  await adopted.broker.load();
  assert.equal(adopted.broker.hash('file', 'input'), hmac);
  assert.equal(adopted.broker.list()['file/']?.description, 'now declared');
  await assert.rejects(adopted.broker.disable('file'), (err: unknown) => err instanceof CofferError && err.code === 'bad_request');
  await adopted.broker.close();
});

test('a declared device whose settings changed in the config file is replaced, and one no longer declared stays until disabled', async () => {
  const storage = freshStorage();
  const oldFile = freshPath();
  const first = make(storage, [fileDevice('file', oldFile)]);
  await first.broker.load();
  const oldHmac = first.broker.hash('file', 'input');
  await first.broker.close();

  const newFile = freshPath();
  const moved = make(storage, [fileDevice('file', newFile)]);
  await moved.broker.load();
  assert.deepEqual(moved.broker.list()['file/']?.options, { file_path: newFile });
  assert.notEqual(moved.broker.hash('file', 'input'), oldHmac, 'a new device, with a new key');
  moved.broker.logRequest(event(1));
  assert.equal(lineCount(newFile), 1);
  assert.ok(moved.logs.some((l) => l.includes('audit device replaced')));
  await moved.broker.close();

  const undeclared = make(storage, []);
  await undeclared.broker.load();
  assert.deepEqual(Object.keys(undeclared.broker.list()), ['file/'], 'removing it from the config file does not stop auditing');
  await undeclared.broker.disable('file');
  assert.deepEqual(undeclared.broker.list(), {});
  await undeclared.broker.close();
});

test('a declared device that cannot be enabled fails the load with a generic message, the reason in the log', async () => {
  const missingDir = path.join(root, 'no-such-dir', 'audit.log');
  const { broker, logs } = make(freshStorage(), [fileDevice('file', missingDir)]);
  await assert.rejects(broker.load(), (err: unknown) => err instanceof CofferError && err.code === 'internal' && err.message === 'the audit device "file/" declared in the config file could not be enabled; see the server log');
  assert.ok(logs.some((l) => l.includes('could not be enabled') && l.includes('does not exist')));
  assert.throws(() => broker.logRequest(event(1)), isAuditFailed);
});

test('holds an API device to audit_file_dirs and the data directory rule, a declared one to the data directory rule only', async () => {
  const dataDir = fs.mkdtempSync(path.join(root, 'data-'));
  const allowed = fs.mkdtempSync(path.join(root, 'allowed-'));
  const outside = fs.mkdtempSync(path.join(root, 'outside-'));
  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [allowed] });
  const declaredFile = freshPath(outside);
  const { broker } = make(freshStorage(), [fileDevice('declared', declaredFile)], policy);
  await broker.load();
  assert.ok(fs.existsSync(declaredFile), 'declared outside audit_file_dirs: enabled');

  const refused = (pattern: RegExp) => (err: unknown) => err instanceof CofferError && err.code === 'bad_request' && pattern.test(err.message);
  const outsideFile = freshPath(outside);
  await assert.rejects(broker.enable('out', { type: 'file', options: { file_path: outsideFile } }), refused(/outside the directories allowed/));
  const dataFile = path.join(dataDir, 'coffer.db-journal');
  await assert.rejects(broker.enable('data', { type: 'file', options: { file_path: dataFile } }), refused(/inside the server's data directory/));
  assert.equal(fs.existsSync(outsideFile), false, 'a refused file is never created');
  assert.equal(fs.existsSync(dataFile), false, 'a refused file is never created');
  await broker.enable('in', { type: 'file', options: { file_path: freshPath(allowed) } });
  assert.deepEqual(Object.keys(broker.list()), ['declared/', 'in/']);
  await broker.close();

  const inData = make(freshStorage(), [fileDevice('declared', path.join(dataDir, 'audit.log'))], policy);
  await assert.rejects(inData.broker.load(), (err: unknown) => err instanceof CofferError && err.code === 'internal');
  assert.ok(inData.logs.some((l) => l.includes("inside the server's data directory")));
  assert.equal(fs.existsSync(path.join(dataDir, 'audit.log')), false);
});
