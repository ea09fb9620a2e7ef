/**
 * `withRotation(path, fn)`: call `fn` with the current secret at `path` (read once and cached);
 * when `fn` fails because the credential was refused (see auth-errors.ts), read the secret
 * again and call `fn` once more. Works for any readable path: a leased answer (dynamic
 * credentials) is kept as a renewing LeasedSecret, a static role's answer is cached until its
 * `ttl`, a KV secret until an authentication failure says otherwise. A caller that takes part
 * in rotations as a consumer re-reads at least as often as it checks in: a dual-credential
 * rotation keeps the old credential working until its consumers report the new version, so
 * no failure would ever tell it to switch, and the rotation would wait for it in vain.
 *
 * Owns: the per-path cache, one refresh at a time per path (concurrent failures share it), and
 * optional consumer check-ins with the version `fn` succeeded with.
 * Must never: retry more than once, retry on failures that are not authentication failures, or
 * let a check-in failure fail the caller's work.
 */
import { isAuthError as defaultIsAuthError } from './auth-errors.js';
import { checkInIntervalMs, type ConsumerHandle, type ConsumerOptions } from './consumer.js';
import type { LeasedSecret } from './leased-secret.js';
import type { Scheduler } from './scheduler.js';
import { secretData, secretTtl, secretVersion } from './secret-value.js';
import type { Envelope } from './wire.js';

export interface WithRotationOptions {
  /** Whether an error from `fn` means "the credential was refused". Default: pg, mysql2, ioredis codes. */
  isAuthError?: (err: unknown) => boolean;
  /** Register as a consumer of the path and check in with each version `fn` succeeded with. */
  consumer?: Pick<ConsumerOptions, 'name' | 'ttl'>;
}

type Secret = Record<string, unknown>;

interface Snapshot {
  value: Secret;
  version: number | undefined;
  generation: number;
}

interface Entry {
  handle: LeasedSecret<Secret> | undefined;
  value: Secret;
  version: number | undefined;
  generation: number;
  /** Milliseconds since the epoch after which a non-leased secret is read again; 0: never. */
  staleAt: number;
  /** When it was read (scheduler ms). */
  readAt: number;
}

export interface RotationDeps {
  read(path: string): Promise<Envelope<unknown>>;
  /** Wraps a leased answer in a renewing handle (owned by the cache from then on). */
  openLeased(path: string, initial: Envelope<unknown>): Promise<LeasedSecret<Secret>>;
  registerConsumer(path: string, options: ConsumerOptions): Promise<ConsumerHandle>;
  scheduler: Scheduler;
  onError(err: unknown): void;
}

export interface RotationHelper {
  run<T, R>(path: string, fn: (secret: T) => R | Promise<R>, options?: WithRotationOptions): Promise<R>;
  /** Forgets the cached secret of `path` (the next call reads it again). */
  invalidate(path: string): Promise<void>;
  close(): Promise<void>;
}

const clean = (path: string): string => path.replace(/^\/+/, '').replace(/\/+$/, '');

export function createRotationHelper(deps: RotationDeps): RotationHelper {
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<Entry>>();
  const refreshing = new Map<string, Promise<Snapshot>>();
  const consumers = new Map<string, Promise<ConsumerHandle>>();

  const snapshot = (entry: Entry): Snapshot =>
    entry.handle
      ? { value: entry.handle.current, version: entry.version, generation: entry.handle.generation }
      : { value: entry.value, version: entry.version, generation: entry.generation };

  const load = async (path: string, generation: number): Promise<Entry> => {
    const envelope = await deps.read(path);
    const version = secretVersion(envelope);
    const readAt = deps.scheduler.now();
    if (envelope.lease_id !== '') {
      const handle = await deps.openLeased(path, envelope);
      return { handle, value: handle.current, version, generation, staleAt: 0, readAt };
    }
    const ttl = secretTtl(envelope);
    return { handle: undefined, value: secretData(envelope), version, generation, staleAt: ttl === undefined ? 0 : readAt + ttl * 1000, readAt };
  };

  /** Whether a cached entry may still be used; `maxAgeMs` bounds a non-leased one's age. */
  const fresh = (entry: Entry, maxAgeMs: number | undefined): boolean => {
    const now = deps.scheduler.now();
    if (entry.staleAt !== 0 && now >= entry.staleAt) return false;
    return entry.handle !== undefined || maxAgeMs === undefined || now - entry.readAt < maxAgeMs;
  };

  const current = async (path: string, maxAgeMs: number | undefined): Promise<Snapshot> => {
    const entry = entries.get(path);
    if (entry && fresh(entry, maxAgeMs)) return snapshot(entry);
    let pending = loading.get(path);
    if (!pending) {
      pending = load(path, (entry?.generation ?? 0) + 1)
        .then((loaded) => {
          entries.set(path, loaded);
          return loaded;
        })
        .finally(() => loading.delete(path));
      loading.set(path, pending);
    }
    return snapshot(await pending);
  };

  /** A fresh secret, unless another caller already replaced the one `seen` belongs to. */
  const refresh = (path: string, seen: number): Promise<Snapshot> => {
    const entry = entries.get(path);
    if (entry && snapshot(entry).generation > seen) return Promise.resolve(snapshot(entry));
    let pending = refreshing.get(path);
    if (!pending) {
      pending = (async (): Promise<Snapshot> => {
        if (entry?.handle) {
          await entry.handle.refresh();
          return snapshot(entry);
        }
        const loaded = await load(path, (entry?.generation ?? 0) + 1);
        entries.set(path, loaded);
        return snapshot(loaded);
      })().finally(() => refreshing.delete(path));
      refreshing.set(path, pending);
    }
    return pending;
  };

  const checkIn = async (path: string, version: number | undefined, options: WithRotationOptions): Promise<void> => {
    if (!options.consumer || version === undefined) return;
    try {
      let pending = consumers.get(path);
      if (!pending) {
        pending = deps.registerConsumer(path, { ...options.consumer, version });
        consumers.set(path, pending);
        pending.catch(() => consumers.delete(path));
      }
      const consumer = await pending;
      if (consumer.version !== version) await consumer.checkIn(version);
    } catch (err) {
      deps.onError(err);
    }
  };

  return {
    async run<T, R>(rawPath: string, fn: (secret: T) => R | Promise<R>, options: WithRotationOptions = {}): Promise<R> {
      const path = clean(rawPath);
      const isAuthError = options.isAuthError ?? defaultIsAuthError;
      const first = await current(path, options.consumer ? checkInIntervalMs(options.consumer.ttl) : undefined);
      let result: R;
      let used = first;
      try {
        result = await fn(first.value as T);
      } catch (err) {
        if (!isAuthError(err)) throw err;
        used = await refresh(path, first.generation);
        result = await fn(used.value as T);
      }
      await checkIn(path, used.version, options);
      return result;
    },
    async invalidate(rawPath) {
      const path = clean(rawPath);
      const entry = entries.get(path);
      entries.delete(path);
      await entry?.handle?.close();
    },
    async close() {
      const handles = [...entries.values()].flatMap((e) => (e.handle ? [e.handle] : []));
      entries.clear();
      const open = await Promise.allSettled([...consumers.values()]);
      consumers.clear();
      const results = await Promise.allSettled([
        ...handles.map((h) => h.close()),
        ...open.flatMap((r) => (r.status === 'fulfilled' ? [r.value.close()] : [])),
      ]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
