/** Unit tests of ~/.coffer-token: its mode, atomic replacement and an absent file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTokenFile, tokenFilePath, writeTokenFile } from './token-file.js';

test('stores the token with mode 0600, replacing a looser existing file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
  try {
    const file = tokenFilePath({ HOME: dir });
    assert.equal(file, path.join(dir, '.coffer-token'));
    fs.writeFileSync(file, 'old', { mode: 0o644 });
    writeTokenFile(file, 'hvs.newtoken');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(readTokenFile(file), 'hvs.newtoken');
    assert.deepEqual(fs.readdirSync(dir), ['.coffer-token'], 'no temp file is left behind');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing or blank token file means no token', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-'));
  try {
    const file = path.join(dir, '.coffer-token');
    assert.equal(readTokenFile(file), undefined);
    fs.writeFileSync(file, '  \n');
    assert.equal(readTokenFile(file), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
