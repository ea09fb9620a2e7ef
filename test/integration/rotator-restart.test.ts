/**
 * A webhook rotation survives the server stopping in the middle of it: the rotation record is
 * written before each step's side effect, so after a restart (and unseal) the scheduler resumes
 * it at the step that was in flight, without asking the rotator for a second new key, and the
 * old key keeps working until finishSecret.
 *
 * Crash points: a testSecret call in flight (the rotator never answers before the stop), and a
 * verify step waiting for a consumer (its deadline is stored, on the server's clock).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Clock } from '../../src/core/clock.js';
import { api, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

type Step = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
const SECRET = 'restart/key';
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A two-key service whose rotator can be told to hold a step's answer. */
function createService() {
  const valid = new Set<string>();
  const minted = new Map<string, string>();
  const calls: Array<{ step: Step; token: string }> = [];
  const held: ServerResponse[] = [];
  let holdAt: Step | undefined;
  let server: Server;
  const keyOf = (v?: { SecretString?: string }): string | undefined => (v?.SecretString ? (JSON.parse(v.SecretString) as { api_key: string }).api_key : undefined);
  const mint = (): string => {
    const key = `rk-${randomBytes(8).toString('hex')}`;
    valid.add(key);
    return key;
  };
  return {
    valid,
    minted,
    calls,
    held,
    mint,
    holdAt: (step: Step | undefined) => (holdAt = step),
    count: (step: Step, token: string) => calls.filter((c) => c.step === step && c.token === token).length,
    url: '',
    async start() {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Step: Step; ClientRequestToken: string; CurrentValue?: { SecretString?: string }; PendingValue?: { SecretString?: string }; PreviousValue?: { SecretString?: string } };
          calls.push({ step: input.Step, token: input.ClientRequestToken });
          if (holdAt === input.Step) return void held.push(res);
          if (input.Step === 'createSecret') {
            const key = minted.get(input.ClientRequestToken) ?? mint();
            minted.set(input.ClientRequestToken, key);
            return void res.writeHead(200).end(JSON.stringify({ SecretString: JSON.stringify({ api_key: key }) }));
          }
          if (input.Step === 'finishSecret') {
            const previous = keyOf(input.PreviousValue);
            if (previous) valid.delete(previous);
            return void res.writeHead(200).end();
          }
          const pending = keyOf(input.PendingValue);
          res.writeHead(pending && valid.has(pending) ? 200 : 400).end();
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

describe('a webhook rotation across a server restart', () => {
  const dataDir = tempDir('coffer-rotator-restart-');
  const service = createService();
  let skew = 0;
  const clock: Clock = { now: () => Date.now() + skew };
  let server: TestServer | undefined;
  let root = '';

  const start = async (): Promise<TestServer> => {
    server = await startTestServer({ dev: true, dataDir, keepDataDir: true, clock, rotators: { tickMs: 20, pollMs: 10 } });
    root = server.rootToken as string;
    return server;
  };
  const vault = (method: string, path: string, body?: unknown) => api(server as TestServer, method, path, { token: root, ...(body === undefined ? {} : { body }) });
  const status = async () => (await vault('GET', `rotators/status/${SECRET}`)).body.data;
  const currentKey = async (): Promise<string> => (await vault('GET', `aws/data/${SECRET}`)).body.data.data.api_key;
  const latestVersion = async (): Promise<number> => Number((await vault('GET', `aws/metadata/${SECRET}`)).body.data.current_version);

  before(async () => {
    await service.start();
    await start();
    // The aws/ mount is there from the server's first start.
    await vault('POST', 'rotators/config/svc', { type: 'webhook', url: `${service.url}/rotate`, timeout: '30s' });
    assert.equal((await vault('POST', `aws/data/${SECRET}`, { data: { api_key: service.mint() } })).status, 200);
  });

  after(async () => {
    await server?.close();
    await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('resumes at the step that was in flight, without minting a second key', async () => {
    const oldKey = await currentKey();
    service.holdAt('testSecret');
    const scheduled = await vault('POST', `rotators/schedule/${SECRET}`, { rotator: 'svc', rotation_period: '24h', verify_timeout: '60s', rotate_immediately: true });
    assert.equal(scheduled.status, 200, JSON.stringify(scheduled.body));
    const id = scheduled.body.data.rotation_id as string;
    for (let i = 0; i < 1000 && service.held.length === 0; i++) await pause(10);
    assert.equal(service.held.length, 1, 'testSecret is in flight');
    const inFlight = (await status()).rotation;
    assert.equal(inFlight.phase, 'testSecret');
    assert.equal(inFlight.steps.testSecret.status, 'running');

    await (server as TestServer).close();
    server = undefined;
    service.holdAt(undefined);
    assert.ok(service.valid.has(oldKey), 'the old key works while no server runs');

    await start();
    for (let i = 0; i < 2000 && (await status()).rotation !== null; i++) await pause(10);
    const done = (await status()).last_rotation;
    assert.equal(done.rotation_id, id);
    assert.equal(done.status, 'completed');
    assert.equal(done.steps.testSecret.attempts, 2);
    assert.equal(service.count('createSecret', id), 1, 'no second key was minted');
    assert.equal(service.count('testSecret', id), 2);
    assert.equal(service.count('finishSecret', id), 1);
    assert.equal(await currentKey(), service.minted.get(id));
    assert.ok(!service.valid.has(oldKey));
  });

  it('keeps a verify deadline across a restart and finishes once it passes', async () => {
    const kv = await latestVersion();
    const consumer = await vault('POST', 'sys/consumers/register', { path: `aws/data/${SECRET}`, name: 'never-switches', ttl: 86_400, version: kv });
    const oldKey = await currentKey();
    const rotated = await vault('POST', `rotators/rotate/${SECRET}`);
    const id = rotated.body.data.rotation_id as string;
    for (let i = 0; i < 1000 && (await status()).rotation?.stragglers?.length !== 1; i++) await pause(10);
    const waiting = (await status()).rotation;
    assert.equal(waiting.phase, 'verify');
    const deadline = waiting.verify_deadline as string;

    await (server as TestServer).close();
    server = undefined;
    await start();
    await pause(100);
    const resumed = (await status()).rotation;
    assert.equal(resumed?.rotation_id, id, 'still waiting after the restart');
    assert.equal(resumed.verify_deadline, deadline);
    assert.ok(service.valid.has(oldKey));

    skew += 61_000;
    for (let i = 0; i < 2000 && (await status()).rotation !== null; i++) await pause(10);
    const done = (await status()).last_rotation;
    assert.equal(done.rotation_id, id);
    assert.equal(done.verify_outcome, 'timeout_revoked');
    assert.deepEqual(done.stragglers.map((s: { consumer_id: string }) => s.consumer_id), [consumer.body.data.consumer_id]);
    assert.ok(!service.valid.has(oldKey));
  });
});
