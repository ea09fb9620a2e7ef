/**
 * Test support: drives an auth engine the way the router would, without HTTP. Finds the
 * PathSpec whose anchored pattern matches, turns 'write' into create or update through the
 * existence check, and calls the handler with a fresh request from a chosen client address.
 *
 * Used only by the tests beside the auth methods; never imported by production code.
 */
import { createManualClock, type ManualClock } from '../../core/clock.js';
import { CofferError, isCofferError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Engine, EngineFactory, EngineRequest, EngineResponse, Operation } from '../../core/router/engine.js';
import { createMemoryStorage } from '../../core/storage/memory.js';
import type { PhysicalStorage, Storage } from '../../core/storage/storage.js';
import { scope } from '../../core/storage/view.js';

export const MOUNT_PREFIX = 'auth/7d2e-test/';

export interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

export interface AuthHarness {
  readonly engine: Engine;
  readonly clock: ManualClock;
  readonly physical: PhysicalStorage;
  readonly storage: Storage;
  /** Every line the engine logged, for checking refusal reasons and that nothing secret leaked. */
  readonly logs: LogLine[];
  call(operation: Operation | 'write', path: string, data?: Record<string, unknown>, remoteAddress?: string): Promise<EngineResponse | null>;
  fail(operation: Operation | 'write', path: string, data?: Record<string, unknown>, remoteAddress?: string): Promise<CofferError>;
  /** Every stored value under the mount, decoded as UTF-8, for "never stored in clear" checks. */
  dump(): Promise<string>;
}

function captureLogger(lines: LogLine[], base: Record<string, unknown> = {}): Logger {
  const emit = (level: string) => (message: string, fields?: Record<string, unknown>): void => {
    lines.push({ level, message, fields: { ...base, ...fields } });
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (fields) => captureLogger(lines, { ...base, ...fields }),
  };
}

export function createAuthHarness(factory: EngineFactory, options: { type: string; mountPath?: string; clock?: ManualClock } = { type: 'test' }): AuthHarness {
  const clock = options.clock ?? createManualClock();
  const physical = createMemoryStorage();
  const storage = scope(physical, MOUNT_PREFIX);
  const logs: LogLine[] = [];
  const mountPath = options.mountPath ?? `auth/${options.type}/`;
  const engine = factory({
    storage,
    clock,
    logger: captureLogger(logs),
    mount: { path: mountPath, uuid: '7d2e-test', type: options.type, options: {}, defaultLeaseTtl: 0, maxLeaseTtl: 0 },
  });
  const specs = engine.paths.map((spec) => ({ spec, regex: new RegExp(`^(?:${spec.pattern})$`) }));
  let nextId = 0;

  const call = async (operation: Operation | 'write', path: string, data: Record<string, unknown> = {}, remoteAddress = '127.0.0.1'): Promise<EngineResponse | null> => {
    for (const { spec, regex } of specs) {
      const match = regex.exec(path);
      if (!match) continue;
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(match.groups ?? {})) if (value !== undefined) params[name] = value;
      const base = { requestId: `req-${nextId++}`, path, params, data, mountPath, auth: undefined, remoteAddress };
      let resolved: Operation = operation === 'write' ? 'update' : operation;
      if (operation === 'write' && spec.existenceCheck) {
        resolved = (await spec.existenceCheck({ ...base, operation: 'update' })) ? 'update' : 'create';
      }
      const handler = spec.operations[resolved] ?? (resolved === 'create' ? spec.operations.update : undefined);
      if (!handler) throw new Error(`no ${resolved} handler for ${path}`);
      const req: EngineRequest = { ...base, operation: resolved };
      return handler(req);
    }
    throw new Error(`no path matches ${path}`);
  };

  const fail = async (operation: Operation | 'write', path: string, data?: Record<string, unknown>, remoteAddress?: string): Promise<CofferError> => {
    try {
      await call(operation, path, data, remoteAddress);
    } catch (err) {
      if (isCofferError(err)) return err;
      throw err;
    }
    throw new Error(`expected ${operation} ${path} to fail`);
  };

  const dump = async (): Promise<string> => {
    const out: string[] = [];
    const walk = async (prefix: string): Promise<void> => {
      for (const child of await physical.list(prefix)) {
        if (child.endsWith('/')) await walk(prefix + child);
        else out.push(`${prefix + child}=${(await physical.get(prefix + child))?.toString('utf8') ?? ''}`);
      }
    };
    await walk(MOUNT_PREFIX);
    return out.join('\n');
  };

  return { engine, clock, physical, storage, logs, call, fail, dump };
}
