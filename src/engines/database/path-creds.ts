/**
 * `creds/:role`: issues one dynamic credential as a leased secret.
 *
 * Owns: the issuance order: role → config → allowed_roles → username, password and expiry →
 * the `creds` secret, whose `internal` snapshots everything revocation needs (username, config,
 * statements), so a credential can be revoked after its role is deleted, and whose `create`
 * runs plugin.newUser. The core runs `create` while it stores the lease, and hands it the
 * lease's write: the plugin prepares the user meanwhile and commits it only once the lease is
 * durable, so a crash can leave a lease without a user (which revokes cleanly) but never a
 * user without a lease.
 * Must never: return a credential the database did not accept, or put the new password or the
 * admin password into an error.
 */
import { badRequest } from '../../core/errors.js';
import type { EngineContext, EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import type { DatabaseStore } from './config-store.js';
import type { Connections } from './connections.js';
import { databaseFailure } from './db-errors.js';
import { globMatch } from './input.js';
import { effectiveTtl } from './lease-ttls.js';
import { generatePassword, parsePasswordPolicy } from './password.js';
import { ALIAS_USERNAME_LIMITS } from './plugins.js';
import { CREDS_SECRET_TYPE, type CredsInternal } from './secret-creds.js';
import { NAME_PATTERN } from './storage-keys.js';
import { defaultUsername, parseUsernameTemplate } from './username.js';

export function credsPath(ctx: EngineContext, store: DatabaseStore, connections: Connections): PathSpec {
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const roleName = req.params['name'] as string;
    const role = await store.getRole(roleName);
    if (!role) throw badRequest(`unknown role: ${roleName}`);
    const config = await store.getConfig(role.dbName);
    if (!config) throw badRequest(`database config "${role.dbName}" not found`);
    if (!config.allowedRoles.some((pattern) => globMatch(pattern, roleName))) {
      throw badRequest(`"${roleName}" is not an allowed role`);
    }

    const ttl = effectiveTtl(role.defaultTtl, role.maxTtl, ctx.mount.defaultLeaseTtl, ctx.mount.maxLeaseTtl);
    const now = ctx.clock.now();
    const expiration = new Date(now + ttl * 1000);
    const password = generatePassword(parsePasswordPolicy(config.passwordPolicy));

    const username = await connections.use(role.dbName, async (plugin, liveConfig) => {
      const maxLength = Math.min(plugin.maxUsernameLength, ALIAS_USERNAME_LIMITS[liveConfig.pluginName] ?? Infinity);
      const input = { displayName: req.auth?.displayName ?? '', roleName, now, maxLength };
      return liveConfig.usernameTemplate === ''
        ? defaultUsername(input)
        : parseUsernameTemplate(liveConfig.usernameTemplate).render(input);
    });
    // A second `use`, not the first one held open: the core calls `create` after this handler
    // returned. A config replaced in between only means the new pool creates the user, which
    // is also the pool its revocation will use (db_name names the config, not the pool).
    const create = (leaseStored: Promise<void>): Promise<void> =>
      connections.use(role.dbName, async (plugin, liveConfig) => {
        try {
          await plugin.newUser({
            username,
            password,
            expiration,
            creationStatements: role.creationStatements,
            rollbackStatements: role.rollbackStatements,
            commitAfter: leaseStored,
          });
        } catch (err) {
          throw databaseFailure(err, [password, liveConfig.password], 'failed to create user: ');
        }
      });
    const internal: CredsInternal = {
      username,
      db_name: role.dbName,
      role: roleName,
      revocation_statements: [...role.revocationStatements],
      renew_statements: [...role.renewStatements],
    };
    return {
      data: { username, password },
      secret: { type: CREDS_SECRET_TYPE, ttl, maxTtl: role.maxTtl, renewable: true, internal: { ...internal }, create },
    };
  };

  return {
    pattern: `creds/(?<name>${NAME_PATTERN})`,
    description: 'Issue a dynamic database credential for a role.',
    operations: { read },
  };
}
