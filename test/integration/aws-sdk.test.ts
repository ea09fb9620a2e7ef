/**
 * Every Secrets Manager operation Coffer serves, driven by the unmodified AWS SDK v3 with only
 * `endpoint` and a Coffer-issued key pair changed, and the SDK's own error classes for missing
 * secrets, duplicate names and bad parameters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BatchGetSecretValueCommand,
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  InvalidNextTokenException,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  RotateSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ADMIN_POLICY, awsError, startAwsServer, type AwsTestServer } from './aws-harness.js';

const TOKEN_A = 'aaaaaaaa-0000-4000-8000-000000000001';
const TOKEN_B = 'aaaaaaaa-0000-4000-8000-000000000002';
const ROTATOR = 'coffer:rotator:test';

async function rejectsWith(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => Error, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${(error as Error).name}: ${(error as Error).message}`);
    if (message) assert.match((error as Error).message, message);
    return true;
  });
}

describe('the AWS SDK against Coffer', () => {
  let aws: AwsTestServer;
  let sm: SecretsManagerClient;
  let rotations = 0;

  before(async () => {
    aws = await startAwsServer({
      awsRotators: (arn) =>
        arn === ROTATOR
          ? {
              nextValue: async () => {
                rotations += 1;
                return { kind: 'string', text: `rotated-${rotations}` };
              },
            }
          : undefined,
    });
    await aws.putPolicy('aws-admin', ADMIN_POLICY);
    sm = aws.client(await aws.issueKey(['aws-admin']));
  });
  after(async () => aws?.destroy());

  it('creates a secret and reads it back by name and by ARN', async () => {
    const created = await sm.send(
      new CreateSecretCommand({
        Name: 'app/db',
        ClientRequestToken: TOKEN_A,
        SecretString: '{"username":"app","password":"pw-1"}',
        Description: 'the app database',
        Tags: [{ Key: 'team', Value: 'payments' }],
      }),
    );
    assert.match(created.ARN ?? '', /^arn:aws:secretsmanager:us-east-1:000000000000:secret:app\/db-[A-Za-z0-9]{6}$/);
    assert.equal(created.Name, 'app/db');
    assert.equal(created.VersionId, TOKEN_A);
    assert.match(created.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);

    for (const SecretId of ['app/db', created.ARN as string]) {
      const value = await sm.send(new GetSecretValueCommand({ SecretId }));
      assert.equal(value.SecretString, '{"username":"app","password":"pw-1"}');
      assert.equal(value.VersionId, TOKEN_A);
      assert.deepEqual(value.VersionStages, ['AWSCURRENT']);
      assert.equal(value.ARN, created.ARN);
      assert.ok(value.CreatedDate instanceof Date);
    }
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
    assert.equal(described.Description, 'the app database');
    assert.deepEqual(described.Tags, [{ Key: 'team', Value: 'payments' }]);
    assert.deepEqual(described.VersionIdsToStages, { [TOKEN_A]: ['AWSCURRENT'] });
    assert.equal(described.RotationEnabled, undefined);
    assert.ok(described.CreatedDate instanceof Date);
  });

  it('finds a secret by ARN only in the region the ARN names, as regional secrets are', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'app/regional', SecretString: 'here' }));
    const foreign = (created.ARN as string).replace(':us-east-1:', ':eu-west-1:');
    await rejectsWith(sm.send(new GetSecretValueCommand({ SecretId: foreign })), ResourceNotFoundException);
    await rejectsWith(sm.send(new DescribeSecretCommand({ SecretId: foreign })), ResourceNotFoundException);
    assert.equal((await sm.send(new DeleteSecretCommand({ SecretId: foreign, ForceDeleteWithoutRecovery: true }))).ARN, foreign);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: created.ARN }))).SecretString, 'here', 'a force delete in another region deleted nothing here');
  });

  it('treats a repeated ClientRequestToken as the same call, and refuses a duplicate name', async () => {
    const again = await sm.send(new CreateSecretCommand({ Name: 'app/db', ClientRequestToken: TOKEN_A, SecretString: '{"username":"app","password":"pw-1"}' }));
    assert.equal(again.VersionId, TOKEN_A);
    await rejectsWith(sm.send(new CreateSecretCommand({ Name: 'app/db', ClientRequestToken: TOKEN_A, SecretString: 'another value' })), ResourceExistsException);
    await rejectsWith(sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: 'x' })), ResourceExistsException, /already exists/);
  });

  it('raises the SDK error classes for a missing secret and bad parameters', async () => {
    await rejectsWith(sm.send(new GetSecretValueCommand({ SecretId: 'app/missing' })), ResourceNotFoundException, /can't find the specified secret/);
    await rejectsWith(sm.send(new CreateSecretCommand({ Name: 'bad name!', SecretString: 'x' })), InvalidParameterException);
    await rejectsWith(sm.send(new CreateSecretCommand({ Name: 'app/both', SecretString: 'x', SecretBinary: new Uint8Array([1]) })), InvalidParameterException);
    await rejectsWith(sm.send(new DeleteSecretCommand({ SecretId: 'app/db', RecoveryWindowInDays: 3 })), InvalidParameterException);
    const arn = (await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }))).ARN as string;
    await rejectsWith(sm.send(new GetSecretValueCommand({ SecretId: arn.replace(/-[A-Za-z0-9]{6}$/, '-zzzzzz') })), ResourceNotFoundException);
  });

  it('stores binary secrets and returns the same bytes', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await sm.send(new CreateSecretCommand({ Name: 'app/cert', SecretBinary: bytes }));
    const value = await sm.send(new GetSecretValueCommand({ SecretId: 'app/cert' }));
    assert.equal(value.SecretString, undefined);
    assert.deepEqual(Buffer.from(value.SecretBinary as Uint8Array), Buffer.from(bytes));
  });

  it('creates a secret without a value and gives it one with PutSecretValue', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'app/empty', Description: 'later' }));
    await rejectsWith(sm.send(new GetSecretValueCommand({ SecretId: 'app/empty' })), ResourceNotFoundException, /staging label: AWSCURRENT/);
    const put = await sm.send(new PutSecretValueCommand({ SecretId: 'app/empty', SecretString: 'now' }));
    assert.deepEqual(put.VersionStages, ['AWSCURRENT']);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/empty' }))).SecretString, 'now');
  });

  it('moves staging labels as Secrets Manager does through a manual rotation', async () => {
    const put = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', ClientRequestToken: TOKEN_B, SecretString: 'pending-value', VersionStages: ['AWSPENDING'] }));
    assert.deepEqual(put.VersionStages, ['AWSPENDING']);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).VersionId, TOKEN_A, 'AWSPENDING does not become current');
    const pending = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'AWSPENDING' }));
    assert.equal(pending.SecretString, 'pending-value');
    await rejectsWith(sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionId: TOKEN_A, VersionStage: 'AWSPENDING' })), InvalidRequestException);

    await rejectsWith(sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'app/db', VersionStage: 'AWSCURRENT', MoveToVersionId: TOKEN_B })), InvalidParameterException, /RemoveFromVersionId/);
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'app/db', VersionStage: 'AWSCURRENT', MoveToVersionId: TOKEN_B, RemoveFromVersionId: TOKEN_A }));
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
    assert.deepEqual(described.VersionIdsToStages, { [TOKEN_B]: ['AWSPENDING', 'AWSCURRENT'], [TOKEN_A]: ['AWSPREVIOUS'] });
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'app/db', VersionStage: 'AWSPENDING', RemoveFromVersionId: TOKEN_B }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }))).SecretString, 'pending-value');
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionStage: 'AWSPREVIOUS' }))).SecretString, '{"username":"app","password":"pw-1"}');
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/db', VersionId: TOKEN_A }))).SecretString, '{"username":"app","password":"pw-1"}');
  });

  it('PutSecretValue without stages makes the new version current and keeps the previous one', async () => {
    const put = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', SecretString: 'third' }));
    const again = await sm.send(new PutSecretValueCommand({ SecretId: 'app/db', ClientRequestToken: put.VersionId, SecretString: 'third' }));
    assert.equal(again.VersionId, put.VersionId, 'an idempotent retry creates nothing');
    await rejectsWith(sm.send(new PutSecretValueCommand({ SecretId: 'app/db', ClientRequestToken: put.VersionId, SecretString: 'changed' })), ResourceExistsException);
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
    assert.deepEqual(described.VersionIdsToStages, { [put.VersionId as string]: ['AWSCURRENT'], [TOKEN_B]: ['AWSPREVIOUS'] });
    await rejectsWith(sm.send(new PutSecretValueCommand({ SecretId: 'app/db' })), InvalidParameterException);
  });

  it('lists version ids, hiding unlabeled ones unless asked, page by page', async () => {
    const labelled = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'app/db' }));
    assert.equal(labelled.Versions?.length, 2);
    const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'app/db', IncludeDeprecated: true }));
    assert.equal(all.Versions?.length, 3);
    assert.ok(all.Versions?.some((v) => v.VersionId === TOKEN_A && v.VersionStages?.length === 0));
    const seen: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'app/db', IncludeDeprecated: true, MaxResults: 1, NextToken }));
      seen.push(...(page.Versions ?? []).map((v) => v.VersionId as string));
      NextToken = page.NextToken;
    } while (NextToken);
    assert.deepEqual(seen, all.Versions?.map((v) => v.VersionId));
  });

  it('UpdateSecret changes the description without a version, and a value with one', async () => {
    const before = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
    const meta = await sm.send(new UpdateSecretCommand({ SecretId: 'app/db', Description: 'renamed' }));
    assert.equal(meta.VersionId, undefined);
    const afterMeta = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }));
    assert.equal(afterMeta.Description, 'renamed');
    assert.deepEqual(afterMeta.VersionIdsToStages, before.VersionIdsToStages);
    const withValue = await sm.send(new UpdateSecretCommand({ SecretId: 'app/db', SecretString: 'fourth' }));
    assert.ok(withValue.VersionId);
    const value = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
    assert.equal(value.SecretString, 'fourth');
    assert.equal(value.VersionId, withValue.VersionId);
  });

  it('tags and untags a secret', async () => {
    await sm.send(new TagResourceCommand({ SecretId: 'app/db', Tags: [{ Key: 'env', Value: 'prod' }, { Key: 'team', Value: 'billing' }] }));
    assert.deepEqual((await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }))).Tags, [
      { Key: 'team', Value: 'billing' },
      { Key: 'env', Value: 'prod' },
    ]);
    await sm.send(new UntagResourceCommand({ SecretId: 'app/db', TagKeys: ['team'] }));
    assert.deepEqual((await sm.send(new DescribeSecretCommand({ SecretId: 'app/db' }))).Tags, [{ Key: 'env', Value: 'prod' }]);
    await rejectsWith(sm.send(new TagResourceCommand({ SecretId: 'app/db', Tags: [{ Key: 'aws:reserved', Value: 'x' }] })), InvalidParameterException);
  });

  it('lists secrets with filters and NextToken pagination', async () => {
    for (const name of ['list/a', 'list/b', 'list/c']) {
      await sm.send(new CreateSecretCommand({ Name: name, SecretString: name, Tags: [{ Key: 'group', Value: name === 'list/b' ? 'odd' : 'even' }] }));
    }
    const names: string[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['list/'] }], MaxResults: 2, NextToken }));
      names.push(...(page.SecretList ?? []).map((s) => s.Name as string));
      NextToken = page.NextToken;
      pages += 1;
    } while (NextToken);
    assert.deepEqual(names, ['list/a', 'list/b', 'list/c']);
    assert.equal(pages, 2);
    const even = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'tag-value', Values: ['even'] }, { Key: 'name', Values: ['list/'] }] }));
    assert.deepEqual(even.SecretList?.map((s) => s.Name), ['list/a', 'list/c']);
    const entry = (await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['app/db'] }] }))).SecretList?.[0];
    assert.equal(entry?.Description, 'renamed');
    assert.ok(entry?.SecretVersionsToStages && Object.values(entry.SecretVersionsToStages).some((s) => s.includes('AWSCURRENT')));
    const desc = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['list/'] }], SortOrder: 'desc' }));
    assert.deepEqual(desc.SecretList?.map((s) => s.Name), ['list/c', 'list/b', 'list/a']);
  });

  it('pages ListSecrets and ListSecretVersionIds from the last item shown, so secrets deleted or created between pages shift nothing', async () => {
    for (const n of [0, 1, 2, 3, 4]) await sm.send(new CreateSecretCommand({ Name: `paged/s${n}`, SecretString: 'x' }));
    const list = (NextToken?: string) => sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['paged/'] }], SortBy: 'name', MaxResults: 2, NextToken }));
    const first = await list();
    assert.deepEqual(first.SecretList?.map((s) => s.Name), ['paged/s0', 'paged/s1']);
    await sm.send(new DeleteSecretCommand({ SecretId: 'paged/s0', ForceDeleteWithoutRecovery: true }));
    await sm.send(new CreateSecretCommand({ Name: 'paged/s00', SecretString: 'x' }));
    const second = await list(first.NextToken);
    assert.deepEqual(second.SecretList?.map((s) => s.Name), ['paged/s2', 'paged/s3'], 'nothing skipped, nothing repeated');
    const third = await list(second.NextToken);
    assert.deepEqual(third.SecretList?.map((s) => s.Name), ['paged/s4']);
    assert.equal(third.NextToken, undefined);
    await rejectsWith(sm.send(new ListSecretsCommand({ SortBy: 'created-date', NextToken: first.NextToken })), InvalidNextTokenException);

    // A script that tags every secret it lists, by last change: each change moves the secret to
    // the listing's start, never past the cursor again, so the listing ends.
    const tagged = new Map<string, number>();
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['paged/'] }], SortBy: 'last-changed-date', SortOrder: 'asc', MaxResults: 2, NextToken: token }));
      for (const secret of page.SecretList ?? []) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        await sm.send(new TagResourceCommand({ SecretId: secret.Name, Tags: [{ Key: 'seen', Value: 'yes' }] }));
        tagged.set(secret.Name as string, (tagged.get(secret.Name as string) ?? 0) + 1);
      }
      token = page.NextToken;
      pages += 1;
    } while (token && pages < 20);
    assert.equal(token, undefined, 'the listing ended');
    assert.deepEqual([...tagged.keys()].sort(), ['paged/s00', 'paged/s1', 'paged/s2', 'paged/s3', 'paged/s4'], 'every secret was listed');
    assert.ok([...tagged.values()].every((n) => n <= 2), 'none more than twice');

    for (let i = 2; i <= 5; i += 1) await sm.send(new PutSecretValueCommand({ SecretId: 'paged/s1', SecretString: `v${i}` }));
    const versions = (NextToken?: string) => sm.send(new ListSecretVersionIdsCommand({ SecretId: 'paged/s1', IncludeDeprecated: true, MaxResults: 2, NextToken }));
    const newest = await versions();
    await sm.send(new PutSecretValueCommand({ SecretId: 'paged/s1', SecretString: 'v6' }));
    const older = await versions(newest.NextToken);
    const oldest = await versions(older.NextToken);
    const seen = [...(newest.Versions ?? []), ...(older.Versions ?? []), ...(oldest.Versions ?? [])].map((v) => v.VersionId);
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen).size, 5, 'a version written between pages repeats none');
    assert.equal(oldest.NextToken, undefined);
  });

  it('reads several secrets in one BatchGetSecretValue, reporting failures per secret', async () => {
    const batch = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['list/a', 'list/missing', 'list/c'] }));
    assert.deepEqual(batch.SecretValues?.map((v) => [v.Name, v.SecretString]), [['list/a', 'list/a'], ['list/c', 'list/c']]);
    assert.deepEqual(batch.Errors?.map((e) => [e.SecretId, e.ErrorCode]), [['list/missing', 'ResourceNotFoundException']]);
    const filtered = await sm.send(new BatchGetSecretValueCommand({ Filters: [{ Key: 'tag-value', Values: ['odd'] }] }));
    assert.deepEqual(filtered.SecretValues?.map((v) => v.SecretString), ['list/b']);
    await rejectsWith(sm.send(new BatchGetSecretValueCommand({})), InvalidParameterException);
  });

  it('deletes with a recovery window, refuses reads while deleted, and restores', async () => {
    const deleted = await sm.send(new DeleteSecretCommand({ SecretId: 'list/a', RecoveryWindowInDays: 7 }));
    assert.ok(deleted.DeletionDate instanceof Date);
    await rejectsWith(sm.send(new GetSecretValueCommand({ SecretId: 'list/a' })), InvalidRequestException, /marked for deletion/);
    await rejectsWith(sm.send(new PutSecretValueCommand({ SecretId: 'list/a', SecretString: 'x' })), InvalidRequestException, /marked for deletion/);
    await rejectsWith(sm.send(new DeleteSecretCommand({ SecretId: 'list/a' })), InvalidRequestException, /marked deleted/);
    await rejectsWith(sm.send(new CreateSecretCommand({ Name: 'list/a', SecretString: 'x' })), InvalidRequestException, /scheduled for deletion/);
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'list/a' }));
    assert.ok(described.DeletedDate instanceof Date);
    assert.equal(Math.round(((deleted.DeletionDate as Date).getTime() - (described.DeletedDate as Date).getTime()) / 86_400_000), 7);
    const hidden = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['list/'] }] }));
    assert.deepEqual(hidden.SecretList?.map((s) => s.Name), ['list/b', 'list/c']);
    const planned = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['list/'] }], IncludePlannedDeletion: true }));
    assert.deepEqual(planned.SecretList?.map((s) => s.Name), ['list/a', 'list/b', 'list/c']);
    await rejectsWith(sm.send(new DeleteSecretCommand({ SecretId: 'list/b', RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })), InvalidParameterException);

    await sm.send(new RestoreSecretCommand({ SecretId: 'list/a' }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'list/a' }))).SecretString, 'list/a');
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: 'list/a' }))).DeletedDate, undefined);
  });

  it('deletes at once with ForceDeleteWithoutRecovery, also through the Vault API view', async () => {
    const gone = await sm.send(new DeleteSecretCommand({ SecretId: 'list/c', ForceDeleteWithoutRecovery: true }));
    assert.equal(gone.Name, 'list/c');
    await rejectsWith(sm.send(new GetSecretValueCommand({ SecretId: 'list/c' })), ResourceNotFoundException);
    assert.equal((await aws.vault('GET', 'aws/data/list/c')).status, 404);
    const missing = await sm.send(new DeleteSecretCommand({ SecretId: 'list/never', ForceDeleteWithoutRecovery: true }));
    assert.equal(missing.Name, 'list/never');
    const recreated = await sm.send(new CreateSecretCommand({ Name: 'list/c', SecretString: 'again' }));
    assert.notEqual(recreated.ARN, gone.ARN, 'a re-created secret has a new ARN suffix');
  });

  it('generates random passwords with every parameter', async () => {
    const standard = await sm.send(new GetRandomPasswordCommand({}));
    assert.equal(standard.RandomPassword?.length, 32);
    const custom = await sm.send(
      new GetRandomPasswordCommand({ PasswordLength: 50, ExcludePunctuation: true, ExcludeUppercase: true, ExcludeCharacters: 'abc', IncludeSpace: true, RequireEachIncludedType: true }),
    );
    assert.match(custom.RandomPassword ?? '', /^[d-z0-9 ]{50}$/);
    assert.match(custom.RandomPassword ?? '', /[0-9]/);
    await rejectsWith(sm.send(new GetRandomPasswordCommand({ PasswordLength: 2 })), InvalidParameterException);
    await rejectsWith(sm.send(new GetRandomPasswordCommand({ PasswordLength: 5000 })), InvalidParameterException);
  });

  it('refuses RotateSecret without a configured rotator and stores nothing', async () => {
    await rejectsWith(
      sm.send(new RotateSecretCommand({ SecretId: 'app/empty', RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:rotate' })),
      InvalidRequestException,
      /not Lambda functions/,
    );
    await rejectsWith(sm.send(new RotateSecretCommand({ SecretId: 'app/empty' })), InvalidRequestException, /RotationLambdaARN/);
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: 'app/empty' }))).RotationEnabled, undefined);
  });

  it('rotates through a configured rotator into AWSPENDING, and cancels', async () => {
    const token = 'bbbbbbbb-0000-4000-8000-000000000001';
    const rotated = await sm.send(
      new RotateSecretCommand({ SecretId: 'app/empty', ClientRequestToken: token, RotationLambdaARN: ROTATOR, RotationRules: { AutomaticallyAfterDays: 30 } }),
    );
    assert.equal(rotated.VersionId, token);
    const pending = await sm.send(new GetSecretValueCommand({ SecretId: 'app/empty', VersionStage: 'AWSPENDING' }));
    assert.equal(pending.SecretString, 'rotated-1');
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/empty' }))).SecretString, 'now', 'AWSCURRENT is untouched until the rotation finishes');
    const described = await sm.send(new DescribeSecretCommand({ SecretId: 'app/empty' }));
    assert.equal(described.RotationEnabled, true);
    assert.equal(described.RotationLambdaARN, ROTATOR);
    assert.deepEqual(described.RotationRules, { AutomaticallyAfterDays: 30 });
    assert.ok(described.NextRotationDate instanceof Date);
    await rejectsWith(sm.send(new RotateSecretCommand({ SecretId: 'app/empty' })), InvalidRequestException, /previous rotation/);
    await rejectsWith(
      sm.send(new RotateSecretCommand({ SecretId: 'app/empty', RotationRules: { AutomaticallyAfterDays: 1, ScheduleExpression: 'rate(4 hours)' } })),
      InvalidParameterException,
    );

    const cancelled = await sm.send(new CancelRotateSecretCommand({ SecretId: 'app/empty' }));
    assert.equal(cancelled.VersionId, token);
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: 'app/empty' }))).RotationEnabled, false);
    const onlyConfigure = await sm.send(new RotateSecretCommand({ SecretId: 'app/db', RotationLambdaARN: ROTATOR, RotateImmediately: false }));
    assert.equal(onlyConfigure.VersionId, undefined);
    assert.equal(rotations, 1, 'RotateImmediately=false creates no version');
  });

  it('attaches AWSCURRENT to the first version of a secret whatever labels the call names, as AWS does', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'app/first-custom' }));
    const first = await sm.send(new PutSecretValueCommand({ SecretId: 'app/first-custom', SecretString: 'first', VersionStages: ['CUSTOM'] }));
    assert.deepEqual(first.VersionStages, ['CUSTOM', 'AWSCURRENT']);
    const current = await sm.send(new GetSecretValueCommand({ SecretId: 'app/first-custom' }));
    assert.equal(current.SecretString, 'first');
    assert.equal(current.VersionId, first.VersionId);
    // Only the first version: a later one gets exactly the labels it names.
    const second = await sm.send(new PutSecretValueCommand({ SecretId: 'app/first-custom', SecretString: 'second', VersionStages: ['OTHER'] }));
    assert.deepEqual(second.VersionStages, ['OTHER']);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/first-custom' }))).SecretString, 'first');

    // An in-process rotation of a secret with no value writes its first version.
    await sm.send(new CreateSecretCommand({ Name: 'app/first-rotated' }));
    const rotated = await sm.send(new RotateSecretCommand({ SecretId: 'app/first-rotated', RotationLambdaARN: ROTATOR }));
    const value = await sm.send(new GetSecretValueCommand({ SecretId: 'app/first-rotated' }));
    assert.equal(value.VersionId, rotated.VersionId);
    assert.deepEqual([...(value.VersionStages ?? [])].sort(), ['AWSCURRENT', 'AWSPENDING']);
  });

  it('never prunes a labelled version: max_versions is raised to keep every labelled one, and an operator setting is kept when it suffices', async () => {
    assert.equal((await aws.vault('POST', 'aws/data/app/pruned', { data: { password: 'current' } })).status, 200);
    for (let i = 1; i <= 12; i += 1) {
      await sm.send(new PutSecretValueCommand({ SecretId: 'app/pruned', SecretString: `pending-${i}`, VersionStages: ['AWSPENDING'] }));
    }
    const current = await sm.send(new GetSecretValueCommand({ SecretId: 'app/pruned' }));
    assert.equal(current.SecretString, '{"password":"current"}', 'the KV default of 10 versions did not prune the current one');
    assert.equal((await aws.vault('GET', 'aws/metadata/app/pruned')).body.data.max_versions, 100);

    // A rotation that keeps failing: AWSCURRENT stays on v1 while AWSPENDING moves on, past 100.
    await sm.send(new CreateSecretCommand({ Name: 'app/long-pending', SecretString: 'current' }));
    for (let i = 2; i <= 105; i += 1) {
      await sm.send(new PutSecretValueCommand({ SecretId: 'app/long-pending', SecretString: `pending-${i}`, VersionStages: ['AWSPENDING'] }));
    }
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/long-pending' }))).SecretString, 'current');
    assert.equal((await aws.vault('GET', 'aws/metadata/app/long-pending')).body.data.max_versions, 105, 'raised just enough to keep v1');
    const next = await sm.send(new PutSecretValueCommand({ SecretId: 'app/long-pending', SecretString: 'new-current' }));
    assert.deepEqual(next.VersionStages, ['AWSCURRENT']);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/long-pending', VersionStage: 'AWSPREVIOUS' }))).SecretString, 'current');

    // An operator's own max_versions stays when it keeps every labelled version.
    await sm.send(new CreateSecretCommand({ Name: 'app/few-versions', SecretString: 'one' }));
    assert.equal((await aws.vault('POST', 'aws/metadata/app/few-versions', { max_versions: 3, custom_metadata: undefined })).status, 204);
    for (const value of ['two', 'three', 'four']) await sm.send(new PutSecretValueCommand({ SecretId: 'app/few-versions', SecretString: value }));
    assert.equal((await aws.vault('GET', 'aws/metadata/app/few-versions')).body.data.max_versions, 3);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/few-versions', VersionStage: 'AWSPREVIOUS' }))).SecretString, 'three');
  });

  it('keeps taking writes past 500 kept versions: the record names labelled versions and the newest 100 unlabeled ones, and a max_versions it raised comes down once the labels let go', async () => {
    const all = async (name: string) => {
      const ids: string[] = [];
      let NextToken: string | undefined;
      do {
        const page = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true, NextToken }));
        ids.push(...(page.Versions ?? []).map((v) => v.VersionId as string));
        NextToken = page.NextToken;
      } while (NextToken);
      return ids;
    };
    // A rotation stuck for 530 versions: AWSCURRENT pins v1, so KV must keep all of them.
    await sm.send(new CreateSecretCommand({ Name: 'app/stuck', SecretString: 'current' }));
    let last = '';
    for (let i = 2; i <= 530; i += 1) {
      last = (await sm.send(new PutSecretValueCommand({ SecretId: 'app/stuck', SecretString: `pending-${i}`, VersionStages: ['AWSPENDING'] }))).VersionId as string;
    }
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/stuck' }))).SecretString, 'current');
    assert.equal((await aws.vault('GET', 'aws/metadata/app/stuck')).body.data.max_versions, 530);
    const listed = await all('app/stuck');
    assert.ok(listed.length <= 103 && listed.includes(last), `the labelled versions, the newest 100 unlabeled ones and the one just written are listed (${listed.length})`);
    // The labels let go: AWSCURRENT moves to the newest, AWSPREVIOUS follows, then moves on.
    await sm.send(new UpdateSecretCommand({ SecretId: 'app/stuck', Description: 'still writable' }));
    await sm.send(new PutSecretValueCommand({ SecretId: 'app/stuck', SecretString: 'fixed-1' }));
    await sm.send(new PutSecretValueCommand({ SecretId: 'app/stuck', SecretString: 'fixed-2' }));
    const meta = (await aws.vault('GET', 'aws/metadata/app/stuck')).body.data;
    assert.equal(meta.max_versions, 100, 'the value the AWS API raised came back down');
    assert.ok(Object.keys(meta.versions).length <= 100, `KV pruned to 100 (${Object.keys(meta.versions).length})`);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/stuck', VersionStage: 'AWSPREVIOUS' }))).SecretString, 'fixed-1');

    // An operator's own max_versions, raised to keep a label, comes back to that value, not below.
    const first = await sm.send(new CreateSecretCommand({ Name: 'app/operator-kept', SecretString: 'v1' }));
    assert.equal((await aws.vault('POST', 'aws/metadata/app/operator-kept', { max_versions: 120, custom_metadata: undefined })).status, 204);
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'app/operator-kept', VersionStage: 'KEEP', MoveToVersionId: first.VersionId }));
    for (let i = 2; i <= 131; i += 1) await sm.send(new PutSecretValueCommand({ SecretId: 'app/operator-kept', SecretString: `v${i}` }));
    assert.equal((await aws.vault('GET', 'aws/metadata/app/operator-kept')).body.data.max_versions, 131, 'raised to keep the KEEP version');
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'app/operator-kept', VersionStage: 'KEEP', RemoveFromVersionId: first.VersionId }));
    await sm.send(new PutSecretValueCommand({ SecretId: 'app/operator-kept', SecretString: 'v132' }));
    const kept = (await aws.vault('GET', 'aws/metadata/app/operator-kept')).body.data;
    assert.equal(kept.max_versions, 120, "back to the operator's 120, not AWS's 100");
    assert.equal(Object.keys(kept.versions).length, 120);

    // A mount that keeps more versions than the record could name.
    assert.equal((await aws.vault('POST', 'aws/config', { max_versions: 2000 })).status, 204);
    try {
      await sm.send(new CreateSecretCommand({ Name: 'app/many', SecretString: 'v1' }));
      for (let i = 2; i <= 530; i += 1) await sm.send(new PutSecretValueCommand({ SecretId: 'app/many', SecretString: `v${i}` }));
      assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/many' }))).SecretString, 'v530');
      assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'app/many', VersionStage: 'AWSPREVIOUS' }))).SecretString, 'v529');
      await sm.send(new DeleteSecretCommand({ SecretId: 'app/many', RecoveryWindowInDays: 7 }));
      await sm.send(new RestoreSecretCommand({ SecretId: 'app/many' }));
    } finally {
      assert.equal((await aws.vault('POST', 'aws/config', { max_versions: 0 })).status, 204);
    }
  });

  it('answers the resource-policy operations without pretending to store a policy', async () => {
    const policy = await sm.send(new GetResourcePolicyCommand({ SecretId: 'app/db' }));
    assert.equal(policy.Name, 'app/db');
    assert.equal(policy.ResourcePolicy, undefined);
    await rejectsWith(sm.send(new PutResourcePolicyCommand({ SecretId: 'app/db', ResourcePolicy: '{}' })), InvalidRequestException, /Coffer ACL policies/);
  });
});

describe('the AWS SDK against a Coffer with a small request size limit', () => {
  let aws: AwsTestServer;
  let sm: SecretsManagerClient;

  before(async () => {
    aws = await startAwsServer({ maxRequestBytes: 16 * 1024 });
    await aws.putPolicy('aws-admin', ADMIN_POLICY);
    sm = aws.client(await aws.issueKey(['aws-admin']));
  });
  after(async () => aws?.destroy());

  it('parses an oversized request\'s refusal as a ValidationException (HTTP 400), and stores nothing', async () => {
    const error = await awsError(() => sm.send(new CreateSecretCommand({ Name: 'big', SecretString: 'x'.repeat(20_000) })), 'ValidationException', /too large/);
    assert.equal(error.$metadata?.httpStatusCode, 400);
    await rejectsWith(sm.send(new GetSecretValueCommand({ SecretId: 'big' })), ResourceNotFoundException);
    assert.ok((await sm.send(new CreateSecretCommand({ Name: 'small', SecretString: 'x'.repeat(1_000) }))).ARN);
  });
});
