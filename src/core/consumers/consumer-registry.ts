/**
 * Consumers: application instances that declare they use a secret and report which version of
 * it they hold. Rotation reads this to know when every live consumer has switched to the new
 * credential before it revokes the old one.
 *
 * A consumer is live while it keeps checking in within its TTL and the token that registered it
 * is valid; one that stops, or whose token is gone, is expired and no longer holds a rotation up. Durable (behind the barrier), so a restart mid-rotation still
 * knows who confirmed what. Silence is counted only while this server could take check-ins: a
 * consumer cannot check in while the server is down, sealed or still loading, so after an
 * unseal every consumer gets one TTL to check in again before it counts as expired (else a
 * restart mid-rotation would find every consumer expired and revoke what they still use).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { badRequest } from '../errors.js';
import { randomBase62 } from '../ids.js';
import { createKeyedMutex } from '../keyed-mutex.js';
import { getJson, putJson, type Storage } from '../storage/storage.js';

export interface Consumer {
  id: string;
  /** The secret path it consumes, as read through the API ('database/static-creds/app'). */
  path: string;
  /** The version it last said it uses; 0 until its first check-in with a version. */
  version: number;
  /** Free-form, non-secret description: host, pod, process. */
  name: string;
  /** Milliseconds since the epoch. */
  registeredAt: number;
  lastCheckIn: number;
  /** When `version` was first reported at its current value. */
  versionSince: number;
  /** Seconds without a check-in after which the consumer is expired. */
  ttl: number;
  /**
   * The accessor of the token that registered it: only that token may check in for it or
   * deregister it. Absent on records from before owners were kept (anyone who can read the path).
   */
  owner?: string;
}

export interface ConsumerView extends Consumer {
  live: boolean;
}

export interface ConsumerRegistry {
  register(input: { path: string; name?: string; ttl?: number; version?: number; owner?: string }): Promise<Consumer>;
  /** `owner`: the caller's token accessor; a consumer another token registered is unknown to it. */
  checkIn(id: string, path: string, version: number, owner?: string): Promise<Consumer>;
  /** `asOperator`: a caller with sudo may remove any consumer (a dead pod holding a rotation). */
  deregister(id: string, path: string, owner?: string, asOperator?: boolean): Promise<void>;
  /** Every consumer of a path, live or expired (expired ones are removed after 10 × TTL). */
  list(path: string): Promise<ConsumerView[]>;
  /** Since when this server takes check-ins (its last unseal); undefined while it cannot. */
  servingSince?(): number | undefined;
}

/**
 * The whole message of the 400 for a check-in or deregistration naming a consumer this token
 * does not have (never registered, forgotten after expiry, deregistered, or another token's).
 * A wire contract: the SDK registers anew on exactly this message and on no other 400 (a
 * version above the secret's, bad input), since Vault's error body has only the status and the
 * messages. Changing it breaks every deployed SDK's re-registration.
 */
export const UNKNOWN_CONSUMER_MESSAGE = 'unknown consumer: register again';

const DEFAULT_TTL = 60;
const MAX_TTL = 24 * 3600;
/**
 * Registrations one token may hold for one path, and one path in all. Any token that may read a
 * secret may register as its consumer, and every registration is read at each poll of a
 * rotation's verify and named in its record: unbounded, a read-only token could make every
 * rotation of the secret slow and its records megabytes. 100 covers a client re-registering
 * after restarts within 10 TTLs; 5,000 a fleet of pods each with its own token.
 */
export const MAX_CONSUMERS_PER_TOKEN = 100;
export const MAX_CONSUMERS_PER_PATH = 5_000;
const FULL_PATH_SWEEP_MS = 10_000;

const pathKey = (path: string): string => createHash('sha256').update(path).digest('hex').slice(0, 32);
/**
 * Leads the id of every consumer a token registers, so that token's registrations for a path
 * are counted from the key listing alone, without reading (decrypting) each record.
 */
const ownerTag = (owner: string | undefined): string => createHash('sha256').update(`consumer-owner:${owner ?? ''}`).digest('hex').slice(0, 8);
const consumerKey = (path: string, id: string): string => `${pathKey(path)}/${id}`;

export interface ConsumerRegistryDeps {
  storage: Storage;
  clock: Clock;
  /**
   * Since when (`clock` ms) this server has been taking check-ins: its last unseal, once loaded.
   * undefined while it cannot (sealed, loading): then nobody's silence counts. Default: since
   * the registry was made.
   */
  servingSince?: () => number | undefined;
  /**
   * Whether the token with this accessor is still valid. A consumer whose owner token is gone
   * (revoked, expired: a client that logged in again registers anew under its new token) can
   * never check in again, so it is not live and holds no rotation up. Default: always valid.
   */
  ownerAlive?: (accessor: string) => Promise<boolean>;
  /** Test hook: other caps than MAX_CONSUMERS_PER_TOKEN and MAX_CONSUMERS_PER_PATH. */
  limits?: { perToken: number; perPath: number };
}

