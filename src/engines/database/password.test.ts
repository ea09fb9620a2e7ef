/**
 * Tests: generated passwords and the password_policy setting.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { generatePassword, parsePasswordPolicy, PASSWORD_CHARSET } from './password.js';

test('default passwords are 20 characters of letters, digits and "-", with one of each class', () => {
  for (let i = 0; i < 200; i += 1) {
    const password = generatePassword();
    assert.equal(password.length, 20);
    assert.match(password, PASSWORD_CHARSET);
    assert.match(password, /[a-z]/);
    assert.match(password, /[A-Z]/);
    assert.match(password, /[0-9]/);
    assert.match(password, /-/);
  }
});

test('passwords do not repeat', () => {
  const seen = new Set(Array.from({ length: 500 }, () => generatePassword()));
  assert.equal(seen.size, 500);
});

test('password_policy accepts "", "default" and length=N within bounds, and nothing else', () => {
  assert.equal(parsePasswordPolicy('').length, 20);
  assert.equal(parsePasswordPolicy('default').length, 20);
  assert.equal(parsePasswordPolicy('length=64').length, 64);
  assert.equal(generatePassword(parsePasswordPolicy('length = 40')).length, 40);
  for (const bad of ['length=8', 'length=500', 'my-vault-policy', 'length=']) {
    assert.throws(() => parsePasswordPolicy(bad), /invalid password_policy/, bad);
  }
});
