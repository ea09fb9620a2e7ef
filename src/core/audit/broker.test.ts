import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { createManualClock, type ManualClock } from '../clock.js';
import { CofferError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { createMemoryStorage } from '../storage/memory.js';
import type { Storage } from '../storage/storage.js';
import { scope } from '../storage/view.js';
import { createAuditBroker, FAILURE_LOG_INTERVAL_MS, NO_AUDIT_BACKEND_MESSAGE, type AuditBroker } from './broker.js';
import { AuditDeviceError, type AuditDeviceFactory } from './device.js';
import type { AuditEvent } from './entry.js';
import { createFileDevice } from './file-device.js';
import { verifyAuditFile } from './verify.js';

/** Resolves in the next event-loop turn, where the file device reads its file's state again. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshPath = (): string => path.join(root, `audit-${++counter}.log`);

const TOKEN = 'hvs.CANARYtokenQQQQQQQQQQQQ';
const ACCESSOR = 'CANARYaccessorWWWWWWWWWWW';
const SECRET = 'CANARY-password-zzz';
const ISSUED = 'hvs.CANARYissuedEEEEEEEEEEE';
const CANARIES = [TOKEN, ACCESSOR, SECRET, ISSUED];

function event(n = 1): AuditEvent {
  return {
    time: Date.UTC(2026, 0, 1),
    auth: { clientToken: TOKEN, accessor: ACCESSOR, policies: ['default'] },
    request: {
      id: `req-${n}`,
      operation: 'update',
      path: 'secret/data/db',
      remoteAddress: '10.0.0.1',
      clientToken: TOKEN,
      clientTokenAccessor: ACCESSOR,
      data: { data: { password: SECRET, nested: [{ again: SECRET }], port: 5432, enabled: true } },
    },
    response: { statusCode: 200, data: { password: SECRET, version: 1 }, auth: { client_token: ISSUED, accessor: ACCESSOR } },
  };
}

interface Harness {
  broker: AuditBroker;
  storage: Storage;
  clock: ManualClock;
  logs: string[];
  logger: Logger;
}

function harness(options: { storage?: Storage; factories?: Record<string, AuditDeviceFactory> } = {}): Harness {
  const storage = options.storage ?? scope(createMemoryStorage(), 'audit/');
  const clock = createManualClock();
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const broker = createAuditBroker({ storage, clock, logger, ...(options.factories ? { factories: options.factories } : {}) });
  return { broker, storage, clock, logs, logger };
}

async function loaded(options?: Parameters<typeof harness>[0]): Promise<Harness> {
  const h = harness(options);
  await h.broker.load();
  return h;
}

const failingFactory: AuditDeviceFactory = () => ({
  type: 'failing',
  sink: `failing:${++counter}`,
  log: () => {
    throw new AuditDeviceError('ENOSPC', 'write failed');
  },
  reopen: () => {},
  close: () => {},
});

const withFailing = { file: (o: Readonly<Record<string, string>>) => createFileDevice(o), failing: failingFactory };

const isAuditFailed = (err: unknown): boolean =>
  err instanceof CofferError && err.code === 'audit_failed' && err.message === NO_AUDIT_BACKEND_MESSAGE;

const lines = (file: string): Record<string, unknown>[] =>
  fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('enables a file device at a normalised path and lists it keyed like sys/audit', async () => {
  const { broker } = await loaded();
  assert.equal(broker.enabled, false);
  const file = freshPath();
  await broker.enable('/file', { type: 'file', description: 'main log', options: { file_path: file } });
  assert.equal(broker.enabled, true);
  assert.deepEqual(broker.list(), {
    'file/': { type: 'file', description: 'main log', options: { file_path: file }, path: 'file/', local: false },
  });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test('refuses an unknown type, a path in use, an overlapping path and a bad path', async () => {
  const { broker } = await loaded();
  const badRequest = (pattern: RegExp) => (err: unknown) => err instanceof CofferError && err.code === 'bad_request' && pattern.test(err.message);
  await assert.rejects(broker.enable('x', { type: 'syslog' }), badRequest(/unknown audit device type "syslog"/));
  await broker.enable('file', { type: 'file', options: { file_path: freshPath() } });
  await assert.rejects(broker.enable('file/', { type: 'file', options: { file_path: freshPath() } }), badRequest(/^path already in use$/));
  await assert.rejects(broker.enable('file/sub', { type: 'file', options: { file_path: freshPath() } }), badRequest(/^path already in use$/));
  await assert.rejects(broker.enable('a/../b', { type: 'file', options: { file_path: freshPath() } }), badRequest(/audit device path/));
  await assert.rejects(broker.enable('rel', { type: 'file', options: { file_path: 'relative.log' } }), badRequest(/absolute/));
  assert.deepEqual(Object.keys(broker.list()), ['file/']);
});

test('refuses a second device writing to the same file', async () => {
  const { broker } = await loaded();
  const file = freshPath();
  await broker.enable('one', { type: 'file', options: { file_path: file } });
  await assert.rejects(
    broker.enable('two', { type: 'file', options: { file_path: file } }),
    (err: unknown) => err instanceof CofferError && err.code === 'bad_request' && /"one\/" already writes/.test(err.message),
  );
  assert.deepEqual(Object.keys(broker.list()), ['one/']);
});

test('a discard device logs nothing anywhere, yet keeps requests audited, answers hash, and refuses verify with a reason', async () => {
  const { broker } = await loaded();
  await broker.enable('discard', { type: 'file', options: { file_path: 'discard' } });
  // Discarding devices share no destination, so a second one is not "the same file".
  await broker.enable('discard-too', { type: 'file', options: { file_path: 'discard' } });
  assert.equal(broker.enabled, true);
  broker.logRequest(event(1));
  broker.logResponse(event(1));
  assert.match(broker.hash('discard/', SECRET), /^hmac-sha256:[0-9a-f]{64}$/);
  assert.notEqual(broker.hash('discard/', SECRET), broker.hash('discard-too/', SECRET), 'each device has its own key');
  const noFile = (err: unknown): boolean =>
    err instanceof CofferError && err.code === 'bad_request' && /^audit device "discard\/" discards its entries \(file_path=discard\): there is no file to verify$/.test(err.message);
  await assert.rejects(broker.verify('discard'), noFile);
  await assert.rejects(broker.verify('discard', path.join(root, 'discard.1')), noFile);
  // SIGHUP: nothing to reopen, and logging goes on.
  await broker.reopen();
  broker.logRequest(event(2));
  await broker.close();
});

test('verify of a stdout device says it writes to stdout', async () => {
  const { broker } = await loaded({ factories: { file: (o) => createFileDevice(o, { writeSync: (_fd, _buffer, _offset, length) => length }) } });
  await broker.enable('out', { type: 'file', options: { file_path: 'stdout' } });
  await assert.rejects(
    broker.verify('out'),
    (err: unknown) => err instanceof CofferError && err.code === 'bad_request' && /^audit device "out\/" writes to stdout: there is no file to verify$/.test(err.message),
  );
});

test('serialises concurrent enables of one path so only one wins', async () => {
  const { broker } = await loaded();
  const results = await Promise.allSettled([
    broker.enable('file', { type: 'file', options: { file_path: freshPath() } }),
    broker.enable('file', { type: 'file', options: { file_path: freshPath() } }),
  ]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
});

test('never writes a canary token, accessor or secret to the file, only their HMACs', async () => {
  const { broker } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event());
  broker.logResponse(event());
  const bytes = fs.readFileSync(file);
  for (const canary of CANARIES) assert.equal(bytes.indexOf(canary), -1, `found ${canary.slice(0, 8)}… in the audit file`);
  const [request, response] = lines(file) as [Record<string, any>, Record<string, any>];
  assert.equal(request['type'], 'request');
  assert.equal(response['type'], 'response');
  assert.equal(request['request']['client_token'], broker.hash('file', TOKEN));
  assert.equal(request['auth']['accessor'], broker.hash('file/', ACCESSOR));
  assert.equal(request['request']['data']['data']['password'], broker.hash('file/', SECRET));
  assert.equal(response['response']['auth']['client_token'], broker.hash('file/', ISSUED));
  // Numbers a client sent are hashed like its strings (their JSON text); booleans pass through.
  assert.equal(request['request']['data']['data']['port'], broker.hash('file/', '5432'));
  assert.equal(request['request']['data']['data']['enabled'], true);
  assert.equal(response['response']['data']['version'], 1);
});

test('gives each device its own key, so the same value hashes differently per device', async () => {
  const { broker } = await loaded();
  const a = freshPath();
  const b = freshPath();
  await broker.enable('a', { type: 'file', options: { file_path: a } });
  await broker.enable('b', { type: 'file', options: { file_path: b } });
  broker.logRequest(event());
  const tokenIn = (file: string): string => (lines(file)[0] as Record<string, any>)['request']['client_token'] as string;
  assert.notEqual(tokenIn(a), tokenIn(b));
  assert.equal(tokenIn(a), broker.hash('a/', TOKEN));
  assert.equal(tokenIn(b), broker.hash('b/', TOKEN));
  assert.notEqual(broker.hash('a/', 'x'), broker.hash('b/', 'x'));
});

test('hash refuses a path with no device', async () => {
  const { broker } = await loaded();
  assert.throws(() => broker.hash('nothing/', 'x'), (err: unknown) => err instanceof CofferError && err.code === 'bad_request');
});

test('fails closed when the only device cannot write', async () => {
  const { broker } = await loaded({ factories: withFailing });
  await broker.enable('broken', { type: 'failing' });
  assert.throws(() => broker.logRequest(event()), isAuditFailed);
  assert.throws(() => broker.logResponse(event()), isAuditFailed);
});

test('fails closed when the only file device lost its file', async () => {
  const { broker } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event());
  fs.unlinkSync(file);
  await nextTurn();
  assert.throws(() => broker.logRequest(event(2)), isAuditFailed);
  await broker.reopen();
  broker.logRequest(event(3));
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 1 });
});

test('succeeds when one of two devices fails, and logs the failing device by path only', async () => {
  const { broker, logs } = await loaded({ factories: withFailing });
  const file = freshPath();
  await broker.enable('broken', { type: 'failing' });
  await broker.enable('good', { type: 'file', options: { file_path: file } });
  broker.logRequest(event());
  broker.logResponse(event());
  assert.equal(lines(file).length, 2);
  const failures = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['level'] === 'error');
  assert.equal(failures.length, 1);
  assert.equal(failures[0]?.['path'], 'broken/');
  assert.equal(failures[0]?.['code'], 'ENOSPC');
  const text = logs.join('\n');
  for (const canary of CANARIES) assert.ok(!text.includes(canary));
  assert.ok(!text.includes('hmac-sha256:'));
});

test('logs a failing device once, then at most once per interval with a count, then its recovery', async () => {
  let fail = true;
  const flaky: AuditDeviceFactory = () => ({
    type: 'flaky',
    sink: 'flaky',
    log: () => {
      if (fail) throw new AuditDeviceError('EIO', 'io');
    },
    reopen: () => {},
    close: () => {},
  });
  const { broker, logs, clock } = await loaded({ factories: { flaky, file: (o) => createFileDevice(o) } });
  await broker.enable('flaky', { type: 'flaky' });
  await broker.enable('file', { type: 'file', options: { file_path: freshPath() } });
  const messages = (): string[] => logs.map((l) => (JSON.parse(l) as { message: string }).message).filter((m) => !m.includes('enabled'));
  broker.logRequest(event());
  broker.logRequest(event());
  broker.logRequest(event());
  assert.deepEqual(messages(), ['audit device failed to log an entry']);
  clock.advance(FAILURE_LOG_INTERVAL_MS);
  broker.logRequest(event());
  assert.deepEqual(messages(), ['audit device failed to log an entry', 'audit device is still failing']);
  assert.equal((JSON.parse(logs.at(-1) as string) as { failures: number }).failures, 3);
  fail = false;
  broker.logRequest(event());
  assert.equal(messages().at(-1), 'audit device recovered');
});

test('disables a device, forgets its key, and re-enabling the path gets a new key', async () => {
  const { broker } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  const before = broker.hash('file/', TOKEN);
  await broker.disable('file');
  assert.equal(broker.enabled, false);
  assert.deepEqual(broker.list(), {});
  broker.logRequest(event());
  assert.equal(fs.readFileSync(file, 'utf8'), '');
  assert.throws(() => broker.hash('file/', TOKEN));
  await broker.disable('never-enabled');
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  assert.notEqual(broker.hash('file/', TOKEN), before);
});

test('after a restart, loads the devices, keeps their keys and continues the chain', async () => {
  const storage = scope(createMemoryStorage(), 'audit/');
  const first = await loaded({ storage });
  const file = freshPath();
  await first.broker.enable('file', { type: 'file', description: 'd', options: { file_path: file, mode: '0640' } });
  first.broker.logRequest(event(1));
  first.broker.logResponse(event(1));
  const hashBefore = first.broker.hash('file/', TOKEN);
  await first.broker.close();
  assert.throws(() => first.broker.logRequest(event(2)), (err: unknown) => err instanceof CofferError && err.code === 'sealed', 'closed by a seal: refused as sealed');

  const second = harness({ storage });
  assert.throws(() => second.broker.logRequest(event(2)), isAuditFailed);
  await second.broker.load();
  assert.deepEqual(second.broker.list(), {
    'file/': { type: 'file', description: 'd', options: { file_path: file, mode: '0640' }, path: 'file/', local: false },
  });
  assert.equal(second.broker.hash('file/', TOKEN), hashBefore);
  second.broker.logRequest(event(2));
  const all = lines(file) as Record<string, any>[];
  assert.deepEqual(all.map((l) => l['chain']['seq']), [1, 2, 3]);
  assert.equal(all[2]?.['request']['client_token'], hashBefore);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 3 });
});

test('stores the device table with a 32-byte key inside its storage view', async () => {
  const { broker, storage } = await loaded();
  await broker.enable('file', { type: 'file', options: { file_path: freshPath() } });
  assert.deepEqual(await storage.list(''), ['table']);
  const table = JSON.parse(((await storage.get('table')) as Buffer).toString('utf8')) as { devices: { hmacKey: string }[] };
  assert.equal(Buffer.from(table.devices[0]?.hmacKey ?? '', 'base64').length, 32);
});

test('keeps a device that failed to open at load, fails closed, and recovers on reopen', async () => {
  const storage = scope(createMemoryStorage(), 'audit/');
  const dir = fs.mkdtempSync(path.join(root, 'dir-'));
  const file = path.join(dir, 'audit.log');
  const first = await loaded({ storage });
  await first.broker.enable('file', { type: 'file', options: { file_path: file } });
  await first.broker.close();
  fs.rmSync(dir, { recursive: true });

  const second = await loaded({ storage });
  assert.equal(second.broker.enabled, true);
  assert.throws(() => second.broker.logRequest(event()), isAuditFailed);
  assert.ok(second.logs.some((l) => l.includes('audit device failed to open') && l.includes('"path":"file/"')));
  fs.mkdirSync(dir);
  await second.broker.reopen();
  second.broker.logRequest(event());
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 1 });
});

test('closes the new device when the table cannot be stored', async () => {
  const memory = createMemoryStorage();
  const storage: Storage = { ...memory, put: async () => { throw new Error('disk gone'); } };
  let closed = 0;
  const tracked: AuditDeviceFactory = () => ({ type: 'tracked', sink: 'tracked', log: () => {}, reopen: () => {}, close: () => { closed += 1; } });
  const { broker } = await loaded({ storage, factories: { tracked } });
  await assert.rejects(broker.enable('t', { type: 'tracked' }), /disk gone/);
  assert.equal(closed, 1);
  assert.equal(broker.enabled, false);
});

test('does not log anything while no device is enabled', async () => {
  const { broker } = await loaded();
  broker.logRequest(event());
  broker.logResponse(event());
  assert.equal(broker.enabled, false);
});

test('verify checks the device file with its MACs, accepts rotated copies next to it and refuses other files', async () => {
  const { broker } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event(1));
  broker.logResponse(event(1));
  // No position recorded yet (the first is taken within a minute, at SIGHUP or at a clean stop).
  assert.deepEqual(await broker.verify('file'), { file_path: file, ok: true, lines: 2, earlierKeyLines: 0, macCheckedLines: 2, recordedEndChecked: false });

  // A rotated copy whose middle line was edited and whose chain was rebuilt fails on its MAC.
  const [one, two] = fs.readFileSync(file, 'utf8').trim().split('\n') as [string, string];
  const edited = JSON.parse(one);
  edited.time = '2020-01-01T00:00:00.000000000Z';
  const chainOne = edited.chain;
  delete edited.chain;
  const forgedOne = JSON.stringify({ ...edited, chain: chainOne });
  const secondEntry = JSON.parse(two);
  const chainTwo = secondEntry.chain;
  delete secondEntry.chain;
  const prev = createHash('sha256').update(forgedOne).digest('hex');
  fs.writeFileSync(`${file}.1`, `${forgedOne}\n${JSON.stringify({ ...secondEntry, chain: { ...chainTwo, prev } })}\n`);
  assert.equal((await verifyAuditFile(`${file}.1`)).ok, true);
  const rotated = await broker.verify('file/', `${file}.1`);
  assert.equal(rotated.ok, false);
  assert.equal(rotated.error?.line, 1);

  const refused = (err: unknown): boolean => err instanceof CofferError && err.code === 'bad_request';
  for (const other of ['/etc/passwd', `${file}/../${path.basename(file)}.1`, `${path.dirname(file)}/other.log.1`, 'relative.log.1']) {
    await assert.rejects(broker.verify('file/', other), refused, other);
  }
  fs.symlinkSync('/etc/passwd', `${file}.2`);
  await assert.rejects(broker.verify('file/', `${file}.2`), refused);
  await assert.rejects(broker.verify('file/', `${file}.3`), refused);
  await assert.rejects(broker.verify('nope/'), refused);

  // Renamed away without SIGHUP: the path no longer names the file being written.
  fs.renameSync(file, `${file}.4`);
  await assert.rejects(broker.verify('file/'), (err: unknown) => refused(err) && /rotated without SIGHUP/.test((err as Error).message));
  assert.equal((await broker.verify('file/', `${file}.4`)).ok, true);
});

test('verify fails a live file with a line appended by another writer, and explains lines under an earlier key', async () => {
  const { broker } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event(1));
  const [line] = fs.readFileSync(file, 'utf8').trim().split('\n') as [string];
  const forged = JSON.parse(line);
  forged.chain = { ...forged.chain, seq: 2, prev: createHash('sha256').update(line).digest('hex') };
  fs.appendFileSync(file, `${JSON.stringify(forged)}\n`);
  const appended = await broker.verify('file/');
  assert.equal(appended.ok, false);
  assert.deepEqual(appended.error, { line: 2, reason: `${Buffer.byteLength(JSON.stringify(forged)) + 1} bytes follow the last line this device wrote: appended by another writer` });

  // Disabled and enabled again on the same (clean) file: a new key continues the old lines.
  const clean = freshPath();
  await broker.enable('second', { type: 'file', options: { file_path: clean } });
  broker.logRequest(event(2));
  await broker.disable('second');
  await broker.enable('second', { type: 'file', options: { file_path: clean } });
  broker.logRequest(event(3));
  const strict = await broker.verify('second/');
  assert.equal(strict.ok, false);
  assert.match(strict.error?.reason ?? '', /a device enabled earlier at this path/);
  const allowed = await broker.verify('second/', undefined, { allowEarlierKeys: true });
  assert.equal(allowed.ok, true);
  assert.equal(allowed.earlierKeyLines, 1);
  assert.equal(allowed.macCheckedLines, 1);
});

test('a file cut while the server was down is refused at the next start, and its copy fails verification', async () => {
  const storage = scope(createMemoryStorage(), 'audit/');
  const first = await loaded({ storage });
  const file = freshPath();
  await first.broker.enable('file', { type: 'file', options: { file_path: file } });
  for (let i = 1; i <= 3; i += 1) first.broker.logRequest(event(i));
  await first.broker.close(); // a clean stop records where the file ends (line 3)

  // Someone cuts the last two lines while Coffer is down.
  const kept = fs.readFileSync(file, 'utf8').split('\n')[0] as string;
  fs.writeFileSync(file, `${kept}\n`);
  const second = await loaded({ storage });
  assert.throws(() => second.broker.logRequest(event(4)), isAuditFailed, 'fails closed instead of continuing over the gap');
  assert.ok(second.logs.some((l) => l.includes('audit device failed to open') && l.includes('lines were cut off')));
  // SIGHUP does not continue it either.
  await second.broker.reopen();
  assert.throws(() => second.broker.logRequest(event(4)), isAuditFailed);

  // Moved aside, a new file starts; the cut copy fails verification with the recorded line count.
  fs.renameSync(file, `${file}.cut`);
  await second.broker.reopen();
  second.broker.logRequest(event(5));
  const copy = await second.broker.verify('file/', `${file}.cut`);
  assert.equal(copy.ok, false);
  assert.deepEqual(copy.error, { line: 2, reason: 'the file ends at line 1, but Coffer recorded 3 lines in it: lines were cut off its end' });
  assert.equal((await second.broker.verify('file/')).ok, true);
  await second.broker.close();
});

test('SIGHUP refuses to continue the same file once it no longer ends where the device stopped', async () => {
  const { broker, logs } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  for (let i = 1; i <= 3; i += 1) broker.logRequest(event(i));
  const kept = fs.readFileSync(file, 'utf8').split('\n')[0] as string;
  fs.writeFileSync(file, `${kept}\n`); // same inode, two lines gone
  await nextTurn();
  assert.throws(() => broker.logRequest(event(4)), isAuditFailed);
  await broker.reopen();
  assert.ok(logs.some((l) => l.includes('audit device failed to reopen') && l.includes('no longer ends with the last line this device wrote')));
  assert.throws(() => broker.logRequest(event(5)), isAuditFailed, 'still failing: the gap is not papered over');
  await broker.close();
});

test('SIGHUP after logrotate copytruncate (the same file emptied) starts a new chain, with a warning', async () => {
  const { broker, logs } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event(1));
  broker.logRequest(event(2));
  fs.copyFileSync(file, `${file}.1`);
  fs.truncateSync(file, 0);
  await broker.reopen();
  broker.logRequest(event(3));
  assert.ok(logs.some((l) => l.includes('audit file was emptied by another writer')));
  assert.deepEqual(lines(file).map((l) => (l['chain'] as { seq: number }).seq), [1]);
  assert.equal((await broker.verify('file/')).ok, true);
  assert.equal((await broker.verify('file/', `${file}.1`)).ok, true);
  await broker.close();
});

test('where an emptied file ended is recorded at once, so a copy of it cut short fails verification', async () => {
  const { broker } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  for (let i = 1; i <= 3; i += 1) broker.logRequest(event(i));
  // Another writer keeps only the first line in its "rotated" copy and empties the live file.
  const kept = fs.readFileSync(file, 'utf8').split('\n')[0] as string;
  fs.writeFileSync(`${file}.1`, `${kept}\n`);
  fs.truncateSync(file, 0);
  // No SIGHUP (which records every end): the device finds its file emptied at its next line.
  await nextTurn();
  broker.logRequest(event(4));
  await nextTurn();
  const copy = await broker.verify('file/', `${file}.1`);
  assert.equal(copy.ok, false);
  assert.deepEqual(copy.error, { line: 2, reason: 'the file ends at line 1, but Coffer recorded 3 lines in it: lines were cut off its end' });
  assert.equal((await broker.verify('file/')).ok, true);
  await broker.close();
});

test('a cut copy written back under the name (a new inode) is recognised by its first line and refused', async () => {
  const storage = scope(createMemoryStorage(), 'audit/');
  const first = await loaded({ storage });
  const file = freshPath();
  await first.broker.enable('file', { type: 'file', options: { file_path: file } });
  for (let i = 1; i <= 3; i += 1) first.broker.logRequest(event(i));
  // While running: cut to one line and renamed over the file, then SIGHUP.
  const kept = fs.readFileSync(file, 'utf8').split('\n')[0] as string;
  fs.writeFileSync(`${file}.tmp`, `${kept}\n`);
  fs.renameSync(`${file}.tmp`, file);
  await first.broker.reopen();
  assert.throws(() => first.broker.logRequest(event(4)), isAuditFailed);
  assert.ok(first.logs.some((l) => l.includes('audit device failed to reopen') && l.includes('no longer ends with the last line')));
  await first.broker.close();
  // And at the next start.
  const second = await loaded({ storage });
  assert.throws(() => second.broker.logRequest(event(5)), isAuditFailed);
  assert.ok(second.logs.some((l) => l.includes('lines were cut off')));
  // A new file (another first line) is fine, whatever inode number it gets.
  fs.rmSync(file);
  await second.broker.reopen();
  second.broker.logRequest(event(6));
  assert.equal((await second.broker.verify('file/')).ok, true);
  await second.broker.close();
});

test('a position that could not be stored is stored at the next chance', async () => {
  const storage = scope(createMemoryStorage(), 'audit/');
  let failPuts = 0;
  const flaky: Storage = { ...storage, put: async (key, value) => { if (failPuts > 0) { failPuts -= 1; throw new Error('disk full'); } return storage.put(key, value); }, batch: async (ops) => { if (failPuts > 0) { failPuts -= 1; throw new Error('disk full'); } return storage.batch(ops); } };
  const first = await loaded({ storage: flaky });
  const file = freshPath();
  await first.broker.enable('file', { type: 'file', options: { file_path: file } });
  for (let i = 1; i <= 3; i += 1) first.broker.logRequest(event(i));
  failPuts = 1;
  await first.broker.reopen(); // its recording fails
  assert.ok(first.logs.some((l) => l.includes('could not record the positions')));
  await first.broker.close(); // records it
  const kept = fs.readFileSync(file, 'utf8').split('\n')[0] as string;
  fs.writeFileSync(file, `${kept}\n`);
  const second = await loaded({ storage });
  assert.throws(() => second.broker.logRequest(event(4)), isAuditFailed);
  await second.broker.close();
});

test('a cut file with one forged line claiming a later seq is still refused: its last line lacks the device MAC', async () => {
  const storage = scope(createMemoryStorage(), 'audit/');
  const first = await loaded({ storage });
  const file = freshPath();
  await first.broker.enable('file', { type: 'file', options: { file_path: file } });
  for (let i = 1; i <= 5; i += 1) first.broker.logRequest(event(i));
  await first.broker.close();
  const kept = lines(file).slice(0, 2).map((l) => JSON.stringify(l));
  fs.writeFileSync(file, `${kept.join('\n')}\n${JSON.stringify({ type: 'request', chain: { seq: 9, prev: '0'.repeat(64) } })}\n`);
  const second = await loaded({ storage });
  assert.throws(() => second.broker.logRequest(event(6)), isAuditFailed);
  assert.ok(second.logs.some((l) => l.includes("does not carry this device's MAC")));
  // Nor can a second device be enabled on the refused device's file.
  await assert.rejects(second.broker.enable('other', { type: 'file', options: { file_path: file } }), /already writes to this destination/);
  await second.broker.close();
});

test('verify says whether it checked a recorded end (positions are kept for the current file and the last 8 rotated ones)', async () => {
  const { broker } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event(1));
  fs.renameSync(file, `${file}.1`);
  await broker.reopen(); // records where file.1 ends
  broker.logRequest(event(2));
  assert.equal((await broker.verify('file/', `${file}.1`)).recordedEndChecked, true);
  await broker.close();
});

test('an enable refused because another device writes the file never touches that file (its mode stays)', async () => {
  const { broker } = await loaded();
  const file = freshPath();
  await broker.enable('file', { type: 'file', options: { file_path: file } });
  broker.logRequest(event(1));
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const alias = file.replace(/\/([^/]+)$/, '//./$1');
  await assert.rejects(broker.enable('other', { type: 'file', options: { file_path: alias, mode: '0644' } }), /already writes to this destination/);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'the refused enable did not chmod the live file');
  fs.linkSync(file, `${file}.hardlink`);
  await assert.rejects(broker.enable('linked', { type: 'file', options: { file_path: `${file}.hardlink`, mode: '0644' } }), /already writes to this destination/);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  broker.logRequest(event(2));
  assert.equal((await broker.verify('file/')).ok, true);
  await broker.close();
});

test('a request that finishes after a seal closed the devices is refused as sealed (503), never passed unaudited; before the first load it is an audit failure', async () => {
  const fresh = harness();
  assert.throws(() => fresh.broker.logResponse(event()), isAuditFailed, 'never loaded: nothing may pass');
  const h = await loaded();
  await h.broker.enable('file', { type: 'file', options: { file_path: freshPath() } });
  await h.broker.close();
  assert.throws(() => h.broker.logResponse(event()), (err: unknown) => err instanceof CofferError && err.code === 'sealed' && err.message === 'Vault is sealed');
  assert.ok(h.logs.some((l) => l.includes('after a seal closed the audit devices')));
  await h.broker.load();
  h.broker.logResponse(event());
});
