/**
 * One-shot scenario "watch-fanout" (issue 4, "npm run bench adds"; the issue's "delivers a KV v2
 * write to a subscriber within 100 ms"): BENCH_WATCH_SUBSCRIBERS (default 1,000) server-sent-
 * event subscribers on `GET /v1/sys/watch?prefix=secret/data/fanout`, then one KV v2 write; the
 * time until every subscriber has the event, per write, over BENCH_WATCH_WRITES writes. Then a
 * single subscriber and BENCH_WATCH_SINGLE writes for the plain delivery latency.
 *
 * BENCH_SKIP_WATCH=1 skips it; BENCH_QUICK=1 shortens it. Must register the server with cleanup,
 * close every subscriber, and never print a token.
 */
import { request } from 'node:http';
import { loadavg } from 'node:os';
import { startCofferServer } from '../coffer-server.js';
import { isOn, isQuick, numberSetting } from '../env-settings.js';
import { createLoopbackClient } from '../loopback-http.js';
import type { Figure, OneShotResult, OneShotScenario } from '../one-shot.js';
import { processCpuSeconds } from '../proc-cpu.js';
import { distribution, percentile } from '../sample-stats.js';
import type { BenchContext } from '../scenario.js';
import { openWatch, type SseSubscriber } from '../sse-subscriber.js';
import { formatNumber, formatSpread, spread } from '../stats.js';

const TITLE = 'Watch fan-out';
const SECRET_PATH = 'secret/data/fanout';
/**
 * Subscribers per policy token: one token may hold at most 64 watches at once (the server's
 * default max_watches_per_token), as many application instances would each have their own.
 */
const SUBSCRIBERS_PER_TOKEN = 50;
const tokenCount = (subscribers: number): number => Math.max(4, Math.ceil(subscribers / SUBSCRIBERS_PER_TOKEN));
const OPEN_PARALLEL = 50;
const DELIVERY_LIMIT_MS = 10_000;
const SINGLE_TARGET_MS = 100;

interface WatchConfig {
  subscribers: number;
  fanoutWrites: number;
  singleWrites: number;
}

interface TimedWrite {
  /** performance.now() when the request was handed to the socket in full ("the end of the write request"). */
  sentAt: number;
  /** performance.now() when the response had been read in full. */
  answeredAt: number;
  status: number;
}

const ms = (v: number | undefined): string => (v === undefined ? 'n/a' : `${formatNumber(v, 1)} ms`);
const pause = (msToWait: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, msToWait));

function readConfig(env: NodeJS.ProcessEnv): WatchConfig {
  const quick = isQuick(env);
  return {
    subscribers: numberSetting(env, 'BENCH_WATCH_SUBSCRIBERS', 1_000, { min: 1, max: 10_000, integer: true }),
    fanoutWrites: numberSetting(env, 'BENCH_WATCH_WRITES', quick ? 2 : 5, { min: 1, max: 100, integer: true }),
    singleWrites: numberSetting(env, 'BENCH_WATCH_SINGLE', quick ? 5 : 30, { min: 1, max: 1_000, integer: true }),
  };
}

