/**
 * One-shot scenario "agent-render" (issue 5, "npm run bench adds"; the issue's "the file changes
 * within 1 s"): the time from a change to the agent's re-rendered file. A `coffer agent` process
 * (token_file auto-auth) renders a KV v2 secret and, when PostgreSQL is available, a
 * dual-credential static role into two files; the harness then writes the KV secret
 * (BENCH_AGENT_WRITES times) and rotates the role (BENCH_AGENT_ROTATIONS times), reading the
 * file every millisecond until it holds the new value.
 *
 * Reports "not available" while `coffer agent` (src/agent/, src/cli/commands/agent.ts) is not in
 * this build. BENCH_SKIP_AGENT=1 skips it; BENCH_QUICK=1 shortens it. Must register every process
 * and temp dir with cleanup and never print a token, a password or a rendered file.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createScratchDatabase, uniqueSuffix } from '../../test/helpers/pg-cluster.js';
import { DURABLE_SETTINGS, pgUnavailable, startBenchPg, templateUrl } from '../bench-pg.js';
import { built, cofferCli, describeCli } from '../coffer-cli.js';
import { startCofferServer } from '../coffer-server.js';
import { isOn, isQuick, numberSetting } from '../env-settings.js';
import { pollFile, readIfPresent } from '../file-poll.js';
import { createLoopbackClient, type LoopbackClient } from '../loopback-http.js';
import type { Figure, OneShotResult, OneShotScenario } from '../one-shot.js';
import { distribution } from '../sample-stats.js';
import type { BenchContext } from '../scenario.js';
import { formatNumber } from '../stats.js';

const TITLE = 'Agent rotation-to-file';
const TARGET_MS = 1_000;
const CHANGE_LIMIT_MS = 15_000;
const START_LIMIT_MS = 30_000;
const KV_PATH = 'secret/data/app';
const ROLE = 'app';
const CREDS_PATH = `database/static-creds/${ROLE}`;
const STDERR_TAIL_LINES = 20;

interface AgentBenchConfig {
  writes: number;
  rotations: number;
}

const ms = (v: number | undefined): string => (v === undefined ? 'n/a' : `${formatNumber(v, 1)} ms`);
const pause = (msToWait: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, msToWait));

function notAvailable(): OneShotResult {
  const missing = [built('agent/agent.js') ? undefined : 'src/agent/', built('cli/commands/agent.js') ? undefined : 'src/cli/commands/agent.ts'].filter((m): m is string => m !== undefined);
  return {
    title: TITLE,
    summary: `Checked ${new Date().toISOString()}: not available — ${missing.join(' and ')} not in this build.`,
    figures: [{ label: 'Secret change → re-rendered file', value: 'not available', note: `${missing.join(', ')} missing`, target: { text: `< ${TARGET_MS / 1000} s (issue 5)`, met: undefined } }],
    method: ['Issue 5 ("npm run bench adds"). Measures once `coffer agent` exists.'],
    problems: [],
  };
}

interface AgentProcess {
  stderrTail(): string[];
  exited(): string | undefined;
  stop(): Promise<void>;
}

/** `node <cli> agent -config FILE` in its own process, registered with cleanup. */
function startAgentProcess(ctx: BenchContext, entry: string, configFile: string, home: string): AgentProcess {
  const child = spawn(process.execPath, [entry, 'agent', '-config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home } });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn coffer agent');
  let exit: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = signal !== null ? `killed by ${signal}` : `exited with code ${String(code)}`;
      resolve();
    });
  });
  const tail: string[] = [];
  let buffer = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      tail.push(line.length > 300 ? `${line.slice(0, 300)}…` : line);
      if (tail.length > STDERR_TAIL_LINES) tail.shift();
    }
  });
  const stop = async (): Promise<void> => {
    if (exit !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exitPromise;
    clearTimeout(timer);
  };
  ctx.cleanup.add(`coffer agent (pid ${pid})`, stop);
  return { stderrTail: () => [...tail], exited: () => exit, stop };
}

