/**
 * Tests: plugin failures become CofferErrors with the right code and no secret in the text.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { badRequest } from '../../core/errors.js';
import { databaseFailure } from './db-errors.js';
import { DatabasePluginError } from './plugin.js';
import { WITHHELD_MESSAGE } from './plugin-secret-scrub.js';

const SECRET = 'Sup3r-Secret-pw';

test('statement errors are 400, connection errors 502 (400 while verifying a config)', () => {
  assert.equal(databaseFailure(new DatabasePluginError('statement', 'syntax error'), [], 'p: ').code, 'bad_request');
  assert.equal(databaseFailure(new DatabasePluginError('connection', 'refused'), [], 'p: ').code, 'upstream');
  assert.equal(databaseFailure(new DatabasePluginError('connection', 'refused'), [], 'p: ', 'verify').code, 'bad_request');
  const passthrough = databaseFailure(badRequest('bad rule'), [], 'p: ');
  assert.equal(passthrough.code, 'bad_request');
  assert.equal(passthrough.message, 'p: bad rule');
});

test('a secret a plugin let slip is scrubbed, whole, URL-encoded or in part', () => {
  for (const err of [
    new Error(`login with ${SECRET} failed`),
    new DatabasePluginError('statement', `near "${SECRET.slice(0, 9)}"`),
    badRequest(`url postgresql://a:${encodeURIComponent('p@ss/word')}@h`),
  ]) {
    const out = databaseFailure(err, [SECRET, 'p@ss/word'], 'failed: ');
    assert.ok(!out.message.includes(SECRET.slice(0, 6)), out.message);
    assert.ok(!out.message.includes('p%40ss'), out.message);
    assert.match(out.message, /^failed: /);
  }
  assert.equal(databaseFailure(new Error('boom'), [], '').code, 'internal');
});

test('a message with a piece of a secret is withheld whole, behind the failure prefix', () => {
  const out = databaseFailure(new DatabasePluginError('statement', `near "${SECRET.slice(2, 12)}" at line 1`), [SECRET], 'failed to create user: ');
  assert.equal(out.message, `failed to create user: ${WITHHELD_MESSAGE}`);
  const probe = `probe: ${SECRET.slice(0, 4)}|${SECRET.slice(4, 8)}|zzzz`;
  assert.equal(databaseFailure(new DatabasePluginError('statement', probe), [SECRET], 'p: ').message, `p: ${probe}`, 'short pieces tell nothing');
});

test('a failure whose change may have taken effect stays marked so, for the lease manager', () => {
  const unknown = new DatabasePluginError('connection', 'connection lost', undefined, { outcomeUnknown: true });
  assert.equal(databaseFailure(unknown, [], 'p: ').outcomeUnknown, true);
  assert.equal(databaseFailure(new DatabasePluginError('statement', 'division by zero'), [], 'p: ').outcomeUnknown, false);
});
