/**
 * One-shot scenario "lease-scale" (issue 3, item 5; performance.md C6–C8):
 *
 * 1. Two dev-mode data dirs are initialised by the real server (started once, stopped): one
 *    stays empty, the other gets BENCH_LEASES leases written through the lease layer by a task
 *    child (`lease-populate-child.js`), 512 registrations in flight.
 * 2. Both are restarted BENCH_LEASE_ROUNDS times, interleaved: spawn → first 200 from
 *    `/v1/sys/health` (polled every 5 ms), then VmRSS after a settle and after 1,000 requests.
 * 3. A revocation storm (`lease-storm-child.js`): BENCH_STORM_LEASES leases with one expiry
 *    against a no-op target, `runDue()` timed until none is left.
 *
 * Must register every child and temp dir with cleanup, and never log a token or a share.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { childEntry, startServerChild } from '../children.js';
import { databasePath } from '../dev-store.js';
import type { PopulateResult } from '../lease-populate-child.js';
import { leaseScaleSkipped, readLeaseScaleConfig, type LeaseScaleConfig } from '../lease-scale-config.js';
import type { StormResult } from '../lease-storm-child.js';
import type { Figure, OneShotResult, OneShotScenario } from '../one-shot.js';
import { measureRestart, type RestartSample } from '../restart-probe.js';
import type { BenchContext } from '../scenario.js';
import { formatNumber, formatSpread, spread, type Spread } from '../stats.js';
import { runTaskChild } from '../task-child.js';

const TITLE = 'Lease scale';
const READY_TARGET_MS = 1_000;
const RSS_TARGET_BYTES = 50e6;
/** The storm target: under 20 s for 100,000 leases; scaled linearly for other counts. */
const STORM_TARGET_S_PER_100K = 20;
const MB = 1e6;

const int = (v: number): string => formatNumber(v);
const ms = (v: number): string => `${formatNumber(v)} ms`;
const mb = (v: number): string => `${formatNumber(v / MB, 1)} MB`;
const seconds = (v: number): string => `${formatNumber(v, 1)} s`;
const cpuSeconds = (v: number): string => `${formatNumber(v, 2)} s`;

function parsePopulate(value: unknown): PopulateResult | undefined {
  const v = value as Partial<PopulateResult> | null;
  if (v === null || typeof v !== 'object' || typeof v.created !== 'number' || typeof v.seconds !== 'number' || !Array.isArray(v.sampleIds)) return undefined;
  return { created: v.created, seconds: v.seconds, sampleIds: v.sampleIds.filter((id): id is string => typeof id === 'string') };
}

function parseStorm(value: unknown): StormResult | undefined {
  const v = value as Partial<StormResult> | null;
  if (v === null || typeof v !== 'object') return undefined;
  const numbers = [v.count, v.registerSeconds, v.revokeSeconds, v.revokeCpuSeconds, v.handled, v.revokeCalls, v.commits, v.ops, v.rawSweepSeconds];
  if (numbers.some((n) => typeof n !== 'number') || typeof v.remaining !== 'object' || v.remaining === null) return undefined;
  return v as StormResult;
}

/** Bytes of the SQLite database and its WAL/SHM files. */
function databaseBytes(dataDir: string): number {
  const base = databasePath(dataDir);
  const names = new Set(readdirSync(dataDir).map((n) => join(dataDir, n)));
  return ['', '-wal', '-shm'].reduce((sum, suffix) => sum + (names.has(base + suffix) ? statSync(base + suffix).size : 0), 0);
}

/** Lets the real server initialise a dev data dir (keyring, seal, `secret/` mount), then stops it. */
async function initialiseDataDir(ctx: BenchContext, name: string): Promise<string> {
  const dir = ctx.cleanup.tempDir(name);
  const child = await startServerChild({
    name: `${name}-init`,
    entry: childEntry('coffer-child.js'),
    args: [dir],
    cleanup: ctx.cleanup,
    parseReady: (value) => (value !== null && typeof value === 'object' ? {} : undefined),
  });
  await child.stop();
  return dir;
}

const medianOf = (values: (number | undefined)[]): Spread | undefined => spread(values);

