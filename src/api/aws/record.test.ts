/**
 * Tests: the AWS record's chunked storage in custom_metadata, within KV's limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateCustomMetadata } from '../../engines/kv/custom-metadata.js';
import { AwsError } from './errors.js';
import { decodeRecord, encodeRecord, userMetadata, type AwsRecord } from './record.js';

const base: AwsRecord = { format: 1, suffix: 'AbC123', created: 1, lastChanged: 2, tags: [], seen: 0, versions: {} };

describe('the AWS record in custom_metadata', () => {
  it('round-trips through chunks that pass KV custom_metadata validation, keeping the user keys', () => {
    const record: AwsRecord = {
      ...base,
      description: 'line one\nline two\ttabbed \u00ad soft hyphen \u2028 separator, emoji \u{1F511}, and "quotes"',
      tags: Array.from({ length: 40 }, (_v, i) => [`key-${i}`, `välue ${i} ${'x'.repeat(100)}`] as [string, string]),
      versions: { '3': { id: 'c0ffee00-0000-4000-8000-000000000000', stages: ['AWSCURRENT'] } },
      seen: 3,
    };
    const custom = encodeRecord(record, { owner: 'team-a', 'aws:9': 'stale chunk' });
    assert.equal(custom['owner'], 'team-a');
    assert.ok(Object.keys(custom).filter((k) => k.startsWith('aws:')).length > 1, 'a large record spans several keys');
    assert.doesNotThrow(() => validateCustomMetadata(custom));
    assert.deepEqual(decodeRecord(custom), record);
    assert.deepEqual(userMetadata(custom), { owner: 'team-a' });
  });

  it('refuses with LimitExceededException a record that does not fit beside the user keys', () => {
    const userKeys = Object.fromEntries(Array.from({ length: 63 }, (_v, i) => [`user-${i}`, 'v']));
    const record: AwsRecord = { ...base, description: 'd'.repeat(2048) };
    assert.throws(() => encodeRecord(record, userKeys), (error: unknown) => error instanceof AwsError && error.type === 'LimitExceededException');
  });

  it('reads a missing or damaged record as no record', () => {
    assert.equal(decodeRecord(null), undefined);
    assert.equal(decodeRecord({ owner: 'x' }), undefined);
    assert.equal(decodeRecord({ 'aws:0': '{"format":1,' }), undefined);
    assert.equal(decodeRecord({ 'aws:0': '{"format":2,"suffix":"x"}' }), undefined);
  });
});
