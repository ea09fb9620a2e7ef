/**
 * Validation shared by the physical backends: what a storable key and value are, and the
 * up-front check that lets a batch be refused whole instead of half-applied.
 *
 * Must never echo a key or value in an error: keys can name secrets, values are secrets.
 */
import { CofferError } from '../errors.js';
import type { WriteOp } from './storage.js';

// A lone surrogate cannot be encoded as UTF-8, so a backend that stores text (SQLite,
// PostgreSQL) would silently map it to U+FFFD and alias two distinct keys.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws unless `key` is a non-empty string every backend can store and give back unchanged. */
export function assertStorableKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '' || LONE_SURROGATE.test(key)) {
    throw new CofferError('internal', 'invalid storage key');
  }
}

/** Throws unless `value` is bytes. */
export function assertStorableValue(value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CofferError('internal', 'invalid storage value');
}

/** Checks every operation before any is applied, so a batch with one bad operation changes nothing. */
export function validateWriteOps(ops: readonly WriteOp[]): void {
  if (!Array.isArray(ops)) throw new CofferError('internal', 'invalid storage batch');
  for (const op of ops as readonly WriteOp[]) {
    assertStorableKey(op?.key);
    if (op.type === 'delete') continue;
    if (op.type !== 'put') throw new CofferError('internal', 'invalid storage operation');
    assertStorableValue(op.value);
  }
}

/**
 * Validates like `validateWriteOps` and returns private copies, so a caller mutating its buffer
 * after the call cannot change what gets written.
 */
export function copyWriteOps(ops: readonly WriteOp[]): WriteOp[] {
  validateWriteOps(ops);
  return ops.map((op): WriteOp => (op.type === 'delete' ? { type: 'delete', key: op.key } : { type: 'put', key: op.key, value: Buffer.from(op.value) }));
}

/** Throws unless `prefix` is '' or ends with '/', as `Storage.list` requires. */
export function assertListPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || (prefix !== '' && !prefix.endsWith('/')) || LONE_SURROGATE.test(prefix)) {
    throw new CofferError('internal', 'invalid storage prefix');
  }
}
