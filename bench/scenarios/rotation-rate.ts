/**
 * One-shot scenario "rotation-rate" (issue 4, "npm run bench adds"): rotations per minute of a
 * dual-credential PostgreSQL static role (`username` + `alternate_username`) with two live
 * consumers, and the median time of each rotation phase from the rotation records.
 *
 * The consumers (`rotation-consumer.ts`) watch `sys/watch?prefix=database/static-creds/<role>`
 * and check in with each new version as soon as they see it; `POST database/rotate-role/<role>`
 * runs back to back for BENCH_ROTATION_S seconds (at most BENCH_ROTATION_MAX rotations).
 * BENCH_SKIP_ROTATION=1 skips it; BENCH_QUICK=1 shortens it.
 *
 * Must register the cluster and the server with cleanup and never print a password or token.
 */
import { loadavg } from 'node:os';
import { createScratchDatabase, tryLogin, uniqueSuffix } from '../../test/helpers/pg-cluster.js';
import { DURABLE_SETTINGS, pgUnavailable, startBenchPg, templateUrl } from '../bench-pg.js';
import { startCofferServer } from '../coffer-server.js';
import { isOn, isQuick, numberSetting } from '../env-settings.js';
import { createLoopbackClient } from '../loopback-http.js';
import type { Figure, OneShotResult, OneShotScenario } from '../one-shot.js';
import { startRotationConsumer, type RotationConsumer } from '../rotation-consumer.js';
import { percentile } from '../sample-stats.js';
import type { BenchContext } from '../scenario.js';
import { formatNumber, spread } from '../stats.js';

const TITLE = 'Static-role rotations';
const ROLE = 'app';
const CREDS_PATH = `database/static-creds/${ROLE}`;
const CONSUMERS = 2;
const PHASES = ['set_password', 'activate', 'notify', 'verify', 'revoke'] as const;

interface RotationConfig {
  seconds: number;
  maxRotations: number;
}

interface StepView {
  started_at: string | null;
  finished_at: string | null;
}

interface RecordView {
  trigger: string;
  status: string;
  started_at: string | null;
  finished_at: string | null;
  steps: Record<string, StepView>;
}

const ms = (v: number | undefined): string => (v === undefined ? 'n/a' : `${formatNumber(v, 1)} ms`);
/** Record timestamps have millisecond resolution, so a median of 0 means "under a millisecond". */
const phaseValue = (v: number | undefined): string => (v === 0 ? '< 1 ms' : ms(v));
const between = (from: string | null | undefined, to: string | null | undefined): number | undefined =>
  typeof from === 'string' && typeof to === 'string' ? Date.parse(to) - Date.parse(from) : undefined;

function readConfig(env: NodeJS.ProcessEnv): RotationConfig {
  const quick = isQuick(env);
  return {
    seconds: numberSetting(env, 'BENCH_ROTATION_S', quick ? 5 : 30, { min: 1, max: 600 }),
    maxRotations: numberSetting(env, 'BENCH_ROTATION_MAX', 5_000, { min: 1, max: 100_000, integer: true }),
  };
}

const pause = (msToWait: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, msToWait));