function burstProblems(label: string, sample: RestartSample, leaseLookupExpected: number): string[] {
  const out: string[] = [];
  for (const [kind, statuses] of Object.entries(sample.burst)) {
    const expected = kind === 'lease lookup' ? String(leaseLookupExpected) : '200';
    const unexpected = Object.entries(statuses).filter(([status]) => status !== expected);
    if (unexpected.length > 0) out.push(`${label}: burst ${kind} answered ${JSON.stringify(Object.fromEntries(unexpected))} (expected ${expected})`);
  }
  return out;
}

async function runLeaseScale(ctx: BenchContext, config: LeaseScaleConfig): Promise<OneShotResult> {
  const started = new Date();
  const load = loadavg().map((v) => v.toFixed(2)).join(' / ');
  const profFlags = config.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${config.cpuProfDir}`];
  const limitS = 600 + config.leases / 250 + config.stormLeases / 250;
  const disarm = ctx.cleanup.armWatchdog(limitS, 'the lease-scale run');
  const problems: string[] = [];
  try {
    ctx.log(`lease scale: ${int(config.leases)} leases, storm of ${int(config.stormLeases)}, ${config.rounds} restart round(s)`);
    const [emptyDir, leasedDir] = await Promise.all([initialiseDataDir(ctx, 'lease-empty'), initialiseDataDir(ctx, 'lease-full')]);

    ctx.log(`  populating ${int(config.leases)} leases (${config.concurrency} in flight)…`);
    const populate = await runTaskChild({
      name: 'lease-populate',
      entry: childEntry('lease-populate-child.js'),
      args: [leasedDir, String(config.leases), String(config.concurrency), '1000'],
      cleanup: ctx.cleanup,
      log: ctx.log,
      timeoutMs: limitS * 1000,
      nodeFlags: profFlags,
      parse: parsePopulate,
    });
    if (populate.created !== config.leases) problems.push(`populate created ${populate.created} leases, not ${config.leases}`);
    const diskBytes = databaseBytes(leasedDir);
    const emptyDiskBytes = databaseBytes(emptyDir);
    ctx.log(`  ${int(populate.created)} leases in ${seconds(populate.seconds)} (${int(populate.created / populate.seconds)}/s); database ${mb(diskBytes)}`);

    const empty: RestartSample[] = [];
    const leased: RestartSample[] = [];
    for (let round = 1; round <= config.rounds; round += 1) {
      for (const [label, dir, samples] of [
        ['empty', emptyDir, empty],
        ['leased', leasedDir, leased],
      ] as const) {
        const sample = await measureRestart({
          name: `lease-restart-${label}`,
          dataDir: dir,
          cleanup: ctx.cleanup,
          settleMs: config.settleMs,
          burstRequests: config.burstRequests,
          leaseIds: populate.sampleIds,
        });
        samples.push(sample);
        ctx.log(
          `  round ${round} ${label.padEnd(6)}: ready ${ms(sample.readyMs)} (CPU ${sample.cpuAtReadyS === undefined ? 'n/a' : cpuSeconds(sample.cpuAtReadyS)}), first lease lookup ${sample.firstLeaseLookupStatus} at ${ms(sample.firstLeaseLookupMs)}, ` +
            `RSS ${sample.rssSettledBytes === undefined ? 'n/a' : mb(sample.rssSettledBytes)} settled, ${sample.rssAfterBurstBytes === undefined ? 'n/a' : mb(sample.rssAfterBurstBytes)} after burst`,
        );
        problems.push(...burstProblems(`${label} server, round ${round}`, sample, label === 'leased' ? 200 : 400));
        if (label === 'leased' && sample.firstLeaseLookupStatus !== 200) problems.push(`round ${round}: the first lease lookup on the leased server answered ${sample.firstLeaseLookupStatus}`);
      }
    }

    ctx.log(`  revocation storm: ${int(config.stormLeases)} leases expiring together…`);
    const storm = await runTaskChild({
      name: 'lease-storm',
      entry: childEntry('lease-storm-child.js'),
      args: [ctx.cleanup.tempDir('lease-storm'), String(config.stormLeases), String(config.concurrency)],
      cleanup: ctx.cleanup,
      log: ctx.log,
      timeoutMs: limitS * 1000,
      nodeFlags: profFlags,
      parse: parseStorm,
    });
    const left = storm.remaining.id + storm.remaining.due + storm.remaining.token;
    if (left > 0) problems.push(`storm: ${JSON.stringify(storm.remaining)} lease keys left after runDue()`);
    if (storm.revokeCalls !== storm.count) problems.push(`storm: the no-op target saw ${storm.revokeCalls} revocations for ${storm.count} leases`);
    if (storm.handled !== storm.count) problems.push(`storm: runDue() reported ${storm.handled} handled for ${storm.count} leases`);

    const readyLeased = medianOf(leased.map((s) => s.readyMs));
    const readyEmpty = medianOf(empty.map((s) => s.readyMs));
    const rssDiff = medianOf(leased.map((s, i) => {
      const other = empty[i]?.rssAfterBurstBytes;
      return s.rssAfterBurstBytes === undefined || other === undefined ? undefined : s.rssAfterBurstBytes - other;
    }));
    const rssSettledDiff = medianOf(leased.map((s, i) => {
      const other = empty[i]?.rssSettledBytes;
      return s.rssSettledBytes === undefined || other === undefined ? undefined : s.rssSettledBytes - other;
    }));
    const stormTargetS = (STORM_TARGET_S_PER_100K * config.stormLeases) / 100_000;
    const n = int(config.leases);
    const restarts = `median of ${config.rounds} restart(s), min–max`;

    const figures: Figure[] = [
      { label: `Create ${n} leases (lease layer, ${config.concurrency} in flight)`, value: `${int(populate.created / populate.seconds)} leases/s`, note: `${seconds(populate.seconds)} in all` },
      { label: 'Database on disk', value: `${mb(diskBytes)} (${int((diskBytes - emptyDiskBytes) / Math.max(1, populate.created))} B per lease)`, note: 'coffer.db + WAL after the populate child closed it' },
      {
        label: `Restart to ready, ${n} leases`,
        value: formatSpread(readyLeased, ms),
        note: `spawn → first 200 from /v1/sys/health; ${restarts}`,
        target: { text: `< ${formatNumber(READY_TARGET_MS / 1000)} s`, met: readyLeased === undefined ? undefined : readyLeased.median < READY_TARGET_MS },
      },
      { label: 'Restart to ready, empty server', value: formatSpread(readyEmpty, ms), note: restarts },
      { label: `First lease lookup after ready, ${n} leases`, value: formatSpread(medianOf(leased.map((s) => s.firstLeaseLookupMs)), ms), note: 'spawn → answer to PUT /v1/sys/leases/lookup sent right after ready' },
      { label: `Server CPU to ready, ${n} leases / empty`, value: `${formatSpread(medianOf(leased.map((s) => s.cpuAtReadyS)), cpuSeconds)} / ${formatSpread(medianOf(empty.map((s) => s.cpuAtReadyS)), cpuSeconds)}`, note: 'utime+stime of the child when ready; less moved by machine load' },
      { label: `RSS, ${n} leases (settled / after burst)`, value: `${formatSpread(medianOf(leased.map((s) => s.rssSettledBytes)), mb)} / ${formatSpread(medianOf(leased.map((s) => s.rssAfterBurstBytes)), mb)}`, note: `VmRSS ${config.settleMs / 1000} s after ready / after ${int(config.burstRequests)} requests` },
      { label: 'RSS, empty server (settled / after burst)', value: `${formatSpread(medianOf(empty.map((s) => s.rssSettledBytes)), mb)} / ${formatSpread(medianOf(empty.map((s) => s.rssAfterBurstBytes)), mb)}`, note: 'same' },
      {
        label: `RSS above empty, ${n} leases`,
        value: `${formatSpread(rssDiff, mb)} after burst (settled: ${formatSpread(rssSettledDiff, mb)})`,
        note: 'per-round difference leased − empty, median',
        target: { text: `< ${formatNumber(RSS_TARGET_BYTES / MB)} MB`, met: rssDiff === undefined ? undefined : rssDiff.median < RSS_TARGET_BYTES },
      },
      { label: `Storm: register ${int(storm.count)} leases with one expiry`, value: `${int(storm.count / storm.registerSeconds)} leases/s`, note: seconds(storm.registerSeconds) },
      {
        label: `Storm: revoke ${int(storm.count)} expired leases`,
        value: `${seconds(storm.revokeSeconds)} (${int(storm.count / storm.revokeSeconds)} leases/s)`,
        note: `runDue() to empty; ${formatNumber(storm.revokeCpuSeconds, 1)} CPU-s; ${left} keys left; ${int(storm.commits)} SQLite commits, ${int(storm.ops)} write ops`,
        target: {
          text: config.stormLeases === 100_000 ? `< ${STORM_TARGET_S_PER_100K} s` : `< ${formatNumber(stormTargetS, 1)} s (${STORM_TARGET_S_PER_100K} s per 100,000)`,
          met: storm.revokeSeconds < stormTargetS && left === 0,
        },
      },
      { label: `Raw SQLite sweep of ${int(storm.count)} rows, for scale`, value: seconds(storm.rawSweepSeconds), note: 'performance.md B.4 method, synchronous=FULL; storm / raw = ' + formatNumber(storm.revokeSeconds / storm.rawSweepSeconds, 1) + '×' },
    ];

    return {
      title: TITLE,
      summary: `Measured ${started.toISOString()} with ${n} leases and a storm of ${int(config.stormLeases)}; load average at start ${load} on this shared machine${config.leases < 1_000_000 ? ' — **fewer than 1,000,000 leases: not the issue\'s figure**' : ''}.`,
      figures,
      method: [
        'Issue 3 item 5 / performance.md C6–C8. Runs once per `npm run bench`, after the load cells (`BENCH_SKIP_LEASES=1` skips it, `BENCH_SKIP_LOAD=1` runs only this and updates only this section).',
        'Two dev-mode SQLite data dirs are initialised by the real server (`coffer-child.js`, started and stopped once); one stays empty.',
        `Populate: a task child opens the other data dir as src/main.ts does (\`createSqliteStorage\` on coffer.db, \`createBarrier\`, \`createShamirSeal\` unsealed with the stored dev share) and calls \`createLeaseManager(…).register\` over \`scope(scope(barrier, 'sys/'), 'expire/')\` ${n} times, ${config.concurrency} in flight so group commit batches them; leases belong to the \`secret/\` mount, 1,000 owning tokens, TTLs spread over 2–7 days so none falls due during the run.`,
        `Restart: \`coffer-restart-child.js\` (\`startServer\`, dev mode — it unseals itself from the stored share) on a port picked beforehand; the harness polls \`GET /v1/sys/health\` every 5 ms from the spawn (fresh connection per poll) and takes the first 200 as ready. The database is warm in the OS page cache (just written). Empty and leased servers alternate, ${config.rounds} round(s).`,
        `Memory: VmRSS from /proc/<pid>/status ${config.settleMs / 1000} s after ready, and after a burst of ${int(config.burstRequests)} requests (16 in flight, fresh connections): a third each \`GET /v1/sys/health\`, \`GET /v1/auth/token/lookup-self\` and \`PUT /v1/sys/leases/lookup\` on 1,000 sampled lease ids (the empty server answers those 400).`,
        `Storm: a task child builds a lease manager the same way on a fresh SQLite file (barrier initialised with a random root key), with an engine whose \`secretTypes.noop.revoke\` does nothing, registers ${int(config.stormLeases)} leases at one manual-clock instant with one TTL, advances the clock past it, times \`runDue()\` and then counts the keys left under \`id/\`, \`due/\` and \`token/\` (must be 0). For scale, the same child then runs performance.md B.4's raw sweep on a separate file: as many plain rows (200-byte blobs, indexed expiry, no encryption) deleted 1,000 per transaction at synchronous=FULL.`,
      ],
      problems,
    };
  } finally {
    disarm();
  }
}

export const leaseScaleScenario: OneShotScenario = {
  id: 'lease-scale',
  title: TITLE,
  plan(env) {
    if (leaseScaleSkipped(env)) return { skipped: 'BENCH_SKIP_LEASES=1' };
    const config = readLeaseScaleConfig(env);
    return { run: (ctx) => runLeaseScale(ctx, config) };
  },
};
