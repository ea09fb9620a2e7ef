/**
 * JWT/OIDC `login` (unauthenticated): `{role, jwt}` → a token with the role's policies.
 *
 * Owns: the order of checks on a presented JWT — algorithm and signature first (jose), then
 * issuer, time claims, audience, subject, bound claims, user and groups claims — all on the
 * verified claim set only. Every failure is the same 400 "permission denied"; the reason goes
 * to the server log as a fixed category.
 * Must never: issue a token after any failed check; log or echo the JWT or a claim value.
 */
import type { Clock } from '../../core/clock.js';
import { badRequest } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { addressAllowed } from '../../core/cidr.js';
import { isName, parseString } from '../shared/input.js';
import { checkAudience, checkTimes, claimAt, verifyJws } from '../shared/jwt-verify.js';
import type { LoginRefusals } from '../shared/login-refusal.js';
import { loginResult } from '../shared/token-fields.js';
import { mappedMetadata, unmatchedBoundClaim } from './bound-claims.js';
import type { JwtConfigStore } from './config-store.js';
import { DEFAULT_LEEWAY, effectiveLeeway, type JwtRoleStore } from './role-store.js';

export const JWT_LOGIN_ERROR = 'permission denied';

/** What a login reads; others are ignored with Vault's warning. */
const LOGIN_FIELDS: ReadonlySet<string> = new Set(['jwt', 'role']);

export function loginPath(configs: JwtConfigStore, roles: JwtRoleStore, clock: Clock, refusals: LoginRefusals): PathSpec {
  const login = async (req: EngineRequest): Promise<EngineResponse> => {
    const token = req.data['jwt'];
    if (typeof token !== 'string' || token === '') throw badRequest('missing jwt');
    const config = await configs.get();
    if (!config) throw refusals.refuse('mount not configured');
    const roleName = parseString(req.data['role'], 'role').trim() || config.defaultRole;
    if (roleName === '') throw badRequest('missing role');
    // Refused as an unknown role is; the name is not logged, being no role's.
    if (!isName(roleName)) throw refusals.refuse('invalid role name');
    const role = await roles.get(roleName);
    const fields = { role: roleName };
    if (!role) throw refusals.refuse('unknown role', fields);

    let verifier;
    try {
      verifier = await configs.verifier(config);
    } catch {
      throw refusals.refuse('could not reach the OIDC provider', fields);
    }
    const verified = await verifyJws(token, verifier.keys, verifier.algorithms);
    if (!verified.ok) throw refusals.refuse(verified.reason, fields);
    const claims = verified.value;

    if (verifier.expectedIssuer !== '' && claims['iss'] !== verifier.expectedIssuer) throw refusals.refuse('issuer not bound', fields);
    const times = checkTimes(claims, clock.now(), {
      clockSkew: effectiveLeeway(role.clockSkewLeeway, DEFAULT_LEEWAY.clockSkew),
      expiration: effectiveLeeway(role.expirationLeeway, DEFAULT_LEEWAY.expiration),
      notBefore: effectiveLeeway(role.notBeforeLeeway, DEFAULT_LEEWAY.notBefore),
      requireExp: true,
    });
    if (!times.ok) throw refusals.refuse(times.reason, fields);
    const audience = checkAudience(claims, role.boundAudiences);
    if (!audience.ok) throw refusals.refuse(audience.reason, fields);
    if (role.boundSubject !== '' && claims['sub'] !== role.boundSubject) throw refusals.refuse('sub not bound', fields);
    const unmatched = unmatchedBoundClaim(claims, role.boundClaims, role.boundClaimsType);
    if (unmatched !== undefined) throw refusals.refuse('bound claim not matched', { ...fields, claim: unmatched });

    const user = claimAt(claims, role.userClaim);
    if ((typeof user !== 'string' && typeof user !== 'number') || String(user) === '') throw refusals.refuse('user_claim missing or not a string', fields);
    if (role.groupsClaim !== '') {
      const groups = claimAt(claims, role.groupsClaim);
      const valid = typeof groups === 'string' || (Array.isArray(groups) && groups.every((g) => typeof g === 'string'));
      if (!valid) throw refusals.refuse('groups_claim missing or not a list of strings', fields);
    }
    const mapped = mappedMetadata(claims, role.claimMappings);
    if (!mapped.ok) throw refusals.refuse('mapped claim is not a string, number or boolean', { ...fields, claim: mapped.claim });
    if (!addressAllowed(req.remoteAddress, role.token.boundCidrs)) throw refusals.refuse('client address outside token_bound_cidrs', fields);

    return { login: loginResult(role.token, String(user), { ...mapped.metadata, role: roleName }) };
  };

  return {
    pattern: 'login',
    unauthenticated: true,
    fields: LOGIN_FIELDS,
    description: 'Log in with a JWT signed by a trusted issuer.',
    operations: { update: login },
  };
}
