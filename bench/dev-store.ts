/**
 * Opens the storage of a dev-mode Coffer data dir exactly as `src/main.ts` builds it — SQLite
 * at `<dataDir>/coffer.db`, the barrier, the Shamir seal unsealed with the share dev mode keeps
 * in `<dataDir>/dev-unseal-key` — and hands back the views a benchmark task needs (the lease
 * manager's and the mount table's), so leases written here are the server's own leases.
 *
 * For benchmark task children only, on a data dir no server has open. Must never print or log
 * the share; it is read, used and zero-filled.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBarrier, type Barrier } from '../src/core/barrier/barrier.js';
import { createShamirSeal } from '../src/core/barrier/seal.js';
import { createMountTableStore, type MountEntry } from '../src/core/router/mount-table.js';
import { createSqliteStorage, type SqliteStorage } from '../src/core/storage/sqlite.js';
import type { Storage } from '../src/core/storage/storage.js';
import { scope } from '../src/core/storage/view.js';

// These three names and prefixes must stay as src/main.ts spells them.
const DB_FILE = 'coffer.db';
const DEV_SHARE_FILE = 'dev-unseal-key';
/** main.ts: `scope(scope(barrier, 'sys/'), 'expire/')`. */
export const SYSTEM_PREFIX = 'sys/';
export const LEASE_PREFIX = 'expire/';

export interface DevStore {
  physical: SqliteStorage;
  barrier: Barrier;
  systemStorage: Storage;
  /** What main.ts hands createLeaseManager as `storage`. */
  leaseStorage: Storage;
  /** The mount entry at `path` (e.g. 'secret/'), from the persisted mount table. */
  secretMount(path: string): Promise<MountEntry>;
  close(): Promise<void>;
}

export function databasePath(dataDir: string): string {
  return join(dataDir, DB_FILE);
}

export async function openDevStore(dataDir: string): Promise<DevStore> {
  const physical = createSqliteStorage({ path: databasePath(dataDir) });
  const barrier = createBarrier(physical);
  const seal = createShamirSeal({ physical, barrier });
  const share = Buffer.from(readFileSync(join(dataDir, DEV_SHARE_FILE), 'utf8').trim(), 'hex');
  try {
    await seal.unsealWithShares([share]);
  } finally {
    share.fill(0);
  }
  const systemStorage = scope(barrier, SYSTEM_PREFIX);
  const leaseStorage = scope(systemStorage, LEASE_PREFIX);
  const tables = createMountTableStore(systemStorage);
  return {
    physical,
    barrier,
    systemStorage,
    leaseStorage,
    async secretMount(path) {
      const entry = (await tables.load('secrets'))?.find((e) => e.path === path);
      if (entry === undefined) throw new Error(`no mount at ${path} in this data dir`);
      return entry;
    },
    async close() {
      seal.seal();
      await physical.close();
    },
  };
}
