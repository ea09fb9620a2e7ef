import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCofferError } from '../../core/errors.js';
import { MAX_SECRET_PATH_BYTES, validateSecretPath } from './secret-path.js';

/** The rule spelled out segment by segment: what validateSecretPath must answer. */
function expected(path: string): string {
  if (path === '') return 'missing path';
  if (Buffer.byteLength(path, 'utf8') > MAX_SECRET_PATH_BYTES) return 'too long';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'control';
  for (const segment of path.split('/')) {
    if (segment === '') return 'empty';
    if (segment === '.' || segment === '..') return 'relative';
  }
  return path;
}

function actual(path: string): string {
  try {
    return validateSecretPath(path);
  } catch (error) {
    assert.ok(isCofferError(error));
    const message = (error as Error).message;
    if (message === 'missing path') return message;
    if (/longer than/.test(message)) return 'too long';
    if (/control/.test(message)) return 'control';
    if (/empty/.test(message)) return 'empty';
    if (/relative/.test(message)) return 'relative';
    return `unexpected: ${message}`;
  }
}

describe('validateSecretPath', () => {
  it('answers as the segment-by-segment rule for every short path over the characters that matter', () => {
    let checked = 0;
    const walk = (path: string): void => {
      assert.equal(actual(path), expected(path), JSON.stringify(path));
      checked += 1;
      if (path.length < 5) for (const c of ['a', '/', '.', '\u0001']) walk(path + c);
    };
    walk('');
    assert.equal(checked, 1365);
  });

  it('counts the limit in UTF-8 bytes, not characters', () => {
    assert.equal(actual('a'.repeat(MAX_SECRET_PATH_BYTES)), 'a'.repeat(MAX_SECRET_PATH_BYTES));
    assert.equal(actual('a'.repeat(MAX_SECRET_PATH_BYTES + 1)), 'too long');
    // 342 three-byte characters are 1026 bytes in 342 UTF-16 code units.
    assert.equal(actual('€'.repeat(342)), 'too long');
    assert.equal(actual('€'.repeat(341)), '€'.repeat(341));
    // Four-byte characters (two UTF-16 units each) count four bytes.
    assert.equal(actual('😀'.repeat(257)), 'too long');
    assert.equal(actual('😀'.repeat(256)), '😀'.repeat(256));
  });
});
