/**
 * GetRandomPassword: a password from the CSPRNG (crypto.randomInt, so every pick is uniform),
 * with all of the service's parameters. By default it holds at least one character of every
 * included type (lowercase, uppercase, digit, punctuation); a space, when included, is an
 * allowed character but not a required type.
 * Must never: log or echo the password.
 */
import { randomInt } from 'node:crypto';
import { invalidParameter } from './errors.js';
import { optionalBool, optionalInt, optionalString } from './input.js';
import type { Operation } from './secret-state.js';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export interface PasswordOptions {
  length: number;
  excludeCharacters: string;
  excludeNumbers: boolean;
  excludePunctuation: boolean;
  excludeUppercase: boolean;
  excludeLowercase: boolean;
  includeSpace: boolean;
  requireEachIncludedType: boolean;
}

export function generatePassword(options: PasswordOptions): string {
  const excluded = new Set(options.excludeCharacters);
  const keep = (chars: string): string => [...chars].filter((c) => !excluded.has(c)).join('');
  const types = [
    options.excludeLowercase ? '' : keep(LOWER),
    options.excludeUppercase ? '' : keep(UPPER),
    options.excludeNumbers ? '' : keep(DIGITS),
    options.excludePunctuation ? '' : keep(PUNCTUATION),
  ].filter((t) => t !== '');
  const space = options.includeSpace && !excluded.has(' ') ? ' ' : '';
  const pool = types.join('') + space;
  if (pool === '') throw invalidParameter('The password cannot be generated: every character is excluded.');
  const out: string[] = [];
  if (options.requireEachIncludedType) {
    if (options.length < types.length) {
      throw invalidParameter(`PasswordLength must be at least ${types.length} to include a character of each required type.`);
    }
    for (const type of types) out.push(type[randomInt(type.length)] as string);
  }
  while (out.length < options.length) out.push(pool[randomInt(pool.length)] as string);
  // Fisher-Yates, so the required characters are not always first.
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j] as string, out[i] as string];
  }
  return out.join('');
}

export const getRandomPassword: Operation = async (_ctx, body) => ({
  RandomPassword: generatePassword({
    length: optionalInt(body, 'PasswordLength', 1, 4096) ?? 32,
    excludeCharacters: optionalString(body, 'ExcludeCharacters', 0, 4096) ?? '',
    excludeNumbers: optionalBool(body, 'ExcludeNumbers') ?? false,
    excludePunctuation: optionalBool(body, 'ExcludePunctuation') ?? false,
    excludeUppercase: optionalBool(body, 'ExcludeUppercase') ?? false,
    excludeLowercase: optionalBool(body, 'ExcludeLowercase') ?? false,
    includeSpace: optionalBool(body, 'IncludeSpace') ?? false,
    requireEachIncludedType: optionalBool(body, 'RequireEachIncludedType') ?? true,
  }),
});