/** One KV v2 write on a fresh connection, timed at the moment the request was fully sent. */
function timedWrite(baseUrl: string, token: string, value: string): Promise<TimedWrite> {
  const body = JSON.stringify({ data: { value } });
  const url = new URL(`/v1/${SECRET_PATH}`, baseUrl);
  return new Promise((resolve, reject) => {
    let sentAt = 0;
    const req = request(url, { method: 'POST', agent: false, headers: { 'x-vault-token': token, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ sentAt, answeredAt: performance.now(), status: res.statusCode ?? 0 }));
      res.on('error', reject);
    });
    req.on('finish', () => {
      sentAt = performance.now();
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits until `done()` or the limit; polls every millisecond so arrivals are not held up. */
async function until(done: () => boolean, limitMs: number): Promise<void> {
  const end = performance.now() + limitMs;
  while (!done() && performance.now() < end) await pause(1);
}

async function runWatch(ctx: BenchContext, config: WatchConfig): Promise<OneShotResult> {
  const started = new Date();
  const load = loadavg().map((v) => v.toFixed(2)).join(' / ');
  const disarm = ctx.cleanup.armWatchdog(180 + (config.fanoutWrites + config.singleWrites) * (DELIVERY_LIMIT_MS / 1000), 'the watch fan-out run');
  const problems: string[] = [];
  const subscribers: SseSubscriber[] = [];
  const closeAll = (): void => {
    for (const s of subscribers.splice(0)) s.close();
  };
  ctx.cleanup.add('watch subscribers', closeAll);
  try {
    const server = await startCofferServer(ctx, 'coffer-watch');
    ctx.log(`  Coffer pid ${server.child.pid} at ${server.url}`);
    const api = createLoopbackClient(server.url, server.rootToken, 4);
    ctx.cleanup.add('watch HTTP client', () => api.close());
    await api.ok('PUT', 'sys/policies/acl/fanout-reader', { body: { policy: `path "${SECRET_PATH}" { capabilities = ["read"] }` } });
    const tokens: string[] = [];
    for (let i = 0; i < tokenCount(config.subscribers); i += 1) {
      const created = await api.ok('POST', 'auth/token/create', { body: { policies: ['fanout-reader'], ttl: '1h' } });
      const token: unknown = created?.auth?.client_token;
      if (typeof token !== 'string') throw new Error('auth/token/create returned no token');
      tokens.push(token);
    }
    let version = 0;

    // Phase 1: the fan-out. arrivals[i] is subscriber i's arrival time of the awaited version.
    const arrivals = new Float64Array(config.subscribers).fill(Number.NaN);
    let awaited = 0;
    let arrived = 0;
    const openStarted = performance.now();
    for (let first = 0; first < config.subscribers; first += OPEN_PARALLEL) {
      const batch: Promise<void>[] = [];
      for (let i = first; i < Math.min(config.subscribers, first + OPEN_PARALLEL); i += 1) {
        const subscriber = openWatch(server.url, tokens[i % tokens.length] as string, SECRET_PATH, (event, at) => {
          if (event.path === SECRET_PATH && event.version === awaited && Number.isNaN(arrivals[i] as number)) {
            arrivals[i] = at;
            arrived += 1;
          }
        });
        subscribers.push(subscriber);
        batch.push(subscriber.opened);
      }
      await Promise.all(batch);
    }
    const openSeconds = (performance.now() - openStarted) / 1000;
    ctx.log(`  ${formatNumber(config.subscribers)} subscribers open in ${formatNumber(openSeconds, 1)} s`);
    await pause(500);

    const fanouts: { p50: number; p99: number; max: number; missing: number; writeMs: number; cpuMs: number | undefined }[] = [];
    for (let w = 1; w <= config.fanoutWrites; w += 1) {
      if (ctx.cleanup.aborted() !== undefined) throw new Error('stopped');
      arrivals.fill(Number.NaN);
      arrived = 0;
      awaited = version + 1;
      const cpuBefore = processCpuSeconds(server.child.pid);
      const write = await timedWrite(server.url, server.rootToken, `fan-out ${w}`);
      if (write.status !== 200) throw new Error(`the KV v2 write answered ${write.status}`);
      version += 1;
      await until(() => arrived >= config.subscribers, DELIVERY_LIMIT_MS);
      const cpuAfter = processCpuSeconds(server.child.pid);
      const latencies = Array.from(arrivals).filter((a) => !Number.isNaN(a)).map((a) => a - write.sentAt);
      const d = distribution(latencies);
      const missing = config.subscribers - latencies.length;
      if (missing > 0) problems.push(`write ${w}: ${missing} of ${config.subscribers} subscribers had no event after ${DELIVERY_LIMIT_MS / 1000} s`);
      if (d !== undefined) fanouts.push({ ...d, missing, writeMs: write.answeredAt - write.sentAt, cpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) * 1000 });
      ctx.log(`  fan-out write ${w}: all ${formatNumber(latencies.length)} in ${ms(d?.max)} (p50 ${ms(d?.p50)}, p99 ${ms(d?.p99)})${missing > 0 ? `, ${missing} missing` : ''}`);
      await pause(300);
    }
    closeAll();
    await pause(500);

    // Phase 2: one subscriber, many writes.
    let singleArrival = Number.NaN;
    const single = openWatch(server.url, tokens[0] as string, SECRET_PATH, (event, at) => {
      if (event.path === SECRET_PATH && event.version === awaited && Number.isNaN(singleArrival)) singleArrival = at;
    });
    subscribers.push(single);
    await single.opened;
    const fromSent: number[] = [];
    const fromAnswer: number[] = [];
    for (let w = 1; w <= config.singleWrites; w += 1) {
      if (ctx.cleanup.aborted() !== undefined) throw new Error('stopped');
      singleArrival = Number.NaN;
      awaited = version + 1;
      const write = await timedWrite(server.url, server.rootToken, `single ${w}`);
      if (write.status !== 200) throw new Error(`the KV v2 write answered ${write.status}`);
      version += 1;
      await until(() => !Number.isNaN(singleArrival), DELIVERY_LIMIT_MS);
      if (Number.isNaN(singleArrival)) {
        problems.push(`single-subscriber write ${w}: no event after ${DELIVERY_LIMIT_MS / 1000} s`);
      } else {
        fromSent.push(singleArrival - write.sentAt);
        fromAnswer.push(singleArrival - write.answeredAt);
      }
      await pause(50);
    }
    closeAll();
    await server.child.stop();

    const over = (pick: (f: (typeof fanouts)[number]) => number | undefined) => spread(fanouts.map(pick));
    const singleDist = distribution(fromSent);
    const n = formatNumber(config.subscribers);
    const figures: Figure[] = [
      { label: `Open ${n} SSE subscribers`, value: `${formatNumber(openSeconds, 1)} s`, note: `${OPEN_PARALLEL} connecting at a time, ${tokenCount(config.subscribers)} policy tokens` },
      {
        label: `All ${n} subscribers have the event`,
        value: formatSpread(over((f) => f.max), ms),
        note: `write request sent → last arrival; median (min–max) over ${fanouts.length} write(s)`,
      },
      { label: 'Per-subscriber delivery, p50 / p99', value: `${formatSpread(over((f) => f.p50), ms)} / ${formatSpread(over((f) => f.p99), ms)}`, note: 'over the subscribers of each write; median (min–max) over writes' },
      { label: 'The fanned-out write itself', value: formatSpread(over((f) => f.writeMs), ms), note: 'request sent → response read; the server publishes the event on commit' },
      { label: 'Coffer CPU per fan-out', value: formatSpread(over((f) => f.cpuMs), ms), note: `server child utime+stime from the write to the last arrival (one ACL check per subscriber)` },
      {
        label: 'Single subscriber: write → event',
        value: singleDist === undefined ? 'n/a' : `p50 ${ms(singleDist.p50)}, p99 ${ms(singleDist.p99)}, max ${ms(singleDist.max)}`,
        note: `${fromSent.length} writes; from the moment the write request was fully sent`,
        target: { text: `every delivery < ${SINGLE_TARGET_MS} ms (max)`, met: singleDist === undefined ? undefined : singleDist.max < SINGLE_TARGET_MS },
      },
      {
        label: 'Single subscriber: write response → event',
        value: `median ${ms(percentile(fromAnswer, 50))}`,
        note: 'negative = the event arrived before the write\'s response',
      },
    ];
    return {
      title: TITLE,
      summary: `Measured ${started.toISOString()} with ${n} subscribers; load average at start ${load} on this shared 2-core machine.`,
      figures,
      method: [
        'Issue 4 ("npm run bench adds"). Runs once per `npm run bench`, after the load cells (`BENCH_SKIP_WATCH=1` skips it; `BENCH_WATCH_SUBSCRIBERS`, `BENCH_WATCH_WRITES`, `BENCH_WATCH_SINGLE` tune it).',
        `Coffer: its own dev-mode child (SQLite, no audit device, KV v2 at \`secret/\`). Policy \`path "${SECRET_PATH}" { capabilities = ["read"] }\`, ${tokenCount(config.subscribers)} tokens with it (at most ${SUBSCRIBERS_PER_TOKEN} subscribers each); subscriber i uses token i mod ${tokenCount(config.subscribers)}, so every event passes an ACL check per subscriber.`,
        `${n} subscribers in the harness process, each \`GET /v1/sys/watch?prefix=${SECRET_PATH}\` on its own socket (node:http, streaming parser); a subscriber counts as open once the server's first line arrived (it subscribes before writing it).`,
        `Each write is \`POST /v1/${SECRET_PATH}\` with the root token on a fresh connection; time zero is the moment the request was fully handed to the socket ("the end of the write request"); an arrival is the time the harness parsed that version's event on that socket. All arrivals are read by the one harness event loop, so the spread includes the harness reading ${n} sockets. ${config.fanoutWrites} fan-out writes 300 ms apart; then all subscribers close and ${config.singleWrites} writes go to a single subscriber, 50 ms apart.`,
      ],
      problems,
    };
  } finally {
    closeAll();
    disarm();
  }
}

export const watchFanoutScenario: OneShotScenario = {
  id: 'watch-fanout',
  title: TITLE,
  plan(env) {
    if (isOn(env, 'BENCH_SKIP_WATCH')) return { skipped: 'BENCH_SKIP_WATCH=1' };
    const config = readConfig(env);
    return { run: (ctx) => runWatch(ctx, config) };
  },
};
