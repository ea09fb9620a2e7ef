/**
 * `coffer aws-keys create`: the CLI issues a key pair that the AWS SDK can use at once, with
 * Vault-style single-dash flags as well as double-dash ones.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { main } from '../../src/cli/main.js';
import { ADMIN_POLICY, startAwsServer, type AwsTestServer } from './aws-harness.js';

function collector(): { write(text: string): boolean; text(): string } {
  let buffer = '';
  return { write: (text: string) => ((buffer += text), true), text: () => buffer };
}

describe('coffer aws-keys create', () => {
  let aws: AwsTestServer;
  let home: string;

  const cli = async (argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const stdout = collector();
    const stderr = collector();
    const closingFetch: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), connection: 'close' } });
    const code = await main(argv, { env: { HOME: home, COFFER_ADDR: aws.server.url, COFFER_TOKEN: aws.root }, stdout, stderr, fetch: closingFetch });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'coffer-'));
    aws = await startAwsServer();
    await aws.putPolicy('aws-admin', ADMIN_POLICY);
  });
  after(async () => {
    await aws?.destroy();
    rmSync(home, { recursive: true, force: true });
  });

  it('prints a key pair the AWS SDK can use, as a lease of the requested TTL', async () => {
    const result = await cli(['aws-keys', 'create', '--policy', 'aws-admin', '--ttl', '1h', '-format=json']);
    assert.equal(result.code, 0, result.stderr);
    const envelope = JSON.parse(result.stdout);
    assert.equal(envelope.lease_duration, 3600);
    assert.match(envelope.lease_id, /^aws-keys\/creds\//);
    assert.deepEqual(envelope.data.policies, ['aws-admin', 'default']);
    const sm = aws.client({ accessKeyId: envelope.data.access_key_id, secretAccessKey: envelope.data.secret_access_key });
    await sm.send(new CreateSecretCommand({ Name: 'cli/made', SecretString: 'from-cli-key' }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'cli/made' }))).SecretString, 'from-cli-key');
  });

  it('accepts single-dash flags and prints a table with the key and lease', async () => {
    const result = await cli(['aws-keys', 'create', '-policy=aws-admin', '-ttl=15m']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^access_key_id\s+AKIA[A-Z2-7]{16}$/m);
    assert.match(result.stdout, /^secret_access_key\s+[A-Za-z0-9]{40}$/m);
    assert.match(result.stdout, /^lease_duration\s+15m$/m);
  });

  it('refuses to issue a key without a policy', async () => {
    const result = await cli(['aws-keys', 'create', '-ttl=1h']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^Error: at least one -policy is required\n$/);
  });
});
