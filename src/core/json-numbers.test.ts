import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inexactNumberLiteral, numberScanNeeded } from './json-numbers.js';

const hasInexactIntegerLiteral = (text: string): boolean => inexactNumberLiteral(text) === 'integer';

test('numberScanNeeded: a number that is not a safe integer, or a fraction or exponent in the text of a body with numbers', () => {
  const needs = (text: string): boolean => numberScanNeeded(JSON.parse(text), text);
  assert.equal(needs('{"a":[1,{"b":9007199254740991}],"s":"text"}'), false);
  // A decimal inside a string may ask for the scan too; the scan then skips strings.
  assert.equal(needs('{"a":1,"s":"1.5e3"}'), true);
  assert.equal(needs('{"a":"1.5","b":"12345678901234567890"}'), false);
  assert.equal(needs('{"a":[1,{"b":9007199254740992}]}'), true);
  assert.equal(needs('-1e21'), true);
  assert.equal(needs('{"a":2.5}'), true);
  // Parses to the safe integer 1, but its text is a decimal that JSON.parse rounded.
  assert.equal(needs('{"a":1.00000000000000000001}'), true);
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
  // Decimals and exponents are not integer literals.
  assert.equal(hasInexactIntegerLiteral('{"a":1e21,"b":12345678901234567890.5,"c":1.2345678901234567890e30}'), false);
});

test('a decimal that would come back with another value is found; another spelling of the same value is not', () => {
  assert.equal(inexactNumberLiteral('{"a":0.1234567890123456789}'), 'decimal');
  assert.equal(inexactNumberLiteral('{"b":1.00000000000000001}'), 'decimal');
  assert.equal(inexactNumberLiteral('[123456789012345678.5]'), 'decimal');
  assert.equal(inexactNumberLiteral('[1e-400]'), 'decimal');
  assert.equal(inexactNumberLiteral('[1.2345678901234567890e30]'), 'decimal');
  // Same values, other spellings: 1.50 is 1.5, 1e3 is 1000, 1E+21 is 1e21, -0.0 is 0.
  assert.equal(inexactNumberLiteral('{"a":1.50,"b":1e3,"c":1E+21,"d":-0.0,"e":0.1,"f":123456.789012345,"g":2.5e-7}'), undefined);
  // The shortest text for a double round-trips: 0.1 + 0.2 as JavaScript prints it.
  assert.equal(inexactNumberLiteral('[0.30000000000000004]'), undefined);
  // Integer literals keep their own verdict.
  assert.equal(inexactNumberLiteral('[1, 9007199254740993]'), 'integer');
});
