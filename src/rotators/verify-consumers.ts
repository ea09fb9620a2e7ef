/**
 * The verify step's rule: has every live consumer of the secret switched to the new version?
 * Consumers keep their entry current themselves (`sys/consumers/checkin`); this only reads
 * the registry.
 *
 * A consumer reporting a version >= the new one has confirmed (at the moment the registry first
 * saw that version); a live one reporting less is a straggler; one that stopped checking in
 * holds nothing up and is listed as expired. Confirmations already recorded are kept, so a
 * consumer that deregistered after switching still counts.
 * Must never: wait on a wall clock for the deadline; the caller compares against its Clock.
 */
import type { ConsumerView } from '../core/consumers/consumer-registry.js';
import type { Confirmation, Straggler } from './rotation-record.js';

export interface ConsumerStanding {
  confirmed: Confirmation[];
  stragglers: Straggler[];
  expired: Straggler[];
}

const straggler = (c: ConsumerView): Straggler => ({ id: c.id, name: c.name, version: c.version, lastCheckIn: c.lastCheckIn });

export function classifyConsumers(list: readonly ConsumerView[], toVersion: number, earlier: readonly Confirmation[]): ConsumerStanding {
  const confirmed = new Map(earlier.map((c) => [c.id, c]));
  const stragglers: Straggler[] = [];
  const expired: Straggler[] = [];
  for (const consumer of list) {
    if (consumer.version >= toVersion) {
      if (!confirmed.has(consumer.id)) confirmed.set(consumer.id, { id: consumer.id, name: consumer.name, version: consumer.version, at: consumer.versionSince });
    } else if (!confirmed.has(consumer.id)) {
      (consumer.live ? stragglers : expired).push(straggler(consumer));
    }
  }
  return { confirmed: [...confirmed.values()].sort((a, b) => a.at - b.at), stragglers, expired };
}
