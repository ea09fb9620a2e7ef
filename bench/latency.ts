/**
 * A fixed-bucket latency histogram with 10 µs resolution up to 10 s.
 *
 * autocannon's own histogram keeps whole milliseconds, too coarse for a 2 ms p50, so the
 * harness records each response time itself. Recording must stay O(1) and allocation-free:
 * it runs in the load generator for every response.
 */

export interface LatencyHistogram {
  record(ms: number): void;
  count(): number;
  /** The latency in ms at or below which `p` percent of responses fell; NaN when empty. */
  percentile(p: number): number;
}

const BUCKET_MS = 0.01;
const BUCKETS = 1_000_000;

export function createLatencyHistogram(): LatencyHistogram {
  const counts = new Uint32Array(BUCKETS);
  let total = 0;
  return {
    record(ms) {
      const index = Math.min(BUCKETS - 1, Math.max(0, Math.floor(ms / BUCKET_MS)));
      counts[index] = (counts[index] ?? 0) + 1;
      total += 1;
    },
    count: () => total,
    percentile(p) {
      if (total === 0) return Number.NaN;
      const wanted = Math.max(1, Math.ceil((p / 100) * total));
      let seen = 0;
      for (let i = 0; i < BUCKETS; i += 1) {
        seen += counts[i] ?? 0;
        if (seen >= wanted) return (i + 1) * BUCKET_MS;
      }
      return BUCKETS * BUCKET_MS;
    },
  };
}
