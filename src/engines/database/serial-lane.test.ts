/**
 * Tests: the serial lane runs tasks one at a time, in order, and survives failures.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createSerialLane } from './serial-lane.js';

test('tasks never overlap, run in arrival order, and a failure does not block the next', async () => {
  const lane = createSerialLane();
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const task = (i: number) => async (): Promise<number> => {
    running += 1;
    most = Math.max(most, running);
    await Promise.resolve();
    await new Promise<void>((resolve) => setImmediate(resolve));
    order.push(i);
    running -= 1;
    if (i === 2) throw new Error('boom');
    return i;
  };
  const results = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => lane.run(task(i))));
  assert.equal(most, 1);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
});
