/**
 * What "the secret" is in a read's answer, for any readable path: a KV v2 read nests it as
 * `data.data` (beside `data.metadata`), everything else (KV v1, dynamic and static database
 * credentials, AWS keys) answers with it as `data`. Also the secret's version, where it has one.
 *
 * Must never: put a value into an error message (only path and field names).
 */
import { CofferResponseError } from './errors.js';
import { isObject, type Envelope } from './wire.js';

/** True for the answer of a KV v2 `data/` read. */
export function isKvV2Read(envelope: Envelope<unknown>): boolean {
  if (envelope.mount_type !== undefined && envelope.mount_type !== '' && envelope.mount_type !== 'kv') return false;
  const data = envelope.data;
  if (!isObject(data) || !isObject(data['metadata'])) return false;
  return typeof data['metadata']['version'] === 'number' && (data['data'] === null || isObject(data['data']));
}

/** The secret's fields. */
export function secretData(envelope: Envelope<unknown>): Record<string, unknown> {
  const data = envelope.data;
  if (isKvV2Read(envelope)) return ((data as Record<string, unknown>)['data'] as Record<string, unknown> | null) ?? {};
  return isObject(data) ? data : {};
}

/** The version a consumer checks in with: KV v2 metadata.version, or a `version` field (static roles). */
export function secretVersion(envelope: Envelope<unknown>): number | undefined {
  const data = envelope.data;
  if (!isObject(data)) return undefined;
  if (isKvV2Read(envelope)) return (data['metadata'] as Record<string, unknown>)['version'] as number;
  return typeof data['version'] === 'number' ? data['version'] : undefined;
}

/** Seconds until a non-leased secret is replaced (a static role's `ttl`), when the answer says. */
export function secretTtl(envelope: Envelope<unknown>): number | undefined {
  if (envelope.lease_id !== '') return undefined;
  const data = envelope.data;
  return isObject(data) && typeof data['ttl'] === 'number' && data['ttl'] > 0 ? data['ttl'] : undefined;
}

/** One field as a string; numbers and booleans are stringified, objects JSON-encoded. */
export function fieldValue(secret: Record<string, unknown>, field: string, path: string): string {
  if (!Object.hasOwn(secret, field)) {
    throw new CofferResponseError(`field "${field}" not present in the secret at ${path}`);
  }
  const value = secret[field];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}
