/**
 * Webhook rotation of third-party API keys, over real HTTP, against a fake external service
 * that allows two active keys at a time (started by the test on 127.0.0.1:0):
 *
 * - the service is also the rotator: createSecret mints key B (A still works), set/testSecret
 *   check B, finishSecret revokes A; it verifies X-Coffer-Signature on every call;
 * - client loops call the service with the key they hold; on a 401 they re-read it with
 *   GetSecretValue (the usual AWS helper shape) and retry once. Two of them are registered
 *   consumers that switch on the watch stream's `rotate` event and check in;
 * - 20 rotations driven by the unmodified AWS SDK (RotateSecret): no call may fail, every
 *   rotation completes, and each old key stops working only when finishSecret revokes it;
 * - a failure at setSecret / testSecret leaves AWSCURRENT as it was; a consumer that never
 *   switches holds finishSecret until verify_timeout (moved with the server's clock) and is
 *   named in the audit log; the scheduler rotates a plain Vault-written KV secret and an
 *   AWS-configured one as the clock passes their schedule.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  ResourceNotFoundException,
  PutSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { Clock } from '../../src/core/clock.js';
import { awsError, startAwsServer, type AwsTestServer, type IssuedKey } from './aws-harness.js';

const SECRET = 'partner/api-key';
const HMAC_KEY = `hmac-${randomBytes(12).toString('hex')}`;
const ROTATOR_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:partner';
const ROUNDS = 20;
const DAY = 86_400_000;

/** A clock that moves with real time and jumps when the test says so (the SDK signs with the same offset). */
function createSteppedClock(): Clock & { advance(ms: number): void; readonly skew: number } {
  let skew = 0;
  return {
    now: () => Date.now() + skew,
    advance: (ms) => {
      skew += ms;
    },
    get skew() {
      return skew;
    },
  };
}

type Step = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

/**
 * The external service: one account per secret name, each allowing two active keys. Keys are
 * plain strings or `{"api_key": "..."}` JSON (a secret written through the Vault API); a new
 * key is returned in the shape of the current one.
 */
