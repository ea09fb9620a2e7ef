/**
 * The AppRole auth method: machines log in with a role_id and a secret_id.
 *
 * Owns: wiring the role and secret-ID stores to their paths; the paths live in path-*.ts.
 * Must never: read or write outside `ctx.storage`, or store a secret ID except as an HMAC
 * under the mount's salt.
 */
import type { Engine, EngineContext, EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { createKeyedMutex } from '../../core/keyed-mutex.js';
import { createLoginRefusals } from '../shared/login-refusal.js';
import { requireRole } from '../shared/login-renewal.js';
import { createSalt } from '../shared/salt.js';
import { APPROLE_LOGIN_ERROR, loginPath } from './path-login.js';
import { roleIdPath } from './path-role-id.js';
import { rolePaths } from './path-role.js';
import { secretIdOpsPaths } from './path-secret-id-ops.js';
import { secretIdPaths } from './path-secret-id.js';
import { createRoleStore, type RoleStore } from './role-store.js';
import { createSecretIdStore, type SecretIdStore } from './secret-id-store.js';

/** Removes every role's expired secret IDs; how many. */
async function tidyAll(roles: RoleStore, secretIds: SecretIdStore): Promise<number> {
  let removed = 0;
  for (const name of await roles.list()) {
    const role = await roles.get(name);
    if (role) removed += await secretIds.tidy(role);
  }
  return removed;
}

function tidyPath(roles: RoleStore, secretIds: SecretIdStore): PathSpec {
  const tidy = async (_req: EngineRequest): Promise<EngineResponse> => ({ data: { removed: await tidyAll(roles, secretIds) }, auditNonHmacKeys: ['removed'] });
  return { pattern: 'tidy/secret-id', description: 'Remove expired secret IDs.', operations: { update: tidy } };
}

/**
 * As Vault's AppRole, expired secret IDs are removed every minute without being asked: a CI
 * system minting one short-lived secret ID per run would otherwise grow storage (and every
 * secret-id LIST) without bound.
 */
export const SECRET_ID_TIDY_INTERVAL_MS = 60_000;

export function createApproleEngine(ctx: EngineContext): Engine {
  const salt = createSalt(ctx.storage);
  const mutex = createKeyedMutex();
  const roles = createRoleStore(ctx.storage, salt, mutex);
  const secretIds = createSecretIdStore(ctx.storage, salt, ctx.clock, mutex);
  const refusals = createLoginRefusals(ctx.logger, APPROLE_LOGIN_ERROR);
  let timer: NodeJS.Timeout | undefined;
  let tidying: Promise<void> | undefined;
  const tidyInBackground = (): void => {
    // One pass at a time: a slow one is not overtaken by the next tick.
    tidying ??= tidyAll(roles, secretIds)
      .then((removed) => { if (removed > 0) ctx.logger.debug('removed expired secret IDs', { removed }); })
      .catch((err: unknown) => ctx.logger.warn('could not remove expired secret IDs; will retry', { error: err instanceof Error ? err.message : String(err) }))
      .finally(() => { tidying = undefined; });
  };
  return {
    type: 'approle',
    paths: [
      loginPath(roles, secretIds, refusals),
      roleIdPath(roles),
      ...secretIdPaths(roles, secretIds),
      ...secretIdOpsPaths(roles, secretIds),
      ...rolePaths(roles, secretIds),
      tidyPath(roles, secretIds),
    ],
    checkRenewal: requireRole(async (name) => (await roles.get(name))?.token, 'role_name'),
    async initialize() {
      if (timer !== undefined) return;
      timer = setInterval(tidyInBackground, SECRET_ID_TIDY_INTERVAL_MS);
      timer.unref();
    },
    async shutdown() {
      clearInterval(timer);
      timer = undefined;
      await tidying;
    },
  };
}
