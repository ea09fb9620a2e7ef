import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, readConfigFile, resolveConfig } from './config.js';

/** Loads `content` as a config file, the way `coffer server -config FILE` does. */
function load(content: unknown) {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-config-'));
  try {
    const path = join(dir, 'coffer.json');
    writeFileSync(path, JSON.stringify(content));
    return resolveConfig(readConfigFile(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('rotator_allowed_hosts in the config file reaches the config in the form URLs are compared in', () => {
  const config = load({ rotator_allowed_hosts: ['Rotator.Internal', ' 10.0.0.7 ', '[2001:DB8:0:0::1]', 'rotator.internal'] });
  assert.deepEqual(config.rotatorAllowedHosts, ['rotator.internal', '10.0.0.7', '2001:db8::1']);
  assert.deepEqual(load({}).rotatorAllowedHosts, []);
});

test('a rotator_allowed_hosts entry that could never match a host exactly is refused at start', () => {
  const cases: Array<[unknown, RegExp]> = [
    [['*.internal'], /entry "\*\.internal" is a pattern: list each host exactly/],
    [['rotator.internal:8443'], /without a scheme, port, path or credentials/],
    [['https://rotator.internal'], /without a scheme, port, path or credentials/],
    [['rotator.internal/rotate'], /without a scheme, port, path or credentials/],
    [[''], /entry "" is empty/],
    ['rotator.internal', /"rotator_allowed_hosts" must be a list of host names/],
    [[7], /"rotator_allowed_hosts" must be a list of host names/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => load({ rotator_allowed_hosts: value }), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(value));
  }
});

test('an unknown config key is refused with the list of known keys, rotator_allowed_hosts among them', () => {
  assert.throws(() => load({ allowed_hosts: ['x'] }), /unknown config key "allowed_hosts" .*known keys: .*http_replicas, rotator_allowed_hosts/);
});

test('lease TTL keys: 0 means the default, as in Vault, and a value of the wrong type is refused', () => {
  const zero = load({ default_lease_ttl: 0, max_lease_ttl: 0 });
  assert.equal(zero.defaultTokenTtl, 768 * 3600);
  assert.equal(zero.maxTokenTtl, 768 * 3600);
  assert.equal(load({ default_lease_ttl: '1h', max_lease_ttl: 7200 }).defaultTokenTtl, 3600);
  for (const bad of [{ default_lease_ttl: true }, { max_lease_ttl: { a: 1 } }, { max_lease_ttl: ['1h'] }]) {
    assert.throws(() => load(bad), (err: unknown) => err instanceof ConfigError && /must be a duration/.test(err.message), JSON.stringify(bad));
  }
});

test('an empty data_dir and a listen address without a host are refused with what to write instead', () => {
  assert.throws(() => load({ data_dir: '' }), (err: unknown) => err instanceof ConfigError && /data_dir must not be empty/.test(err.message));
  assert.throws(() => load({ listen: ':8200' }), (err: unknown) => err instanceof ConfigError && /write 0\.0\.0\.0:8200/.test(err.message));
});

test('audit_file_dirs, api_audit_creation and audit reach the config, with safe defaults', () => {
  const config = load({
    audit_file_dirs: ['/var/log/coffer', '/srv/audit', '/var/log/coffer'],
    api_audit_creation: 'deny',
    audit: [{ path: 'file', type: 'file', description: 'main', options: { file_path: '/var/log/coffer/audit.log' } }],
  });
  assert.deepEqual(config.auditFileDirs, ['/var/log/coffer', '/srv/audit']);
  assert.equal(config.apiAuditCreation, 'deny');
  assert.deepEqual(config.auditDevices, [{ path: 'file/', type: 'file', description: 'main', options: { file_path: '/var/log/coffer/audit.log' } }]);
  const defaults = load({});
  assert.deepEqual(defaults.auditFileDirs, []);
  assert.equal(defaults.apiAuditCreation, 'allow', 'Vault clients (node-vault) enable audit devices through the API');
  assert.deepEqual(defaults.auditDevices, []);
});

test('malformed audit settings are refused at start with what to write instead', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ audit_file_dirs: '/var/log/coffer' }, /"audit_file_dirs" must be a list of absolute directory paths, e\.g\. \["\/var\/log\/coffer"\]/],
    [{ audit_file_dirs: [7] }, /"audit_file_dirs" must be a list of absolute directory paths/],
    [{ audit_file_dirs: ['logs'] }, /audit_file_dirs entry "logs" must be an absolute directory path/],
    [{ audit_file_dirs: [''] }, /audit_file_dirs entry "" must be an absolute directory path/],
    [{ api_audit_creation: 'no' }, /api_audit_creation must be "allow" or "deny", not "no"/],
    [{ api_audit_creation: false }, /config key "api_audit_creation" must be a string/],
    [{ audit: { path: 'file/' } }, /config key "audit": must be a list of audit devices/],
    [{ audit: [{ path: 'file/', type: 'file', options: { file_path: 'audit.log' } }] }, /config key "audit": entry 1: file audit device: file_path must be an absolute path/],
    [{ audit: [{ path: 'file/', type: 'syslog', options: {} }] }, /config key "audit": entry 1: "type" must be "file"/],
  ];
  for (const [content, message] of cases) {
    assert.throws(() => load(content), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(content));
  }
  assert.throws(() => resolveConfig({ apiAuditCreation: 'maybe' }), ConfigError);
});

