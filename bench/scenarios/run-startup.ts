/**
 * One-shot scenario "run-startup" (issue 5, "npm run bench adds"): the wall time of
 * `coffer run --env X=secret/data/app#key -- true` against a dev server holding that KV secret,
 * next to `node -e 0`, interleaved, median over BENCH_RUN_SAMPLES runs each (target: under
 * 300 ms on this machine).
 *
 * Runs `bin/coffer.js` (or its twin for a private build, see coffer-cli.ts). Reports "not
 * available" when `coffer run` has not been built. BENCH_SKIP_RUN=1 skips it.
 *
 * Must register the server with cleanup; the token reaches the CLI only through its environment
 * (as a user's shell would pass it) and is never printed.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { built, cofferCli, describeCli } from '../coffer-cli.js';
import { startCofferServer } from '../coffer-server.js';
import { isOn, isQuick, numberSetting } from '../env-settings.js';
import { createLoopbackClient } from '../loopback-http.js';
import type { Figure, OneShotResult, OneShotScenario } from '../one-shot.js';
import type { BenchContext } from '../scenario.js';
import { formatNumber, formatSpread, pairedRatios, spread } from '../stats.js';

const TITLE = 'coffer run start-up';
const TARGET_MS = 300;
const SECRET_VALUE = 'bench-run-value-7Qe2';
const RUN_LIMIT_MS = 30_000;

interface RunConfig {
  samples: number;
}

interface Timed {
  ms: number;
  code: number | null;
  stderr: string;
}

/** Spawns `node ARGS` and times spawn → exit; stdout is discarded, stderr kept for errors. */
function timedNode(args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 2_000) stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ ms: performance.now() - t0, code, stderr: stderr.trim() });
    });
  });
}

const ms = (v: number): string => `${formatNumber(v)} ms`;

async function runStartup(ctx: BenchContext, config: RunConfig): Promise<OneShotResult> {
  const started = new Date();
  const load = loadavg().map((v) => v.toFixed(2)).join(' / ');
  if (!built('cli/commands/run.js')) {
    return {
      title: TITLE,
      summary: `Checked ${started.toISOString()}: not available — \`coffer run\` (src/cli/commands/run.ts) is not in this build.`,
      figures: [{ label: '`coffer run -- true` wall time', value: 'not available', note: 'src/cli/commands/run.ts not built', target: { text: `< ${TARGET_MS} ms`, met: undefined } }],
      method: ['Issue 5 ("npm run bench adds"). Runs once `src/cli/commands/run.ts` exists.'],
      problems: [],
    };
  }
  const disarm = ctx.cleanup.armWatchdog(120 + (config.samples * 2 * RUN_LIMIT_MS) / 1000, 'the coffer run start-up run');
  const problems: string[] = [];
  try {
    const server = await startCofferServer(ctx, 'coffer-run');
    ctx.log(`  Coffer pid ${server.child.pid} at ${server.url}`);
    const api = createLoopbackClient(server.url, server.rootToken, 2);
    ctx.cleanup.add('run-startup HTTP client', () => api.close());
    await api.ok('POST', 'secret/data/app', { body: { data: { key: SECRET_VALUE } } });
    api.close();

    const cli = cofferCli();
    const entry = cli.entry;
    const home = ctx.cleanup.tempDir('run-home');
    // Only what the CLI needs: no ~/.coffer-token (HOME is empty), the address and token from env.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, COFFER_ADDR: server.url, COFFER_TOKEN: server.rootToken };
    const runArgs = [entry, 'run', '--env', 'X=secret/data/app#key', '--', 'true'];
    const nodeArgs = ['-e', '0'];

    // Unmeasured: the secret really reaches the child (and a warm page cache for both commands).
    const check = await timedNode([entry, 'run', '--env', 'X=secret/data/app#key', '--', process.execPath, '-e', `process.exit(process.env.X === ${JSON.stringify(SECRET_VALUE)} ? 0 : 3)`], env);
    if (check.code !== 0) problems.push(`coffer run did not hand the secret to its child (exit ${String(check.code)}${check.stderr === '' ? '' : `: ${check.stderr.slice(0, 300)}`})`);
    await timedNode(nodeArgs, env);

    const nodeMs: number[] = [];
    const runMs: number[] = [];
    for (let i = 0; i < config.samples; i += 1) {
      if (ctx.cleanup.aborted() !== undefined) throw new Error('stopped');
      // Alternate which goes first, so neither always runs right after the other.
      const pair = i % 2 === 0 ? (['node', 'run'] as const) : (['run', 'node'] as const);
      for (const which of pair) {
        const timed = await timedNode(which === 'node' ? nodeArgs : runArgs, env);
        if (timed.code !== 0) {
          problems.push(`${which === 'node' ? 'node -e 0' : 'coffer run'} exited ${String(timed.code)}${timed.stderr === '' ? '' : `: ${timed.stderr.slice(0, 300)}`}`);
          continue;
        }
        (which === 'node' ? nodeMs : runMs).push(timed.ms);
      }
    }
    await server.child.stop();

    const run = spread(runMs);
    const node = spread(nodeMs);
    const extra = spread(runMs.map((v, i) => (nodeMs[i] === undefined ? undefined : v - (nodeMs[i] as number))));
    const ratio = spread(pairedRatios(runMs, nodeMs));
    const figures: Figure[] = [
      {
        label: '`coffer run --env X=secret/data/app#key -- true`',
        value: formatSpread(run, ms),
        note: `wall time spawn → exit, median (min–max) of ${runMs.length}`,
        target: { text: `< ${TARGET_MS} ms`, met: run === undefined ? undefined : run.median < TARGET_MS },
      },
      { label: '`node -e 0`', value: formatSpread(node, ms), note: `same, ${nodeMs.length} runs interleaved` },
      { label: 'coffer run above bare node', value: `${formatSpread(extra, ms)} (${formatSpread(ratio, (v) => `${formatNumber(v, 1)}×`)})`, note: 'paired per sample' },
    ];
    return {
      title: TITLE,
      summary: `Measured ${started.toISOString()}; load average at start ${load} on this shared 2-core machine.`,
      figures,
      method: [
        'Issue 5 ("npm run bench adds"). Runs once per `npm run bench`, after the load cells (`BENCH_SKIP_RUN=1` skips it; `BENCH_RUN_SAMPLES` sets the count).',
        `Coffer: its own dev-mode child (SQLite) holding \`secret/data/app\` = {key: …}. The CLI runs as ${describeCli(cli)} \`run --env X=secret/data/app#key -- true\` with only PATH, an empty HOME, COFFER_ADDR and COFFER_TOKEN (root) in its environment: it reads the secret over HTTP, spawns \`true\`, waits for it and exits.`,
        `Wall time is measured by the harness from \`spawn()\` to the child's \`close\` (stdout discarded, stderr piped), ${config.samples} pairs, the order within a pair alternating; one unmeasured run of each first, plus a check that the child really sees X.`,
      ],
      problems,
    };
  } finally {
    disarm();
  }
}

export const runStartupScenario: OneShotScenario = {
  id: 'run-startup',
  title: TITLE,
  plan(env) {
    if (isOn(env, 'BENCH_SKIP_RUN')) return { skipped: 'BENCH_SKIP_RUN=1' };
    const config = { samples: numberSetting(env, 'BENCH_RUN_SAMPLES', isQuick(env) ? 5 : 20, { min: 1, max: 200, integer: true }) };
    return { run: (ctx) => runStartup(ctx, config) };
  },
};
