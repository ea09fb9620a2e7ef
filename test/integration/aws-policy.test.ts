/**
 * One policy governs both APIs: each AWS operation runs as KV requests on aws/data/N and
 * aws/metadata/N with the key's token, so a key is allowed exactly what a Vault token with the
 * same policies is allowed, AccessDeniedException changes nothing, and the audit log records
 * the AWS operations (by request id) without any plaintext secret.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  TagResourceCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { tempDir } from '../helpers/server.js';
import { ADMIN_POLICY, startAwsServer, type AwsTestServer, type IssuedKey } from './aws-harness.js';

const POLICIES: Record<string, string> = {
  reader: `
path "aws/data/app/*"     { capabilities = ["read"] }
path "aws/metadata/app/*" { capabilities = ["read"] }`,
  writer: `
path "aws/data/app/*"     { capabilities = ["create", "read", "update"] }
path "aws/metadata/app/*" { capabilities = ["create", "read", "update"] }`,
  deleter: `
path "aws/data/app/*"     { capabilities = ["create", "read", "update"] }
path "aws/metadata/app/*" { capabilities = ["create", "read", "update", "delete"] }`,
  lister: `
path "aws/metadata/*"     { capabilities = ["list"] }
path "aws/metadata/app/*" { capabilities = ["read", "list"] }`,
  valueonly: `
path "aws/data/app/*" { capabilities = ["read"] }`,
};

type Outcome = 'allow' | 'deny';
const ROLES = ['reader', 'writer', 'deleter', 'lister', 'valueonly'] as const;
type Role = (typeof ROLES)[number];

/** What each role may do, through either API. */
const MATRIX: Record<string, Record<Role, Outcome>> = {
  GetSecretValue: { reader: 'allow', writer: 'allow', deleter: 'allow', lister: 'deny', valueonly: 'allow' },
  DescribeSecret: { reader: 'allow', writer: 'allow', deleter: 'allow', lister: 'allow', valueonly: 'deny' },
  PutSecretValue: { reader: 'deny', writer: 'allow', deleter: 'allow', lister: 'deny', valueonly: 'deny' },
  CreateSecret: { reader: 'deny', writer: 'allow', deleter: 'allow', lister: 'deny', valueonly: 'deny' },
  TagResource: { reader: 'deny', writer: 'allow', deleter: 'allow', lister: 'deny', valueonly: 'deny' },
  DeleteSecret: { reader: 'deny', writer: 'deny', deleter: 'allow', lister: 'deny', valueonly: 'deny' },
  ListSecrets: { reader: 'deny', writer: 'deny', deleter: 'deny', lister: 'allow', valueonly: 'deny' },
};

