/**
 * The usual AWS rotation-aware helper — GetSecretValue, connect, and on an authentication
 * failure fetch again and retry once — against a database credential that Coffer rotates
 * through RotateSecret, on a real PostgreSQL with scram-sha-256 authentication.
 *
 * The rotator is a webhook with the four AWS steps, served by this test the way an AWS rotation
 * Lambda with the alternating-users strategy works: createSecret picks the user that is not
 * current and a new password, setSecret sets it in PostgreSQL, testSecret logs in with it, and
 * finishSecret gives the previous user a password nobody keeps, so only the new credential works.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { adminQuery, createScratchDatabase, startPgCluster, tryLogin, uniqueSuffix, type PgCluster, type ScratchDatabase } from '../helpers/pg-cluster.js';
import { startAwsServer, type AwsTestServer, type IssuedKey } from './aws-harness.js';

const SECRET = 'prod/app/db';
const ROUNDS = 10;
const LOOPS = 6;

interface DbCredential {
  username: string;
  password: string;
}

describe('a database credential rotated through the AWS API', () => {
  let cluster: PgCluster;
  let db: ScratchDatabase;
  let aws: AwsTestServer;
  let key: IssuedKey;
  let webhook: Server;
  const suffix = uniqueSuffix(6);
  const users = [`aws_a_${suffix}`, `aws_b_${suffix}`];
  const steps: string[] = [];

  const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
  const setPassword = (user: string, password: string): Promise<unknown> =>
    adminQuery(cluster, db.name, `ALTER ROLE ${quote(user)} WITH PASSWORD '${password}'`);

  before(async () => {
    cluster = await startPgCluster();
    db = await createScratchDatabase(cluster);
    await db.query('CREATE TABLE items (id int); INSERT INTO items VALUES (1)');
    for (const user of users) {
      await db.query(`CREATE ROLE ${quote(user)} LOGIN PASSWORD 'Unknown-${randomBytes(8).toString('hex')}'`);
      await db.query(`GRANT SELECT ON items TO ${quote(user)}`);
    }
    // The rotation Lambda, as a webhook.
    webhook = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        void (async () => {
          // Values arrive as AWS shapes them: { SecretString } (or { SecretBinary }).
          type Value = { SecretString?: string };
          const event = JSON.parse(body) as { Step: string; CurrentValue?: Value; PendingValue?: Value; PreviousValue?: Value };
          steps.push(event.Step);
          const parse = (value: Value | undefined): DbCredential | undefined => (value?.SecretString ? (JSON.parse(value.SecretString) as DbCredential) : undefined);
          const current = parse(event.CurrentValue);
          const pending = parse(event.PendingValue);
          if (event.Step === 'createSecret') {
            const next = users.find((u) => u !== current?.username) as string;
            const value: DbCredential = { username: next, password: `P-${randomBytes(12).toString('hex')}` };
            res.end(JSON.stringify({ SecretString: JSON.stringify(value) }));
            return;
          }
          if (event.Step === 'setSecret' && pending) await setPassword(pending.username, pending.password);
          if (event.Step === 'testSecret' && pending) {
            const failure = await tryLogin(cluster, db.name, pending.username, pending.password);
            if (failure) throw new Error('the pending credential does not log in');
          }
          if (event.Step === 'finishSecret') {
            const previous = parse(event.PreviousValue);
            if (previous) await setPassword(previous.username, `Revoked-${randomBytes(12).toString('hex')}`);
          }
          res.end('{}');
        })().catch(() => {
          res.statusCode = 500;
          res.end('{}');
        });
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/rotate`;

    aws = await startAwsServer({ rotators: { tickMs: 20, pollMs: 10, retryMs: 3_600_000 } });
    const config = await aws.vault('POST', 'rotators/config/pg-users', { type: 'webhook', url, timeout: '10s' });
    assert.equal(config.status, 204, JSON.stringify(config.body));
    await aws.putPolicy(
      'app-db',
      `path "aws/*" { capabilities = ["create", "read", "update", "delete", "list"] }
       path "rotators/schedule/prod/*" { capabilities = ["create", "read", "update"] }
       path "rotators/status/prod/*" { capabilities = ["read"] }`,
    );
    key = await aws.issueKey(['app-db'], '2h');
    const first: DbCredential = { username: users[0] as string, password: `P-${randomBytes(12).toString('hex')}` };
    await setPassword(first.username, first.password);
    await aws.client(key).send(new CreateSecretCommand({ Name: SECRET, SecretString: JSON.stringify(first) }));
  });

  after(async () => {
    await aws?.destroy();
    await new Promise((resolve) => webhook?.close(resolve));
    await db?.cleanup(users).catch(() => undefined);
    await cluster?.stop();
  });

  it(`keeps the usual fetch-and-retry helper working across ${ROUNDS} rotations, with the old credential revoked each time`, async (t) => {
    const client = aws.client(key);
    const fetchCredential = async (): Promise<DbCredential> =>
      JSON.parse((await client.send(new GetSecretValueCommand({ SecretId: SECRET }))).SecretString as string) as DbCredential;
    const connect = async (credential: DbCredential): Promise<void> => {
      const connection = new pg.Client({ connectionString: db.url(credential.username, credential.password) });
      connection.on('error', () => undefined);
      try {
        await connection.connect();
        await connection.query('SELECT id FROM items');
      } finally {
        await connection.end().catch(() => undefined);
      }
    };
    const isAuthFailure = (error: unknown): boolean => (error as { code?: string }).code === '28P01';

    const stats = { connections: 0, refetches: 0, failed: 0 };
    let running = true;
    /** The helper every AWS user writes: use the cached secret; on an auth failure fetch it again and retry once. */
    const loop = async (): Promise<void> => {
      let credential = await fetchCredential();
      while (running) {
        stats.connections += 1;
        try {
          await connect(credential);
        } catch (error) {
          if (!isAuthFailure(error)) throw error;
          stats.refetches += 1;
          credential = await fetchCredential();
          try {
            await connect(credential);
          } catch {
            stats.failed += 1;
          }
        }
      }
    };
    const loops = Array.from({ length: LOOPS }, loop);

    const status = async () => (await aws.vault('GET', `rotators/status/${SECRET}`)).body.data;
    let previous = await fetchCredential();
    try {
      for (let round = 1; round <= ROUNDS; round += 1) {
        const rotated = await client.send(new RotateSecretCommand({ SecretId: SECRET, RotationLambdaARN: 'pg-users', RotationRules: { AutomaticallyAfterDays: 30 } }));
        let done: Record<string, any> | undefined;
        for (let i = 0; i < 2000 && done === undefined; i += 1) {
          const data = await status();
          if (data?.last_rotation?.rotation_id === rotated.VersionId && data.rotation === null) done = data.last_rotation;
          else await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(done?.status, 'completed', JSON.stringify(done));
        const current = await fetchCredential();
        assert.notEqual(current.username, previous.username, 'the users alternate');
        assert.equal(await tryLogin(cluster, db.name, current.username, current.password), undefined);
        assert.match((await tryLogin(cluster, db.name, previous.username, previous.password)) ?? '', /password authentication failed/, 'the previous credential is revoked');
        previous = current;
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }
    t.diagnostic(`${ROUNDS} rotations, ${stats.connections} connections, ${stats.refetches} re-fetches after an auth failure, ${stats.failed} failed`);
    assert.equal(stats.failed, 0, 'the retry with a fresh GetSecretValue always succeeded');
    assert.ok(stats.refetches > 0, 'rotations did revoke credentials the clients held');
    const described = await client.send(new DescribeSecretCommand({ SecretId: SECRET }));
    assert.equal(described.RotationEnabled, true);
    assert.equal(steps.filter((s) => s === 'finishSecret').length, ROUNDS);
  });
});
