/**
 * Tests: connection_url redaction and the pg target built from it.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { redactConnectionUrl } from './redact.js';
import { pgTarget } from './plugin-postgres-connection.js';

test('keeps placeholders and masks a password written into the URL', () => {
  const template = 'postgresql://{{username}}:{{password}}@db:5432/app?sslmode=disable';
  assert.equal(redactConnectionUrl(template, ['s3cret']), template);
  assert.equal(redactConnectionUrl('postgresql://admin:hunter2@db:5432/app', []), 'postgresql://admin:*****@db:5432/app');
  assert.equal(redactConnectionUrl('postgresql://admin:p%40ss@db/app?password=x1&sslmode=require', []), 'postgresql://admin:*****@db/app?password=*****&sslmode=require');
  assert.equal(redactConnectionUrl("host=db user=admin password='a b' dbname=app", []), "host=db user=admin password='*****' dbname=app");
  assert.equal(redactConnectionUrl('host=db password={{password}}', []), 'host=db password={{password}}');
  assert.equal(redactConnectionUrl('postgresql://db/app?application_name=Kq9-zz81', ['Kq9-zz81']), 'postgresql://db/app?application_name=*****');
});

test('fills the URL with encoded credentials, and reads the key=value form', () => {
  assert.deepEqual(pgTarget('postgresql://{{username}}:{{password}}@h:1/d', 'u@x', 'p/w:@'), { connectionString: 'postgresql://u%40x:p%2Fw%3A%40@h:1/d' });
  assert.deepEqual(pgTarget("host=h port=5433 user={{username}} password='{{password}}' dbname=app sslmode=require", 'u', "it's"), {
    host: 'h', port: 5433, user: 'u', password: "it's", database: 'app', ssl: { rejectUnauthorized: false },
  });
  assert.throws(() => pgTarget('mysql://x', 'u', 'p'), /invalid connection_url/);
});

test('masks a password in a Go MySQL DSN, keeping the placeholders and the rest', () => {
  assert.equal(redactConnectionUrl('rv_lit:Lit-Secret-789@tcp(127.0.0.1:3306)/', []), 'rv_lit:*****@tcp(127.0.0.1:3306)/');
  assert.equal(redactConnectionUrl('app:p@ss:w0rd@unix(/run/mysqld.sock)/db', []), 'app:*****@unix(/run/mysqld.sock)/db');
  assert.equal(redactConnectionUrl('app:secret@/db', []), 'app:*****@/db');
  const template = '{{username}}:{{password}}@tcp(127.0.0.1:3306)/';
  assert.equal(redactConnectionUrl(template, []), template);
  assert.equal(redactConnectionUrl('mysql://user:pw@/dbname', []), 'mysql://user:*****@/dbname');
});

test('keeps the quotes around a placeholder in a key=value URL, so what is read can be written back', () => {
  const template = "host=127.0.0.1 dbname=x user={{username}} password='{{password}}'";
  assert.equal(redactConnectionUrl(template, ['s3cret-pw']), template);
  assert.equal(redactConnectionUrl("host=h password = '{{ password }}' dbname=x", []), "host=h password = '{{ password }}' dbname=x");
  // Written back as read, the placeholder still takes a password with a space and a quote.
  assert.deepEqual(pgTarget(redactConnectionUrl(template, []), 'u', "a b'c"), { host: '127.0.0.1', user: 'u', password: "a b'c", database: 'x' });
});

test('masks a password exactly where the key=value reader finds one, also with no blank after a quoted value', () => {
  // libpq reads `user='u'password=...` as two pairs (no blank needed after a quoted value), and so does pgTarget.
  const glued = "host=127.0.0.1 dbname=x user='u'password=LitPw-16 sslmode=disable";
  assert.equal(pgTarget(glued, 'ignored', 'ignored').password, 'LitPw-16');
  assert.equal(redactConnectionUrl(glued, []), "host=127.0.0.1 dbname=x user='u'password=***** sslmode=disable");
  assert.equal(redactConnectionUrl("user='u'password='a b'", []), "user='u'password='*****'");
  // A backslash keeps a blank inside a bare value, as in libpq: the whole value is masked.
  const escaped = 'host=h password=Lit\\ Pw-17 dbname=x';
  assert.equal(pgTarget(escaped, 'u', 'p').password, 'Lit Pw-17');
  assert.equal(redactConnectionUrl(escaped, []), 'host=h password=***** dbname=x');
});

test('a bare password placeholder takes any password, and reads back as a placeholder', () => {
  assert.equal(pgTarget('host=h password={{password}}', 'u', "a b'c\\d").password, "a b'c\\d");
  assert.equal(pgTarget('host=h password={{ password }} dbname=x', 'u', 'a b').password, 'a b');
  assert.equal(redactConnectionUrl('host=h password={{ password }} dbname=x', []), 'host=h password={{password}} dbname=x');
});
