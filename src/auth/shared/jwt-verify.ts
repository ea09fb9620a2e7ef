/**
 * Verifying a compact JWS and the claims every JWT-based login checks the same way: the
 * algorithm, the signature (through jose), the time claims with Vault's separate leeways, and
 * the audience in both its string and array forms.
 *
 * Signature checking is jose's `compactVerify`; claims are checked here rather than by
 * `jwtVerify` because Vault has three leeways (clock skew, expiration, not-before) where jose
 * has one, and because time must come from the injected Clock.
 * Owns: refusing `alg: none` and every algorithm outside the allowed list *before* any key is
 * consulted.
 * Must never: return a reason that contains the token, a claim value or a library message;
 * reasons are fixed categories for the server log.
 */
import { decodeProtectedHeader } from 'jose';
import type { KeySet } from './jwt-keys.js';

export type Claims = Record<string, unknown>;
export type Verdict<T> = { ok: true; value: T } | { ok: false; reason: string };

const refused = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** Large enough for any real ID or service-account token; bounds the work an attacker can cause. */
const MAX_TOKEN_LENGTH = 64 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Checks the header's algorithm, then the signature; returns the payload as a JSON object. */
export async function verifyJws(token: unknown, keys: KeySet, algorithms: readonly string[]): Promise<Verdict<Claims>> {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) return refused('malformed token');
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    return refused('malformed token header');
  }
  if (typeof alg !== 'string' || alg.toLowerCase() === 'none' || !algorithms.includes(alg)) return refused('signing algorithm not allowed');
  let payload: Uint8Array;
  try {
    payload = await keys.verify(token, algorithms);
  } catch (error) {
    const code = typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'error';
    return refused(`signature not verified (${code})`);
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return refused('malformed claims');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return refused('malformed claims');
  return { ok: true, value: claims as Claims };
}

export interface Leeway {
  /** Seconds of clock skew allowed on exp, nbf and iat. */
  clockSkew: number;
  /** Extra seconds after exp. */
  expiration: number;
  /** Extra seconds before nbf. */
  notBefore: number;
  /** Refuse a token without exp (JWT logins); service-account tokens of old clusters have none. */
  requireExp: boolean;
}

const numericDate = (value: unknown): number | undefined | 'invalid' => {
  if (value === undefined) return undefined;
  return typeof value === 'number' && Number.isFinite(value) ? value : 'invalid';
};

/** exp, nbf (or iat when nbf is absent, as Vault does) and iat against `nowMs`. */
export function checkTimes(claims: Claims, nowMs: number, leeway: Leeway): Verdict<null> {
  const now = nowMs / 1000;
  const exp = numericDate(claims['exp']);
  const nbf = numericDate(claims['nbf']);
  const iat = numericDate(claims['iat']);
  if (exp === 'invalid' || nbf === 'invalid' || iat === 'invalid') return refused('malformed time claim');
  if (exp === undefined && leeway.requireExp) return refused('missing exp claim');
  if (exp !== undefined && now > exp + leeway.clockSkew + leeway.expiration) return refused('token expired');
  const notBefore = nbf ?? iat;
  if (notBefore !== undefined && now < notBefore - leeway.clockSkew - leeway.notBefore) return refused('token not yet valid');
  if (iat !== undefined && iat > now + leeway.clockSkew + leeway.notBefore) return refused('token issued in the future');
  return { ok: true, value: null };
}

/** `aud` as a list: a string is a one-item list (CVE-2024-5798), absent is empty. */
export function audiences(claims: Claims): Verdict<string[]> {
  const aud = claims['aud'];
  if (aud === undefined) return { ok: true, value: [] };
  if (typeof aud === 'string') return { ok: true, value: [aud] };
  if (Array.isArray(aud) && aud.every((item) => typeof item === 'string')) return { ok: true, value: aud as string[] };
  return refused('malformed aud claim');
}

/**
 * Vault's audience rule: with bound audiences, the token must carry one of them; without, a
 * token that names any audience is refused (it was meant for someone else).
 */
export function checkAudience(claims: Claims, bound: readonly string[]): Verdict<null> {
  const aud = audiences(claims);
  if (!aud.ok) return aud;
  if (bound.length === 0) return aud.value.length === 0 ? { ok: true, value: null } : refused('token has aud but the role binds no audience');
  if (aud.value.length === 0) return refused('missing aud claim');
  return aud.value.some((a) => bound.includes(a)) ? { ok: true, value: null } : refused('aud not bound');
}

/**
 * A claim by name, or by JSON pointer when the key starts with '/' ("/a/b~1c" is a.["b/c"]).
 * Own properties only, so "__proto__" or "constructor" never resolve to something inherited.
 */
export function claimAt(claims: Claims, key: string): unknown {
  if (!key.startsWith('/')) return Object.hasOwn(claims, key) ? claims[key] : undefined;
  let current: unknown = claims;
  for (const raw of key.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
