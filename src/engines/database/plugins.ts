/**
 * Which `plugin_name` values a database mount accepts, and the factory behind each.
 *
 * Owns: the name catalogue and its aliases. `builtinDatabasePlugins` is the engine's default
 * (PostgreSQL, MySQL/MariaDB, Redis); the composition root may pass another registry to
 * `createDatabaseEngine`, for example to add a plugin or to inject test doubles.
 * Must never: construct a plugin (and so a pool) for a name it does not list.
 */
import { badRequest } from '../../core/errors.js';
import type { DatabasePluginFactory } from './plugin.js';
import { createMysqlPlugin, MYSQL_PLUGIN_NAME } from './plugin-mysql.js';
import { createPostgresPlugin, POSTGRES_PLUGIN_NAME } from './plugin-postgres.js';
import { createRedisPlugin, REDIS_PLUGIN_NAME } from './plugin-redis.js';

/** plugin_name → factory. The factory receives the name as asked for (it may be an alias). */
export type DatabasePluginRegistry = Readonly<Record<string, DatabasePluginFactory>>;

/** Names that mean another plugin when they are not registered themselves, as in Vault. */
export const PLUGIN_ALIASES: Readonly<Record<string, string>> = {
  'mysql-aurora-database-plugin': 'mysql-database-plugin',
  'mysql-legacy-database-plugin': 'mysql-database-plugin',
  'mysql-rds-database-plugin': 'mysql-database-plugin',
  'valkey-database-plugin': 'redis-database-plugin',
};

/**
 * The username limit an alias imposes on top of its plugin's: Vault's legacy MySQL flavours
 * (aurora, rds, legacy) keep usernames to 16 characters for MySQL before 5.7.
 */
export const ALIAS_USERNAME_LIMITS: Readonly<Record<string, number>> = {
  'mysql-aurora-database-plugin': 16,
  'mysql-legacy-database-plugin': 16,
  'mysql-rds-database-plugin': 16,
};

export const builtinDatabasePlugins: DatabasePluginRegistry = {
  [POSTGRES_PLUGIN_NAME]: () => createPostgresPlugin(),
  [MYSQL_PLUGIN_NAME]: () => createMysqlPlugin(),
  [REDIS_PLUGIN_NAME]: () => createRedisPlugin(),
};

/** Plugins whose statements are SQL templates naming the user with {{name}} (Redis takes ACL rules). */
const STATEMENT_TEMPLATE_PLUGINS: ReadonlySet<string> = new Set([POSTGRES_PLUGIN_NAME, MYSQL_PLUGIN_NAME]);

/** Whether `pluginName` (or the plugin it is an alias of) fills statement templates. */
export function usesStatementTemplates(pluginName: string): boolean {
  return STATEMENT_TEMPLATE_PLUGINS.has(PLUGIN_ALIASES[pluginName] ?? pluginName);
}

/** Every name `registry` answers to, aliases included, sorted. */
export function acceptedPluginNames(registry: DatabasePluginRegistry): string[] {
  const names = new Set(Object.keys(registry));
  for (const [alias, target] of Object.entries(PLUGIN_ALIASES)) if (Object.hasOwn(registry, target)) names.add(alias);
  return [...names].sort();
}

/** The factory for `name`, or a 400 that lists the valid names. */
export function resolvePlugin(registry: DatabasePluginRegistry, name: string): DatabasePluginFactory {
  if (Object.hasOwn(registry, name)) return registry[name] as DatabasePluginFactory;
  const target = PLUGIN_ALIASES[name];
  if (target !== undefined && Object.hasOwn(registry, target)) return registry[target] as DatabasePluginFactory;
  throw badRequest(`invalid plugin_name: must be one of ${acceptedPluginNames(registry).join(', ')}`);
}
