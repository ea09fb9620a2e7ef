/**
 * `roles/:name`: a dynamic role (which config, which statements, which TTLs), and `roles/` to
 * list them.
 *
 * A role may name a config that does not exist yet (setup order is free); creds checks it.
 * When the config exists and its plugin fills SQL templates, the statements are checked here
 * (statement-placeholders.ts), so a role that would create users revocation cannot find is
 * refused when it is written; the plugin checks again at issuance.
 * Must never: run a statement; roles are only stored here.
 */
import { badRequest, notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import type { DatabaseStore, DbRole } from './config-store.js';
import { has, parseDuration, parseStatements, parseString } from './input.js';
import { POSTGRES_PLUGIN_NAME } from './plugin-postgres.js';
import { parseAclRules, REDIS_PLUGIN_NAME } from './plugin-redis.js';
import { touchesObjectAcl } from './plugin-postgres-sql.js';
import { usesStatementTemplates } from './plugins.js';
import { checkCreationStatements, checkPlaceholders } from './statement-placeholders.js';
import { NAME_PATTERN } from './storage-keys.js';

/**
 * Shown when a role grants on tables to every credential: PostgreSQL then rewrites each table's
 * ACL row per credential, which is slow under concurrency and stops at ~2,400 live credentials.
 */
export const PER_OBJECT_GRANT_WARNING = 'creation_statements grant privileges on objects directly to each credential; '
  + 'every live credential then adds an entry to each table\'s ACL, which PostgreSQL caps at about 2,400. '
  + 'Prefer granting to a group role once and CREATE ROLE "{{name}}" ... IN ROLE "<group>" (see the README)';

function roleView(role: DbRole): Record<string, unknown> {
  return {
    db_name: role.dbName,
    creation_statements: [...role.creationStatements],
    revocation_statements: [...role.revocationStatements],
    renew_statements: [...role.renewStatements],
    rollback_statements: [...role.rollbackStatements],
    default_ttl: role.defaultTtl,
    max_ttl: role.maxTtl,
    credential_type: 'password',
  };
}

/** Every field a role write reads (mergeRole); anything else is ignored with Vault's warning (PathSpec.fields). */
const ROLE_FIELDS: ReadonlySet<string> = new Set([
  'db_name', 'creation_statements', 'revocation_statements', 'renew_statements', 'rollback_statements', 'default_ttl', 'max_ttl', 'credential_type',
]);

function mergeRole(data: Readonly<Record<string, unknown>>, existing: DbRole | undefined): DbRole {
  const pick = <T>(field: string, parse: (raw: unknown) => T, fallback: T): T => (has(data, field) ? parse(data[field]) : fallback);
  const role: DbRole = {
    dbName: pick('db_name', (r) => parseString(r, 'db_name').trim(), existing?.dbName ?? ''),
    creationStatements: pick('creation_statements', (r) => parseStatements(r, 'creation_statements'), existing?.creationStatements ?? []),
    revocationStatements: pick('revocation_statements', (r) => parseStatements(r, 'revocation_statements'), existing?.revocationStatements ?? []),
    renewStatements: pick('renew_statements', (r) => parseStatements(r, 'renew_statements'), existing?.renewStatements ?? []),
    rollbackStatements: pick('rollback_statements', (r) => parseStatements(r, 'rollback_statements'), existing?.rollbackStatements ?? []),
    defaultTtl: pick('default_ttl', (r) => parseDuration(r, 'default_ttl'), existing?.defaultTtl ?? 0),
    maxTtl: pick('max_ttl', (r) => parseDuration(r, 'max_ttl'), existing?.maxTtl ?? 0),
  };
  if (role.dbName === '') throw badRequest('empty database name attribute');
  if (role.maxTtl !== 0 && role.defaultTtl > role.maxTtl) throw badRequest('ttl cannot be greater than max_ttl');
  if (has(data, 'credential_type') && parseString(data['credential_type'], 'credential_type') !== 'password') {
    throw badRequest('invalid credential_type: only "password" is supported');
  }
  return role;
}

/** Refuses statements with a `{{…}}` that is not a placeholder, and creation statements that never name the user. */
function checkTemplates(role: DbRole): void {
  // Empty creation statements mean the plugin's default, which names the user.
  if (role.creationStatements.length > 0) checkCreationStatements(role.creationStatements);
  checkPlaceholders(role.revocationStatements, 'revocation_statements');
  checkPlaceholders(role.renewStatements, 'renew_statements');
  checkPlaceholders(role.rollbackStatements, 'rollback_statements');
}

export function rolePaths(store: DatabaseStore): PathSpec[] {
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const role = await store.getRole(req.params['name'] as string);
    if (!role) throw notFound();
    return { data: roleView(role) };
  };

  const write = async (req: EngineRequest): Promise<EngineResponse | null> => {
    const name = req.params['name'] as string;
    const role = mergeRole(req.data, await store.getRole(name));
    const config = await store.getConfig(role.dbName);
    if (config !== undefined && usesStatementTemplates(config.pluginName)) checkTemplates(role);
    // Redis rules are checked now, as the issue would check them: a refused rule (nopass, a
    // password of its own) surfaces here instead of at the first creds/ request.
    if (config?.pluginName === REDIS_PLUGIN_NAME && role.creationStatements.length > 0) parseAclRules(role.creationStatements);
    await store.putRole(name, role);
    // The ACL ceiling is PostgreSQL's; MySQL keeps one grant row per user and has none.
    const postgres = config?.pluginName === POSTGRES_PLUGIN_NAME;
    return postgres && touchesObjectAcl(role.creationStatements) ? { data: null, warnings: [PER_OBJECT_GRANT_WARNING] } : null;
  };

  const remove = async (req: EngineRequest): Promise<null> => {
    await store.deleteRole(req.params['name'] as string);
    return null;
  };

  const list = async (): Promise<EngineResponse> => {
    const keys = await store.listRoles();
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  };

  return [
    {
      pattern: `roles/(?<name>${NAME_PATTERN})`,
      description: 'Manage the roles that dynamic credentials are issued for.',
      existenceCheck: async (req) => (await store.getRole(req.params['name'] as string)) !== undefined,
      fields: ROLE_FIELDS,
      operations: { read, create: write, update: write, delete: remove },
    },
    {
      pattern: 'roles/?',
      description: 'List the dynamic roles.',
      operations: { list },
    },
  ];
}
