import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { createManualClock, type ManualClock } from '../core/clock.js';
import type { ConsumerView } from '../core/consumers/consumer-registry.js';
import { CofferError } from '../core/errors.js';
import { createKeyedMutex } from '../core/keyed-mutex.js';
import { silentLogger } from '../core/logger.js';
import { createMemoryStorage } from '../core/storage/memory.js';
import type { RotationIdentity } from './rotation-identity.js';
import type { RotationRecord } from './rotation-record.js';
import { createRotationRunner, type RotationRunner } from './rotation-runner.js';
import { createRotatorStore, type RotatorStore, type Schedule } from './rotator-store.js';
import type { RotationSettingsPatch, StagedSecrets, StagedVersion } from './staged-secrets.js';
import { WebhookError, type RotationStep, type SecretValue, type StepRequest, type WebhookCaller } from './webhook.js';

const HOUR = 3_600_000;
const text = (v: SecretValue | undefined): string | undefined => (v?.kind === 'string' ? v.text : undefined);

/** In-memory staged versions with AWS's label rules, enough to watch what the runner moves. */
function fakeSecrets() {
  const versions: Array<{ id: string; kv: number; value: SecretValue; stages: string[] }> = [
    { id: 'version-a', kv: 1, value: { kind: 'string', text: 'key-A' }, stages: ['AWSCURRENT'] },
  ];
  const settings: RotationSettingsPatch[] = [];
  const view = (v: (typeof versions)[number] | undefined): StagedVersion | undefined => (v ? { id: v.id, kv: v.kv, value: v.value } : undefined);
  const byStage = (s: string) => versions.find((v) => v.stages.includes(s));
  const take = (stage: string) => {
    for (const v of versions) v.stages = v.stages.filter((s) => s !== stage);
  };
  const secrets: StagedSecrets = {
    validateName: (n) => n,
    readPath: (n) => `aws/data/${n}`,
    grants: (n) => [{ path: `aws/data/${n}`, capabilities: ['read'] }],
    async snapshot(_n, _a, _r, id) {
      return { arn: 'arn:test', current: view(byStage('AWSCURRENT')), pending: view(byStage('AWSPENDING')), previous: view(byStage('AWSPREVIOUS')), byId: view(versions.find((v) => v.id === id)) };
    },
    async putPending(_n, _a, id, value) {
      take('AWSPENDING');
      const v = { id, kv: versions.length + 1, value, stages: ['AWSPENDING'] };
      versions.push(v);
      return view(v) as StagedVersion;
    },
    async promote(_n, _a, id, patch) {
      const target = versions.find((v) => v.id === id);
      if (!target) throw new CofferError('not_found', 'gone');
      const old = byStage('AWSCURRENT');
      if (old !== target) {
        take('AWSPREVIOUS');
        take('AWSCURRENT');
        old?.stages.push('AWSPREVIOUS');
        target.stages.push('AWSCURRENT');
      }
      target.stages = target.stages.filter((s) => s !== 'AWSPENDING');
      settings.push(patch);
      return { kv: target.kv };
    },
    async dropPending(_n, _a, id) {
      const v = versions.find((x) => x.id === id);
      if (v) v.stages = v.stages.filter((s) => s !== 'AWSPENDING');
    },
    async updateSettings(_n, _a, patch) {
      settings.push(patch);
    },
  };
  return { secrets, versions, settings, current: () => byStage('AWSCURRENT') };
}

