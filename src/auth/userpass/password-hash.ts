/**
 * Password hashing for userpass: scrypt with a random 16-byte salt per password, parameters
 * stored beside each hash so they can be raised later without breaking old users.
 *
 * Owns: the rule that verifying against "no user" costs the same scrypt work as verifying a
 * real user's password, so login timing does not tell whether a user exists (CVE-2025-6011).
 * Must never: return, log or compare a password other than through scrypt + timingSafeEqual.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface PasswordHash {
  /** base64 */
  salt: string;
  /** base64 */
  hash: string;
  n: number;
  r: number;
  p: number;
}

export interface PasswordHasher {
  hash(password: string): Promise<PasswordHash>;
  /**
   * True when `password` matches `stored`. With `stored` undefined (no such user, or a locked
   * one) it runs the same scrypt work against a dummy hash and returns false.
   */
  verify(password: string, stored: PasswordHash | undefined): Promise<boolean>;
}

export interface ScryptCost {
  n: number;
  r: number;
  p: number;
}

/** 2^15 × 8 × 128 bytes = 32 MiB and ~0.1 s per hash on a small server core. */
export const DEFAULT_SCRYPT_COST: ScryptCost = { n: 2 ** 15, r: 8, p: 1 };

const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const options: ScryptOptions = { N: cost.n, r: cost.r, p: cost.p, maxmem: 256 * cost.n * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export function createScryptHasher(cost: ScryptCost = DEFAULT_SCRYPT_COST): PasswordHasher {
  // A hash of a random password nobody knows: verifying against it costs what a real
  // verification costs and never succeeds.
  const dummy: PasswordHash = { salt: randomBytes(16).toString('base64'), hash: randomBytes(KEY_LENGTH).toString('base64'), ...cost };
  return {
    async hash(password) {
      const salt = randomBytes(16);
      const key = await derive(password, salt, cost);
      return { salt: salt.toString('base64'), hash: key.toString('base64'), ...cost };
    },
    async verify(password, stored) {
      const target = stored ?? dummy;
      const expected = Buffer.from(target.hash, 'base64');
      const actual = await derive(password, Buffer.from(target.salt, 'base64'), { n: target.n, r: target.r, p: target.p });
      const match = expected.length === actual.length && timingSafeEqual(expected, actual);
      return stored !== undefined && match;
    },
  };
}
