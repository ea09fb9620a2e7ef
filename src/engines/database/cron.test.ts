import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isCofferError } from '../../core/errors.js';
import { parseCron } from './cron.js';

const at = (iso: string): number => Date.parse(iso);
const next = (expr: string, from: string): string | undefined => {
  const t = parseCron(expr).next(at(from));
  return t === undefined ? undefined : new Date(t).toISOString();
};

test('finds the next matching minute strictly after the given time', () => {
  assert.equal(next('*/15 * * * *', '2026-01-01T12:00:00Z'), '2026-01-01T12:15:00.000Z');
  assert.equal(next('*/15 * * * *', '2026-01-01T12:14:59Z'), '2026-01-01T12:15:00.000Z');
  assert.equal(next('30 2 * * *', '2026-01-01T12:00:00Z'), '2026-01-02T02:30:00.000Z');
  assert.equal(next('0 0 1 * *', '2026-01-31T23:59:00Z'), '2026-02-01T00:00:00.000Z');
  assert.equal(next('0 12 * * 0', '2026-01-01T00:00:00Z'), '2026-01-04T12:00:00.000Z', 'Sunday is 0');
  assert.equal(next('0 12 * * 7', '2026-01-01T00:00:00Z'), '2026-01-04T12:00:00.000Z', 'and 7');
});

test('reads month and weekday names, ranges, lists and steps', () => {
  assert.equal(next('0 0 * * SAT', '2026-01-01T00:00:00Z'), '2026-01-03T00:00:00.000Z');
  assert.equal(next('0 9 * JUN mon-fri', '2026-01-01T00:00:00Z'), '2026-06-01T09:00:00.000Z');
  assert.equal(next('5,35 10-11 * * *', '2026-01-01T10:06:00Z'), '2026-01-01T10:35:00.000Z');
  assert.equal(next('0 1-23/6 * * *', '2026-01-01T02:00:00Z'), '2026-01-01T07:00:00.000Z');
  assert.equal(next('10/20 * * * *', '2026-01-01T00:31:00Z'), '2026-01-01T00:50:00.000Z', 'a/n runs from a to the end');
});

test('with both day fields restricted, either may match; with one a star, both must', () => {
  // 13th of the month or a Friday.
  assert.equal(next('0 0 13 * 5', '2026-01-01T00:00:00Z'), '2026-01-02T00:00:00.000Z');
  assert.equal(next('0 0 * * 5', '2026-01-01T00:00:00Z'), '2026-01-02T00:00:00.000Z');
  assert.equal(next('0 0 13 * *', '2026-01-01T00:00:00Z'), '2026-01-13T00:00:00.000Z');
});

test('accepts the @ descriptors', () => {
  assert.equal(next('@daily', '2026-03-04T05:06:00Z'), '2026-03-05T00:00:00.000Z');
  assert.equal(next('@hourly', '2026-03-04T05:06:00Z'), '2026-03-04T06:00:00.000Z');
  assert.equal(next('@weekly', '2026-01-01T00:00:00Z'), '2026-01-04T00:00:00.000Z');
  assert.equal(next('@yearly', '2026-01-01T00:00:00Z'), '2027-01-01T00:00:00.000Z');
});

test('finds 29 February years ahead', () => {
  assert.equal(next('0 0 29 2 *', '2026-01-01T00:00:00Z'), '2028-02-29T00:00:00.000Z');
});

test('refuses malformed expressions and ones that never fire, without echoing them', () => {
  for (const bad of ['', '* * * *', '* * * * * *', '60 * * * *', '* 24 * * *', '* * 0 * *', '* * * 13 *', '* * * * 8',
    '*/0 * * * *', '5-1 * * * *', 'a * * * *', '1-2-3 * * * *', '0 0 30 2 *', '@every 1h', '1/2/3 * * * *']) {
    assert.throws(() => parseCron(bad), (err: unknown) => isCofferError(err) && err.code === 'bad_request' && (bad === '' || !err.message.includes(bad)), bad);
  }
});
