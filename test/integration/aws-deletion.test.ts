/**
 * Time-dependent behaviour of the Secrets Manager API on a server with a manual clock: the
 * recovery window of DeleteSecret and the purge after it, concurrent writers of one secret,
 * and the sealed server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createManualClock } from '../../src/core/clock.js';
import { ADMIN_POLICY, awsError, startAwsServer, type AwsTestServer, type IssuedKey } from './aws-harness.js';

const DAY = 86_400_000;

describe('deletion windows, concurrency and sealing', () => {
  const clock = createManualClock(Math.floor(Date.now() / 1000) * 1000);
  let aws: AwsTestServer;
  let key: IssuedKey;
  /** A client signing with the server's clock (the key lives long enough for the whole test). */
  const sm = (): SecretsManagerClient => aws.client(key, { systemClockOffset: clock.now() - Date.now() });

  before(async () => {
    aws = await startAwsServer({ clock, maxTokenTtl: '2000h', defaultTokenTtl: '1000h' });
    await aws.putPolicy('aws-admin', ADMIN_POLICY);
    key = await aws.issueKey(['aws-admin'], '1000h');
  });
  after(async () => aws?.destroy());

  it('keeps a deleted secret restorable during its window and purges it afterwards', async () => {
    await sm().send(new CreateSecretCommand({ Name: 'gone/soon', SecretString: 'old-value' }));
    const deleted = await sm().send(new DeleteSecretCommand({ SecretId: 'gone/soon', RecoveryWindowInDays: 7 }));
    assert.equal((deleted.DeletionDate as Date).getTime(), clock.now() + 7 * DAY);

    clock.advance(7 * DAY - 1000);
    await awsError(() => sm().send(new GetSecretValueCommand({ SecretId: 'gone/soon' })), 'InvalidRequestException', /marked for deletion/);
    assert.ok((await sm().send(new DescribeSecretCommand({ SecretId: 'gone/soon' }))).DeletedDate);

    clock.advance(2000);
    await awsError(() => sm().send(new GetSecretValueCommand({ SecretId: 'gone/soon' })), 'ResourceNotFoundException');
    await awsError(() => sm().send(new DescribeSecretCommand({ SecretId: 'gone/soon' })), 'ResourceNotFoundException');
    await awsError(() => sm().send(new RestoreSecretCommand({ SecretId: 'gone/soon' })), 'ResourceNotFoundException');
    const listed = await sm().send(new ListSecretsCommand({ IncludePlannedDeletion: true, Filters: [{ Key: 'name', Values: ['gone/'] }] }));
    assert.deepEqual(listed.SecretList, []);

    // Re-creating the name purges the old secret: its versions are gone from the Vault API too.
    const recreated = await sm().send(new CreateSecretCommand({ Name: 'gone/soon', SecretString: 'new-value' }));
    assert.notEqual(recreated.ARN, deleted.ARN);
    const kv = await aws.vault('GET', 'aws/metadata/gone/soon');
    assert.deepEqual(Object.keys(kv.body.data.versions), ['1']);
    assert.equal((await aws.vault('GET', 'aws/data/gone/soon')).body.data.data.SecretString, 'new-value');
  });

  it('keeps labels consistent under concurrent writers of one secret', async () => {
    await sm().send(new CreateSecretCommand({ Name: 'busy/one', SecretString: 'v0' }));
    const client = sm();
    const puts = await Promise.all(Array.from({ length: 8 }, (_v, i) => client.send(new PutSecretValueCommand({ SecretId: 'busy/one', SecretString: `v${i + 1}` }))));
    const versions = await client.send(new ListSecretVersionIdsCommand({ SecretId: 'busy/one', IncludeDeprecated: true }));
    assert.equal(versions.Versions?.length, 9);
    const stages = (versions.Versions ?? []).flatMap((v) => v.VersionStages ?? []);
    assert.deepEqual(stages.sort(), ['AWSCURRENT', 'AWSPREVIOUS']);
    const current = await client.send(new GetSecretValueCommand({ SecretId: 'busy/one' }));
    assert.ok(puts.some((p) => p.VersionId === current.VersionId));
    const kv = await aws.vault('GET', 'aws/data/busy/one');
    assert.equal(kv.body.data.data.SecretString, current.SecretString, 'AWSCURRENT is the latest KV version');
  });

  it('answers ServiceUnavailableException while sealed, without reading anything', async () => {
    // sys/seal answers once the server is sealed.
    assert.equal((await aws.vault('PUT', 'sys/seal')).status, 204);
    assert.equal((await aws.vault('GET', 'sys/seal-status')).body.sealed, true);
    const error = await awsError(() => sm().send(new GetSecretValueCommand({ SecretId: 'busy/one' })), 'ServiceUnavailableException', /sealed/);
    assert.equal(error.$metadata?.httpStatusCode, 503);
  });
});

