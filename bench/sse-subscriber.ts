/**
 * A minimal server-sent-events subscriber for `GET /v1/sys/watch`, cheap enough to hold a
 * thousand of them in the harness process: one `node:http` request on its own socket, a
 * streaming parser, and the arrival time of every event (performance.now(), taken when its
 * chunk is parsed).
 *
 * Must never send anything beyond 127.0.0.1, and never log the token it subscribes with.
 */
import { request, type ClientRequest } from 'node:http';
import { assertLoopback } from './load.js';

export interface WatchEvent {
  seq: number;
  path: string;
  version: number | null;
  event: string;
}

/**
 * Feeds SSE text in arbitrary chunks; calls `onEvent` for every block that has an `id:` and a
 * JSON `data:` line (comments, heartbeats and `reset`/`end` notices without an id are skipped).
 */
export function createSseParser(onEvent: (event: WatchEvent) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let hasId = false;
      let data: string | undefined;
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) hasId = true;
        else if (line.startsWith('data: ')) data = line.slice(6);
      }
      if (!hasId || data === undefined) continue;
      let parsed: Partial<WatchEvent>;
      try {
        parsed = JSON.parse(data) as Partial<WatchEvent>;
      } catch {
        continue;
      }
      if (typeof parsed.path !== 'string' || typeof parsed.seq !== 'number') continue;
      onEvent({ seq: parsed.seq, path: parsed.path, version: typeof parsed.version === 'number' ? parsed.version : null, event: String(parsed.event) });
    }
  };
}

export interface SseSubscriber {
  /** Resolves once the server answered 200 and sent its first line (it has subscribed by then). */
  readonly opened: Promise<void>;
  close(): void;
}

/**
 * Opens `GET <baseUrl>/v1/sys/watch?prefix=…` on a socket of its own. `onEvent` gets each event
 * with its arrival time.
 */
export function openWatch(baseUrl: string, token: string, prefix: string, onEvent: (event: WatchEvent, at: number) => void): SseSubscriber {
  assertLoopback(baseUrl);
  const url = new URL(`/v1/sys/watch?prefix=${encodeURIComponent(prefix)}`, baseUrl);
  let req: ClientRequest | undefined;
  let closed = false;
  const opened = new Promise<void>((resolve, reject) => {
    req = request(url, { headers: { 'x-vault-token': token, accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`sys/watch answered ${res.statusCode ?? 0}`));
        return;
      }
      const parse = createSseParser((event) => onEvent(event, performance.now()));
      res.setEncoding('utf8');
      // The server writes its ": watching …" comment right after it subscribed to the bus.
      res.once('data', () => resolve());
      res.on('data', parse);
      res.on('error', () => undefined);
    });
    req.on('error', (error) => {
      if (!closed) reject(error);
    });
    req.end();
  });
  opened.catch(() => undefined);
  return {
    opened,
    close() {
      closed = true;
      req?.destroy();
    },
  };
}
