/**
 * Tests: splitting MySQL statement templates on `;` and filling their placeholders.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { formatExpiration, prepareStatements, renderStatement, splitStatements } from './plugin-mysql-statements.js';

test('splits a template on semicolons and drops empty pieces', () => {
  assert.deepEqual(splitStatements("CREATE USER 'a'@'%';  GRANT SELECT ON db.* TO 'a'@'%';\n;"), [
    "CREATE USER 'a'@'%'",
    "GRANT SELECT ON db.* TO 'a'@'%'",
  ]);
  assert.deepEqual(splitStatements('SELECT 1'), ['SELECT 1'], 'a final statement needs no semicolon');
  assert.deepEqual(splitStatements('  ;;  '), []);
});

test('never splits inside quoted strings, identifiers or comments', () => {
  assert.deepEqual(splitStatements("INSERT INTO t VALUES ('a;b', \"c;d\"); SELECT `we;ird` FROM t"), [
    "INSERT INTO t VALUES ('a;b', \"c;d\")",
    'SELECT `we;ird` FROM t',
  ]);
  assert.deepEqual(splitStatements("SELECT 'it''s; fine', 'back\\'slash; too'; SELECT 2"), [
    "SELECT 'it''s; fine', 'back\\'slash; too'",
    'SELECT 2',
  ]);
  assert.deepEqual(splitStatements('SELECT 1 /* a; b */; -- c; d\nSELECT 2 # e; f\n; SELECT 3'), [
    'SELECT 1 /* a; b */',
    '-- c; d\nSELECT 2 # e; f',
    'SELECT 3',
  ]);
});

test('treats -- as a comment only when whitespace follows, as MySQL does', () => {
  assert.deepEqual(splitStatements('SELECT 1--1; SELECT 2'), ['SELECT 1--1', 'SELECT 2']);
});

test('drops pieces that hold only comments, which MySQL would refuse as empty', () => {
  assert.deepEqual(splitStatements('SELECT 1; -- trailing note\n/* and another */'), ['SELECT 1']);
});

test('refuses unterminated quotes and comments', () => {
  for (const bad of ["SELECT 'open", 'SELECT "open', 'SELECT `open', 'SELECT 1 /* open']) {
    assert.throws(() => splitStatements(bad), { code: 'bad_request' }, bad);
  }
});

test('fills name, username, password and expiration in one pass', () => {
  const expiration = new Date('2030-01-02T03:04:05.678Z');
  assert.equal(
    renderStatement("CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}' /* {{username}} {{expiration}} */", {
      username: 'v-a',
      password: 'A1a-x',
      expiration,
    }),
    "CREATE USER 'v-a'@'%' IDENTIFIED BY 'A1a-x' /* v-a 2030-01-02 03:04:05+0000 */",
  );
  assert.equal(renderStatement("DROP USER '{{name}}' {{password}} {{other}}", { username: 'u' }), "DROP USER 'u' {{password}} {{other}}", 'values not given stay as written');
  assert.equal(renderStatement('{{name}}', { username: '{{password}}', password: 'secret' }), '{{password}}', 'a value never becomes a placeholder');
});

test('splits templates before filling them, so values cannot move statement boundaries', () => {
  assert.deepEqual(prepareStatements(["CREATE USER '{{name}}'; GRANT ALL ON x.* TO '{{name}}'", "SELECT '{{password}}'"], { username: 'a;b', password: "p';q" }), [
    "CREATE USER 'a;b'",
    "GRANT ALL ON x.* TO 'a;b'",
    "SELECT 'p';q'",
  ]);
});

test('formats expiration like Vault, in UTC', () => {
  assert.equal(formatExpiration(new Date('1999-12-31T23:59:59Z')), '1999-12-31 23:59:59+0000');
});
