/**
 * The token settings every auth role or user carries (Vault's "tokenutil" fields): policies,
 * TTLs, use limit, period, bound CIDRs; how they are parsed, shown, and turned into the core's
 * LoginResult.
 *
 * `token_bound_cidrs` is checked twice, as in Vault: by the auth method at login, on the
 * client address, and by the core on every request made with the token it ties the blocks to.
 * Must never: let a role grant 'root'; the core also refuses it at login.
 */
import { badRequest } from '../../core/errors.js';
import { canonicalPolicyName } from '../../core/policy/parse.js';
import type { LoginResult } from '../../core/router/engine.js';
import { parseCidrList } from '../../core/cidr.js';
import { has, parseBool, parseDuration, parseInteger, parseString, parseStringList } from './input.js';

export interface TokenSettings {
  policies: string[];
  /** Seconds; 0 = the mount default. */
  ttl: number;
  maxTtl: number;
  explicitMaxTtl: number;
  period: number;
  numUses: number;
  noDefaultPolicy: boolean;
  boundCidrs: string[];
}

export const EMPTY_TOKEN_SETTINGS: TokenSettings = {
  policies: [],
  ttl: 0,
  maxTtl: 0,
  explicitMaxTtl: 0,
  period: 0,
  numUses: 0,
  noDefaultPolicy: false,
  boundCidrs: [],
};

/** Every field parseTokenSettings reads, for the paths that take them (PathSpec.fields). */
export const TOKEN_FIELDS: readonly string[] = [
  'token_policies', 'policies', 'token_ttl', 'token_max_ttl', 'token_explicit_max_ttl', 'token_period', 'period',
  'token_num_uses', 'token_no_default_policy', 'token_bound_cidrs', 'token_type',
];

/**
 * Applies the token fields present in `data` over `existing`. `policies` and `period` are the
 * legacy aliases of `token_policies` and `token_period`; the token_ form wins when both are given.
 */
export function parseTokenSettings(data: Readonly<Record<string, unknown>>, existing: TokenSettings = EMPTY_TOKEN_SETTINGS): TokenSettings {
  const out: TokenSettings = { ...existing, policies: [...existing.policies], boundCidrs: [...existing.boundCidrs] };
  const policyField = has(data, 'token_policies') ? 'token_policies' : has(data, 'policies') ? 'policies' : undefined;
  if (policyField) {
    out.policies = [...new Set(parseStringList(data[policyField], policyField).map(canonicalPolicyName))].filter((p) => p !== '');
    if (out.policies.includes('root')) throw badRequest(`invalid ${policyField}: the root policy cannot be granted by an auth method`);
  }
  if (has(data, 'token_ttl')) out.ttl = parseDuration(data['token_ttl'], 'token_ttl');
  if (has(data, 'token_max_ttl')) out.maxTtl = parseDuration(data['token_max_ttl'], 'token_max_ttl');
  if (has(data, 'token_explicit_max_ttl')) out.explicitMaxTtl = parseDuration(data['token_explicit_max_ttl'], 'token_explicit_max_ttl');
  const periodField = has(data, 'token_period') ? 'token_period' : has(data, 'period') ? 'period' : undefined;
  if (periodField) out.period = parseDuration(data[periodField], periodField);
  if (has(data, 'token_num_uses')) out.numUses = parseInteger(data['token_num_uses'], 'token_num_uses', 0, 2 ** 31 - 1);
  if (has(data, 'token_no_default_policy')) out.noDefaultPolicy = parseBool(data['token_no_default_policy'], 'token_no_default_policy');
  if (has(data, 'token_bound_cidrs')) out.boundCidrs = parseCidrList(parseStringList(data['token_bound_cidrs'], 'token_bound_cidrs'), 'token_bound_cidrs');
  if (has(data, 'token_type')) {
    const type = parseString(data['token_type'], 'token_type');
    // Batch tokens do not exist in Coffer; refusing beats silently issuing a service token.
    if (type !== 'default' && type !== 'service' && type !== 'default-service') {
      throw badRequest('invalid token_type: only "default" and "service" are supported');
    }
  }
  if (out.maxTtl > 0 && out.ttl > out.maxTtl) throw badRequest('token_ttl should not be greater than token_max_ttl');
  return out;
}

/** The fields as Vault returns them in a role or user read: durations as integer seconds. */
export function tokenSettingsView(s: TokenSettings): Record<string, unknown> {
  return {
    token_policies: [...s.policies],
    policies: [...s.policies],
    token_ttl: s.ttl,
    token_max_ttl: s.maxTtl,
    token_explicit_max_ttl: s.explicitMaxTtl,
    token_period: s.period,
    period: s.period,
    token_num_uses: s.numUses,
    token_no_default_policy: s.noDefaultPolicy,
    token_bound_cidrs: [...s.boundCidrs],
    token_type: 'default',
  };
}

/**
 * Builds the core's verdict. The core caps TTLs by the mount and adds 'default' unless told not to.
 * `boundCidrs` replaces the settings' own when given (an AppRole secret ID's token_bound_cidrs,
 * which lie within its role's).
 */
export function loginResult(s: TokenSettings, displayName: string, metadata: Record<string, string>, boundCidrs: readonly string[] = s.boundCidrs): LoginResult {
  const caps = [s.maxTtl, s.explicitMaxTtl].filter((v) => v > 0);
  return {
    policies: [...s.policies],
    displayName,
    metadata,
    ttl: s.ttl,
    maxTtl: caps.length > 0 ? Math.min(...caps) : 0,
    ...(s.explicitMaxTtl > 0 ? { explicitMaxTtl: s.explicitMaxTtl } : {}),
    ...(s.period > 0 ? { period: s.period } : {}),
    numUses: s.numUses,
    noDefaultPolicy: s.noDefaultPolicy,
    ...(boundCidrs.length > 0 ? { boundCidrs: [...boundCidrs] } : {}),
  };
}