/** A scripted webhook: records every call, mints key-B.. on createSecret, fails where told. */
function fakeWebhook() {
  const calls: StepRequest[] = [];
  let failAt: RotationStep | undefined;
  let block: { step: RotationStep; release: Promise<void> } | undefined;
  let minted = 0;
  const webhook: WebhookCaller = {
    async call(_target, request, signal) {
      calls.push(request);
      if (block?.step === request.step) {
        await Promise.race([block.release, new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve()))]);
        if (signal?.aborted) throw new WebhookError(request.step, 'the call was abandoned because the server is stopping');
      }
      if (failAt === request.step) throw new WebhookError(request.step, 'the rotator answered HTTP 500');
      if (request.step === 'createSecret') return { kind: 'string', text: `key-${String.fromCharCode(66 + minted++)}` };
      return undefined;
    },
  };
  return {
    webhook,
    calls,
    steps: () => calls.map((c) => c.step),
    failAt: (step: RotationStep | undefined) => (failAt = step),
    blockAt: (step: RotationStep) => {
      let release!: () => void;
      block = { step, release: new Promise<void>((r) => (release = r)) };
      return () => {
        block = undefined;
        release();
      };
    },
  };
}

const identity: RotationIdentity = {
  policyName: () => 'p',
  writePolicy: async () => 'p',
  deletePolicy: async () => undefined,
  withToken: (_s, _r, fn) => fn('step-token'),
};

