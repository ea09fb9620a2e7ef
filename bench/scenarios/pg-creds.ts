/**
 * One-shot scenario "pg-creds" (issue 3 item 5; performance.md B.5 and C5): dynamic PostgreSQL
 * credentials per second through Coffer next to the raw rate of the same SQL issued by `pg`
 * directly, in the same run, against one throwaway scram-sha-256 cluster with PostgreSQL's
 * default durability.
 *
 * A cell runs issue + revoke cycles with W workers in flight for a window:
 *   raw per-table ×1 · raw per-table ×N · Coffer per-table ×N · raw group ×N · Coffer group ×N
 * Cells are interleaved round by round (order reversed every other round) after one unreported
 * warm-up window each; ratios are paired per round. BENCH_SKIP_PG=1 skips it; BENCH_PG_WARMUP_S, BENCH_PG_ROUNDS,
 * BENCH_PG_WINDOW_S and BENCH_PG_CONCURRENCY tune it; BENCH_QUICK=1 shortens it.
 *
 * Must register the cluster and the server with cleanup and never print a password or token.
 */
import { loadavg } from 'node:os';
import { startCofferServer } from '../coffer-server.js';
import { runCycleWindow, type CycleOutcome, type WindowResult } from '../cycle-loop.js';
import { DURABLE_SETTINGS, pgUnavailable, startBenchPg } from '../bench-pg.js';
import { isOn, isQuick, numberSetting } from '../env-settings.js';
import { createLoopbackClient } from '../loopback-http.js';
import type { Figure, OneShotResult, OneShotScenario } from '../one-shot.js';
import { cofferCycle, configureCoffer, prepareDatabase, rawStatements, READERS_ROLE, TEMPLATES, type Template } from '../pg-creds-setup.js';
import { createRawDriver } from '../pg-raw.js';
import { processCpuSeconds } from '../proc-cpu.js';
import { percentile } from '../sample-stats.js';
import type { BenchContext } from '../scenario.js';
import { formatNumber, formatSpread, pairedRatios, spread } from '../stats.js';

const TITLE = 'Dynamic PostgreSQL credentials';
const RATIO_TARGET = 0.8;

interface PgCredsConfig {
  rounds: number;
  windowS: number;
  warmupS: number;
  concurrency: number;
}

interface CellPlan {
  id: string;
  label: string;
  side: 'raw' | 'coffer';
  template: Template;
  workers: number;
  cycle(worker: number): Promise<CycleOutcome>;
}

interface CellRecord {
  plan: CellPlan;
  windows: WindowResult[];
  /** Coffer child CPU-seconds per window (Coffer cells only). */
  serverCpuS: (number | undefined)[];
}

const percent = (v: number): string => `${formatNumber(v * 100)} %`;
const perS = (v: number): string => `${formatNumber(v)}/s`;
const ms = (v: number | undefined): string => (v === undefined ? 'n/a' : `${formatNumber(v, 1)} ms`);

function readConfig(env: NodeJS.ProcessEnv): PgCredsConfig {
  const quick = isQuick(env);
  return {
    rounds: numberSetting(env, 'BENCH_PG_ROUNDS', quick ? 1 : 3, { min: 1, max: 20, integer: true }),
    windowS: numberSetting(env, 'BENCH_PG_WINDOW_S', quick ? 1.5 : 5, { min: 0.5, max: 120 }),
    // 3 s, not 1: a fresh server spent ~0.9 s of CPU on V8's compiler threads in the 8 s after a
    // 1 s warm-up (measured per thread from /proc), and ~0.1 s in the next 8 s. The raw side's
    // harness warms up the same way; the ratio is meant to compare steady states.
    warmupS: quick ? 0.5 : numberSetting(env, 'BENCH_PG_WARMUP_S', 3, { min: 0, max: 60 }),
    concurrency: numberSetting(env, 'BENCH_PG_CONCURRENCY', 4, { min: 1, max: 32, integer: true }),
  };
}

