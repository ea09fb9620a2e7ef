/**
 * Tests: time claims with leeways, the audience rule, claim lookup and glob matching.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { globMatch } from '../../core/glob.js';
import { audiences, checkAudience, checkTimes, claimAt } from './jwt-verify.js';

const LEEWAY = { clockSkew: 60, expiration: 150, notBefore: 150, requireExp: true };

test('exp is honoured up to skew plus expiration leeway', () => {
  assert.equal(checkTimes({ exp: 1000 }, 1210_000, LEEWAY).ok, true);
  assert.equal(checkTimes({ exp: 1000 }, 1211_000, LEEWAY).ok, false);
  assert.equal(checkTimes({ exp: 1000 }, 1001_000, { ...LEEWAY, clockSkew: 0, expiration: 0 }).ok, false);
});

test('nbf, or iat when nbf is missing, bounds the start of validity', () => {
  assert.equal(checkTimes({ exp: 9999, nbf: 1000 }, 790_000, LEEWAY).ok, true);
  assert.equal(checkTimes({ exp: 9999, nbf: 1000 }, 789_000, LEEWAY).ok, false);
  assert.equal(checkTimes({ exp: 9999, iat: 1000 }, 789_000, LEEWAY).ok, false);
});

test('missing exp is refused only when required', () => {
  assert.equal(checkTimes({}, 0, LEEWAY).ok, false);
  assert.equal(checkTimes({}, 0, { ...LEEWAY, requireExp: false }).ok, true);
  assert.equal(checkTimes({ exp: '5' }, 0, LEEWAY).ok, false);
});

test('aud is read as a list from a string or an array, and refused in any other shape', () => {
  assert.deepEqual(audiences({ aud: 'a' }), { ok: true, value: ['a'] });
  assert.deepEqual(audiences({ aud: ['a', 'b'] }), { ok: true, value: ['a', 'b'] });
  assert.deepEqual(audiences({}), { ok: true, value: [] });
  assert.equal(audiences({ aud: 7 }).ok, false);
  assert.equal(audiences({ aud: ['a', 7] }).ok, false);
});

test('the audience rule refuses unbound audiences in both directions', () => {
  assert.equal(checkAudience({ aud: 'x' }, ['x']).ok, true);
  assert.equal(checkAudience({ aud: 'y' }, ['x']).ok, false);
  assert.equal(checkAudience({}, ['x']).ok, false);
  assert.equal(checkAudience({ aud: 'x' }, []).ok, false);
  assert.equal(checkAudience({}, []).ok, true);
});

test('claims are found by name or by JSON pointer, and never through the prototype', () => {
  const claims = { a: { 'b/c': { d: 1 }, 'e~f': 2 }, plain: 'p' };
  assert.equal(claimAt(claims, 'plain'), 'p');
  assert.equal(claimAt(claims, '/a/b~1c/d'), 1);
  assert.equal(claimAt(claims, '/a/e~0f'), 2);
  assert.equal(claimAt(claims, '/a/missing'), undefined);
  assert.equal(claimAt(claims, 'constructor'), undefined);
  assert.equal(claimAt(claims, '/a/__proto__'), undefined);
});

test('glob: * matches any run, everything else literally', () => {
  assert.equal(globMatch('release-*', 'release-1.2'), true);
  assert.equal(globMatch('release-*', 'release-'), true);
  assert.equal(globMatch('release-*', 'main'), false);
  assert.equal(globMatch('*-prod-*', 'eu-prod-1'), true);
  assert.equal(globMatch('a.c', 'abc'), false);
  assert.equal(globMatch('*', ''), true);
  assert.equal(globMatch('a*a*a*a*a*b', 'a'.repeat(5000)), false);
});
