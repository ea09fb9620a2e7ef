/**
 * Tests: ListSecrets filter parsing and matching.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AwsError } from './errors.js';
import { matchesFilters, parseFilters } from './list-filters.js';

const secret = { name: 'prod/db', description: 'Main Database', tags: [['team', 'payments'], ['env', 'prod']] as Array<[string, string]> };
const match = (filters: unknown): boolean => matchesFilters(parseFilters(filters), secret);

describe('ListSecrets filters', () => {
  it('matches name, tag-key and tag-value prefixes case-sensitively, description case-insensitively', () => {
    assert.equal(match([{ Key: 'name', Values: ['prod/'] }]), true);
    assert.equal(match([{ Key: 'name', Values: ['Prod/'] }]), false);
    assert.equal(match([{ Key: 'description', Values: ['main data'] }]), true);
    assert.equal(match([{ Key: 'tag-key', Values: ['te'] }]), true);
    assert.equal(match([{ Key: 'tag-value', Values: ['pay'] }]), true);
    assert.equal(match([{ Key: 'tag-value', Values: ['Pay'] }]), false);
  });

  it('ORs values, ANDs filters, and excludes with a leading !', () => {
    assert.equal(match([{ Key: 'name', Values: ['dev/', 'prod/'] }]), true);
    assert.equal(match([{ Key: 'name', Values: ['prod/'] }, { Key: 'tag-key', Values: ['owner'] }]), false);
    assert.equal(match([{ Key: 'name', Values: ['!prod/'] }]), false);
    assert.equal(match([{ Key: 'name', Values: ['!dev/'] }]), true);
  });

  it('searches every attribute with "all", one word at a time', () => {
    assert.equal(match([{ Key: 'all', Values: ['database PAY'] }]), true);
    assert.equal(match([{ Key: 'all', Values: ['database billing'] }]), false);
  });

  it('refuses unknown keys and values outside the allowed characters', () => {
    const refused = (filters: unknown): void => {
      assert.throws(() => parseFilters(filters), (error: unknown) => error instanceof AwsError && error.type === 'InvalidParameterException');
    };
    refused([{ Key: 'owner', Values: ['x'] }]);
    refused([{ Key: 'name', Values: ['a*b'] }]);
    refused([{ Key: 'name', Values: [] }]);
    refused('name');
  });
});
