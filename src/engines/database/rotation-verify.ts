/**
 * Step 4 of a rotation: has every live consumer of the static credential switched to the new
 * version? Reads the consumer registry (`ctx.consumers.list(path)`), which the consumers
 * themselves keep current through sys/consumers/checkin.
 *
 * Owns: the rule. A consumer that reports version >= the new one has confirmed (at the moment
 * the registry saw that version first); a live one that reports less is still pending; one that
 * stopped checking in (no longer live) holds nothing up and is listed as expired.
 * Must never: sleep on a wall clock for the deadline. The deadline is on the engine's Clock, so
 * tests move time instead of waiting; only the pause between two looks is real time.
 */
import type { ConsumerRegistry } from '../../core/consumers/consumer-registry.js';
import type { Clock } from '../../core/clock.js';
import { classifyConsumers, verifyDeadline, type ConsumerConfirmation, type ConsumerStanding } from '../../core/consumers/verification.js';

/** Where the consumers stand; `pending` are the live ones that have not switched yet. */
export type ConsumerSnapshot = ConsumerStanding;
export { classifyConsumers };

export interface WaitDeps {
  consumers: Pick<ConsumerRegistry, 'list' | 'servingSince'> | undefined;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  /** Throws when the engine stopped, so a wait never outlives its server. */
  guard: () => void;
}

export interface WaitInput {
  path: string;
  toVersion: number;
  /** Milliseconds of `clock`. */
  deadline: number;
  /** When the verify step began (ms of `clock`): a restart after it extends the deadline (verifyDeadline). */
  startedAt?: number;
  /** The role's verify_timeout, ms: at most what a restart gives back. */
  windowMs?: number;
  earlier: readonly ConsumerConfirmation[];
  minPollMs: number;
  maxPollMs: number;
  /** Look once and return, without waiting (a held rotation re-checked by the scheduler). */
  once?: boolean;
  /** Called whenever the set of confirmed or pending consumers changed, to store progress. */
  onProgress?: (snapshot: ConsumerSnapshot) => Promise<void>;
}

export interface WaitResult extends ConsumerSnapshot {
  /** Every live consumer confirmed (or there were none). */
  done: boolean;
}

const signature = (s: ConsumerSnapshot): string =>
  `${s.confirmed.map((c) => c.id).join(',')}|${s.pending.map((p) => p.id).join(',')}|${s.expired.map((p) => p.id).join(',')}`;

export async function waitForConsumers(deps: WaitDeps, input: WaitInput): Promise<WaitResult> {
  // Without a registry (an engine built by a harness without one) nobody can be waited for.
  if (!deps.consumers) return { done: true, confirmed: [], pending: [], expired: [] };
  let poll = input.minPollMs;
  let last = '';
  let earlier = input.earlier;
  for (;;) {
    deps.guard();
    const list = await deps.consumers.list(input.path);
    const snapshot = classifyConsumers(list, input.toVersion, earlier);
    deps.guard();
    earlier = snapshot.confirmed;
    if (snapshot.pending.length === 0) return { done: true, ...snapshot };
    const deadline = verifyDeadline(input.deadline, input.startedAt, input.windowMs ?? 0, list, input.toVersion, deps.consumers.servingSince?.());
    if (input.once || deps.clock.now() >= deadline) return { done: false, ...snapshot };
    const sig = signature(snapshot);
    if (sig !== last) {
      if (input.onProgress) await input.onProgress(snapshot);
      // Someone moved: the rest are probably switching too, so look again soon.
      poll = input.minPollMs;
    }
    last = sig;
    await deps.sleep(poll);
    poll = Math.min(input.maxPollMs, poll * 2);
  }
}
