/**
 * The read-only core an HTTP replica process serves KV reads with: the same barrier, token
 * store, policy store, KV engines and request pipeline as the primary, built over a read-only
 * view of the primary's SQLite file and unsealed with the root key the primary sent.
 *
 * Owns: one snapshot of everything a KV read consults (keyring, token salt, policies, mount
 * table), valid for exactly one `dataVersion` of the file; the caller builds a new core when the
 * file changes rather than invalidating caches one by one, so nothing stale can survive a
 * change it did not know about.
 * Must never: write (the storage refuses); serve while audit devices are enabled (only the
 * primary can audit, so `auditEnabled` sends every request there); route to anything but a KV
 * mount.
 */
import { countStoredDevices, type AuditBroker } from '../../core/audit/broker.js';
import { createBarrier, type Barrier } from '../../core/barrier/barrier.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { createPolicyStore } from '../../core/policy/store.js';
import { createRequestHandler, type RequestHandler } from '../../core/request-handler.js';
import { mountInfoOf } from '../../core/router/mount-manager.js';
import { createMountTableStore, mountStoragePrefix, type MountEntry } from '../../core/router/mount-table.js';
import { createRouter, type Router } from '../../core/router/router.js';
import { ReplicaWriteRefused, type SqliteReader } from '../../core/storage/sqlite-reader.js';
import { scope } from '../../core/storage/view.js';
import { createTokenStore } from '../../core/tokens/token-store.js';
import { createKvEngine } from '../../engines/kv/engine.js';

export interface ReplicaCoreOptions {
  reader: SqliteReader;
  rootKey: Buffer;
  clock: Clock;
  logger: Logger;
  systemTtl: { defaultSeconds: number; maxSeconds: number };
  cacheEntries?: number;
}

export interface ReplicaCore {
  /** The file's data_version this core was built from; any other version means stale. */
  readonly dataVersion: number;
  /** True while audit devices are enabled: every request then belongs to the primary. */
  readonly auditEnabled: boolean;
  readonly router: Router<MountEntry>;
  readonly handler: RequestHandler;
  /** Drops the keys (zero-filled) and caches. */
  close(): void;
}

/**
 * The parts of the pipeline a KV read never reaches on a replica. Anything that would need them
 * (a lease, an audit entry, a change event) is the primary's work, so they refuse.
 */
const NO_LEASES = {
  register: () => Promise.reject(new ReplicaWriteRefused()),
  revoke: () => Promise.reject(new ReplicaWriteRefused()),
};
const refuse = (): never => {
  throw new ReplicaWriteRefused();
};
const NO_EVENTS = { publish: refuse };
const NO_AUDIT = { enabled: false, logRequest: refuse, logResponse: refuse } as unknown as AuditBroker;

export async function buildReplicaCore(options: ReplicaCoreOptions): Promise<ReplicaCore> {
  const { reader, clock, logger, systemTtl } = options;
  // Read before anything else: a commit that lands while this core loads makes it stale at once.
  const dataVersion = reader.dataVersion();
  const barrier: Barrier = createBarrier(reader, { ...(options.cacheEntries === undefined ? {} : { cacheEntries: options.cacheEntries }), clock });
  try {
    await barrier.unseal(options.rootKey);
    const systemStorage = scope(barrier, 'sys/');
    const auditEnabled = (await countStoredDevices(scope(systemStorage, 'audit/'))) > 0;

    const tokens = createTokenStore({
      storage: scope(systemStorage, 'token/'),
      clock,
      defaultTtl: systemTtl.defaultSeconds,
      maxTtl: systemTtl.maxSeconds,
    });
    await tokens.setup();
    const policies = createPolicyStore({ storage: scope(systemStorage, 'policy/') });

    const router = createRouter<MountEntry>();
    const table = (await createMountTableStore(systemStorage).load('secrets')) ?? [];
    for (const entry of table) {
      // A tainted mount is half-disabled: the primary refuses it, so the replica must not serve it.
      if (entry.type !== 'kv' || entry.tainted === true) continue;
      const engine = createKvEngine({
        storage: scope(barrier, mountStoragePrefix(entry)),
        clock,
        logger: logger.child({ mount: entry.path }),
        mount: mountInfoOf(entry, systemTtl),
      });
      await engine.initialize?.();
      router.add(entry, engine);
    }

    const handler = createRequestHandler({
      router,
      leases: NO_LEASES,
      events: NO_EVENTS,
      systemTtl,
      tokens,
      policies,
      audit: NO_AUDIT,
      clock,
      logger,
      isSealed: () => barrier.sealed,
    });
    return {
      dataVersion,
      auditEnabled,
      router,
      handler,
      close: () => {
        tokens.reset();
        barrier.seal();
      },
    };
  } catch (err) {
    barrier.seal();
    throw err;
  }
}
