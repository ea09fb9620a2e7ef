/**
 * The Kubernetes mount's `config` in storage, and the key set built from it (PEM public keys of
 * the cluster's service-account signer, or its JWKS URL).
 *
 * Owns: caching the key set per configuration, so a remote JWKS is not refetched per login.
 * Must never: hold an API-server credential; TokenReview is not implemented, so none is needed.
 */
import { getJson, putJson, type Storage } from '../../core/storage/storage.js';
import { pemKeySet, remoteKeySet, type KeySet } from '../shared/jwt-keys.js';

export interface KubernetesConfig {
  /** Informational only: service-account tokens are verified locally, never sent to the API server. */
  kubernetesHost: string;
  pemKeys: string[];
  jwksUrl: string;
  issuer: string;
  disableIssValidation: boolean;
  /** PEM CA bundle for jwks_url's TLS (the cluster CA, when jwks_url is the API server's); '' or absent = the system's. */
  kubernetesCaCert?: string;
}

/** The issuer of classic, secret-based service-account tokens. */
export const CLASSIC_ISSUER = 'kubernetes/serviceaccount';

export interface KubernetesConfigStore {
  get(): Promise<KubernetesConfig | undefined>;
  put(config: KubernetesConfig): Promise<void>;
  keys(config: KubernetesConfig): KeySet;
}

const CONFIG_KEY = 'config';

export function createKubernetesConfigStore(storage: Storage): KubernetesConfigStore {
  let cached: { fingerprint: string; keys: KeySet } | undefined;
  return {
    get: () => getJson<KubernetesConfig>(storage, CONFIG_KEY),
    async put(config) {
      await putJson(storage, CONFIG_KEY, config);
      cached = undefined;
    },
    keys(config) {
      const fingerprint = JSON.stringify([config.pemKeys, config.jwksUrl, config.kubernetesCaCert ?? '']);
      if (cached?.fingerprint !== fingerprint) {
        const keys = config.jwksUrl !== '' ? remoteKeySet(config.jwksUrl, config.kubernetesCaCert ?? '') : pemKeySet(config.pemKeys, 'pem_keys');
        cached = { fingerprint, keys };
      }
      return cached.keys;
    },
  };
}
