import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { fdReader, readLastLine, type ReadAt } from './tail.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const bufferReader = (content: string | Buffer): ReadAt => {
  const bytes = Buffer.from(content);
  return (position, length) => Buffer.from(bytes.subarray(position, position + length));
};
const lastOf = (content: string, chunk?: number, max?: number) => readLastLine(bufferReader(content), Buffer.byteLength(content), chunk, max);

test('finds the last line when it spans many chunks', () => {
  const long = 'x'.repeat(1000);
  assert.deepEqual(lastOf(`first\nsecond\n${long}\n`, 7), { kind: 'line', line: Buffer.from(long) });
});

test('finds the only line of a one-line file and ignores earlier lines', () => {
  assert.deepEqual(lastOf('only\n', 2), { kind: 'line', line: Buffer.from('only') });
  assert.deepEqual(lastOf('a\nb\n', 1), { kind: 'line', line: Buffer.from('b') });
  assert.deepEqual(lastOf('a\n\n', 1), { kind: 'line', line: Buffer.alloc(0) });
});

test('reports an empty file, a missing final newline and an over-long line', () => {
  assert.deepEqual(lastOf(''), { kind: 'empty' });
  assert.deepEqual(lastOf('a\nb'), { kind: 'unterminated' });
  assert.deepEqual(lastOf(`${'y'.repeat(100)}\n`, 8, 50), { kind: 'too_long' });
});

test('reads only the tail of a large file, not the whole file', () => {
  const content = Buffer.concat([Buffer.alloc(4 * 1024 * 1024, 'z'), Buffer.from('\nlast\n')]);
  const inner = bufferReader(content);
  let bytesRead = 0;
  const counting: ReadAt = (position, length) => {
    bytesRead += length;
    return inner(position, length);
  };
  assert.deepEqual(readLastLine(counting, content.length, 1024), { kind: 'line', line: Buffer.from('last') });
  assert.ok(bytesRead <= 1024 + 1, `read ${bytesRead} bytes`);
});

test('reads through a real file descriptor', () => {
  const file = path.join(root, 'real.log');
  fs.writeFileSync(file, 'one\ntwo\n');
  const fd = fs.openSync(file, 'r');
  try {
    assert.deepEqual(readLastLine(fdReader(fd), fs.fstatSync(fd).size, 3), { kind: 'line', line: Buffer.from('two') });
  } finally {
    fs.closeSync(fd);
  }
});
