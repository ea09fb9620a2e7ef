/**
 * AppRole `login` (unauthenticated): role_id + secret_id → a token with the role's policies.
 *
 * Owns: the order of checks (role, CIDR bindings, then the secret ID, whose use is spent last)
 * and the rule that every failure, whatever its cause, is the same 400 "invalid role or secret
 * ID"; the cause goes to the server log only.
 * Must never: issue a token after any failed check; log or echo role_id or secret_id.
 */
import { badRequest } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { addressAllowed } from '../../core/cidr.js';
import { parseString } from '../shared/input.js';
import type { LoginRefusals } from '../shared/login-refusal.js';
import { loginResult } from '../shared/token-fields.js';
import type { RoleStore } from './role-store.js';
import type { SecretIdStore } from './secret-id-store.js';

export const APPROLE_LOGIN_ERROR = 'invalid role or secret ID';

/** What a login reads; others are ignored with Vault's warning. */
const LOGIN_FIELDS: ReadonlySet<string> = new Set(['role_id', 'secret_id']);

export function loginPath(roles: RoleStore, secretIds: SecretIdStore, refusals: LoginRefusals): PathSpec {
  const login = async (req: EngineRequest): Promise<EngineResponse> => {
    const roleId = parseString(req.data['role_id'], 'role_id').trim();
    if (roleId === '') throw badRequest('missing role_id');
    const role = await roles.byRoleId(roleId);
    if (!role) throw refusals.refuse('unknown role_id');
    const fields = { role: role.name };
    if (!addressAllowed(req.remoteAddress, role.secretIdBoundCidrs)) throw refusals.refuse('client address outside secret_id_bound_cidrs', fields);
    if (!addressAllowed(req.remoteAddress, role.token.boundCidrs)) throw refusals.refuse('client address outside token_bound_cidrs', fields);
    let metadata: Record<string, string> = {};
    // A secret ID's own token_bound_cidrs (created within the role's) replace the role's, as in Vault.
    let boundCidrs = role.token.boundCidrs;
    if (role.bindSecretId) {
      const secretId = parseString(req.data['secret_id'], 'secret_id');
      if (secretId === '') throw refusals.refuse('missing secret_id', fields);
      const outcome = await secretIds.spend(role, secretId, req.remoteAddress);
      if (!outcome.ok) throw refusals.refuse(outcome.reason, fields);
      metadata = outcome.entry.metadata;
      if (outcome.entry.tokenBoundCidrs.length > 0) boundCidrs = outcome.entry.tokenBoundCidrs;
    }
    return { login: loginResult(role.token, role.name, { ...metadata, role_name: role.name }, boundCidrs) };
  };

  return {
    pattern: 'login',
    unauthenticated: true,
    fields: LOGIN_FIELDS,
    description: 'Log in with a role_id and a secret_id.',
    operations: { update: login },
  };
}
