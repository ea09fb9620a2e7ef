import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumerHandle, ConsumerOptions } from './consumer.js';
import { createManualTimers } from './manual-timers.js';
import { createRotationHelper } from './rotation.js';
import { createScheduler } from './scheduler.js';
import type { Envelope } from './wire.js';

/**
 * A dual-credential static role as the server shows it: the current user and version, and a
 * `ttl` to the next scheduled rotation a day away; `rotate()` switches user without making
 * the old one fail (it keeps working until the rotation's verify step).
 */
function staticRole() {
  let version = 1;
  const reads: number[] = [];
  const checkIns: number[] = [];
  const envelope = (): Envelope<unknown> =>
    ({ request_id: 'r', lease_id: '', renewable: false, lease_duration: 0, data: { username: version % 2 === 1 ? 'app_a' : 'app_b', password: `pw-${version}`, version, ttl: 86_400 }, wrap_info: null, warnings: null, auth: null }) as Envelope<unknown>;
  const registerConsumer = async (_path: string, options: ConsumerOptions): Promise<ConsumerHandle> => {
    const handle = {
      version: options.version ?? 0,
      async checkIn(next: number) {
        handle.version = next;
        checkIns.push(next);
      },
      async close() {},
    };
    checkIns.push(handle.version);
    return handle as unknown as ConsumerHandle;
  };
  return {
    rotate: () => void (version += 1),
    reads,
    checkIns,
    deps: {
      read: async () => {
        reads.push(version);
        return envelope();
      },
      openLeased: () => Promise.reject(new Error('not leased')),
      registerConsumer,
    },
  };
}

test('a consumer re-reads a rotated static credential within its check-in interval and reports the new version', async () => {
  const timers = createManualTimers();
  const role = staticRole();
  const helper = createRotationHelper({ ...role.deps, scheduler: createScheduler(() => undefined, timers), onError: (err) => assert.fail(String(err)) });
  const used: string[] = [];
  const work = async (cred: { username: string }): Promise<void> => void used.push(cred.username);
  const options = { consumer: { name: 'web', ttl: 30 } };

  await helper.run('database/static-creds/app', work, options);
  await helper.run('database/static-creds/app', work, options);
  assert.deepEqual(role.reads, [1], 'cached between calls');

  // The rotation activates B; A keeps working, so nothing fails to say it changed.
  role.rotate();
  await timers.advance(5_000);
  await helper.run('database/static-creds/app', work, options);
  assert.deepEqual(used, ['app_a', 'app_a', 'app_a'], 'still within the check-in interval (10 s)');
  await timers.advance(5_001);
  await helper.run('database/static-creds/app', work, options);
  assert.deepEqual(used.at(-1), 'app_b');
  assert.deepEqual(role.checkIns, [1, 2], 'the consumer confirmed the new version');
  await helper.close();
});

test('without a consumer a static credential stays cached until its ttl or an authentication failure', async () => {
  const timers = createManualTimers();
  const role = staticRole();
  const helper = createRotationHelper({ ...role.deps, scheduler: createScheduler(() => undefined, timers), onError: (err) => assert.fail(String(err)) });
  await helper.run('database/static-creds/app', async () => undefined);
  role.rotate();
  await timers.advance(3_600_000);
  await helper.run('database/static-creds/app', async () => undefined);
  assert.deepEqual(role.reads, [1]);
  await helper.close();
});
