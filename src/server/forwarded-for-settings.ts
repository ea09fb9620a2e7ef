/**
 * The `x_forwarded_for_*` settings (Vault's listener options) as config file keys: their shape
 * and their validation at start. Kept apart from forwarded-for.ts, which applies them to
 * requests, so the config module does not depend on the HTTP layer.
 */
import { parseCidrList } from '../core/cidr.js';

export interface ForwardedForSettings {
  /** CIDR blocks (or single addresses) of the proxies whose header is believed. Not empty. */
  readonly authorizedAddrs: readonly string[];
  /** How many addresses to skip from the end of the chain (proxies of your own behind the first). */
  readonly hopSkips: number;
  /** A header from a peer not authorized: refuse the request (true, Vault's default) or ignore the header. */
  readonly rejectNotAuthorized: boolean;
  /** No header at all: refuse the request (true, Vault's default) or use the peer's address. */
  readonly rejectNotPresent: boolean;
}

export interface ForwardedForInput {
  authorizedAddrs?: unknown;
  hopSkips?: unknown;
  rejectNotAuthorized?: unknown;
  rejectNotPresent?: unknown;
}

const MAX_HOP_SKIPS = 32;

function flag(value: unknown, key: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${key} must be true or false`);
  return value;
}

/** undefined when no proxy is authorized (the header is then never read). Throws TypeError on bad input. */
export function parseForwardedForSettings(input: ForwardedForInput): ForwardedForSettings | undefined {
  const raw = input.authorizedAddrs;
  if (raw === undefined) {
    if (input.hopSkips !== undefined || input.rejectNotAuthorized !== undefined || input.rejectNotPresent !== undefined) {
      throw new TypeError('the x_forwarded_for_* settings need x_forwarded_for_authorized_addrs');
    }
    return undefined;
  }
  const list = typeof raw === 'string' ? raw.split(',').map((item) => item.trim()).filter((item) => item !== '') : raw;
  if (!Array.isArray(list) || list.length === 0 || !list.every((item) => typeof item === 'string')) {
    throw new TypeError('x_forwarded_for_authorized_addrs must list the proxies\' addresses or CIDR blocks, e.g. ["10.0.0.0/8"]');
  }
  let authorizedAddrs: string[];
  try {
    authorizedAddrs = parseCidrList(list as string[], 'x_forwarded_for_authorized_addrs');
  } catch (error) {
    throw new TypeError((error as Error).message);
  }
  const hopSkips = input.hopSkips ?? 0;
  if (typeof hopSkips !== 'number' || !Number.isInteger(hopSkips) || hopSkips < 0 || hopSkips > MAX_HOP_SKIPS) {
    throw new TypeError(`x_forwarded_for_hop_skips must be an integer from 0 to ${MAX_HOP_SKIPS}`);
  }
  return {
    authorizedAddrs,
    hopSkips,
    rejectNotAuthorized: flag(input.rejectNotAuthorized, 'x_forwarded_for_reject_not_authorized', true),
    rejectNotPresent: flag(input.rejectNotPresent, 'x_forwarded_for_reject_not_present', true),
  };
}
