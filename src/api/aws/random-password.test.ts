/**
 * Tests: GetRandomPassword's character rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AwsError } from './errors.js';
import { generatePassword, type PasswordOptions } from './random-password.js';

const defaults: PasswordOptions = {
  length: 32,
  excludeCharacters: '',
  excludeNumbers: false,
  excludePunctuation: false,
  excludeUppercase: false,
  excludeLowercase: false,
  includeSpace: false,
  requireEachIncludedType: true,
};

describe('GetRandomPassword', () => {
  it('includes every required type even in the shortest password', () => {
    for (let i = 0; i < 200; i++) {
      const password = generatePassword({ ...defaults, length: 4 });
      assert.match(password, /[a-z]/);
      assert.match(password, /[A-Z]/);
      assert.match(password, /[0-9]/);
      assert.match(password, /[^A-Za-z0-9]/);
    }
  });

  it('honours the exclusions and the space option', () => {
    for (let i = 0; i < 100; i++) {
      const password = generatePassword({ ...defaults, length: 64, excludePunctuation: true, excludeUppercase: true, excludeCharacters: 'aeiou0', includeSpace: true });
      assert.equal(password.length, 64);
      assert.match(password, /^[b-df-hj-np-tv-z1-9 ]+$/);
    }
    assert.match(generatePassword({ ...defaults, length: 100, excludeNumbers: true, excludeLowercase: true, excludePunctuation: true }), /^[A-Z]{100}$/);
  });

  it('refuses a length too short for the required types and a fully excluded alphabet', () => {
    const refused = (options: Partial<PasswordOptions>): void => {
      assert.throws(() => generatePassword({ ...defaults, ...options }), (error: unknown) => error instanceof AwsError && error.type === 'InvalidParameterException');
    };
    refused({ length: 3 });
    refused({ excludeNumbers: true, excludeLowercase: true, excludeUppercase: true, excludePunctuation: true });
    assert.equal(generatePassword({ ...defaults, length: 3, requireEachIncludedType: false }).length, 3);
  });

  it('draws different passwords each time', () => {
    const seen = new Set(Array.from({ length: 50 }, () => generatePassword(defaults)));
    assert.equal(seen.size, 50);
  });
});
