/**
 * The agent as a consumer: for each secret path it renders with a version (a static role, or a
 * KV v2 secret when asked), it registers once (`coffer.consumer(path)`) and checks in with the
 * version its files now hold. The agent reports a version only after every file rendered from
 * that path was written with it, so a dual-credential rotation that sees the check-in may
 * revoke the old user: the application has the new credential on disk.
 *
 * The SDK's consumer handle keeps the check-in alive (heartbeat) and registers again when the
 * server forgot it; this module adds the retry, with backoff, of a registration or check-in
 * that failed because Coffer was unreachable, or that it refused (a version above the secret's
 * current one: it may be there by the next try). A refusal that repeats is reported once.
 *
 * Owns: the wanted version per path, one registration per path, retry timers.
 * Must never: report a version that is not on disk yet, or a lower version than already reported.
 */
import type { Coffer } from '../sdk/coffer.js';
import type { ConsumerHandle } from '../sdk/consumer.js';
import { CofferBadRequestError } from '../sdk/errors.js';

export interface CheckIns {
  /** The files now hold `version` of `path`: report it (registering first), retrying on failure. */
  report(path: string, version: number): void;
  /** path → consumer id, for the paths registered so far. */
  ids(): ReadonlyMap<string, string>;
  /** path → the version the server last accepted. */
  versions(): ReadonlyMap<string, number>;
  /** Stops retrying (deregistering is left to coffer.close()). */
  stop(): void;
}

export interface CheckInDeps {
  coffer: Pick<Coffer, 'consumer'>;
  name: string;
  ttl: number;
  backoff(attempt: number): number;
  onError(path: string, err: unknown): void;
  onCheckIn?(path: string, version: number, consumerId: string): void;
}

interface PathState {
  wanted: number;
  handle: ConsumerHandle | undefined;
  accepted: number;
  running: boolean;
  failures: number;
  /** The refusal last reported for this path, so that retries refused alike stay quiet. */
  refusal: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

export function createCheckIns(deps: CheckInDeps): CheckIns {
  const states = new Map<string, PathState>();
  let stopped = false;

  const sync = async (path: string, state: PathState): Promise<void> => {
    if (state.running || stopped) return;
    state.running = true;
    try {
      while (!stopped && state.accepted < state.wanted) {
        const version = state.wanted;
        if (!state.handle) state.handle = await deps.coffer.consumer(path, { name: deps.name, ttl: deps.ttl, version });
        else await state.handle.checkIn(version);
        state.accepted = version;
        state.failures = 0;
        state.refusal = undefined;
        deps.onCheckIn?.(path, version, state.handle.id);
      }
    } catch (err) {
      if (stopped) return;
      const refusal = err instanceof CofferBadRequestError ? err.message : undefined;
      if (refusal === undefined || refusal !== state.refusal) deps.onError(path, err);
      state.refusal = refusal;
      state.failures += 1;
      if (state.timer) clearTimeout(state.timer);
      state.timer = setTimeout(() => {
        state.timer = undefined;
        void sync(path, state);
      }, deps.backoff(state.failures));
      state.timer.unref();
    } finally {
      state.running = false;
    }
  };

  return {
    report(path, version) {
      if (stopped) return;
      let state = states.get(path);
      if (!state) {
        state = { wanted: 0, handle: undefined, accepted: 0, running: false, failures: 0, refusal: undefined, timer: undefined };
        states.set(path, state);
      }
      if (version <= state.wanted) return;
      state.wanted = version;
      void sync(path, state);
    },
    ids() {
      return new Map([...states].flatMap(([path, s]) => (s.handle ? [[path, s.handle.id] as const] : [])));
    },
    versions() {
      return new Map([...states].map(([path, s]) => [path, s.accepted] as const));
    },
    stop() {
      stopped = true;
      for (const state of states.values()) if (state.timer) clearTimeout(state.timer);
    },
  };
}
