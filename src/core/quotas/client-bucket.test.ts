import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rateLimitBucket } from './client-bucket.js';

test('IPv4 addresses are their own bucket, IPv4-mapped IPv6 too', () => {
  assert.equal(rateLimitBucket('192.0.2.7'), '192.0.2.7');
  assert.equal(rateLimitBucket('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(rateLimitBucket('::FFFF:192.0.2.7'), '192.0.2.7');
});

test('IPv6 addresses count by their /64, however they are written', () => {
  const bucket = '2001:db8:0:1::/64';
  for (const address of ['2001:db8:0:1::1', '2001:db8:0:1:a:b:c:d', '2001:0db8:0000:0001:ffff:0:0:1', '2001:db8:0:1::1%eth0', '2001:db8:0:1:0:0:192.0.2.1']) {
    assert.equal(rateLimitBucket(address), bucket, address);
  }
  assert.notEqual(rateLimitBucket('2001:db8:0:2::1'), bucket);
  assert.equal(rateLimitBucket('::1'), '0:0:0:0::/64');
  assert.equal(rateLimitBucket('fe80::1'), 'fe80:0:0:0::/64');
  assert.equal(rateLimitBucket('2001:db8::'), '2001:db8:0:0::/64');
});

test('a text that is no IPv6 address is its own bucket', () => {
  for (const text of ['1:2:3', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9', 'unknown']) assert.equal(rateLimitBucket(text), text);
});