function cellFigure(record: CellRecord): Figure {
  const { plan, windows } = record;
  const rate = spread(windows.map((w) => w.perSecond));
  const issue = windows.flatMap((w) => w.issueMs);
  const revoke = windows.flatMap((w) => w.revokeMs);
  const cycles = windows.reduce((n, w) => n + w.cycles, 0);
  const retried = windows.reduce((n, w) => n + w.retriedAttempts, 0);
  const failed = windows.reduce((n, w) => n + w.failed, 0);
  const parts = [`issue p50 ${ms(percentile(issue, 50))} p99 ${ms(percentile(issue, 99))}`, `revoke p50 ${ms(percentile(revoke, 50))}`, `${formatNumber(cycles)} cycles`];
  if (plan.side === 'raw') parts.push(`${percent(retried / Math.max(1, 2 * cycles + retried))} of transactions hit a conflict and were retried`);
  if (failed > 0) parts.push(`${formatNumber(failed)} failed`);
  if (plan.side === 'coffer') {
    const cpuPerCycle = spread(record.serverCpuS.map((cpu, i) => (cpu === undefined || (windows[i]?.cycles ?? 0) === 0 ? undefined : (cpu * 1000) / (windows[i]?.cycles ?? 1))));
    if (cpuPerCycle !== undefined) parts.push(`Coffer CPU ${formatNumber(cpuPerCycle.median, 2)} ms per cycle`);
  }
  return { label: plan.label, value: `${formatSpread(rate, perS)} credentials`, note: parts.join('; ') };
}

function ratioFigure(label: string, coffer: CellRecord, raw: CellRecord, targetText: string): Figure {
  const ratio = spread(pairedRatios(coffer.windows.map((w) => w.perSecond), raw.windows.map((w) => w.perSecond)));
  return {
    label,
    value: formatSpread(ratio, percent),
    note: `paired per round: ${coffer.plan.label} / ${raw.plan.label}`,
    target: { text: targetText, met: ratio === undefined ? undefined : ratio.median >= RATIO_TARGET },
  };
}

