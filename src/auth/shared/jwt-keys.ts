/**
 * Where the keys that verify JWT signatures come from: PEM public keys from configuration, a
 * remote JWKS (size-capped fetch, cached, refetched on an unknown `kid` after a cool-down), or a
 * JWKS found through OpenID Connect discovery.
 *
 * Owns: turning configured key material into a `KeySet`, and the discovery fetch (time-boxed,
 * size-capped, issuer checked against the discovery URL as OpenID Connect Discovery requires).
 * Must never: accept a private or symmetric key as a verification key; put a fetched body or a
 * library's message into an error.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { compactVerify, createLocalJWKSet, errors as joseErrors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters, type KeyLike } from 'jose';
import { badRequest } from '../../core/errors.js';
import { FetchError, fetchText } from './tls-fetch.js';

export interface KeySet {
  /** The verified payload bytes; throws (a jose error) when no key verifies the signature. */
  verify(token: string, algorithms: readonly string[]): Promise<Uint8Array>;
}

/** Asymmetric JWS algorithms. HMAC ("HS*") is excluded: there is no shared secret to configure. */
export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** Validates `jwt_supported_algs`-style lists; an empty list means every asymmetric algorithm. */
export function parseAlgorithms(items: readonly string[], field: string): string[] {
  for (const alg of items) {
    if (!(ASYMMETRIC_ALGS as readonly string[]).includes(alg)) {
      throw badRequest(`invalid ${field}: supported algorithms are ${ASYMMETRIC_ALGS.join(', ')}`);
    }
  }
  return [...items];
}

/** Parses one PEM public key or certificate; refuses private keys. */
export function parsePublicKeyPem(pem: string, field: string): KeyObject {
  if (/PRIVATE KEY/.test(pem)) throw badRequest(`invalid ${field}: expected public keys, found a private key`);
  try {
    const key = createPublicKey(pem);
    if (key.type !== 'public') throw new Error('not public');
    return key;
  } catch {
    throw badRequest(`invalid ${field}: each entry must be a PEM public key or certificate`);
  }
}

export function pemKeySet(pems: readonly string[], field: string): KeySet {
  const keys = pems.map((pem) => parsePublicKeyPem(pem, field));
  return {
    async verify(token, algorithms) {
      let lastError: unknown = new Error('no keys configured');
      // As Vault does, each configured key is tried in turn.
      for (const key of keys) {
        try {
          return (await compactVerify(token, key, { algorithms: [...algorithms] })).payload;
        } catch (error) {
          lastError = error;
        }
      }
      throw lastError;
    },
  };
}

/** A JWKS larger than this is refused: real ones hold a handful of keys (a few KiB). */
const MAX_JWKS_BYTES = 1024 * 1024;
const JWKS_TIMEOUT_MS = 5_000;
// A token signed with a key the provider just published names a kid not in the cache: the set
// is fetched again at most every 5 s (Vault refetches at once), so a key rotation refuses logins
// for seconds, not half a minute, while a flood of unknown kids costs one fetch per 5 s.
const JWKS_COOLDOWN_MS = 5_000;
const JWKS_MAX_AGE_MS = 10 * 60_000;

/** Why a remote key set gave no key; the code reaches the login's refusal reason, never a body. */
class JwksError extends Error {
  constructor(readonly code: 'ERR_JWKS_UNREACHABLE' | 'ERR_JWKS_TOO_LARGE' | 'ERR_JWKS_INVALID') {
    super(code);
    this.name = 'JwksError';
  }
}

export interface RemoteKeySetOptions {
  /** Test hook: the clock for the cache's age and the refetch cool-down. */
  readonly now?: () => number;
  /** Test hook: told of every fetch of the set. */
  readonly onFetch?: () => void;
}

/**
 * The JWKS at `url`, trusting `ca` (a PEM bundle; '' = the system's) for https. Fetched with
 * our size-capped, time-boxed fetchText rather than jose's createRemoteJWKSet, which reads a
 * body of any size into memory; jose still parses the set and picks the key.
 */
