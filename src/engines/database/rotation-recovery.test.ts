/**
 * Crash recovery of the rotation state machine: a rotation is stopped at every pause point
 * (before and after each step's side effect), the engine is shut down there as a crash would
 * leave it, and a new engine on the same storage resumes it. At every moment the stored current
 * credential logs in; in the end the rotation completes (or, if step 1 cannot be redone, rolls
 * back) and the replaced user no longer logs in.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DatabasePluginError } from './plugin.js';
import type { PausePoint } from './rotation-hooks.js';
import { PHASES, type RotationPhase } from './rotation-record.js';
import { configure, createRotationKit, rotationsOf, staticCreds, type RotationKit } from './rotation-test-kit.js';

interface Paused {
  kit: RotationKit;
  /** Settles when the stopped engine's rotate-role call gives up. */
  pending: Promise<string>;
  release: () => void;
  v1: { username: string; password: string };
  rotationId: string;
  consumerId: string;
}

/** A dual role at version 1 with one consumer, and a rotate-role call stopped at `phase`/`when`. */
async function pauseAt(phase: RotationPhase, when: 'before' | 'after'): Promise<Paused> {
  let armed = false;
  let signal!: (point: PausePoint) => void;
  let release!: () => void;
  const reached = new Promise<PausePoint>((resolve) => { signal = resolve; });
  const hold = new Promise<void>((resolve) => { release = resolve; });
  // Points past verify need the consumer to have switched, or verify would wait its hour.
  const confirmEarly = (phase === 'verify' && when === 'after') || phase === 'revoke';
  let consumerId = '';
  const kit: RotationKit = createRotationKit({
    rotation: {
      pauseAt: async (point) => {
        if (!armed) return undefined;
        if (confirmEarly && point.phase === 'verify' && point.when === 'before') {
          await kit.consumers.checkIn(consumerId, 'database/static-creds/app', 2);
        }
        if (point.phase !== phase || point.when !== when) return undefined;
        signal(point);
        return hold;
      },
    },
  });
  await configure(kit);
  await kit.h.call('write', 'static-roles/app', {
    db_name: 'fake', username: 'app_a', alternate_username: 'app_b', rotation_period: '1h', rotation_policy: { verify_timeout: '1h' },
  });
  const v1 = await staticCreds(kit, 'app');
  const consumer = await kit.consumers.register({ path: 'database/static-creds/app', name: 'svc', version: 1, ttl: 24 * 3600 });
  consumerId = consumer.id;
  armed = true;
  const pending = kit.h.call('write', 'rotate-role/app').then(() => 'finished', (err: Error) => err.name);
  const point = await reached;
  return { kit, pending, release, v1, rotationId: point.rotationId, consumerId };
}

const loginWorks = async (kit: RotationKit): Promise<boolean> => {
  const creds = await staticCreds(kit, 'app');
  return kit.db.login(creds.username, creds.password);
};

for (const phase of PHASES) {
  for (const when of ['before', 'after'] as const) {
    test(`a rotation stopped ${when} its ${phase} step resumes after a restart and completes`, async () => {
      const { kit, pending, release, v1, rotationId, consumerId } = await pauseAt(phase, when);
      assert.ok(await loginWorks(kit), 'a working credential while paused');
      const stored = await kit.h.storage.get('static-accounts/app');

      // The crash: the engine stops where it is. Its paused rotation, let go afterwards, must
      // halt without another write.
      await kit.h.shutdown();
      release();
      assert.equal(await pending, 'RotationStopped');
      assert.ok(stored?.equals((await kit.h.storage.get('static-accounts/app')) as Buffer), 'nothing written after the stop');
      assert.ok(await loginWorks(kit), 'a working credential while Coffer is down');

      const next = kit.restart();
      assert.ok(await loginWorks(next), 'a working credential after the restart, before recovery');
      assert.equal((await rotationsOf(next, 'app')).current?.id, rotationId);
      await next.consumers.checkIn(consumerId, 'database/static-creds/app', 2);
      await next.h.engine.initialize?.();
      await next.h.engine.rotation.machine.resume('app');

      const state = await rotationsOf(next, 'app');
      assert.equal(state.current, null);
      assert.equal(state.last.id, rotationId);
      assert.equal(state.last.status, 'completed');
      const creds = await staticCreds(next, 'app');
      assert.deepEqual([creds.username, creds.version, creds.previous], ['app_b', 2, undefined]);
      assert.ok(next.db.login('app_b', creds.password));
      assert.ok(!next.db.login('app_a', v1.password), 'the replaced user is revoked');
      await next.h.shutdown();
    });
  }
}

test('a rotation stopped in step 1 rolls back on restart if the standby user can no longer be set', async () => {
  const { kit, pending, release, v1, rotationId } = await pauseAt('set_password', 'before');
  await kit.h.shutdown();
  release();
  await pending;
  kit.db.failFor = (user) => (user === 'app_b' ? new DatabasePluginError('statement', 'role "app_b" does not exist') : undefined);
  const next = kit.restart();
  await next.h.engine.initialize?.();
  await next.h.engine.rotation.machine.resume('app');
  const state = await rotationsOf(next, 'app');
  assert.equal(state.current, null);
  assert.equal(state.last.id, rotationId);
  assert.equal(state.last.status, 'rolled_back');
  const creds = await staticCreds(next, 'app');
  assert.deepEqual([creds.username, creds.password, creds.version], ['app_a', v1.password, 1]);
  assert.ok(next.db.login('app_a', v1.password), 'the credential from before the rotation still works');
  await next.h.shutdown();
});

test('a restart with no unfinished rotation and nothing due rotates nothing', async () => {
  const kit = createRotationKit();
  await configure(kit);
  await kit.h.call('write', 'static-roles/app', { db_name: 'fake', username: 'app_a', alternate_username: 'app_b', rotation_period: '1h' });
  const calls = kit.db.calls.length;
  await kit.h.shutdown();
  const next = kit.restart();
  await next.h.engine.initialize?.();
  await next.h.engine.rotation.scheduler.tick();
  assert.equal(next.db.calls.length, calls);
  assert.equal((await staticCreds(next, 'app')).version, 1);
  await next.h.shutdown();
});
