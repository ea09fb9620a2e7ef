/**
 * Tests: secret values as KV data, byte-for-byte round trips, and request validation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AwsError } from './errors.js';
import { fromKvData, sameValue, toKvData, valueFromRequest, type SecretValue } from './secret-value.js';

const text = (t: string): SecretValue => ({ kind: 'string', text: t });

describe('secret values as KV data', () => {
  it('stores a canonical JSON object as the object itself, so Vault clients see its fields', () => {
    assert.deepEqual(toKvData(text('{"username":"app","password":"pw"}')), { username: 'app', password: 'pw' });
  });

  it('round-trips every SecretString byte for byte', () => {
    const samples = [
      'plain text',
      '{"username": "app"}',
      '{"b":1,"1":2}',
      '{"SecretString":"looks like the wrapper"}',
      '{"SecretBinary":"AAAA"}',
      '["an","array"]',
      '"a json string"',
      '{"__proto__":{"polluted":true}}',
      '{"a":1.0}',
      '{}',
      'ünïcödé \u{1F511}',
    ];
    for (const sample of samples) assert.deepEqual(fromKvData(toKvData(text(sample))), text(sample), sample);
  });

  it('stores binary values as base64 and reads them back', () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    assert.deepEqual(toKvData({ kind: 'binary', bytes }), { SecretBinary: 'AAEC/w==' });
    assert.deepEqual(fromKvData({ SecretBinary: 'AAEC/w==' }), { kind: 'binary', bytes });
  });

  it('reads data written through the Vault API as its JSON text', () => {
    assert.deepEqual(fromKvData({ user: 'u', n: 1 }), text('{"user":"u","n":1}'));
  });

  it('compares values by kind and content', () => {
    assert.equal(sameValue(text('a'), text('a')), true);
    assert.equal(sameValue(text('a'), text('b')), false);
    assert.equal(sameValue(text('AA=='), { kind: 'binary', bytes: Buffer.from('AA==') }), false);
  });

  it('validates request values without echoing them', () => {
    assert.equal(valueFromRequest({}), undefined);
    assert.equal(valueFromRequest({ SecretString: null, SecretBinary: null }), undefined, 'null is absent');
    assert.deepEqual(valueFromRequest({ SecretString: null, SecretBinary: 'AA==' }), { kind: 'binary', bytes: Buffer.from([0]) });
    const refused = (body: Record<string, unknown>): void => {
      assert.throws(() => valueFromRequest(body), (error: unknown) => error instanceof AwsError && error.type === 'InvalidParameterException' && !error.message.includes('s3cr3t'));
    };
    refused({ SecretString: 's3cr3t', SecretBinary: 'AAAA' });
    refused({ SecretString: '' });
    refused({ SecretString: 'x'.repeat(65_537) });
    refused({ SecretBinary: 's3cr3t!' });
    assert.deepEqual(valueFromRequest({ SecretBinary: 'AAEC/w==' }), { kind: 'binary', bytes: Buffer.from([0, 1, 2, 255]) });
  });
});
