/**
 * `npm run bench`: prepares every registered scenario (each starts its own server children),
 * starts the bare node:http baseline, then runs all cells interleaved round by round with
 * autocannon, then runs the one-shot scenarios (lease scale, PostgreSQL credentials, rotations,
 * watch fan-out, `coffer run` start-up, agent) once each, prints the tables and
 * writes BENCHMARKS.md at the repo root. BENCH_SKIP_LOAD=1 runs only the one-shot scenarios and
 * replaces only their sections of an existing BENCHMARKS.md.
 *
 * Must never leave a child process or temp dir behind (normal exit, error, SIGINT, time limit),
 * never send traffic beyond 127.0.0.1, and never print a token.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, type as osType } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BASELINE_CELL_ID, createBaselineCell } from './baseline.js';
import { createCleanup } from './cleanup.js';
import { readBenchConfig } from './config.js';
import { numberSetting } from './env-settings.js';
import { stopCurrentLoad } from './load.js';
import { EMPTY_REPORT, oneShotProblems, oneShotText, planOneShots, runOneShots, withOneShotSections } from './one-shot-run.js';
import { markdownReport, summarise, textTable, warnings, type Machine } from './report.js';
import type { BenchContext, Cell, CellSample } from './scenario.js';
import { oneShotScenarios, scenarios } from './scenarios/index.js';
import { formatNumber } from './stats.js';

const SETUP_LIMIT_S = 300;
/** Per-cell allowance on top of its duration: connection set-up, teardown, the pause. */
const CELL_OVERHEAD_S = 5;
const PAUSE_BETWEEN_CELLS_MS = 300;

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function machine(): Machine {
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    os: `${osType()} ${release()}`,
    loadAverage: loadavg().map((v) => v.toFixed(2)).join(' / '),
  };
}