function createPartnerService() {
  const accounts = new Map<string, Set<string>>();
  const account = (name: string): Set<string> => {
    let keys = accounts.get(name);
    if (!keys) accounts.set(name, (keys = new Set()));
    return keys;
  };
  const isValid = (key: string): boolean => [...accounts.values()].some((keys) => keys.has(key));
  const minted = new Map<string, string>(); // ClientRequestToken -> key
  const revoked: Array<{ key: string; reason: 'finish' | 'orphan' }> = [];
  const rejected = new Set<string>();
  const finishes: Array<{ token: string; current: string; previous: string | undefined }> = [];
  const steps: Array<{ step: Step; token: string }> = [];
  const stats = { requests: 0, signed: 0, badSignatures: 0, apiCalls: 0, api401: 0 };
  let failStep: Step | undefined;
  let counter = 0;

  const keyOf = (value: { SecretString?: string } | undefined): string | undefined => {
    const text = value?.SecretString;
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as { api_key?: unknown };
      if (typeof parsed.api_key === 'string') return parsed.api_key;
    } catch {
      // a plain key
    }
    return text;
  };
  const mint = (name: string): string => {
    counter += 1;
    const key = `pk-${counter}-${randomBytes(8).toString('hex')}`;
    account(name).add(key);
    return key;
  };
  const signatureOk = (body: string, header: string | string[] | undefined): boolean => {
    if (typeof header !== 'string') return false;
    const expected = Buffer.from(`sha256=${createHmac('sha256', HMAC_KEY).update(body).digest('hex')}`);
    const got = Buffer.from(header);
    return got.length === expected.length && timingSafeEqual(got, expected);
  };

  const rotate = (body: string, req: IncomingMessage, res: ServerResponse): void => {
    stats.requests += 1;
    if (!signatureOk(body, req.headers['x-coffer-signature'])) {
      stats.badSignatures += 1;
      res.writeHead(401).end();
      return;
    }
    stats.signed += 1;
    const input = JSON.parse(body) as { Step: Step; SecretName: string; ClientRequestToken: string; CurrentValue?: { SecretString?: string }; PendingValue?: { SecretString?: string }; PreviousValue?: { SecretString?: string } };
    steps.push({ step: input.Step, token: input.ClientRequestToken });
    if (failStep === input.Step) {
      res.writeHead(500).end();
      return;
    }
    const current = keyOf(input.CurrentValue);
    const valid = account(input.SecretName);
    switch (input.Step) {
      case 'createSecret': {
        let key = minted.get(input.ClientRequestToken);
        if (key === undefined) {
          // Keys left by a rotation that never finished are orphans: only the current key stays.
          for (const k of [...valid]) {
            if (k !== current) {
              valid.delete(k);
              revoked.push({ key: k, reason: 'orphan' });
            }
          }
          if (valid.size >= 2) {
            res.writeHead(409).end();
            return;
          }
          key = mint(input.SecretName);
          minted.set(input.ClientRequestToken, key);
        }
        const shaped = input.CurrentValue?.SecretString?.startsWith('{') ? JSON.stringify({ api_key: key }) : key;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ SecretString: shaped }));
        return;
      }
      case 'setSecret':
      case 'testSecret': {
        const pending = keyOf(input.PendingValue);
        res.writeHead(pending !== undefined && valid.has(pending) ? 200 : 400).end();
        return;
      }
      case 'finishSecret': {
        const previous = keyOf(input.PreviousValue);
        if (current === undefined || !valid.has(current)) {
          res.writeHead(400).end();
          return;
        }
        finishes.push({ token: input.ClientRequestToken, current, previous });
        if (previous !== undefined && previous !== current && valid.delete(previous)) revoked.push({ key: previous, reason: 'finish' });
        res.writeHead(200).end();
        return;
      }
    }
  };

  let server: Server;
  return {
    account,
    minted,
    revoked,
    rejected,
    finishes,
    steps,
    stats,
    failAt: (step: Step | undefined) => {
      failStep = step;
    },
    seed: (name: string): string => mint(name),
    url: '',
    async start() {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (req.url === '/rotate' && req.method === 'POST') return rotate(body, req, res);
          if (req.url === '/api') {
            stats.apiCalls += 1;
            const key = (req.headers.authorization ?? '').replace(/^Bearer /, '');
            if (isValid(key)) return void res.writeHead(200).end('ok');
            stats.api401 += 1;
            rejected.add(key);
            return void res.writeHead(401).end();
          }
          res.writeHead(404).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('webhook rotators', () => {
  const clock = createSteppedClock();
  const partner = createPartnerService();
  // Not in the data directory: no audit device may write there.
  const auditDir = mkdtempSync(join(tmpdir(), 'coffer-rotator-audit-'));
  const auditFile = join(auditDir, 'audit.log');
  let aws: AwsTestServer;
  let appKey: IssuedKey;
  let consumerToken: string;
  const sm = (): SecretsManagerClient => aws.client(appKey, { systemClockOffset: clock.skew });

  const callApi = async (key: string): Promise<number> => (await fetch(`${partner.url}/api`, { headers: { authorization: `Bearer ${key}` } })).status;
  const currentKey = async (client: SecretsManagerClient, secret = SECRET): Promise<string> => (await client.send(new GetSecretValueCommand({ SecretId: secret }))).SecretString as string;
  const status = async (secret = SECRET) => (await aws.vault('GET', `rotators/status/${secret}`)).body.data;

  /** Waits until `versionId` is the last finished rotation of the secret. */
  const finished = async (versionId: string, secret = SECRET): Promise<Record<string, any>> => {
    for (let i = 0; i < 3000; i++) {
      const data = await status(secret);
      if (data?.last_rotation?.rotation_id === versionId && data.rotation === null) return data.last_rotation;
      await pause(10);
    }
    assert.fail(`rotation ${versionId} did not finish: ${JSON.stringify(await status(secret))}`);
  };

  before(async () => {
    await partner.start();
    aws = await startAwsServer({ clock, maxTokenTtl: '2000h', defaultTokenTtl: '1000h', rotators: { tickMs: 20, pollMs: 10, retryMs: 3_600_000 } });
    const audit = await aws.vault('PUT', 'sys/audit/file', { type: 'file', options: { file_path: auditFile } });
    assert.equal(audit.status, 204, JSON.stringify(audit.body));
    // Operators configure rotators (sudo); applications may schedule rotation of their own secrets.
    const config = await aws.vault('POST', 'rotators/config/partner', { type: 'webhook', url: `${partner.url}/rotate`, hmac_key: HMAC_KEY, timeout: '5s' });
    assert.equal(config.status, 204, JSON.stringify(config.body));
    await aws.putPolicy(
      'partner-app',
      `path "aws/*" { capabilities = ["create", "read", "update", "delete", "list"] }
       path "rotators/schedule/partner/*" { capabilities = ["create", "read", "update"] }
       path "rotators/status/partner/*" { capabilities = ["read"] }`,
    );
    await aws.putPolicy('partner-reader', 'path "aws/data/partner/*" { capabilities = ["read"] }');
    appKey = await aws.issueKey(['partner-app'], '1000h');
    consumerToken = await aws.token(['partner-reader']);
    await sm().send(new CreateSecretCommand({ Name: SECRET, SecretString: partner.seed(SECRET) }));
  });

  after(async () => {
    await aws?.destroy();
    await partner.stop();
    rmSync(auditDir, { recursive: true, force: true });
  });

  it('keeps the configuration behind sudo, never shows the HMAC key, and refuses webhook URLs outside loopback', async () => {
    const read = await aws.vault('GET', 'rotators/config/partner');
    assert.equal(read.status, 200);
    assert.equal(read.body.data.hmac_key_set, true);
    assert.ok(!JSON.stringify(read.body).includes(HMAC_KEY));
    assert.deepEqual((await aws.vault('LIST', 'rotators/config')).body.data.keys, ['partner']);
    const appToken = await aws.token(['partner-app']);
    assert.equal((await aws.vault('GET', 'rotators/config/partner', undefined, appToken)).status, 403);
    for (const url of ['http://169.254.169.254/latest', 'http://10.0.0.8/rotate', 'file:///etc/passwd']) {
      const refused = await aws.vault('POST', 'rotators/config/elsewhere', { type: 'webhook', url });
      assert.equal(refused.status, 400, url);
    }
    assert.equal((await aws.vault('GET', 'rotators/config/elsewhere')).status, 404);
  });

  it('refuses RotateSecret with an unknown rotator, or from a key that may not schedule rotation, and stores nothing', async () => {
    await assert.rejects(
      sm().send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:nobody' })),
      (e: unknown) => e instanceof InvalidRequestException && /not Lambda functions/.test(e.message),
    );
    await aws.putPolicy('aws-only', 'path "aws/*" { capabilities = ["create", "read", "update", "delete", "list"] }');
    const limited = aws.client(await aws.issueKey(['aws-only'], '1000h'), { systemClockOffset: clock.skew });
    await awsError(() => limited.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: ROTATOR_ARN })), 'AccessDeniedException');
    assert.equal((await sm().send(new DescribeSecretCommand({ SecretId: SECRET }))).RotationEnabled, undefined);
    // Through the Vault API: the schedule path alone is not enough, the caller must be able to rotate the secret by hand.
    await aws.putPolicy('schedule-only', 'path "rotators/schedule/*" { capabilities = ["create", "update"] }');
    const scheduleOnly = await aws.token(['schedule-only']);
    assert.equal((await aws.vault('POST', `rotators/schedule/${SECRET}`, { rotator: 'partner' }, scheduleOnly)).status, 403);
    assert.equal((await aws.vault('GET', `rotators/schedule/${SECRET}`)).status, 404);
    assert.equal(partner.stats.requests, 0);
  });

  it('refuses RotateSecret through a webhook rotator while another version holds AWSPENDING, as AWS does', async () => {
    const name = 'partner/stale-pending';
    await sm().send(new CreateSecretCommand({ Name: name, SecretString: 'current' }));
    await sm().send(new PutSecretValueCommand({ SecretId: name, SecretString: 'half-done', VersionStages: ['AWSPENDING'] }));
    const callsBefore = partner.stats.requests;
    await assert.rejects(
      sm().send(new RotateSecretCommand({ SecretId: name, RotationLambdaARN: ROTATOR_ARN })),
      (e: unknown) => e instanceof InvalidRequestException && /previous rotation isn.t complete/.test(e.message),
    );
    assert.equal(partner.stats.requests, callsBefore, 'the rotator was not called');
    assert.equal((await aws.vault('GET', `rotators/schedule/${name}`)).status, 404, 'nothing was scheduled');
    assert.equal((await sm().send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }))).SecretString, 'half-done');
  });

  it(`rotates ${ROUNDS} times through RotateSecret with zero failed calls by clients that hold the key`, async () => {
    const stats = { calls: 0, failed: 0, refetches: 0, checkIns: 0 };
    let running = true;
    const firstKv = Number((await aws.vault('GET', `aws/metadata/${SECRET}`)).body.data.current_version);

    /** The usual AWS helper: use the held key; on a 401 fetch it again and retry once. */
    const clientLoop = async (holder: { key: string }, client: SecretsManagerClient): Promise<void> => {
      while (running) {
        stats.calls += 1;
        if ((await callApi(holder.key)) === 401) {
          stats.refetches += 1;
          holder.key = await currentKey(client);
          if ((await callApi(holder.key)) !== 200) stats.failed += 1;
        }
        await pause(2);
      }
    };
    /** A registered consumer: switches on the `rotate` event and checks in with the new version. */
    const consumerLoop = async (holder: { key: string }, client: SecretsManagerClient, name: string): Promise<void> => {
      const registered = await aws.vault('POST', 'sys/consumers/register', { path: `aws/data/${SECRET}`, name, ttl: 3600, version: firstKv }, consumerToken);
      assert.equal(registered.status, 200, JSON.stringify(registered.body));
      const id = registered.body.data.consumer_id as string;
      let after = (await aws.vault('GET', `sys/watch/poll?prefix=aws/data/${SECRET}&wait=0`, undefined, consumerToken)).body.data.last_seq as number;
      while (running) {
        const polled = await aws.vault('GET', `sys/watch/poll?prefix=aws/data/${SECRET}&after=${after}&wait=1`, undefined, consumerToken);
        for (const event of polled.body.data.events as Array<{ seq: number; event: string; version: number }>) {
          after = Math.max(after, event.seq);
          if (event.event !== 'rotate') continue;
          holder.key = await currentKey(client);
          await aws.vault('POST', 'sys/consumers/checkin', { consumer_id: id, path: `aws/data/${SECRET}`, version: event.version }, consumerToken);
          stats.checkIns += 1;
        }
      }
      await aws.vault('POST', 'sys/consumers/deregister', { consumer_id: id, path: `aws/data/${SECRET}` }, consumerToken);
    };

    const loops: Array<Promise<void>> = [];
    for (let i = 0; i < 4; i++) {
      const client = sm();
      const holder = { key: await currentKey(client) };
      loops.push(clientLoop(holder, client));
      if (i < 2) loops.push(consumerLoop(holder, client, `web-${i}`));
    }
    await pause(100);

    let previousKey = await currentKey(sm());
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const rotated = await sm().send(
          new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: ROTATOR_ARN, RotationRules: { AutomaticallyAfterDays: 30 } }),
        );
        const versionId = rotated.VersionId as string;
        assert.match(versionId, /^[0-9a-f-]{36}$/);
        const done = await finished(versionId);
        assert.equal(done.status, 'completed', JSON.stringify(done));
        assert.equal(done.verify_outcome, 'confirmed');
        assert.deepEqual(done.consumers_confirmed.map((c: { name: string }) => c.name).sort(), ['web-0', 'web-1']);
        for (const step of ['createSecret', 'setSecret', 'testSecret', 'promote', 'verify', 'finishSecret']) assert.equal(done.steps[step].status, 'done', step);

        const newKey = partner.minted.get(versionId) as string;
        const current = await sm().send(new GetSecretValueCommand({ SecretId: SECRET }));
        assert.equal(current.SecretString, newKey);
        assert.equal(current.VersionId, versionId);
        assert.deepEqual(partner.finishes.at(-1), { token: versionId, current: newKey, previous: previousKey });
        assert.equal(await callApi(previousKey), 401, 'the old key is revoked by finishSecret');
        assert.equal(await callApi(newKey), 200);
        const previous = await sm().send(new GetSecretValueCommand({ SecretId: SECRET, VersionStage: 'AWSPREVIOUS' }));
        assert.equal(previous.SecretString, previousKey);
        previousKey = newKey;
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }

    console.log(`webhook rotation: ${ROUNDS} rotations, ${stats.calls} client calls, ${stats.failed} failed, ${stats.refetches} re-reads after a 401, ${stats.checkIns} consumer check-ins`);
    assert.equal(stats.failed, 0);
    assert.ok(stats.calls > ROUNDS * 4, 'the clients kept calling throughout');
    assert.equal(partner.finishes.length, ROUNDS);
    // A key is only ever refused after finishSecret revoked it; no key was dropped any other way.
    assert.ok([...partner.rejected].every((k) => partner.revoked.some((r) => r.key === k && r.reason === 'finish')));
    assert.equal(partner.revoked.filter((r) => r.reason === 'orphan').length, 0);
    assert.equal(partner.account(SECRET).size, 1, 'one active key between rotations');
    assert.equal(partner.stats.badSignatures, 0);
    assert.equal(partner.stats.signed, partner.stats.requests, 'every webhook call was signed and verified');

    // The scheduler's tokens carry one policy that reaches this secret and nothing else.
    const policy = (await aws.vault('GET', `sys/policy/${(await status()).policy}`)).body.data.rules as string;
    const paths = [...policy.matchAll(/path "([^"]+)"/g)].map((m) => m[1]).sort();
    assert.deepEqual(paths, [`aws/data/${SECRET}`, `aws/metadata/${SECRET}`, 'sys/capabilities-self']);

    const described = await sm().send(new DescribeSecretCommand({ SecretId: SECRET }));
    assert.equal(described.RotationEnabled, true);
    assert.equal(described.RotationLambdaARN, ROTATOR_ARN);
    assert.deepEqual(described.RotationRules, { AutomaticallyAfterDays: 30 });
    assert.ok(described.LastRotatedDate instanceof Date);
    assert.equal((described.NextRotationDate as Date).getTime(), (described.LastRotatedDate as Date).getTime() + 30 * DAY);
    const stages = Object.values(described.VersionIdsToStages ?? {}).flat().sort();
    assert.deepEqual(stages, ['AWSCURRENT', 'AWSPREVIOUS'], 'no AWSPENDING is left behind');
  });

  for (const step of ['setSecret', 'testSecret'] as const) {
    it(`leaves AWSCURRENT unchanged when the webhook fails at ${step}`, async () => {
      const before = await sm().send(new GetSecretValueCommand({ SecretId: SECRET }));
      partner.failAt(step);
      try {
        const rotated = await sm().send(new RotateSecretCommand({ SecretId: SECRET }));
        const done = await finished(rotated.VersionId as string);
        assert.equal(done.status, 'rolled_back');
        assert.equal(done.steps[step].status, 'failed');
        assert.match(done.error, new RegExp(`${step}: the rotator answered HTTP 500`));
        assert.equal(done.steps.finishSecret.status, 'pending');
      } finally {
        partner.failAt(undefined);
      }
      const after = await sm().send(new GetSecretValueCommand({ SecretId: SECRET }));
      assert.equal(after.VersionId, before.VersionId);
      assert.equal(after.SecretString, before.SecretString);
      assert.equal(await callApi(after.SecretString as string), 200);
      await assert.rejects(sm().send(new GetSecretValueCommand({ SecretId: SECRET, VersionStage: 'AWSPENDING' })), (e: unknown) => e instanceof ResourceNotFoundException);
    });
  }

  it('holds finishSecret for a consumer that never reports the new version, until verify_timeout, and audits it', async () => {
    const set = await aws.vault('POST', `rotators/schedule/${SECRET}`, { verify_timeout: '60s', on_timeout: 'revoke' });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const kv = Number((await aws.vault('GET', `aws/metadata/${SECRET}`)).body.data.current_version);
    const stuck = await aws.vault('POST', 'sys/consumers/register', { path: `aws/data/${SECRET}`, name: 'stuck-worker', ttl: 86_400, version: kv }, consumerToken);
    const stuckId = stuck.body.data.consumer_id as string;
    const oldKey = await currentKey(sm());
    const finishesBefore = partner.finishes.length;

    const rotated = await sm().send(new RotateSecretCommand({ SecretId: SECRET }));
    const versionId = rotated.VersionId as string;
    let holding: Record<string, any> | undefined;
    for (let i = 0; i < 1000 && !holding; i++) {
      const r = (await status()).rotation;
      if (r?.phase === 'verify' && r.stragglers.length === 1) holding = r;
      else await pause(10);
    }
    assert.ok(holding, 'the rotation reaches verify and waits');
    assert.equal(holding.stragglers[0].consumer_id, stuckId);
    assert.equal(await currentKey(sm()), partner.minted.get(versionId), 'AWSCURRENT is already the new key');
    await pause(200); // several verify polls on an unmoved clock
    assert.equal(partner.finishes.length, finishesBefore, 'finishSecret waits for the consumer');
    assert.equal(await callApi(oldKey), 200, 'the old key still works while a consumer uses it');

    clock.advance(61_000);
    const done = await finished(versionId);
    assert.equal(done.status, 'completed');
    assert.equal(done.verify_outcome, 'timeout_revoked');
    assert.deepEqual(done.stragglers.map((s: { consumer_id: string }) => s.consumer_id), [stuckId]);
    assert.equal(await callApi(oldKey), 401);
    await aws.vault('POST', 'sys/consumers/deregister', { consumer_id: stuckId, path: `aws/data/${SECRET}` }, consumerToken);

    const log = readFileSync(auditFile, 'utf8');
    const entry = log.split('\n').find((line) => line.includes('"timeout_revoked"') && line.includes(stuckId));
    assert.ok(entry, 'the audit log names the consumer that still held the old key');
    assert.match(entry, new RegExp(versionId));
    for (const key of partner.minted.values()) assert.ok(!log.includes(key), 'no API key appears in the audit log in clear');
    assert.ok(!log.includes(HMAC_KEY), 'nor the rotator HMAC key');
    // Every read and write of the rotation went through the pipeline under the rotation's own token.
    const own = log.split('\n').filter((line) => line.includes(`rotation:${versionId}`));
    assert.ok(own.some((line) => line.includes('"display_name":"rotator-partner"') && line.includes(`"path":"aws/metadata/${SECRET}"`)));
    assert.ok(own.some((line) => line.includes(`"path":"aws/data/${SECRET}"`) && line.includes('"operation":"update"')));
  });

  it('refuses a rotation whose webhook signature does not verify at the service', async () => {
    await aws.vault('POST', 'rotators/config/partner-wrong-key', { type: 'webhook', url: `${partner.url}/rotate`, hmac_key: 'not-the-shared-key' });
    const before = await sm().send(new GetSecretValueCommand({ SecretId: SECRET }));
    const bad = partner.stats.badSignatures;
    const rotated = await sm().send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: 'partner-wrong-key' }));
    const done = await finished(rotated.VersionId as string);
    assert.equal(done.status, 'rolled_back');
    assert.match(done.error, /createSecret: the rotator answered HTTP 401/);
    assert.equal(partner.stats.badSignatures, bad + 1);
    assert.equal((await sm().send(new GetSecretValueCommand({ SecretId: SECRET }))).VersionId, before.VersionId);
    const back = await aws.vault('POST', `rotators/schedule/${SECRET}`, { rotator: 'partner', lambda_arn: ROTATOR_ARN });
    assert.equal(back.status, 200);
  });

  it('rotates on schedule as the clock passes: a Vault-written KV secret and an AWS-configured one', async () => {
    // A plain KV v2 secret written through the Vault API, its rotation configured through the Vault API.
    const plainKey = partner.seed('partner/plain');
    assert.equal((await aws.vault('POST', 'aws/data/partner/plain', { data: { api_key: plainKey } })).status, 200);
    const scheduled = await aws.vault('POST', 'rotators/schedule/partner/plain', { rotator: 'partner', rotation_period: '24h', verify_timeout: '30s' });
    assert.equal(scheduled.status, 200, JSON.stringify(scheduled.body));
    assert.equal(scheduled.body.data.next_rotation, new Date(Date.parse(scheduled.body.data.configured_time) + DAY).toISOString());
    // The AWS-created secret: automatic rotation every day, not now.
    await sm().send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: ROTATOR_ARN, RotationRules: { ScheduleExpression: 'rate(1 day)' }, RotateImmediately: false }));
    const described = await sm().send(new DescribeSecretCommand({ SecretId: 'partner/plain' }));
    assert.equal(described.RotationEnabled, true);
    assert.ok(described.NextRotationDate instanceof Date);

    let plain = plainKey;
    let aws1 = await currentKey(sm());
    for (let day = 1; day <= 3; day++) {
      const finishes = partner.finishes.length;
      clock.advance(DAY + 60_000);
      for (let i = 0; i < 3000 && partner.finishes.length < finishes + 2; i++) await pause(10);
      assert.equal(partner.finishes.length, finishes + 2, `day ${day}: both secrets rotated`);
      for (const secret of ['partner/plain', SECRET]) {
        for (let i = 0; i < 300 && (await status(secret)).rotation !== null; i++) await pause(10);
        const last = (await status(secret)).last_rotation;
        assert.equal(last.status, 'completed', secret);
        assert.equal(last.trigger, 'schedule');
      }
      const read = await aws.vault('GET', 'aws/data/partner/plain');
      const newPlain = read.body.data.data.api_key as string;
      assert.notEqual(newPlain, plain);
      assert.equal(await callApi(newPlain), 200);
      assert.equal(await callApi(plain), 401);
      plain = newPlain;
      const newAws = await currentKey(sm());
      assert.notEqual(newAws, aws1);
      assert.equal(await callApi(aws1), 401);
      aws1 = newAws;
      const after = await sm().send(new DescribeSecretCommand({ SecretId: 'partner/plain' }));
      assert.ok(Math.abs((after.LastRotatedDate as Date).getTime() - clock.now()) < 60_000);
      assert.ok(Math.abs((after.NextRotationDate as Date).getTime() - (clock.now() + DAY)) < 60_000);
    }
    const listed = await aws.vault('LIST', 'rotators/schedule');
    assert.deepEqual(listed.body.data.keys, [SECRET, 'partner/plain'].sort());
    const history = (await status('partner/plain')).history as Array<{ status: string }>;
    assert.equal(history.length, 3);
  });

  it('stops on CancelRotateSecret and removes a schedule with its policy', async () => {
    await sm().send(new CancelRotateSecretCommand({ SecretId: SECRET }));
    assert.equal((await sm().send(new DescribeSecretCommand({ SecretId: SECRET }))).RotationEnabled, false);
    assert.equal((await status()).enabled, false);
    const finishes = partner.finishes.length;
    clock.advance(2 * DAY);
    for (let i = 0; i < 3000 && partner.finishes.length < finishes + 1; i++) await pause(10);
    await pause(200); // a few more scheduler passes: nothing else may start
    assert.equal(partner.finishes.length, finishes + 1, 'only the still-enabled plain secret rotated, once for both missed days');

    const policy = (await status('partner/plain')).policy as string;
    for (let i = 0; i < 300 && (await status('partner/plain')).rotation !== null; i++) await pause(10);
    assert.equal((await aws.vault('DELETE', 'rotators/schedule/partner/plain')).status, 204);
    assert.equal((await aws.vault('GET', `sys/policy/${policy}`)).status, 404);
    assert.equal((await aws.vault('GET', 'rotators/status/partner/plain')).status, 404);
    assert.equal((await sm().send(new DescribeSecretCommand({ SecretId: 'partner/plain' }))).RotationEnabled, false);
  });
});
