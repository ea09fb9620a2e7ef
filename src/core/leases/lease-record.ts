/**
 * What Coffer stores about one lease, and where: the record itself (encrypted by the barrier)
 * and three indexes whose keys are walked in order (expiry time, owning token, irrevocable).
 *
 * Lease ids are `<request path>/<random>`; the record lives at `id/<lease id>` so LIST by prefix
 * works on the key space itself. Index keys hold a hash of the id, never the internal data.
 */
import { createHash } from 'node:crypto';
import { jsonBytes, type WriteOp } from '../storage/storage.js';

export interface RevocationState {
  attempts: number;
  /** The target system's message from the last failed attempt (scrubbed of secrets by the plugin). */
  lastError: string;
  /** Milliseconds since the epoch of the next attempt; 0 when irrevocable. */
  nextAttemptAt: number;
  /** Attempts are exhausted: kept, listed, retried only on request or force-revoked. */
  irrevocable: boolean;
}

export interface LeaseRecord {
  id: string;
  /** The request path that created it, e.g. 'database/creds/readonly'. */
  path: string;
  mountUuid: string;
  mountPath: string;
  secretType: string;
  internal: Record<string, unknown>;
  /** Token id (HMAC) of the creator; '' when none. */
  tokenId: string;
  renewable: boolean;
  /** All times are milliseconds since the epoch. */
  issueTime: number;
  expireTime: number;
  /** issueTime + the effective max TTL: no renewal goes past it (nor past the engine's current cap, SecretType.renewalTtls). */
  maxExpireTime: number;
  lastRenewal: number;
  /** The TTL it was issued with, seconds: the default renewal increment when the engine gives none. */
  ttl: number;
  revocation?: RevocationState;
}

/** Stable hash of a lease id for index keys (fixed length, no '/'). */
export function leaseHash(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 32);
}

const pad = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(15, '0');

export const recordKey = (id: string): string => `id/${id}`;
export const tokenIndexKey = (tokenId: string, id: string): string => `token/${tokenId}/${leaseHash(id)}`;
export const irrevocableKey = (id: string): string => `irrevocable/${leaseHash(id)}`;
/**
 * Sorted by due time: fixed-width milliseconds, then the lease id itself (base64url, so it has no
 * '/'), so the expiry worker learns which lease is due from the key alone, without a read and a
 * decryption per lease. Lease ids are not secret: they already name the `id/` records.
 */
export const dueKey = (dueAt: number, id: string): string => `due/${pad(dueAt)}-${Buffer.from(id, 'utf8').toString('base64url')}`;
export const DUE_PREFIX = 'due/';

/** The lease id encoded in a `due/` child name. */
export function dueLeaseId(child: string): string {
  return Buffer.from(child.slice(16), 'base64url').toString('utf8');
}

/** The due time encoded in a `due/` child name. */
export function dueTimeOf(child: string): number {
  return Number(child.slice(0, 15));
}

/** When the worker should next look at this lease: expiry, or the next retry. */
export function dueTimeFor(record: LeaseRecord): number | undefined {
  if (record.revocation?.irrevocable) return undefined;
  return record.revocation ? record.revocation.nextAttemptAt : record.expireTime;
}

/** The writes that store a new lease: its record, its due entry and its token's index entry. */
export function registrationOps(record: LeaseRecord): WriteOp[] {
  const ops: WriteOp[] = [
    { type: 'put', key: recordKey(record.id), value: jsonBytes(record) },
    { type: 'put', key: dueKey(record.expireTime, record.id), value: Buffer.alloc(0) },
  ];
  if (record.tokenId) ops.push({ type: 'put', key: tokenIndexKey(record.tokenId, record.id), value: Buffer.from(record.id) });
  return ops;
}

/** The writes that delete a lease and every index entry it has. */
export function removalOps(record: LeaseRecord): WriteOp[] {
  const ops: WriteOp[] = [{ type: 'delete', key: recordKey(record.id) }];
  const due = dueTimeFor(record);
  if (due !== undefined) ops.push({ type: 'delete', key: dueKey(due, record.id) });
  if (record.tokenId) ops.push({ type: 'delete', key: tokenIndexKey(record.tokenId, record.id) });
  if (record.revocation?.irrevocable) ops.push({ type: 'delete', key: irrevocableKey(record.id) });
  return ops;
}
