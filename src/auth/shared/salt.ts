/**
 * A per-mount HMAC salt, created on first use and kept in the mount's own (encrypted) storage.
 *
 * Owns: turning credentials (secret IDs, role IDs) into storage-safe HMACs, and comparing
 * secret values in constant time. A credential is only ever stored and looked up by its HMAC,
 * so a storage dump does not hold a usable credential and lookups compare no secret bytes.
 * Must never: log or return the salt.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Storage } from '../../core/storage/storage.js';

const SALT_KEY = 'salt';

export interface Salt {
  /** Hex HMAC-SHA256 of `value` under the mount's salt, domain-separated by `purpose`. */
  hmac(purpose: string, value: string): Promise<string>;
}

export function createSalt(storage: Storage): Salt {
  let loading: Promise<Buffer> | undefined;
  const load = (): Promise<Buffer> => {
    loading ??= (async () => {
      const existing = await storage.get(SALT_KEY);
      if (existing && existing.length === 32) return existing;
      const salt = randomBytes(32);
      await storage.put(SALT_KEY, salt);
      return salt;
    })().catch((error: unknown) => {
      // A storage hiccup must not poison the mount forever: the next call retries.
      loading = undefined;
      throw error;
    });
    return loading;
  };
  return {
    async hmac(purpose, value) {
      const salt = await load();
      return createHmac('sha256', salt).update(purpose).update('\0').update(value, 'utf8').digest('hex');
    },
  };
}

/**
 * Compares two secrets without leaking where they differ or how long they are: both sides are
 * hashed to equal length first, then compared with timingSafeEqual.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const key = randomBytes(32);
  const ha = createHmac('sha256', key).update(a, 'utf8').digest();
  const hb = createHmac('sha256', key).update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}
