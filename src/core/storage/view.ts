/**
 * Scoped views: a Storage that sees only the keys under one prefix.
 *
 * Each mount gets `scope(barrier, 'logical/<mount-uuid>/')`; the engine's keys are relative to
 * it, so no engine can name another mount's data. A key that tries to leave the view ('..',
 * '.', an empty segment or a leading '/') is refused rather than normalised.
 */
import { CofferError } from '../errors.js';
import type { BatchOptions, Storage, WriteOp } from './storage.js';

/**
 * Anything a relative key may not hold: a leading or trailing '/', an empty segment ('a//b'),
 * a '.' or '..' segment, or a NUL. An empty segment would make one path spellable two ways, or
 * a leaf look like a folder in a listing. One regex, because this runs for every storage
 * access at every view layer.
 */
const INVALID_KEY = /^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)|\0/;

export function assertRelativeKey(key: string): void {
  if (key === '' || INVALID_KEY.test(key)) throw new CofferError('internal', 'invalid storage key');
}

function assertPrefix(prefix: string): void {
  if (prefix === '') return;
  if (!prefix.endsWith('/')) throw new CofferError('internal', 'invalid storage prefix');
  assertRelativeKey(prefix.slice(0, -1));
}

export function scope(storage: Storage, prefix: string): Storage {
  assertPrefix(prefix);
  const full = (key: string): string => {
    assertRelativeKey(key);
    return prefix + key;
  };
  // A refused key becomes a rejected promise, never a synchronous throw that a caller chaining
  // `.catch()` would miss. (Plain functions rather than async ones: each async layer would add
  // a promise and a microtask turn to every storage access, and views nest.)
  return {
    get: (key) => attempt(() => storage.get(full(key))),
    put: (key, value) => attempt(() => storage.put(full(key), value)),
    delete: (key) => attempt(() => storage.delete(full(key))),
    list: (sub) =>
      attempt(() => {
        assertPrefix(sub);
        return storage.list(prefix + sub);
      }),
    listPage: (sub, after, limit) =>
      attempt(() => {
        assertPrefix(sub);
        return storage.listPage(prefix + sub, after, limit);
      }),
    // All keys are checked before the batch reaches the backend, so one bad key applies nothing.
    batch: (ops: readonly WriteOp[], options?: BatchOptions) =>
      attempt(() =>
        storage.batch(
          ops.map((op) => (op.type === 'put' ? { type: 'put', key: full(op.key), value: op.value } : { type: 'delete', key: full(op.key) })),
          options,
        ),
      ),
  };
}

/** Runs `call`; a synchronous throw comes back as a rejected promise. */
function attempt<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Deletes every key under `prefix` (used when a mount is disabled). */
export async function deletePrefix(storage: Storage, prefix: string): Promise<number> {
  let removed = 0;
  await walkFolders(storage, prefix, async (dir, leaves) => {
    const ops = leaves.map((leaf): WriteOp => ({ type: 'delete', key: dir + leaf }));
    for (let i = 0; i < ops.length; i += 500) await storage.batch(ops.slice(i, i + 500));
    removed += ops.length;
  });
  return removed;
}

/** Every key under `prefix` ('' for all), each in full. Meant for small key spaces. */
export async function keysUnder(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  await walkFolders(storage, prefix, async (dir, leaves) => {
    for (const leaf of leaves) keys.push(dir + leaf);
  });
  return keys;
}

/** Calls `visit` with each folder's leaves (names relative to it), deepest folders first. */
async function walkFolders(storage: Storage, dir: string, visit: (dir: string, leaves: string[]) => Promise<void>): Promise<void> {
  const leaves: string[] = [];
  for (const child of await storage.list(dir)) {
    if (child.endsWith('/')) await walkFolders(storage, dir + child, visit);
    else leaves.push(child);
  }
  await visit(dir, leaves);
}
