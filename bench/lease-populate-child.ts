/**
 * Task child: fills a stopped dev-mode data dir with leases through the real lease layer
 * (`createLeaseManager` over the same storage views as src/main.ts), many registrations in
 * flight at once so SQLite group commit batches them, as a busy server would.
 *
 * Usage: lease-populate-child.js DATA_DIR COUNT CONCURRENCY SAMPLE
 * Progress goes to stderr; the result is ONE JSON line on stdout. The leases belong to the
 * `secret/` mount and expire 2–7 days from now, so none falls due while the benchmark runs.
 * Must never print the unseal share (dev-store reads and wipes it).
 */
import { createHash } from 'node:crypto';
import { systemClock } from '../src/core/clock.js';
import { createLeaseManager } from '../src/core/leases/lease-manager.js';
import { createLogger } from '../src/core/logger.js';
import { openDevStore } from './dev-store.js';
import { exitWithParent } from './task-child.js';

export interface PopulateResult {
  created: number;
  seconds: number;
  /** Every (COUNT / SAMPLE)-th lease id, for lookups against the restarted server. */
  sampleIds: string[];
}

const DAY_S = 86_400;
const TOKENS = 1_000;

const positiveInt = (raw: string | undefined, name: string): number => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};

async function main(): Promise<void> {
  exitWithParent();
  const [dataDir, countRaw, concurrencyRaw, sampleRaw] = process.argv.slice(2);
  if (dataDir === undefined) throw new Error('usage: lease-populate-child.js DATA_DIR COUNT CONCURRENCY SAMPLE');
  const count = positiveInt(countRaw, 'COUNT');
  const concurrency = positiveInt(concurrencyRaw, 'CONCURRENCY');
  const sampleEvery = Math.max(1, Math.floor(count / positiveInt(sampleRaw, 'SAMPLE')));
  const progressEvery = Math.min(100_000, Math.max(1, Math.ceil(count / 5)));

  const store = await openDevStore(dataDir);
  const mount = await store.secretMount('secret/');
  const leases = createLeaseManager({
    storage: store.leaseStorage,
    clock: systemClock,
    logger: createLogger({ level: 'warn' }),
    // Nothing falls due during the run, so nothing is ever revoked through this.
    engineForMount: () => undefined,
  });
  // Stand-ins for the HMAC'd ids of the tokens that own the leases, so the token index is real.
  const tokenIds = Array.from({ length: TOKENS }, (_, i) => createHash('sha256').update(`bench-token-${i}`).digest('hex'));

  const sampleIds: string[] = [];
  const started = performance.now();
  let lastReport = started;
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next;
      next += 1;
      const ttl = 2 * DAY_S + ((i * 7_919) % (5 * DAY_S));
      const record = await leases.register({
        path: 'secret/creds/bench',
        mountUuid: mount.uuid,
        mountPath: mount.path,
        secretType: 'bench',
        internal: { username: `v-bench-role-${i.toString(36).padStart(8, '0')}-${Math.floor(Date.now() / 1000)}` },
        tokenId: tokenIds[i % TOKENS] as string,
        renewable: true,
        ttl,
        maxTtl: ttl + DAY_S,
      });
      if (i % sampleEvery === 0) sampleIds.push(record.id);
      done += 1;
      if (done % progressEvery === 0) {
        const now = performance.now();
        const rate = (progressEvery / (now - lastReport)) * 1000;
        lastReport = now;
        process.stderr.write(`${done.toLocaleString('en-US')}/${count.toLocaleString('en-US')} leases, ${Math.round(rate).toLocaleString('en-US')}/s, ${((now - started) / 1000).toFixed(0)} s\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  const result: PopulateResult = { created: done, seconds, sampleIds };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`lease-populate-child: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
