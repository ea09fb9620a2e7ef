/**
 * JWT/OIDC `config`: where signing keys come from (exactly one of `jwks_url`,
 * `jwt_validation_pubkeys`, `oidc_discovery_url`), `bound_issuer`, `jwt_supported_algs` and
 * `default_role`. A write replaces the whole configuration, as in Vault.
 *
 * The browser OIDC flow (authorization code, `oidc_client_id`/`oidc_client_secret`, redirect
 * URIs) is not implemented; those fields are refused rather than stored and ignored.
 * Must never: store a configuration whose keys cannot be parsed or whose discovery fails.
 */
import { badRequest } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { parseCaBundle } from '../shared/tls-fetch.js';
import { assertHttpUrl, parseAlgorithms, parsePublicKeyPem } from '../shared/jwt-keys.js';
import { assertName, has, parseRawStringList, parseString, parseStringList } from '../shared/input.js';
import type { JwtConfig, JwtConfigStore } from './config-store.js';

const UNSUPPORTED = ['oidc_client_id', 'oidc_client_secret', 'oidc_response_mode', 'oidc_response_types', 'provider_config'];
/** What a config write reads (the unsupported OIDC fields are refused when set, so they count). */
const CONFIG_FIELDS: ReadonlySet<string> = new Set([
  'jwks_url', 'jwt_validation_pubkeys', 'oidc_discovery_url', 'bound_issuer', 'jwt_supported_algs', 'default_role', 'jwks_ca_pem',
  'oidc_discovery_ca_pem', ...UNSUPPORTED,
]);

function configView(config: JwtConfig): Record<string, unknown> {
  return {
    jwks_url: config.jwksUrl,
    jwt_validation_pubkeys: [...config.jwtValidationPubkeys],
    oidc_discovery_url: config.oidcDiscoveryUrl,
    bound_issuer: config.boundIssuer,
    jwt_supported_algs: [...config.supportedAlgs],
    default_role: config.defaultRole,
    jwks_ca_pem: config.jwksCaPem ?? '',
    oidc_discovery_ca_pem: config.oidcDiscoveryCaPem ?? '',
  };
}

function parseConfig(data: Readonly<Record<string, unknown>>): JwtConfig {
  for (const field of UNSUPPORTED) {
    if (has(data, field) && data[field] !== '' && !(Array.isArray(data[field]) && (data[field] as unknown[]).length === 0)) {
      throw badRequest(`${field} is not supported: Coffer implements the jwt login flow only, not the browser OIDC flow`);
    }
  }
  const config: JwtConfig = {
    jwksUrl: parseString(data['jwks_url'], 'jwks_url').trim(),
    jwtValidationPubkeys: parseRawStringList(data['jwt_validation_pubkeys'], 'jwt_validation_pubkeys'),
    oidcDiscoveryUrl: parseString(data['oidc_discovery_url'], 'oidc_discovery_url').trim(),
    boundIssuer: parseString(data['bound_issuer'], 'bound_issuer').trim(),
    supportedAlgs: parseAlgorithms(parseStringList(data['jwt_supported_algs'], 'jwt_supported_algs'), 'jwt_supported_algs'),
    defaultRole: parseString(data['default_role'], 'default_role').trim(),
    jwksCaPem: parseCaBundle(parseString(data['jwks_ca_pem'], 'jwks_ca_pem'), 'jwks_ca_pem'),
    oidcDiscoveryCaPem: parseCaBundle(parseString(data['oidc_discovery_ca_pem'], 'oidc_discovery_ca_pem'), 'oidc_discovery_ca_pem'),
  };
  const sources = [config.jwksUrl !== '', config.jwtValidationPubkeys.length > 0, config.oidcDiscoveryUrl !== ''].filter(Boolean).length;
  if (sources !== 1) throw badRequest("exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' must be set");
  if (config.jwksUrl !== '') assertHttpUrl(config.jwksUrl, 'jwks_url');
  if (config.oidcDiscoveryUrl !== '') assertHttpUrl(config.oidcDiscoveryUrl, 'oidc_discovery_url');
  for (const pem of config.jwtValidationPubkeys) parsePublicKeyPem(pem, 'jwt_validation_pubkeys');
  // It must be a name a role can have, or every login without a role would look up garbage.
  if (config.defaultRole !== '') assertName(config.defaultRole, 'default_role');
  return config;
}

export function configPath(configs: JwtConfigStore): PathSpec {
  const read = async (): Promise<EngineResponse | null> => {
    const config = await configs.get();
    return config ? { data: configView(config) } : null;
  };

  const update = async (req: EngineRequest): Promise<null> => {
    const config = parseConfig(req.data);
    // Building the verifier fetches the discovery document: an unreachable provider or an
    // issuer mismatch is reported now, not at the first login.
    await configs.verifier(config);
    await configs.put(config);
    return null;
  };

  return { pattern: 'config', description: 'Read or set how this JWT/OIDC mount verifies tokens.', fields: CONFIG_FIELDS, operations: { read, update } };
}
