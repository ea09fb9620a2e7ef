import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, parseDurationSeconds } from './duration.js';

test('parses seconds, numeric strings and Go duration strings into whole seconds', () => {
  assert.equal(parseDurationSeconds(90), 90);
  assert.equal(parseDurationSeconds('90'), 90);
  assert.equal(parseDurationSeconds('1h30m'), 5400);
  assert.equal(parseDurationSeconds('1.5s'), 1);
  assert.equal(parseDurationSeconds('0s'), 0);
  assert.equal(parseDurationSeconds(0), 0);
  assert.equal(parseDurationSeconds(''), undefined);
  assert.equal(parseDurationSeconds(undefined), undefined);
});

test('a positive duration under a second is one second, never 0 ("unset": the default, or no limit)', () => {
  for (const value of ['500ms', '0.5s', '999ms', '1ns', 0.5, 0.001]) assert.equal(parseDurationSeconds(value), 1, String(value));
});

test('refuses negative, malformed and over-long durations', () => {
  for (const value of [-1, '-1s', '1x', 'h', 'abc', '1h 30m', Number.NaN, {}, 9_223_372_037]) {
    assert.throws(() => parseDurationSeconds(value, 'ttl'), /invalid ttl/, String(value));
  }
});

test('formats whole seconds as Go prints durations', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(59), '59s');
  assert.equal(formatDuration(3600), '1h0m0s');
  assert.equal(formatDuration(12319), '3h25m19s');
});
