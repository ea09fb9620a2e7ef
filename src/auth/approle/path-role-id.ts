/**
 * AppRole `role/:name/role-id`: read the role's role_id, or set a custom one.
 *
 * Must never: let two roles share a role_id (role-store.ts refuses it under the role lock).
 */
import { badRequest, notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { NAME_PATTERN, parseString } from '../shared/input.js';
import type { RoleStore } from './role-store.js';

export function roleIdPath(roles: RoleStore): PathSpec {
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const role = await roles.get(req.params['name'] as string);
    if (!role) throw notFound();
    return { data: { role_id: role.roleId } };
  };

  const update = async (req: EngineRequest): Promise<null> => {
    const roleId = parseString(req.data['role_id'], 'role_id').trim();
    if (roleId === '') throw badRequest('missing role_id');
    await roles.locked(async () => {
      const role = await roles.get(req.params['name'] as string);
      if (!role) throw badRequest('role does not exist');
      await roles.save({ ...role, roleId }, role);
    });
    return null;
  };

  return {
    pattern: `role/(?<name>${NAME_PATTERN})/role-id`,
    description: 'Read or set the role_id of an AppRole role.',
    operations: { read, update },
  };
}