class AbortedError extends Error {
  constructor(reason: string) {
    super(`aborted (${reason}); no report written`);
    this.name = 'AbortedError';
  }
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function describeSample(cell: Cell, s: CellSample): string {
  const cpu = s.serverCpuS === undefined ? '' : `, server ${formatNumber(s.serverCpuS / s.durationS, 2)} cores`;
  const bad = s.non2xx > 0 || s.errors > 0 ? `  !! ${s.non2xx} non-2xx, ${s.errors} errors` : '';
  return `${cell.label.padEnd(28)} ${formatNumber(s.reqPerS).padStart(8)} req/s  p50 ${formatNumber(s.p50Ms, 2)} ms  p99 ${formatNumber(s.p99Ms, 2)} ms${cpu}${bad}`;
}

async function main(): Promise<number> {
  const started = Date.now();
  const date = new Date();
  const reportDefault = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));
  const config = readBenchConfig(process.env, reportDefault);
  const cleanup = createCleanup(log);
  cleanup.onAbort(() => stopCurrentLoad());
  const ctx: BenchContext = { config, cleanup, log };
  const throwIfAborted = (): void => {
    const reason = cleanup.aborted();
    if (reason !== undefined) throw new AbortedError(reason);
  };
  const host = machine();
  // Validated now, so a bad setting fails before minutes of load.
  const oneShots = planOneShots(oneShotScenarios, process.env);

  try {
    if (process.env.BENCH_SKIP_LOAD === '1') {
      log('BENCH_SKIP_LOAD=1: no load cells; only the one-shot scenarios, whose sections replace those in the report');
      const results = await runOneShots(ctx, oneShots);
      process.stdout.write(oneShotText(results));
      if (config.reportPath !== undefined) {
        const previous = existsSync(config.reportPath) ? readFileSync(config.reportPath, 'utf8') : EMPTY_REPORT;
        writeFileSync(config.reportPath, withOneShotSections(previous, results));
        log(`\nupdated ${config.reportPath}`);
      }
      return oneShotProblems(results).length > 0 ? 1 : 0;
    }
    log(`coffer bench: ${config.rounds} round(s) × ${config.durationS} s per cell, ${config.connections} connections, warm-up ${config.warmupS} s per cell${config.quick ? ' (QUICK smoke run)' : ''}`);
    log(`machine: ${host.nproc} cores, ${host.cpuModel}, node ${host.node}, load ${host.loadAverage}`);

    const disarmSetup = cleanup.armWatchdog(SETUP_LIMIT_S, 'set-up');
    const cells: Cell[] = [];
    const scenarioMethod: string[] = [];
    let baselineBody: Buffer | undefined;
    for (const scenario of scenarios) {
      throwIfAborted();
      log(`preparing scenario ${scenario.id}…`);
      const prepared = await scenario.prepare(ctx);
      cells.push(...prepared.cells);
      scenarioMethod.push(...(prepared.method ?? []));
      baselineBody ??= prepared.baselineBody;
    }
    const baseline = await createBaselineCell(ctx, baselineBody);
    cells.unshift(baseline.cell);
    // BENCH_REFERENCE_WORK_US (default 20; 0 leaves it out): see createBaselineCell.
    const referenceWorkUs = numberSetting(process.env, 'BENCH_REFERENCE_WORK_US', 20, { min: 0, max: 1000 });
    if (referenceWorkUs > 0) cells.splice(1, 0, (await createBaselineCell(ctx, baselineBody, referenceWorkUs)).cell);
    disarmSetup();

    const ids = new Set<string>();
    for (const cell of cells) {
      if (ids.has(cell.id)) throw new Error(`two cells share the id "${cell.id}"; cell ids must be unique across scenarios`);
      ids.add(cell.id);
    }

    const plannedS = cells.length * (config.warmupS + CELL_OVERHEAD_S) + config.rounds * cells.length * (config.durationS + CELL_OVERHEAD_S);
    const disarmMeasurement = cleanup.armWatchdog(2 * plannedS + 60, 'the measurement');
    log(`${cells.length} cells; about ${Math.round(cells.length * (config.warmupS + config.rounds * config.durationS))} s of load`);

    const warmupProblems: string[] = [];
    if (config.warmupS > 0) {
      log(`warm-up (${config.warmupS} s per cell, not reported)…`);
      for (const cell of cells) {
        throwIfAborted();
        const s = await cell.run(0, config.warmupS);
        if (s.non2xx > 0 || s.errors > 0) {
          warmupProblems.push(`warm-up of ${cell.label}: ${s.non2xx} non-2xx, ${s.errors} connection errors; statuses ${JSON.stringify(s.statusCounts)}${s.errorSamples[0] ? `; first body: ${s.errorSamples[0].status} ${s.errorSamples[0].body}` : ''}`);
        }
        log(`  ${describeSample(cell, s)}`);
        await pause(PAUSE_BETWEEN_CELLS_MS);
      }
    }

    const samples = new Map<string, CellSample[]>(cells.map((c) => [c.id, []]));
    for (let round = 1; round <= config.rounds; round += 1) {
      log(`round ${round}/${config.rounds}`);
      for (const cell of cells) {
        throwIfAborted();
        const s = await cell.run(round, config.durationS);
        samples.get(cell.id)?.push(s);
        log(`  ${describeSample(cell, s)}`);
        await pause(PAUSE_BETWEEN_CELLS_MS);
      }
    }
    throwIfAborted();
    for (const cell of cells) cell.assertAlive();
    disarmMeasurement();

    const summaries = summarise(cells, samples, BASELINE_CELL_ID);
    const found = warnings(summaries, warmupProblems);
    process.stdout.write(`\n${textTable(summaries)}\n`);
    const unhealthy = [...summaries.values()].some((s) => s.non2xx > 0 || s.errors > 0) || warmupProblems.length > 0;
    if (found.length > 0) {
      const bar = '!'.repeat(78);
      process.stdout.write(`\n${bar}\nWARNINGS\n${found.map((w) => `  * ${w}`).join('\n')}\n${bar}\n`);
    }
    const oneShotResults = await runOneShots(ctx, oneShots);
    process.stdout.write(oneShotText(oneShotResults));

    const method = [
      `Load generator: autocannon (in the harness process), ${config.connections} connections, HTTP/1.1 keep-alive, no pipelining, 127.0.0.1 only.`,
      `Each server runs in its own child Node process, so the load generator never shares its event loop.`,
      `Cells are interleaved round by round (${cells.map((c) => c.label).join(' → ')}), ${config.rounds} round(s) of ${config.durationS} s each, after one unreported ${config.warmupS} s warm-up pass per cell.`,
      ...cells.map((c) => `${c.label}: ${c.describe}.`),
      ...scenarioMethod,
      'Latency: recorded per response by the harness at 10 µs resolution (p50/p99 of all responses in the round).',
      'Server CPU: utime+stime of the server child from /proc/<pid>/stat before and after each cell; req per server CPU-s = completed requests / CPU-seconds (performance.md Part C).',
    ];
    if (config.reportPath !== undefined) {
      writeFileSync(
        config.reportPath,
        withOneShotSections(markdownReport({ date, machine: host, config, method, summaries, warnings: found, elapsedS: (Date.now() - started) / 1000 }), oneShotResults),
      );
      log(`\nwrote ${config.reportPath}`);
    }
    return unhealthy || oneShotProblems(oneShotResults).length > 0 ? 1 : 0;
  } finally {
    await cleanup.runAll();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof AbortedError ? `bench ${error.message}` : `bench failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(error instanceof AbortedError ? 130 : 1);
  },
);
