import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PathSpec } from './engine.js';
import { warnIgnoredFields } from './ignored-fields.js';

const spec: PathSpec = { pattern: 'roles/(?<name>[a-z]+)', operations: {}, fields: new Set(['ttl', 'policies']) };
const params = { name: 'web' };
const WARNING = 'Endpoint ignored these unrecognized parameters: [polices ttl_max]';

test('a write with fields its path does not read is answered with Vault\'s warning, naming the fields and never their values', () => {
  const data = { ttl: '1h', polices: 'admin', ttl_max: 'hunter2-secret' };
  assert.deepEqual(warnIgnoredFields({ data: { a: 1 } }, spec, 'update', data, params), { data: { a: 1 }, warnings: [WARNING] });
  assert.deepEqual(warnIgnoredFields({ data: null, auth: undefined }, spec, 'create', data, params)?.warnings, [WARNING]);
  assert.deepEqual(warnIgnoredFields({ data: { a: 1 }, warnings: ['own'] }, spec, 'patch', data, params), { data: { a: 1 }, warnings: ['own', WARNING] });
  assert.ok(!JSON.stringify(warnIgnoredFields({ data: {} }, spec, 'update', data, params)).includes('hunter2'));
  // As Vault's framework: a write that answers nothing stays a 204, with no body to warn in.
  assert.equal(warnIgnoredFields(null, spec, 'update', data, params), null);
});

test('known fields, the path\'s own parameters, reads, errors and paths without a field list are left alone', () => {
  const response = { data: { ok: true } };
  assert.equal(warnIgnoredFields(response, spec, 'update', { ttl: 1, policies: [], name: 'web' }, params), response);
  assert.equal(warnIgnoredFields(null, spec, 'update', {}, params), null, 'an empty write stays a 204');
  assert.equal(warnIgnoredFields(response, spec, 'read', { list: 'true' }, params), response);
  assert.equal(warnIgnoredFields(response, spec, 'delete', { odd: 1 }, params), response);
  const failed = { statusCode: 404, data: { data: null } };
  assert.equal(warnIgnoredFields(failed, spec, 'update', { odd: 1 }, params), failed);
  const raw = { rawBody: { wrapped: true } };
  assert.equal(warnIgnoredFields(raw, spec, 'update', { odd: 1 }, params), raw);
  const open: PathSpec = { pattern: '(?<path>.*)', operations: {} };
  assert.equal(warnIgnoredFields(null, open, 'update', { anything: 1 }, {}), null);
});