/** Mounts the database engine with a dual-credential static role; the agent is its only consumer. */
async function setUpStaticRole(ctx: BenchContext, api: LoopbackClient): Promise<void> {
  const cluster = await startBenchPg(ctx, 'agent', { settings: DURABLE_SETTINGS });
  const db = await createScratchDatabase(cluster, 'coffer_bench_');
  const suffix = uniqueSuffix(6);
  const [userA, userB] = [`agent_a_${suffix}`, `agent_b_${suffix}`];
  await db.query(`CREATE ROLE "${userA}" LOGIN PASSWORD 'Initial-a-${suffix}'; CREATE ROLE "${userB}" LOGIN PASSWORD 'Initial-b-${suffix}';`);
  await api.ok('POST', 'sys/mounts/database', { body: { type: 'database' } });
  await api.ok('POST', 'database/config/pg', {
    body: { plugin_name: 'postgresql-database-plugin', connection_url: templateUrl(cluster, db.name), username: cluster.adminUser, password: cluster.adminPassword, allowed_roles: [ROLE] },
  });
  await api.ok('POST', `database/static-roles/${ROLE}`, {
    body: { db_name: 'pg', username: userA, alternate_username: userB, rotation_period: '24h', rotation_policy: { verify_timeout: '10s', on_timeout: 'revoke' } },
  });
  for (let i = 0; i < 200; i += 1) {
    if ((await api.ok('GET', `database/rotations/${ROLE}`))?.data?.current === null) return;
    await pause(50);
  }
}

