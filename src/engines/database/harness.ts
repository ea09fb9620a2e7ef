/**
 * Test support: drives a database engine the way the router and the lease manager would,
 * without HTTP. `call` finds the PathSpec, resolves create/update through the existence check
 * and runs the handler; a response with a `secret` gets a fake lease whose renew and revoke go
 * to the engine's secretTypes, as the core's lease manager will do.
 *
 * Used only by tests; never imported by production code.
 */
import { createManualClock, type ManualClock } from '../../core/clock.js';
import { CofferError, isCofferError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { EngineContext, EngineRequest, EngineResponse, LeaseView, Operation, RequestAuth } from '../../core/router/engine.js';
import { warnIgnoredFields } from '../../core/router/ignored-fields.js';
import { createMemoryStorage } from '../../core/storage/memory.js';
import type { PhysicalStorage, Storage } from '../../core/storage/storage.js';
import { scope } from '../../core/storage/view.js';
import { createDatabaseEngine, type DatabaseEngine, type DatabaseEngineOptions } from './engine.js';
import { SYSTEM_MAX_TTL } from './lease-ttls.js';

export const MOUNT_PREFIX = 'logical/0d5e7a11-db/';

export interface FakeLease {
  readonly id: string;
  readonly type: string;
  readonly internal: Record<string, unknown>;
  readonly issueTime: number;
  expireTime: number;
  /** The lease's hard end: issue time plus the role's (or system) max TTL. */
  readonly maxExpireTime: number;
  revoked: boolean;
}

export interface DatabaseHarness {
  readonly engine: DatabaseEngine;
  readonly clock: ManualClock;
  readonly physical: PhysicalStorage;
  readonly storage: Storage;
  readonly leases: Map<string, FakeLease>;
  call(operation: Operation | 'write', path: string, data?: Record<string, unknown>, auth?: Partial<RequestAuth>): Promise<EngineResponse | null>;
  fail(operation: Operation | 'write', path: string, data?: Record<string, unknown>): Promise<CofferError>;
  /** Reads creds/:role and returns the credential and its fake lease. */
  creds(role: string, auth?: Partial<RequestAuth>): Promise<{ username: string; password: string; lease: FakeLease }>;
  /** Renews like sys/leases/renew: the new end is now + increment, capped at the lease's max and the engine's current one. */
  renew(lease: FakeLease, incrementSeconds: number): Promise<void>;
  revoke(lease: FakeLease): Promise<void>;
  /** Every key in physical storage under the mount. */
  allKeys(): Promise<string[]>;
  shutdown(): Promise<void>;
}

export interface HarnessOptions extends DatabaseEngineOptions {
  clock?: ManualClock;
  mountDefaultTtl?: number;
  mountMaxTtl?: number;
  /** Physical storage to share with another harness (a restart of the same mount). */
  physical?: PhysicalStorage;
  /** Change events and consumers as the mount manager would hand them (rotation tests). */
  events?: EngineContext['events'];
  consumers?: EngineContext['consumers'];
  logger?: Logger;
  /**
   * The write of each fake lease, handed to the secret's `create` as the lease manager hands it
   * the real one; default: already done. Tests hold it to see what exists before a lease is stored.
   */
  leaseWrite?: () => Promise<void>;
}

const DEFAULT_AUTH: RequestAuth = {
  tokenId: 'tok-hmac', accessor: 'acc', displayName: 'token', policies: ['default'], metadata: {}, entityId: '', isRoot: false,
};

export function createDatabaseHarness(options: HarnessOptions = {}): DatabaseHarness {
  // Real time by default: VALID UNTIL is checked by the database against its own clock.
  const clock = options.clock ?? createManualClock(Date.now());
  const physical = options.physical ?? createMemoryStorage();
  const storage = scope(physical, MOUNT_PREFIX);
  const engine = createDatabaseEngine({
    storage,
    clock,
    logger: options.logger ?? silentLogger,
    mount: {
      path: 'database/', uuid: '0d5e7a11-db', type: 'database', options: {},
      defaultLeaseTtl: options.mountDefaultTtl ?? 0, maxLeaseTtl: options.mountMaxTtl ?? 0,
    },
    ...(options.events ? { events: options.events } : {}),
    ...(options.consumers ? { consumers: options.consumers } : {}),
  }, {
    ...(options.plugins ? { plugins: options.plugins } : {}),
    ...(options.rotation ? { rotation: options.rotation } : {}),
  });
  const specs = engine.paths.map((spec) => ({ spec, regex: new RegExp(`^(?:${spec.pattern})$`) }));
  const leases = new Map<string, FakeLease>();
  let nextId = 0;

  const call = async (operation: Operation | 'write', path: string, data: Record<string, unknown> = {}, auth: Partial<RequestAuth> = {}): Promise<EngineResponse | null> => {
    for (const { spec, regex } of specs) {
      const match = regex.exec(path);
      if (!match) continue;
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(match.groups ?? {})) if (value !== undefined) params[name] = value;
      const base = { requestId: `req-${nextId++}`, path, params, data, mountPath: 'database/', auth: { ...DEFAULT_AUTH, ...auth }, remoteAddress: '127.0.0.1' };
      let resolved: Operation = operation === 'write' ? 'update' : operation;
      if (operation === 'write' && spec.existenceCheck) {
        resolved = (await spec.existenceCheck({ ...base, operation: 'update' })) ? 'update' : 'create';
      }
      const handler = spec.operations[resolved] ?? (operation === 'write' ? spec.operations.update : undefined);
      if (!handler) throw new Error(`no ${resolved} handler for ${path}`);
      const req: EngineRequest = { ...base, operation: resolved };
      // As the request handler answers: with Vault's warning for fields the path does not read.
      const response = warnIgnoredFields(await handler(req), spec, resolved, data, params);
      if (response?.secret) {
        // The core runs `create` while it stores the lease; here there is only the fake lease.
        if (response.secret.create) {
          const written = options.leaseWrite?.() ?? Promise.resolve();
          // Handled here as by the lease manager; `create` learns of a failed write through it.
          written.catch(() => undefined);
          await response.secret.create(written);
          await written;
        }
        const now = clock.now();
        const max = response.secret.maxTtl || SYSTEM_MAX_TTL;
        const lease: FakeLease = {
          id: `database/${path}/${nextId++}`,
          type: response.secret.type,
          internal: response.secret.internal,
          issueTime: now,
          expireTime: now + Math.min(response.secret.ttl || SYSTEM_MAX_TTL, max) * 1000,
          maxExpireTime: now + max * 1000,
          revoked: false,
        };
        leases.set(lease.id, lease);
        return { ...response, data: { ...response.data, lease_id: lease.id } };
      }
      return response;
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

  const view = (lease: FakeLease): LeaseView => ({ id: lease.id, internal: lease.internal, issueTime: lease.issueTime, expireTime: lease.expireTime });

  const secretType = (lease: FakeLease) => {
    const type = engine.secretTypes?.[lease.type];
    if (!type) throw new Error(`engine has no secret type ${lease.type}`);
    return type;
  };

  return {
    engine,
    clock,
    physical,
    storage,
    leases,
    call,
    fail,
    async creds(role, auth) {
      const response = await call('read', `creds/${role}`, {}, auth);
      const data = response?.data as { username: string; password: string; lease_id: string };
      return { username: data.username, password: data.password, lease: leases.get(data.lease_id) as FakeLease };
    },
    async renew(lease, incrementSeconds) {
      const type = secretType(lease);
      const ttls = await type.renewalTtls?.(view(lease));
      const max = ttls && ttls.maxTtl > 0 ? Math.min(lease.maxExpireTime, lease.issueTime + ttls.maxTtl * 1000) : lease.maxExpireTime;
      const next = Math.min(clock.now() + incrementSeconds * 1000, max);
      await type.renew?.({ ...view(lease), expireTime: next });
      lease.expireTime = next;
    },
    async revoke(lease) {
      await secretType(lease).revoke(view(lease));
      lease.revoked = true;
    },
    async allKeys() {
      const out: string[] = [];
      const walk = async (prefix: string): Promise<void> => {
        for (const child of await physical.list(prefix)) {
          if (child.endsWith('/')) await walk(prefix + child);
          else out.push(prefix + child);
        }
      };
      await walk(MOUNT_PREFIX);
      return out;
    },
    shutdown: async () => engine.shutdown?.(),
  };
}
