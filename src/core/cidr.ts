/**
 * CIDR blocks for `secret_id_bound_cidrs`, `token_bound_cidrs` and `cidr_list`: parsing,
 * membership of a client address, and containment of one block in another. In the core
 * because the request pipeline checks a token's bound CIDRs on every request, and the auth
 * methods check their bindings at login.
 *
 * An IPv4-mapped IPv6 address (::ffff:10.0.0.1, which a dual-stack socket reports for IPv4
 * clients) is treated as the IPv4 address it carries, so an IPv4 binding cannot be dodged or
 * broken by the socket family.
 * Must never: treat an unparseable client address as a match.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { badRequest } from './errors.js';

interface Block {
  readonly v6: boolean;
  readonly base: bigint;
  readonly bits: number;
}

function ipv4ToBigint(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigint(text: string): bigint {
  let hex = text;
  // An embedded dotted quad ("::ffff:1.2.3.4") is rewritten as its two 16-bit words.
  const lastColon = hex.lastIndexOf(':');
  const tail = hex.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = ipv4ToBigint(tail);
    hex = `${hex.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)));
  const [left = '', right] = hex.split('::');
  const l = parse(left);
  const words = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - parse(right).length).fill(0), ...parse(right)];
  return words.reduce((acc, word) => (acc << 16n) | BigInt(word), 0n);
}

/** The address as a block of full length, IPv4-mapped IPv6 folded to IPv4; undefined if invalid. */
function parseAddress(text: string): Block | undefined {
  const bare = text.trim().replace(/%.*$/, '');
  if (isIPv4(bare)) return { v6: false, base: ipv4ToBigint(bare), bits: 32 };
  if (!isIPv6(bare)) return undefined;
  const value = ipv6ToBigint(bare);
  if (value >> 32n === 0xffffn) return { v6: false, base: value & 0xffffffffn, bits: 32 };
  return { v6: true, base: value, bits: 128 };
}

function mask(v6: boolean, bits: number): bigint {
  const width = v6 ? 128 : 32;
  return ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
}

function parseBlock(text: string): Block | undefined {
  const [addr = '', prefix, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const ip = parseAddress(addr);
  if (!ip) return undefined;
  if (prefix === undefined) return ip;
  if (!/^\d{1,3}$/.test(prefix)) return undefined;
  let bits = Number(prefix);
  // A mapped address with a v6 prefix length (::ffff:10.0.0.0/104) keeps its meaning in v4.
  if (!ip.v6 && isIPv6(addr.trim())) bits -= 96;
  if (bits < 0 || bits > (ip.v6 ? 128 : 32)) return undefined;
  return { v6: ip.v6, base: ip.base & mask(ip.v6, bits), bits };
}

/** Validates a CIDR list; a bare address means the single host. */
export function parseCidrList(items: readonly string[], field: string): string[] {
  for (const item of items) {
    if (!parseBlock(item)) throw badRequest(`invalid ${field}: each entry must be an IP address or a CIDR block`);
  }
  return [...items];
}

/** True when `address` lies in one of `cidrs`. An empty list allows every address. */
export function addressAllowed(address: string, cidrs: readonly string[]): boolean {
  if (cidrs.length === 0) return true;
  const ip = parseAddress(address);
  if (!ip) return false;
  return cidrs.some((text) => {
    const block = parseBlock(text);
    return block !== undefined && block.v6 === ip.v6 && (ip.base & mask(block.v6, block.bits)) === block.base;
  });
}

/** True when every block of `inner` lies inside some block of `outer` (used to narrow a role's bindings). */
export function cidrsWithin(inner: readonly string[], outer: readonly string[]): boolean {
  if (outer.length === 0) return true;
  if (inner.length === 0) return false;
  return inner.every((text) => {
    const block = parseBlock(text);
    if (!block) return false;
    return outer.some((parentText) => {
      const parent = parseBlock(parentText);
      return parent !== undefined && parent.v6 === block.v6 && parent.bits <= block.bits
        && (block.base & mask(parent.v6, parent.bits)) === parent.base;
    });
  });
}
