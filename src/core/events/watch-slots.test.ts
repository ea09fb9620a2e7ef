import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWatchSlots, DEFAULT_MAX_WATCHES_PER_TOKEN } from './watch-slots.js';

test('gives a token up to the cap, refuses one more, and frees a slot when a watch ends', () => {
  const slots = createWatchSlots({ maxPerToken: 2 });
  const first = slots.take('token-a');
  const second = slots.take('token-a');
  assert.ok(first && second);
  assert.equal(slots.take('token-a'), undefined, 'a third is refused');
  assert.equal(slots.held('token-a'), 2);
  first();
  assert.equal(slots.held('token-a'), 1);
  assert.ok(slots.take('token-a'), 'the freed slot can be taken again');
});

test('counts each token on its own', () => {
  const slots = createWatchSlots({ maxPerToken: 1 });
  assert.ok(slots.take('token-a'));
  assert.equal(slots.take('token-a'), undefined);
  assert.ok(slots.take('token-b'), 'another token is not held back by the first one');
});

test('a slot released twice frees one slot only, and a token with none open is forgotten', () => {
  const slots = createWatchSlots({ maxPerToken: 2 });
  const first = slots.take('token-a');
  const second = slots.take('token-a');
  assert.ok(first && second);
  first();
  first();
  assert.equal(slots.held('token-a'), 1, 'the second release of one slot changes nothing');
  second();
  assert.equal(slots.held('token-a'), 0);
  first();
  assert.equal(slots.held('token-a'), 0, 'never below zero');
  assert.ok(slots.take('token-a') && slots.take('token-a'));
  assert.equal(slots.take('token-a'), undefined);
});

test('refuses a cap that is not a positive integer, and defaults to 64', () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => createWatchSlots({ maxPerToken: bad }), RangeError, String(bad));
  }
  assert.equal(DEFAULT_MAX_WATCHES_PER_TOKEN, 64);
});
