/**
 * Tests: PostgreSQL template filling, quoting and error classification.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { classifyPgError, formatExpiration, mayCommitOnItsOwn, pgErrorText, quoteIdent, quoteLiteral, renderStatement, touchesObjectAcl } from './plugin-postgres-sql.js';

const EXP = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));

test('fills name, username, password and expiration, with or without spaces in the braces', () => {
  const out = renderStatement(`CREATE ROLE "{{name}}" PASSWORD '{{ password }}' VALID UNTIL '{{expiration}}'; COMMENT ON ROLE "{{username}}" IS 'x'`, {
    name: 'v-tok-ro-abc', nameKind: 'generated', password: 'Aa1-xyz', expiration: EXP,
  });
  assert.equal(out, `CREATE ROLE "v-tok-ro-abc" PASSWORD 'Aa1-xyz' VALID UNTIL '2026-01-02 03:04:05+00'; COMMENT ON ROLE "v-tok-ro-abc" IS 'x'`);
  assert.equal(formatExpiration(EXP), '2026-01-02 03:04:05+00');
});

test('refuses to substitute a name or password that could leave its quotes', () => {
  for (const name of ['a"b', "a'b", 'A', 'a b', 'a;b', '']) {
    assert.throws(() => renderStatement('{{name}}', { name, nameKind: 'generated' }), /unsafe username/, name);
  }
  assert.throws(() => renderStatement('{{name}}', { name: 'adm"in', nameKind: 'admin' }), /unsafe username/);
  assert.equal(renderStatement('{{name}}', { name: 'Vault_Admin@x', nameKind: 'admin' }), 'Vault_Admin@x');
  for (const password of ["a'b", 'a\\b', 'a b', '']) {
    assert.throws(() => renderStatement('{{password}}', { name: 'u', nameKind: 'generated', password }), /unsafe password/);
  }
});

test('a filled value is never scanned again for placeholders', () => {
  const out = renderStatement('{{name}} {{password}}', { name: 'u', nameKind: 'generated', password: 'pw' });
  assert.equal(out, 'u pw');
  assert.equal(renderStatement('{{other}} {{name}}', { name: 'u', nameKind: 'generated' }), '{{other}} u');
});

test('quotes identifiers and literals by doubling, and refuses backslashes in literals', () => {
  assert.equal(quoteIdent('a"b'), '"a""b"');
  assert.equal(quoteLiteral("it's"), "'it''s'");
  assert.throws(() => quoteLiteral('a\\b'));
});

test('tells per-object grants from group membership', () => {
  assert.equal(touchesObjectAcl(['GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";']), true);
  assert.equal(touchesObjectAcl(['CREATE ROLE "{{name}}" LOGIN; REVOKE ALL ON t FROM "{{name}}"']), true);
  assert.equal(touchesObjectAcl(['DROP OWNED BY "{{name}}"']), true);
  assert.equal(touchesObjectAcl(['CREATE ROLE "{{name}}" WITH LOGIN PASSWORD \'{{password}}\' IN ROLE "readers";', 'GRANT "readers" TO "{{name}}";']), false);
});

test('classifies conflicts as retryable, SQL errors as statements and socket errors as connection', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
  assert.equal(classifyPgError(pgError('XX000', 'tuple concurrently updated')), 'retry');
  assert.equal(classifyPgError(pgError('40P01', 'deadlock detected')), 'retry');
  assert.equal(classifyPgError(pgError('40001', 'could not serialize access')), 'retry');
  assert.equal(classifyPgError(pgError('XX000', 'cache lookup failed')), 'statement');
  assert.equal(classifyPgError(pgError('42601', 'syntax error')), 'statement');
  assert.equal(classifyPgError(pgError('28P01', 'password authentication failed')), 'connection');
  assert.equal(classifyPgError(pgError('57P01', 'terminating connection')), 'connection');
  assert.equal(classifyPgError(pgError('ECONNREFUSED', '')), 'connection');
  assert.equal(classifyPgError(new Error('Connection terminated unexpectedly')), 'connection');
  assert.equal(pgErrorText(Object.assign(new Error('duplicate key'), { detail: 'Key exists.' })), 'duplicate key (Key exists.)');
  assert.equal(pgErrorText(Object.assign(new Error(''), { code: 'ECONNREFUSED' })), 'ECONNREFUSED');
});

test('tells statements that may commit before their batch does: ending the transaction, or work on another connection', () => {
  assert.equal(mayCommitOnItsOwn(['CREATE ROLE "{{name}}" LOGIN; COMMIT; BEGIN; GRANT r TO "{{name}}";']), true);
  assert.equal(mayCommitOnItsOwn(['CREATE ROLE "{{name}}"', 'prepare transaction \'x\'']), true);
  assert.equal(mayCommitOnItsOwn(['SELECT dblink_exec(\'dbname=app\', \'CREATE ROLE "{{name}}"\')']), true);
  assert.equal(mayCommitOnItsOwn(['SELECT * FROM DBLINK (\'dbname=app\', \'SELECT 1\') AS t(x int)']), true);
  assert.equal(mayCommitOnItsOwn(['SELECT pg_background_launch(\'CREATE ROLE x\')']), true);
  assert.equal(mayCommitOnItsOwn(['CREATE ROLE "{{name}}" WITH LOGIN PASSWORD \'{{password}}\' IN ROLE "readers";']), false);
  assert.equal(mayCommitOnItsOwn(['GRANT SELECT ON dblinks TO "{{name}}"']), false);
});
