/**
 * Shamir's secret sharing over GF(256), byte by byte, in Vault's share format: the share's
 * y-bytes followed by one trailing byte holding its x coordinate (distinct, non-zero).
 *
 * Owns: splitting a secret into shares and recombining them.
 * Must never: put share or secret bytes into an error message, or use table-based field
 * arithmetic (see gf256.ts). Combining the wrong shares is not detectable here: it yields a
 * different secret, and the caller's authenticated decryption is what rejects it.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { CofferError } from '../errors.js';
import { gfDiv, gfMul } from './gf256.js';

export const MAX_SHARES = 255;

/**
 * Splits `secret` into `parts` shares, any `threshold` of which reconstruct it and fewer reveal
 * nothing about it.
 *
 * Limits: 1 <= threshold <= parts <= 255, and threshold >= 2 whenever parts > 1. The 1-of-1 case
 * needs no polynomial: the one share is a copy of the secret itself (no x byte), and
 * combineShares of a single share returns it unchanged. This matches Vault, which hands out the
 * unseal key itself when asked for one share.
 */
export function splitSecret(secret: Uint8Array, parts: number, threshold: number): Buffer[] {
  validateSplit(secret, parts, threshold);
  if (parts === 1) return [Buffer.from(secret)];

  const xs = distinctCoordinates(parts);
  const shares = xs.map((x) => {
    const share = Buffer.alloc(secret.length + 1);
    share[secret.length] = x;
    return share;
  });
  // One random polynomial per secret byte: constant term = the byte, threshold-1 random
  // coefficients above it (zero allowed: coefficients must be uniform for the proof to hold).
  const degree = threshold - 1;
  const coefficients = randomBytes(secret.length * degree);
  try {
    for (let i = 0; i < secret.length; i++) {
      const base = i * degree;
      for (let s = 0; s < parts; s++) {
        const x = xs[s] as number;
        // Horner's rule from the highest coefficient down to the secret byte.
        let y = 0;
        for (let d = degree - 1; d >= 0; d--) y = gfMul(y, x) ^ (coefficients[base + d] as number);
        (shares[s] as Buffer)[i] = gfMul(y, x) ^ (secret[i] as number);
      }
    }
  } finally {
    coefficients.fill(0);
  }
  return shares;
}

/**
 * Reconstructs the secret from shares made by splitSecret, by Lagrange interpolation at x = 0.
 * Passing fewer than the threshold (or foreign shares) silently gives a wrong value.
 */
export function combineShares(shares: readonly Uint8Array[]): Buffer {
  if (shares.length === 0) throw new CofferError('bad_request', 'at least one share is required');
  if (shares.length === 1) return Buffer.from(shares[0] as Uint8Array);
  if (shares.length > MAX_SHARES) throw new CofferError('bad_request', `at most ${MAX_SHARES} shares can be combined`);

  const length = (shares[0] as Uint8Array).length;
  if (length < 2) throw new CofferError('bad_request', 'shares must be at least two bytes long');
  const xs: number[] = [];
  for (const share of shares) {
    if (share.length !== length) throw new CofferError('bad_request', 'all shares must be the same length');
    // The x coordinates are public (they index the shares), so checking them may branch.
    const x = share[length - 1] as number;
    if (x === 0) throw new CofferError('bad_request', 'share has an invalid x coordinate');
    if (xs.includes(x)) throw new CofferError('bad_request', 'duplicate share detected');
    xs.push(x);
  }

  const secret = Buffer.alloc(length - 1);
  for (let i = 0; i < shares.length; i++) {
    const xi = xs[i] as number;
    // Lagrange basis at 0: product over j != i of x_j / (x_j - x_i); subtraction is XOR here.
    let basis = 1;
    for (let j = 0; j < shares.length; j++) {
      if (j === i) continue;
      const xj = xs[j] as number;
      basis = gfMul(basis, gfDiv(xj, xj ^ xi));
    }
    const share = shares[i] as Uint8Array;
    for (let b = 0; b < secret.length; b++) secret[b] = (secret[b] as number) ^ gfMul(share[b] as number, basis);
  }
  return secret;
}

function validateSplit(secret: Uint8Array, parts: number, threshold: number): void {
  if (secret.length === 0) throw new CofferError('bad_request', 'cannot split an empty secret');
  if (!Number.isInteger(parts) || parts < 1 || parts > MAX_SHARES) {
    throw new CofferError('bad_request', `parts must be an integer between 1 and ${MAX_SHARES}`);
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > parts) {
    throw new CofferError('bad_request', 'threshold must be an integer between 1 and parts');
  }
  if (parts > 1 && threshold < 2) {
    throw new CofferError('bad_request', 'threshold must be at least 2 when there is more than one part');
  }
}

/** `count` distinct x coordinates drawn at random from 1..255 (a partial Fisher-Yates shuffle). */
function distinctCoordinates(count: number): number[] {
  const pool = Array.from({ length: MAX_SHARES }, (_, i) => i + 1);
  for (let i = 0; i < count; i++) {
    const j = randomInt(i, MAX_SHARES);
    const picked = pool[j] as number;
    pool[j] = pool[i] as number;
    pool[i] = picked;
  }
  return pool.slice(0, count);
}
