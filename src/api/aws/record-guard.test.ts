/**
 * Tests: the Vault API may remove the AWS bookkeeping keys of an aws/ secret but never set them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCofferError } from '../../core/errors.js';
import { refuseRecordWrite } from './record-guard.js';

const refused = (error: unknown): boolean => isCofferError(error) && error.code === 'bad_request';

describe('the guard on AWS bookkeeping written through the Vault API', () => {
  it('refuses a metadata write or patch that sets a reserved key on the aws mount', () => {
    for (const verb of ['write', 'patch'] as const) {
      assert.throws(() => refuseRecordWrite({ verb, path: 'aws/metadata/app/db', data: { custom_metadata: { 'aws:0': '{"format":1}' } } }), refused);
    }
  });

  it('lets removals, user keys, other settings and other mounts through', () => {
    refuseRecordWrite({ verb: 'patch', path: 'aws/metadata/app/db', data: { custom_metadata: { 'aws:0': null, owner: 'ops' } } });
    refuseRecordWrite({ verb: 'patch', path: 'aws/metadata/app/db', data: { custom_metadata: null } });
    refuseRecordWrite({ verb: 'write', path: 'aws/metadata/app/db', data: { custom_metadata: { owner: 'ops' }, max_versions: 5 } });
    refuseRecordWrite({ verb: 'write', path: 'secret/metadata/app/db', data: { custom_metadata: { 'aws:arn': 'keep' } } });
    refuseRecordWrite({ verb: 'write', path: 'aws/data/app/db', data: { data: { 'aws:0': 'a value is not bookkeeping' } } });
  });
});
