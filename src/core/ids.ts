/**
 * Random identifiers. All come from the CSPRNG; none is derived from time or a counter.
 */
import { randomBytes, randomUUID } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * A random base62 string of `length` characters, without modulo bias: bytes >= 248 are
 * rejected (248 = 62 * 4), so every character is uniform.
 */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(length * 2);
    for (const byte of bytes) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export const uuid = (): string => randomUUID();
