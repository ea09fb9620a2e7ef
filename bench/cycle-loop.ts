/**
 * Runs one measurement window of a two-step cycle (issue a credential, then revoke it) with a
 * fixed number of workers in flight, and collects completed cycles, per-step latencies and
 * failures. Both the raw PostgreSQL driver and the Coffer driver plug into it, so they are timed
 * by the same code.
 *
 * A cycle that started before the window closed is awaited and counted; the rate divides by the
 * real elapsed time, so the tail is neither lost nor free. Must never start a cycle after the
 * window closed or after the run was asked to stop.
 */

export interface CycleOutcome {
  ok: boolean;
  issueMs: number;
  revokeMs: number;
  /** Attempts that failed and were retried inside the cycle (e.g. tuple concurrently updated). */
  retriedAttempts: number;
  /** Why the cycle failed, when !ok; must carry no password or token. */
  error?: string;
}

export interface WindowResult {
  cycles: number;
  failed: number;
  retriedAttempts: number;
  seconds: number;
  /** Completed (successful) cycles per second. */
  perSecond: number;
  issueMs: number[];
  revokeMs: number[];
  /** The first few distinct failure messages. */
  errors: string[];
}

const MAX_ERRORS = 5;

export async function runCycleWindow(options: {
  workers: number;
  durationMs: number;
  cycle: (worker: number) => Promise<CycleOutcome>;
  stopped: () => boolean;
}): Promise<WindowResult> {
  const result: WindowResult = { cycles: 0, failed: 0, retriedAttempts: 0, seconds: 0, perSecond: 0, issueMs: [], revokeMs: [], errors: [] };
  const started = performance.now();
  const deadline = started + options.durationMs;
  const worker = async (index: number): Promise<void> => {
    while (performance.now() < deadline && !options.stopped()) {
      let outcome: CycleOutcome;
      try {
        outcome = await options.cycle(index);
      } catch (error) {
        outcome = { ok: false, issueMs: 0, revokeMs: 0, retriedAttempts: 0, error: (error as Error).message };
      }
      result.retriedAttempts += outcome.retriedAttempts;
      if (outcome.ok) {
        result.cycles += 1;
        result.issueMs.push(outcome.issueMs);
        result.revokeMs.push(outcome.revokeMs);
      } else {
        result.failed += 1;
        const message = outcome.error ?? 'failed';
        if (result.errors.length < MAX_ERRORS && !result.errors.includes(message)) result.errors.push(message);
      }
    }
  };
  await Promise.all(Array.from({ length: options.workers }, (_, i) => worker(i)));
  result.seconds = (performance.now() - started) / 1000;
  result.perSecond = result.cycles / result.seconds;
  return result;
}
