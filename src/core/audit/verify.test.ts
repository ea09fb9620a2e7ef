import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { sampleEntry } from './device-conformance.js';
import { createFileDevice } from './file-device.js';
import { verifyAuditFile } from './verify.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** A clean five-line chained file, returned as its lines (without newlines). */
function chainedLines(count = 5): string[] {
  const file = path.join(root, `src-${++counter}.log`);
  const device = createFileDevice({ file_path: file });
  for (let i = 1; i <= count; i += 1) device.log(sampleEntry(i));
  device.close();
  return fs.readFileSync(file, 'utf8').replace(/\n$/, '').split('\n');
}

function writeLines(lines: readonly string[], trailer = '\n'): string {
  const file = path.join(root, `v-${++counter}.log`);
  fs.writeFileSync(file, lines.length === 0 ? '' : lines.join('\n') + trailer);
  return file;
}

async function failure(lines: readonly string[], trailer?: string): Promise<{ line: number; reason: string }> {
  const result = await verifyAuditFile(writeLines(lines, trailer));
  assert.equal(result.ok, false);
  assert.ok(result.error !== undefined);
  assert.equal(result.lines, result.error.line - 1);
  return result.error;
}

test('passes a clean chained file and counts its lines', async () => {
  assert.deepEqual(await verifyAuditFile(writeLines(chainedLines())), { ok: true, lines: 5 });
});

test('passes an empty file', async () => {
  assert.deepEqual(await verifyAuditFile(writeLines([])), { ok: true, lines: 0 });
});

test('detects an edited line at the line that vouches for it', async () => {
  const lines = chainedLines();
  lines[2] = (lines[2] as string).replace('secret/data/3', 'secret/data/X');
  const error = await failure(lines);
  assert.equal(error.line, 4);
  assert.match(error.reason, /hash of line 3/);
});

test('detects a removed middle line', async () => {
  const lines = chainedLines();
  lines.splice(2, 1);
  const error = await failure(lines);
  assert.equal(error.line, 3);
  assert.match(error.reason, /seq is 4, expected 3/);
});

test('detects a removed first line', async () => {
  const lines = chainedLines();
  lines.shift();
  const error = await failure(lines);
  assert.equal(error.line, 1);
  assert.match(error.reason, /seq is 2, expected 1/);
});

test('detects reordered lines', async () => {
  const lines = chainedLines();
  [lines[1], lines[2]] = [lines[2] as string, lines[1] as string];
  assert.equal((await failure(lines)).line, 2);
});

test('detects a replayed copy of a line inserted after it', async () => {
  const lines = chainedLines();
  lines.splice(2, 0, lines[1] as string);
  const error = await failure(lines);
  assert.equal(error.line, 3);
  assert.match(error.reason, /seq is 2, expected 3/);
});

test('detects an inserted line forged with a correct seq and prev', async () => {
  const lines = chainedLines();
  const prev = createHash('sha256').update(lines[1] as string).digest('hex');
  const forged = JSON.stringify({ ...sampleEntry(99), chain: { seq: 3, prev } });
  lines.splice(2, 0, forged);
  const error = await failure(lines);
  assert.equal(error.line, 4);
  assert.match(error.reason, /seq is 3, expected 4/);
});

test('detects a carriage return added to a line, which readline would have hidden', async () => {
  const lines = chainedLines();
  lines[1] = `${lines[1] as string}\r`;
  assert.equal((await failure(lines)).line, 3);
});

test('reports a line that is not JSON or has no chain, and a wrong first prev', async () => {
  const lines = chainedLines();
  assert.deepEqual(await failure([lines[0] as string, 'not json']), { line: 2, reason: 'line is not valid JSON' });
  assert.equal((await failure([lines[0] as string, '{"type":"request"}'])).reason, 'line has no valid chain field');
  const first = JSON.parse(lines[0] as string) as { chain: { prev: string } };
  first.chain.prev = 'a'.repeat(64);
  assert.match((await failure([JSON.stringify(first)])).reason, /first line is not all zeros/);
});

test('reports a last line without its newline', async () => {
  const error = await failure(chainedLines(3), '');
  assert.equal(error.line, 3);
  assert.match(error.reason, /not terminated/);
});

