/**
 * The verify step every rotation shares (database static roles, webhook rotators): has every
 * live consumer of a secret switched to the new version? Consumers keep their own entries
 * current (`sys/consumers/checkin`); this only classifies what the registry says.
 *
 * A consumer reporting a version >= the new one has confirmed, at the moment the registry first
 * saw that version. Confirmations recorded earlier are kept, so a consumer that deregistered (or
 * went quiet) after switching still counts. A live consumer that has not confirmed is pending; one
 * that stopped checking in holds nothing up and is listed as expired.
 * Must never: wait on a clock; callers compare deadlines against their own Clock.
 */
import type { ConsumerView } from './consumer-registry.js';

export interface ConsumerConfirmation {
  id: string;
  name: string;
  version: number;
  /** When the consumer first reported the new version (the registry's versionSince). */
  at: number;
}

export interface Straggler {
  id: string;
  name: string;
  /** The version it still reports. */
  version: number;
  lastCheckIn: number;
}

export interface ConsumerStanding {
  confirmed: ConsumerConfirmation[];
  pending: Straggler[];
  expired: Straggler[];
}

/**
 * How a verify that waits for nobody any more ended: someone confirmed; or consumers there were
 * all stopped checking in without confirming (they may still hold the old credential, so this is
 * not the same as having none); or there were none.
 */
export function settledOutcome(standing: Pick<ConsumerStanding, 'confirmed' | 'expired'>): 'confirmed' | 'consumers_expired' | 'no_consumers' {
  if (standing.confirmed.length > 0) return 'confirmed';
  return standing.expired.length > 0 ? 'consumers_expired' : 'no_consumers';
}

/**
 * The verify deadline, pushed back when the server was restarted or unsealed after verify began
 * (`startedAt`): a consumer could not check in while it was down or sealed, so each live
 * consumer that has not switched gets, from when the server serves again, the verify window
 * (`windowMs`) once more, or its own TTL if that is shorter (its next check-in is due within
 * it). Otherwise a restart longer than verify_timeout would revoke, at once, a credential
 * consumers still use.
 */
export function verifyDeadline(
  deadline: number,
  startedAt: number | undefined,
  windowMs: number,
  list: readonly ConsumerView[],
  toVersion: number,
  servingSince: number | undefined,
): number {
  if (servingSince === undefined || startedAt === undefined || servingSince <= startedAt) return deadline;
  let latest = deadline;
  for (const consumer of list) {
    if (consumer.live && consumer.version < toVersion) latest = Math.max(latest, servingSince + Math.min(windowMs, consumer.ttl * 1000));
  }
  return latest;
}

const straggler = (c: ConsumerView): Straggler => ({ id: c.id, name: c.name, version: c.version, lastCheckIn: c.lastCheckIn });

export function classifyConsumers(list: readonly ConsumerView[], toVersion: number, earlier: readonly ConsumerConfirmation[] = []): ConsumerStanding {
  const confirmed = new Map(earlier.map((c) => [c.id, c]));
  const pending: Straggler[] = [];
  const expired: Straggler[] = [];
  for (const consumer of list) {
    if (consumer.version >= toVersion) {
      if (!confirmed.has(consumer.id)) confirmed.set(consumer.id, { id: consumer.id, name: consumer.name, version: consumer.version, at: consumer.versionSince });
    } else if (!confirmed.has(consumer.id)) {
      (consumer.live ? pending : expired).push(straggler(consumer));
    }
  }
  return { confirmed: [...confirmed.values()].sort((a, b) => a.at - b.at), pending, expired };
}

/**
 * How many consumers a log line or an audit entry names; the rest are counted. A path may have
 * thousands of consumers (consumer-registry.ts caps it at 5,000), and a line naming them all
 * would be hundreds of kilobytes.
 */
export const NAMED_IN_LOGS = 50;

/** The first NAMED_IN_LOGS of `items`, for a log line or an audit entry that also gives the count. */
export function namedInLogs<T>(items: readonly T[]): T[] {
  return items.slice(0, NAMED_IN_LOGS);
}
