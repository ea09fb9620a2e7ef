/**
 * Token buckets per (quota, client address), as Vault's rate limit quotas: a client may send
 * `rate` requests at once, then `rate` more per `interval`, refilled continuously. A quota with
 * a block interval locks a client that ran dry out of it for that long.
 *
 * Owns: the buckets, kept in memory on this node only (Vault does not replicate them either).
 * Must never: grow without bound. At most `maxClients` buckets are kept (least recently used
 * go first); a forgotten bucket is indistinguishable from a full one unless its client was
 * blocked or short of tokens, so only the quietest clients lose anything.
 */
import { LRUCache } from 'lru-cache';

export interface RateLimitRule {
  /** Distinguishes buckets; a changed rule should get a new key (quota-store.ts). */
  readonly key: string;
  /**
   * Requests per interval, refilled continuously; also the burst, but never below one request,
   * so a rate under 1 (0.5 per second: one request every 2 s) slows a client without ever
   * locking it out. Positive.
   */
  readonly rate: number;
  readonly intervalSeconds: number;
  /** 0: no lock-out. */
  readonly blockSeconds: number;
}

export interface RateDecision {
  readonly allowed: boolean;
  /** The rule's rate, for X-Ratelimit-Limit. */
  readonly limit: number;
  /** Whole requests left right now. */
  readonly remaining: number;
  /** Seconds until the bucket is full again (X-Ratelimit-Reset). */
  readonly resetSeconds: number;
  /** When refused: seconds until a request can succeed (Retry-After, at least 1). */
  readonly retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  blockedUntil: number;
}

export interface RateLimiter {
  take(rule: RateLimitRule, client: string): RateDecision;
  /** Drops every bucket (a seal, or the quotas changed). */
  clear(): void;
}

export const DEFAULT_MAX_TRACKED_CLIENTS = 100_000;

export function createRateLimiter(options: { now(): number; maxClients?: number }): RateLimiter {
  const buckets = new LRUCache<string, Bucket>({ max: options.maxClients ?? DEFAULT_MAX_TRACKED_CLIENTS });
  return {
    take(rule, client) {
      const now = options.now();
      const id = `${rule.key}\u0000${client}`;
      const perMs = rule.rate / (rule.intervalSeconds * 1000);
      const capacity = Math.max(1, rule.rate);
      // Whole requests, as Vault's X-Ratelimit-Limit.
      const limit = Math.floor(capacity);
      let bucket = buckets.get(id);
      if (bucket === undefined) {
        bucket = { tokens: capacity, updatedAt: now, blockedUntil: 0 };
        buckets.set(id, bucket);
      } else {
        bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.updatedAt) * perMs);
        bucket.updatedAt = now;
      }
      const resetFrom = (tokens: number): number => Math.ceil((capacity - tokens) / perMs / 1000);
      if (now < bucket.blockedUntil) {
        return { allowed: false, limit, remaining: 0, resetSeconds: resetFrom(bucket.tokens), retryAfterSeconds: Math.max(1, Math.ceil((bucket.blockedUntil - now) / 1000)) };
      }
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true, limit, remaining: Math.floor(bucket.tokens), resetSeconds: resetFrom(bucket.tokens), retryAfterSeconds: 0 };
      }
      if (rule.blockSeconds > 0) bucket.blockedUntil = now + rule.blockSeconds * 1000;
      const untilToken = rule.blockSeconds > 0 ? rule.blockSeconds * 1000 : (1 - bucket.tokens) / perMs;
      return { allowed: false, limit, remaining: 0, resetSeconds: resetFrom(bucket.tokens), retryAfterSeconds: Math.max(1, Math.ceil(untilToken / 1000)) };
    },
    clear: () => buckets.clear(),
  };
}
