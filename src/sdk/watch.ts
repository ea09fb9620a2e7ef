/**
 * `watch(prefix, handler)`: change events for the secrets under a prefix, over server-sent
 * events (`GET sys/watch`), reconnecting with `Last-Event-ID` so nothing is missed across a
 * dropped connection, and falling back to long-polling (`GET sys/watch/poll?after=`) when the
 * stream is not available (an old server, a buffering proxy) or keeps failing.
 *
 * Owns: the connection loop, the last sequence number seen, and telling the handler to re-read
 * everything (`event: 'reset'`) when events were lost (the server's ring overflowed, or the
 * server restarted and its numbering began again).
 * Must never: deliver an event twice or out of order, or keep the process alive on its own.
 */
import { CofferError, CofferHttpError, CofferPermissionDeniedError, CofferRateLimitedError } from './errors.js';
import { backoffDelay } from './scheduler.js';
import { createSseParser, type SseMessage } from './sse.js';
import type { Transport } from './transport.js';
import { asEnvelope, isObject } from './wire.js';

export type WatchEventKind = 'write' | 'delete' | 'undelete' | 'destroy' | 'metadata' | 'rotate' | 'revoke' | 'reset';

export interface WatchEvent {
  /** The server's sequence number (for 'reset': the last one seen before the gap). */
  seq: number;
  /** The path a reader reads, e.g. `secret/data/app/db`; for 'reset', the watched prefix. */
  path: string;
  version: number | null;
  /** 'reset' means events were missed: re-read whatever you watch. */
  event: WatchEventKind;
  /** RFC 3339. */
  time: string;
}

export type WatchHandler = (event: WatchEvent) => void | Promise<void>;

export interface WatchOptions {
  /** 'auto' (default): SSE, then long-poll if SSE is unavailable; or force one of them. */
  transport?: 'auto' | 'sse' | 'poll';
  /** Deliver the events after this sequence number first (resuming a previous watch). */
  after?: number;
  /** Seconds a long-poll waits for an event before asking again (default 30, at most 60). */
  pollWaitSeconds?: number;
  /**
   * Connection failures, refusals (a CofferRateLimitedError while the token holds as many
   * watches as the server allows: retried with backoff) and handler errors; the watch keeps going.
   */
  onError?: (err: unknown) => void;
  /**
   * Each time a connection opens after none was open: the first, and every reconnect after a
   * failure. Whoever kept state through an outage (a lease that ran out meanwhile) can act now,
   * rather than at its own next retry.
   */
  onOpen?: () => void;
}

/** Calling it stops the watch. `ready` settles when the first connection is open. */
export interface Subscription {
  (): void;
  readonly ready: Promise<void>;
  /** How events arrive right now. */
  readonly mode: 'sse' | 'poll';
  /**
   * The sequence number this watch resumes after: the last event seen, or where the server
   * said the stream began. A new watch given it as `after` misses nothing in between.
   */
  readonly position: number | undefined;
}

/** No event and no keep-alive for this long means the stream is dead (the server sends one every 15 s). */
const IDLE_MS = 45_000;
const POLL_WAIT_S = 30;
/** Consecutive stream failures after which long-polling is tried instead. */
const SSE_FAILURES_BEFORE_POLL = 3;
/**
 * After falling back to long-polling because streams kept failing, when to try a stream again:
 * a minute, doubling each time the stream fails again (a proxy that breaks only streams), up to
 * half an hour; a stream that runs resets it.
 */
const SSE_RETRY_AFTER_MS = 60_000;
const SSE_RETRY_MAX_MS = 30 * 60_000;

class StreamUnavailable extends CofferError {}

/** Reconnects without a configured backoff: 250 ms, 500 ms ... up to 30 s. */
const defaultReconnectDelay = (failures: number): number => backoffDelay(failures - 1, 250, 30_000);

