/**
 * Tests: parsing MySQL connection URLs in Vault's Go DSN form and in mysql:// form.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseMysqlConnectionUrl } from './plugin-mysql-dsn.js';

const creds = { username: 'admin', password: 'p@ss:w/rd' };

test("parses Vault's DSN form and fills the credentials after parsing", () => {
  assert.deepEqual(parseMysqlConnectionUrl('{{username}}:{{password}}@tcp(127.0.0.1:3306)/', creds), {
    user: 'admin',
    password: 'p@ss:w/rd',
    host: '127.0.0.1',
    port: 3306,
  });
  assert.deepEqual(parseMysqlConnectionUrl('{{username}}:{{password}}@tcp(db.internal:3307)/app?tls=skip-verify&timeout=1m30s&parseTime=true', creds), {
    user: 'admin',
    password: 'p@ss:w/rd',
    host: 'db.internal',
    port: 3307,
    database: 'app',
    ssl: { rejectUnauthorized: false },
    connectTimeoutMs: 90_000,
  });
});

test('parses IPv6, default ports, bare tcp and unix sockets in the DSN form', () => {
  assert.deepEqual(parseMysqlConnectionUrl('u:p@tcp([::1]:3310)/', creds), { user: 'u', password: 'p', host: '::1', port: 3310 });
  assert.deepEqual(parseMysqlConnectionUrl('u@tcp(localhost)/', creds), { user: 'u', password: '', host: 'localhost', port: 3306 });
  assert.deepEqual(parseMysqlConnectionUrl('u:p@/', creds), { user: 'u', password: 'p', host: '127.0.0.1', port: 3306 });
  assert.deepEqual(parseMysqlConnectionUrl('{{username}}:{{password}}@unix(/run/mysqld/mysqld.sock)/db', creds), {
    user: 'admin',
    password: 'p@ss:w/rd',
    socketPath: '/run/mysqld/mysqld.sock',
    database: 'db',
  });
});

test('takes a literal password with @ and : in the DSN form, as the Go driver does', () => {
  const parsed = parseMysqlConnectionUrl('root:a:b@c@tcp(h:1)/', creds);
  assert.equal(parsed.user, 'root');
  assert.equal(parsed.password, 'a:b@c');
  assert.equal(parsed.host, 'h');
});

test('parses the mysql:// form with percent-escapes', () => {
  assert.deepEqual(parseMysqlConnectionUrl('mysql://{{username}}:{{password}}@127.0.0.1:3306/db', creds), {
    user: 'admin',
    password: 'p@ss:w/rd',
    host: '127.0.0.1',
    port: 3306,
    database: 'db',
  });
  assert.deepEqual(parseMysqlConnectionUrl('MYSQL://me:p%40w@[::1]/?tls=true', creds), {
    user: 'me',
    password: 'p@w',
    host: '::1',
    port: 3306,
    ssl: { rejectUnauthorized: true },
  });
});

test('refuses malformed URLs with a message that quotes no password', () => {
  const cases = [
    '',
    'no-slash-here',
    'u:secretpw@bogus(h)/',
    'u:secretpw@tcp(h:99999)/',
    'u:secretpw@tcp(h)/?tls=preferred',
    'u:secretpw@tcp(h)/?timeout=soon',
    'u:secretpw@tcp(h)/?timeout=0s',
    'u:secretpw@tcp(h)/?timeout=0',
    'u:secretpw@tcp(h)/?timeout=500ms',
    'u:secretpw@tcp(h)/?timeout=24h1s',
    'mysql://u:secretpw@h/?timeout=0s',
    'u:secretpw@tcp(h)/?unknown=1',
    'mysql://u:secretpw@h/a/b',
    'mysql://u:secret%ZZpw@h/',
    'mysql://u:secretpw@[bad/',
  ];
  for (const url of cases) {
    assert.throws(
      () => parseMysqlConnectionUrl(url, creds),
      (err: Error & { code?: string }) => err.code === 'bad_request' && !err.message.includes('secret'),
      url,
    );
  }
});

test('takes a DSN timeout from 1s to 24h and refuses one outside, naming the parameter', () => {
  assert.equal(parseMysqlConnectionUrl('u:p@tcp(h)/?timeout=1s', creds).connectTimeoutMs, 1000);
  assert.equal(parseMysqlConnectionUrl('mysql://u:p@h/?timeout=24h', creds).connectTimeoutMs, 86_400_000);
  // mysql2 reads a connect timeout of 0 as none at all: a silent server would hold the request for ever.
  for (const timeout of ['0s', '0ms', '999ms', '24h0m1s']) {
    assert.throws(() => parseMysqlConnectionUrl(`u:p@tcp(h)/?timeout=${timeout}`, creds), /timeout must be a duration from 1s to 24h/, timeout);
  }
});