test('max_watches_per_token reaches the config, 64 when unset', () => {
  assert.equal(load({}).maxWatchesPerToken, 64);
  assert.equal(load({ max_watches_per_token: 5 }).maxWatchesPerToken, 5);
  assert.equal(load({ max_watches_per_token: 100_000 }).maxWatchesPerToken, 100_000);
  assert.equal(resolveConfig({ maxWatchesPerToken: 1 }).maxWatchesPerToken, 1);
});

test('a max_watches_per_token that is not an integer from 1 to 100000 is refused at start with the range', () => {
  const cases: Array<[unknown, RegExp]> = [
    [0, /max_watches_per_token must be an integer from 1 to 100000 \(default 64\)/],
    [-3, /max_watches_per_token must be an integer from 1 to 100000/],
    [2.5, /max_watches_per_token must be an integer from 1 to 100000/],
    [100_001, /max_watches_per_token must be an integer from 1 to 100000/],
    ['64', /config key "max_watches_per_token" must be a number/],
    [null, /config key "max_watches_per_token" must be a number/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => load({ max_watches_per_token: value }), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(value));
  }
});

test('max_watches reaches the config, 10000 when unset, and is refused outside 1 to 1000000', () => {
  assert.equal(load({}).maxWatches, 10_000);
  assert.equal(load({ max_watches: 3 }).maxWatches, 3);
  assert.equal(resolveConfig({ maxWatches: 1_000_000 }).maxWatches, 1_000_000);
  for (const value of [0, -1, 1.5, 1_000_001]) {
    assert.throws(() => load({ max_watches: value }), (e: unknown) => e instanceof ConfigError && /max_watches must be an integer from 1 to 1000000 \(default 10000\)/.test(e.message), String(value));
  }
  assert.throws(() => load({ max_watches: '5' }), /config key "max_watches" must be a number/);
});

test('the audit keys are known config file keys', () => {
  assert.throws(() => load({ audit_dirs: [] }), /known keys: .*audit_file_dirs, api_audit_creation, audit, x_forwarded_for_authorized_addrs/);
});

test('HTTP timeouts default to Vault listener values, and 0 means the default as in Vault', () => {
  assert.deepEqual(load({}).http, { readHeader: 10, read: 30, idle: 300 });
  assert.deepEqual(load({ http_read_header_timeout: 0, http_read_timeout: '0s', http_idle_timeout: 0 }).http, { readHeader: 10, read: 30, idle: 300 });
  assert.deepEqual(load({ http_read_header_timeout: '5s', http_read_timeout: '1m', http_idle_timeout: 90 }).http, { readHeader: 5, read: 60, idle: 90 });
});

test('an unset header timeout follows a read timeout shorter than its default; an explicit one above it is still refused', () => {
  assert.deepEqual(load({ http_read_timeout: '5s' }).http, { readHeader: 5, read: 5, idle: 300 });
  assert.deepEqual(load({ http_read_header_timeout: 0, http_read_timeout: '5s' }).http, { readHeader: 5, read: 5, idle: 300 });
  assert.deepEqual(load({ http_read_timeout: '2m' }).http, { readHeader: 10, read: 120, idle: 300 });
  assert.deepEqual(load({ http_read_header_timeout: '3s', http_read_timeout: '5s' }).http, { readHeader: 3, read: 5, idle: 300 });
  assert.throws(
    () => load({ http_read_header_timeout: '6s', http_read_timeout: '5s' }),
    (e: unknown) => e instanceof ConfigError && /http_read_header_timeout \(6s\) cannot exceed http_read_timeout \(5s\)/.test(e.message),
  );
});

