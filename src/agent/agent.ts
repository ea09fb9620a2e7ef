/**
 * The agent sidecar: logs in with the platform's identity (auto-auth), writes its token to a
 * sink file, renders templates into files, keeps them current, tells the application when they
 * change, and checks in as a consumer with the versions it rendered.
 *
 * The cycle: one worker renders the templates marked dirty, one after another. A template is
 * marked dirty by a change event for a path it reads (the SDK's `watch`, SSE with reconnects),
 * by a lease handle that got a fresh credential, by a static role's ttl passing, by the render
 * interval (in case an event was missed), by a new token, or by its own failed render (retried
 * with capped exponential backoff). A render reads what the cache lacks, renders, and only if
 * the content differs from the file on disk (a file deleted or edited since is written again)
 * writes it atomically, checks in, and then reloads the application (command or signal). A
 * failed render leaves the last good file in place.
 *
 * Owns: the worker, the token's life in the agent (login, re-login, sink), the timers, and the
 * order "file written, then check in, then reload".
 * Must never: log or throw a secret or a token; write a file partly; reload the application when
 * the file did not change; run after stop().
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createLogger, type Logger } from '../core/logger.js';
import { Coffer, type CofferOptions } from '../sdk/coffer.js';
import { CofferPermissionDeniedError, CofferRateLimitedError } from '../sdk/errors.js';
import { cappedBackoff } from '../sdk/scheduler.js';
import type { FetchLike } from '../sdk/transport.js';
import { createAutoAuth } from './auto-auth.js';
import { writeFileAtomicMakingDirectory } from './atomic-file.js';
import { readRegularFile } from './regular-file.js';
import { createChangeWatch } from './change-watch.js';
import { createCheckIns } from './check-ins.js';
import { parseAgentConfig, type AgentConfig, type ParseOptions, type TemplateConfig } from './config.js';
import { createAgentLeases } from './leases.js';
import { createReloader, type ReloadOutcome, type Reloader } from './reload.js';
import { createSecretSource, type SourceValue } from './secret-source.js';
import { renderTemplate } from './template.js';
import { createTokenSink } from './token-sink.js';

export interface AgentOptions extends ParseOptions {
  /** Default: JSON lines on stderr at the configuration's log_level. */
  logger?: Logger;
  /** For `{{ env }}` and the reload command's environment (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** An HTTP implementation for the SDK (default: the global fetch). */
  fetch?: FetchLike;
  /** After every render attempt (metrics, tests). */
  onRender?: (event: RenderEvent) => void;
}

export interface RenderEvent {
  destination: string;
  /** The file was rewritten: its content differed, or it was missing or edited on disk. */
  changed: boolean;
  /** Why the render failed (no secret in it); the last good file stays. */
  error?: string;
  /** Milliseconds from the start of the render to the file being in place. */
  durationMs: number;
}

export interface Agent {
  /** Settles once every template has been written (or found up to date) once; rejects if stopped first. */
  readonly ready: Promise<void>;
  /** Secret path → consumer id, for the paths the agent checks in for. */
  consumerIds(): ReadonlyMap<string, string>;
  /** Reads every non-leased secret again and renders what changed (SIGHUP). */
  rerender(): void;
  /** Stops everything; with revoke_on_exit, revokes the leases and the token first. */
  stop(): Promise<void>;
}

interface TemplateState {
  readonly index: number;
  readonly config: TemplateConfig;
  /** SHA-256 of the file as the agent last wrote it (or found it at start). */
  hash: Buffer | undefined;
  /** Path → the version the file on disk was rendered from. */
  readonly versions: Map<string, number>;
  /** Paths whose versions this template reports as a consumer. */
  readonly consumerPaths: Set<string>;
  rendered: boolean;
  failures: number;
  retry: NodeJS.Timeout | undefined;
  readonly reloader: Reloader;
}

/** How often the agent looks whether the SDK replaced its token (a re-login at the max TTL). */
const TOKEN_CHECK_MS = 1000;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();
const sameHash = (a: Buffer | undefined, b: Buffer): boolean => a !== undefined && timingSafeEqual(a, b);

