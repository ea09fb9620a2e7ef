/**
 * The contract for one-shot scenarios: measurements that run once per `npm run bench` (a
 * lease-scale restart, a revocation storm), not as interleaved autocannon cells. Each returns
 * a list of figures, some with a target and a verdict, that the harness prints as their own
 * table and writes as their own section of BENCHMARKS.md.
 *
 * Like load scenarios, they must register every process and temp dir with `ctx.cleanup` and
 * never send traffic beyond 127.0.0.1.
 */
import type { BenchContext } from './scenario.js';

export interface Verdict {
  /** As printed, e.g. "< 1 s". */
  text: string;
  /** undefined = could not be decided (no data). */
  met: boolean | undefined;
}

export interface Figure {
  label: string;
  /** Already formatted, with its unit and any spread: "412 ms (398–430)". */
  value: string;
  /** How it was obtained, in a few words: "median of 3 restarts". */
  note?: string;
  target?: Verdict;
}

export interface OneShotResult {
  /** The Markdown section title, e.g. "Lease scale". */
  title: string;
  /** One line under the title: when, on what, how big. */
  summary: string;
  figures: Figure[];
  /** Bullets for the section's Method paragraph. */
  method: string[];
  /**
   * Things that make the run unhealthy (wrong counts, non-2xx where none was expected); they
   * are printed as warnings and make `npm run bench` exit non-zero. A missed target is not one.
   */
  problems: string[];
}

/** A scenario ready to run, its settings already validated; or why it is skipped this run. */
export type OneShotPlan = { skipped: string } | { run(ctx: BenchContext): Promise<OneShotResult> };

export interface OneShotScenario {
  id: string;
  /** The report section's title; results carry the same. */
  title: string;
  /**
   * Reads and validates the scenario's settings. Called when the harness starts, so a bad
   * setting fails before minutes of load rather than after them.
   */
  plan(env: NodeJS.ProcessEnv): OneShotPlan;
}
