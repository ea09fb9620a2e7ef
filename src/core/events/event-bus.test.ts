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
    assert.equal(seen.length, 1);
    assert.equal(bus.lastSeq, (seen[0] as number) + 1);
  });

  it('replays from a sequence number and says when the ring lost some', () => {
    const bus = createEventBus({ clock: createManualClock(), ringSize: 3 });
    const base = bus.lastSeq;
    const n = (i: number): number => base + i;
    for (let i = 1; i <= 5; i += 1) bus.publish({ path: 'a', version: i, event: 'write' });
    assert.deepEqual(bus.since(n(3)).events.map((e) => e.seq), [n(4), n(5)]);
    assert.equal(bus.since(n(3)).complete, true);
    assert.equal(bus.since(0).complete, false);
    assert.deepEqual(bus.since(n(5)).events, []);
    // The oldest event still held is the third: from the second nothing is missing, from the first one is.
    assert.deepEqual(bus.since(n(2)), { events: bus.since(n(2)).events, complete: true });
    assert.deepEqual(bus.since(n(2)).events.map((e) => [e.seq, e.version]), [[n(3), 3], [n(4), 4], [n(5), 5]]);
    assert.equal(bus.since(n(1)).complete, false);
    // A number this process never gave out belongs to another numbering.
    assert.equal(bus.since(n(9)).complete, false);
  });

  it('numbers on from the start time, so a client holding an earlier process number is told it missed events', () => {
    const clock = createManualClock();
    const before = createEventBus({ clock });
    const seen = before.publish({ path: 'a', version: 1, event: 'write' }).seq;
    clock.advance(1);
    const after = createEventBus({ clock });
    assert.ok(after.lastSeq >= seen, 'numbering never goes back');
    assert.deepEqual(after.since(seen), { events: [], complete: false });
    const next = after.publish({ path: 'a', version: 2, event: 'write' });
    assert.ok(next.seq > seen);
    assert.equal(after.since(seen).complete, false);
    assert.deepEqual(after.since(after.lastSeq), { events: [], complete: true });
  });
});
