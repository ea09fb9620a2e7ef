/**
 * Tests: removing passwords, whole or cut short, from database messages.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { scrubSecrets } from './plugin-secret-scrub.js';

test('replaces every whole occurrence of every secret', () => {
  assert.equal(scrubSecrets("near 'BY 'A1a-Zq9x' and 'A1a-Zq9x'' ok root-Kk7", ['A1a-Zq9x', 'root-Kk7']), "near 'BY '[redacted]' and '[redacted]'' ok [redacted]");
});

test('replaces a secret that the database cut short in its echo', () => {
  const out = scrubSecrets("syntax near 'IDENTIFIED BY 'A1a-Zq9xW...' at line 1", ['A1a-Zq9xWmT4bc2Lp0Rs']);
  assert.equal(out, "syntax near 'IDENTIFIED BY '[redacted]...' at line 1");
  const tail = scrubSecrets("near 'Lp0Rs' at line 1", ['A1a-Zq9xWmT4bc2Lp0Rs']);
  assert.ok(!tail.includes('Lp0Rs'), tail);
});

test('leaves text alone when no secret is in it, and ignores empty secrets', () => {
  assert.equal(scrubSecrets('Access denied for user root', ['', 'A1a-Zq9xWmT4bc2Lp0Rs']), 'Access denied for user root');
});

test('cuts very long messages', () => {
  const out = scrubSecrets('x'.repeat(5000), []);
  assert.ok(out.length < 1100);
});
