/**
 * `static-roles/:name` (create, read, update, delete) and `static-roles/` (list): roles whose
 * database users already exist and whose passwords Coffer rotates.
 *
 * Creating a role rotates at once (Vault's "import rotation"), so Coffer knows the password from
 * the start: single mode sets the user's password; dual mode sets `username`'s password (the
 * first current credential, version 1) and gives `alternate_username` a random password nobody
 * keeps (the standby). If that fails the role is not created.
 * Deleting a role forgets it; the database users stay as they are, as in Vault.
 * Must never: return a password (static-creds does), or change a role while it rotates (role
 * writes and deletes wait in the role's lane).
 */
import { CofferError, badRequest, notFound } from '../../core/errors.js';
import type { EngineContext, EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import type { DatabaseStore } from './config-store.js';
import { globMatch } from './input.js';
import type { RotationMachine } from './rotation-machine.js';
import type { RotationScheduler } from './rotation-scheduler.js';
import { parseStaticRole, STATIC_ROLE_FIELDS, staticRoleView } from './static-role-input.js';
import type { StaticRole, StaticStore } from './static-store.js';
import { NAME_PATTERN } from './storage-keys.js';

export interface StaticPathDeps {
  ctx: Pick<EngineContext, 'clock' | 'events'>;
  statics: StaticStore;
  configs: Pick<DatabaseStore, 'getConfig'>;
  machine: RotationMachine;
  scheduler: Pick<RotationScheduler, 'refresh'>;
}

export function staticRolePaths(deps: StaticPathDeps): PathSpec[] {
  const { statics, machine } = deps;
  const nameOf = (req: EngineRequest): string => req.params['name'] as string;

  /** The config must exist, list the role, and not be administered by one of the role's users. */
  const checkConfig = async (name: string, role: StaticRole): Promise<void> => {
    const config = await deps.configs.getConfig(role.dbName);
    if (!config) throw badRequest(`database config "${role.dbName}" not found`);
    if (!config.allowedRoles.some((pattern) => globMatch(pattern, name))) throw badRequest(`"${name}" is not an allowed role`);
    // Rotating the admin's own password here would lock Coffer out of the database.
    if ([role.username, role.alternateUsername].includes(config.username)) {
      throw badRequest('a static role may not rotate the connection\'s own admin user; use rotate-root for that');
    }
  };

  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const role = await statics.getRole(nameOf(req));
    if (!role) throw notFound();
    const account = await statics.getAccount(nameOf(req));
    return { data: staticRoleView(role, account?.lastRotation ?? 0, account?.current?.version ?? 0) };
  };

  const create = async (req: EngineRequest): Promise<null> => {
    const name = nameOf(req);
    const role = parseStaticRole(req.data, undefined);
    await checkConfig(name, role);
    await machine.exclusive(name, async () => {
      if (await statics.getRole(name)) throw new CofferError('conflict', `static role "${name}" already exists`);
      await statics.createRole(name, role, { current: null, previous: null, lastRotation: 0, rotation: null });
    });
    let outcome;
    try {
      outcome = await machine.rotate(name, 'import');
    } catch (err) {
      await statics.deleteRole(name);
      throw err;
    }
    if (outcome.status !== 'completed') {
      // Once the import made its new password current, that password is the only one the
      // account accepts: deleting the role would lose it. The role stays, its credential
      // readable, and the unfinished rest is the rotation's to retry or an operator's to see.
      const removed = await machine.exclusive(name, async () => {
        if ((await statics.getAccount(name))?.current) return false;
        await statics.deleteRole(name);
        return true;
      });
      const reason = outcome.error ?? 'the import rotation did not finish';
      if (removed) throw new CofferError('upstream', `failed to import static role "${name}": ${reason}`);
      await deps.scheduler.refresh(name, true);
      throw new CofferError(
        'upstream',
        `static role "${name}" was created, but its import rotation did not finish: ${reason}; the password now in use is at ${machine.credentialPath(name)}`,
      );
    }
    await deps.scheduler.refresh(name, true);
    return null;
  };

  const update = async (req: EngineRequest): Promise<null> => {
    const name = nameOf(req);
    await machine.exclusive(name, async () => {
      const existing = await statics.getRole(name);
      if (!existing) throw notFound();
      const role = parseStaticRole(req.data, existing);
      await statics.putRole(name, role);
    });
    await deps.scheduler.refresh(name, true);
    return null;
  };

  const remove = async (req: EngineRequest): Promise<null> => {
    const name = nameOf(req);
    const existed = await machine.exclusive(name, async () => {
      if (!(await statics.getRole(name))) return false;
      await statics.deleteRole(name);
      return true;
    });
    await deps.scheduler.refresh(name);
    if (existed) deps.ctx.events?.publish({ path: machine.credentialPath(name), version: null, event: 'delete' });
    return null;
  };

  const list = async (): Promise<EngineResponse> => {
    const keys = await statics.listRoles();
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  };

  return [
    {
      pattern: `static-roles/(?<name>${NAME_PATTERN})`,
      description: 'Manage static roles: existing database users whose passwords Coffer rotates.',
      existenceCheck: async (req) => (await statics.getRole(nameOf(req))) !== undefined,
      fields: STATIC_ROLE_FIELDS,
      operations: { read, create, update, delete: remove },
    },
    {
      pattern: 'static-roles/?',
      description: 'List the static roles.',
      operations: { list },
    },
  ];
}
