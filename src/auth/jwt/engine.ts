/**
 * The JWT auth method (also enabled as type `oidc`): workloads and CI systems log in with a JWT
 * signed by a trusted issuer, checked against a role's bindings.
 *
 * Only the `jwt` login flow exists; the browser OIDC flow (auth_url, callback) is out of scope.
 * Owns: wiring config, roles and login; the paths live in path-*.ts.
 * Must never: read or write outside `ctx.storage`; issue a token on an unverified claim.
 */
import type { Engine, EngineContext } from '../../core/router/engine.js';
import { createLoginRefusals } from '../shared/login-refusal.js';
import { requireRole } from '../shared/login-renewal.js';
import { rolePaths } from '../shared/role-paths.js';
import { createJwtConfigStore } from './config-store.js';
import { configPath } from './path-config.js';
import { JWT_LOGIN_ERROR, loginPath } from './path-login.js';
import { createJwtRoleStore, mergeRole, ROLE_FIELDS, roleView } from './role-store.js';

export function createJwtEngine(ctx: EngineContext): Engine {
  const configs = createJwtConfigStore(ctx.storage);
  const roles = createJwtRoleStore(ctx.storage);
  const refusals = createLoginRefusals(ctx.logger, JWT_LOGIN_ERROR);
  return {
    type: ctx.mount.type,
    paths: [
      loginPath(configs, roles, ctx.clock, refusals),
      configPath(configs),
      ...rolePaths(roles, { merge: mergeRole, view: roleView, fields: ROLE_FIELDS }, 'Manage a JWT role: bindings on claims and the token it grants.'),
    ],
    checkRenewal: requireRole(async (name) => (await roles.get(name))?.token, 'role'),
  };
}
