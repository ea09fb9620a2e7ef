import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CofferError } from '../errors.js';
import { createAuditFilePolicy, isWithin } from './file-path-policy.js';

const root = mkdtempSync(join(tmpdir(), 'coffer-audit-policy-'));
after(() => rmSync(root, { recursive: true, force: true }));

const dataDir = join(root, 'data');
const allowed = join(root, 'allowed');
const outside = join(root, 'outside');
for (const dir of [dataDir, allowed, outside, join(outside, 'sub'), join(root, 'data-other')]) mkdirSync(dir);
// Links an API caller cannot make, but an operator (or an earlier mistake) may have left.
symlinkSync(outside, join(allowed, 'to-outside'));
symlinkSync(join(outside, 'sub'), join(allowed, 'to-sub'));
symlinkSync(dataDir, join(root, 'data-link'));
symlinkSync(allowed, join(root, 'allowed-link'));

const refused = (pattern: RegExp) => (err: unknown) => err instanceof CofferError && err.code === 'bad_request' && pattern.test(err.message);

test('without audit_file_dirs, an API device may write anywhere but the data directory', () => {
  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [] });
  policy.check(join(outside, 'audit.log'), 'api');
  policy.check(join(root, 'data-other', 'audit.log'), 'api');
  policy.check('stdout', 'api');
});

test('refuses a file inside the data directory, whoever asks and however the path reaches it', () => {
  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [] });
  const inside = [
    join(dataDir, 'coffer.db-journal'),
    join(dataDir, 'coffer.lock'),
    join(root, 'data-link', 'audit.log'),
    `${allowed}/../data/audit.log`,
    dataDir,
  ];
  mkdirSync(join(dataDir, 'nested'));
  inside.push(join(dataDir, 'nested', 'audit.log'));
  for (const filePath of inside) {
    for (const origin of ['api', 'config'] as const) {
      assert.throws(() => policy.check(filePath, origin), refused(/is inside the server's data directory/), `${origin} ${filePath}`);
    }
  }
  assert.equal(existsSync(join(dataDir, 'coffer.db-journal')), false, 'the check creates nothing');
});

test('with audit_file_dirs, an API device must write inside one of them, decided on real paths', () => {
  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [allowed, join(root, 'missing')] });
  policy.check(join(allowed, 'audit.log'), 'api');
  policy.check(join(root, 'allowed-link', 'audit.log'), 'api');
  policy.check('stdout', 'api');
  policy.check('discard', 'api');
  const outsideNames = /outside the directories allowed for audit files \(audit_file_dirs\): .*\/allowed, .*\/missing$/;
  assert.throws(() => policy.check(join(outside, 'audit.log'), 'api'), refused(outsideNames));
  // The directory is a link out of the allowed one.
  assert.throws(() => policy.check(join(allowed, 'to-outside', 'audit.log'), 'api'), refused(outsideNames));
  // The kernel resolves ".." from the link's target (outside/sub/.. is outside), not lexically.
  assert.throws(() => policy.check(`${allowed}/to-sub/../audit.log`, 'api'), refused(outsideNames));
  assert.throws(() => policy.check(join(root, 'allowed-other.log'), 'api'), refused(outsideNames));
});

test('a device the config file declares is not held to audit_file_dirs, only kept out of the data directory', () => {
  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [allowed] });
  policy.check(join(outside, 'audit.log'), 'config');
  assert.throws(() => policy.check(join(dataDir, 'audit.log'), 'config'), refused(/data directory/));
});

test('refuses a file_path that names a directory, or whose directory does not exist', () => {
  const policy = createAuditFilePolicy({ dataDir, allowedDirs: [] });
  assert.throws(() => policy.check(join(outside, 'sub') + '/', 'api'), refused(/must name a file/));
  assert.throws(() => policy.check(`${outside}/sub/..`, 'api'), refused(/must name a file/));
  assert.throws(() => policy.check(`${outside}/.`, 'api'), refused(/must name a file/));
  assert.throws(() => policy.check(join(root, 'nowhere', 'audit.log'), 'api'), refused(/the directory of file_path .* does not exist/));
});

test('a data directory that does not exist protects nothing, and relative paths are left to the device', () => {
  const policy = createAuditFilePolicy({ dataDir: join(root, 'no-such-data'), allowedDirs: [] });
  policy.check(join(outside, 'audit.log'), 'api');
  policy.check('relative/audit.log', 'api');
});

test('isWithin compares whole path segments', () => {
  assert.equal(isWithin('/a/b', '/a/b'), true);
  assert.equal(isWithin('/a/b/c', '/a/b'), true);
  assert.equal(isWithin('/a/b/..x', '/a/b'), true);
  assert.equal(isWithin('/a/bc', '/a/b'), false);
  assert.equal(isWithin('/a', '/a/b'), false);
  assert.equal(isWithin('/etc/cron.d/x', '/'), true);
});