async function runPgCreds(ctx: BenchContext, config: PgCredsConfig): Promise<OneShotResult> {
  const started = new Date();
  const load = loadavg().map((v) => v.toFixed(2)).join(' / ');
  const limitS = 180 + 5 * (config.warmupS + config.rounds * config.windowS) * 3;
  const disarm = ctx.cleanup.armWatchdog(limitS, 'the PostgreSQL credential run');
  const problems: string[] = [];
  const n = config.concurrency;
  try {
    const cluster = await startBenchPg(ctx, 'pg-creds', { settings: DURABLE_SETTINGS });
    const db = await prepareDatabase(cluster);
    const server = await startCofferServer(ctx, 'coffer-pg-creds');
    ctx.log(`  PostgreSQL on 127.0.0.1:${cluster.port}, Coffer pid ${server.child.pid} at ${server.url}`);
    const api = createLoopbackClient(server.url, server.rootToken, n + 2);
    ctx.cleanup.add('pg-creds HTTP client', () => api.close());
    await configureCoffer(api, cluster, db, n);

    const stopped = (): boolean => ctx.cleanup.aborted() !== undefined;
    const raw = async (template: Template, workers: number) => {
      const driver = await createRawDriver({ url: db.url(), workers, tag: template === 'group' ? 'grp' : 'tbl', statements: rawStatements(template) });
      ctx.cleanup.add(`raw pg driver ${template} ×${workers}`, () => driver.close());
      return driver;
    };
    const connections = (k: number): string => `${k} connection${k === 1 ? '' : 's'}`;
    const rawTableN = await raw('per-table', n);
    // With one worker the 1-connection cell would be the same-concurrency cell run twice.
    const rawTable1 = n === 1 ? undefined : await raw('per-table', 1);
    const rawGroupN = await raw('group', n);
    const plans: CellPlan[] = [
      ...(rawTable1 === undefined ? [] : [{ id: 'raw-table-1', label: 'Raw pg, per-table GRANT, 1 connection', side: 'raw', template: 'per-table', workers: 1, cycle: (w: number) => rawTable1.cycle(w) } satisfies CellPlan]),
      { id: 'raw-table-n', label: `Raw pg, per-table GRANT, ${connections(n)}`, side: 'raw', template: 'per-table', workers: n, cycle: (w) => rawTableN.cycle(w) },
      { id: 'coffer-table', label: `Coffer, per-table GRANT, ${n} in flight`, side: 'coffer', template: 'per-table', workers: n, cycle: cofferCycle(api, 'per-table') },
      { id: 'raw-group-n', label: `Raw pg, group role, ${connections(n)}`, side: 'raw', template: 'group', workers: n, cycle: (w) => rawGroupN.cycle(w) },
      { id: 'coffer-group', label: `Coffer, group role, ${n} in flight`, side: 'coffer', template: 'group', workers: n, cycle: cofferCycle(api, 'group') },
    ];
    const records = new Map<string, CellRecord>(plans.map((p) => [p.id, { plan: p, windows: [], serverCpuS: [] }]));

    const runWindow = async (plan: CellPlan, seconds: number): Promise<{ window: WindowResult; cpu: number | undefined }> => {
      const cpuBefore = processCpuSeconds(server.child.pid);
      const window = await runCycleWindow({ workers: plan.workers, durationMs: seconds * 1000, cycle: plan.cycle, stopped });
      const cpuAfter = processCpuSeconds(server.child.pid);
      if (server.child.exited() !== undefined) throw new Error(`the Coffer server died: ${server.child.exited() ?? ''}\n${server.child.stderrTail().join('\n')}`);
      return { window, cpu: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore };
    };

    ctx.log(`  warm-up: ${config.warmupS} s per cell (not reported)`);
    for (const plan of plans) {
      const { window } = await runWindow(plan, config.warmupS);
      if (plan.side === 'coffer' && window.failed > 0) problems.push(`warm-up of ${plan.label}: ${window.failed} failed cycles (${window.errors.join(' | ')})`);
    }
    for (let round = 1; round <= config.rounds; round += 1) {
      const order = round % 2 === 1 ? plans : [...plans].reverse();
      for (const plan of order) {
        if (stopped()) throw new Error('stopped');
        const { window, cpu } = await runWindow(plan, config.windowS);
        const record = records.get(plan.id) as CellRecord;
        record.windows.push(window);
        record.serverCpuS.push(plan.side === 'coffer' ? cpu : undefined);
        const bad = window.failed > 0 ? `  !! ${window.failed} failed: ${window.errors.join(' | ')}` : '';
        ctx.log(`  round ${round} ${plan.label.padEnd(42)} ${formatNumber(window.perSecond).padStart(5)}/s  issue p50 ${ms(percentile(window.issueMs, 50))}  revoke p50 ${ms(percentile(window.revokeMs, 50))}${window.retriedAttempts > 0 ? `  ${window.retriedAttempts} retried` : ''}${bad}`);
        if (plan.side === 'coffer' && window.failed > 0) problems.push(`round ${round}, ${plan.label}: ${window.failed} failed cycles (${window.errors.join(' | ')})`);
      }
    }

    await Promise.all([rawTableN, rawTable1, rawGroupN].map((d) => d?.close()));
    // Raw roles are named v-raw-…; everything else under v- is Coffer's.
    const leftover = (await db.roles('v-%')).filter((name) => !name.startsWith('v-raw-'));
    if (leftover.length > 0) problems.push(`${leftover.length} roles Coffer generated were left in the database after the run`);
    const rawLeftover = await db.roles('v-raw-%');
    if (rawLeftover.length > 0) problems.push(`${rawLeftover.length} roles of the raw driver were left in the database after the run`);
    for (const template of Object.keys(TEMPLATES)) {
      const listed = await api.call('LIST', `sys/leases/lookup/database/creds/${template}/`);
      const keys: unknown = listed.body?.data?.keys;
      if (listed.status === 200 && Array.isArray(keys) && keys.length > 0) problems.push(`${keys.length} ${template} leases were left in Coffer after the run`);
    }
    await server.child.stop();
    await cluster.stop();

    const rec = (id: string): CellRecord => records.get(id) as CellRecord;
    const cofferCycles = [rec('coffer-table'), rec('coffer-group')].flatMap((r) => r.windows);
    const cofferFailed = cofferCycles.reduce((sum, w) => sum + w.failed, 0);
    const cofferTotal = cofferCycles.reduce((sum, w) => sum + w.cycles + w.failed, 0);
    const figures: Figure[] = [
      ...plans.map((p) => cellFigure(rec(p.id))),
      ratioFigure(`Coffer / raw, per-table GRANT, ${n} in flight`, rec('coffer-table'), rec('raw-table-n'), `≥ ${percent(RATIO_TARGET)} of raw (same concurrency)`),
      ...(n === 1 ? [] : [ratioFigure('Coffer / raw, per-table GRANT, against raw on 1 connection', rec('coffer-table'), rec('raw-table-1'), `≥ ${percent(RATIO_TARGET)} of raw on 1 connection (C5 target 1)`)]),
      ratioFigure(`Coffer / raw, group role, ${n} in flight`, rec('coffer-group'), rec('raw-group-n'), `≥ ${percent(RATIO_TARGET)} of raw at ${connections(n)} (C5 target 3)`),
      {
        label: `Failed Coffer cycles at ${n} in flight`,
        value: `${formatNumber(cofferFailed)} of ${formatNumber(cofferTotal)}`,
        note: 'measured windows, both templates; a failed issue or revoke is any non-2xx',
        target: { text: '0 % (C5 target 2)', met: cofferTotal === 0 ? undefined : cofferFailed === 0 },
      },
    ];
    return {
      title: TITLE,
      summary: `Measured ${started.toISOString()}: ${config.rounds} round(s) × ${formatNumber(config.windowS, 1)} s per cell, ${n} in flight; load average at start ${load} on this shared 2-core machine (Coffer, PostgreSQL and the harness share the cores).`,
      figures,
      method: [
        'Issue 3 item 5 / performance.md B.5 and C5. Runs once per `npm run bench`, after the load cells (`BENCH_SKIP_PG=1` skips it; `BENCH_PG_ROUNDS`, `BENCH_PG_WINDOW_S`, `BENCH_PG_WARMUP_S`, `BENCH_PG_CONCURRENCY` tune it).',
        `PostgreSQL: a throwaway cluster from \`test/helpers/pg-cluster.ts\` (\`startPgCluster\`: initdb with scram-sha-256, run as the postgres OS user on a free 127.0.0.1 port) with PostgreSQL's default durability (fsync, full_page_writes, synchronous_commit on) as in B.5; a scratch database with ${2} one-row tables and a NOLOGIN group role \`${READERS_ROLE}\` holding SELECT on them.`,
        `Coffer: its own dev-mode child (\`coffer-child.js\`, SQLite, no audit device), \`database/\` mounted, connection \`pg\` with \`max_open_connections: ${n}\`, two roles (default_ttl 1h): per-table = \`${TEMPLATES['per-table'].creation.join(' ')}\` revoked by \`${TEMPLATES['per-table'].revocation.join(' ')}\`; group = \`${TEMPLATES.group.creation.join(' ')}\` revoked by \`${TEMPLATES.group.revocation.join(' ')}\`.`,
        `A cycle is one credential's life: Coffer = \`GET /v1/database/creds/<role>\` then \`PUT /v1/sys/leases/revoke\` of its lease (keep-alive node:http, root token); raw = the same rendered statements from the harness with \`pg\` on a dedicated connection per worker, one transaction per step (BEGIN, one query per statement, COMMIT), a 20-character password and a name of Coffer's length. Raw transactions that hit SQLSTATE 40001/40P01 or "tuple concurrently updated" are rolled back and retried with Coffer's backoff (5 ms·2ⁿ jittered, ≤ 6 attempts) and counted.`,
        `Each worker runs cycles back to back for the window; cycles still running at its end are awaited and counted, and the rate divides by the real elapsed time. Cells are interleaved (${plans.map((p) => p.label).join(' → ')}, reversed every other round) after one unreported ${config.warmupS} s warm-up window each; Coffer/raw ratios are paired per round, figures are median (min–max) over rounds, latency percentiles pooled over rounds.`,
        'Afterwards no generated role may remain in the database and no lease under `database/creds/` in Coffer.',
      ],
      problems,
    };
  } finally {
    disarm();
  }
}

export const pgCredsScenario: OneShotScenario = {
  id: 'pg-creds',
  title: TITLE,
  plan(env) {
    if (isOn(env, 'BENCH_SKIP_PG')) return { skipped: 'BENCH_SKIP_PG=1' };
    const config = readConfig(env);
    const unavailable = pgUnavailable();
    if (unavailable !== undefined) return { skipped: unavailable };
    return { run: (ctx) => runPgCreds(ctx, config) };
  },
};
