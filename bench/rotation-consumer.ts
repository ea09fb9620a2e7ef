/**
 * A live consumer of a static credential, as issue 4 describes an application instance: it
 * registers (`sys/consumers/register`), watches `sys/watch?prefix=<path>`, and as soon as an
 * event announces a newer version it re-reads the credential and checks in with that version
 * (`sys/consumers/checkin`), so a dual-credential rotation's verify step can finish.
 *
 * Must never log the credential it reads; it keeps only the version.
 */
import type { LoopbackClient } from './loopback-http.js';
import { openWatch, type SseSubscriber } from './sse-subscriber.js';

export interface RotationConsumer {
  readonly id: string;
  /** Versions it switched to (one check-in each). */
  readonly switches: number;
  /** Failed reads or check-ins, by message. */
  readonly errors: readonly string[];
  stop(): Promise<void>;
}

const MAX_ERRORS = 5;

export async function startRotationConsumer(options: { baseUrl: string; api: LoopbackClient; token: string; path: string; name: string }): Promise<RotationConsumer> {
  const { api, token, path } = options;
  const readVersion = async (): Promise<number> => {
    const body = await api.ok('GET', path, { token });
    const version: unknown = body?.data?.version;
    if (typeof version !== 'number') throw new Error(`${path} returned no version`);
    return version;
  };
  let held = await readVersion();
  const registered = await api.ok('POST', 'sys/consumers/register', { token, body: { path, name: options.name, ttl: 300, version: held } });
  const id: unknown = registered?.data?.consumer_id;
  if (typeof id !== 'string') throw new Error('sys/consumers/register returned no consumer_id');

  let announced = held;
  let busy = false;
  let switches = 0;
  const errors: string[] = [];
  const fail = (error: unknown): void => {
    const message = (error as Error).message;
    if (errors.length < MAX_ERRORS && !errors.includes(message)) errors.push(message);
  };
  // Reads and checks in until it holds the newest announced version; one such loop at a time.
  const catchUp = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      while (announced > held) {
        const next = await readVersion();
        if (next <= held) break;
        held = next;
        await api.ok('POST', 'sys/consumers/checkin', { token, body: { consumer_id: id, path, version: held } });
        switches += 1;
      }
    } catch (error) {
      fail(error);
    } finally {
      busy = false;
    }
  };
  const watch: SseSubscriber = openWatch(options.baseUrl, token, path, (event) => {
    if (event.path !== path || event.version === null || event.version <= announced) return;
    announced = event.version;
    void catchUp();
  });
  await watch.opened;

  return {
    id,
    get switches() {
      return switches;
    },
    errors,
    async stop() {
      watch.close();
      await api.call('POST', 'sys/consumers/deregister', { token, body: { consumer_id: id, path } }).catch(() => undefined);
    },
  };
}