/** `backoff` paces reconnects after `failures` consecutive failures (the Coffer's retry setting). */
export function startWatch(
  transport: Transport,
  prefix: string,
  handler: WatchHandler,
  options: WatchOptions,
  onErrorDefault: (err: unknown) => void,
  backoff: (failures: number) => number = defaultReconnectDelay,
  now: () => number = Date.now,
): Subscription {
  const cleanPrefix = prefix.replace(/^\/+/, '');
  const onError = options.onError ?? onErrorDefault;
  const stop = new AbortController();
  let mode: 'sse' | 'poll' = options.transport === 'poll' ? 'poll' : 'sse';
  let lastSeq = options.after;
  let opened = false;
  /** A connection is open, or the last one ended cleanly; false after a failure. */
  let connected = false;
  let resolveReady: () => void = () => undefined;
  let rejectReady: (err: unknown) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // An application that never awaits `ready` must not see an unhandled rejection.
  ready.catch(() => undefined);

  const markOpen = (): void => {
    if (!opened) {
      opened = true;
      resolveReady();
    }
    if (!connected) {
      connected = true;
      try {
        options.onOpen?.();
      } catch (err) {
        onError(err);
      }
    }
  };

  const deliver = async (event: WatchEvent): Promise<void> => {
    try {
      await handler(event);
    } catch (err) {
      onError(err);
    }
  };
  const reset = (): Promise<void> =>
    deliver({ seq: lastSeq ?? 0, path: cleanPrefix, version: null, event: 'reset', time: new Date().toISOString() });

  /** A sequence number lower than ours means the server restarted and numbers from 0 again. */
  const noticeServerSeq = async (serverSeq: number): Promise<void> => {
    if (lastSeq !== undefined && serverSeq < lastSeq) {
      lastSeq = serverSeq;
      await reset();
    }
  };

  const onChange = async (raw: unknown): Promise<void> => {
    if (!isObject(raw) || typeof raw['seq'] !== 'number' || typeof raw['path'] !== 'string') return;
    if (lastSeq !== undefined && raw['seq'] <= lastSeq) return;
    lastSeq = raw['seq'];
    await deliver({
      seq: raw['seq'],
      path: raw['path'],
      version: typeof raw['version'] === 'number' ? raw['version'] : null,
      event: String(raw['event']) as WatchEventKind,
      time: typeof raw['time'] === 'string' ? raw['time'] : '',
    });
  };

  /** A stream opened since the loop last looked: streams work here, whatever ended this one. */
  let streamOpened = false;

  const runStream = async (): Promise<void> => {
    const idle = new AbortController();
    const signal = AbortSignal.any([stop.signal, idle.signal]);
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (lastSeq !== undefined) headers['Last-Event-ID'] = String(lastSeq);
    const response = await transport.stream('sys/watch', { query: { prefix: cleanPrefix }, headers, signal });
    if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream') || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      throw new StreamUnavailable('the server did not answer with an event stream');
    }
    markOpen();
    streamOpened = true;
    let timer = setTimeout(() => idle.abort(), IDLE_MS);
    timer.unref();
    let queue: Promise<void> = Promise.resolve();
    let ended = false;
    // The server's newest number when this stream opened (its first comment).
    let openedAt: number | undefined;
    const parser = createSseParser(
      (message: SseMessage) => {
        queue = queue.then(async () => {
          if (message.event === 'reset') {
            // Our number is not one this server process can continue from (a restart, or a gap
            // past its memory): after re-reading everything, continue from the server's own
            // numbering, or every later reconnect would send the stale number and be reset again.
            if (openedAt !== undefined && (lastSeq === undefined || openedAt > lastSeq)) lastSeq = openedAt;
            return reset();
          }
          if (message.event === 'end') {
            // The server closes streams of tokens that stopped being valid; reconnect with the current one.
            ended = true;
            return;
          }
          if (message.id === undefined) return;
          try {
            await onChange(JSON.parse(message.data));
          } catch (err) {
            onError(err);
          }
        });
      },
      (comment) => {
        const match = /from seq (\d+)/.exec(comment);
        if (!match) return;
        openedAt = Number(match[1]);
        const serverSeq = openedAt;
        queue = queue.then(async () => {
          await noticeServerSeq(serverSeq);
          // A watch that has seen no event yet resumes from here: without it, a reconnect would
          // start from "now" again and lose what was written while it was away.
          if (lastSeq === undefined) lastSeq = serverSeq;
        });
      },
    );
    const decoder = new TextDecoder();
    const body = response.body;
    try {
      for await (const chunk of body) {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), IDLE_MS);
        timer.unref();
        parser.push(decoder.decode(chunk, { stream: true }));
        await queue;
        if (ended) break;
      }
    } catch (err) {
      if (stop.signal.aborted) return;
      if (idle.signal.aborted) throw new CofferError('the event stream went silent; reconnecting');
      throw err;
    } finally {
      clearTimeout(timer);
      await body.cancel().catch(() => undefined);
    }
    await queue;
  };

  const pollWait = Math.min(60, Math.max(1, Math.round(options.pollWaitSeconds ?? POLL_WAIT_S)));
  const pollOnce = async (): Promise<void> => {
    // Without a sequence number yet, ask without waiting: the answer's last_seq is where to start.
    const wait = lastSeq === undefined ? 0 : pollWait;
    const res = await transport.request('GET', 'sys/watch/poll', {
      query: { prefix: cleanPrefix, after: lastSeq, wait: `${wait}s` },
      signal: stop.signal,
      timeoutMs: (wait + 15) * 1000,
    });
    markOpen();
    const data = asEnvelope(res.body).data ?? {};
    const serverSeq = typeof data['last_seq'] === 'number' ? data['last_seq'] : undefined;
    if (serverSeq !== undefined) await noticeServerSeq(serverSeq);
    if (data['complete'] === false) await reset();
    const events = Array.isArray(data['events']) ? data['events'] : [];
    for (const event of events) await onChange(event);
    // Nothing visible arrived: continue after the server's newest event, not before it again.
    if (events.length === 0 && serverSeq !== undefined && (lastSeq === undefined || serverSeq > lastSeq)) lastSeq = serverSeq;
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      stop.signal.addEventListener('abort', done, { once: true });
      function done(): void {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', done);
        resolve();
      }
    });

  /** The server (or a proxy before it) does not serve streams at all. */
  const streamMissing = (err: unknown): boolean =>
    err instanceof StreamUnavailable || (err instanceof CofferHttpError && [404, 405, 501].includes(err.status ?? 0));

  const shouldFallBack = (err: unknown, failures: number): boolean => {
    if (options.transport === 'sse') return false;
    if (streamMissing(err)) return true;
    // A 429 (the token, or the whole server, holds as many watches as Coffer allows) says nothing about streams
    // working: long polls count against the same limit, and falling back would keep this watch
    // on polling for good. Back off and ask for the stream again.
    if (err instanceof CofferRateLimitedError) return false;
    return !(err instanceof CofferPermissionDeniedError) && failures >= SSE_FAILURES_BEFORE_POLL;
  };

  const loop = async (): Promise<void> => {
    let failures = 0;
    // Set when polling only because streams kept failing (an outage, not a server or proxy
    // without streams): the stream is asked for again from then on, or one outage would keep
    // this watch on polling for good.
    let retryStreamAt: number | undefined;
    let retryStreamAfter = SSE_RETRY_AFTER_MS;
    while (!stop.signal.aborted) {
      try {
        if (mode === 'sse') {
          await runStream();
          failures = 0;
          streamOpened = false;
          retryStreamAfter = SSE_RETRY_AFTER_MS;
          // A clean end (server shutdown, token replaced): reconnect after a short pause.
          await sleep(250);
        } else {
          await pollOnce();
          failures = 0;
          if (retryStreamAt !== undefined && now() >= retryStreamAt) {
            retryStreamAt = undefined;
            mode = 'sse';
          }
        }
      } catch (err) {
        if (stop.signal.aborted) break;
        if (streamOpened) retryStreamAfter = SSE_RETRY_AFTER_MS;
        streamOpened = false;
        failures += 1;
        connected = false;
        onError(err);
        if (!opened && err instanceof CofferPermissionDeniedError) {
          // A token that may not watch at all: the caller learns it from `ready` at once.
          rejectReady(err);
        }
        if (mode === 'sse' && shouldFallBack(err, failures)) {
          retryStreamAt = streamMissing(err) ? undefined : now() + retryStreamAfter;
          retryStreamAfter = Math.min(retryStreamAfter * 2, SSE_RETRY_MAX_MS);
          mode = 'poll';
          failures = 0;
          continue;
        }
        await sleep(backoff(failures));
      }
    }
    resolveReady();
  };

  void loop();

  const unsubscribe = (): void => {
    stop.abort();
  };
  Object.defineProperty(unsubscribe, 'ready', { value: ready });
  Object.defineProperty(unsubscribe, 'mode', { get: () => mode });
  Object.defineProperty(unsubscribe, 'position', { get: () => lastSeq });
  return unsubscribe as Subscription;
}