/** The hash of a file's content; undefined when it cannot be read (missing, replaced by a directory...). */
async function hashOfFile(path: string): Promise<Buffer | undefined> {
  try {
    const content = await readRegularFile(path);
    return content === undefined ? undefined : sha256(content);
  } catch {
    return undefined;
  }
}

/** The SDK's HTTP: the injected fetch (tests), or the configured TLS trust, or the default. */
function agentFetch(cfg: AgentConfig, options: AgentOptions): Pick<CofferOptions, 'fetch' | 'tls'> {
  if (options.fetch !== undefined) return { fetch: options.fetch };
  const { caPem, skipVerify } = cfg.tls;
  if (caPem === undefined && !skipVerify) return {};
  return { tls: { ...(caPem === undefined ? {} : { caCert: caPem }), skipVerify } };
}

function describe(err: unknown): string {
  // SDK errors are scrubbed of every credential it holds; the agent's own errors name only files, paths and fields.
  return err instanceof Error ? err.message : String(err);
}

function isParsed(config: unknown): config is AgentConfig {
  return typeof config === 'object' && config !== null && 'autoAuth' in config && 'renderIntervalMs' in config;
}

/**
 * Starts the agent: validates `config` (a parsed JSON document, or the result of
 * parseAgentConfig) and returns at once; logging in and the first render happen in the
 * background, retried with backoff while Coffer is unreachable. Await `ready` for the first
 * render of every template.
 */
