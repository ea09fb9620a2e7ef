/**
 * Test support: drives a KV engine the way the router would, without HTTP. Finds the PathSpec
 * whose anchored pattern matches, turns 'write' into create or update through the existence
 * check, and calls the handler with a fresh request.
 *
 * Used only by the tests beside it; never imported by production code.
 */
import { createManualClock, type ManualClock } from '../../core/clock.js';
import { CofferError, isCofferError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import type { Engine, EngineRequest, EngineResponse, Operation } from '../../core/router/engine.js';
import { createMemoryStorage } from '../../core/storage/memory.js';
import type { PhysicalStorage, Storage } from '../../core/storage/storage.js';
import { scope } from '../../core/storage/view.js';
import { createKvEngine } from './engine.js';

export const MOUNT_PREFIX = 'logical/6c1f0a52-kv/';

export interface KvHarness {
  readonly engine: Engine;
  readonly clock: ManualClock;
  /** The whole physical store, to check what really reached storage. */
  readonly physical: PhysicalStorage;
  /** The mount's view, as the engine sees it. */
  readonly storage: Storage;
  /** Calls the engine; 'write' is resolved to create or update by the path's existence check. */
  call(operation: Operation | 'write', path: string, data?: Record<string, unknown>): Promise<EngineResponse | null>;
  /** Like call, but expects a CofferError and returns it. */
  fail(operation: Operation | 'write', path: string, data?: Record<string, unknown>): Promise<CofferError>;
  /** Every key in physical storage under the mount. */
  allKeys(): Promise<string[]>;
}

export function createKvHarness(version: '1' | '2' = '2'): KvHarness {
  const clock = createManualClock();
  const physical = createMemoryStorage();
  const storage = scope(physical, MOUNT_PREFIX);
  const engine = createKvEngine({
    storage,
    clock,
    logger: silentLogger,
    mount: { path: 'secret/', uuid: '6c1f0a52-kv', type: 'kv', options: { version }, defaultLeaseTtl: 0, maxLeaseTtl: 0 },
  });
  const specs = engine.paths.map((spec) => ({ spec, regex: new RegExp(`^(?:${spec.pattern})$`) }));
  let nextId = 0;

  const call = async (operation: Operation | 'write', path: string, data: Record<string, unknown> = {}): Promise<EngineResponse | null> => {
    for (const { spec, regex } of specs) {
      const match = regex.exec(path);
      if (!match) continue;
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(match.groups ?? {})) if (value !== undefined) params[name] = value;
      const base = { requestId: `req-${nextId++}`, path, params, data, mountPath: 'secret/', auth: undefined, remoteAddress: '127.0.0.1' };
      let resolved: Operation = operation === 'write' ? 'update' : operation;
      if (operation === 'write' && spec.existenceCheck) {
        resolved = (await spec.existenceCheck({ ...base, operation: 'update' })) ? 'update' : 'create';
      }
      const handler = spec.operations[resolved];
      if (!handler) throw new Error(`no ${resolved} handler for ${path}`);
      const req: EngineRequest = { ...base, operation: resolved };
      return handler(req);
    }
    throw new Error(`no path matches ${path}`);
  };

  const fail = async (operation: Operation | 'write', path: string, data?: Record<string, unknown>): Promise<CofferError> => {
    try {
      await call(operation, path, data);
    } catch (err) {
      if (isCofferError(err)) return err;
      throw err;
    }
    throw new Error(`expected ${operation} ${path} to fail`);
  };

  const allKeys = async (): Promise<string[]> => {
    const out: string[] = [];
    const walk = async (prefix: string): Promise<void> => {
      for (const child of await physical.list(prefix)) {
        if (child.endsWith('/')) await walk(prefix + child);
        else out.push(prefix + child);
      }
    };
    await walk(MOUNT_PREFIX);
    return out;
  };

  return { engine, clock, physical, storage, call, fail, allKeys };
}
