/**
 * Where templates get their secrets: one read per path, kept until something says it changed.
 *
 *   kv       a KV v2 read (version = metadata.version); re-read on a change event for the path
 *   static   a versioned answer without a lease, such as a static role (version = `version`);
 *            re-read on a `rotate` event, and after its `ttl` (the next scheduled rotation)
 *   plain    any other answer without a lease; re-read on a change event or the render interval
 *   leased   an answer with a lease (dynamic database credentials...): one lease per path for
 *            the whole agent, so a username and a password rendered into different files always
 *            belong together; renewed by the SDK, replaced by a fresh credential when it can no
 *            longer be renewed or has ended (after an outage, as soon as Coffer answers again),
 *            and never dropped by a change event
 *
 * Owns: the cache, the static roles' ttl timers, and a generation count per path so that a read
 * that was in flight when its path changed does not put the stale answer back in the cache.
 * Must never: put a secret value into an error or a log line.
 */
import type { Coffer } from '../sdk/coffer.js';
import type { LeasedSecret } from '../sdk/leased-secret.js';
import { isKvV2Read, secretData, secretTtl, secretVersion } from '../sdk/secret-value.js';
import type { AgentLeases, Secret } from './leases.js';

export type SourceKind = 'kv' | 'static' | 'plain' | 'leased';

export interface SourceValue {
  readonly kind: SourceKind;
  readonly data: Secret;
  /** What a consumer checks in with; undefined for unversioned secrets. */
  readonly version: number | undefined;
}

export interface SecretSource {
  /** The secret at `path`, from the cache or read now. */
  get(path: string): Promise<SourceValue>;
  /**
   * Forgets the cached answer of `path` unless it is leased or already at least `version`.
   * True when the path must be rendered again.
   */
  invalidate(path: string, version?: number | null): boolean;
  /** Forgets every answer except leased ones. */
  invalidateAll(): void;
  /** Reads a fresh secret for every lease (after a re-login the old token's leases are gone). */
  refreshLeases(): Promise<void>;
  /**
   * Reads a fresh secret for every lease that has ended (an outage outlasted it), now rather than
   * at its handle's next retry; the paths replaced go through onChange. For when Coffer is back.
   */
  refreshExpiredLeases(): Promise<void>;
  /** Paths currently held with a lease. */
  leasedPaths(): string[];
  /** Stops the ttl timers; revokes the leases or leaves them to their TTL. */
  close(revokeLeases: boolean): Promise<void>;
}

export interface SecretSourceDeps {
  coffer: Pick<Coffer, 'read'>;
  leases: AgentLeases;
  /** A leased secret was replaced, or a static role's ttl passed: render `path` again. */
  onChange(path: string): void;
}

type Entry = { kind: Exclude<SourceKind, 'leased'>; data: Secret; version: number | undefined } | { kind: 'leased'; handle: LeasedSecret<Secret> };

/** How long after a static role's announced rotation time it is read again. */
const AFTER_TTL_MS = 1000;

export function createSecretSource(deps: SecretSourceDeps): SecretSource {
  const cache = new Map<string, Entry>();
  const generation = new Map<string, number>();
  const ttlTimers = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const gen = (path: string): number => generation.get(path) ?? 0;
  const clearTtl = (path: string): void => {
    const timer = ttlTimers.get(path);
    if (timer) clearTimeout(timer);
    ttlTimers.delete(path);
  };
  const drop = (path: string): void => {
    generation.set(path, gen(path) + 1);
    clearTtl(path);
    const entry = cache.get(path);
    if (entry && entry.kind !== 'leased') cache.delete(path);
  };

  const valueOf = (entry: Entry): SourceValue =>
    entry.kind === 'leased' ? { kind: 'leased', data: entry.handle.current, version: undefined } : entry;

  return {
    async get(path) {
      const cached = cache.get(path);
      if (cached) return valueOf(cached);
      const seen = gen(path);
      const envelope = await deps.coffer.read(path);
      if (envelope.lease_id !== '') {
        const handle = await deps.leases.adopt(path, envelope, () => deps.onChange(path));
        const entry: Entry = { kind: 'leased', handle };
        cache.set(path, entry);
        return valueOf(entry);
      }
      const kv = isKvV2Read(envelope);
      const version = secretVersion(envelope);
      const entry: Entry = { kind: kv ? 'kv' : version === undefined ? 'plain' : 'static', data: secretData(envelope), version };
      // A change announced while this read was in flight: use the answer once, but do not keep it.
      if (gen(path) === seen && !closed) {
        cache.set(path, entry);
        const ttl = secretTtl(envelope);
        if (ttl !== undefined) {
          clearTtl(path);
          const timer = setTimeout(() => {
            ttlTimers.delete(path);
            drop(path);
            deps.onChange(path);
          }, Math.min(ttl * 1000 + AFTER_TTL_MS, 2 ** 31 - 1));
          timer.unref();
          ttlTimers.set(path, timer);
        }
      }
      return entry;
    },
    invalidate(path, version) {
      const entry = cache.get(path);
      if (entry?.kind === 'leased') return false;
      if (entry && typeof version === 'number' && entry.version !== undefined && entry.version >= version) return false;
      drop(path);
      return true;
    },
    invalidateAll() {
      for (const path of [...cache.keys()]) drop(path);
    },
    async refreshLeases() {
      const handles = [...cache.values()].flatMap((e) => (e.kind === 'leased' ? [e.handle] : []));
      const results = await Promise.allSettled(handles.map((h) => h.refresh()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    async refreshExpiredLeases() {
      const handles = [...cache.values()].flatMap((e) => (e.kind === 'leased' ? [e.handle] : []));
      const results = await Promise.allSettled(handles.map((h) => h.refreshIfExpired()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    leasedPaths() {
      return [...cache].flatMap(([path, e]) => (e.kind === 'leased' ? [path] : []));
    },
    async close(revokeLeases) {
      closed = true;
      for (const path of [...ttlTimers.keys()]) clearTtl(path);
      cache.clear();
      if (revokeLeases) await deps.leases.revokeAll();
      else deps.leases.abandon();
    },
  };
}
