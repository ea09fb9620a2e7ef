/**
 * AppRole `role/:name/secret-id/{lookup,destroy}` (by secret ID value) and
 * `role/:name/secret-id-accessor/{lookup,destroy}` (by accessor).
 *
 * Owns: scoping every lookup and destruction to the role in the path: an accessor or secret ID
 * of another role is "not found", never acted upon (CVE-2023-24999).
 * Must never: return the secret ID or its HMAC.
 */
import { badRequest, notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { NAME_PATTERN, parseString } from '../shared/input.js';
import type { ApproleRole, RoleStore } from './role-store.js';
import { secretIdView, type SecretIdEntry, type SecretIdStore } from './secret-id-store.js';

export function secretIdOpsPaths(roles: RoleStore, secretIds: SecretIdStore): PathSpec[] {
  const roleFor = async (req: EngineRequest): Promise<ApproleRole> => {
    const role = await roles.get(req.params['name'] as string);
    if (!role) throw badRequest('role does not exist');
    return role;
  };

  const bySecretId = async (req: EngineRequest): Promise<{ role: ApproleRole; entry: SecretIdEntry | undefined }> => {
    const secretId = parseString(req.data['secret_id'], 'secret_id');
    if (secretId === '') throw badRequest('missing secret_id');
    const role = await roleFor(req);
    return { role, entry: await secretIds.find(role, secretId) };
  };

  const byAccessor = async (req: EngineRequest): Promise<{ role: ApproleRole; entry: SecretIdEntry }> => {
    const accessor = parseString(req.data['secret_id_accessor'], 'secret_id_accessor').trim();
    if (accessor === '') throw badRequest('missing secret_id_accessor');
    const role = await roleFor(req);
    const entry = await secretIds.findByAccessor(role, accessor);
    if (!entry) throw notFound('no secret ID with this accessor exists for this role');
    return { role, entry };
  };

  const lookup = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const { entry } = await bySecretId(req);
    // Vault answers an unknown secret ID with an empty 204, not an error.
    return entry ? { data: secretIdView(entry), auditNonHmacKeys: ['secret_id_accessor'] } : null;
  };

  const destroy = async (req: EngineRequest): Promise<null> => {
    const { role, entry } = await bySecretId(req);
    if (entry) await secretIds.destroy(role, entry);
    return null;
  };

  const accessorLookup = async (req: EngineRequest): Promise<EngineResponse> => {
    const { entry } = await byAccessor(req);
    return { data: secretIdView(entry), auditNonHmacKeys: ['secret_id_accessor'] };
  };

  const accessorDestroy = async (req: EngineRequest): Promise<null> => {
    const { role, entry } = await byAccessor(req);
    await secretIds.destroy(role, entry);
    return null;
  };

  const role = `role/(?<name>${NAME_PATTERN})`;
  return [
    { pattern: `${role}/secret-id/lookup`, description: 'Read the properties of a secret ID.', operations: { update: lookup } },
    { pattern: `${role}/secret-id/destroy`, description: 'Destroy a secret ID.', operations: { update: destroy, delete: destroy } },
    { pattern: `${role}/secret-id-accessor/lookup`, description: 'Read the properties of a secret ID by its accessor.', operations: { update: accessorLookup } },
    { pattern: `${role}/secret-id-accessor/destroy`, description: 'Destroy a secret ID by its accessor.', operations: { update: accessorDestroy, delete: accessorDestroy } },
  ];
}
