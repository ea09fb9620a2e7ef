import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pgConnectTimeout } from './plugin-postgres-connection.js';

test('connect_timeout is read from a connection_url in either form, in seconds', () => {
  assert.equal(pgConnectTimeout('postgresql://{{username}}:{{password}}@h:5432/db?sslmode=disable&connect_timeout=3'), 3);
  assert.equal(pgConnectTimeout("host=h user={{username}} password='{{password}}' connect_timeout=7 dbname=app"), 7);
  assert.equal(pgConnectTimeout('postgresql://{{username}}:{{password}}@h:5432/db?sslmode=disable'), undefined);
  assert.equal(pgConnectTimeout('host=h dbname=app'), undefined);
});

test('a connect_timeout that means waiting forever, or is not a number of seconds, is refused without quoting the URL', () => {
  for (const url of ['postgresql://u:Lit3ral-pw@h/db?connect_timeout=0', 'host=h password=Lit3ral-pw connect_timeout=-1', 'postgresql://u:Lit3ral-pw@h/db?connect_timeout=5s']) {
    assert.throws(() => pgConnectTimeout(url), (err: Error) => /connect_timeout must be a whole number of seconds/.test(err.message) && !err.message.includes('Lit3ral'));
  }
});
