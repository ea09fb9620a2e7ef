/**
 * Tests: staging labels on KV versions (pending writes, Vault-written versions, pruning).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { derivedVersionId } from './names.js';
import type { AwsRecord } from './record.js';
import { findForeignById, materialize, moveStages, resolveVersions, type AwsVersion, type KvFacts } from './versions.js';

const record = (over: Partial<AwsRecord> = {}): AwsRecord => ({ format: 1, suffix: 'AbC123', created: 0, lastChanged: 0, tags: [], seen: 0, versions: {}, ...over });
const facts = (current: number, held?: number[]): KvFacts => ({ current, versions: held ? new Set(held) : undefined });
const view = (versions: AwsVersion[]): Record<string, string[]> => Object.fromEntries(versions.map((v) => [v.id, v.stages]));

describe('staging labels on KV versions', () => {
  it('moving AWSCURRENT leaves AWSPREVIOUS on the version it left, taken from any other', () => {
    const a: AwsVersion = { kv: 1, id: 'a', stages: ['AWSPREVIOUS'] };
    const b: AwsVersion = { kv: 2, id: 'b', stages: ['AWSCURRENT', 'custom'] };
    const c: AwsVersion = { kv: 3, id: 'c', stages: [] };
    moveStages([a, b, c], c, ['AWSCURRENT']);
    assert.deepEqual(view([a, b, c]), { a: [], b: ['custom', 'AWSPREVIOUS'], c: ['AWSCURRENT'] });
    moveStages([a, b, c], a, ['custom']);
    assert.deepEqual(view([a, b, c]), { a: ['custom'], b: ['AWSPREVIOUS'], c: ['AWSCURRENT'] });
  });

  it('applies a pending write only once KV holds its version', () => {
    const r = record({ seen: 1, versions: { '1': { id: 'one', stages: ['AWSCURRENT'] } }, pending: { kv: 2, id: 'two', stages: ['AWSCURRENT'] } });
    assert.deepEqual(view(resolveVersions(r, facts(1, [1]))), { one: ['AWSCURRENT'] }, 'the KV write never happened: nothing moved');
    assert.deepEqual(view(resolveVersions(r, facts(2, [1, 2]))), { two: ['AWSCURRENT'], one: ['AWSPREVIOUS'] });
  });

  it('a pending AWSPENDING version does not become current', () => {
    const r = record({ seen: 1, versions: { '1': { id: 'one', stages: ['AWSCURRENT'] } }, pending: { kv: 2, id: 'two', stages: ['AWSPENDING'] } });
    assert.deepEqual(view(resolveVersions(r, facts(2))), { two: ['AWSPENDING'], one: ['AWSCURRENT'] });
  });

  it('makes the newest Vault-written version AWSCURRENT with a stable derived id and the one before it AWSPREVIOUS, as that many PutSecretValue calls would', () => {
    const r = record({ seen: 1, versions: { '1': { id: 'one', stages: ['AWSCURRENT'] } } });
    const versions = resolveVersions(r, facts(4, [1, 2, 3, 4]));
    assert.deepEqual(
      versions.map((v) => [v.kv, v.id, v.stages]),
      [
        [4, derivedVersionId('AbC123', 4), ['AWSCURRENT']],
        [3, derivedVersionId('AbC123', 3), ['AWSPREVIOUS']],
        [2, derivedVersionId('AbC123', 2), []],
        [1, 'one', []],
      ],
    );
    assert.match(derivedVersionId('AbC123', 4), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(resolveVersions(materialize(r, versions, 4), facts(4, [1, 2, 3, 4])), versions, 'adopting the view changes nothing');
  });

  it('finds an unlabeled Vault-written version by id when only the latest number is known', () => {
    const r = record({ seen: 1, versions: { '1': { id: 'one', stages: ['AWSCURRENT'] } } });
    assert.deepEqual(resolveVersions(r, facts(4)).map((v) => v.kv), [4, 3, 1], 'a data read derives no ids between, only the AWSPREVIOUS one');
    assert.deepEqual(findForeignById(r, 4, derivedVersionId('AbC123', 2)), { kv: 2, id: derivedVersionId('AbC123', 2), stages: [] });
    assert.equal(findForeignById(r, 4, derivedVersionId('AbC123', 1)), undefined, 'versions the record covers are not foreign');
    assert.equal(findForeignById(r, 4, derivedVersionId('AbC123', 4)), undefined, 'the latest is found through the labels');
  });

  it('after one Vault write, AWSPREVIOUS is on the version that was current', () => {
    const r = record({ seen: 1, versions: { '1': { id: 'one', stages: ['AWSCURRENT'] } } });
    assert.deepEqual(view(resolveVersions(r, facts(2, [1, 2]))), { [derivedVersionId('AbC123', 2)]: ['AWSCURRENT'], one: ['AWSPREVIOUS'] });
  });

  it('leaves AWSPREVIOUS where it was when the version before the latest is gone', () => {
    const r = record({ seen: 1, versions: { '1': { id: 'one', stages: ['AWSCURRENT'] } } });
    assert.deepEqual(view(resolveVersions(r, facts(3, [1, 3]))), { [derivedVersionId('AbC123', 3)]: ['AWSCURRENT'], one: ['AWSPREVIOUS'] });
  });

  it('hides versions KV no longer holds', () => {
    const r = record({ seen: 3, versions: { '1': { id: 'one', stages: [] }, '2': { id: 'two', stages: ['AWSPREVIOUS'] }, '3': { id: 'three', stages: ['AWSCURRENT'] } } });
    assert.deepEqual(resolveVersions(r, facts(3, [2, 3])).map((v) => v.id), ['three', 'two']);
  });

  it('materialising drops a pending write KV never committed', () => {
    const r = record({ seen: 1, versions: { '1': { id: 'one', stages: ['AWSCURRENT'] } }, pending: { kv: 2, id: 'two', stages: ['AWSCURRENT'] } });
    const settled = materialize(r, resolveVersions(r, facts(1, [1])), 1);
    assert.equal(settled.pending, undefined);
    assert.deepEqual(settled.versions, { '1': { id: 'one', stages: ['AWSCURRENT'] } });
  });
});
