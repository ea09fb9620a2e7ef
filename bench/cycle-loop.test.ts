import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCycleWindow } from './cycle-loop.js';

test('counts successful and failed cycles apart, keeping each distinct error once', async () => {
  let calls = 0;
  const result = await runCycleWindow({
    workers: 2,
    // Stopped by count, not by the clock: a slow machine must not leave too few cycles to check.
    durationMs: 60_000,
    stopped: () => calls >= 9,
    cycle: async () => {
      calls += 1;
      await new Promise((resolve) => setImmediate(resolve));
      if (calls % 3 === 0) throw new Error('boom');
      if (calls % 3 === 1) return { ok: true, issueMs: 1, revokeMs: 2, retriedAttempts: 1 };
      return { ok: false, issueMs: 1, revokeMs: 0, retriedAttempts: 0, error: 'issue 500' };
    },
  });
  assert.equal(result.cycles + result.failed, calls);
  assert.ok(result.cycles > 0 && result.failed > 0);
  assert.equal(result.retriedAttempts, result.cycles);
  assert.deepEqual([...result.errors].sort(), ['boom', 'issue 500']);
  assert.equal(result.issueMs.length, result.cycles);
  assert.ok(Math.abs(result.perSecond - result.cycles / result.seconds) < 1e-9);
});

test('starts no cycle once the run is stopped', async () => {
  let calls = 0;
  const result = await runCycleWindow({
    workers: 4,
    durationMs: 10_000,
    stopped: () => calls >= 3,
    cycle: async () => {
      calls += 1;
      await new Promise((resolve) => setImmediate(resolve));
      return { ok: true, issueMs: 0, revokeMs: 0, retriedAttempts: 0 };
    },
  });
  // The four workers each may have started one cycle before the third call stopped the run.
  assert.ok(calls <= 4, `${calls} cycles`);
  assert.equal(result.cycles, calls);
  assert.ok(result.seconds < 5);
});
