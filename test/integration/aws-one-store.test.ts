/**
 * One store: a secret of the AWS API is a KV v2 secret of the `aws/` mount, readable and
 * writable through Coffer's own Vault API, and KV writes are visible to GetSecretValue with
 * the staging labels moving as documented (a KV write becomes AWSCURRENT).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  TagResourceCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ADMIN_POLICY, startAwsServer, type AwsTestServer } from './aws-harness.js';

describe('AWS secrets and KV v2 secrets are the same secrets', () => {
  let aws: AwsTestServer;
  let sm: SecretsManagerClient;

  before(async () => {
    aws = await startAwsServer();
    await aws.putPolicy('aws-admin', ADMIN_POLICY);
    sm = aws.client(await aws.issueKey(['aws-admin']));
  });
  after(async () => aws?.destroy());

  it('keeps its secrets in the aws/ KV v2 mount every server has from its first start', async () => {
    const mounts = await aws.vault('GET', 'sys/mounts');
    assert.equal(mounts.body.data['aws/'].type, 'kv');
    assert.deepEqual(mounts.body.data['aws/'].options, { version: '2' });
    await sm.send(new CreateSecretCommand({ Name: 'shared/db', SecretString: '{"username":"app","password":"s3cr3t-1"}' }));
  });

  it('shows an AWS-written JSON secret through the Vault API as its fields, and plain text wrapped', async () => {
    const read = await aws.vault('GET', 'aws/data/shared/db');
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.data.data, { username: 'app', password: 's3cr3t-1' });
    assert.equal(read.body.data.metadata.version, 1);
    await sm.send(new CreateSecretCommand({ Name: 'shared/token', SecretString: 'just-a-token' }));
    assert.deepEqual((await aws.vault('GET', 'aws/data/shared/token')).body.data.data, { SecretString: 'just-a-token' });
  });

  it('makes a KV write through the Vault API the AWSCURRENT version, the old one AWSPREVIOUS', async () => {
    const first = await sm.send(new GetSecretValueCommand({ SecretId: 'shared/db' }));
    const write = await aws.vault('POST', 'aws/data/shared/db', { data: { username: 'app', password: 's3cr3t-2' } });
    assert.equal(write.status, 200);
    const current = await sm.send(new GetSecretValueCommand({ SecretId: 'shared/db' }));
    assert.equal(current.SecretString, '{"username":"app","password":"s3cr3t-2"}');
    assert.deepEqual(current.VersionStages, ['AWSCURRENT']);
    assert.notEqual(current.VersionId, first.VersionId);
    const previous = await sm.send(new GetSecretValueCommand({ SecretId: 'shared/db', VersionStage: 'AWSPREVIOUS' }));
    assert.equal(previous.VersionId, first.VersionId);
    const again = await sm.send(new GetSecretValueCommand({ SecretId: 'shared/db' }));
    assert.equal(again.VersionId, current.VersionId, 'the version id of a Vault write is stable');

    // The next AWS write adopts the Vault-written version under the same id.
    const put = await sm.send(new PutSecretValueCommand({ SecretId: 'shared/db', SecretString: '{"username":"app","password":"s3cr3t-3"}' }));
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'shared/db' }));
    assert.deepEqual(described.VersionIdsToStages, { [put.VersionId as string]: ['AWSCURRENT'], [current.VersionId as string]: ['AWSPREVIOUS'] });
    assert.equal((await aws.vault('GET', 'aws/data/shared/db')).body.data.data.password, 's3cr3t-3');
    assert.equal((await aws.vault('GET', 'aws/data/shared/db?version=2')).body.data.data.password, 's3cr3t-2');
  });

  it('serves a secret created only through the Vault API, with a stable ARN', async () => {
    assert.equal((await aws.vault('POST', 'aws/data/vault-made/api', { data: { key: 'v1' } })).status, 200);
    await rejectsWithClass(sm.send(new CreateSecretCommand({ Name: 'vault-made/api', SecretString: 'x' })), ResourceExistsException);
    const value = await sm.send(new GetSecretValueCommand({ SecretId: 'vault-made/api' }));
    assert.equal(value.SecretString, '{"key":"v1"}');
    const listed = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['vault-made/'] }] }));
    assert.equal(listed.SecretList?.[0]?.ARN, value.ARN);
    await sm.send(new PutSecretValueCommand({ SecretId: value.ARN, SecretString: 'from-aws' }));
    const after = await sm.send(new GetSecretValueCommand({ SecretId: value.ARN }));
    assert.equal(after.ARN, value.ARN, 'adopting the secret keeps its ARN');
    assert.equal(after.SecretString, 'from-aws');
  });

  it('reads any Vault-written version by its derived id, labelled or not', async () => {
    await aws.vault('POST', 'aws/data/vault-made/many', { data: { n: 1 } });
    await aws.vault('POST', 'aws/data/vault-made/many', { data: { n: 2 } });
    await aws.vault('POST', 'aws/data/vault-made/many', { data: { n: 3 } });
    const listed = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'vault-made/many', IncludeDeprecated: true }));
    assert.deepEqual(listed.Versions?.map((v) => v.VersionStages), [['AWSCURRENT'], ['AWSPREVIOUS'], []], 'each Vault write moved AWSCURRENT on, as a PutSecretValue would');
    const oldest = listed.Versions?.[2]?.VersionId as string;
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'vault-made/many', VersionId: oldest }))).SecretString, '{"n":1}');
  });

  it('keeps the user\'s own custom_metadata beside the AWS bookkeeping', async () => {
    const patched = await aws.vault('PATCH', 'aws/metadata/shared/token', { custom_metadata: { owner: 'team-a' } });
    assert.equal(patched.status, 204, JSON.stringify(patched.body));
    await sm.send(new TagResourceCommand({ SecretId: 'shared/token', Tags: [{ Key: 'env', Value: 'prod' }] }));
    const meta = await aws.vault('GET', 'aws/metadata/shared/token');
    assert.equal(meta.body.data.custom_metadata.owner, 'team-a');
    assert.ok(Object.keys(meta.body.data.custom_metadata).some((k) => k.startsWith('aws:')));
    assert.deepEqual((await sm.send(new DescribeSecretCommand({ SecretId: 'shared/token' }))).Tags, [{ Key: 'env', Value: 'prod' }]);
  });

  it('follows soft deletes and removals made through the Vault API', async () => {
    assert.equal((await aws.vault('DELETE', 'aws/data/shared/token')).status, 204);
    await rejectsWithClass(sm.send(new GetSecretValueCommand({ SecretId: 'shared/token' })), ResourceNotFoundException);
    assert.equal((await aws.vault('POST', 'aws/undelete/shared/token', { versions: [1] })).status, 204);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'shared/token' }))).SecretString, 'just-a-token');
    assert.equal((await aws.vault('DELETE', 'aws/metadata/shared/token')).status, 204);
    await rejectsWithClass(sm.send(new GetSecretValueCommand({ SecretId: 'shared/token' })), ResourceNotFoundException);
  });

  it('an aws/ mount the operator disabled stays disabled: AWS requests say so instead of making it again', async () => {
    assert.equal((await aws.vault('DELETE', 'sys/mounts/aws')).status, 204);
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'again', SecretString: 'x' })), (error: unknown) => {
      assert.equal((error as Error).name, 'InvalidRequestException');
      assert.match((error as Error).message, /not enabled; enable it with: coffer secrets enable -path=aws kv-v2/);
      return true;
    });
    assert.equal((await aws.vault('GET', 'sys/mounts')).body.data['aws/'], undefined);
    assert.equal((await aws.vault('POST', 'sys/mounts/aws', { type: 'kv-v2' })).status, 204);
    await sm.send(new CreateSecretCommand({ Name: 'again', SecretString: 'x' }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'again' }))).SecretString, 'x');
  });
});

async function rejectsWithClass(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => Error): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${(error as Error).name}: ${(error as Error).message}`);
    return true;
  });
}

describe('an aws/ mount disabled before any AWS request', () => {
  it('stays disabled: the first AWS request after it does not make it again', async () => {
    const aws = await startAwsServer({ storage: 'memory' });
    try {
      await aws.putPolicy('aws-admin', ADMIN_POLICY);
      const sm = aws.client(await aws.issueKey(['aws-admin']));
      assert.equal((await aws.vault('DELETE', 'sys/mounts/aws')).status, 204);
      await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'x', SecretString: 'y' })), /not enabled/);
      assert.equal((await aws.vault('GET', 'sys/mounts')).body.data['aws/'], undefined);
    } finally {
      await aws.destroy();
    }
  });
});
