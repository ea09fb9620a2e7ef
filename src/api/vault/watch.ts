/**
 * `GET /v1/sys/watch` (server-sent events) and `GET /v1/sys/watch/poll` (long-poll): change
 * notifications for the secrets a token may read.
 *
 * Opening a watch goes through the normal pipeline first (token, ACL on `sys/watch`, audit);
 * then every event is delivered only if the token is still valid and may `read` the event's
 * path at that moment. Events carry a path, a version and a kind, never a secret value.
 */
import type { ServerResponse } from 'node:http';
import type { ChangeEvent, EventBus } from '../../core/events/event-bus.js';
import type { WatcherAccess } from '../../core/events/watch-access.js';
import { badRequest } from '../../core/errors.js';
import { parseDurationSeconds } from '../../core/duration.js';

const HEARTBEAT_MS = 15_000;
const MAX_WAIT_S = 60;

/**
 * How far a watcher may fall behind before its stream is cut. A client that stops reading
 * (or reads slower than secrets change) would otherwise make the server hold every event for
 * it, in the socket's buffer and in the queue of delivery steps, until the process runs out of
 * memory: any token with the default policy may watch. Cut off, the client reconnects with
 * Last-Event-ID and gets what it missed, or `event: reset` when that is gone.
 */
export interface WatchBacklogLimits {
  /** Bytes written to the stream and not yet taken by the client's socket. */
  maxBufferedBytes: number;
  /** Events (and heartbeats) waiting for their turn to be checked and written. */
  maxPendingSteps: number;
}

export const DEFAULT_WATCH_BACKLOG: WatchBacklogLimits = { maxBufferedBytes: 1024 * 1024, maxPendingSteps: 10_000 };

export interface WatchRequest {
  prefix: string;
  /** Deliver events after this sequence number first (reconnects). */
  after: number | undefined;
}

export function parseWatchQuery(query: Record<string, unknown>, lastEventId: string | undefined): WatchRequest & { waitSeconds: number } {
  const prefix = typeof query.prefix === 'string' ? query.prefix.replace(/^\/+/, '') : '';
  const rawAfter = typeof query.after === 'string' && query.after !== '' ? query.after : lastEventId;
  let after: number | undefined;
  if (rawAfter !== undefined && rawAfter !== '') {
    after = Number(rawAfter);
    if (!Number.isInteger(after) || after < 0) throw badRequest('after must be a non-negative integer');
  }
  const wait = parseDurationSeconds(query.wait, 'wait') ?? 30;
  if (wait > MAX_WAIT_S) throw badRequest(`wait may be at most ${MAX_WAIT_S}s`);
  return { prefix, after, waitSeconds: wait };
}

function wire(event: ChangeEvent): Record<string, unknown> {
  return { seq: event.seq, path: event.path, version: event.version, event: event.event, time: new Date(event.time).toISOString() };
}

/** Delivers events one at a time, in order, each only if the watcher may see it. */
function createFilter(access: WatcherAccess, prefix: string) {
  return async (event: ChangeEvent): Promise<boolean> => event.path.startsWith(prefix) && access.canRead(event.path);
}

/** Answers with an event stream that stays open until the client goes away. */
export function serveEventStream(
  res: ServerResponse,
  bus: EventBus,
  access: WatcherAccess,
  request: WatchRequest,
  limits: WatchBacklogLimits = DEFAULT_WATCH_BACKLOG,
): void {
  const visible = createFilter(access, request.prefix);
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`: watching ${JSON.stringify(request.prefix)} from seq ${bus.lastSeq}\n\n`);

  let queue: Promise<void> = Promise.resolve();
  let pending = 0;
  let closed = false;
  /** Ends a stream whose client has fallen too far behind (see WatchBacklogLimits). */
  const cutOff = (): void => {
    if (closed) return;
    stop();
    res.destroy();
  };
  /**
   * Runs `step` after the ones before it. A step that throws (the server was sealed, storage
   * failed while checking the token or its policy) ends the stream: the error must never
   * escape as an unhandled rejection, which would stop the whole server, and a watcher whose
   * access cannot be checked must not go on receiving events.
   */
  const enqueue = (step: () => Promise<void>): void => {
    if (closed) return;
    if (pending >= limits.maxPendingSteps || res.writableLength > limits.maxBufferedBytes) {
      cutOff();
      return;
    }
    pending += 1;
    queue = queue.then(step).finally(() => { pending -= 1; }).catch(() => {
      if (closed) return;
      res.end('event: end\ndata: {"reason":"the server can no longer check this watch (sealed?); reconnect"}\n\n');
      stop();
    });
  };
  const send = (event: ChangeEvent): void => {
    // Checked at once, not in the queue: every write calls every watcher, and one watching
    // elsewhere must cost the write a string comparison, not a queued step (promises and all).
    if (!event.path.startsWith(request.prefix)) return;
    enqueue(async () => {
      if (closed || !(await visible(event))) return;
      res.write(`id: ${event.seq}\nevent: ${event.event}\ndata: ${JSON.stringify(wire(event))}\n\n`);
    });
  };
  if (request.after !== undefined) {
    const missed = bus.since(request.after);
    if (!missed.complete) res.write('event: reset\ndata: {"reason":"events were missed; re-read what you watch"}\n\n');
    for (const event of missed.events) send(event);
  }
  const unsubscribe = bus.subscribe(send);
  const heartbeat = setInterval(() => {
    enqueue(async () => {
      if (closed) return;
      if (!(await access.stillValid())) {
        res.end('event: end\ndata: {"reason":"token no longer valid"}\n\n');
        return;
      }
      res.write(': keep-alive\n\n');
    });
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const stopOnSeal = bus.onEndStreams(() => {
    if (closed) return;
    res.end('event: end\ndata: {"reason":"the server was sealed; reconnect once it is unsealed"}\n\n');
    stop();
  });
  function stop(): void {
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    stopOnSeal();
  }
  res.on('close', stop);
  res.on('error', stop);
}

/** `signal` ends the wait early (the client went away, or the server is closing). */
export async function longPoll(bus: EventBus, access: WatcherAccess, request: WatchRequest & { waitSeconds: number }, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const visible = createFilter(access, request.prefix);
  const after = request.after ?? bus.lastSeq;
  const missed = bus.since(after);
  const ready: ChangeEvent[] = [];
  for (const event of missed.events) if (await visible(event)) ready.push(event);
  if (ready.length > 0 || !missed.complete || request.waitSeconds === 0) {
    return { events: ready.map(wire), last_seq: bus.lastSeq, complete: missed.complete };
  }
  const found = await new Promise<ChangeEvent[]>((resolve) => {
    let queue: Promise<void> = Promise.resolve();
    const timer = setTimeout(() => finish([]), request.waitSeconds * 1000);
    const unsubscribe = bus.subscribe((event) => {
      if (!event.path.startsWith(request.prefix)) return;
      // A check that throws (sealed, storage) answers the poll empty rather than escape.
      queue = queue
        .then(async () => {
          if (await visible(event)) finish([event]);
        })
        .catch(() => finish([]));
    });
    let done = false;
    const onAbort = (): void => finish([]);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    function finish(events: ChangeEvent[]): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
      resolve(events);
    }
  });
  return { events: found.map(wire), last_seq: bus.lastSeq, complete: true };
}
