import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateLimiter, type RateLimitRule } from './rate-limiter.js';

function fakeClock(start = 1_000_000): { now(): number; advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms) };
}

const rule = (over: Partial<RateLimitRule> = {}): RateLimitRule => ({ key: 'q#1', rate: 3, intervalSeconds: 1, blockSeconds: 0, ...over });

test('a client gets `rate` requests at once, then `rate` per interval, refilled continuously', () => {
  const clock = fakeClock();
  const limiter = createRateLimiter(clock);
  const taken = [1, 2, 3, 4].map(() => limiter.take(rule(), '10.0.0.1'));
  assert.deepEqual(taken.map((d) => d.allowed), [true, true, true, false]);
  assert.deepEqual(taken.map((d) => d.remaining), [2, 1, 0, 0]);
  assert.equal(taken[3]?.retryAfterSeconds, 1);
  assert.equal(taken[3]?.limit, 3);
  // A third of the interval refills one request.
  clock.advance(334);
  assert.equal(limiter.take(rule(), '10.0.0.1').allowed, true);
  assert.equal(limiter.take(rule(), '10.0.0.1').allowed, false);
  // A full bucket never holds more than `rate`.
  clock.advance(60_000);
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.take(rule(), '10.0.0.1').allowed), [true, true, true, false]);
});

test('each client address and each quota revision has a bucket of its own', () => {
  const clock = fakeClock();
  const limiter = createRateLimiter(clock);
  for (let i = 0; i < 3; i += 1) limiter.take(rule(), 'a');
  assert.equal(limiter.take(rule(), 'a').allowed, false);
  assert.equal(limiter.take(rule(), 'b').allowed, true);
  assert.equal(limiter.take(rule({ key: 'q#2' }), 'a').allowed, true, 'a rewritten quota starts afresh');
  limiter.clear();
  assert.equal(limiter.take(rule(), 'a').allowed, true);
});

test('a block interval locks a client that ran dry out for that long, whatever it refills meanwhile', () => {
  const clock = fakeClock();
  const limiter = createRateLimiter(clock);
  const blocking = rule({ rate: 1, blockSeconds: 30 });
  assert.equal(limiter.take(blocking, 'a').allowed, true);
  const refused = limiter.take(blocking, 'a');
  assert.equal(refused.allowed, false);
  assert.equal(refused.retryAfterSeconds, 30);
  clock.advance(10_000);
  const still = limiter.take(blocking, 'a');
  assert.equal(still.allowed, false);
  assert.equal(still.retryAfterSeconds, 20);
  clock.advance(20_000);
  assert.equal(limiter.take(blocking, 'a').allowed, true);
});

test('the buckets are bounded: the least recently used client is forgotten first', () => {
  const clock = fakeClock();
  const limiter = createRateLimiter({ now: clock.now, maxClients: 2 });
  limiter.take(rule({ rate: 1 }), 'a');
  limiter.take(rule({ rate: 1 }), 'b');
  limiter.take(rule({ rate: 1 }), 'c');
  assert.equal(limiter.take(rule({ rate: 1 }), 'c').allowed, false);
  assert.equal(limiter.take(rule({ rate: 1 }), 'a').allowed, true, 'a was evicted, so it starts full');
});

test('a rate under one request slows a client down but never locks it out', () => {
  const clock = fakeClock();
  const limiter = createRateLimiter(clock);
  const slow = rule({ rate: 0.5 });
  const first = limiter.take(slow, 'a');
  assert.equal(first.allowed, true);
  assert.equal(first.limit, 1, 'a whole number of requests, as Vault');
  const second = limiter.take(slow, 'a');
  assert.equal(second.allowed, false);
  assert.equal(second.retryAfterSeconds, 2);
  clock.advance(2_000);
  assert.equal(limiter.take(slow, 'a').allowed, true);
  assert.equal(limiter.take(rule({ rate: 2.5 }), 'b').limit, 2);
});