async function runRotations(ctx: BenchContext, config: RotationConfig): Promise<OneShotResult> {
  const started = new Date();
  const load = loadavg().map((v) => v.toFixed(2)).join(' / ');
  const disarm = ctx.cleanup.armWatchdog(240 + config.seconds * 2, 'the rotation run');
  const problems: string[] = [];
  const consumers: RotationConsumer[] = [];
  try {
    const cluster = await startBenchPg(ctx, 'rotation', { settings: DURABLE_SETTINGS });
    const db = await createScratchDatabase(cluster, 'coffer_bench_');
    const suffix = uniqueSuffix(6);
    const userA = `app_a_${suffix}`;
    const userB = `app_b_${suffix}`;
    await db.query(`CREATE TABLE items (id int); INSERT INTO items VALUES (1);
      CREATE ROLE "${userA}" LOGIN PASSWORD 'Initial-a-${suffix}'; CREATE ROLE "${userB}" LOGIN PASSWORD 'Initial-b-${suffix}';
      GRANT SELECT ON items TO "${userA}", "${userB}";`);

    const server = await startCofferServer(ctx, 'coffer-rotation');
    ctx.log(`  PostgreSQL on 127.0.0.1:${cluster.port}, Coffer pid ${server.child.pid} at ${server.url}`);
    const api = createLoopbackClient(server.url, server.rootToken, 8);
    ctx.cleanup.add('rotation HTTP client', () => api.close());
    await api.ok('POST', 'sys/mounts/database', { body: { type: 'database' } });
    await api.ok('POST', 'database/config/pg', {
      body: { plugin_name: 'postgresql-database-plugin', connection_url: templateUrl(cluster, db.name), username: cluster.adminUser, password: cluster.adminPassword, allowed_roles: [ROLE] },
    });
    await api.ok('POST', `database/static-roles/${ROLE}`, {
      body: { db_name: 'pg', username: userA, alternate_username: userB, rotation_period: '24h', rotation_policy: { verify_timeout: '30s', on_timeout: 'revoke' } },
    });
    // The role's first (import) rotation must be over before the measured ones start.
    for (let i = 0; i < 200; i += 1) {
      const state = await api.ok('GET', `database/rotations/${ROLE}`);
      if (state?.data?.current === null) break;
      await pause(50);
    }
    await api.ok('PUT', 'sys/policies/acl/rotation-consumer', { body: { policy: `path "${CREDS_PATH}" { capabilities = ["read"] }` } });
    const created = await api.ok('POST', 'auth/token/create', { body: { policies: ['rotation-consumer'], ttl: '2h' } });
    const consumerToken: unknown = created?.auth?.client_token;
    if (typeof consumerToken !== 'string') throw new Error('auth/token/create returned no token');
    for (let i = 0; i < CONSUMERS; i += 1) {
      consumers.push(await startRotationConsumer({ baseUrl: server.url, api, token: consumerToken, path: CREDS_PATH, name: `bench-consumer-${i + 1}` }));
    }

    const latencies: number[] = [];
    const outcomes = new Map<string, number>();
    const loopStarted = performance.now();
    const deadline = loopStarted + config.seconds * 1000;
    while (performance.now() < deadline && latencies.length < config.maxRotations && ctx.cleanup.aborted() === undefined) {
      const t0 = performance.now();
      const res = await api.call('POST', `database/rotate-role/${ROLE}`, { timeoutMs: 60_000 });
      latencies.push(performance.now() - t0);
      const data = res.body?.data;
      const confirmed = Array.isArray(data?.confirmed) ? data.confirmed.length : 0;
      const outcome = res.status === 200 ? `${String(data?.status)}/${String(data?.verify_outcome)}/${confirmed} confirmed` : `HTTP ${res.status}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    const loopSeconds = (performance.now() - loopStarted) / 1000;
    const expected = `completed/confirmed/${CONSUMERS} confirmed`;
    const good = outcomes.get(expected) ?? 0;
    const others = [...outcomes].filter(([k]) => k !== expected);
    if (others.length > 0) problems.push(`rotations that did not complete with all ${CONSUMERS} consumers confirmed: ${others.map(([k, v]) => `${v}× ${k}`).join(', ')}`);
    for (const consumer of consumers) if (consumer.errors.length > 0) problems.push(`consumer ${consumer.id}: ${consumer.errors.join(' | ')}`);

    // Phase times from the stored records (the history keeps the newest 20).
    const state = await api.ok('GET', `database/rotations/${ROLE}`);
    const history = ((state?.data?.history ?? []) as RecordView[]).filter((r) => r.trigger === 'api' && r.status === 'completed');
    const phaseMs = Object.fromEntries(PHASES.map((p) => [p, history.map((r) => between(r.steps[p]?.started_at, r.steps[p]?.finished_at)).filter((v): v is number => v !== undefined)]));
    const totalMs = history.map((r) => between(r.started_at, r.finished_at)).filter((v): v is number => v !== undefined);

    // One more rotation, unmeasured: the credential it replaces must stop working, the new one must work.
    const before = (await api.ok('GET', CREDS_PATH))?.data as { username: string; password: string };
    await api.ok('POST', `database/rotate-role/${ROLE}`);
    const after = (await api.ok('GET', CREDS_PATH))?.data as { username: string; password: string };
    if ((await tryLogin(cluster, db.name, after.username, after.password)) !== undefined) problems.push('the current credential did not log in after the run');
    if ((await tryLogin(cluster, db.name, before.username, before.password)) === undefined) problems.push('the replaced credential still logged in after its rotation completed');

    const switches = consumers.map((c) => c.switches);
    for (const consumer of consumers.splice(0)) await consumer.stop();
    await server.child.stop();
    await cluster.stop();

    const rotations = latencies.length;
    const perMinute = (good / loopSeconds) * 60;
    const figures: Figure[] = [
      {
        label: `Rotations per minute, dual credential, ${CONSUMERS} live consumers`,
        value: `${formatNumber(perMinute)}/min`,
        note: `${formatNumber(good)} of ${formatNumber(rotations)} rotations completed with both consumers confirmed in ${formatNumber(loopSeconds, 1)} s, back to back`,
      },
      {
        label: 'rotate-role call, start to answer',
        value: `p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}`,
        note: `all ${formatNumber(rotations)} calls; the answer comes after revoke`,
      },
      ...PHASES.map((phase): Figure => ({
        label: `Phase ${phase}`,
        value: phaseValue(spread(phaseMs[phase] ?? [])?.median),
        note: `median over the last ${history.length} rotation records (steps.${phase}.started_at → finished_at, ms resolution)${phase === 'verify' ? '; waits for both consumers\' check-ins' : ''}`,
      })),
      { label: 'Rotation record, started → finished', value: ms(spread(totalMs)?.median), note: `median over the same ${history.length} records` },
      { label: 'Consumer switches', value: switches.map((s) => formatNumber(s)).join(' / '), note: 'check-ins with a new version, per consumer' },
    ];
    return {
      title: TITLE,
      summary: `Measured ${started.toISOString()}: ${formatNumber(config.seconds)} s of back-to-back rotations; load average at start ${load} on this shared 2-core machine.`,
      figures,
      method: [
        'Issue 4 ("npm run bench adds"). Runs once per `npm run bench`, after the load cells (`BENCH_SKIP_ROTATION=1` skips it; `BENCH_ROTATION_S` sets the duration, `BENCH_ROTATION_MAX` caps the count).',
        'PostgreSQL: a throwaway scram-sha-256 cluster (`test/helpers/pg-cluster.ts`, default durability) with two LOGIN users holding SELECT on one table, as in `test/integration/rotation-pg.test.ts`.',
        `Coffer: its own dev-mode child (SQLite, no audit device), \`database/\` mounted, static role \`${ROLE}\` with \`username\` and \`alternate_username\` (dual credential), \`rotation_period: 24h\` (so no scheduled rotation interferes), \`rotation_policy: { verify_timeout: 30s, on_timeout: revoke }\`.`,
        `${CONSUMERS} consumers in the harness, each with a token whose policy reads only \`${CREDS_PATH}\`: registered through \`sys/consumers/register\`, subscribed to \`GET /v1/sys/watch?prefix=${CREDS_PATH}\` (SSE); on an event with a newer version they re-read \`static-creds\` and \`POST sys/consumers/checkin\` with it. No database logins in the loop.`,
        '`POST /v1/database/rotate-role/<role>` back to back (each answers once the rotation completed: set_password → activate → notify → verify (both consumers confirmed) → revoke). Rate = rotations completed with both consumers confirmed / loop time. Phase times come from `GET /v1/database/rotations/<role>` (history of the last 20).',
        'Afterwards one more rotation checks that the replaced credential no longer logs in and the current one does.',
      ],
      problems,
    };
  } finally {
    for (const consumer of consumers) await consumer.stop().catch(() => undefined);
    disarm();
  }
}

export const rotationRateScenario: OneShotScenario = {
  id: 'rotation-rate',
  title: TITLE,
  plan(env) {
    if (isOn(env, 'BENCH_SKIP_ROTATION')) return { skipped: 'BENCH_SKIP_ROTATION=1' };
    const config = readConfig(env);
    const unavailable = pgUnavailable();
    if (unavailable !== undefined) return { skipped: unavailable };
    return { run: (ctx) => runRotations(ctx, config) };
  },
};
