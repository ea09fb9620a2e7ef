import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { gfDiv, gfInv, gfMul } from './gf256.js';

/** Textbook multiplication: carry-less product, then reduction by 0x11b, with plain branches. */
function slowMul(a: number, b: number): number {
  let product = 0;
  for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) product ^= a << bit;
  for (let bit = 14; bit >= 8; bit--) if (product & (1 << bit)) product ^= 0x11b << (bit - 8);
  return product;
}

test('multiplication matches a slow reference for every pair of field elements', () => {
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) {
      if (gfMul(a, b) !== slowMul(a, b)) assert.fail(`gfMul(${a}, ${b}) = ${gfMul(a, b)}, expected ${slowMul(a, b)}`);
    }
  }
});

test('every non-zero element times its inverse is one', () => {
  for (let a = 1; a < 256; a++) assert.equal(gfMul(a, gfInv(a)), 1, `a = ${a}`);
});

test('known AES field products hold', () => {
  // FIPS-197 section 4.2: {57} x {83} = {c1} and {57} x {13} = {fe}.
  assert.equal(gfMul(0x57, 0x83), 0xc1);
  assert.equal(gfMul(0x57, 0x13), 0xfe);
  assert.equal(gfInv(0x53), 0xca);
});

test('division undoes multiplication', () => {
  for (let a = 0; a < 256; a += 7) {
    for (let b = 1; b < 256; b += 5) assert.equal(gfDiv(gfMul(a, b), b), a);
  }
});

test('zero has no inverse and maps to zero', () => {
  assert.equal(gfInv(0), 0);
});
