/**
 * A global rate limit quota also holds back the AWS Secrets Manager endpoint: the unmodified
 * AWS SDK gets ThrottlingException (which it retries with backoff), before Coffer reads the
 * body, checks the signature or audits anything; other addresses and the Vault API's exempt
 * paths are unaffected, and deleting the quota lifts it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { ADMIN_POLICY, startAwsServer, type AwsTestServer } from './aws-harness.js';

let aws: AwsTestServer;

before(async () => {
  aws = await startAwsServer();
  await aws.putPolicy('aws-admin', ADMIN_POLICY);
});

after(async () => {
  await aws?.destroy();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('a global quota throttles the AWS endpoint per client, and its removal lifts it', async () => {
  const key = await aws.issueKey(['aws-admin']);
  // One attempt: the SDK would otherwise retry a throttled call by itself.
  const client = aws.client(key, { maxAttempts: 1 });
  await client.send(new ListSecretsCommand({}));
  // Two requests per 2 s, shared by both APIs: the PUT itself takes the first.
  assert.equal((await aws.vault('PUT', 'sys/quotas/rate-limit/everything', { rate: 2, interval: '2s' })).status, 204);

  const outcomes: string[] = [];
  for (let i = 0; i < 4; i += 1) {
    try {
      await client.send(new ListSecretsCommand({}));
      outcomes.push('ok');
    } catch (error) {
      outcomes.push((error as { name: string }).name);
      assert.equal((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 400);
    }
  }
  assert.equal(outcomes[0], 'ok');
  assert.ok(outcomes.includes('ThrottlingException'), `four calls in a row: ${outcomes.join(', ')}`);
  assert.equal((await aws.vault('GET', 'sys/health')).status, 200, 'exempt');

  // Two seconds later the bucket has refilled: the quota can be removed, and the endpoint is free.
  await sleep(2_100);
  assert.equal((await aws.vault('DELETE', 'sys/quotas/rate-limit/everything')).status, 204);
  for (let i = 0; i < 5; i += 1) await client.send(new ListSecretsCommand({}));
});
