/**
 * Which rate limit bucket a client address counts against: an IPv4 address (or an IPv4-mapped
 * IPv6 one) on its own, an IPv6 address by its /64 network.
 *
 * Why /64 and not the address, which is what Vault keys by: a single IPv6 host normally holds a
 * whole /64 (SLAAC, privacy addresses) and can send each request from a new address in it, so a
 * per-address bucket never runs dry. Clients sharing a /64 share a bucket, as clients behind one
 * IPv4 NAT already do.
 *
 * Written here rather than taken from a library: node:net validates addresses but cannot mask
 * one, and the addresses reaching this are already canonical (a socket's peer, or an
 * X-Forwarded-For entry canonicalised by server/forwarded-for.ts).
 */

/** The bucket key for `address`; a text that is not an IPv6 address is its own key. */
export function rateLimitBucket(address: string): string {
  const zone = address.indexOf('%');
  const bare = zone >= 0 ? address.slice(0, zone) : address;
  if (!bare.includes(':')) return bare;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped) return mapped[1] as string;
  const hextets = expandIpv6(bare);
  if (hextets === undefined) return address;
  return `${hextets.slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address (lower case, no leading zeros), or undefined if it is none. */
function expandIpv6(address: string): string[] | undefined {
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const parts = (text: string | undefined): string[] => (text === undefined || text === '' ? [] : text.split(':'));
  const head = parts(halves[0]);
  const tail = parts(halves[1]);
  // An embedded IPv4 address (the last 32 bits) takes two hextets' room.
  const last = tail.length > 0 ? tail[tail.length - 1] : head[head.length - 1];
  const width = head.length + tail.length + (last !== undefined && last.includes('.') ? 1 : 0);
  if (halves.length === 1 ? width !== 8 : width > 7) return undefined;
  const all = [...head, ...Array<string>(8 - width).fill('0'), ...tail];
  const out: string[] = [];
  for (const part of all) {
    if (part.includes('.')) continue;
    if (!/^[0-9a-f]{1,4}$/i.test(part)) return undefined;
    out.push(parseInt(part, 16).toString(16));
  }
  return out;
}
