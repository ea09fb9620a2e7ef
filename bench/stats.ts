/**
 * Summary statistics over rounds: median with its min–max range, as performance.md Part C asks.
 *
 * Pure functions only; must never drop a round silently (undefined values are skipped and the
 * caller sees fewer values, not a fabricated one).
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: readonly (number | undefined)[]): Spread | undefined {
  const kept = values.filter((v): v is number => v !== undefined && Number.isFinite(v)).sort((a, b) => a - b);
  if (kept.length === 0) return undefined;
  const mid = Math.floor(kept.length / 2);
  const median = kept.length % 2 === 1 ? (kept[mid] as number) : ((kept[mid - 1] as number) + (kept[mid] as number)) / 2;
  return { median, min: kept[0] as number, max: kept[kept.length - 1] as number, n: kept.length };
}

/** Element-wise a[i] / b[i] for the rounds both have: the paired per-round ratio. */
export function pairedRatios(a: readonly (number | undefined)[], b: readonly (number | undefined)[]): (number | undefined)[] {
  return a.map((value, i) => {
    const other = b[i];
    return value === undefined || other === undefined || other === 0 ? undefined : value / other;
  });
}

/** `12,345` style thousands separators, fixed digits. */
export function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "median (min–max)", or just the median when there is one round. */
export function formatSpread(s: Spread | undefined, format: (v: number) => string): string {
  if (s === undefined) return 'n/a';
  if (s.n === 1 || s.min === s.max) return format(s.median);
  return `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}
