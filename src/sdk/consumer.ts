/**
 * Consumer check-in: an application instance registers as a consumer of a secret
 * (`sys/consumers/register`) and reports the version it uses (`sys/consumers/checkin`), so a
 * rotation can see that every live consumer switched before it revokes the old credential.
 * A heartbeat repeats the last check-in the server took well within the consumer TTL, and a
 * consumer the server no longer knows (forgotten after expiry, removed, a restore, or
 * registered under a previous token) registers again on its own.
 *
 * Owns: the consumer id, the reported versions, one heartbeat timer.
 * Must never: report a version the application did not give it; register anew for any refusal
 * but "unknown consumer" (the new registration would be refused for the same reason, or leave
 * the old one behind to expire).
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
  /**
   * The last version given to `checkIn` (or at registration; 0 before any), even one the server
   * refused. The heartbeat repeats the last one it took.
   */
  readonly version: number;
  /**
   * Reports that this instance now uses `version`. A refusal (CofferBadRequestError, for example
   * a version above the secret's current one) is thrown and leaves the registration as it was.
   */
  checkIn(version: number): Promise<void>;
  /** Stops the heartbeat and deregisters. */
  close(): Promise<void>;
}

const DEFAULT_TTL = 60;

/** How often a consumer with this TTL (seconds; default 60) checks in: three times per TTL. */
export function checkInIntervalMs(ttl: number = DEFAULT_TTL): number {
  return Math.max(1000, (ttl * 1000) / 3);
}

/**
 * The server's whole message for a consumer id it does not have for this token. It shares 400
 * with every other refusal and Vault's error body carries nothing but messages, so this exact
 * text is the contract (pinned by the server's tests), not a guess from the status.
 */
const UNKNOWN_CONSUMER_MESSAGE = 'unknown consumer: register again';

/** The server no longer knows this consumer (for this token): registering anew is the remedy. */
function isUnknownConsumer(err: unknown): boolean {
  return err instanceof CofferBadRequestError && err.errors.includes(UNKNOWN_CONSUMER_MESSAGE);
}

export async function registerConsumer(request: Requester, scheduler: Scheduler, path: string, options: ConsumerOptions, onErrorDefault: (err: unknown) => void): Promise<ConsumerHandle> {
  const cleanPath = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (cleanPath === '') throw new CofferConfigError('a secret path is required');
  const ttl = options.ttl ?? DEFAULT_TTL;
  if (!Number.isInteger(ttl) || ttl < 1) throw new CofferConfigError('ttl must be a positive whole number of seconds');
  const onError = options.onError ?? onErrorDefault;
  const slot = createTimerSlot(scheduler);
  let version = options.version ?? 0;
  /** The last version the server took. */
  let accepted = version;
  /** What the heartbeat repeats: `accepted`, or a newer one a lost request left undelivered. */
  let reporting = version;
  let id = '';
  let closed = false;
  let failures = 0;
  /** The refusal the heartbeat last reported: one that repeats is reported once. */
  let reportedRefusal: string | undefined;

  const register = async (at: number): Promise<void> => {
    const body = { path: cleanPath, ttl, version: at, ...(options.name === undefined ? {} : { name: options.name }) };
    const data = asEnvelope((await request('POST', 'sys/consumers/register', { body })).body).data ?? {};
    if (typeof data['consumer_id'] !== 'string') throw new CofferResponseError('register: the answer has no consumer_id');
    id = data['consumer_id'];
  };

  const report = async (at: number): Promise<void> => {
    try {
      await request('POST', 'sys/consumers/checkin', { body: { consumer_id: id, path: cleanPath, version: at } });
    } catch (err) {
      // Only a consumer the server does not know is registered anew; any other refusal would
      // refuse the new registration too, or succeed and leave this one behind to expire.
      if (!isUnknownConsumer(err)) throw err;
      await register(at);
    }
  };

  // Well within the TTL, so one lost heartbeat does not make the consumer look gone.
  const interval = checkInIntervalMs(ttl);
  const heartbeat = async (): Promise<void> => {
    if (closed) return;
    const at = reporting;
    try {
      await report(at);
      accepted = at;
      failures = 0;
      reportedRefusal = undefined;
      slot.set(interval, heartbeat);
    } catch (err) {
      const refusal = err instanceof CofferBadRequestError ? err.message : undefined;
      // A refused newer version is dropped, as in checkIn; the next beat repeats the one taken.
      if (refusal !== undefined && reporting === at) reporting = accepted;
      // A refusal repeats itself until something changes: say so once, not at every beat.
      if (refusal === undefined || refusal !== reportedRefusal) onError(err);
      reportedRefusal = refusal;
      failures += 1;
      slot.set(Math.min(interval, scheduler.backoff(failures)), heartbeat);
    }
  };

  await register(version);
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
      // Set first: should the server be unreachable, the heartbeat delivers it.
      reporting = next;
      try {
        await report(next);
        accepted = next;
      } catch (err) {
        // Refused: the server still holds the version it took, and repeating this one would
        // only be refused again until the consumer expired. The heartbeat keeps it live.
        if (err instanceof CofferBadRequestError && reporting === next) reporting = accepted;
        throw err;
      }
      slot.set(interval, heartbeat);
    },
    async close() {
      if (closed) return;
      closed = true;
      slot.clear();
      try {
        await request('POST', 'sys/consumers/deregister', { body: { consumer_id: id, path: cleanPath } });
      } catch (err) {
        // Gone already (the server answers 204 for that) or another token's: nothing to remove.
        if (!isUnknownConsumer(err)) throw err;
      }
    },
  };
}
