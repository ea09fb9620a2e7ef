/**
 * The read-only core an HTTP replica process serves KV reads with: the same barrier, token
 * store, policy store, KV engines and request pipeline as the primary, built over a read-only
 * view of the primary's SQLite file and unsealed with the root key the primary sent.
 *
 * Owns: one snapshot of everything a KV read consults (keyring, token salt, policies, mount
 * table), valid for one `dataVersion` of the file, and its caches. When the file changes,
 * `catchUp` reads the primary's change log (sqlite-change-log.ts) and forgets exactly the cached
 * entries of the keys that changed; a change to what the core derived when it was built, or a
 * log it cannot follow (pruned, too long, unreadable), makes it refuse, and the caller builds a
 * new core (change-impact.ts decides which is which).
 * Must never: write (the storage refuses); serve while audit devices are enabled or rate limit
 * quotas exist (only the primary audits and holds the buckets, so `primaryOnly` sends every
 * request there); route to anything but a KV mount.
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
import { changeImpact } from './change-impact.js';

/**
 * More changed keys than this at once and a new core is cheaper than forgetting them one by one
 * (and the primary was far ahead anyway).
 */
const MAX_CATCH_UP_KEYS = 5_000;

export interface ReplicaCoreOptions {
  reader: SqliteReader;
  rootKey: Buffer;
  clock: Clock;
  logger: Logger;
  systemTtl: { defaultSeconds: number; maxSeconds: number };
  cacheEntries?: number;
}

export interface ReplicaCore {
  /** The file's data_version this core is current with; any other version means stale. */
  readonly dataVersion: number;
  /**
   * Brings the core up to date with the file at data_version `dataVersion` (read by the caller
   * before this call) by forgetting what changed. False when it cannot: the caller must build a
   * new core, and this one refuses every later catch-up. Synchronous, so no read runs between
   * the check and the forgetting.
   */
  catchUp(dataVersion: number): boolean;
  /**
   * True while audit devices are enabled or rate limit quotas exist: every request then belongs
   * to the primary (it alone holds the devices and the buckets).
   */
  readonly primaryOnly: boolean;
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
  // Read before anything else, the change log's position first: a commit that lands while this
  // core loads is then either in what loads or after both marks (so a catch-up applies it), and
  // one that lands between the two marks is applied again, harmlessly.
  let appliedChanges = reader.changes.newest();
  let dataVersion = reader.dataVersion();
  let stale = false;
  const barrier: Barrier = createBarrier(reader, { ...(options.cacheEntries === undefined ? {} : { cacheEntries: options.cacheEntries }), clock });
  try {
    await barrier.unseal(options.rootKey);
    const systemStorage = scope(barrier, 'sys/');
    const auditEnabled = (await countStoredDevices(scope(systemStorage, 'audit/'))) > 0;
    // Rate limit buckets live in the primary only: with any quota, every request goes there.
    const quotasActive = (await scope(systemStorage, 'quotas/').list('rate-limit/')).length > 0;

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
    const catchUp = (version: number): boolean => {
      if (stale) return false;
      try {
        const since = reader.changes.since(appliedChanges, MAX_CATCH_UP_KEYS);
        if (since.kind !== 'changes') {
          stale = true;
          return false;
        }
        // No new rows is fine: a commit that landed after the caller read the data_version was
        // applied by the previous catch-up already. (Every commit to the entries while replicas
        // run goes through the primary's writer thread, which logs it: sqlite-writer-thread.ts.)
        const impacts = since.keys.map((key) => ({ key, impact: changeImpact(key) }));
        if (impacts.some(({ impact }) => impact.kind === 'rebuild')) {
          stale = true;
          return false;
        }
        for (const { key, impact } of impacts) {
          barrier.invalidateCached(key);
          if (impact.kind === 'forget-token') tokens.forgetCached(impact.id);
        }
        appliedChanges = since.last;
        dataVersion = version;
        return true;
      } catch (error) {
        logger.warn('replica could not read the change log; rebuilding', { error: error instanceof Error ? error.message : String(error) });
        stale = true;
        return false;
      }
    };
    return {
      get dataVersion() {
        return dataVersion;
      },
      catchUp,
      primaryOnly: auditEnabled || quotasActive,
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
