/**
 * The Kubernetes auth method: pods log in with their service-account token, bound to roles by
 * service-account name and namespace. Tokens are verified locally with the cluster's signing
 * keys (PEM or JWKS); the TokenReview API is not used.
 *
 * Owns: wiring config, roles and login; the paths live in path-*.ts.
 * Must never: read or write outside `ctx.storage`; contact the Kubernetes API server.
 */
import type { Engine, EngineContext } from '../../core/router/engine.js';
import { createLoginRefusals } from '../shared/login-refusal.js';
import { requireRole } from '../shared/login-renewal.js';
import { rolePaths } from '../shared/role-paths.js';
import { createKubernetesConfigStore } from './config-store.js';
import { configPath } from './path-config.js';
import { KUBERNETES_LOGIN_ERROR, loginPath } from './path-login.js';
import { createKubernetesRoleStore, mergeRole, ROLE_FIELDS, roleView } from './role-store.js';

export function createKubernetesEngine(ctx: EngineContext): Engine {
  const configs = createKubernetesConfigStore(ctx.storage);
  const roles = createKubernetesRoleStore(ctx.storage);
  const refusals = createLoginRefusals(ctx.logger, KUBERNETES_LOGIN_ERROR);
  return {
    type: 'kubernetes',
    paths: [
      loginPath(configs, roles, ctx.clock, refusals),
      configPath(configs),
      ...rolePaths(roles, { merge: mergeRole, view: roleView, fields: ROLE_FIELDS }, 'Manage a Kubernetes role: bound service accounts and the token it grants.'),
    ],
    checkRenewal: requireRole(async (name) => (await roles.get(name))?.token, 'role'),
  };
}
