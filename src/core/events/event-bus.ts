/**
 * Change events: "the secret at this path now has this version". Published by the core after
 * every successful write to a secrets mount, and by engines for changes they make on their own
 * (a static role's rotation). Watchers (sys/watch) receive them filtered by their token's ACL.
 *
 * In memory only, with a bounded ring of recent events for long-polling clients that reconnect;
 * a client that falls further behind than the ring re-reads what it watches.
 */
export type ChangeKind = 'write' | 'delete' | 'undelete' | 'destroy' | 'metadata' | 'rotate' | 'revoke';

export interface ChangeEvent {
  /** Monotonic per server process; long-poll clients pass the last one they saw. */
  seq: number;
  /** The path a reader reads, e.g. 'secret/data/app/db' or 'database/static-creds/app'. */
  path: string;
  /** The version the path now has, when it has versions. */
  version: number | null;
  event: ChangeKind;
  /** Milliseconds since the epoch. */
  time: number;
}

export type ChangeListener = (event: ChangeEvent) => void;

export interface EventBus {
  publish(event: Omit<ChangeEvent, 'seq' | 'time'>): ChangeEvent;
  /** Returns the unsubscribe function. Listeners run synchronously and must not throw. */
  subscribe(listener: ChangeListener): () => void;
  /** Events with seq > after still in the ring, oldest first; `complete` is false when some were dropped. */
  since(after: number): { events: ChangeEvent[]; complete: boolean };
  readonly lastSeq: number;
}

export function createEventBus(options: { clock: { now(): number }; ringSize?: number }): EventBus {
  const ringSize = options.ringSize ?? 10_000;
  const ring: ChangeEvent[] = [];
  const listeners = new Set<ChangeListener>();
  let seq = 0;
  return {
    publish(input) {
      seq += 1;
      const event: ChangeEvent = { ...input, seq, time: options.clock.now() };
      ring.push(event);
      if (ring.length > ringSize) ring.splice(0, ring.length - ringSize);
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // A broken watcher must not stop delivery to the others.
        }
      }
      return event;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    since(after) {
      const first = ring[0];
      const complete = first === undefined ? after >= seq : after >= first.seq - 1;
      return { events: ring.filter((e) => e.seq > after), complete };
    },
    get lastSeq() {
      return seq;
    },
  };
}
