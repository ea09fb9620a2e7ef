/**
 * The load generator: one autocannon run against one 127.0.0.1 server, plus `createLoadCell`,
 * which turns a request recipe into a benchmark cell (server CPU before/after, latency
 * histogram, status counts, samples of non-2xx bodies).
 *
 * Must never target anything but a loopback URL, and must never run unbounded: every run has
 * a fixed duration and is stopped when the harness aborts.
 */
import { createRequire } from 'node:module';
import { createLatencyHistogram } from './latency.js';
import { ownCpuSeconds, processTreeCpuSeconds } from './proc-cpu.js';
import type { Cell, CellSample, Target } from './scenario.js';

/** The part of a request that changes from one request to the next. */
export interface RequestVariant {
  path: string;
  body?: string;
}

export interface LoadSpecBase {
  url: string;
  method: 'GET' | 'POST' | 'PUT';
  headers: Record<string, string>;
  connections: number;
  durationS: number;
}

/**
 * How requests vary. `fixed`: every connection cycles over this list, each starting at its own
 * offset; the requests are encoded once, so the load generator stays cheap (~17 µs per request
 * here, against ~27 µs when each request is built on the fly). `next`: built per request, for
 * bodies that must change every time; use it only where the server, not the generator, limits.
 */
export type RequestSource = { fixed: readonly RequestVariant[] } | { next: () => RequestVariant };

export type LoadSpec = LoadSpecBase & RequestSource;

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}

interface AutocannonClient {
  setRequests(requests: AutocannonRequestEntry[]): void;
}

interface AutocannonRequestEntry extends AutocannonRequest {
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
  onResponse?: (status: number, body: string) => void;
}

interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  stop(): void;
}

interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  timeout: number;
  method: string;
  headers: Record<string, string>;
  requests?: AutocannonRequestEntry[];
  setupClient?: (client: AutocannonClient) => void;
}

type Autocannon = (options: AutocannonOptions, done: (error: Error | null, result: AutocannonResult) => void) => AutocannonInstance;

// autocannon is CommonJS without bundled types; these local types cover the part we use.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const ERROR_SAMPLES = 5;
const ERROR_BODY_CHARS = 300;
const REQUEST_TIMEOUT_S = 10;

let current: AutocannonInstance | undefined;

/** Stops the run in progress, if any (used on SIGINT and by the watchdog). */
export function stopCurrentLoad(): void {
  current?.stop();
}

export function assertLoopback(url: string): void {
  const { hostname } = new URL(url);
  if (hostname !== '127.0.0.1' && hostname !== 'localhost' && hostname !== '[::1]') {
    throw new Error(`refusing to send load to ${hostname}: benchmarks only target 127.0.0.1`);
  }
}

export interface LoadResult {
  requests: number;
  durationS: number;
  p50Ms: number;
  p99Ms: number;
  statusCounts: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
  errorSamples: { status: number; body: string }[];
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  assertLoopback(spec.url);
  const histogram = createLatencyHistogram();
  const errorSamples: { status: number; body: string }[] = [];
  const onResponse = (status: number, body: string): void => {
    if ((status < 200 || status > 299) && errorSamples.length < ERROR_SAMPLES) {
      errorSamples.push({ status, body: body.length > ERROR_BODY_CHARS ? `${body.slice(0, ERROR_BODY_CHARS)}…` : body });
    }
  };
  const variation: Pick<AutocannonOptions, 'requests' | 'setupClient'> = {};
  if ('fixed' in spec) {
    const list = spec.fixed;
    if (list.length === 0) throw new Error('a fixed request list must not be empty');
    const step = Math.max(1, Math.floor(list.length / spec.connections));
    let clients = 0;
    variation.requests = [{ ...list[0], onResponse }];
    variation.setupClient = (client) => {
      const offset = (clients * step) % list.length;
      clients += 1;
      client.setRequests(list.map((_, i) => ({ ...list[(i + offset) % list.length], onResponse })));
    };
  } else {
    const next = spec.next;
    variation.requests = [
      {
        setupRequest(request) {
          const variant = next();
          request.path = variant.path;
          if (variant.body !== undefined) request.body = variant.body;
          return request;
        },
        onResponse,
      },
    ];
  }
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationS,
        timeout: REQUEST_TIMEOUT_S,
        method: spec.method,
        headers: spec.headers,
        ...variation,
      },
      (error, result) => {
        current = undefined;
        if (error) {
          reject(error);
          return;
        }
        const statusCounts: Record<string, number> = {};
        let non2xx = 0;
        for (const [code, { count }] of Object.entries(result.statusCodeStats)) {
          statusCounts[code] = count;
          if (!code.startsWith('2')) non2xx += count;
        }
        resolve({
          requests: histogram.count(),
          durationS: result.duration,
          p50Ms: histogram.percentile(50),
          p99Ms: histogram.percentile(99),
          statusCounts,
          non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          errorSamples,
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, ms) => histogram.record(ms));
    current = instance;
  });
}

export interface LoadCellSpec {
  id: string;
  label: string;
  describe: string;
  targets?: Target[];
  connections: number;
  /** The server child whose CPU is charged to this cell; its liveness is checked each run. */
  server: { pid: number; name: string; exited(): string | undefined; stderrTail(): string[] };
  load: Omit<LoadSpecBase, 'connections' | 'durationS'> & RequestSource;
}

export function createLoadCell(spec: LoadCellSpec): Cell {
  const assertAlive = (): void => {
    const exited = spec.server.exited();
    if (exited !== undefined) {
      throw new Error(`${spec.server.name} (pid ${spec.server.pid}) ${exited} during "${spec.label}"; last stderr lines:\n${spec.server.stderrTail().join('\n')}`);
    }
  };
  return {
    id: spec.id,
    label: spec.label,
    describe: spec.describe,
    targets: spec.targets ?? [],
    assertAlive,
    async run(round, durationS): Promise<CellSample> {
      assertAlive();
      const serverBefore = processTreeCpuSeconds(spec.server.pid);
      const loadgenBefore = ownCpuSeconds();
      const result = await runLoad({ ...spec.load, connections: spec.connections, durationS });
      const loadgenCpuS = ownCpuSeconds() - loadgenBefore;
      const serverAfter = processTreeCpuSeconds(spec.server.pid);
      assertAlive();
      const elapsed = result.durationS > 0 ? result.durationS : durationS;
      return {
        round,
        requests: result.requests,
        durationS: elapsed,
        reqPerS: result.requests / elapsed,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        statusCounts: result.statusCounts,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        errorSamples: result.errorSamples,
        serverCpuS: serverBefore === undefined || serverAfter === undefined ? undefined : serverAfter - serverBefore,
        loadgenCpuS,
      };
    },
  };
}
