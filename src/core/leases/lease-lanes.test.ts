import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLeaseLanes } from './lease-lanes.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('lease lanes', () => {
  it('runs work on one lease in order, and work on different leases side by side', async () => {
    const lanes = createLeaseLanes();
    const order: string[] = [];
    let release!: () => void;
    const first = lanes.run('a', () => new Promise<void>((resolve) => { release = resolve; }).then(() => { order.push('a1'); }));
    const second = lanes.run('a', async () => { order.push('a2'); });
    const other = lanes.run('b', async () => { order.push('b1'); });
    await other;
    await tick();
    assert.deepEqual(order, ['b1'], 'a2 waits for a1; b1 does not');
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['b1', 'a1', 'a2']);
  });

  it('passes a failure to its caller only, and the next work on the lease still runs', async () => {
    const lanes = createLeaseLanes();
    await assert.rejects(lanes.run('a', async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await lanes.run('a', async () => 7), 7);
  });

  it('lets readers wait for a pending deletion, and idle() for everything', async () => {
    const lanes = createLeaseLanes();
    let commit!: () => void;
    lanes.trackDeletion('a', new Promise<void>((resolve) => { commit = resolve; }));
    let deleted = false;
    const waiting = lanes.deleted('a').then(() => { deleted = true; });
    await lanes.deleted('b');
    await tick();
    assert.equal(deleted, false);
    const idle = lanes.idle();
    commit();
    await Promise.all([waiting, idle, lanes.allDeleted()]);
    assert.equal(deleted, true);
  });

  it('settles a failed deletion without rejecting its readers', async () => {
    const lanes = createLeaseLanes();
    const failed = Promise.reject(new Error('disk full'));
    failed.catch(() => undefined);
    lanes.trackDeletion('a', failed);
    await lanes.deleted('a');
    await lanes.idle();
  });
});