describe('the sweep that ends recovery windows', () => {
  const clock = createManualClock(Math.floor(Date.now() / 1000) * 1000);
  let aws: AwsTestServer;
  let key: IssuedKey;
  const sm = (): SecretsManagerClient => aws.client(key, { systemClockOffset: clock.now() - Date.now() });

  before(async () => {
    aws = await startAwsServer({ clock, maxTokenTtl: '2000h', defaultTokenTtl: '1000h', awsPurgeIntervalMs: 50 });
    await aws.putPolicy('aws-admin', ADMIN_POLICY);
    key = await aws.issueKey(['aws-admin'], '1000h');
  });
  after(async () => aws?.destroy());

  it('deletes a secret for good once its window has passed, and nothing else', async () => {
    for (const name of ['sweep/expired', 'sweep/still-in-window', 'sweep/live']) {
      await sm().send(new CreateSecretCommand({ Name: name, SecretString: `value of ${name}` }));
    }
    await sm().send(new DeleteSecretCommand({ SecretId: 'sweep/expired', RecoveryWindowInDays: 7 }));
    await sm().send(new DeleteSecretCommand({ SecretId: 'sweep/still-in-window', RecoveryWindowInDays: 30 }));
    const status = async (name: string): Promise<number> => (await aws.vault('GET', `aws/metadata/${name}`)).status;

    // Sweeps run every 50 ms; inside both windows they must delete nothing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await status('sweep/expired'), 200);

    clock.advance(8 * DAY);
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      gone = (await status('sweep/expired')) === 404;
      if (!gone) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(gone, 'the secret past its window is deleted, metadata and versions');
    assert.equal((await aws.vault('GET', 'aws/data/sweep/expired')).status, 404);
    assert.equal(await status('sweep/still-in-window'), 200);
    assert.equal(await status('sweep/live'), 200);
    const restored = await sm().send(new RestoreSecretCommand({ SecretId: 'sweep/still-in-window' }));
    assert.equal(restored.Name, 'sweep/still-in-window');

    // The sweep's identity: a system policy limited to aws/metadata/, and no token left behind.
    const policy = await aws.vault('GET', 'sys/policies/acl/coffer-aws-purge');
    assert.equal(policy.status, 200);
    assert.match(policy.body.data.policy, /path "aws\/metadata\/\*"/);
    assert.doesNotMatch(policy.body.data.policy, /aws\/data/);
    // A sweep may be running right now (every 50 ms); each token it holds is revoked when it ends.
    const sweepTokens = async (): Promise<string[]> => {
      const found: string[] = [];
      for (const accessor of (await aws.vault('LIST', 'auth/token/accessors')).body.data.keys as string[]) {
        const lookup = await aws.vault('POST', 'auth/token/lookup-accessor', { accessor });
        if (lookup.status === 200 && /aws-purge/.test(lookup.body.data.display_name)) found.push(accessor);
      }
      return found;
    };
    const seen = await sweepTokens();
    assert.ok(seen.length <= 1, `at most the running sweep holds a token, found ${seen.length}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const accessor of seen) {
      assert.notEqual((await aws.vault('POST', 'auth/token/lookup-accessor', { accessor })).status, 200, 'a sweep token outlived its sweep');
    }
  });
});