describe('one policy governs the AWS API and the Vault API', () => {
  const dir = tempDir('coffer-aws-audit-');
  const auditFile = join(dir, 'audit.log');
  let aws: AwsTestServer;
  let admin: SecretsManagerClient;
  const keys = {} as Record<Role, IssuedKey>;
  const clients = {} as Record<Role, SecretsManagerClient>;
  const tokens = {} as Record<Role, string>;

  before(async () => {
    aws = await startAwsServer();
    await aws.putPolicy('aws-admin', ADMIN_POLICY);
    for (const [name, hcl] of Object.entries(POLICIES)) await aws.putPolicy(name, hcl);
    admin = aws.client(await aws.issueKey(['aws-admin']));
    await admin.send(new CreateSecretCommand({ Name: 'app/s', SecretString: 'app-value' }));
    await admin.send(new CreateSecretCommand({ Name: 'other/s', SecretString: 'other-value' }));
    for (const role of ROLES) {
      keys[role] = await aws.issueKey([role]);
      clients[role] = aws.client(keys[role]);
      tokens[role] = await aws.token([role]);
    }
  });
  after(async () => {
    await aws?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const attempt = async (role: Role, operation: string, n: number): Promise<Outcome> => {
    const sm = clients[role];
    const run: Record<string, () => Promise<unknown>> = {
      GetSecretValue: () => sm.send(new GetSecretValueCommand({ SecretId: 'app/s' })),
      DescribeSecret: () => sm.send(new DescribeSecretCommand({ SecretId: 'app/s' })),
      PutSecretValue: () => sm.send(new PutSecretValueCommand({ SecretId: 'app/s', SecretString: `by-${role}-${n}` })),
      CreateSecret: () => sm.send(new CreateSecretCommand({ Name: `app/new-${role}`, SecretString: 'new' })),
      TagResource: () => sm.send(new TagResourceCommand({ SecretId: 'app/s', Tags: [{ Key: 'by', Value: role }] })),
      DeleteSecret: () => sm.send(new DeleteSecretCommand({ SecretId: 'app/s', RecoveryWindowInDays: 7 })),
      ListSecrets: () => sm.send(new ListSecretsCommand({})),
    };
    try {
      await (run[operation] as () => Promise<unknown>)();
      if (operation === 'DeleteSecret') await admin.send(new RestoreSecretCommand({ SecretId: 'app/s' }));
      return 'allow';
    } catch (error) {
      assert.equal((error as Error).name, 'AccessDeniedException', `${role} ${operation}: ${(error as Error).message}`);
      assert.match((error as Error).message, new RegExp(`not authorized to perform: secretsmanager:${operation}`));
      return 'deny';
    }
  };

  it('allows and denies each operation exactly as the matrix says, changing nothing when denied', async () => {
    let n = 0;
    for (const [operation, expected] of Object.entries(MATRIX)) {
      for (const role of ROLES) {
        const before = await aws.vault('GET', 'aws/metadata/app/s');
        const outcome = await attempt(role, operation, (n += 1));
        assert.equal(outcome, expected[role], `${role} ${operation}`);
        if (outcome === 'deny') {
          const after = await aws.vault('GET', 'aws/metadata/app/s');
          assert.deepEqual(after.body.data, before.body.data, `${role} ${operation} denied must change nothing`);
        }
      }
    }
  });

  it('gives a Vault token with the same policies the same answers on the same paths', async () => {
    const expect = (allowed: Outcome, status: number, label: string): void => {
      if (allowed === 'allow') assert.ok(status < 400, `${label}: ${status}`);
      else assert.equal(status, 403, label);
    };
    for (const role of ROLES) {
      const token = tokens[role];
      expect(MATRIX['GetSecretValue']![role], (await aws.vault('GET', 'aws/data/app/s', undefined, token)).status, `${role} read data`);
      expect(MATRIX['DescribeSecret']![role], (await aws.vault('GET', 'aws/metadata/app/s', undefined, token)).status, `${role} read metadata`);
      expect(MATRIX['PutSecretValue']![role], (await aws.vault('POST', 'aws/data/app/s', { data: { v: role } }, token)).status, `${role} write data`);
      assert.equal((await aws.vault('GET', 'aws/data/other/s', undefined, token)).status, 403, `${role} other/`);
    }
  });

  it('reports a denied secret inside BatchGetSecretValue and lists only what the key may read', async () => {
    const batch = await clients.reader.send(new BatchGetSecretValueCommand({ SecretIdList: ['app/s', 'other/s'] }));
    assert.deepEqual(batch.SecretValues?.map((v) => v.Name), ['app/s']);
    assert.deepEqual(batch.Errors?.map((e) => [e.SecretId, e.ErrorCode]), [['other/s', 'AccessDeniedException']]);
    const listed = await clients.lister.send(new ListSecretsCommand({}));
    const names = listed.SecretList?.map((s) => s.Name) ?? [];
    assert.ok(names.includes('app/s'));
    assert.ok(!names.includes('other/s'), 'a secret the key may not read is not listed');
  });

  it('refuses a windowed DeleteSecret when the key may not even ask for its capabilities', async () => {
    const original = await aws.vault('GET', 'sys/policy/default');
    const originalText: unknown = original.body.data.rules ?? original.body.data.policy;
    assert.equal(typeof originalText, 'string');
    await aws.putPolicy('default', 'path "auth/token/lookup-self" { capabilities = ["read"] }');
    try {
      await assert.rejects(clients.deleter.send(new DeleteSecretCommand({ SecretId: 'app/s', RecoveryWindowInDays: 7 })), { name: 'AccessDeniedException' });
      assert.equal((await clients.deleter.send(new DescribeSecretCommand({ SecretId: 'app/s' }))).DeletedDate, undefined);
      const put = await clients.writer.send(new PutSecretValueCommand({ SecretId: 'app/s', SecretString: 'still-writable' }));
      assert.ok(put.VersionId, 'writes that the pipeline checks request by request still work');
    } finally {
      await aws.putPolicy('default', originalText as string);
    }
  });

  it('refuses AWS bookkeeping written through the Vault API, so a token without delete cannot schedule a purge', async () => {
    await admin.send(new CreateSecretCommand({ Name: 'app/rv-victim', SecretString: 'victim-value' }));
    const writer = tokens.writer;
    assert.equal((await aws.vault('DELETE', 'aws/metadata/app/rv-victim', undefined, writer)).status, 403);
    const before = await aws.vault('GET', 'aws/metadata/app/rv-victim');
    // A record whose deletion date is long past: the purge sweep would delete every version.
    const forged = JSON.stringify({ format: 1, suffix: 'abcdef', created: 0, lastChanged: 0, tags: [], deletedAt: 0, recoveryDays: 7, seen: 1, versions: {} });
    for (const [method, token] of [['POST', writer], ['POST', aws.root], ['PATCH', aws.root]] as const) {
      const res = await aws.vault(method, 'aws/metadata/app/rv-victim', { custom_metadata: { owner: 'x', 'aws:0': forged } }, token);
      assert.equal(res.status, 400, `${method}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.errors[0], /reserved/);
    }
    assert.deepEqual((await aws.vault('GET', 'aws/metadata/app/rv-victim')).body.data, before.body.data, 'the refused writes changed nothing');
    assert.equal((await admin.send(new GetSecretValueCommand({ SecretId: 'app/rv-victim' }))).SecretString, 'victim-value');
    assert.equal((await admin.send(new DescribeSecretCommand({ SecretId: 'app/rv-victim' }))).DeletedDate, undefined);

    // Dropping the bookkeeping stays possible (the secret then reads as written through the Vault API).
    assert.equal((await aws.vault('PATCH', 'aws/metadata/app/rv-victim', { custom_metadata: { 'aws:0': null, owner: 'team-a' } })).status, 204);
    assert.equal((await aws.vault('POST', 'aws/metadata/app/rv-victim', { custom_metadata: { owner: 'team-b' } }, writer)).status, 204);
    assert.equal((await admin.send(new GetSecretValueCommand({ SecretId: 'app/rv-victim' }))).SecretString, 'victim-value');
  });

  it('leaves no intent behind when the value write of an AWS call is denied, so the next Vault write is AWSCURRENT', async () => {
    // Full rights on both paths, but the second KV request (the one with a `data` parameter) is denied.
    await aws.putPolicy('rvp', `
path "aws/metadata/rvp/*" { capabilities = ["create", "read", "update", "list"] }
path "aws/data/rvp/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
  denied_parameters = { "data" = [] }
}`);
    const restricted = aws.client(await aws.issueKey(['rvp']));
    await admin.send(new CreateSecretCommand({ Name: 'rvp/s', SecretString: 'old-value' }));
    const failedId = 'cccccccc-0000-4000-8000-000000000001';
    await assert.rejects(
      restricted.send(new PutSecretValueCommand({ SecretId: 'rvp/s', ClientRequestToken: failedId, SecretString: 'never-written', VersionStages: ['STAGING'] })),
      { name: 'AccessDeniedException' },
    );
    // A CreateSecret denied the same way cannot remove what it created (no delete): its intent goes.
    await assert.rejects(restricted.send(new CreateSecretCommand({ Name: 'rvp/new', ClientRequestToken: failedId, SecretString: 'never-written' })), { name: 'AccessDeniedException' });

    assert.equal((await aws.vault('POST', 'aws/data/rvp/s', { data: { password: 'new-from-vault' } })).status, 200);
    const current = await admin.send(new GetSecretValueCommand({ SecretId: 'rvp/s' }));
    assert.equal(current.SecretString, '{"password":"new-from-vault"}');
    assert.notEqual(current.VersionId, failedId);
    await assert.rejects(admin.send(new GetSecretValueCommand({ SecretId: 'rvp/s', VersionStage: 'STAGING' })), { name: 'ResourceNotFoundException' });
    await assert.rejects(admin.send(new GetSecretValueCommand({ SecretId: 'rvp/s', VersionId: failedId })), { name: 'ResourceNotFoundException' });
    assert.equal((await admin.send(new GetSecretValueCommand({ SecretId: 'rvp/s', VersionStage: 'AWSPREVIOUS' }))).SecretString, 'old-value');

    assert.equal((await aws.vault('POST', 'aws/data/rvp/new', { data: { password: 'first-from-vault' } })).status, 200);
    const created = await admin.send(new GetSecretValueCommand({ SecretId: 'rvp/new' }));
    assert.equal(created.SecretString, '{"password":"first-from-vault"}');
    assert.notEqual(created.VersionId, failedId);
  });

  it('audits the AWS operations by name, with the key\'s identity and no plaintext secret', async () => {
    const enabled = await aws.vault('PUT', 'sys/audit/file', { type: 'file', options: { file_path: auditFile } });
    assert.equal(enabled.status, 204);
    const issued = await aws.issueKey(['writer']);
    const sm = aws.client(issued);
    await sm.send(new CreateSecretCommand({ Name: 'app/audited', SecretString: 'top-secret-audit-value' }));
    await sm.send(new GetSecretValueCommand({ SecretId: 'app/audited' }));
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'other/s' })));

    const text = readFileSync(auditFile, 'utf8');
    assert.ok(!text.includes('top-secret-audit-value'), 'no secret value in the audit log');
    assert.ok(!text.includes(issued.secretAccessKey), 'no secret access key in the audit log');
    const entries = text.trimEnd().split('\n').map((line) => JSON.parse(line));

    const issuance = entries.find((e) => e.type === 'response' && e.request.path === 'aws-keys/creds');
    assert.equal(issuance.response.data.access_key_id, issued.accessKeyId);
    assert.match(issuance.response.data.secret_access_key, /^hmac-sha256:/);

    const create = entries.filter((e) => String(e.request.id).startsWith('aws:CreateSecret:'));
    assert.ok(create.some((e) => e.request.path === 'aws/data/app/audited' && e.request.operation === 'update'));
    assert.ok(create.some((e) => e.request.path === 'aws/metadata/app/audited' && e.request.operation === 'create'));
    const read = entries.find((e) => e.type === 'response' && String(e.request.id).startsWith('aws:GetSecretValue:') && e.request.path === 'aws/data/app/audited');
    assert.equal(read.auth.display_name, `aws-keys-${issued.accessKeyId.toLowerCase()}`);
    assert.equal(read.auth.metadata.aws_access_key_id, issued.accessKeyId);
    assert.match(read.response.data.data.SecretString, /^hmac-sha256:/);
    const denied = entries.find((e) => String(e.request.id).startsWith('aws:GetSecretValue:') && e.request.path === 'aws/data/other/s');
    assert.equal(denied.error, 'permission denied');
  });
});
