import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createManualClock } from '../clock.js';
import { createEventBus } from './event-bus.js';

describe('event bus', () => {
  it('numbers events, delivers them to every subscriber, and survives a throwing one', () => {
    const bus = createEventBus({ clock: createManualClock() });
    const seen: number[] = [];
    bus.subscribe(() => {
      throw new Error('broken watcher');
    });
    const unsubscribe = bus.subscribe((e) => seen.push(e.seq));
    bus.publish({ path: 'a', version: 1, event: 'write' });
    unsubscribe();
    bus.publish({ path: 'a', version: 2, event: 'write' });
    assert.deepEqual(seen, [1]);
    assert.equal(bus.lastSeq, 2);
  });

  it('replays from a sequence number and says when the ring lost some', () => {
    const bus = createEventBus({ clock: createManualClock(), ringSize: 3 });
    for (let i = 1; i <= 5; i += 1) bus.publish({ path: 'a', version: i, event: 'write' });
    assert.deepEqual(bus.since(3).events.map((e) => e.seq), [4, 5]);
    assert.equal(bus.since(3).complete, true);
    assert.equal(bus.since(0).complete, false);
    assert.deepEqual(bus.since(5).events, []);
    // The oldest event still held is seq 3: from 2 nothing is missing, from 1 seq 2 is.
    assert.deepEqual(bus.since(2), { events: bus.since(2).events, complete: true });
    assert.deepEqual(bus.since(2).events.map((e) => [e.seq, e.version]), [[3, 3], [4, 4], [5, 5]]);
    assert.equal(bus.since(1).complete, false);
    assert.equal(bus.since(9).complete, true);
  });
});