export function createConsumerRegistry(deps: ConsumerRegistryDeps): ConsumerRegistry {
  const { storage, clock } = deps;
  const { perToken, perPath } = deps.limits ?? { perToken: MAX_CONSUMERS_PER_TOKEN, perPath: MAX_CONSUMERS_PER_PATH };
  const createdAt = clock.now();
  const servingSince = deps.servingSince ?? ((): number => createdAt);
  /** How long a consumer has been silent while it could have checked in. */
  const silence = (consumer: Consumer, now: number): number => {
    const since = servingSince();
    return since === undefined ? 0 : now - Math.max(consumer.lastCheckIn, since);
  };
  const validPath = (path: unknown): string => {
    if (typeof path !== 'string' || path === '' || path.length > 1024) throw badRequest('missing or invalid path');
    return path.replace(/^\/+/, '');
  };
  const read = async (path: string, id: string, owner: string | undefined): Promise<Consumer> => {
    if (!/^[0-9A-Za-z]{1,64}$/.test(id)) throw badRequest('invalid consumer_id');
    const consumer = await getJson<Consumer>(storage, consumerKey(path, id));
    // Another token's consumer answers as a missing one: a reader of the path must not confirm
    // (or remove) someone else's switch, and a client whose token changed simply registers again.
    if (!consumer || (consumer.owner !== undefined && consumer.owner !== owner)) throw badRequest(UNKNOWN_CONSUMER_MESSAGE);
    return consumer;
  };
  const list = async (rawPath: string): Promise<ConsumerView[]> => {
    const path = validPath(rawPath);
    const now = clock.now();
    const out: ConsumerView[] = [];
    const owners = new Map<string, Promise<boolean>>();
    const ownerAlive = (owner: string | undefined): Promise<boolean> => {
      if (owner === undefined || deps.ownerAlive === undefined) return Promise.resolve(true);
      let alive = owners.get(owner);
      if (alive === undefined) owners.set(owner, (alive = deps.ownerAlive(owner)));
      return alive;
    };
    for (const id of await storage.list(`${pathKey(path)}/`)) {
      const consumer = await getJson<Consumer>(storage, `${pathKey(path)}/${id}`);
      if (!consumer) continue;
      const silentFor = silence(consumer, now);
      if (silentFor > consumer.ttl * 10_000) {
        await storage.delete(`${pathKey(path)}/${id}`);
        continue;
      }
      out.push({ ...consumer, live: silentFor <= consumer.ttl * 1000 && (await ownerAlive(consumer.owner)) });
    }
    return out.sort((a, b) => a.registeredAt - b.registeredAt);
  };

  const registrations = createKeyedMutex();
  /** When each full path was last swept for registrations that hold nothing up. */
  const lastFullSweep = new Map<string, number>();
  const registerUnder = async (path: string, ttl: number, input: { name?: string; version?: number; owner?: string }): Promise<Consumer> => {
    const now = clock.now();
    const tag = ownerTag(input.owner);
    const folder = `${pathKey(path)}/`;
    let ids = await storage.list(folder);
    const mine = (): string[] => ids.filter((id) => id.startsWith(tag));
    if (mine().length >= perToken) {
      // Its registrations that stopped checking in make room: they no longer hold anything up.
      for (const id of mine()) {
        const stored = await getJson<Consumer>(storage, `${folder}${id}`);
        if (stored !== undefined && silence(stored, now) > stored.ttl * 1000) await storage.delete(`${folder}${id}`);
      }
      ids = await storage.list(folder);
      if (mine().length >= perToken) {
        throw badRequest(`this token already has ${perToken} live consumers registered for this path: deregister one first`);
      }
    }
    if (ids.length >= perPath) {
      // A full path makes room from registrations that hold nothing up any more (silent past
      // their TTL, or whose token is gone), which would otherwise fill it for 10 TTLs. The sweep
      // reads every registration, so a path that stays full is swept at most every 10 s.
      if (now - (lastFullSweep.get(path) ?? -Infinity) >= FULL_PATH_SWEEP_MS) {
        lastFullSweep.set(path, now);
        for (const consumer of await list(path)) {
          if (!consumer.live) await storage.delete(consumerKey(path, consumer.id));
        }
        ids = await storage.list(folder);
      }
      if (ids.length >= perPath) throw badRequest(`this path already has ${perPath} consumers registered`);
    }
    const consumer: Consumer = {
      id: `${tag}${randomBase62(20)}`,
      path,
      version: input.version ?? 0,
      name: (input.name ?? '').slice(0, 256),
      registeredAt: now,
      lastCheckIn: now,
      versionSince: now,
      ttl,
      ...(input.owner === undefined ? {} : { owner: input.owner }),
    };
    await putJson(storage, consumerKey(path, consumer.id), consumer);
    return consumer;
  };

  return {
    servingSince,
    async register(input) {
      const path = validPath(input.path);
      const ttl = input.ttl ?? DEFAULT_TTL;
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) throw badRequest(`ttl must be between 1 and ${MAX_TTL} seconds`);
      // Counted and written under the path's lock: concurrent registrations must not all pass
      // a count taken before any of them was written.
      return registrations.run(path, () => registerUnder(path, ttl, input));
    },
    async checkIn(id, rawPath, version, owner) {
      const path = validPath(rawPath);
      if (!Number.isInteger(version) || version < 0) throw badRequest('version must be a non-negative integer');
      const consumer = await read(path, id, owner);
      const now = clock.now();
      const next: Consumer = { ...consumer, lastCheckIn: now, version, versionSince: version === consumer.version ? consumer.versionSince : now };
      await putJson(storage, consumerKey(path, id), next);
      return next;
    },
    async deregister(id, rawPath, owner, asOperator = false) {
      const path = validPath(rawPath);
      // Gone already is done; another token's consumer is refused as unknown.
      const stored = /^[0-9A-Za-z]{1,64}$/.test(id) ? await getJson<Consumer>(storage, consumerKey(path, id)) : undefined;
      if (stored === undefined) return;
      if (!asOperator) await read(path, id, owner);
      await storage.delete(consumerKey(path, id));
    },
    list,
  };
}
