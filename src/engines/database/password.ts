/**
 * Passwords for dynamic credentials and rotated root credentials.
 *
 * Owns: the `password_policy` setting. Vault's `password_policy` names a policy stored under
 * sys/policies/password; Coffer has none yet, so it accepts a small built-in language instead:
 *   ''  or 'default'   20 characters
 *   'length=N'         N characters, 16 <= N <= 128
 * Every password is drawn from the CSPRNG over letters, digits and '-', with at least one
 * lowercase letter, one uppercase letter, one digit and one '-'.
 * Must never: emit a character outside [A-Za-z0-9-]. Statement templates substitute the
 * password inside '...' quotes, so a quote or backslash here would let a template be broken
 * out of; plugins assert this before substituting.
 */
import { randomInt } from 'node:crypto';
import { badRequest } from '../../core/errors.js';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const DASH = '-';
const ALL = LOWER + UPPER + DIGITS + DASH;

export const DEFAULT_PASSWORD_LENGTH = 20;
const MIN_LENGTH = 16;
const MAX_LENGTH = 128;

/** The only characters a generated password may hold. */
export const PASSWORD_CHARSET = /^[A-Za-z0-9-]+$/;

export interface PasswordPolicy {
  readonly length: number;
}

/** Parses and validates a `password_policy` value at config time, so creds never fail on it. */
export function parsePasswordPolicy(raw: string): PasswordPolicy {
  const text = raw.trim();
  if (text === '' || text === 'default') return { length: DEFAULT_PASSWORD_LENGTH };
  const match = /^length\s*=\s*(\d{1,4})$/.exec(text);
  if (match) {
    const length = Number(match[1]);
    if (length >= MIN_LENGTH && length <= MAX_LENGTH) return { length };
  }
  throw badRequest(`invalid password_policy: use "default" or "length=N" with N from ${MIN_LENGTH} to ${MAX_LENGTH}`);
}

const pick = (charset: string): string => charset[randomInt(charset.length)] as string;

export function generatePassword(policy: PasswordPolicy = { length: DEFAULT_PASSWORD_LENGTH }): string {
  // One of each class at random positions, the rest uniform over the whole set.
  const chars = [pick(LOWER), pick(UPPER), pick(DIGITS), pick(DASH)];
  while (chars.length < policy.length) chars.push(pick(ALL));
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
