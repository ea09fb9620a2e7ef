/**
 * The response-wrapping request headers: `X-Vault-Wrap-TTL` (a duration such as "5m", or
 * seconds) and `X-Vault-Wrap-Format`.
 *
 * Owns: turning them into the TTL the core wraps with (core/wrapping). Only the "token" format
 * is served; Vault's "jwt" format is refused rather than silently answered as a token.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseDurationSeconds } from '../../core/duration.js';
import { badRequest, isCofferError } from '../../core/errors.js';

/** The requested wrapping TTL in seconds, or undefined when none (absent, empty or 0, as Vault). */
export function wrapTtlFrom(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers['x-vault-wrap-ttl'];
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) throw badRequest('error parsing X-Vault-Wrap-TTL: sent more than once');
  const format = headers['x-vault-wrap-format'];
  if (format !== undefined && format !== '' && format !== 'token') {
    throw badRequest(format === 'jwt' ? 'the "jwt" wrap format is not supported; use "token"' : `invalid X-Vault-Wrap-Format "${String(format).slice(0, 32)}"`);
  }
  let seconds: number | undefined;
  try {
    seconds = parseDurationSeconds(raw, 'X-Vault-Wrap-TTL');
  } catch (error) {
    throw isCofferError(error) ? badRequest(`error parsing X-Vault-Wrap-TTL: ${error.message}`) : error;
  }
  return seconds === undefined || seconds === 0 ? undefined : seconds;
}
