import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distribution, percentile } from './sample-stats.js';

test('takes the nearest-rank percentile without reordering the input', () => {
  const values = [5, 1, 4, 2, 3];
  assert.equal(percentile(values, 50), 3);
  assert.equal(percentile(values, 99), 5);
  assert.equal(percentile(values, 0), 1);
  assert.deepEqual(values, [5, 1, 4, 2, 3]);
});

test('gives no figure for an empty sample', () => {
  assert.equal(percentile([], 50), undefined);
  assert.equal(distribution([]), undefined);
});

test('summarises a thousand latencies as p50, p99 and max', () => {
  const values = Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.deepEqual(distribution(values), { n: 1000, p50: 500, p99: 990, max: 1000 });
});
