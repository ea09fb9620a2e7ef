/**
 * Tests: removing passwords, whole or cut short, from database messages, without revealing
 * which pieces a password is made of.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { scrubSecrets, WITHHELD_MESSAGE } from './plugin-secret-scrub.js';

const PASSWORD = 'A1a-Zq9xWmT4bc2Lp0Rs';

test('replaces every whole occurrence of every secret', () => {
  assert.equal(scrubSecrets("near 'BY 'A1a-Zq9xKp' and 'A1a-Zq9xKp'' ok root-Kk7Lm3", ['A1a-Zq9xKp', 'root-Kk7Lm3']), "near 'BY '[redacted]' and '[redacted]'' ok [redacted]");
});

test('withholds the whole message when the database cut a secret short in its echo', () => {
  assert.equal(scrubSecrets("syntax near 'IDENTIFIED BY 'A1a-Zq9xW...' at line 1", [PASSWORD]), WITHHELD_MESSAGE);
  assert.equal(scrubSecrets("near 'mT4bc2Lp0Rs' at line 1", [PASSWORD]), WITHHELD_MESSAGE);
});

test('answers a probe made of short pieces of the password exactly as for any other password', () => {
  // Every 4-character run of the password, as a caller could make a database raise them.
  const pieces = Array.from({ length: PASSWORD.length - 3 }, (_, i) => PASSWORD.slice(i, i + 4));
  const probe = `ERROR: probe: aaaa|${pieces.join('|')}|bbbb`;
  assert.equal(scrubSecrets(probe, [PASSWORD]), probe);
  assert.equal(scrubSecrets(probe, [PASSWORD]), scrubSecrets(probe, ['Other-pw-9f8e7d6c5b']));
});

test('does not mangle ordinary words that share a few letters with a password', () => {
  const message = 'unknown plugin redis-database-plugin';
  assert.equal(scrubSecrets(message, ['Kedis-Zq7xWmT4']), message);
});

test('withholds a message holding a short secret rather than cutting its letters out of words', () => {
  assert.equal(scrubSecrets('unknown plugin redis-database-plugin', ['e']), WITHHELD_MESSAGE);
  assert.equal(scrubSecrets('connection refused', ['e']), WITHHELD_MESSAGE);
  assert.equal(scrubSecrets('connection refused', ['x']), 'connection refused');
});

test('leaves text alone when no secret is in it, and ignores empty secrets', () => {
  assert.equal(scrubSecrets('Access denied for user root', ['', PASSWORD]), 'Access denied for user root');
});

test('cuts very long messages after scrubbing, so the cut never leaves a piece of a secret', () => {
  const out = scrubSecrets('x'.repeat(5000), []);
  assert.ok(out.length < 1100);
  const straddling = `${'x'.repeat(995)}${PASSWORD} tail`;
  const cut = scrubSecrets(straddling, [PASSWORD]);
  assert.ok(!cut.includes(PASSWORD.slice(0, 5)), cut);
});
