/**
 * The contract between the harness and its scenarios.
 *
 * A scenario starts what it needs (server children, seed data) in `prepare` and hands back
 * cells; the harness interleaves every cell of every scenario round by round, summarises and
 * reports. New scenarios (dynamic PostgreSQL credentials, lease-scale restart, `coffer run`
 * start-up) are new modules added to the list in `scenarios/index.ts`; nothing else changes.
 *
 * Scenarios must never send traffic anywhere but 127.0.0.1, and must register every process
 * and temp dir they create with `ctx.cleanup`.
 */
import type { Cleanup } from './cleanup.js';
import type { BenchConfig } from './config.js';
import type { Spread } from './stats.js';

/** One measured run of one cell. */
export interface CellSample {
  round: number;
  /** Completed responses of any status. */
  requests: number;
  durationS: number;
  reqPerS: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses by HTTP status code. */
  statusCounts: Record<string, number>;
  non2xx: number;
  /** Connection errors and timeouts reported by the load generator. */
  errors: number;
  timeouts: number;
  /** The first few non-2xx responses, body truncated. */
  errorSamples: { status: number; body: string }[];
  /** Server child CPU (utime+stime) spent during the cell; undefined without /proc. */
  serverCpuS: number | undefined;
  /** The load generator's (this process's) CPU during the cell. */
  loadgenCpuS: number;
  /** Scenario-specific extra figures (e.g. a start-up time), reported as medians. */
  extra?: Record<string, number>;
}

/** Per-cell figures over all rounds. */
export interface CellSummary {
  cell: Cell;
  samples: CellSample[];
  reqPerS: Spread | undefined;
  p50Ms: Spread | undefined;
  p99Ms: Spread | undefined;
  non2xx: number;
  errors: number;
  /** Paired per-round ratio of req/s to the baseline cell. */
  ratioToBaseline: Spread | undefined;
  reqPerServerCpuS: Spread | undefined;
  /** Paired per-round ratio of req per server CPU-s to the baseline's: robust to a busy machine. */
  cpuEfficiencyToBaseline: Spread | undefined;
  /** Server CPU-seconds per wall second: 1.0 = one core saturated. */
  serverCores: Spread | undefined;
  loadgenCores: Spread | undefined;
}

export interface TargetVerdict {
  met: boolean | undefined;
  /** The figure that decided it, e.g. "52 % of baseline, p99 4.1 ms". */
  detail: string;
}

export interface Target {
  /** As printed next to the figures, e.g. "≥ 50 % of baseline, p99 < 10 ms". */
  text: string;
  evaluate(summary: CellSummary, all: ReadonlyMap<string, CellSummary>): TargetVerdict;
}

export interface Cell {
  /** Stable, unique across scenarios, e.g. "kv-read". */
  id: string;
  /** Row label in the table. */
  label: string;
  /** One line for the Method section: what exactly is sent and to what. */
  describe: string;
  targets: Target[];
  /** Runs the cell once for `durationS`; `round` is 0 for the unmeasured warm-up. */
  run(round: number, durationS: number): Promise<CellSample>;
  /** Throws when a server the cell depends on has died, with its stderr tail. */
  assertAlive(): void;
}

export interface BenchContext {
  config: BenchConfig;
  cleanup: Cleanup;
  log(line: string): void;
}

export interface PreparedScenario {
  cells: Cell[];
  /** Extra lines for the report's Method section (servers, data, settings). */
  method?: string[];
  /**
   * A response body the baseline server should serve (same bytes, same size); the first
   * scenario that offers one wins. Lets the baseline mirror the KV read reply.
   */
  baselineBody?: Buffer;
}

export interface Scenario {
  id: string;
  prepare(ctx: BenchContext): Promise<PreparedScenario>;
}
