import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isRotationDue, nextRotationAt, secondsUntilRotation } from './static-schedule.js';

const at = (iso: string): number => Date.parse(iso);

test('a period is due that many seconds after the last rotation', () => {
  const timing = { kind: 'period', periodSeconds: 3600 } as const;
  const last = at('2026-01-01T12:00:00Z');
  assert.equal(nextRotationAt(timing, last, last), at('2026-01-01T13:00:00Z'));
  assert.equal(isRotationDue(timing, last, at('2026-01-01T12:59:59Z')), false);
  assert.equal(isRotationDue(timing, last, at('2026-01-01T13:00:00Z')), true);
  assert.equal(secondsUntilRotation(timing, last, at('2026-01-01T12:30:00.500Z')), 1799);
  assert.equal(secondsUntilRotation(timing, last, at('2026-01-02T00:00:00Z')), 0, 'never negative');
});

test('a schedule without a window is due at its next match and stays due until it rotates', () => {
  const timing = { kind: 'schedule', schedule: '0 3 * * *', windowSeconds: 0 } as const;
  const last = at('2026-01-01T12:00:00Z');
  assert.equal(nextRotationAt(timing, last, last), at('2026-01-02T03:00:00Z'));
  assert.equal(isRotationDue(timing, last, at('2026-01-02T02:59:00Z')), false);
  assert.equal(isRotationDue(timing, last, at('2026-01-05T10:00:00Z')), true, 'a missed match rotates when Coffer is back');
});

test('a schedule with a window skips a match whose window closed while nothing rotated', () => {
  const timing = { kind: 'schedule', schedule: '0 3 * * *', windowSeconds: 3600 } as const;
  const last = at('2026-01-01T12:00:00Z');
  assert.equal(isRotationDue(timing, last, at('2026-01-02T03:30:00Z')), true, 'inside the window');
  assert.equal(isRotationDue(timing, last, at('2026-01-02T04:00:00Z')), false, 'the window has closed');
  assert.equal(nextRotationAt(timing, last, at('2026-01-02T05:00:00Z')), at('2026-01-03T03:00:00Z'));
  assert.equal(secondsUntilRotation(timing, last, at('2026-01-02T05:00:00Z')), 22 * 3600);
  // After rotating at 03:10, the same match does not fire again.
  assert.equal(isRotationDue(timing, at('2026-01-02T03:10:00Z'), at('2026-01-02T03:20:00Z')), false);
});