export async function startAgent(config: unknown, options: AgentOptions = {}): Promise<Agent> {
  const cfg = isParsed(config) ? config : parseAgentConfig(config, options);
  const env = options.env ?? process.env;
  const log = options.logger ?? createLogger({ level: cfg.logLevel, base: { component: 'agent' } });
  // One backoff for every retry, the agent's own and the SDK's (renewals, re-logins, reconnects).
  const retry = { initialMs: cfg.retry.initialBackoffMs, maxMs: cfg.retry.maxBackoffMs };
  const backoff = (attempt: number): number => cappedBackoff(attempt, retry);

  const coffer = new Coffer({
    address: cfg.address,
    retry: { initialBackoffMs: retry.initialMs, maxBackoffMs: retry.maxMs },
    ...(cfg.namespace === undefined ? {} : { namespace: cfg.namespace }),
    ...agentFetch(cfg, options),
    onError: (err) => log.warn('background work failed; retrying', { error: describe(err) }),
  });
  const autoAuth = createAutoAuth(cfg.autoAuth, coffer);
  // A renewal refused with 403 may mean the token was revoked: asked once the token section below is set up.
  let onLeaseRefused: (err: unknown) => void = () => undefined;
  const leases = createAgentLeases(coffer, (err) => {
    log.warn('lease renewal failed; retrying', { error: describe(err) });
    onLeaseRefused(err);
  }, retry);
  const logReload = (destination: string, outcome: ReloadOutcome): void => {
    if (outcome.kind === 'command') {
      const fields = { destination, exit_code: outcome.exitCode, signal: outcome.signal, timed_out: outcome.timedOut };
      if (outcome.exitCode === 0) log.info('reload command ran', fields);
      else log.warn('reload command failed', fields);
    } else if (outcome.kind === 'signal') {
      log.info('reload signal sent', { destination, pid: outcome.pid, signal: outcome.signal });
    }
  };
  const templates: TemplateState[] = cfg.templates.map((t, index) => ({
    index, config: t, hash: undefined, versions: new Map(), consumerPaths: new Set(),
    rendered: false, failures: 0, retry: undefined,
    reloader: createReloader(t.reload, {
      env,
      onOutcome: (outcome) => logReload(t.destination, outcome),
      onError: (err) => log.warn('reload failed', { destination: t.destination, error: describe(err) }),
    }),
  }));
  const users = (path: string): TemplateState[] => templates.filter((t) => t.config.template.paths.includes(path));

  const stopSignal = new AbortController();
  let stopped = false;
  const dirty = new Set<TemplateState>();
  let wakeUp: (() => void) | undefined;
  const wake = (): void => {
    const resolve = wakeUp;
    wakeUp = undefined;
    resolve?.();
  };
  const markDirty = (list: readonly TemplateState[]): void => {
    if (stopped) return;
    for (const t of list) dirty.add(t);
    wake();
  };

  const source = createSecretSource({
    coffer,
    leases,
    onChange: (path) => {
      log.info('secret replaced; rendering again', { path });
      markDirty(users(path));
    },
  });
  const checkIns = createCheckIns({
    coffer,
    name: cfg.consumerName,
    ttl: cfg.consumerTtl,
    backoff,
    onError: (path, err) => log.warn('consumer check-in failed; retrying', { path, error: describe(err) }),
    onCheckIn: (path, version, consumerId) => log.info('checked in', { path, version, consumer_id: consumerId }),
  });

  let resolveReady!: () => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => undefined);
  let isReady = false;
  const checkReady = (): void => {
    if (!isReady && templates.every((t) => t.rendered)) {
      isReady = true;
      resolveReady();
    }
  };

  const sink = cfg.sink
    ? createTokenSink({
        sink: cfg.sink,
        backoff,
        onError: (err, retryInMs) => log.error('cannot write the token sink; retrying', { path: cfg.sink?.path, error: describe(err), retry_in_ms: retryInMs }),
        onRestored: () => log.warn('the token sink was missing or changed; wrote it again', { path: cfg.sink?.path }),
      })
    : undefined;

  // ---- files already on disk --------------------------------------------------------------
  await sink?.prepare();
  for (const t of templates) {
    await mkdir(dirname(t.config.destination), { recursive: true, mode: 0o700 });
    // Only a regular file of our own counts (never a link's target): anything else is replaced at the first render.
    const existing = await readRegularFile(t.config.destination, t.config.mode);
    if (existing !== undefined) t.hash = sha256(existing);
  }

  const refreshExpiredLeases = (): void => {
    if (stopped) return;
    source.refreshExpiredLeases().catch((err) => log.warn('cannot replace a lease that ended yet; retrying', { error: describe(err) }));
  };

  // ---- change events ------------------------------------------------------------------------
  /** Coffer refused the stream (429) since it last opened: said once, not at every retry. */
  let watchRefused = false;
  const changes = createChangeWatch({
    coffer,
    paths: [...new Set(templates.flatMap((t) => t.config.template.paths))],
    onChange: (path, version, event) => {
      if (!source.invalidate(path, version)) return;
      log.debug('secret changed', { path, event, version });
      markDirty(users(path));
    },
    onReset: () => {
      log.info('change events were missed; reading every secret again');
      source.invalidateAll();
      refreshExpiredLeases();
      markDirty(templates);
    },
    // Coffer answers again: a lease that ended during the outage is replaced now, not at its handle's next retry.
    onConnected: () => {
      if (watchRefused) log.info('change event stream open again');
      watchRefused = false;
      refreshExpiredLeases();
    },
    onUnavailable: (err) => {
      log.warn('cannot watch for changes; relying on render_interval', { error: describe(err) });
      checkTokenAfter(err);
    },
    onInterrupted: (err) => {
      // The token, or the whole server, holds as many watches as Coffer allows
      // (max_watches_per_token, max_watches; the error says which): the SDK backs off and asks
      // again. Meanwhile changes reach the files only at render_interval.
      if (err instanceof CofferRateLimitedError) {
        if (!watchRefused) log.warn('Coffer refuses another change event stream (too many open watches, for this token or on the server); retrying with backoff, relying on render_interval meanwhile', { error: describe(err) });
        watchRefused = true;
        return;
      }
      log.debug('change event stream interrupted; reconnecting', { error: describe(err) });
      checkTokenAfter(err);
    },
  });

  // ---- token --------------------------------------------------------------------------------
  let needAuth = true;
  let lastToken: string | undefined;
  let firstAuth = true;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (stopSignal.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      stopSignal.signal.addEventListener('abort', done, { once: true });
      function done(): void {
        clearTimeout(timer);
        stopSignal.signal.removeEventListener('abort', done);
        resolve();
      }
    });

  /** A new token is in use: sink it, watch with it, get fresh leases under it, render everything. */
  const adoptToken = async (): Promise<void> => {
    lastToken = coffer.token;
    // A failed write is retried with the backoff by the sink itself.
    if (sink && lastToken) await sink.write(lastToken);
    changes.restart();
    if (!firstAuth) {
      // Leases die with the token that created them (a revoked or expired token).
      source.refreshLeases().catch((err) => log.warn('cannot replace the leased secrets yet; the next render retries', { error: describe(err) }));
      source.invalidateAll();
    }
    firstAuth = false;
    markDirty(templates);
  };

  const authenticate = async (): Promise<void> => {
    for (let attempt = 1; !stopped; attempt += 1) {
      try {
        const info = await autoAuth.login();
        if (stopped) return;
        needAuth = false;
        log.info('authenticated', { method: info.method, accessor: info.accessor, policies: info.policies, ttl: info.leaseDuration });
        await adoptToken();
        checkReady();
        return;
      } catch (err) {
        if (stopped) return;
        const delay = backoff(attempt);
        log.warn('login failed; retrying', { method: cfg.autoAuth.method, error: describe(err), retry_in_ms: delay });
        await sleep(delay);
      }
    }
  };

  /**
   * The watch was refused (403): that may be the policy (no sys/watch) or the token itself
   * (revoked), which means logging in again; the new token opens the watch anew.
   */
  const checkTokenAfter = (err: unknown): void => {
    if (!(err instanceof CofferPermissionDeniedError) || needAuth) return;
    void checkToken().then(() => {
      if (needAuth) markDirty(templates);
    });
  };

  onLeaseRefused = checkTokenAfter;

  /** After a 403: is it the token (gone, revoked) or only a policy? */
  const checkToken = async (): Promise<void> => {
    try {
      await coffer.read('auth/token/lookup-self');
    } catch (err) {
      if (err instanceof CofferPermissionDeniedError) {
        log.warn('the token is no longer valid; logging in again');
        needAuth = true;
      }
    }
  };

  const tokenTimer = setInterval(() => {
    if (stopped || needAuth || coffer.token === lastToken) return;
    // The SDK logged in again in the background (the token reached its max TTL).
    log.info('the SDK replaced the token');
    void adoptToken();
  }, TOKEN_CHECK_MS);
  tokenTimer.unref();

  const intervalTimer = setInterval(() => {
    source.invalidateAll();
    refreshExpiredLeases();
    void sink?.check();
    markDirty(templates);
  }, cfg.renderIntervalMs);
  intervalTimer.unref();

  // ---- rendering ----------------------------------------------------------------------------
  const wantsConsumer = (t: TemplateState, value: SourceValue): boolean => {
    if (value.version === undefined || t.config.consumer === false) return false;
    return t.config.consumer === true ? value.kind === 'kv' || value.kind === 'static' : value.kind === 'static';
  };

  /**
   * Checks in for `path` with the version every file rendered from it now holds (the lowest
   * among the templates that read it, unless they opted out with consumer: false).
   */
  const reportVersions = (path: string): void => {
    const holders = users(path).filter((t) => t.config.consumer !== false);
    if (!holders.some((t) => t.consumerPaths.has(path))) return;
    const version = Math.min(...holders.map((t) => t.versions.get(path) ?? 0));
    if (version > 0) checkIns.report(path, version);
  };

  const renderOne = async (t: TemplateState): Promise<void> => {
    const started = performance.now();
    const destination = t.config.destination;
    try {
      const values = new Map<string, SourceValue>();
      for (const path of t.config.template.paths) values.set(path, await source.get(path));
      const content = renderTemplate(t.config.template, {
        secret: (path) => (values.get(path) as SourceValue).data,
        env: (name) => env[name],
      });
      const hash = sha256(content);
      const changed = !sameHash(t.hash, hash);
      // Same content as last written, but the file may have been deleted or edited since: what is on disk counts.
      const restored = !changed && !sameHash(await hashOfFile(destination), hash);
      const written = changed || restored;
      if (written) {
        await writeFileAtomicMakingDirectory(destination, content, t.config.mode);
        t.hash = hash;
      }
      if (t.retry) clearTimeout(t.retry);
      t.retry = undefined;
      t.failures = 0;
      for (const [path, value] of values) {
        if (value.version !== undefined) t.versions.set(path, value.version);
        if (wantsConsumer(t, value)) t.consumerPaths.add(path);
      }
      t.rendered = true;
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      if (changed) log.info('rendered', { destination, duration_ms: durationMs });
      else if (restored) log.warn('the file was missing or changed on disk; wrote it again', { destination, duration_ms: durationMs });
      else log.debug('unchanged', { destination, duration_ms: durationMs });
      options.onRender?.({ destination, changed: written, durationMs });
      // The file is in place: only now may a rotation learn that this consumer has the new version.
      for (const path of values.keys()) reportVersions(path);
      // A restored file is new to the application too (it may have read the edited one).
      if (written) t.reloader.trigger();
      checkReady();
    } catch (err) {
      if (stopped) return;
      t.failures += 1;
      const delay = backoff(t.failures);
      const error = describe(err);
      log.warn('render failed; keeping the last good file', { destination, error, retry_in_ms: delay });
      options.onRender?.({ destination, changed: false, error, durationMs: Math.round(performance.now() - started) });
      if (err instanceof CofferPermissionDeniedError) await checkToken();
      if (t.retry) clearTimeout(t.retry);
      t.retry = setTimeout(() => {
        t.retry = undefined;
        markDirty([t]);
      }, delay);
      t.retry.unref();
    }
  };

  const worker = (async (): Promise<void> => {
    while (!stopped) {
      if (needAuth) {
        await authenticate();
        continue;
      }
      if (dirty.size === 0) {
        await new Promise<void>((resolve) => {
          wakeUp = resolve;
        });
        continue;
      }
      const batch = [...dirty].sort((a, b) => a.index - b.index);
      dirty.clear();
      for (const t of batch) {
        if (stopped || needAuth) {
          // Not rendered in this pass: keep it for the next.
          if (!stopped) dirty.add(t);
          continue;
        }
        await renderOne(t);
      }
    }
  })();

  log.info('agent started', { address: coffer.address, templates: templates.length, method: cfg.autoAuth.method });

  return {
    ready,
    consumerIds: () => checkIns.ids(),
    rerender() {
      source.invalidateAll();
      refreshExpiredLeases();
      void sink?.check();
      markDirty(templates);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      stopSignal.abort();
      clearInterval(tokenTimer);
      clearInterval(intervalTimer);
      sink?.stop();
      for (const t of templates) {
        if (t.retry) clearTimeout(t.retry);
        t.reloader.stop();
      }
      changes.stop();
      wake();
      // A token from token_file was handed to the agent, not created by it: never revoked here.
      const revokeToken = cfg.revokeOnExit && cfg.autoAuth.method !== 'token_file';
      let revoked = cfg.revokeOnExit;
      const cleanUp = async (): Promise<void> => {
        await worker;
        checkIns.stop();
        try {
          await source.close(cfg.revokeOnExit);
        } catch (err) {
          if (revokeToken && err instanceof CofferPermissionDeniedError) log.info('the policy does not allow sys/leases/revoke; revoking the token ends its leases');
          else {
            revoked = false;
            log.warn('cannot revoke every lease', { error: describe(err) });
          }
        }
        try {
          // Deregisters the consumers; revokes the token only if asked (its leases go with it).
          await coffer.close({ revokeToken });
        } catch (err) {
          if (revokeToken) revoked = false;
          log.warn('clean-up on exit incomplete', { error: describe(err) });
        }
      };
      let deadline: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        cleanUp().then(() => true),
        new Promise<false>((resolve) => {
          deadline = setTimeout(() => resolve(false), cfg.shutdownTimeoutMs);
        }),
      ]);
      clearTimeout(deadline);
      if (!finished) {
        revoked = false;
        log.warn('clean-up on exit did not finish in time; stopping without it', { shutdown_timeout_ms: cfg.shutdownTimeoutMs });
      }
      if (!isReady) rejectReady(new Error('the agent stopped before every template was rendered'));
      log.info('agent stopped', { revoked });
    },
  };
}
