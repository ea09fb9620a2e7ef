import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalAddress, parseForwardedForSettings, resolveClientAddress } from './forwarded-for.js';

const settings = (over: Record<string, unknown> = {}) => {
  const parsed = parseForwardedForSettings({ authorizedAddrs: ['10.0.0.0/8', '127.0.0.1'], ...over });
  assert.ok(parsed);
  return parsed;
};

test('only an authorized proxy names the client; the last hop counts unless hops are skipped', () => {
  assert.deepEqual(resolveClientAddress(settings(), '10.1.1.1', '203.0.113.7'), { kind: 'forwarded', address: '203.0.113.7' });
  assert.deepEqual(resolveClientAddress(settings(), '127.0.0.1', ['198.51.100.1, 203.0.113.7', '192.0.2.5']), { kind: 'forwarded', address: '192.0.2.5' });
  assert.deepEqual(resolveClientAddress(settings({ hopSkips: 1 }), '10.1.1.1', '1.2.3.4, 2.3.4.5, 3.4.5.6, 4.5.6.7'), { kind: 'forwarded', address: '3.4.5.6' });
  assert.equal(resolveClientAddress(settings({ hopSkips: 2 }), '10.1.1.1', '1.2.3.4').kind, 'refused');
  assert.equal(resolveClientAddress(settings(), '10.1.1.1', 'not-an-address').kind, 'refused');
  assert.deepEqual(resolveClientAddress(settings(), '10.1.1.1', '2001:db8::1'), { kind: 'forwarded', address: '2001:db8::1' });
});

test("a client outside the proxies cannot choose its address: refused by default, or its header ignored", () => {
  assert.deepEqual(resolveClientAddress(settings(), '192.0.2.99', '10.0.0.1'), {
    kind: 'refused',
    message: 'client address not authorized for x-forwarded-for and configured to reject connection',
  });
  assert.deepEqual(resolveClientAddress(settings({ rejectNotAuthorized: false }), '192.0.2.99', '10.0.0.1'), { kind: 'peer' });
});

test('a request without the header is refused by default (as Vault), or answered as from its peer', () => {
  assert.equal(resolveClientAddress(settings(), '10.1.1.1', undefined).kind, 'refused');
  assert.equal(resolveClientAddress(settings(), '10.1.1.1', ' , ').kind, 'refused');
  assert.deepEqual(resolveClientAddress(settings({ rejectNotPresent: false }), '192.0.2.99', undefined), { kind: 'peer' });
});

test('settings are checked when the server starts', () => {
  assert.equal(parseForwardedForSettings({}), undefined);
  assert.deepEqual(parseForwardedForSettings({ authorizedAddrs: '10.0.0.0/8, 192.168.1.1' })?.authorizedAddrs, ['10.0.0.0/8', '192.168.1.1']);
  assert.throws(() => parseForwardedForSettings({ hopSkips: 1 }), /need x_forwarded_for_authorized_addrs/);
  assert.throws(() => parseForwardedForSettings({ authorizedAddrs: [] }), /must list/);
  assert.throws(() => parseForwardedForSettings({ authorizedAddrs: ['10.0.0.0/33'] }), /CIDR/);
  assert.throws(() => parseForwardedForSettings({ authorizedAddrs: ['10.0.0.0/8'], hopSkips: -1 }), /hop_skips/);
  assert.throws(() => parseForwardedForSettings({ authorizedAddrs: ['10.0.0.0/8'], rejectNotPresent: 'no' }), /true or false/);
});

test('entries take one canonical form: ports and zones dropped, mapped IPv4 unwrapped, IPv6 compressed', () => {
  assert.equal(canonicalAddress('203.0.113.7:5678'), '203.0.113.7');
  assert.equal(canonicalAddress('[2001:DB8:0:0::1]:443'), '2001:db8::1');
  assert.equal(canonicalAddress('2001:db8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalAddress('::ffff:198.51.100.4'), '198.51.100.4');
  assert.equal(canonicalAddress('fe80::1%eth0'), 'fe80::1');
  for (const bad of ['unknown', 'for=1.2.3.4', '"1.2.3.4"', '1.2.3.4:99999', '01.2.3.4', '']) assert.equal(canonicalAddress(bad), undefined, bad);
  // A peer connecting over IPv4-mapped IPv6 is the same proxy.
  assert.deepEqual(resolveClientAddress(settings(), '::ffff:10.9.9.9', '203.0.113.7:80'), { kind: 'forwarded', address: '203.0.113.7' });
});
