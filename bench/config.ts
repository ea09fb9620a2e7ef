/**
 * Benchmark settings, read once from the environment and validated before anything starts.
 *
 * Must never start a process or send traffic: it only turns env vars into plain values.
 */

export interface BenchConfig {
  /** Measured seconds per cell per round. */
  durationS: number;
  /** Unmeasured seconds per cell before the first round, so JIT warm-up is not in round 1. */
  warmupS: number;
  rounds: number;
  connections: number;
  quick: boolean;
  /** Where the Markdown report goes; undefined skips writing it. */
  reportPath: string | undefined;
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, integer: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  const valid = Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value));
  if (!valid) throw new Error(`${name}=${JSON.stringify(raw)} is not a positive ${integer ? 'integer' : 'number'}; unset it to use ${fallback}`);
  return value;
}

function nonNegativeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${JSON.stringify(raw)} is not a number ≥ 0; unset it to use ${fallback}`);
  return value;
}

/**
 * BENCH_QUICK=1 is a smoke run (2 s × 1 round) whose figures are not meant to be kept; explicit
 * BENCH_DURATION_S / BENCH_ROUNDS still win over it.
 */
export function readBenchConfig(env: NodeJS.ProcessEnv, defaultReportPath: string): BenchConfig {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const durationS = positiveNumber(env, 'BENCH_DURATION_S', quick ? 2 : 10, false);
  const rounds = positiveNumber(env, 'BENCH_ROUNDS', quick ? 1 : 3, true);
  const connections = positiveNumber(env, 'BENCH_CONNECTIONS', 64, true);
  const warmupS = nonNegativeNumber(env, 'BENCH_WARMUP_S', quick ? 1 : 2);
  if (durationS > 300) throw new Error('BENCH_DURATION_S above 300 s is not allowed: the run must stay bounded in time');
  if (rounds > 20) throw new Error('BENCH_ROUNDS above 20 is not allowed: the run must stay bounded in time');
  if (warmupS > 60) throw new Error('BENCH_WARMUP_S above 60 s is not allowed');
  const reportRaw = env.BENCH_REPORT;
  const reportPath = reportRaw === '-' ? undefined : reportRaw !== undefined && reportRaw !== '' ? reportRaw : defaultReportPath;
  return { durationS, warmupS, rounds, connections, quick, reportPath };
}
