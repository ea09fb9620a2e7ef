/**
 * Reusable target checks, stated as ratios to figures measured in the same run (performance.md
 * Part C), so a verdict never depends on how busy the shared machine was.
 *
 * Verdicts use medians over rounds; they must never pass a cell that has no data.
 */
import type { CellSummary, Target, TargetVerdict } from './scenario.js';
import { pairedRatios, spread, formatSpread, formatNumber } from './stats.js';

const percent = (v: number): string => `${formatNumber(v * 100)} %`;

/** Paired per-round req/s ratio to the baseline, median ≥ `fraction`. */
export function ratioToBaselineAtLeast(fraction: number): Target {
  return {
    text: `≥ ${percent(fraction)} of baseline req/s`,
    evaluate(summary): TargetVerdict {
      const ratio = summary.ratioToBaseline;
      if (ratio === undefined) return { met: undefined, detail: 'no baseline ratio' };
      return { met: ratio.median >= fraction, detail: `${formatSpread(ratio, percent)} of baseline` };
    },
  };
}

/** Median over rounds of the p99 latency < `ms`. */
export function p99Below(ms: number): Target {
  return {
    text: `p99 < ${ms} ms`,
    evaluate(summary): TargetVerdict {
      const p99 = summary.p99Ms;
      if (p99 === undefined) return { met: undefined, detail: 'no latency data' };
      return { met: p99.median < ms, detail: `p99 ${formatNumber(p99.median, 2)} ms` };
    },
  };
}

/** Paired per-round req/s ratio to another cell of the same run, median ≥ `fraction`. */
export function ratioToCellAtLeast(otherId: string, otherLabel: string, fraction: number): Target {
  return {
    text: `≥ ${percent(fraction)} of ${otherLabel} req/s (performance.md C8)`,
    evaluate(summary: CellSummary, all): TargetVerdict {
      const other = all.get(otherId);
      if (other === undefined) return { met: undefined, detail: `${otherLabel} not measured` };
      const ratio = spread(pairedRatios(summary.samples.map((s) => s.reqPerS), other.samples.map((s) => s.reqPerS)));
      if (ratio === undefined) return { met: undefined, detail: 'no paired rounds' };
      return { met: ratio.median >= fraction, detail: `${formatSpread(ratio, percent)} of ${otherLabel}` };
    },
  };
}
