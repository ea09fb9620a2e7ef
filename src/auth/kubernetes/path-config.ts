/**
 * Kubernetes `config`: `pem_keys` (PEM public keys of the service-account token signer) or
 * `jwks_url` (the cluster's `/openid/v1/jwks`), `issuer` (default "kubernetes/serviceaccount";
 * set it to the cluster's --service-account-issuer for projected tokens),
 * `disable_iss_validation`, and an informational `kubernetes_host`. A write replaces the whole
 * configuration.
 *
 * Tokens are validated locally; the TokenReview API is not used, so `token_reviewer_jwt` is
 * refused rather than stored unused.
 * Must never: store a configuration without exactly one key source.
 */
import { badRequest } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { has, parseBool, parseRawStringList, parseString } from '../shared/input.js';
import { assertHttpUrl, parsePublicKeyPem } from '../shared/jwt-keys.js';
import { parseCaBundle } from '../shared/tls-fetch.js';
import { CLASSIC_ISSUER, type KubernetesConfig, type KubernetesConfigStore } from './config-store.js';

function configView(config: KubernetesConfig): Record<string, unknown> {
  return {
    kubernetes_host: config.kubernetesHost,
    pem_keys: [...config.pemKeys],
    jwks_url: config.jwksUrl,
    issuer: config.issuer,
    disable_iss_validation: config.disableIssValidation,
    disable_local_ca_jwt: true,
    kubernetes_ca_cert: config.kubernetesCaCert ?? '',
  };
}

/**
 * What a config write reads. `token_reviewer_jwt` is refused when set; `kubernetes_ca_cert`
 * verifies jwks_url's TLS; `disable_local_ca_jwt` is what Coffer always does (no local token is
 * ever read), as a read reports.
 */
const CONFIG_FIELDS: ReadonlySet<string> = new Set([
  'kubernetes_host', 'pem_keys', 'jwks_url', 'issuer', 'disable_iss_validation', 'token_reviewer_jwt', 'kubernetes_ca_cert', 'disable_local_ca_jwt',
]);

export function configPath(configs: KubernetesConfigStore): PathSpec {
  const read = async (): Promise<EngineResponse | null> => {
    const config = await configs.get();
    return config ? { data: configView(config) } : null;
  };

  const update = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const data = req.data;
    if (has(data, 'token_reviewer_jwt') && data['token_reviewer_jwt'] !== '') {
      throw badRequest('token_reviewer_jwt is not supported: Coffer validates service-account tokens locally with pem_keys or jwks_url');
    }
    const config: KubernetesConfig = {
      kubernetesHost: parseString(data['kubernetes_host'], 'kubernetes_host').trim(),
      pemKeys: parseRawStringList(data['pem_keys'], 'pem_keys'),
      jwksUrl: parseString(data['jwks_url'], 'jwks_url').trim(),
      issuer: parseString(data['issuer'], 'issuer').trim() || CLASSIC_ISSUER,
      disableIssValidation: has(data, 'disable_iss_validation') ? parseBool(data['disable_iss_validation'], 'disable_iss_validation') : false,
      kubernetesCaCert: parseCaBundle(parseString(data['kubernetes_ca_cert'], 'kubernetes_ca_cert'), 'kubernetes_ca_cert'),
    };
    if ((config.pemKeys.length > 0) === (config.jwksUrl !== '')) throw badRequest("exactly one of 'pem_keys' or 'jwks_url' must be set");
    for (const pem of config.pemKeys) parsePublicKeyPem(pem, 'pem_keys');
    if (config.jwksUrl !== '') assertHttpUrl(config.jwksUrl, 'jwks_url');
    await configs.put(config);
    // Only jwks_url is ever fetched (TokenReview is not used), so that is all the CA can verify.
    const warnings = config.kubernetesCaCert !== '' && config.jwksUrl === '' ? ['kubernetes_ca_cert verifies only the TLS of jwks_url; with pem_keys nothing is fetched, so it is unused'] : [];
    return warnings.length > 0 ? { warnings } : null;
  };

  return { pattern: 'config', description: 'Read or set how this Kubernetes mount verifies service-account tokens.', fields: CONFIG_FIELDS, operations: { read, update } };
}
