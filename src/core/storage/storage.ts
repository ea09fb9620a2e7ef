/**
 * The storage interface every layer speaks: the physical backends (SQLite, memory, later
 * PostgreSQL), the encryption barrier above them, and the per-mount views above that.
 *
 * Keys are '/'-separated paths without a leading slash. Values are opaque bytes.
 */

export type WriteOp =
  | { readonly type: 'put'; readonly key: string; readonly value: Buffer }
  | { readonly type: 'delete'; readonly key: string };

export interface Storage {
  /** The value at `key`, or undefined when there is none. */
  get(key: string): Promise<Buffer | undefined>;
  /** Stores `value` at `key`, replacing what was there. Durable when the promise resolves. */
  put(key: string, value: Buffer): Promise<void>;
  /** Removes `key`; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * The immediate children of `prefix` (which is '' or ends with '/'), sorted, relative to it:
   * a key `a/b` under prefix `a/` lists as `b`; a deeper key `a/c/d` lists once as `c/`.
   */
  list(prefix: string): Promise<string[]>;
  /**
   * One page of `list(prefix)`: the children sorting strictly after `after` ('' = from the
   * first), at most `limit` of them. Lets an index of millions of keys (lease expiry) be walked
   * in order without loading it.
   */
  listPage(prefix: string, after: string, limit: number): Promise<string[]>;
  /** Applies all operations atomically: after a crash either all are visible or none. */
  batch(ops: readonly WriteOp[], options?: BatchOptions): Promise<void>;
}

export interface BatchOptions {
  /**
   * 'immediate' (the default): the promise resolves once the batch is on disk. 'deferred': it
   * resolves once the batch is committed, still atomically and visible to every read, but it
   * reaches the disk with a later immediate write (or a checkpoint), so a power loss or kernel
   * crash in between may undo it; a process crash does not. Only for writes whose loss is
   * harmless: deleting the record of a lease whose secret is already revoked, which a restart
   * would find and revoke once more, finding nothing. Why: that deletion follows every
   * revocation, and an fsync of its own costs each revocation as much disk and kernel time as
   * storing the lease did. Backends without the distinction treat it as 'immediate'.
   */
  readonly durability?: 'immediate' | 'deferred';
}

/** A physical backend: a Storage that also owns a resource to release. */
export interface PhysicalStorage extends Storage {
  readonly kind: string;
  close(): Promise<void>;
}

/** Reads a JSON value stored by `putJson`. */
export async function getJson<T>(storage: Storage, key: string): Promise<T | undefined> {
  const raw = await storage.get(key);
  return raw === undefined ? undefined : (JSON.parse(raw.toString('utf8')) as T);
}

export function putJson(storage: Storage, key: string, value: unknown): Promise<void> {
  return storage.put(key, jsonBytes(value));
}

export function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