test('cannot detect a truncated tail offline: it reports the shorter line count', async () => {
  const lines = chainedLines();
  assert.deepEqual(await verifyAuditFile(writeLines(lines.slice(0, 3))), { ok: true, lines: 3 });
});

test('rejects when the file does not exist', async () => {
  await assert.rejects(verifyAuditFile(path.join(root, 'missing.log')), { code: 'ENOENT' });
});

// With the chain key (what sys/audit-verify does), every line's MAC is checked too.
const chainKey = Buffer.alloc(32, 7);

function macLines(count = 5): string[] {
  const file = path.join(root, `mac-${++counter}.log`);
  const device = createFileDevice({ file_path: file }, { chainKey });
  for (let i = 1; i <= count; i += 1) device.log(sampleEntry(i));
  device.close();
  return fs.readFileSync(file, 'utf8').replace(/\n$/, '').split('\n');
}

/** What someone who can write the file but not read the key can do: edit, then rebuild every prev. */
function rechained(lines: readonly string[]): string[] {
  let prev = '0'.repeat(64);
  return lines.map((line) => {
    const entry = JSON.parse(line);
    const { chain } = entry;
    delete entry.chain;
    const out = JSON.stringify({ ...entry, chain: { ...chain, prev } });
    prev = createHash('sha256').update(out).digest('hex');
    return out;
  });
}

test('with the chain key, a clean file with MACs passes, and offline verification passes it too', async () => {
  const file = writeLines(macLines());
  assert.deepEqual(await verifyAuditFile(file, { chainKey }), { ok: true, lines: 5, earlierKeyLines: 0, macCheckedLines: 5 });
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 5 });
  assert.match(macLines(1)[0] as string, /,"chain":\{"seq":1,"prev":"0{64}","kid":"[0-9a-f]{16}","mac":"[0-9a-f]{64}"\}\}$/);
});

test('with the chain key, a rewritten line with a recomputed chain fails at that line; offline it passes', async () => {
  const lines = macLines();
  lines[2] = (lines[2] as string).replace('secret/data/3', 'secret/data/X');
  const forged = writeLines(rechained(lines));
  assert.deepEqual(await verifyAuditFile(forged), { ok: true, lines: 5 });
  const result = await verifyAuditFile(forged, { chainKey });
  assert.equal(result.ok, false);
  assert.deepEqual(result.error, { line: 3, reason: 'chain.mac does not match: the line was altered or forged (its hashes may have been recomputed)' });
});

test('with the chain key, an edited last line, a forged appended line and a wrong key all fail', async () => {
  const lines = macLines(3);
  const editedLast = [...lines.slice(0, 2), (lines[2] as string).replace('secret/data/3', 'secret/data/X')];
  assert.equal((await verifyAuditFile(writeLines(editedLast))).ok, true);
  assert.equal((await verifyAuditFile(writeLines(editedLast), { chainKey })).error?.line, 3);

  const prev = createHash('sha256').update(lines[2] as string).digest('hex');
  const appended = [...lines, JSON.stringify({ ...sampleEntry(4), chain: { seq: 4, prev, mac: 'a'.repeat(64) } })];
  assert.equal((await verifyAuditFile(writeLines(appended))).ok, true);
  assert.equal((await verifyAuditFile(writeLines(appended), { chainKey })).error?.line, 4);

  assert.equal((await verifyAuditFile(writeLines(lines), { chainKey: Buffer.alloc(32, 8) })).error?.line, 1);
});

test('with the chain key, a line whose MAC or key id was removed fails', async () => {
  const lines = macLines(2);
  const stripped = rechained(lines.map((l, i) => (i === 1 ? l.replace(/,"mac":"[0-9a-f]{64}"\}\}$/, '}}') : l)));
  const result = await verifyAuditFile(writeLines(stripped), { chainKey });
  assert.equal(result.error?.line, 2);
  assert.match(result.error?.reason ?? '', /chain\.mac does not match/);
  const noKid = rechained(lines.map((l, i) => (i === 1 ? l.replace(/,"kid":"[0-9a-f]{16}","mac":"[0-9a-f]{64}"\}\}$/, '}}') : l)));
  const bare = await verifyAuditFile(writeLines(noKid), { chainKey, allowEarlierKeys: true });
  assert.equal(bare.error?.line, 2);
  assert.match(bare.error?.reason ?? '', /follows lines that are/);
  const malformed = [(lines[0] as string).replace(/"mac":"[0-9a-f]{64}"/, '"mac":"xyz"')];
  assert.equal((await verifyAuditFile(writeLines(malformed))).error?.reason, 'line has no valid chain field');
});

