/**
 * Which webhook URLs a rotator may call. A rotator receives secret values and Coffer calls it
 * from inside the trust boundary, so its URL is a server-side request forgery risk: by default
 * only loopback addresses are allowed (a rotator sidecar on the same host), and an operator
 * widens that with an explicit list, `rotator_allowed_hosts` in the server's config file —
 * never through the API, so a token holder cannot aim Coffer at an internal service.
 *
 * Owns: the rule, applied when a rotator is configured and again before every call (the server
 * configuration may have narrowed since).
 * Must never: accept credentials in the URL (they would be shown on every read of the config),
 * a scheme other than http(s), or a host by prefix or suffix match.
 */
import { isIP } from 'node:net';
import { badRequest } from '../core/errors.js';

export interface UrlPolicy {
  /** Lower-case host names or IP literals (IPv6 without brackets) that are allowed besides loopback. */
  readonly allowedHosts: readonly string[];
}

const MAX_URL_LENGTH = 2048;

/** 127.0.0.0/8, ::1, and ::ffff:127.x.y.z (the URL parser has already normalised 127.1, 0x7f.1, 2130706433, ...). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host) || /^::ffff:7f[0-9a-f]{2}:/.test(host);
  return false;
}

/**
 * The form an allowed-host entry is compared in: the host name as the URL parser writes it
 * (lower case, punycode, IPv4 and IPv6 literals in canonical form, IPv6 without brackets), so
 * the entry matches the URLs it is meant to. An entry that could never match a URL's host
 * exactly (a wildcard, a port, a scheme, a path) gets a `problem` saying what is wrong, for the
 * configuration loader to refuse at start.
 */
export function canonicalAllowedHost(entry: string): { host: string } | { problem: string } {
  const host = entry.trim().replace(/^\[|\]$/g, '');
  if (host === '') return { problem: 'is empty' };
  // Matching is exact (see the header): a pattern would silently match nothing.
  if (host.includes('*')) return { problem: 'is a pattern: list each host exactly, wildcards are not supported' };
  const ipv6 = isIP(host) === 6;
  if (!ipv6 && /[:/?#@\\\s]/.test(host)) return { problem: 'must be a host name or IP address alone, without a scheme, port, path or credentials' };
  try {
    return { host: new URL(`http://${ipv6 ? `[${host}]` : host}/`).hostname.replace(/^\[|\]$/g, '') };
  } catch {
    return { problem: 'is not a valid host name or IP address' };
  }
}

export function normaliseAllowedHosts(hosts: readonly string[] | undefined): string[] {
  return [...new Set((hosts ?? []).map((h) => h.trim().replace(/^\[|\]$/g, '').toLowerCase()).filter((h) => h !== ''))];
}

/** Parses and checks a webhook URL; throws bad_request saying what to do instead. */
export function checkWebhookUrl(raw: unknown, policy: UrlPolicy): URL {
  if (typeof raw !== 'string' || raw === '' || raw.length > MAX_URL_LENGTH) throw badRequest('url must be an http or https URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest('url must be an http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badRequest('url must be an http or https URL');
  if (url.username !== '' || url.password !== '') throw badRequest('url must not contain credentials; use hmac_key to authenticate Coffer to the rotator');
  if (url.hash !== '') throw badRequest('url must not contain a fragment');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!isLoopbackHost(host) && !policy.allowedHosts.includes(host)) {
    throw badRequest(`url host ${host} is not allowed: rotators may call loopback addresses, or hosts listed in rotator_allowed_hosts in the server's config file (coffer server -config)`);
  }
  return url;
}
