import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeDecodedPath, normalizeMountPath, normalizeRequestPath } from './path.js';

describe('request path normalisation', () => {
  it('collapses doubled slashes and keeps a trailing slash', () => {
    assert.equal(normalizeRequestPath('secret//data///x'), 'secret/data/x');
    assert.equal(normalizeRequestPath('secret/metadata/'), 'secret/metadata/');
    assert.equal(normalizeRequestPath('/secret/x'), 'secret/x');
  });

  it('decodes percent-encoding once', () => {
    assert.equal(normalizeRequestPath('secret/data/a%20b'), 'secret/data/a b');
    // A double-encoded dot stays a literal "%2e" after one decode: no second pass.
    assert.equal(normalizeRequestPath('secret/%252e%252e/x'), 'secret/%2e%2e/x');
  });

  for (const raw of ['secret/../sys/x', 'secret/./x', 'secret/%2e%2e/x', 'secret/%2E%2E/x', 'secret/%2e/x', 'a/..', '..', 'secret/x/%2e%2e%2fsys']) {
    it(`refuses the relative segment in ${raw}`, () => {
      assert.throws(() => normalizeRequestPath(raw), /relative segments/);
    });
  }

  it('refuses control characters, encoded or not', () => {
    assert.throws(() => normalizeRequestPath('secret/a%00b'), /control characters/);
    assert.throws(() => normalizeRequestPath('secret/a%0ab'), /control characters/);
  });

  it('refuses broken percent-encoding', () => {
    assert.throws(() => normalizeRequestPath('secret/%zz'), /percent-encoding/);
  });

  it('normalises mount paths to one trailing slash', () => {
    assert.equal(normalizeMountPath('kv'), 'kv/');
    assert.equal(normalizeMountPath('/team/kv//'), 'team/kv/');
    assert.throws(() => normalizeMountPath('/'), /cannot be empty/);
  });

  it('answers as the full split-and-join would for every short path over a tricky alphabet', () => {
    // The fast path skips the split for paths with nothing to change; this checks it against the
    // plain algorithm on every string of up to 5 characters from the characters that matter.
    const reference = (decoded: string): string => {
      // eslint-disable-next-line no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(decoded)) return 'refused: control';
      const segments = decoded.split('/').filter((segment) => segment !== '');
      if (segments.some((segment) => segment === '.' || segment === '..')) return 'refused: relative';
      const joined = segments.join('/');
      return decoded.endsWith('/') && joined !== '' ? joined + '/' : joined;
    };
    const actual = (decoded: string): string => {
      try {
        return normalizeDecodedPath(decoded);
      } catch (error) {
        return /control/.test((error as Error).message) ? 'refused: control' : 'refused: relative';
      }
    };
    const alphabet = ['a', '/', '.', '\u0001', '\u007f', '%'];
    let checked = 0;
    const walk = (prefix: string): void => {
      assert.equal(actual(prefix), reference(prefix), JSON.stringify(prefix));
      checked += 1;
      if (prefix.length < 5) for (const c of alphabet) walk(prefix + c);
    };
    walk('');
    assert.equal(checked, 9331);
  });
});