export function remoteKeySet(url: string, ca = '', options: RemoteKeySetOptions = {}): KeySet {
  const now = options.now ?? Date.now;
  let cached: { getKey: ReturnType<typeof createLocalJWKSet>; fetchedAt: number } | undefined;
  let lastAttempt = -Infinity;
  let inFlight: Promise<void> | undefined;

  const fetchSet = async (): Promise<void> => {
    lastAttempt = now();
    options.onFetch?.();
    let body: string;
    try {
      body = await fetchText(url, { ca, timeoutMs: JWKS_TIMEOUT_MS, maxBytes: MAX_JWKS_BYTES });
    } catch (error) {
      throw new JwksError(error instanceof FetchError && error.reason === 'too_large' ? 'ERR_JWKS_TOO_LARGE' : 'ERR_JWKS_UNREACHABLE');
    }
    let getKey: ReturnType<typeof createLocalJWKSet>;
    try {
      getKey = createLocalJWKSet(JSON.parse(body) as JSONWebKeySet);
    } catch {
      throw new JwksError('ERR_JWKS_INVALID');
    }
    cached = { getKey, fetchedAt: lastAttempt };
  };
  // Concurrent logins that all need a fetch share one.
  const refresh = (): Promise<void> => (inFlight ??= fetchSet().finally(() => { inFlight = undefined; }));

  const getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<KeyLike | Uint8Array> => {
    if (cached === undefined) {
      // Nothing fetched yet: while the provider is down, it is asked at most once per cool-down
      // and the logins in between are refused without a fetch.
      if (inFlight === undefined && now() - lastAttempt < JWKS_COOLDOWN_MS) throw new JwksError('ERR_JWKS_UNREACHABLE');
      await refresh();
    } else if (now() - cached.fetchedAt > JWKS_MAX_AGE_MS && inFlight === undefined && now() - lastAttempt >= JWKS_COOLDOWN_MS) {
      // A stale set is fetched again in the background, and used meanwhile and while the
      // provider cannot be reached, as Vault keeps its cached keys: an outage (or a provider that
      // hangs until the timeout) must neither refuse nor stall every login. A key it removed
      // stops verifying once a fetch succeeds.
      void refresh().catch(() => undefined);
    }
    const current = cached as NonNullable<typeof cached>;
    try {
      return await current.getKey(header, token);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey) || now() - lastAttempt < JWKS_COOLDOWN_MS) throw error;
      await refresh();
      return (cached as NonNullable<typeof cached>).getKey(header, token);
    }
  };
  return {
    async verify(token, algorithms) {
      try {
        return (await compactVerify(token, getKey, { algorithms: [...algorithms] })).payload;
      } catch (error) {
        // A token without a `kid` matches every key of its type: as Vault (and pemKeySet), try
        // each in turn rather than refuse the login.
        if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw error;
        let lastError: unknown = error;
        for await (const key of error as unknown as AsyncIterable<KeyLike>) {
          try {
            return (await compactVerify(token, key, { algorithms: [...algorithms] })).payload;
          } catch (attempt) {
            lastError = attempt;
          }
        }
        throw lastError;
      }
    },
  };
}

/** An http(s) URL; anything else (file:, data:) is refused. */
export function assertHttpUrl(value: string, field: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`invalid ${field}: must be an http or https URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw badRequest(`invalid ${field}: must be an http or https URL`);
  if (url.username !== '' || url.password !== '') throw badRequest(`invalid ${field}: credentials in the URL are not allowed`);
}

export interface Discovery {
  issuer: string;
  jwksUri: string;
}

const MAX_DISCOVERY_BYTES = 1024 * 1024;
const trimSlash = (s: string): string => s.replace(/\/+$/, '');

/**
 * Fetches `<url>/.well-known/openid-configuration`, trusting `ca` (a PEM bundle; '' = the
 * system's) for https; throws bad_request with a vague reason.
 */
export async function discover(discoveryUrl: string, ca = ''): Promise<Discovery> {
  const fail = (why: string): never => {
    throw badRequest(`error checking oidc_discovery_url: ${why}`);
  };
  let body: string;
  try {
    body = await fetchText(`${trimSlash(discoveryUrl)}/.well-known/openid-configuration`, { ca, timeoutMs: 10_000, maxBytes: MAX_DISCOVERY_BYTES });
  } catch (error) {
    if (error instanceof FetchError && error.reason === 'status') return fail(`the provider answered with status ${error.status}`);
    if (error instanceof FetchError && error.reason === 'too_large') return fail('the discovery document is too large');
    return fail('the provider could not be reached');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return fail('the discovery document is not JSON');
  }
  const record = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const issuer = record['issuer'];
  const jwksUri = record['jwks_uri'];
  if (typeof issuer !== 'string' || typeof jwksUri !== 'string') return fail('the discovery document lacks issuer or jwks_uri');
  if (trimSlash(issuer) !== trimSlash(discoveryUrl)) return fail('the issuer in the discovery document does not match oidc_discovery_url');
  assertHttpUrl(jwksUri, 'jwks_uri of the discovery document');
  return { issuer, jwksUri };
}
