/**
 * Task child: the revocation storm. A lease manager composed as in src/main.ts (SQLite →
 * barrier → `sys/` → `expire/`) on a fresh database, with an engine whose secret type revokes
 * nothing (a fast no-op target), gets COUNT leases that all expire at the same instant; an
 * injected manual clock then moves past it and `runDue()` is timed until every lease is gone.
 * For scale, the raw SQLite sweep of performance.md B.4 (delete the same number of rows,
 * 1,000 per transaction, no encryption, no Node layers) runs in the same process afterwards.
 *
 * Usage: lease-storm-child.js DIR COUNT CONCURRENCY [REVOKE_CONCURRENCY]
 * (REVOKE_CONCURRENCY overrides the lease manager's `concurrency` for experiments; the harness
 * never passes it, so the storm runs with the default src/main.ts uses.)
 * Progress goes to stderr; the result is ONE JSON line on stdout. Must never print the
 * throwaway root key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createBarrier } from '../src/core/barrier/barrier.js';
import { createManualClock } from '../src/core/clock.js';
import { createLeaseManager } from '../src/core/leases/lease-manager.js';
import { createLogger } from '../src/core/logger.js';
import type { Engine } from '../src/core/router/engine.js';
import { createSqliteStorage } from '../src/core/storage/sqlite.js';
import type { Storage } from '../src/core/storage/storage.js';
import { scope } from '../src/core/storage/view.js';
import { LEASE_PREFIX, SYSTEM_PREFIX } from './dev-store.js';
import { exitWithParent } from './task-child.js';

export interface StormResult {
  count: number;
  registerSeconds: number;
  revokeSeconds: number;
  /** This process's CPU (user+system) during the revocation pass: robust to a busy machine. */
  revokeCpuSeconds: number;
  /** What runDue() said it handled. */
  handled: number;
  /** Calls into the no-op secret type's revoke. */
  revokeCalls: number;
  /** Keys left under the lease store's `id/`, `due/` and `token/` after the pass (all must be 0). */
  remaining: { id: number; due: number; token: number };
  /** SQLite commits and write ops during the revocation pass. */
  commits: number;
  ops: number;
  rawSweepSeconds: number;
}

const TTL_S = 3_600;
const MOUNT_UUID = '00000000-0000-4000-8000-00000000b007';
const TOKENS = 100;

const positiveInt = (raw: string | undefined, name: string): number => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};

/** Leaf keys under `prefix`, walked a page at a time. */
async function countKeys(storage: Storage, prefix: string): Promise<number> {
  let total = 0;
  let after = '';
  for (;;) {
    const page = await storage.listPage(prefix, after, 1_000);
    if (page.length === 0) return total;
    for (const child of page) total += child.endsWith('/') ? await countKeys(storage, prefix + child) : 1;
    after = page[page.length - 1] as string;
  }
}