test('maxBytes stops at a line boundary: lines appended after it are not read', async () => {
  const lines = macLines(3);
  const file = writeLines(lines);
  const firstTwo = Buffer.byteLength(`${lines[0]}\n${lines[1]}\n`);
  fs.appendFileSync(file, 'garbage that is not a line');
  assert.deepEqual(await verifyAuditFile(file, { chainKey, maxBytes: firstTwo }), { ok: true, lines: 2, earlierKeyLines: 0, macCheckedLines: 2 });
  assert.deepEqual(await verifyAuditFile(file, { maxBytes: 0 }), { ok: true, lines: 0 });
});

test('lines under an earlier key fail unless allowed; allowed, only as the start of the file', async () => {
  // A device re-enabled at the same path: a new key continues the file written under the old one.
  const file = path.join(root, `rekeyed-${++counter}.log`);
  const before = createFileDevice({ file_path: file }, { chainKey: Buffer.alloc(32, 1) });
  before.log(sampleEntry(1));
  before.log(sampleEntry(2));
  before.close();
  const after = createFileDevice({ file_path: file }, { chainKey });
  after.log(sampleEntry(3));
  after.close();
  const strict = await verifyAuditFile(file, { chainKey });
  assert.equal(strict.error?.line, 1);
  assert.match(strict.error?.reason ?? '', /not written under this device's key \(key id [0-9a-f]{16}\)/);
  assert.deepEqual(await verifyAuditFile(file, { chainKey, allowEarlierKeys: true }), { ok: true, lines: 3, earlierKeyLines: 2, macCheckedLines: 1 });
  // Not where this device is known to have written.
  const firstLine = Buffer.byteLength(fs.readFileSync(file, 'utf8').split('\n')[0] as string) + 1;
  const claimed = await verifyAuditFile(file, { chainKey, allowEarlierKeys: true, keyRequiredFrom: firstLine });
  assert.equal(claimed.error?.line, 2);
  // Nor after a line under this key.
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const foreign = JSON.parse(lines[0] as string);
  const appended = rechained([...lines, JSON.stringify({ ...foreign, chain: { ...foreign.chain, seq: 4 } })]);
  assert.equal((await verifyAuditFile(writeLines(appended), { chainKey, allowEarlierKeys: true })).error?.line, 4);
});

test('for the server, opens without following a symbolic link or blocking on a FIFO, and can insist on one inode', async () => {
  const real = writeLines(macLines(1));
  const link = path.join(root, `link-${++counter}.log`);
  fs.symlinkSync(real, link);
  await assert.rejects(verifyAuditFile(link, { regularFileOnly: true }), { code: 'ELOOP' });
  const fifo = path.join(root, `fifo-${++counter}`);
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(verifyAuditFile(fifo, { regularFileOnly: true }), /not a regular file/);
  const st = fs.statSync(real);
  assert.equal((await verifyAuditFile(real, { regularFileOnly: true, expectFile: { dev: st.dev, ino: st.ino } })).ok, true);
  await assert.rejects(verifyAuditFile(real, { expectFile: { dev: st.dev, ino: st.ino + 1 } }), /not the file the device writes/);
  // Offline, a link and a pipe are read (zcat audit.log.2.gz | coffer audit verify /dev/stdin).
  assert.equal((await verifyAuditFile(link)).ok, true);
  const script = `import(${JSON.stringify(new URL('./verify.js', import.meta.url).href)}).then(async (m) => process.stdout.write(JSON.stringify(await m.verifyAuditFile('/dev/stdin'))))`;
  // Through the shell, so stdin is a real pipe (execFileSync's own input is a socket).
  const piped = execFileSync('sh', ['-c', 'cat "$1" | "$2" -e "$3"', 'sh', real, process.execPath, script]);
  assert.deepEqual(JSON.parse(piped.toString()), { ok: true, lines: 1 });
});
