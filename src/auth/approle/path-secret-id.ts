/**
 * AppRole `role/:name/secret-id` (generate; LIST gives accessors) and
 * `role/:name/custom-secret-id` (store a caller-chosen secret ID).
 *
 * Owns: narrowing a new secret ID's settings within the role's: its TTL and use count may not
 * exceed the role's, and its CIDR lists must lie inside the role's.
 * Must never: store the secret ID itself; the response is the only place it ever appears.
 */
import { badRequest, notFound } from '../../core/errors.js';
import { uuid } from '../../core/ids.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import { cidrsWithin, parseCidrList } from '../../core/cidr.js';
import { has, NAME_PATTERN, parseDuration, parseInteger, parseString, parseStringList, parseStringMap } from '../shared/input.js';
import type { ApproleRole, RoleStore } from './role-store.js';
import type { NewSecretId, SecretIdStore } from './secret-id-store.js';

function secretIdSettings(role: ApproleRole, data: Readonly<Record<string, unknown>>): NewSecretId {
  let ttl = role.secretIdTtl;
  if (has(data, 'ttl')) {
    const requested = parseDuration(data['ttl'], 'ttl');
    if (role.secretIdTtl > 0 && (requested === 0 || requested > role.secretIdTtl)) {
      throw badRequest("ttl cannot be longer than the role's secret_id_ttl");
    }
    if (requested > 0) ttl = requested;
  }
  let numUses = role.secretIdNumUses;
  if (has(data, 'num_uses')) {
    const requested = parseInteger(data['num_uses'], 'num_uses', 0, 2 ** 31 - 1);
    if (role.secretIdNumUses > 0 && (requested === 0 || requested > role.secretIdNumUses)) {
      throw badRequest("num_uses cannot be higher than the role's secret_id_num_uses");
    }
    if (requested > 0) numUses = requested;
  }
  const cidrList = parseCidrList(parseStringList(data['cidr_list'], 'cidr_list'), 'cidr_list');
  if (cidrList.length > 0 && !cidrsWithin(cidrList, role.secretIdBoundCidrs)) {
    throw badRequest("cidr_list must be a subset of the role's secret_id_bound_cidrs");
  }
  const tokenBoundCidrs = parseCidrList(parseStringList(data['token_bound_cidrs'], 'token_bound_cidrs'), 'token_bound_cidrs');
  if (tokenBoundCidrs.length > 0 && !cidrsWithin(tokenBoundCidrs, role.token.boundCidrs)) {
    throw badRequest("token_bound_cidrs must be a subset of the role's token_bound_cidrs");
  }
  return { ttl, numUses, cidrList, tokenBoundCidrs, metadata: parseStringMap(data['metadata'], 'metadata') };
}

/** What generating a secret ID reads; a custom one also reads `secret_id`. */
const GENERATE_FIELDS: ReadonlySet<string> = new Set(['ttl', 'num_uses', 'cidr_list', 'token_bound_cidrs', 'metadata']);
const CUSTOM_FIELDS: ReadonlySet<string> = new Set([...GENERATE_FIELDS, 'secret_id']);

export function secretIdPaths(roles: RoleStore, secretIds: SecretIdStore): PathSpec[] {
  const roleFor = async (req: EngineRequest): Promise<ApproleRole> => {
    const role = await roles.get(req.params['name'] as string);
    if (!role) throw badRequest('role does not exist');
    if (!role.bindSecretId) throw badRequest('bind_secret_id is not set on the role');
    return role;
  };

  const issue = async (role: ApproleRole, secretId: string, data: Readonly<Record<string, unknown>>): Promise<EngineResponse> => {
    const settings = secretIdSettings(role, data);
    const entry = await secretIds.create(role, secretId, uuid(), settings);
    if (!entry) throw badRequest('secret_id is already registered for this role');
    return {
      data: {
        secret_id: secretId,
        secret_id_accessor: entry.accessor,
        secret_id_ttl: entry.ttl,
        secret_id_num_uses: entry.numUses,
      },
      auditNonHmacKeys: ['secret_id_accessor', 'secret_id_ttl', 'secret_id_num_uses'],
      // An answer that never reaches anyone (its wrapping failed) must not leave a usable secret ID.
      withdraw: () => secretIds.destroy(role, entry),
    };
  };

  const generate = async (req: EngineRequest): Promise<EngineResponse> => issue(await roleFor(req), uuid(), req.data);

  const custom = async (req: EngineRequest): Promise<EngineResponse> => {
    const secretId = parseString(req.data['secret_id'], 'secret_id');
    if (secretId === '') throw badRequest('missing secret_id');
    return issue(await roleFor(req), secretId, req.data);
  };

  const list = async (req: EngineRequest): Promise<EngineResponse> => {
    const role = await roles.get(req.params['name'] as string);
    if (!role) throw notFound();
    const keys = await secretIds.listAccessors(role);
    if (keys.length === 0) throw notFound();
    return { data: { keys }, auditNonHmacKeys: ['keys'] };
  };

  return [
    {
      pattern: `role/(?<name>${NAME_PATTERN})/secret-id/?`,
      description: 'Generate a secret ID for a role, or list the accessors of its secret IDs.',
      fields: GENERATE_FIELDS,
      operations: { update: generate, list },
    },
    {
      pattern: `role/(?<name>${NAME_PATTERN})/custom-secret-id`,
      description: 'Register a caller-chosen secret ID for a role.',
      fields: CUSTOM_FIELDS,
      operations: { update: custom },
    },
  ];
}