async function until(condition: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('the webhook rotation state machine', () => {
  let clock: ManualClock;
  let store: RotatorStore;
  let staged: ReturnType<typeof fakeSecrets>;
  let hook: ReturnType<typeof fakeWebhook>;
  let consumers: ConsumerView[];
  /** When the fake server began taking check-ins (its last unseal). */
  let servingSince: number | undefined;
  let events: Array<{ path: string; version: number | null; event: string }>;
  let audited: Array<{ id: string; onTimeout: string; stragglers: string[] }>;
  let auditFails: boolean;

  const schedule = (over: Partial<Schedule> = {}): Schedule => ({
    secret: 'app/key',
    rotator: 'svc',
    lambdaArn: 'svc',
    rules: { ScheduleExpression: 'rate(1 day)' },
    enabled: true,
    verifyTimeoutSeconds: 60,
    onTimeout: 'revoke',
    region: 'us-east-1',
    policy: 'p',
    configuredAt: clock.now(),
    updatedAt: clock.now(),
    history: [],
    ...over,
  });

  const runner = (): RotationRunner =>
    createRotationRunner({
      store,
      secrets: staged.secrets,
      identity,
      webhook: hook.webhook,
      consumers: { list: async () => consumers, servingSince: () => servingSince },
      events: { publish: (e) => (events.push(e), { ...e, seq: events.length, time: clock.now() }) },
      clock,
      logger: silentLogger,
      locks: createKeyedMutex(),
      auditTimeout: (r, onTimeout) => {
        if (auditFails) throw new CofferError('audit_failed', 'no audit device could record the request');
        audited.push({ id: r.id, onTimeout, stragglers: r.stragglers.map((s) => s.id) });
      },
      pollMs: 1,
      retryMs: HOUR,
    });

  const record = async (id: string): Promise<RotationRecord> => (await store.getRotation('app/key', id)) as RotationRecord;
  const settledStatus = async (id: string, status: RotationRecord['status']): Promise<RotationRecord> => {
    await until(async () => (await record(id))?.status === status, `status ${status}`);
    return record(id);
  };

  beforeEach(async () => {
    clock = createManualClock();
    store = createRotatorStore(createMemoryStorage());
    staged = fakeSecrets();
    hook = fakeWebhook();
    consumers = [];
    servingSince = 0;
    events = [];
    audited = [];
    auditFails = false;
    await store.putConfig({ name: 'svc', type: 'webhook', url: 'http://127.0.0.1:1/rotate', timeoutSeconds: 5, createdAt: 0, updatedAt: 0 });
    await store.putSchedule(schedule());
  });

  it('runs the four steps in order, moves AWSCURRENT before finishSecret and publishes the new version', async () => {
    const started = await runner().start('app/key', { id: 'version-b', trigger: 'api' });
    const done = await settledStatus(started.id, 'completed');
    assert.deepEqual(hook.steps(), ['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    const [create, set, , finish] = hook.calls as [StepRequest, StepRequest, StepRequest, StepRequest];
    assert.equal(text(create.currentValue), 'key-A');
    assert.equal(create.clientRequestToken, 'version-b');
    assert.equal(text(set.pendingValue), 'key-B');
    assert.equal(text(finish.currentValue), 'key-B', 'finishSecret sees the new credential as current');
    assert.equal(text(finish.previousValue), 'key-A', 'and names the old one to revoke');
    assert.equal(staged.current()?.id, 'version-b');
    assert.deepEqual(staged.versions.find((v) => v.id === 'version-a')?.stages, ['AWSPREVIOUS']);
    assert.deepEqual(events, [{ path: 'aws/data/app/key', version: 2, event: 'rotate' }]);
    assert.equal(done.verifyOutcome, 'no_consumers');
    assert.equal(done.fromVersionId, 'version-a');
    assert.equal(done.toKv, 2);
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'promote', 'verify', 'finishSecret'] as const) assert.equal(done.steps[step].status, 'done', step);
    const after = (await store.getSchedule('app/key')) as Schedule;
    assert.equal(after.active, undefined);
    assert.equal(after.lastRotated, clock.now());
    assert.equal(after.nextRun, clock.now() + 24 * HOUR);
    assert.equal(staged.settings.at(-1)?.lastRotated, clock.now());
  });

  for (const step of ['setSecret', 'testSecret'] as const) {
    it(`rolls back when the webhook fails at ${step}: AWSPENDING goes, AWSCURRENT stays, nothing is revoked`, async () => {
      hook.failAt(step);
      const started = await runner().start('app/key', { id: 'version-b', trigger: 'api' });
      const failed = await settledStatus(started.id, 'rolled_back');
      assert.equal(staged.current()?.id, 'version-a');
      assert.deepEqual(staged.versions.find((v) => v.id === 'version-b')?.stages, []);
      assert.ok(!hook.steps().includes('finishSecret'));
      assert.equal(failed.steps[step].status, 'failed');
      assert.match(failed.error ?? '', new RegExp(`${step}: the rotator answered HTTP 500`));
      assert.deepEqual(events, []);
      const after = (await store.getSchedule('app/key')) as Schedule;
      assert.equal(after.active, undefined);
      assert.ok((after.nextRun ?? 0) >= clock.now() + HOUR, 'a failed rotation is retried no sooner than retryMs');
    });
  }

  it('refuses a second rotation while one is unfinished', async () => {
    const release = hook.blockAt('testSecret');
    const r = runner();
    await r.start('app/key', { id: 'version-b', trigger: 'api' });
    await assert.rejects(r.start('app/key', { trigger: 'api' }), (e: unknown) => e instanceof CofferError && e.code === 'conflict');
    release();
    await settledStatus('version-b', 'completed');
  });

  it('holds finishSecret until every live consumer reports the new version', async () => {
    consumers = [{ id: 'c1', path: 'aws/data/app/key', version: 1, name: 'web-1', registeredAt: 0, lastCheckIn: clock.now(), versionSince: 0, ttl: 3600, live: true }];
    await runner().start('app/key', { id: 'version-b', trigger: 'api' });
    await until(async () => (await record('version-b')).phase === 'verify' && (await record('version-b')).stragglers.length === 1, 'verify with a straggler');
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(!hook.steps().includes('finishSecret'), 'A is not revoked while a consumer still uses it');
    consumers = [{ ...(consumers[0] as ConsumerView), version: 2, versionSince: clock.now() }];
    const done = await settledStatus('version-b', 'completed');
    assert.equal(done.verifyOutcome, 'confirmed');
    assert.deepEqual(done.confirmed.map((c) => c.id), ['c1']);
    assert.deepEqual(audited, []);
  });

  it('after verify_timeout revokes anyway under on_timeout=revoke, naming the stragglers in the audit log first', async () => {
    consumers = [{ id: 'c1', path: 'aws/data/app/key', version: 1, name: 'stuck', registeredAt: 0, lastCheckIn: clock.now(), versionSince: 0, ttl: 3600, live: true }];
    await runner().start('app/key', { id: 'version-b', trigger: 'api' });
    await until(async () => (await record('version-b')).stragglers.length === 1, 'a straggler');
    clock.advance(61_000);
    const done = await settledStatus('version-b', 'completed');
    assert.equal(done.verifyOutcome, 'timeout_revoked');
    assert.deepEqual(audited, [{ id: 'version-b', onTimeout: 'revoke', stragglers: ['c1'] }]);
    assert.deepEqual(done.stragglers.map((s) => s.id), ['c1']);
  });

  it('a restart during verify gives live stragglers one TTL from when the server is back before the timeout revokes', async () => {
    consumers = [{ id: 'c1', path: 'aws/data/app/key', version: 1, name: 'web', registeredAt: 0, lastCheckIn: clock.now(), versionSince: 0, ttl: 30, live: true }];
    const first = runner();
    await first.start('app/key', { id: 'version-b', trigger: 'api' });
    await until(async () => (await record('version-b')).stragglers.length === 1, 'a straggler');
    await first.stop();
    // Down for five minutes, far past verify_timeout (60 s); then unsealed.
    clock.advance(300_000);
    servingSince = clock.now();
    consumers = [{ ...(consumers[0] as ConsumerView), lastCheckIn: clock.now() - 300_000 }];
    const second = runner();
    second.resume('app/key', 'version-b');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(second.isDriving('app/key'), 'still waiting for the consumer');
    assert.ok(!hook.steps().includes('finishSecret'), 'not revoked at once');
    // The consumer switches within its TTL: confirmed, no revoke despite it.
    clock.advance(10_000);
    consumers = [{ ...(consumers[0] as ConsumerView), version: 2, versionSince: clock.now(), lastCheckIn: clock.now() }];
    const done = await settledStatus('version-b', 'completed');
    assert.equal(done.verifyOutcome, 'confirmed');
    await second.stop();
  });

  it('does not revoke when the audit log cannot name the stragglers, and tries again', async () => {
    auditFails = true;
    consumers = [{ id: 'c1', path: 'aws/data/app/key', version: 1, name: 'stuck', registeredAt: 0, lastCheckIn: clock.now(), versionSince: 0, ttl: 3600, live: true }];
    const r = runner();
    await r.start('app/key', { id: 'version-b', trigger: 'api' });
    await until(async () => (await record('version-b')).stragglers.length === 1, 'a straggler');
    clock.advance(61_000);
    await until(() => !r.isDriving('app/key'), 'the driver to give up for now');
    assert.ok(!hook.steps().includes('finishSecret'));
    auditFails = false;
    r.resume('app/key', 'version-b');
    await settledStatus('version-b', 'completed');
    assert.equal(audited.length, 1);
  });

  it('under on_timeout=hold waits with both credentials valid until the straggler switches', async () => {
    await store.putSchedule(schedule({ onTimeout: 'hold' }));
    consumers = [{ id: 'c1', path: 'aws/data/app/key', version: 1, name: 'slow', registeredAt: 0, lastCheckIn: clock.now(), versionSince: 0, ttl: 3600, live: true }];
    const r = runner();
    await r.start('app/key', { id: 'version-b', trigger: 'api' });
    await until(async () => (await record('version-b')).stragglers.length === 1, 'a straggler');
    clock.advance(61_000);
    const held = await settledStatus('version-b', 'waiting');
    assert.equal(held.verifyOutcome, 'timeout_held');
    assert.equal(audited.at(-1)?.onTimeout, 'hold');
    assert.ok(!hook.steps().includes('finishSecret'));
    r.resume('app/key', 'version-b');
    await until(() => !r.isDriving('app/key'), 'a look that changes nothing');
    assert.equal((await record('version-b')).status, 'waiting');
    consumers = [{ ...(consumers[0] as ConsumerView), version: 2 }];
    r.resume('app/key', 'version-b');
    await settledStatus('version-b', 'completed');
    assert.equal(audited.length, 1, 'the hold is audited once');
  });

  it('a completed rotation moves nextRun on, also for cron rules an earlier build stored without "?"', async () => {
    await store.putSchedule(schedule({ rules: { ScheduleExpression: 'cron(0 12 * * * *)' }, nextRun: clock.now() }));
    await runner().start('app/key', { id: 'version-b', trigger: 'schedule' });
    await settledStatus('version-b', 'completed');
    const after = (await store.getSchedule('app/key')) as Schedule;
    assert.ok((after.nextRun ?? 0) > clock.now(), 'the next run is the next match, not the one just done');
  });

  it('a completed rotation whose stored rules compute no next run drops the past one, so it is not due at every tick', async () => {
    await store.putSchedule(schedule({ rules: { ScheduleExpression: 'every tuesday' }, nextRun: clock.now() }));
    await runner().start('app/key', { id: 'version-b', trigger: 'schedule' });
    await settledStatus('version-b', 'completed');
    assert.equal(((await store.getSchedule('app/key')) as Schedule).nextRun, undefined);
  });

  it('a held rotation is released (and audited) once the schedule says on_timeout=revoke', async () => {
    await store.putSchedule(schedule({ onTimeout: 'hold' }));
    consumers = [{ id: 'c1', path: 'aws/data/app/key', version: 1, name: 'slow', registeredAt: 0, lastCheckIn: clock.now(), versionSince: 0, ttl: 3600, live: true }];
    const r = runner();
    await r.start('app/key', { id: 'version-b', trigger: 'api' });
    await until(async () => (await record('version-b')).stragglers.length === 1, 'a straggler');
    clock.advance(61_000);
    await settledStatus('version-b', 'waiting');
    await store.putSchedule(schedule({ onTimeout: 'revoke' }));
    r.resume('app/key', 'version-b');
    const done = await settledStatus('version-b', 'completed');
    assert.equal(done.verifyOutcome, 'timeout_revoked');
    assert.ok(hook.steps().includes('finishSecret'));
    assert.deepEqual(audited.map((a) => a.onTimeout), ['hold', 'revoke'], 'the release names the stragglers again');
  });

  it('resumes a rotation stopped mid-step at that step, without asking for a second new credential', async () => {
    hook.blockAt('testSecret');
    const first = runner();
    await first.start('app/key', { id: 'version-b', trigger: 'schedule' });
    await until(() => hook.steps().includes('testSecret'), 'testSecret in flight');
    await first.stop();
    const stopped = await record('version-b');
    assert.equal(stopped.status, 'running');
    assert.equal(stopped.phase, 'testSecret');
    assert.equal(staged.current()?.id, 'version-a', 'AWSCURRENT has not moved');

    hook.blockAt('none' as RotationStep);
    const second = runner();
    second.resume('app/key', 'version-b');
    await settledStatus('version-b', 'completed');
    assert.deepEqual(hook.steps(), ['createSecret', 'setSecret', 'testSecret', 'testSecret', 'finishSecret']);
    assert.equal(staged.versions.length, 2);
  });

  it('keeps the new credential current when finishSecret fails, and retries it later', async () => {
    hook.failAt('finishSecret');
    const r = runner();
    await r.start('app/key', { id: 'version-b', trigger: 'api' });
    await until(async () => (await record('version-b')).steps.finishSecret.status === 'failed', 'finishSecret to fail');
    const failed = await record('version-b');
    assert.equal(failed.status, 'running');
    assert.equal(staged.current()?.id, 'version-b');
    assert.equal(failed.nextAttemptAt, clock.now() + HOUR);
    hook.failAt(undefined);
    await until(() => !r.isDriving('app/key'), 'the driver to stop');
    r.resume('app/key', 'version-b');
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal((await record('version-b')).status, 'running', 'not before nextAttemptAt');
    clock.advance(HOUR);
    r.resume('app/key', 'version-b');
    const done = await settledStatus('version-b', 'completed');
    assert.equal(done.steps.finishSecret.attempts, 2);
  });
});
