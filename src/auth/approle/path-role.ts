/**
 * AppRole `role/:name` (create, read, update, delete) and `role/` (list).
 *
 * Owns: validating role settings, including Vault's rule that a role must keep at least one
 * constraint (a bound secret ID or a CIDR binding), so no role logs in on role_id alone.
 * Must never: return the role's internal uuid; deleting a role removes its secret IDs too.
 */
import { badRequest, notFound } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { parseCidrList } from '../../core/cidr.js';
import { assertName, has, NAME_PATTERN, parseBool, parseDuration, parseInteger, parseString, parseStringList } from '../shared/input.js';
import { parseTokenSettings, TOKEN_FIELDS, tokenSettingsView } from '../shared/token-fields.js';
import type { ApproleRole, RoleStore } from './role-store.js';
import type { SecretIdStore } from './secret-id-store.js';

export function roleView(role: ApproleRole): Record<string, unknown> {
  return {
    bind_secret_id: role.bindSecretId,
    secret_id_bound_cidrs: [...role.secretIdBoundCidrs],
    secret_id_num_uses: role.secretIdNumUses,
    secret_id_ttl: role.secretIdTtl,
    local_secret_ids: false,
    ...tokenSettingsView(role.token),
  };
}

/** Every field mergeRole reads (`bound_cidr_list` is the legacy name of secret_id_bound_cidrs). */
const ROLE_FIELDS: ReadonlySet<string> = new Set([
  'role_id', 'bind_secret_id', 'secret_id_bound_cidrs', 'bound_cidr_list', 'secret_id_num_uses', 'secret_id_ttl', 'local_secret_ids', ...TOKEN_FIELDS,
]);

function mergeRole(name: string, data: Readonly<Record<string, unknown>>, existing: ApproleRole | undefined): ApproleRole {
  const role: ApproleRole = existing
    ? { ...existing, secretIdBoundCidrs: [...existing.secretIdBoundCidrs] }
    : { name, uuid: uuid(), roleId: uuid(), bindSecretId: true, secretIdBoundCidrs: [], secretIdNumUses: 0, secretIdTtl: 0, token: parseTokenSettings({}) };
  if (has(data, 'role_id')) {
    const roleId = parseString(data['role_id'], 'role_id').trim();
    if (roleId === '') throw badRequest('invalid role_id: must not be empty');
    role.roleId = roleId;
  }
  if (has(data, 'bind_secret_id')) role.bindSecretId = parseBool(data['bind_secret_id'], 'bind_secret_id');
  const cidrField = has(data, 'secret_id_bound_cidrs') ? 'secret_id_bound_cidrs' : has(data, 'bound_cidr_list') ? 'bound_cidr_list' : undefined;
  if (cidrField) role.secretIdBoundCidrs = parseCidrList(parseStringList(data[cidrField], cidrField), cidrField);
  if (has(data, 'secret_id_num_uses')) role.secretIdNumUses = parseInteger(data['secret_id_num_uses'], 'secret_id_num_uses', 0, 2 ** 31 - 1);
  if (has(data, 'secret_id_ttl')) role.secretIdTtl = parseDuration(data['secret_id_ttl'], 'secret_id_ttl');
  if (has(data, 'local_secret_ids') && parseBool(data['local_secret_ids'], 'local_secret_ids')) {
    throw badRequest('local_secret_ids is not supported: Coffer has no replication');
  }
  role.token = parseTokenSettings(data, role.token);
  if (!role.bindSecretId && role.secretIdBoundCidrs.length === 0 && role.token.boundCidrs.length === 0) {
    throw badRequest('at least one constraint should be enabled on the role: bind_secret_id, secret_id_bound_cidrs or token_bound_cidrs');
  }
  return role;
}

export function rolePaths(roles: RoleStore, secretIds: SecretIdStore): PathSpec[] {
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const role = await roles.get(req.params['name'] as string);
    if (!role) throw notFound();
    return { data: roleView(role) };
  };

  const write = async (req: EngineRequest): Promise<null> => {
    const name = req.params['name'] as string;
    assertName(name, 'role name');
    await roles.locked(async () => {
      const existing = await roles.get(name);
      await roles.save(mergeRole(existing?.name ?? name.toLowerCase(), req.data, existing), existing);
    });
    return null;
  };

  const remove = async (req: EngineRequest): Promise<null> => {
    await roles.locked(async () => {
      const role = await roles.get(req.params['name'] as string);
      if (!role) return;
      await roles.delete(role);
      await secretIds.destroyAll(role);
    });
    return null;
  };

  const list = async (): Promise<EngineResponse> => {
    const keys = await roles.list();
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  };

  return [
    {
      pattern: `role/(?<name>${NAME_PATTERN})`,
      description: 'Manage an AppRole role.',
      existenceCheck: async (req) => (await roles.get(req.params['name'] as string)) !== undefined,
      fields: ROLE_FIELDS,
      operations: { read, create: write, update: write, delete: remove },
    },
    { pattern: 'role/?', description: 'List AppRole roles.', operations: { list } },
  ];
}
