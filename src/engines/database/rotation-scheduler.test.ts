/**
 * Tests: the static-role scheduler's retry of failed rotations backs off exponentially (each
 * attempt of a one-user role may cost a failed login as the application's user), up to the cap,
 * and starts over when the role is written or a rotation succeeds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import type { RotationMachine } from './rotation-machine.js';
import type { RotationRecord } from './rotation-record.js';
import { createRotationScheduler } from './rotation-scheduler.js';
import type { StaticStore } from './static-store.js';

function setup() {
  const clock = createManualClock();
  const attempts: number[] = [];
  let failing = true;
  let lastRotation = 0;
  const statics = {
    listRoles: async () => ['app'],
    getRole: async () => ({ timing: { kind: 'period', periodSeconds: 86_400 } }),
    getAccount: async () => ({ current: lastRotation > 0 ? { username: 'app' } : undefined, lastRotation, rotation: null }),
  } as unknown as StaticStore;
  const machine = {
    isBusy: () => false,
    resume: async () => undefined,
    rotateIfDue: async (): Promise<RotationRecord | undefined> => {
      attempts.push(clock.now());
      if (failing) throw new Error('set_password failed');
      lastRotation = clock.now();
      return { status: 'completed' } as RotationRecord;
    },
  } as unknown as RotationMachine;
  const scheduler = createRotationScheduler({
    ctx: { clock, logger: silentLogger },
    statics,
    machine,
    options: () => ({ tickIntervalMs: 0, retryDelayMs: 10_000, maxRetryDelayMs: 80_000 }),
    isStopped: () => false,
  });
  /** Ticks once a second of the manual clock for `seconds`. */
  const run = async (seconds: number): Promise<void> => {
    for (let i = 0; i < seconds; i += 1) {
      clock.advance(1_000);
      await scheduler.tick();
    }
  };
  return { clock, scheduler, attempts, run, succeed: () => { failing = false; }, fail: () => { failing = true; } };
}

test('a rotation that keeps failing is retried after 10 s, 20 s, 40 s, then at the cap', async () => {
  const s = setup();
  await s.scheduler.start();
  await s.run(400);
  const gaps = s.attempts.slice(1).map((t, i) => (t - (s.attempts[i] as number)) / 1000);
  assert.deepEqual(gaps.slice(0, 6), [10, 20, 40, 80, 80, 80]);
});

test('writing the role (or asking for a rotation) starts over at once, and a success resets the backoff', async () => {
  const s = setup();
  await s.scheduler.start();
  await s.run(100); // attempts at 0, 10, 30, 70 s: the next is due 80 s later
  const before = s.attempts.length;
  await s.scheduler.refresh('app', true);
  await s.run(1);
  assert.equal(s.attempts.length, before + 1, 'tried again right after the role was written');
  s.succeed();
  await s.run(10);
  assert.equal(s.attempts.length, before + 2, 'then after the first delay of 10 s, and it succeeded');
});