async function runAgentBench(ctx: BenchContext, config: AgentBenchConfig): Promise<OneShotResult> {
  if (!built('agent/agent.js') || !built('cli/commands/agent.js')) return notAvailable();
  const started = new Date();
  const load = loadavg().map((v) => v.toFixed(2)).join(' / ');
  const disarm = ctx.cleanup.armWatchdog(240 + ((config.writes + config.rotations) * CHANGE_LIMIT_MS) / 1000, 'the agent run');
  const problems: string[] = [];
  const withPg = config.rotations > 0 && pgUnavailable() === undefined;
  try {
    const server = await startCofferServer(ctx, 'coffer-agent');
    ctx.log(`  Coffer pid ${server.child.pid} at ${server.url}`);
    const api = createLoopbackClient(server.url, server.rootToken, 4);
    ctx.cleanup.add('agent HTTP client', () => api.close());
    const fresh = (label: string): string => `${label}-${randomBytes(6).toString('hex')}`;
    await api.ok('POST', KV_PATH, { body: { data: { key: fresh('v0') } } });
    if (withPg) await setUpStaticRole(ctx, api);
    const readable = [KV_PATH, ...(withPg ? [CREDS_PATH] : [])];
    await api.ok('PUT', 'sys/policies/acl/bench-agent', { body: { policy: readable.map((p) => `path "${p}" { capabilities = ["read"] }`).join('\n') } });
    const token: unknown = (await api.ok('POST', 'auth/token/create', { body: { policies: ['bench-agent'], ttl: '1h' } }))?.auth?.client_token;
    if (typeof token !== 'string') throw new Error('auth/token/create returned no token');

    const dir = ctx.cleanup.tempDir('agent');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const kvFile = join(dir, 'out', 'kv.env');
    const dbFile = join(dir, 'out', 'db.env');
    const configFile = join(dir, 'agent.json');
    writeFileSync(configFile, JSON.stringify({
      address: server.url,
      auto_auth: { method: 'token_file', token_file: tokenFile },
      templates: [
        { contents: `KEY={{ secret "${KV_PATH}" "key" }}\n`, destination: kvFile },
        ...(withPg ? [{ contents: `DB_USER={{ secret "${CREDS_PATH}" "username" }}\nDB_PASSWORD={{ secret "${CREDS_PATH}" "password" }}\n`, destination: dbFile }] : []),
      ],
      log_level: 'warn',
    }), { mode: 0o600 });

    const cli = cofferCli();
    const agent = startAgentProcess(ctx, cli.entry, configFile, dir);
    const failed = (what: string): Error => new Error(`${what}${agent.exited() === undefined ? '' : ` (agent ${agent.exited() ?? ''})`}:\n${agent.stderrTail().join('\n')}`);
    const spawnedAt = performance.now();
    for (const file of withPg ? [kvFile, dbFile] : [kvFile]) {
      if ((await pollFile(file, () => true, START_LIMIT_MS)) === undefined) throw failed(`the agent rendered no ${file.endsWith('db.env') ? 'static-role' : 'KV'} file within ${START_LIMIT_MS / 1000} s`);
    }
    const firstRenderMs = performance.now() - spawnedAt;

    const kvLatencies: number[] = [];
    const kvAfterAnswer: number[] = [];
    // The first write is not measured: it shows the agent's watch is up before timing starts.
    for (let i = 0; i <= config.writes; i += 1) {
      if (ctx.cleanup.aborted() !== undefined) throw new Error('stopped');
      const value = fresh(`v${i + 1}`);
      const t0 = performance.now();
      let answeredAt = 0;
      const write = api.call('POST', KV_PATH, { body: { data: { key: value } } }).then((r) => {
        answeredAt = performance.now();
        return r;
      });
      const seenAt = await pollFile(kvFile, (content) => content === `KEY=${value}\n`, CHANGE_LIMIT_MS);
      const written = await write;
      if (written.status !== 200) throw new Error(`the KV v2 write answered ${written.status}`);
      if (seenAt === undefined) {
        if (i === 0) throw failed(`the agent did not re-render the KV file within ${CHANGE_LIMIT_MS / 1000} s of a write`);
        problems.push(`KV write ${i}: the file did not change within ${CHANGE_LIMIT_MS / 1000} s`);
      } else if (i > 0) {
        kvLatencies.push(seenAt - t0);
        kvAfterAnswer.push(seenAt - answeredAt);
      }
      await pause(200);
    }

    const rotationLatencies: number[] = [];
    const rotateAnswers: number[] = [];
    for (let i = 1; withPg && i <= config.rotations; i += 1) {
      if (ctx.cleanup.aborted() !== undefined) throw new Error('stopped');
      const before = readIfPresent(dbFile);
      const t0 = performance.now();
      const rotation = api.call('POST', `database/rotate-role/${ROLE}`, { timeoutMs: 60_000 });
      const seenAt = await pollFile(dbFile, (content) => content !== before, CHANGE_LIMIT_MS);
      const answer = await rotation;
      rotateAnswers.push(performance.now() - t0);
      const data = answer.body?.data;
      if (answer.status !== 200 || data?.status !== 'completed') problems.push(`rotation ${i}: ${answer.status} ${String(data?.status)}/${String(data?.verify_outcome)}`);
      if (seenAt === undefined) {
        problems.push(`rotation ${i}: the file did not change within ${CHANGE_LIMIT_MS / 1000} s`);
      } else {
        rotationLatencies.push(seenAt - t0);
        const current = (await api.ok('GET', CREDS_PATH))?.data as { username?: string; password?: string };
        // Compared, never printed.
        if (readIfPresent(dbFile) !== `DB_USER=${current.username ?? ''}\nDB_PASSWORD=${current.password ?? ''}\n`) problems.push(`rotation ${i}: the rendered file does not hold the current credential`);
      }
      await pause(200);
    }
    if (agent.exited() !== undefined) problems.push(`the agent ${agent.exited() ?? ''} during the run`);
    await agent.stop();
    await server.child.stop();

    const kv = distribution(kvLatencies);
    const rot = distribution(rotationLatencies);
    const line = (d: ReturnType<typeof distribution>): string => (d === undefined ? 'n/a' : `p50 ${ms(d.p50)}, p99 ${ms(d.p99)}, max ${ms(d.max)}`);
    const figures: Figure[] = [
      { label: 'Agent start → both files rendered', value: ms(firstRenderMs), note: 'spawn of `coffer agent` → files present (includes Node start-up and token lookup)' },
      {
        label: 'KV v2 write → re-rendered file',
        value: line(kv),
        note: `${kvLatencies.length} writes; write request start → file read back with the new value (median after the write's answer: ${ms(distribution(kvAfterAnswer)?.p50)})`,
        target: { text: `every change < ${TARGET_MS / 1000} s (max)`, met: kv === undefined ? undefined : kv.max < TARGET_MS },
      },
      withPg
        ? {
            label: 'Static-role rotation → re-rendered file',
            value: line(rot),
            note: `${rotationLatencies.length} rotations; rotate-role request start → file changed (rotate-role itself answered after a median ${ms(distribution(rotateAnswers)?.p50)}: it waits for the agent's check-in)`,
            target: { text: `every rotation < ${TARGET_MS / 1000} s (max)`, met: rot === undefined ? undefined : rot.max < TARGET_MS },
          }
        : { label: 'Static-role rotation → re-rendered file', value: 'not measured', note: config.rotations === 0 ? 'BENCH_AGENT_ROTATIONS=0' : `no PostgreSQL: ${pgUnavailable() ?? ''}` },
    ];
    return {
      title: TITLE,
      summary: `Measured ${started.toISOString()}; load average at start ${load} on this shared 2-core machine.`,
      figures,
      method: [
        'Issue 5 ("npm run bench adds"). Runs once per `npm run bench`, after the load cells (`BENCH_SKIP_AGENT=1` skips it; `BENCH_AGENT_WRITES`, `BENCH_AGENT_ROTATIONS` set the counts).',
        `Coffer: its own dev-mode child (SQLite, no audit device) with \`${KV_PATH}\`${withPg ? ` and, on a throwaway scram-sha-256 PostgreSQL cluster, a dual-credential static role \`${ROLE}\` (\`rotation_policy: { verify_timeout: 10s, on_timeout: revoke }\`)` : ''}.`,
        `Agent: ${describeCli(cli)} \`agent -config agent.json\` as its own process; \`auto_auth\` \`token_file\` with a token whose policy reads only ${readable.map((p) => `\`${p}\``).join(' and ')}; templates render \`KEY={{ secret "${KV_PATH}" "key" }}\`${withPg ? ` and the static role's username and password` : ''} into files in a temp dir (atomic rename, mode 0600). The agent learns of changes from its watch stream and checks in as the static role's consumer.`,
        `The harness starts each change (a \`POST /v1/${KV_PATH}\` with a fresh value, or \`POST /v1/database/rotate-role/${ROLE}\`) and meanwhile reads the file every millisecond until it holds the new content; latency = request start → that read. One unmeasured KV write first proves the watch is up. Changes are 200 ms apart.`,
      ],
      problems,
    };
  } finally {
    disarm();
  }
}

export const agentRenderScenario: OneShotScenario = {
  id: 'agent-render',
  title: TITLE,
  plan(env) {
    if (isOn(env, 'BENCH_SKIP_AGENT')) return { skipped: 'BENCH_SKIP_AGENT=1' };
    const quick = isQuick(env);
    const config: AgentBenchConfig = {
      writes: numberSetting(env, 'BENCH_AGENT_WRITES', quick ? 5 : 20, { min: 1, max: 500, integer: true }),
      rotations: numberSetting(env, 'BENCH_AGENT_ROTATIONS', quick ? 3 : 10, { min: 0, max: 200, integer: true }),
    };
    return { run: (ctx) => runAgentBench(ctx, config) };
  },
};
