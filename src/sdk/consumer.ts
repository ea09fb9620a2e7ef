/**
 * Consumer check-in: an application instance registers as a consumer of a secret
 * (`sys/consumers/register`) and reports the version it uses (`sys/consumers/checkin`), so a
 * rotation can see that every live consumer switched before it revokes the old credential.
 * A heartbeat repeats the last check-in well within the consumer TTL, and a consumer the
 * server forgot (expired, or a restore) registers again on its own.
 *
 * Owns: the consumer id, the last reported version, one heartbeat timer.
 * Must never: report a version the application did not give it.
 */
import { CofferBadRequestError, CofferClosedError, CofferConfigError, CofferResponseError } from './errors.js';
import { createTimerSlot, type Scheduler } from './scheduler.js';
import type { Requester } from './token-manager.js';
import { asEnvelope } from './wire.js';

export interface ConsumerOptions {
  /** A free-form, non-secret description: host, pod, process. */
  name?: string;
  /** Seconds without a check-in after which the server counts the consumer as gone (server default 60). */
  ttl?: number;
  /** The version in use at registration, if known. */
  version?: number;
  onError?: (err: unknown) => void;
}

export interface ConsumerHandle {
  readonly id: string;
  readonly path: string;
  /** The last version reported (0 before the first). */
  readonly version: number;
  /** Reports that this instance now uses `version`. */
  checkIn(version: number): Promise<void>;
  /** Stops the heartbeat and deregisters. */
  close(): Promise<void>;
}

const DEFAULT_TTL = 60;

export async function registerConsumer(request: Requester, scheduler: Scheduler, path: string, options: ConsumerOptions, onErrorDefault: (err: unknown) => void): Promise<ConsumerHandle> {
  const cleanPath = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (cleanPath === '') throw new CofferConfigError('a secret path is required');
  const ttl = options.ttl ?? DEFAULT_TTL;
  if (!Number.isInteger(ttl) || ttl < 1) throw new CofferConfigError('ttl must be a positive whole number of seconds');
  const onError = options.onError ?? onErrorDefault;
  const slot = createTimerSlot(scheduler);
  let version = options.version ?? 0;
  let id = '';
  let closed = false;
  let failures = 0;

  const register = async (): Promise<void> => {
    const body = { path: cleanPath, ttl, version, ...(options.name === undefined ? {} : { name: options.name }) };
    const data = asEnvelope((await request('POST', 'sys/consumers/register', { body })).body).data ?? {};
    if (typeof data['consumer_id'] !== 'string') throw new CofferResponseError('register: the answer has no consumer_id');
    id = data['consumer_id'];
  };

  const report = async (): Promise<void> => {
    try {
      await request('POST', 'sys/consumers/checkin', { body: { consumer_id: id, path: cleanPath, version } });
    } catch (err) {
      // The server answers 400 for a consumer it does not know (expired, forgotten): register again.
      if (!(err instanceof CofferBadRequestError)) throw err;
      await register();
    }
  };

  // Well within the TTL, so one lost heartbeat does not make the consumer look gone.
  const interval = Math.max(1000, (ttl * 1000) / 3);
  const heartbeat = async (): Promise<void> => {
    if (closed) return;
    try {
      await report();
      failures = 0;
      slot.set(interval, heartbeat);
    } catch (err) {
      onError(err);
      failures += 1;
      slot.set(Math.min(interval, scheduler.backoff(failures)), heartbeat);
    }
  };

  await register();
  slot.set(interval, heartbeat);

  return {
    get id() {
      return id;
    },
    path: cleanPath,
    get version() {
      return version;
    },
    async checkIn(next) {
      if (closed) throw new CofferClosedError(`the consumer of ${cleanPath}`);
      if (!Number.isInteger(next) || next < 0) throw new CofferConfigError('version must be a non-negative integer');
      version = next;
      await report();
      slot.set(interval, heartbeat);
    },
    async close() {
      if (closed) return;
      closed = true;
      slot.clear();
      try {
        await request('POST', 'sys/consumers/deregister', { body: { consumer_id: id, path: cleanPath } });
      } catch (err) {
        if (!(err instanceof CofferBadRequestError)) throw err;
      }
    },
  };
}
