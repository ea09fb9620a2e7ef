import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { CofferError } from '../errors.js';
import { GENESIS_PREV } from './chain.js';
import { runAuditDeviceConformance, sampleEntry } from './device-conformance.js';
import { AuditDeviceError } from './device.js';
import { createFileDevice, MAX_ENTRY_LINE_BYTES, type WriteFn } from './file-device.js';
import { TRUNCATED_MARKER } from './hmac.js';
import { verifyAuditFile } from './verify.js';

/** Resolves in the next event-loop turn, where the file device reads its file's state again. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshPath = (): string => path.join(root, `audit-${++counter}.log`);
const readLines = (file: string): string[] => {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
};
const sha256 = (text: string): string => createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');

function isBadRequest(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof CofferError, `expected CofferError, got ${String(err)}`);
    assert.equal(err.code, 'bad_request');
    assert.match(err.message, pattern);
    return true;
  };
}

runAuditDeviceConformance('file device', () => {
  const file = freshPath();
  const device = createFileDevice({ file_path: file });
  return { device, read: () => readLines(file), cleanup: () => device.close() };
});

runAuditDeviceConformance('file device with file_path=discard', () => {
  const device = createFileDevice({ file_path: 'discard' });
  return { device, cleanup: () => device.close() };
});

test('creates the audit file with mode 0600 whatever the umask', () => {
  const file = freshPath();
  const previous = process.umask(0);
  try {
    createFileDevice({ file_path: file }).close();
  } finally {
    process.umask(previous);
  }
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test('applies the mode option and tightens an existing file to it', () => {
  const loose = freshPath();
  fs.writeFileSync(loose, '', { mode: 0o644 });
  fs.chmodSync(loose, 0o644);
  createFileDevice({ file_path: loose }).close();
  assert.equal(fs.statSync(loose).mode & 0o777, 0o600);

  const shared = freshPath();
  createFileDevice({ file_path: shared, mode: '0640' }).close();
  assert.equal(fs.statSync(shared).mode & 0o777, 0o640);
});

test('chains lines: seq counts from 1 and prev is the SHA-256 of the previous line', () => {
  const file = freshPath();
  const device = createFileDevice({ file_path: file });
  device.log(sampleEntry(1));
  device.log(sampleEntry(2));
  device.log(sampleEntry(3));
  device.close();
  const lines = readLines(file);
  const links = lines.map((l) => (JSON.parse(l) as { chain: { seq: number; prev: string } }).chain);
  assert.deepEqual(links, [
    { seq: 1, prev: GENESIS_PREV },
    { seq: 2, prev: sha256(lines[0] as string) },
    { seq: 3, prev: sha256(lines[1] as string) },
  ]);
});

test('continues the chain of an existing file when reopened after a restart', async () => {
  const file = freshPath();
  const first = createFileDevice({ file_path: file });
  first.log(sampleEntry(1));
  first.log(sampleEntry(2));
  first.close();
  const second = createFileDevice({ file_path: file });
  second.log(sampleEntry(3));
  second.close();
  const lines = readLines(file);
  const last = JSON.parse(lines[2] as string) as { chain: { seq: number; prev: string } };
  assert.deepEqual(last.chain, { seq: 3, prev: sha256(lines[1] as string) });
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 3 });
});

test('refuses a relative file_path', () => {
  assert.throws(() => createFileDevice({ file_path: 'audit.log' }), isBadRequest(/absolute path, "stdout" or "discard"/));
  assert.throws(() => createFileDevice({ file_path: './x/../audit.log' }), isBadRequest(/absolute/));
});

test('refuses a symlink, even one pointing at a regular file', () => {
  const target = freshPath();
  fs.writeFileSync(target, '');
  const link = path.join(root, `link-${++counter}.log`);
  fs.symlinkSync(target, link);
  assert.throws(() => createFileDevice({ file_path: link }), isBadRequest(/symbolic link/));
  assert.equal(fs.readFileSync(target, 'utf8'), '');
});

test('refuses a directory, a FIFO and a character device', () => {
  const dir = fs.mkdtempSync(path.join(root, 'dir-'));
  assert.throws(() => createFileDevice({ file_path: dir }), isBadRequest(/not a regular file/));
  const fifo = path.join(root, `fifo-${++counter}`);
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => createFileDevice({ file_path: fifo }), isBadRequest(/not a regular file/));
  assert.throws(() => createFileDevice({ file_path: '/dev/full' }), isBadRequest(/not a regular file/));
});

test('refuses an existing file with any execute bit set and leaves it unchanged', () => {
  for (const mode of [0o700, 0o610, 0o601]) {
    const file = freshPath();
    fs.writeFileSync(file, '');
    fs.chmodSync(file, mode);
    assert.throws(() => createFileDevice({ file_path: file }), isBadRequest(/executable/));
    assert.equal(fs.statSync(file).mode & 0o777, mode);
    assert.equal(fs.statSync(file).size, 0);
  }
});

test('refuses modes that are executable, group- or world-writable, or not octal', () => {
  const file = freshPath();
  assert.throws(() => createFileDevice({ file_path: file, mode: '0755' }), isBadRequest(/execute/));
  assert.throws(() => createFileDevice({ file_path: file, mode: '0620' }), isBadRequest(/group or others/));
  assert.throws(() => createFileDevice({ file_path: file, mode: '0400' }), isBadRequest(/owner write/));
  assert.throws(() => createFileDevice({ file_path: file, mode: 'rw' }), isBadRequest(/octal/));
  assert.throws(() => createFileDevice({ file_path: file, mode: '04600' }), isBadRequest(/octal/));
  assert.equal(fs.existsSync(file), false);
});

test('refuses unknown options, a missing file_path and a missing directory', () => {
  assert.throws(() => createFileDevice({ file_path: freshPath(), log_raw: 'true' }), isBadRequest(/unsupported option "log_raw"/));
  assert.throws(() => createFileDevice({}), isBadRequest(/file_path is required/));
  assert.throws(() => createFileDevice({ file_path: path.join(root, 'missing', 'a.log') }), isBadRequest(/directory .* does not exist/));
});

test('refuses to append to an existing file that is not its own chain', () => {
  const foreign = freshPath();
  fs.writeFileSync(foreign, 'export PATH=/usr/bin\n');
  assert.throws(() => createFileDevice({ file_path: foreign }), isBadRequest(/not a Coffer audit log/));
  assert.equal(fs.readFileSync(foreign, 'utf8'), 'export PATH=/usr/bin\n');

  // No newline at all, or a foreign line before the unterminated tail: not ours, left as is.
  const unterminated = freshPath();
  fs.writeFileSync(unterminated, 'export PATH=/usr/bin\nexport X=1');
  assert.throws(() => createFileDevice({ file_path: unterminated }), isBadRequest(/does not end with a complete line and is not a Coffer audit log/));
  assert.equal(fs.readFileSync(unterminated, 'utf8'), 'export PATH=/usr/bin\nexport X=1');
  const oneLine = freshPath();
  fs.writeFileSync(oneLine, 'no newline at all');
  assert.throws(() => createFileDevice({ file_path: oneLine }), isBadRequest(/does not end with a complete line/));
  assert.equal(fs.readFileSync(oneLine, 'utf8'), 'no newline at all');
});

test('cuts off a torn last line after its own chain (a crash mid-write) and continues the chain', async () => {
  const torn = freshPath();
  const first = createFileDevice({ file_path: torn });
  first.log(sampleEntry(1));
  first.log(sampleEntry(2));
  first.close();
  const complete = fs.readFileSync(torn);
  fs.appendFileSync(torn, '{"type":"req');
  const cut: number[] = [];
  const device = createFileDevice({ file_path: torn }, { onTornTail: (bytes) => cut.push(bytes) });
  assert.deepEqual(cut, ['{"type":"req'.length]);
  assert.deepEqual(fs.readFileSync(torn).subarray(0, complete.length), complete);
  device.log(sampleEntry(3));
  device.close();
  assert.equal(readLines(torn).length, 3);
  assert.deepEqual(await verifyAuditFile(torn), { ok: true, lines: 3 });
});

test('a file holding only a torn first line (a crash during the first write) is emptied and the chain starts', async () => {
  const file = freshPath();
  fs.writeFileSync(file, '{"type":"request","time":"2026-');
  const cut: number[] = [];
  const device = createFileDevice({ file_path: file }, { onTornTail: (bytes) => cut.push(bytes) });
  assert.deepEqual(cut, [31]);
  device.log(sampleEntry(1));
  device.close();
  assert.equal(readLines(file).length, 1);
  assert.ok(readLines(file)[0]?.startsWith('{"type":"'), 'entries start as the torn-line check expects');
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 1 });
  // A complete JSON value without a newline is someone else's file: refused and untouched.
  const other = freshPath();
  fs.writeFileSync(other, '{"type":"config","a":1}');
  assert.throws(() => createFileDevice({ file_path: other }), isBadRequest(/does not end with a complete line/));
  assert.equal(fs.readFileSync(other, 'utf8'), '{"type":"config","a":1}');
});

test('fails the write when the file was removed, and reopen starts a new file', async () => {
  const file = freshPath();
  const device = createFileDevice({ file_path: file });
  device.log(sampleEntry(1));
  fs.unlinkSync(file);
  await nextTurn();
  assert.throws(() => device.log(sampleEntry(2)), (err: unknown) => err instanceof AuditDeviceError && err.code === 'file_removed');
  device.reopen();
  device.log(sampleEntry(3));
  device.close();
  assert.equal(readLines(file).length, 1);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 1 });
});

test('starts a new chain at once when the file is emptied in place (copytruncate), without waiting for a reopen', async () => {
  const file = freshPath();
  const emptied: number[] = [];
  const device = createFileDevice({ file_path: file }, { onEmptied: (previous) => emptied.push(previous.seq) });
  device.log(sampleEntry(1));
  device.log(sampleEntry(2));
  fs.copyFileSync(file, `${file}.1`);
  fs.truncateSync(file, 0);
  await nextTurn();
  device.log(sampleEntry(3));
  device.close();
  assert.deepEqual(emptied, [2], 'the emptying is reported');
  assert.equal(readLines(file).length, 1);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 1 });
  assert.deepEqual(await verifyAuditFile(`${file}.1`), { ok: true, lines: 2 });
});

test('fails the write when another writer changed the file', async () => {
  const file = freshPath();
  const device = createFileDevice({ file_path: file });
  device.log(sampleEntry(1));
  fs.appendFileSync(file, 'forged\n');
  await nextTurn();
  assert.throws(() => device.log(sampleEntry(2)), (err: unknown) => err instanceof AuditDeviceError && err.code === 'file_changed');
  device.close();
});

test('reads the file\'s state once per event-loop turn: a change made during a turn is refused from the next one', async () => {
  const file = freshPath();
  const device = createFileDevice({ file_path: file });
  device.log(sampleEntry(1));
  fs.unlinkSync(file);
  // The same turn: the check already ran, as for every other line of a busy turn.
  device.log(sampleEntry(2));
  await nextTurn();
  assert.throws(() => device.log(sampleEntry(3)), (err: unknown) => err instanceof AuditDeviceError && err.code === 'file_removed');
  assert.throws(() => device.log(sampleEntry(4)), (err: unknown) => err instanceof AuditDeviceError && err.code === 'file_removed', 'refused again, not only once');
  device.close();
});

test('surfaces a write error at once and cuts off the partial line so the chain stays valid', async () => {
  const file = freshPath();
  let failNext = false;
  const writer: WriteFn = (fd, buffer, offset, length) => {
    if (failNext) {
      failNext = false;
      fs.writeSync(fd, buffer, offset, Math.floor(length / 2));
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    }
    return fs.writeSync(fd, buffer, offset, length);
  };
  const device = createFileDevice({ file_path: file }, { writeSync: writer });
  device.log(sampleEntry(1));
  failNext = true;
  assert.throws(() => device.log(sampleEntry(2)), (err: unknown) => err instanceof AuditDeviceError && err.code === 'ENOSPC');
  device.log(sampleEntry(3));
  device.close();
  const ids = readLines(file).map((l) => (JSON.parse(l) as { request: { id: string } }).request.id);
  assert.deepEqual(ids, ['req-1', 'req-3']);
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 2 });
});

test('writes chained lines to stdout through fd 1 and waits out EAGAIN', () => {
  const written: string[] = [];
  let eagain = 2;
  const writer: WriteFn = (fd, buffer, offset, length) => {
    assert.equal(fd, 1);
    if (eagain > 0) {
      eagain -= 1;
      throw Object.assign(new Error('try again'), { code: 'EAGAIN' });
    }
    written.push(buffer.subarray(offset, offset + length).toString('utf8'));
    return length;
  };
  const device = createFileDevice({ file_path: 'stdout' }, { writeSync: writer });
  device.log(sampleEntry(1));
  device.log(sampleEntry(2));
  device.close();
  assert.equal(device.sink, 'stdout');
  const lines = written.join('').split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 2);
  assert.deepEqual((JSON.parse(lines[1] as string) as { chain: unknown }).chain, { seq: 2, prev: sha256(lines[0] as string) });
});

test('discard formats and chains every entry but writes nothing, not even a file named discard in the working directory', () => {
  const cwd = process.cwd();
  const work = fs.mkdtempSync(path.join(root, 'cwd-'));
  let writes = 0;
  const writer: WriteFn = () => {
    writes += 1;
    return 0;
  };
  process.chdir(work);
  try {
    const device = createFileDevice({ file_path: 'discard' }, { writeSync: writer, chainKey: Buffer.alloc(32, 7) });
    device.log(sampleEntry(1));
    device.reopen();
    device.log(sampleEntry(2));
    // Formatted as for a file: an entry that cannot be serialised fails the write, so the broker fails closed.
    const unserialisable = sampleEntry(3);
    unserialisable.request = { ...unserialisable.request, data: { n: 10n } };
    assert.throws(() => device.log(unserialisable), TypeError);
    device.close();
    assert.match(device.sink, /^discard:/);
    assert.equal(device.verifiable, undefined, 'there is no file to verify');
    assert.equal(device.position, undefined, 'there is no file position to record');
  } finally {
    process.chdir(cwd);
  }
  assert.equal(writes, 0);
  assert.deepEqual(fs.readdirSync(work), []);
});

test('two discard devices name different sinks: they share no destination', () => {
  const one = createFileDevice({ file_path: 'discard' });
  const two = createFileDevice({ file_path: 'discard' });
  assert.notEqual(one.sink, two.sink);
  one.close();
  two.close();
});

test('bounds a line: an entry whose redacted data is too large is logged with the data replaced by a marker', async () => {
  const file = path.join(root, 'huge.log');
  const device = createFileDevice({ file_path: file }, { chainKey: Buffer.alloc(32, 3) });
  const huge = sampleEntry(1);
  // What a few MB of empty strings become once each is an HMAC.
  huge.request = { ...huge.request, data: { k: Array.from({ length: 250_000 }, () => `hmac-sha256:${'a'.repeat(64)}`) } };
  device.log(huge);
  device.log(sampleEntry(2));
  device.close();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
  assert.ok((lines[0] as string).length < MAX_ENTRY_LINE_BYTES);
  const first = JSON.parse(lines[0] as string);
  assert.equal(first.request.data, TRUNCATED_MARKER);
  assert.equal(first.request.path, huge.request['path']);
  assert.equal((await verifyAuditFile(file)).ok, true);
});

test('bounds a line whose token metadata (logged in clear) is too large, in the request and the response', () => {
  const file = path.join(root, 'huge-meta.log');
  const device = createFileDevice({ file_path: file });
  const big = { k: 'v'.repeat(MAX_ENTRY_LINE_BYTES) };
  const entry = sampleEntry(1);
  entry.auth = { ...entry.auth, metadata: big };
  entry.response = { status_code: 200, auth: { client_token: 'hmac-sha256:x', metadata: big } };
  device.log(entry);
  device.close();
  const line = JSON.parse(fs.readFileSync(file, 'utf8').trim());
  assert.equal(line.auth.metadata, TRUNCATED_MARKER);
  assert.equal(line.response.auth.metadata, TRUNCATED_MARKER);
  assert.equal(line.response.auth.client_token, 'hmac-sha256:x');
});
