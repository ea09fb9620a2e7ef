/**
 * Tests: secret names, ARNs and derived suffixes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AwsError } from './errors.js';
import { derivedSuffix, formatArn, parseSecretId, validateName } from './names.js';

const fails = (fn: () => unknown, type: string): void => {
  assert.throws(fn, (error: unknown) => error instanceof AwsError && error.type === type);
};

describe('secret names and ARNs', () => {
  it('accepts AWS names that are also KV paths and refuses the rest', () => {
    assert.equal(validateName('prod/db_main+1=@.x-y'), 'prod/db_main+1=@.x-y');
    for (const bad of ['', 'a b', 'a#b', '/lead', 'trail/', 'a//b', 'a/../b', './a', 'x'.repeat(513)]) fails(() => validateName(bad), 'InvalidParameterException');
  });

  it('formats ARNs with the fixed account and parses full and partial ARNs back', () => {
    const arn = formatArn('eu-west-1', 'prod/db', 'AbC123');
    assert.equal(arn, 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:prod/db-AbC123');
    assert.deepEqual(parseSecretId(arn), { name: 'prod/db', suffix: 'AbC123', region: 'eu-west-1' });
    assert.deepEqual(parseSecretId('arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db'), { name: 'prod/db', suffix: undefined, region: 'us-east-1' });
    assert.deepEqual(parseSecretId('prod/db'), { name: 'prod/db', suffix: undefined });
  });

  it('never matches another account and refuses non-secret ARNs', () => {
    fails(() => parseSecretId('arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbC123'), 'ResourceNotFoundException');
    fails(() => parseSecretId('arn:aws:s3:::bucket'), 'InvalidParameterException');
    fails(() => parseSecretId(42), 'InvalidParameterException');
  });

  it('derives a stable six-character suffix from the name', () => {
    assert.match(derivedSuffix('prod/db'), /^[A-Za-z0-9]{6}$/);
    assert.equal(derivedSuffix('prod/db'), derivedSuffix('prod/db'));
    assert.notEqual(derivedSuffix('prod/db'), derivedSuffix('prod/dc'));
  });
});
