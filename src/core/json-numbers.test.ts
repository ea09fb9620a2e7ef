import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasInexactIntegerLiteral, holdsUnsafeInteger } from './json-numbers.js';

test('holdsUnsafeInteger finds integers beyond ±(2^53 - 1) at any depth, and only those', () => {
  assert.equal(holdsUnsafeInteger({ a: [1, { b: 9007199254740991 }] }), false);
  assert.equal(holdsUnsafeInteger({ a: 1e300 / 1e300, b: 2.5, c: '9007199254740993' }), false);
  assert.equal(holdsUnsafeInteger({ a: [1, { b: 9007199254740992 }] }), true);
  assert.equal(holdsUnsafeInteger(-1e21), true);
});

test('an integer literal that would come back changed is found; one that comes back as written is not', () => {
  // Parses to ...992: changed.
  assert.equal(hasInexactIntegerLiteral('{"n":9007199254740993}'), true);
  assert.equal(hasInexactIntegerLiteral('{"n":-12345678901234567890}'), true);
  // 2^60 is a double, but JavaScript writes it back as 1152921504606847000.
  assert.equal(hasInexactIntegerLiteral('[1152921504606846976]'), true);
  // 2^53 and the largest safe integers come back as written.
  assert.equal(hasInexactIntegerLiteral('{"a":9007199254740992,"b":-9007199254740991}'), false);
  // Digits inside strings (escaped quotes too) are not numbers.
  assert.equal(hasInexactIntegerLiteral('{"card":"12345678901234567890","q":"a\\"12345678901234567890"}'), false);
  assert.equal(hasInexactIntegerLiteral('{"12345678901234567890":1}'), false);
  // Decimals and exponents are read as decimals, as JSON.parse reads them.
  assert.equal(hasInexactIntegerLiteral('{"a":1e21,"b":12345678901234567890.5,"c":1.2345678901234567890e30}'), false);
});
