/**
 * Trusting `X-Forwarded-For` from known proxies, as Vault's listener options
 * `x_forwarded_for_authorized_addrs`, `x_forwarded_for_hop_skips`,
 * `x_forwarded_for_reject_not_authorized` and `x_forwarded_for_reject_not_present`.
 *
 * Why: behind a load balancer every request comes from the balancer's address, so audit
 * entries, CIDR-bound tokens and rate limit buckets would all see one client. The header is
 * believed only from the addresses the operator lists; from anyone else it is refused (or, if
 * so configured, ignored), so a client cannot pick its own address to dodge a quota or match a
 * token's bound CIDRs.
 *
 * Owns: the choice of a request's client address on a public listener. Must never: take the
 * header from a peer outside `authorizedAddrs`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { leaveBodyUnread, sendJson, setForwardedClientAddress } from '../api/http-io.js';
import { addressAllowed } from '../core/cidr.js';
import type { ForwardedForSettings } from './forwarded-for-settings.js';

export { parseForwardedForSettings, type ForwardedForInput, type ForwardedForSettings } from './forwarded-for-settings.js';

/**
 * An X-Forwarded-For entry as one canonical address, or undefined when it is none: a port
 * (`1.2.3.4:5678`, `[2001:db8::1]:443`, as some proxies write) and an IPv6 zone are dropped, an
 * IPv4-mapped IPv6 address becomes IPv4, and IPv6 takes its RFC 5952 form, so one client never
 * gets two rate limit buckets or two spellings in the audit log.
 */
export function canonicalAddress(entry: string): string | undefined {
  let text = entry;
  const withPort = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  if (withPort) {
    if (withPort[2] !== undefined && Number(withPort[2]) > 65_535) return undefined;
    text = withPort[1] as string;
  }
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6) return undefined;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(text);
  if (mapped && isIP(mapped[1] as string) === 4) return mapped[1];
  // The WHATWG URL parser prints IPv6 hosts in their canonical (RFC 5952) form.
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

export type ClientResolution = { readonly kind: 'peer' } | { readonly kind: 'forwarded'; readonly address: string } | { readonly kind: 'refused'; readonly message: string };

/** Which address a request comes from, given its peer and its X-Forwarded-For header(s). */
export function resolveClientAddress(settings: ForwardedForSettings, peer: string, header: string | string[] | undefined): ClientResolution {
  const chain = (Array.isArray(header) ? header : header === undefined ? [] : [header])
    .flatMap((value) => value.split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (chain.length === 0) {
    return settings.rejectNotPresent ? { kind: 'refused', message: 'missing x-forwarded-for header and configured to reject when not present' } : { kind: 'peer' };
  }
  if (!addressAllowed(peer, settings.authorizedAddrs)) {
    return settings.rejectNotAuthorized ? { kind: 'refused', message: 'client address not authorized for x-forwarded-for and configured to reject connection' } : { kind: 'peer' };
  }
  const index = chain.length - 1 - settings.hopSkips;
  const chosen = chain[index];
  if (chosen === undefined) {
    return { kind: 'refused', message: `malformed x-forwarded-for configuration or request: hops to skip (${settings.hopSkips}) would skip before the earliest chain link (chain length ${chain.length})` };
  }
  const address = canonicalAddress(chosen);
  if (address === undefined) return { kind: 'refused', message: 'malformed x-forwarded-for header: the client entry is not an IP address' };
  return { kind: 'forwarded', address };
}

/**
 * Wraps a public listener: records the client address the header gives (http-io.ts
 * clientAddressOf then answers it), or refuses the request with 400 before anything reads it.
 */
export function withForwardedFor(
  settings: ForwardedForSettings | undefined,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  if (settings === undefined) return listener;
  return (req, res) => {
    const resolution = resolveClientAddress(settings, req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']);
    if (resolution.kind === 'refused') {
      leaveBodyUnread(req);
      sendJson(res, 400, { errors: [resolution.message] });
      return;
    }
    if (resolution.kind === 'forwarded') setForwardedClientAddress(req, resolution.address);
    listener(req, res);
  };
}