/** performance.md B.4's sweep, on its own file with the same durability as Coffer's store. */
function rawSweep(path: string, count: number): number {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE leases (id TEXT PRIMARY KEY, path TEXT, expire_at INTEGER, data BLOB) WITHOUT ROWID');
    db.exec('CREATE INDEX leases_expire ON leases (expire_at)');
    const insert = db.prepare('INSERT INTO leases (id, path, expire_at, data) VALUES (?, ?, ?, ?)');
    const data = randomBytes(200);
    const fill = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i += 1) insert.run(randomBytes(12).toString('base64url'), 'secret/creds/bench', 1_000, data);
    });
    for (let i = 0; i < count; i += 10_000) fill(i, Math.min(count, i + 10_000));
    const due = db.prepare<[number], string>('SELECT id FROM leases WHERE expire_at <= ? ORDER BY expire_at LIMIT 1000').pluck();
    const remove = db.prepare('DELETE FROM leases WHERE id = ?');
    const sweepPage = db.transaction((ids: string[]) => {
      for (const id of ids) remove.run(id);
    });
    const started = performance.now();
    for (;;) {
      const ids = due.all(2_000);
      if (ids.length === 0) break;
      sweepPage(ids);
    }
    return (performance.now() - started) / 1000;
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  exitWithParent();
  const [dir, countRaw, concurrencyRaw, revokeConcurrencyRaw] = process.argv.slice(2);
  if (dir === undefined) throw new Error('usage: lease-storm-child.js DIR COUNT CONCURRENCY');
  const count = positiveInt(countRaw, 'COUNT');
  const concurrency = positiveInt(concurrencyRaw, 'CONCURRENCY');
  const progressEvery = Math.max(1, Math.ceil(count / 5));
  const revokeConcurrency = revokeConcurrencyRaw === undefined ? undefined : positiveInt(revokeConcurrencyRaw, 'REVOKE_CONCURRENCY');

  const physical = createSqliteStorage({ path: join(dir, 'storm.db') });
  const barrier = createBarrier(physical);
  const rootKey = randomBytes(32);
  try {
    await barrier.initialize(rootKey);
    await barrier.unseal(rootKey);
  } finally {
    rootKey.fill(0);
  }
  const leaseStorage = scope(scope(barrier, SYSTEM_PREFIX), LEASE_PREFIX);

  const clock = createManualClock(Date.now());
  let revokeCalls = 0;
  const started = { at: 0 };
  const noopEngine: Engine = {
    type: 'bench-noop',
    paths: [],
    secretTypes: {
      noop: {
        revoke: async () => {
          revokeCalls += 1;
          if (revokeCalls % progressEvery === 0) {
            process.stderr.write(`revoked ${revokeCalls.toLocaleString('en-US')}/${count.toLocaleString('en-US')}, ${((performance.now() - started.at) / 1000).toFixed(1)} s\n`);
          }
        },
      },
    },
  };
  const leases = createLeaseManager({
    storage: leaseStorage,
    clock,
    logger: createLogger({ level: 'warn' }),
    engineForMount: (uuid) => (uuid === MOUNT_UUID ? noopEngine : undefined),
    ...(revokeConcurrency === undefined ? {} : { concurrency: revokeConcurrency }),
  });
  const tokenIds = Array.from({ length: TOKENS }, (_, i) => createHash('sha256').update(`storm-token-${i}`).digest('hex'));

  // Every registration happens at the same manual-clock instant with the same TTL: one expiry.
  const registerStarted = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next;
      next += 1;
      await leases.register({
        path: 'storm/creds/noop',
        mountUuid: MOUNT_UUID,
        mountPath: 'storm/',
        secretType: 'noop',
        internal: { username: `v-storm-${i.toString(36).padStart(8, '0')}` },
        tokenId: tokenIds[i % TOKENS] as string,
        renewable: false,
        ttl: TTL_S,
        maxTtl: TTL_S,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const registerSeconds = (performance.now() - registerStarted) / 1000;
  process.stderr.write(`registered ${count.toLocaleString('en-US')} leases expiring together in ${registerSeconds.toFixed(1)} s; revoking…\n`);

  clock.advance((TTL_S + 1) * 1000);
  const before = physical.stats();
  const cpuBefore = process.cpuUsage();
  started.at = performance.now();
  const handled = await leases.runDue();
  const revokeSeconds = (performance.now() - started.at) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const after = physical.stats();
  const remaining = {
    id: await countKeys(leaseStorage, 'id/'),
    due: await countKeys(leaseStorage, 'due/'),
    token: await countKeys(leaseStorage, 'token/'),
  };
  await physical.close();

  process.stderr.write(`revocation pass done in ${revokeSeconds.toFixed(1)} s; raw SQLite sweep of ${count.toLocaleString('en-US')} rows for scale…\n`);
  const rawSweepSeconds = rawSweep(join(dir, 'raw-sweep.db'), count);

  const result: StormResult = {
    count,
    registerSeconds,
    revokeSeconds,
    revokeCpuSeconds: (cpu.user + cpu.system) / 1e6,
    handled,
    revokeCalls,
    remaining,
    commits: after.commits - before.commits,
    ops: after.ops - before.ops,
    rawSweepSeconds,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`lease-storm-child: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
