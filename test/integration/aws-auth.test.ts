/**
 * Authentication of the Secrets Manager API: Coffer-issued key pairs (leases bound to
 * policies), and SigV4 refusals — a bad signature, a stale or replayed request, an unknown,
 * expired or revoked key — each answered with the service's error and never touching data; a
 * key issued by a CIDR-bound token is bound to the same blocks.
 */
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createManualClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/core/logger.js';
import { ADMIN_POLICY, awsError, startAwsServer, type AwsTestServer, type Credentials, type IssuedKey } from './aws-harness.js';

interface CapturedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

function rawPost(url: string, path: string, headers: Record<string, string>, body: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port: Number(port), method: 'POST', path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Records the last request the SDK signed, exactly as it goes on the wire. */
function capture(client: SecretsManagerClient): () => CapturedRequest {
  let last: CapturedRequest | undefined;
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { method: string; path: string; headers: Record<string, string>; body: string };
      last = { method: request.method, path: request.path, headers: { ...request.headers }, body: request.body };
      return next(args);
    },
    { step: 'deserialize', name: 'captureSignedRequest', priority: 'low' },
  );
  return () => last as CapturedRequest;
}

describe('authentication of the Secrets Manager API', () => {
  const clock = createManualClock(Math.floor(Date.now() / 1000) * 1000);
  const logLines: string[] = [];
  let aws: AwsTestServer;
  let key: IssuedKey;

  /** A client whose clock agrees with the server's manual clock. */
  const clientNow = (k: Credentials, extra = {}): SecretsManagerClient =>
    aws.client(k, { systemClockOffset: clock.now() - Date.now(), ...extra });

  const kvState = async (): Promise<unknown> => {
    const res = await aws.vault('GET', 'aws/data/auth/target');
    assert.equal(res.status, 200);
    return { version: res.body.data.metadata.version, data: res.body.data.data, custom: res.body.data.metadata.custom_metadata };
  };

  before(async () => {
    aws = await startAwsServer({ clock, logger: createLogger({ level: 'debug', write: (line) => logLines.push(line) }) });
    await aws.putPolicy('aws-admin', ADMIN_POLICY);
    key = await aws.issueKey(['aws-admin']);
    await clientNow(key).send(new CreateSecretCommand({ Name: 'auth/target', SecretString: 'original' }));
  });
  after(async () => aws?.destroy());

  it('issues key pairs as leases with AWS-shaped ids and the requested TTL', async () => {
    assert.match(key.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
    assert.match(key.secretAccessKey, /^[A-Za-z0-9]{40}$/);
    assert.match(key.leaseId, /^aws-keys\/creds\//);
    assert.equal(key.leaseDuration, 3600);
    const lease = await aws.vault('PUT', 'sys/leases/lookup', { lease_id: key.leaseId });
    assert.equal(lease.status, 200);
    assert.equal(lease.body.data.renewable, false);
  });

  it('lets a non-root token bind only its own policies, and nobody bind root', async () => {
    await aws.putPolicy('other', 'path "aws/data/other/*" { capabilities = ["read"] }');
    const token = await aws.token(['aws-admin', 'aws-keys-issuer']);
    await aws.putPolicy('aws-keys-issuer', 'path "aws-keys/creds" { capabilities = ["update"] }');
    const own = await aws.vault('POST', 'aws-keys/creds', { policies: ['aws-admin'], ttl: '10m' }, token);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.deepEqual(own.body.data.policies, ['aws-admin', 'default']);
    const foreign = await aws.vault('POST', 'aws-keys/creds', { policies: ['other'] }, token);
    assert.equal(foreign.status, 400);
    const rooted = await aws.vault('POST', 'aws-keys/creds', { policies: ['root'] });
    assert.equal(rooted.status, 400);
    for (const body of [{ policies: [] }, {}]) {
      const noPolicy = await aws.vault('POST', 'aws-keys/creds', body);
      assert.equal(noPolicy.status, 400);
      assert.match(JSON.stringify(noPolicy.body), /missing policies/, JSON.stringify(body));
    }
    const withoutCapability = await aws.vault('POST', 'aws-keys/creds', { policies: ['default'] }, await aws.token(['aws-admin']));
    assert.equal(withoutCapability.status, 403, 'issuing a key is policy-checked like any path');

    // A caller made without `default` does not hand it to its key either.
    const bare = await aws.vault('POST', 'auth/token/create', { policies: ['aws-admin', 'aws-keys-issuer'], no_default_policy: true });
    const bareToken = bare.body.auth.client_token as string;
    const bareKey = await aws.vault('POST', 'aws-keys/creds', { policies: ['aws-admin'], ttl: '10m' }, bareToken);
    assert.equal(bareKey.status, 200, JSON.stringify(bareKey.body));
    assert.deepEqual(bareKey.body.data.policies, ['aws-admin']);
    assert.equal((await aws.vault('POST', 'aws-keys/creds', { policies: ['default'] }, bareToken)).status, 400);
  });

  it('refuses a bad signature with InvalidSignatureException and changes nothing', async () => {
    const before = await kvState();
    const forged = clientNow({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a')) });
    await awsError(() => forged.send(new PutSecretValueCommand({ SecretId: 'auth/target', SecretString: 'forged' })), 'InvalidSignatureException', /signature we calculated does not match/);
    assert.deepEqual(await kvState(), before);
  });

  it('refuses a request signed six minutes in the past with "Signature expired" and changes nothing', async () => {
    const before = await kvState();
    const late = aws.client(key, { systemClockOffset: clock.now() - Date.now() - 6 * 60_000 });
    const error = await awsError(() => late.send(new PutSecretValueCommand({ SecretId: 'auth/target', SecretString: 'stale' })), 'InvalidSignatureException', /^Signature expired: \d{8}T\d{6}Z is now earlier than/);
    assert.equal(error.$metadata?.httpStatusCode, 400);
    assert.deepEqual(await kvState(), before);
  });

  it('refuses an unknown access key with UnrecognizedClientException and changes nothing', async () => {
    const before = await kvState();
    const stranger = clientNow({ accessKeyId: 'AKIAZZZZZZZZZZZZZZZZ', secretAccessKey: key.secretAccessKey });
    await awsError(() => stranger.send(new PutSecretValueCommand({ SecretId: 'auth/target', SecretString: 'stranger' })), 'UnrecognizedClientException', /security token included in the request is invalid/);
    assert.deepEqual(await kvState(), before);
  });

  it('refuses session credentials, which Coffer never issues', async () => {
    const session = clientNow({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, sessionToken: 'FwoGZXIvYXdzEXAMPLE' });
    await awsError(() => session.send(new GetSecretValueCommand({ SecretId: 'auth/target' })), 'UnrecognizedClientException');
  });

  it('refuses unsigned and tampered requests with the service\'s error shape', async () => {
    const sm = clientNow(key);
    const last = capture(sm);
    await sm.send(new GetSecretValueCommand({ SecretId: 'auth/target' }));
    const signed = last();
    assert.equal(signed.path, '/');

    const unsigned = { ...signed.headers };
    delete unsigned['authorization'];
    const missing = await rawPost(aws.server.url, '/', unsigned, signed.body);
    assert.equal(missing.status, 400);
    assert.deepEqual(Object.keys(missing.body).sort(), ['__type', 'message']);
    assert.equal(missing.body.__type, 'MissingAuthenticationTokenException');
    assert.equal(missing.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
    assert.equal(missing.headers['content-type'], 'application/x-amz-json-1.1');
    assert.match(String(missing.headers['x-amzn-requestid']), /^[0-9a-f-]{36}$/);

    const tampered = await rawPost(aws.server.url, '/', signed.headers, signed.body.replace('auth/target', 'auth/targes'));
    assert.equal(tampered.body.__type, 'InvalidSignatureException');
    const retargeted = await rawPost(aws.server.url, '/', { ...signed.headers, 'x-amz-target': 'secretsmanager.DeleteSecret' }, signed.body);
    assert.equal(retargeted.body.__type, 'InvalidSignatureException');
    const exact = await rawPost(aws.server.url, '/', signed.headers, signed.body);
    assert.equal(exact.status, 200, 'the untouched request is accepted within five minutes');
    assert.equal(exact.body.SecretString, 'original');
    // A secret value must never be kept by a cache between client and server (CVE-2021-38554).
    for (const answer of [missing, tampered, exact]) assert.equal(answer.headers['cache-control'], 'no-store', `status ${answer.status}`);
  });

  it('leaves the Vault API and its JSON parser as they were on the same listener', async () => {
    const { hostname, port } = new URL(aws.server.url);
    const vaultWrite = await rawPost(`http://${hostname}:${port}`, '/v1/aws/data/vault-side', { 'content-type': 'application/x-amz-json-1.1', 'x-vault-token': aws.root }, '{"data":{"k":"v"}}');
    assert.equal(vaultWrite.status, 200);
    assert.equal(vaultWrite.body.data.version, 1);
    const root = await fetch(`${aws.server.url}/`);
    assert.equal(root.status, 404);
  });

  it('stops a revoked key at once, and a key whose issuing token is revoked', async () => {
    const revoked = await aws.issueKey(['aws-admin']);
    const sm = clientNow(revoked);
    await sm.send(new GetSecretValueCommand({ SecretId: 'auth/target' }));
    assert.equal((await aws.vault('PUT', 'sys/leases/revoke', { lease_id: revoked.leaseId })).status, 204);
    await awsError(() => sm.send(new GetSecretValueCommand({ SecretId: 'auth/target' })), 'UnrecognizedClientException');

    const issuer = await aws.token(['aws-admin', 'aws-keys-issuer']);
    const child = await aws.issueKey(['aws-admin'], '1h', issuer);
    const childClient = clientNow(child);
    await childClient.send(new GetSecretValueCommand({ SecretId: 'auth/target' }));
    assert.equal((await aws.vault('POST', 'auth/token/revoke', { token: issuer })).status, 204);
    await awsError(() => childClient.send(new GetSecretValueCommand({ SecretId: 'auth/target' })), 'UnrecognizedClientException');
  });

  it('binds a key issued by a token with token_bound_cidrs to the same blocks', async () => {
    await aws.putPolicy('aws-keys-issuer', 'path "aws-keys/creds" { capabilities = ["update"] }');
    assert.equal((await aws.vault('POST', 'sys/auth/approle', { type: 'approle' })).status, 204);
    const role = { token_policies: ['aws-admin', 'aws-keys-issuer'], bind_secret_id: false, token_bound_cidrs: ['127.0.0.1/32'] };
    assert.equal((await aws.vault('POST', 'auth/approle/role/bound-issuer', role)).status, 204);
    const roleId = (await aws.vault('GET', 'auth/approle/role/bound-issuer/role-id')).body.data.role_id as string;
    const login = await aws.vault('POST', 'auth/approle/login', { role_id: roleId }, '');
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const bound = await aws.issueKey(['aws-admin'], '1h', login.body.auth.client_token);
    await clientNow(bound).send(new GetSecretValueCommand({ SecretId: 'auth/target' }));
    const elsewhere = clientNow(bound, { requestHandler: { httpAgent: new Agent({ localAddress: '127.0.0.2' }) } });
    await awsError(() => elsewhere.send(new GetSecretValueCommand({ SecretId: 'auth/target' })), 'AccessDeniedException');
  });

  it('refuses a captured request replayed after five minutes, and changes nothing', async () => {
    const sm = clientNow(key);
    const last = capture(sm);
    await sm.send(new PutSecretValueCommand({ SecretId: 'auth/target', SecretString: 'replayed' }));
    const signed = last();
    const before = await kvState();
    clock.advance(5 * 60_000 + 1000);
    const replay = await rawPost(aws.server.url, '/', signed.headers, signed.body);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.__type, 'InvalidSignatureException');
    assert.match(replay.body.message, /^Signature expired/);
    assert.deepEqual(await kvState(), before);
  });

  it('stops an expired key at its expiry, before the lease worker has revoked it', async () => {
    const short = await aws.issueKey(['aws-admin'], '60s');
    await clientNow(short).send(new GetSecretValueCommand({ SecretId: 'auth/target' }));
    const before = await kvState();
    clock.advance(61_000);
    const lease = await aws.vault('PUT', 'sys/leases/lookup', { lease_id: short.leaseId });
    assert.equal(lease.status, 200, 'the lease has not been revoked yet');
    await awsError(() => clientNow(short).send(new PutSecretValueCommand({ SecretId: 'auth/target', SecretString: 'expired' })), 'UnrecognizedClientException');
    assert.deepEqual(await kvState(), before);
  });

  it('never writes a secret access key or a secret value to the server log', () => {
    const log = logLines.join('\n');
    assert.ok(log.includes('aws request refused'), 'refusals are logged');
    assert.ok(!log.includes(key.secretAccessKey));
    assert.ok(!log.includes('original'));
  });
});
