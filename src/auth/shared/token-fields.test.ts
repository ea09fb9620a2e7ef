/**
 * Tests: shared token settings, the per-mount salt and constant-time comparison.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryStorage } from '../../core/storage/memory.js';
import { constantTimeEqual, createSalt } from './salt.js';
import { loginResult, parseTokenSettings, tokenSettingsView } from './token-fields.js';

test('token fields accept Vault spellings and read back as integer seconds', () => {
  const s = parseTokenSettings({ policies: 'A, b,a', token_ttl: '1h', token_max_ttl: 7200, token_period: '0', token_num_uses: '3', token_no_default_policy: 'true' });
  const view = tokenSettingsView(s);
  assert.deepEqual(view['token_policies'], ['a', 'b']);
  assert.equal(view['token_ttl'], 3600);
  assert.equal(view['token_max_ttl'], 7200);
  assert.equal(view['token_num_uses'], 3);
  assert.equal(view['token_no_default_policy'], true);
});

test('token_policies wins over the legacy policies field', () => {
  assert.deepEqual(parseTokenSettings({ policies: ['old'], token_policies: ['new'] }).policies, ['new']);
});

test('batch tokens are refused rather than silently turned into service tokens', () => {
  assert.throws(() => parseTokenSettings({ token_type: 'batch' }), /token_type/);
  parseTokenSettings({ token_type: 'service' });
});

test('the login verdict caps the max TTL by the smaller of max_ttl and explicit_max_ttl, and keeps the explicit one', () => {
  const s = parseTokenSettings({ token_max_ttl: '2h', token_explicit_max_ttl: '1h', token_period: '30m', token_policies: 'p' });
  const verdict = loginResult(s, 'who', { k: 'v' });
  assert.equal(verdict.maxTtl, 3600);
  assert.equal(verdict.explicitMaxTtl, 3600, 'the hard end of a periodic token');
  assert.equal(verdict.period, 1800);
  assert.deepEqual(verdict.policies, ['p']);
  assert.equal(loginResult(parseTokenSettings({}), 'x', {}).maxTtl, 0);
});

test('the login verdict ties the token to token_bound_cidrs, or to the blocks given instead', () => {
  const s = parseTokenSettings({ token_bound_cidrs: ['10.0.0.0/8'] });
  assert.deepEqual(loginResult(s, 'who', {}).boundCidrs, ['10.0.0.0/8']);
  assert.deepEqual(loginResult(s, 'who', {}, ['10.1.0.0/16']).boundCidrs, ['10.1.0.0/16']);
  assert.equal(loginResult(parseTokenSettings({}), 'who', {}).boundCidrs, undefined);
});

test('the per-mount salt is created once, kept, and separates purposes', async () => {
  const storage = createMemoryStorage();
  const first = createSalt(storage);
  const a = await first.hmac('secret_id', 'value');
  assert.equal(await createSalt(storage).hmac('secret_id', 'value'), a, 'a restarted engine derives the same HMAC');
  assert.notEqual(await first.hmac('role_id', 'value'), a);
  assert.notEqual(await createSalt(createMemoryStorage()).hmac('secret_id', 'value'), a, 'another mount derives another HMAC');
});

test('constant-time comparison tells equal from different strings of any length', () => {
  assert.equal(constantTimeEqual('abc', 'abc'), true);
  assert.equal(constantTimeEqual('abc', 'abd'), false);
  assert.equal(constantTimeEqual('abc', 'abcd'), false);
  assert.equal(constantTimeEqual('', ''), true);
});
