/**
 * When a static role rotates next: every `rotation_period` after the last rotation, or at the
 * next `rotation_schedule` match after it, within `rotation_window` if one is set (a match whose
 * window passed while Coffer was down is skipped, as in Vault; without a window a missed match
 * rotates as soon as Coffer is back).
 *
 * Pure functions of (timing, last rotation, now); the scheduler and static-creds' `ttl` share them.
 * Must never: report a rotation as due before its time, or a negative ttl.
 */
import { parseCron } from './cron.js';

export type RotationTiming =
  | { readonly kind: 'period'; readonly periodSeconds: number }
  | { readonly kind: 'schedule'; readonly schedule: string; readonly windowSeconds: number };

/** Vault's minimum rotation_period. */
export const MIN_ROTATION_PERIOD_SECONDS = 5;
/** Vault's minimum rotation_window. */
export const MIN_ROTATION_WINDOW_SECONDS = 3600;

/** The moment (ms) the next rotation becomes due; Infinity if a schedule never fires again. */
export function nextRotationAt(timing: RotationTiming, lastRotationMs: number, nowMs: number): number {
  if (timing.kind === 'period') return lastRotationMs + timing.periodSeconds * 1000;
  const cron = parseCron(timing.schedule);
  const windowMs = timing.windowSeconds * 1000;
  // With a window, the first match still open at `now` (c + window > now); the matches whose
  // window already closed are skipped.
  const from = windowMs > 0 ? Math.max(lastRotationMs, nowMs - windowMs) : lastRotationMs;
  return cron.next(from) ?? Infinity;
}

export function isRotationDue(timing: RotationTiming, lastRotationMs: number, nowMs: number): boolean {
  return nowMs >= nextRotationAt(timing, lastRotationMs, nowMs);
}

/** Whole seconds until the next rotation, as static-creds reports it (0 when due). */
export function secondsUntilRotation(timing: RotationTiming, lastRotationMs: number, nowMs: number): number {
  const next = nextRotationAt(timing, lastRotationMs, nowMs);
  if (!Number.isFinite(next)) return 0;
  return Math.max(0, Math.floor((next - nowMs) / 1000));
}
