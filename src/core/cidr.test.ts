/**
 * Tests: CIDR parsing, client matching (IPv4-mapped IPv6 included) and containment.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressAllowed, cidrsWithin, parseCidrList } from './cidr.js';

test('an IPv4 block admits its addresses and no others', () => {
  assert.equal(addressAllowed('10.1.2.3', ['10.0.0.0/8']), true);
  assert.equal(addressAllowed('11.0.0.0', ['10.0.0.0/8']), false);
  assert.equal(addressAllowed('192.168.1.7', ['192.168.1.7']), true);
  assert.equal(addressAllowed('192.168.1.8', ['192.168.1.7']), false);
});

test('an IPv4-mapped IPv6 client is matched as the IPv4 address it carries', () => {
  assert.equal(addressAllowed('::ffff:10.1.2.3', ['10.0.0.0/8']), true);
  assert.equal(addressAllowed('::ffff:a01:203', ['10.0.0.0/8']), true);
  assert.equal(addressAllowed('::ffff:11.0.0.1', ['10.0.0.0/8']), false);
  assert.equal(addressAllowed('10.1.2.3', ['::ffff:10.0.0.0/104']), true);
});

test('IPv6 blocks match IPv6 clients only', () => {
  assert.equal(addressAllowed('2001:db8::1', ['2001:db8::/32']), true);
  assert.equal(addressAllowed('2001:db9::1', ['2001:db8::/32']), false);
  assert.equal(addressAllowed('::1', ['127.0.0.0/8']), false);
  assert.equal(addressAllowed('::1', ['::1/128']), true);
});

test('an unparseable client address never matches a binding, and no binding admits anything', () => {
  assert.equal(addressAllowed('', ['0.0.0.0/0']), false);
  assert.equal(addressAllowed('not-an-ip', ['0.0.0.0/0']), false);
  assert.equal(addressAllowed('anything', []), true);
});

test('invalid blocks are refused at parse time', () => {
  for (const bad of ['10.0.0.0/33', '10.0.0.0/8/1', '10.0.0', 'fe80::/129', '10.0.0.0/-1', 'x/8']) {
    assert.throws(() => parseCidrList([bad], 'cidr_list'), /invalid cidr_list/, bad);
  }
  assert.deepEqual(parseCidrList(['10.0.0.0/8', '::1'], 'f'), ['10.0.0.0/8', '::1']);
});

test('containment: a narrower block lies within a wider one, never the reverse', () => {
  assert.equal(cidrsWithin(['10.1.0.0/16'], ['10.0.0.0/8']), true);
  assert.equal(cidrsWithin(['10.0.0.0/8'], ['10.1.0.0/16']), false);
  assert.equal(cidrsWithin(['10.1.0.0/16', '192.168.0.1'], ['10.0.0.0/8']), false);
  assert.equal(cidrsWithin([], ['10.0.0.0/8']), false);
  assert.equal(cidrsWithin(['1.2.3.4'], []), true);
});
