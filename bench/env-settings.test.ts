import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOn, isQuick, numberSetting } from './env-settings.js';

test('reads switches set to 1 or true, and nothing else', () => {
  assert.equal(isOn({ BENCH_SKIP_PG: '1' }, 'BENCH_SKIP_PG'), true);
  assert.equal(isOn({ BENCH_SKIP_PG: 'true' }, 'BENCH_SKIP_PG'), true);
  assert.equal(isOn({ BENCH_SKIP_PG: '0' }, 'BENCH_SKIP_PG'), false);
  assert.equal(isOn({}, 'BENCH_SKIP_PG'), false);
  assert.equal(isQuick({ BENCH_QUICK: '1' }), true);
});

test('uses the fallback when a number is unset or blank, and accepts underscores', () => {
  assert.equal(numberSetting({}, 'N', 7, { min: 1, max: 10 }), 7);
  assert.equal(numberSetting({ N: ' ' }, 'N', 7, { min: 1, max: 10 }), 7);
  assert.equal(numberSetting({ N: '1_000' }, 'N', 7, { min: 1, max: 10_000, integer: true }), 1000);
  assert.equal(numberSetting({ N: '2.5' }, 'N', 7, { min: 1, max: 10 }), 2.5);
});

test('refuses a value out of range or not an integer, naming the variable and the fallback', () => {
  assert.throws(() => numberSetting({ N: '0' }, 'N', 7, { min: 1, max: 10 }), /N="0" must be a number from 1 to 10; unset it to use 7/);
  assert.throws(() => numberSetting({ N: '2.5' }, 'N', 7, { min: 1, max: 10, integer: true }), /must be an integer/);
  assert.throws(() => numberSetting({ N: 'lots' }, 'N', 7, { min: 1, max: 10 }), /N="lots"/);
});