test('a sub-second HTTP timeout counts as one second, never as 0 (the default)', () => {
  assert.deepEqual(load({ http_read_timeout: '500ms' }).http, { readHeader: 1, read: 1, idle: 300 });
  assert.deepEqual(load({ http_read_header_timeout: '500ms', http_idle_timeout: '0.5s' }).http, { readHeader: 1, read: 30, idle: 1 });
});

test('HTTP timeouts that node:http could not honour are refused with what to write instead', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ http_read_header_timeout: '45s' }, /http_read_header_timeout \(45s\) cannot exceed http_read_timeout \(30s\).*raise it too/],
    [{ http_idle_timeout: '25h' }, /http_idle_timeout must be at most 24h/],
    [{ http_read_timeout: '-5s' }, /invalid http_read_timeout/],
    [{ http_read_header_timeout: 'soon' }, /invalid http_read_header_timeout/],
    [{ http_idle_timeout: true }, /"http_idle_timeout" must be a duration/],
  ];
  for (const [content, message] of cases) {
    assert.throws(() => load(content), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(content));
  }
});

test('seal_drain_timeout and shutdown_grace_period default to 30s and 10s, and 0 means the default', () => {
  const defaults = load({});
  assert.equal(defaults.sealDrainTimeout, 30);
  assert.equal(defaults.shutdownGracePeriod, 10);
  const zero = load({ seal_drain_timeout: 0, shutdown_grace_period: '0s' });
  assert.deepEqual([zero.sealDrainTimeout, zero.shutdownGracePeriod], [30, 10]);
  const set = load({ seal_drain_timeout: '2m', shutdown_grace_period: 45 });
  assert.deepEqual([set.sealDrainTimeout, set.shutdownGracePeriod], [120, 45]);
});

test('a seal_drain_timeout or shutdown_grace_period that is not a duration up to an hour is refused', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ seal_drain_timeout: '2h' }, /seal_drain_timeout must be at most 1h/],
    [{ shutdown_grace_period: '-1s' }, /invalid shutdown_grace_period/],
    [{ shutdown_grace_period: false }, /"shutdown_grace_period" must be a duration/],
  ];
  for (const [content, message] of cases) {
    assert.throws(() => load(content), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(content));
  }
});

test('the x_forwarded_for_* keys reach the config; none means the header is never read; a bad one fails at start', () => {
  assert.equal(load({}).forwardedFor, undefined);
  assert.deepEqual(load({ x_forwarded_for_authorized_addrs: '10.0.0.0/8', x_forwarded_for_hop_skips: 1, x_forwarded_for_reject_not_present: false }).forwardedFor, {
    authorizedAddrs: ['10.0.0.0/8'],
    hopSkips: 1,
    rejectNotAuthorized: true,
    rejectNotPresent: false,
  });
  assert.throws(() => load({ x_forwarded_for_authorized_addrs: ['not-an-address'] }), ConfigError);
  assert.throws(() => load({ x_forwarded_for_hop_skips: 2 }), /need x_forwarded_for_authorized_addrs/);
});

test('-dev-root-token without -dev is refused instead of being ignored', () => {
  assert.throws(() => resolveConfig({ devRootToken: 'root' }), (e: unknown) => e instanceof ConfigError && /-dev-root-token only works with -dev/.test(e.message));
  assert.equal(resolveConfig({ dev: true, devRootToken: 'root' }).devRootToken, 'root');
});

test('max_request_size 0 means the default, as in Vault; a negative one (Vault: no limit) is refused', () => {
  assert.equal(resolveConfig({ maxRequestBytes: 0 }).maxRequestBytes, 32 * 1024 * 1024);
  assert.equal(resolveConfig({ maxRequestBytes: 4096 }).maxRequestBytes, 4096);
  assert.throws(() => resolveConfig({ maxRequestBytes: -1 }), (e: unknown) => e instanceof ConfigError && /no unlimited setting/.test(e.message));
});
