import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CofferError } from '../../core/errors.js';
import { isFormBody, parseFormBody } from './form-body.js';
import { DEFAULT_JSON_LIMITS } from './json-body.js';

const FORM = 'application/x-www-form-urlencoded';
const badRequest = (err: unknown): boolean => err instanceof CofferError && err.code === 'bad_request';

test('a form-encoded body is a form unless it starts like JSON; other types never are', () => {
  assert.equal(isFormBody(FORM, Buffer.from('a=1')), true);
  assert.equal(isFormBody(`${FORM}; charset=utf-8`, Buffer.from('a=1')), true);
  assert.equal(isFormBody(FORM, Buffer.from('  {"a":1}')), false);
  assert.equal(isFormBody(FORM, Buffer.from('[1]')), false);
  assert.equal(isFormBody(FORM, Buffer.from('')), false);
  assert.equal(isFormBody('application/json', Buffer.from('a=1')), false);
  assert.equal(isFormBody(undefined, Buffer.from('a=1')), false);
});

test('values are strings, repeated keys joined with commas, escapes decoded', () => {
  assert.deepEqual(parseFormBody(Buffer.from('a=1&b=x+y&b=%26z&c='), DEFAULT_JSON_LIMITS), { a: '1', b: 'x y,&z', c: '' });
});

test('refuses malformed escapes, __proto__, and values past the JSON limits, joined or repeated', () => {
  assert.throws(() => parseFormBody(Buffer.from('a=%zz'), DEFAULT_JSON_LIMITS), badRequest);
  assert.throws(() => parseFormBody(Buffer.from('__proto__=x'), DEFAULT_JSON_LIMITS), badRequest);
  const limits = { ...DEFAULT_JSON_LIMITS, maxStringLength: 10, maxArrayElements: 3, maxObjectEntries: 2 };
  assert.throws(() => parseFormBody(Buffer.from('a=123456&a=123456'), limits), badRequest);
  assert.throws(() => parseFormBody(Buffer.from('a=1&a=2&a=3&a=4'), limits), badRequest);
  assert.throws(() => parseFormBody(Buffer.from('a=1&b=2&c=3'), limits), badRequest);
  assert.deepEqual(parseFormBody(Buffer.from('a=1&a=2&a=3'), limits), { a: '1,2,3' });
});

test('refuses a form of more pairs than the total values allowed, counting repeats and skipping empty segments', () => {
  const limits = { ...DEFAULT_JSON_LIMITS, maxValues: 3 };
  assert.deepEqual(parseFormBody(Buffer.from('a&&b=1&&&a=2&'), limits), { a: ',2', b: '1' });
  assert.throws(() => parseFormBody(Buffer.from('a&b&c&d'), limits), (err) => badRequest(err) && (err as Error).message === 'form holds more values than allowed');
  assert.throws(() => parseFormBody(Buffer.from('a=1&a=2&a=3&a=4'), limits), badRequest);
  const fifteenMillion = Buffer.from('a&'.repeat(7_500_000));
  assert.throws(() => parseFormBody(fifteenMillion, DEFAULT_JSON_LIMITS), (err) => badRequest(err) && (err as Error).message === 'form holds more values than allowed');
});
