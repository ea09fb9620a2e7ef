/**
 * Tests: the pure lockout counter rules.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { afterFailure, DEFAULT_LOCKOUT, isLocked } from './lockout.js';

const MIN = 60_000;

test('the threshold-th failure locks for the configured duration and restarts the count', () => {
  let state = undefined;
  for (let i = 1; i < DEFAULT_LOCKOUT.threshold; i++) {
    state = afterFailure(state, i * 1000, DEFAULT_LOCKOUT);
    assert.equal(state.failures, i);
    assert.equal(isLocked(state, i * 1000), false);
  }
  state = afterFailure(state, 10_000, DEFAULT_LOCKOUT);
  assert.equal(isLocked(state, 10_000), true);
  assert.equal(isLocked(state, 10_000 + 15 * MIN - 1), true);
  assert.equal(isLocked(state, 10_000 + 15 * MIN), false);
  assert.equal(afterFailure(state, 10_000 + 15 * MIN, DEFAULT_LOCKOUT).failures, 1);
});

test('failures further apart than the reset window do not add up', () => {
  const first = afterFailure(undefined, 0, DEFAULT_LOCKOUT);
  assert.equal(afterFailure(first, 15 * MIN - 1, DEFAULT_LOCKOUT).failures, 2);
  assert.equal(afterFailure(first, 15 * MIN, DEFAULT_LOCKOUT).failures, 1);
});
