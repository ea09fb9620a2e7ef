import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWatchSlots, DEFAULT_MAX_WATCHES, DEFAULT_MAX_WATCHES_PER_TOKEN, type ReleaseWatchSlot, type WatchSlots } from './watch-slots.js';

/** A slot that must be granted. */
function granted(slots: WatchSlots, holder: string): ReleaseWatchSlot {
  const slot = slots.take(holder);
  assert.equal(typeof slot, 'function', `a slot for ${holder}`);
  return slot as ReleaseWatchSlot;
}

test('gives a token up to the cap, refuses one more, and frees a slot when a watch ends', () => {
  const slots = createWatchSlots({ maxPerToken: 2 });
  const first = granted(slots, 'token-a');
  granted(slots, 'token-a');
  assert.equal(slots.take('token-a'), 'token', 'a third is refused');
  assert.equal(slots.held('token-a'), 2);
  first();
  assert.equal(slots.held('token-a'), 1);
  granted(slots, 'token-a');
});

test('counts each token on its own', () => {
  const slots = createWatchSlots({ maxPerToken: 1 });
  granted(slots, 'token-a');
  assert.equal(slots.take('token-a'), 'token');
  granted(slots, 'token-b');
});

test('a slot released twice frees one slot only, and a token with none open is forgotten', () => {
  const slots = createWatchSlots({ maxPerToken: 2 });
  const first = granted(slots, 'token-a');
  const second = granted(slots, 'token-a');
  first();
  first();
  assert.equal(slots.held('token-a'), 1, 'the second release of one slot changes nothing');
  assert.equal(slots.total, 1);
  second();
  assert.equal(slots.held('token-a'), 0);
  first();
  assert.equal(slots.held('token-a'), 0, 'never below zero');
  assert.equal(slots.total, 0, 'never below zero');
  granted(slots, 'token-a');
  granted(slots, 'token-a');
  assert.equal(slots.take('token-a'), 'token');
});

test('the server-wide cap holds whatever tokens ask, and a freed slot can go to any token', () => {
  const slots = createWatchSlots({ maxPerToken: 2, maxTotal: 3 });
  const a = granted(slots, 'token-a');
  granted(slots, 'token-b');
  granted(slots, 'token-c');
  assert.equal(slots.take('token-d'), 'server');
  assert.equal(slots.take('token-a'), 'server', 'below its own cap, a token is still refused when the server is full');
  assert.equal(slots.held('token-d'), 0, 'a refusal holds nothing');
  assert.equal(slots.total, 3);
  a();
  granted(slots, 'token-d');
  assert.equal(slots.take('token-d'), 'server');
});

test('a token at its own cap is told so before the server is', () => {
  const slots = createWatchSlots({ maxPerToken: 1, maxTotal: 1 });
  granted(slots, 'token-a');
  assert.equal(slots.take('token-a'), 'token');
  assert.equal(slots.take('token-b'), 'server');
});

test('refuses caps that are not positive integers, and defaults to 64 per token and 10,000 in all', () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => createWatchSlots({ maxPerToken: bad }), RangeError, String(bad));
    assert.throws(() => createWatchSlots({ maxPerToken: 1, maxTotal: bad }), RangeError, String(bad));
  }
  assert.equal(DEFAULT_MAX_WATCHES_PER_TOKEN, 64);
  assert.equal(DEFAULT_MAX_WATCHES, 10_000);
  assert.equal(createWatchSlots({ maxPerToken: 1 }).maxTotal, DEFAULT_MAX_WATCHES);
});
