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
  /**
   * Increasing, and across restarts too (it starts from the process's start time, see
   * createEventBus); long-poll clients pass the last one they saw.
   */
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
  /**
   * Events with seq > after still in the ring, oldest first; `complete` is false when some were
   * dropped, or `after` is not a number this process gave out (another process's numbering).
   */
  since(after: number): { events: ChangeEvent[]; complete: boolean };
  readonly lastSeq: number;
  /**
   * Called once at the next `endStreams`: a watch stream registers here to close when the
   * server seals (its token and policies can no longer be checked). Returns the unregister.
   */
  onEndStreams(listener: () => void): () => void;
  /** Ends every open watch stream (the server is sealing). */
  endStreams(): void;
}

export function createEventBus(options: { clock: { now(): number }; ringSize?: number }): EventBus {
  const ringSize = options.ringSize ?? 10_000;
  // A circular buffer indexed by sequence number (seqs are consecutive): publishing is O(1),
  // where shifting an array of 10,000 events cost more than the rest of a KV write's CPU.
  const ring: Array<ChangeEvent | undefined> = new Array(ringSize);
  const listeners = new Set<ChangeListener>();
  const enders = new Set<() => void>();
  // Numbering starts at this process's start time in ms × 1000, so it keeps growing across
  // restarts (up to 1,000 events per millisecond of uptime): a client that reconnects with a
  // number from an earlier process is told it missed events, which were never kept here,
  // rather than being taken as up to date while the first events after the restart pass by.
  const first = Math.max(1, Math.floor(options.clock.now()) * 1000);
  let seq = first - 1;
  const slot = (n: number): number => (n - first) % ringSize;
  return {
    publish(input) {
      seq += 1;
      const event: ChangeEvent = { ...input, seq, time: options.clock.now() };
      ring[slot(seq)] = event;
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
    onEndStreams(listener) {
      enders.add(listener);
      return () => enders.delete(listener);
    },
    endStreams() {
      const ending = [...enders];
      enders.clear();
      for (const end of ending) {
        try {
          end();
        } catch {
          // One stream failing to close must not keep the others open.
        }
      }
    },
    since(after) {
      const oldest = Math.max(first, seq - ringSize + 1);
      // Complete only from a number this process gave out (or the one before its first): an
      // older one is from an earlier process, a larger one from another numbering altogether.
      const complete = after >= oldest - 1 && after <= seq;
      const events: ChangeEvent[] = [];
      for (let n = Math.max(after + 1, oldest); n <= seq; n += 1) events.push(ring[slot(n)] as ChangeEvent);
      return { events, complete };
    },
    get lastSeq() {
      return seq;
    },
  };
}
