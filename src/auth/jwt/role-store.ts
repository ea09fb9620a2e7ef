/**
 * JWT/OIDC roles in storage (`role/<name>`) and the parsing of role settings.
 *
 * Owns: Vault's role rules — `user_claim` is required, a role must have at least one bound
 * constraint (audience, subject, claims or CIDRs), and only `role_type: jwt` exists here.
 * Must never: accept a leeway or binding it cannot enforce.
 */
import { badRequest } from '../../core/errors.js';
import type { Storage } from '../../core/storage/storage.js';
import { createRoleStore, type RoleStore } from '../shared/role-paths.js';
import { has, parseSignedDuration, parseString, parseStringList } from '../shared/input.js';
import { parseTokenSettings, TOKEN_FIELDS, tokenSettingsView, type TokenSettings } from '../shared/token-fields.js';
import { parseBoundClaims, parseClaimMappings, type BoundClaimsType } from './bound-claims.js';

export interface JwtRole {
  name: string;
  boundAudiences: string[];
  boundSubject: string;
  boundClaims: Record<string, Array<string | number | boolean>>;
  boundClaimsType: BoundClaimsType;
  claimMappings: Record<string, string>;
  userClaim: string;
  groupsClaim: string;
  /** Seconds; 0 = the default, -1 = none. */
  clockSkewLeeway: number;
  expirationLeeway: number;
  notBeforeLeeway: number;
  token: TokenSettings;
}

export const DEFAULT_LEEWAY = { clockSkew: 60, expiration: 150, notBefore: 150 } as const;

/** A stored leeway as seconds to apply: 0 means the default, negative means none. */
export function effectiveLeeway(stored: number, fallback: number): number {
  if (stored < 0) return 0;
  return stored === 0 ? fallback : stored;
}

/** Every field mergeRole reads. */
export const ROLE_FIELDS: ReadonlySet<string> = new Set([
  'role_type', 'bound_audiences', 'bound_subject', 'bound_claims', 'bound_claims_type', 'claim_mappings', 'user_claim', 'groups_claim',
  'clock_skew_leeway', 'expiration_leeway', 'not_before_leeway', ...TOKEN_FIELDS,
]);

export function mergeRole(name: string, data: Readonly<Record<string, unknown>>, existing: JwtRole | undefined): JwtRole {
  const role: JwtRole = existing
    ? { ...existing }
    : {
        name,
        boundAudiences: [],
        boundSubject: '',
        boundClaims: {},
        boundClaimsType: 'string',
        claimMappings: {},
        userClaim: '',
        groupsClaim: '',
        clockSkewLeeway: DEFAULT_LEEWAY.clockSkew,
        expirationLeeway: DEFAULT_LEEWAY.expiration,
        notBeforeLeeway: DEFAULT_LEEWAY.notBefore,
        token: parseTokenSettings({}),
      };
  if (has(data, 'role_type')) {
    const type = parseString(data['role_type'], 'role_type');
    if (type !== 'jwt') throw badRequest('invalid role_type: only "jwt" is supported; the browser OIDC flow is not implemented');
  }
  if (has(data, 'bound_audiences')) role.boundAudiences = parseStringList(data['bound_audiences'], 'bound_audiences');
  if (has(data, 'bound_subject')) role.boundSubject = parseString(data['bound_subject'], 'bound_subject');
  if (has(data, 'bound_claims')) role.boundClaims = parseBoundClaims(data['bound_claims']);
  if (has(data, 'bound_claims_type')) {
    const type = parseString(data['bound_claims_type'], 'bound_claims_type');
    if (type !== 'string' && type !== 'glob') throw badRequest('invalid bound_claims_type: must be "string" or "glob"');
    role.boundClaimsType = type;
  }
  if (has(data, 'claim_mappings')) role.claimMappings = parseClaimMappings(data['claim_mappings']);
  if (has(data, 'user_claim')) role.userClaim = parseString(data['user_claim'], 'user_claim').trim();
  if (has(data, 'groups_claim')) role.groupsClaim = parseString(data['groups_claim'], 'groups_claim').trim();
  if (has(data, 'clock_skew_leeway')) role.clockSkewLeeway = parseSignedDuration(data['clock_skew_leeway'], 'clock_skew_leeway');
  if (has(data, 'expiration_leeway')) role.expirationLeeway = parseSignedDuration(data['expiration_leeway'], 'expiration_leeway');
  if (has(data, 'not_before_leeway')) role.notBeforeLeeway = parseSignedDuration(data['not_before_leeway'], 'not_before_leeway');
  role.token = parseTokenSettings(data, role.token);
  if (role.userClaim === '') throw badRequest('a user_claim must be defined on the role');
  const bounded = role.boundAudiences.length > 0 || role.boundSubject !== '' || Object.keys(role.boundClaims).length > 0 || role.token.boundCidrs.length > 0;
  if (!bounded) throw badRequest('must have at least one bound constraint when creating/updating a role');
  return role;
}

export function roleView(role: JwtRole): Record<string, unknown> {
  return {
    role_type: 'jwt',
    bound_audiences: [...role.boundAudiences],
    bound_subject: role.boundSubject,
    bound_claims: Object.keys(role.boundClaims).length > 0 ? { ...role.boundClaims } : null,
    bound_claims_type: role.boundClaimsType,
    claim_mappings: Object.keys(role.claimMappings).length > 0 ? { ...role.claimMappings } : null,
    user_claim: role.userClaim,
    groups_claim: role.groupsClaim,
    clock_skew_leeway: role.clockSkewLeeway,
    expiration_leeway: role.expirationLeeway,
    not_before_leeway: role.notBeforeLeeway,
    ...tokenSettingsView(role.token),
  };
}

export type JwtRoleStore = RoleStore<JwtRole>;

export const createJwtRoleStore = (storage: Storage): JwtRoleStore => createRoleStore<JwtRole>(storage);
