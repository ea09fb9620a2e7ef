/**
 * Arithmetic in GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11b),
 * for Shamir's secret sharing.
 *
 * Owns: multiplication and inversion of field elements.
 * Must never: use lookup tables or branch on operand values. Log/exp tables index memory with
 * secret bytes and leak them through cache timing during unseal (CVE-2023-25000). Every
 * function here runs the same instruction sequence whatever the operands; JavaScript offers no
 * hard constant-time guarantee, so keep the code to plain int32 bit operations the JIT can
 * compile without branches, and review it rather than trusting benchmarks.
 */

/**
 * a * b in GF(256). A fixed 8-round shift-and-add: each round adds `a` under a mask built from
 * one bit of `b`, then doubles `a` and folds the carry back in under a mask, never an `if`.
 */
export function gfMul(a: number, b: number): number {
  let product = 0;
  let x = a & 0xff;
  let y = b & 0xff;
  for (let round = 0; round < 8; round++) {
    // -(bit) is 0 or -1 (all ones), so the AND selects x or 0 without a branch.
    product ^= -(y & 1) & x;
    const carry = -((x >> 7) & 1);
    x = ((x << 1) ^ (carry & 0x1b)) & 0xff;
    y >>= 1;
  }
  return product & 0xff;
}

/**
 * The multiplicative inverse, as a^254 (a^255 = 1 for every non-zero a). The exponent is a
 * public constant, so square-and-multiply runs the same steps for every input. gfInv(0) is 0,
 * which callers must not rely on as an inverse.
 */
export function gfInv(a: number): number {
  // 254 = 0b11111110: seven squarings, multiplying in after each of the first six.
  const a2 = gfMul(a, a);
  let result = a2;
  let power = a2;
  for (let i = 0; i < 6; i++) {
    power = gfMul(power, power); // a^4, a^8, ... a^128
    result = gfMul(result, power);
  }
  return result;
}

/** a / b in GF(256); b must be non-zero. */
export function gfDiv(a: number, b: number): number {
  return gfMul(a, gfInv(b));
}
