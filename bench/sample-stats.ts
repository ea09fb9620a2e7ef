/**
 * Percentiles over one sample of latencies (a list of per-operation or per-subscriber times),
 * for the one-shot scenarios where the whole sample fits in memory.
 *
 * Pure functions; must never invent a value for an empty sample (they return undefined).
 */

/** The nearest-rank percentile `p` (0–100) of `values`; undefined when there are none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export interface Distribution {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function distribution(values: readonly number[]): Distribution | undefined {
  if (values.length === 0) return undefined;
  return {
    n: values.length,
    p50: percentile(values, 50) as number,
    p99: percentile(values, 99) as number,
    max: values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY),
  };
}
