/**
 * The JWT/OIDC mount's `config` in storage, and the verifier built from it: a key set (PEM keys,
 * a JWKS URL, or the JWKS found by OIDC discovery), the expected issuer and the allowed
 * algorithms.
 *
 * Owns: caching the verifier per configuration, so jose's remote-JWKS cache survives between
 * logins and a changed configuration takes effect at once.
 * Must never: accept a configuration with no key source, or with more than one.
 */
import { getJson, putJson, type Storage } from '../../core/storage/storage.js';
import { ASYMMETRIC_ALGS, discover, pemKeySet, remoteKeySet, type KeySet } from '../shared/jwt-keys.js';

export interface JwtConfig {
  jwksUrl: string;
  jwtValidationPubkeys: string[];
  oidcDiscoveryUrl: string;
  boundIssuer: string;
  /** Empty = every asymmetric algorithm. */
  supportedAlgs: string[];
  defaultRole: string;
  /** PEM CA bundle for jwks_url's TLS; '' or absent = the system's trust store. */
  jwksCaPem?: string;
  /** PEM CA bundle for the discovery document and the JWKS it names. */
  oidcDiscoveryCaPem?: string;
}

export interface JwtVerifier {
  keys: KeySet;
  /** '' = the issuer is not checked. */
  expectedIssuer: string;
  algorithms: readonly string[];
}

export interface JwtConfigStore {
  get(): Promise<JwtConfig | undefined>;
  put(config: JwtConfig): Promise<void>;
  /** The verifier for `config`; may fetch the discovery document (throws bad_request if unreachable). */
  verifier(config: JwtConfig): Promise<JwtVerifier>;
}

const CONFIG_KEY = 'config';

export function createJwtConfigStore(storage: Storage): JwtConfigStore {
  let cached: { fingerprint: string; verifier: Promise<JwtVerifier> } | undefined;

  const build = async (config: JwtConfig): Promise<JwtVerifier> => {
    const algorithms = config.supportedAlgs.length > 0 ? config.supportedAlgs : [...ASYMMETRIC_ALGS];
    if (config.oidcDiscoveryUrl !== '') {
      const ca = config.oidcDiscoveryCaPem ?? '';
      const found = await discover(config.oidcDiscoveryUrl, ca);
      // go-oidc checks the discovered issuer; bound_issuer, when set, is checked as well.
      return { keys: remoteKeySet(found.jwksUri, ca), expectedIssuer: config.boundIssuer || found.issuer, algorithms };
    }
    const keys = config.jwksUrl !== '' ? remoteKeySet(config.jwksUrl, config.jwksCaPem ?? '') : pemKeySet(config.jwtValidationPubkeys, 'jwt_validation_pubkeys');
    return { keys, expectedIssuer: config.boundIssuer, algorithms };
  };

  return {
    get: () => getJson<JwtConfig>(storage, CONFIG_KEY),
    async put(config) {
      await putJson(storage, CONFIG_KEY, config);
      cached = undefined;
    },
    verifier(config) {
      const fingerprint = JSON.stringify(config);
      if (cached?.fingerprint !== fingerprint) {
        const verifier = build(config);
        cached = { fingerprint, verifier };
        // A failed discovery is retried at the next login rather than cached.
        verifier.catch(() => {
          if (cached?.verifier === verifier) cached = undefined;
        });
      }
      return cached.verifier;
    },
  };
}
