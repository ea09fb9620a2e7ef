/**
 * custom_metadata of a KV v2 key: parsing to string→string and Vault's limits (at most 64
 * keys, each key 1..128 bytes, each value 1..512 bytes, printable characters only).
 *
 * Must never: echo a custom_metadata value in an error. A key name is echoed only when it is
 * short and printable, so the message stays readable and bounded.
 */
import { badRequest } from '../../core/errors.js';
import { isJsonObject, setOwn } from './json.js';

export const MAX_CUSTOM_METADATA_KEYS = 64;
export const MAX_CUSTOM_METADATA_KEY_BYTES = 128;
export const MAX_CUSTOM_METADATA_VALUE_BYTES = 512;

const PREFIX = 'custom_metadata validation failed';

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const NOT_PRINTABLE = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

/** Converts one value the way Vault's weak decoding to string does. */
function toMetadataString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (value === null) return '';
  return undefined;
}

/**
 * Parses a custom_metadata object. With `allowNulls` (PATCH), a null value is kept as null,
 * meaning "remove this key"; otherwise null becomes '' and fails validation, as in Vault.
 */
export function parseCustomMetadata(raw: unknown, allowNulls: boolean): Record<string, string | null> {
  if (!isJsonObject(raw)) throw badRequest(`${PREFIX}: custom_metadata must be an object of strings`);
  const out: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (allowNulls && value === null) {
      setOwn(out, key, null);
      continue;
    }
    const text = toMetadataString(value);
    if (text === undefined) throw badRequest(`${PREFIX}: values must be strings`);
    setOwn(out, key, text);
  }
  return out;
}

function describeKey(key: string): string {
  return key.length <= 32 && !NOT_PRINTABLE.test(key) ? JSON.stringify(key) : 'a key';
}

/** Throws one bad_request listing every violation; null values (PATCH removals) are skipped. */
export function validateCustomMetadata(entries: Record<string, string | null>): void {
  const keys = Object.keys(entries);
  if (keys.length > MAX_CUSTOM_METADATA_KEYS) {
    throw badRequest(`${PREFIX}: payload must contain at most ${MAX_CUSTOM_METADATA_KEYS} keys, provided ${keys.length}`);
  }
  const problems: string[] = [];
  for (const key of keys) {
    const value = entries[key];
    if (value === null || value === undefined) continue;
    const keyBytes = Buffer.byteLength(key, 'utf8');
    const valueBytes = Buffer.byteLength(value, 'utf8');
    if (keyBytes === 0 || keyBytes > MAX_CUSTOM_METADATA_KEY_BYTES) {
      problems.push(`length of ${describeKey(key)} is ${keyBytes} but must be 0 < len(key) <= ${MAX_CUSTOM_METADATA_KEY_BYTES}`);
    }
    if (valueBytes === 0 || valueBytes > MAX_CUSTOM_METADATA_VALUE_BYTES) {
      problems.push(`length of value for ${describeKey(key)} is ${valueBytes} but must be 0 < len(value) <= ${MAX_CUSTOM_METADATA_VALUE_BYTES}`);
    }
    if (NOT_PRINTABLE.test(key)) problems.push(`${describeKey(key)} contains unprintable characters`);
    if (NOT_PRINTABLE.test(value)) problems.push(`value for ${describeKey(key)} contains unprintable characters`);
  }
  if (problems.length > 0) throw badRequest(`${PREFIX}: ${problems.join('; ')}`);
}

/** Applies a PATCH (null removes a key) to the stored map and validates the result. */
export function patchCustomMetadata(
  current: Readonly<Record<string, string>> | null,
  patch: Record<string, string | null>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(current ?? {})) setOwn(out, key, value);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else setOwn(out, key, value);
  }
  validateCustomMetadata(out);
  return out;
}
