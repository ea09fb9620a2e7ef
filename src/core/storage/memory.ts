/**
 * In-memory physical storage, for tests and throwaway dev servers. Nothing survives the process.
 * Values are copied in and out, so callers can never alias stored bytes.
 *
 * Must never apply part of a batch: every operation is validated before the first is applied.
 */
import type { PhysicalStorage, WriteOp } from './storage.js';
import { listChildren, pageOf } from './list-children.js';
import { assertListPrefix, assertStorableKey, copyWriteOps } from './write-ops.js';

export function createMemoryStorage(): PhysicalStorage {
  const entries = new Map<string, Buffer>();
  const apply = (ops: readonly WriteOp[]): void => {
    // copyWriteOps throws before anything is applied, and its copies are ours to keep.
    for (const op of copyWriteOps(ops)) {
      if (op.type === 'put') entries.set(op.key, op.value);
      else entries.delete(op.key);
    }
  };
  return {
    kind: 'inmem',
    get: async (key) => {
      assertStorableKey(key);
      const value = entries.get(key);
      return value === undefined ? undefined : Buffer.from(value);
    },
    put: async (key, value) => apply([{ type: 'put', key, value }]),
    delete: async (key) => apply([{ type: 'delete', key }]),
    list: async (prefix) => {
      assertListPrefix(prefix);
      return listChildren(entries.keys(), prefix);
    },
    listPage: async (prefix, after, limit) => {
      assertListPrefix(prefix);
      return pageOf(listChildren(entries.keys(), prefix), after, limit);
    },
    batch: async (ops) => apply(ops),
    close: async () => {
      entries.clear();
    },
  };
}
