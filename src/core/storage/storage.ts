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
  batch(ops: readonly WriteOp[]): Promise<void>;
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
