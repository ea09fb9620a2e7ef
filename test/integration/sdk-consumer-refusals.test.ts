/**
 * The SDK's consumer handle and the agent's check-ins against a real server, when the server
 * refuses a check-in. Only "unknown consumer" (the consumer was removed, forgotten, or belongs
 * to another token) is answered by registering anew; any other refusal, such as a version above
 * the secret's current one, reaches the caller (or, in the agent, is reported once and retried
 * with backoff) and registers nothing. Registration attempts are counted in a file audit
 * device, which logs every request, refused or not.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCheckIns } from '../../src/agent/check-ins.js';
import { registerConsumer } from '../../src/sdk/consumer.js';
import { CofferBadRequestError } from '../../src/sdk/errors.js';
import { Coffer } from '../../src/sdk/index.js';
import { createManualTimers } from '../../src/sdk/manual-timers.js';
import { createScheduler } from '../../src/sdk/scheduler.js';
import { createTransport } from '../../src/sdk/transport.js';
import { eventually, waitFor } from '../helpers/polling.js';
import { api, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

interface Listed {
  consumer_id: string;
  version: number;
  live: boolean;
  last_check_in: string;
}

const isRefusal = (message: string) => (err: unknown): boolean => {
  assert.ok(err instanceof CofferBadRequestError, String(err));
  assert.equal(err.path, 'sys/consumers/checkin', 'the check-in refusal itself, not a registration after it');
  assert.deepEqual(err.errors, [message]);
  return true;
};

describe('consumer check-ins the server refuses', () => {
  const auditDir = tempDir('coffer-consumer-refusals-');
  const auditFile = join(auditDir, 'audit.log');
  let server: TestServer;
  let root: string;
  let appToken: string;
  const closers: Array<() => Promise<unknown>> = [];

  /** How many requests for `path` reached the server so far, refused or not. */
  const requests = (path: string): number =>
    readFileSync(auditFile, 'utf8')
      .split('\n')
      // Whole lines only: the last piece is empty, or a line the server is writing now.
      .slice(0, -1)
      .map((line) => JSON.parse(line) as { type: string; request: { path: string } })
      .filter((entry) => entry.type === 'request' && entry.request.path === path).length;
  const registrations = (): number => requests('sys/consumers/register');
  const checkIns = (): number => requests('sys/consumers/checkin');
  const write = async (name: string, value: string): Promise<void> => {
    assert.equal((await api(server, 'POST', `secret/data/app/${name}`, { token: root, body: { data: { value } } })).status, 200);
  };
  const listed = async (name: string): Promise<Listed[]> =>
    (await api(server, 'GET', `sys/consumers?path=secret/data/app/${name}`, { token: root })).body.data.consumers;
  const appTokenFor = async (): Promise<string> =>
    (await api(server, 'POST', 'auth/token/create', { token: root, body: { policies: ['app'] } })).body.auth.client_token as string;
  const coffer = (errors: unknown[]): Coffer => {
    const c = new Coffer({ address: server.url, token: appToken, onError: (err) => errors.push(err) });
    closers.push(() => c.close());
    return c;
  };

  before(async () => {
    server = await startTestServer({ dev: true, storage: 'memory' });
    root = server.rootToken as string;
    const enabled = await api(server, 'PUT', 'sys/audit/file', { token: root, body: { type: 'file', options: { file_path: auditFile } } });
    assert.equal(enabled.status, 204, JSON.stringify(enabled.body));
    await api(server, 'PUT', 'sys/policies/acl/app', { token: root, body: { policy: 'path "secret/data/app/*" { capabilities = ["read"] }' } });
    appToken = await appTokenFor();
  });
  after(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await server?.destroy();
    rmSync(auditDir, { recursive: true, force: true });
  });

  it('throws a check-in above the current version to the caller and registers nothing anew', async () => {
    await write('ahead', 'v1');
    const errors: unknown[] = [];
    const consumer = await coffer(errors).consumer('secret/data/app/ahead', { name: 'web-1', ttl: 30, version: 1 });
    const firstId = consumer.id;
    const registered = registrations();

    await assert.rejects(consumer.checkIn(3), isRefusal('version 3 does not exist: the current version is 1'));
    assert.equal(registrations(), registered, 'no registration was attempted');
    assert.equal(consumer.id, firstId);
    assert.deepEqual((await listed('ahead')).map((c) => [c.consumer_id, c.version, c.live]), [[firstId, 1, true]]);

    await write('ahead', 'v2');
    await consumer.checkIn(2);
    assert.deepEqual((await listed('ahead')).map((c) => [c.consumer_id, c.version]), [[firstId, 2]]);
    assert.equal(registrations(), registered);
    assert.deepEqual(errors, []);
  });

  it('keeps the heartbeat on the version the server took after a refused check-in', async () => {
    await write('heartbeat', 'v1');
    const errors: unknown[] = [];
    const timers = createManualTimers();
    const scheduler = createScheduler((err) => errors.push(err), timers);
    const transport = createTransport({ address: server.url, token: () => appToken });
    const consumer = await registerConsumer(transport.request, scheduler, 'secret/data/app/heartbeat', { ttl: 30, version: 1 }, (err) => errors.push(err));
    closers.push(async () => {
      scheduler.stop();
      await consumer.close();
    });
    const [registeredEntry] = await listed('heartbeat');
    const registered = registrations();
    await assert.rejects(consumer.checkIn(2), isRefusal('version 2 does not exist: the current version is 1'));

    // One heartbeat (a third of the 30 s TTL), answered by the real server.
    await timers.advance(10_000);
    await eventually(async () => (await listed('heartbeat'))[0]!.last_check_in > registeredEntry!.last_check_in, 5000, 'the heartbeat to check in');
    assert.deepEqual((await listed('heartbeat')).map((c) => [c.consumer_id, c.version, c.live]), [[consumer.id, 1, true]]);
    assert.equal(registrations(), registered);
    assert.deepEqual(errors, [], 'the heartbeat was not refused');
  });

  it('registers anew when the server no longer knows the consumer: deregistered, or another token', async () => {
    await write('forgotten', 'v1');
    const errors: unknown[] = [];
    const c = coffer(errors);
    const consumer = await c.consumer('secret/data/app/forgotten', { name: 'web-2', ttl: 30, version: 1 });
    const firstId = consumer.id;
    const registered = registrations();

    assert.equal((await api(server, 'POST', 'sys/consumers/deregister', { token: root, body: { consumer_id: firstId, path: 'secret/data/app/forgotten' } })).status, 204);
    await write('forgotten', 'v2');
    await consumer.checkIn(2);
    assert.equal(registrations(), registered + 1);
    const secondId = consumer.id;
    assert.notEqual(secondId, firstId);
    assert.deepEqual((await listed('forgotten')).map((c) => [c.consumer_id, c.version]), [[secondId, 2]]);

    // After a new token (a re-login), the old registration is another token's: unknown to this one.
    c.setToken(await appTokenFor());
    await consumer.checkIn(2);
    assert.equal(registrations(), registered + 2);
    assert.notEqual(consumer.id, secondId);
    assert.ok((await listed('forgotten')).some((x) => x.consumer_id === consumer.id && x.version === 2));
    assert.deepEqual(errors, []);
    await consumer.close();
    assert.ok(!(await listed('forgotten')).some((x) => x.consumer_id === consumer.id), 'deregistered on close');
  });

  it('the agent reports a refused check-in once, retries it with backoff without registering, and re-registers a forgotten consumer', async () => {
    await write('agent', 'v1');
    const sdkErrors: unknown[] = [];
    const errors: unknown[] = [];
    const path = 'secret/data/app/agent';
    const agentCheckIns = createCheckIns({ coffer: coffer(sdkErrors), name: 'agent', ttl: 30, backoff: () => 20, onError: (_path, err) => errors.push(err) });
    closers.push(async () => agentCheckIns.stop());
    agentCheckIns.report(path, 1);
    await waitFor(() => agentCheckIns.versions().get(path) === 1, 5000, 'the first check-in');
    const firstId = agentCheckIns.ids().get(path);
    const registered = registrations();

    const before = checkIns();
    agentCheckIns.report(path, 3);
    await waitFor(() => checkIns() >= before + 4, 10_000, 'the refused check-in to be retried');
    assert.equal(errors.length, 1, 'reported once, not at every retry');
    assert.ok(isRefusal('version 3 does not exist: the current version is 1')(errors[0]));
    assert.equal(registrations(), registered, 'no registration was attempted');
    assert.deepEqual((await listed('agent')).map((c) => [c.consumer_id, c.version]), [[firstId, 1]]);

    // The version exists now: the next retry goes through.
    await write('agent', 'v2');
    await write('agent', 'v3');
    await waitFor(() => agentCheckIns.versions().get(path) === 3, 5000, 'the retried check-in');
    assert.deepEqual((await listed('agent')).map((c) => [c.consumer_id, c.version]), [[firstId, 3]]);

    assert.equal((await api(server, 'POST', 'sys/consumers/deregister', { token: root, body: { consumer_id: firstId, path } })).status, 204);
    await write('agent', 'v4');
    agentCheckIns.report(path, 4);
    await waitFor(() => agentCheckIns.versions().get(path) === 4, 5000, 'the check-in after deregistration');
    assert.notEqual(agentCheckIns.ids().get(path), firstId);
    assert.deepEqual((await listed('agent')).map((c) => [c.consumer_id, c.version]), [[agentCheckIns.ids().get(path), 4]]);
    assert.equal(registrations(), registered + 1);
    assert.equal(errors.length, 1);
    assert.deepEqual(sdkErrors, []);
  });
});
