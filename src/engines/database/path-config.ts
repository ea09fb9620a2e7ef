/**
 * `config/:name`: one database connection (plugin, URL template, admin credentials, limits,
 * allowed roles), and `config/` to list them.
 *
 * A write opens the new pool first (and with verify_connection, connects once); only when that
 * works is the config stored and the old pool replaced, so a bad write changes nothing.
 * Must never: return the admin password, or a password embedded in connection_url, in a read,
 * an error or a log line.
 */
import { badRequest, notFound } from '../../core/errors.js';
import type { EngineRequest, EngineResponse, PathSpec } from '../../core/router/engine.js';
import type { DatabaseStore, DbConfig } from './config-store.js';
import type { PasswordAuthentication } from './plugin.js';
import { POSTGRES_PLUGIN_NAME } from './plugin-postgres.js';
import type { Connections } from './connections.js';
import { databaseFailure } from './db-errors.js';
import { checkRotationStatements, usesRotationStatements } from './statement-placeholders.js';
import { has, parseBool, parseCommaList, parseDuration, parseInteger, parseStatements, parseString } from './input.js';
import { parsePasswordPolicy } from './password.js';
import { DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_STATEMENT_TIMEOUT_S } from './plugin.js';
import { redisConnectionUrl } from './plugin-redis.js';
import { resolvePlugin, type DatabasePluginRegistry } from './plugins.js';
import { redactConnectionUrl } from './redact.js';
import { NAME_PATTERN } from './storage-keys.js';
import { parseUsernameTemplate } from './username.js';

const DEFAULT_MAX_OPEN = 4;
/** The longest connect_timeout or statement_timeout: a day. Zero is refused: nothing may wait forever. */
const MAX_TIMEOUT_S = 86_400;

/** A timeout field: a duration from 1s to a day. */
function parseTimeout(raw: unknown, field: string): number {
  const seconds = parseDuration(raw, field);
  if (seconds < 1 || seconds > MAX_TIMEOUT_S) throw badRequest(`invalid ${field}: must be a duration from 1s to 24h`);
  return seconds;
}

function configView(config: DbConfig): Record<string, unknown> {
  return {
    plugin_name: config.pluginName,
    plugin_version: '',
    connection_details: {
      connection_url: redactConnectionUrl(config.connectionUrl, [config.password]),
      username: config.username,
      max_open_connections: config.maxOpenConnections,
      max_idle_connections: config.maxIdleConnections,
      max_connection_lifetime: config.maxConnectionLifetime,
      connect_timeout: config.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_S,
      statement_timeout: config.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT_S,
      ...(config.usernameTemplate === '' ? {} : { username_template: config.usernameTemplate }),
      ...(config.pluginName === POSTGRES_PLUGIN_NAME ? { password_authentication: config.passwordAuthentication ?? 'password' } : {}),
    },
    allowed_roles: [...config.allowedRoles],
    password_policy: config.passwordPolicy,
    root_credentials_rotate_statements: [...config.rootRotationStatements],
    verify_connection: config.verifyConnection,
  };
}

/**
 * Every field mergeConfig reads: host, port, tls and insecure_tls are Vault's redis plugin's
 * form of a connection URL; plugin_version has one value here, as a read reports.
 */
const CONFIG_FIELDS: ReadonlySet<string> = new Set([
  'plugin_name', 'plugin_version', 'connection_url', 'username', 'password', 'allowed_roles', 'verify_connection', 'password_policy',
  'max_open_connections', 'max_idle_connections', 'max_connection_lifetime', 'root_rotation_statements', 'username_template',
  'connect_timeout', 'statement_timeout', 'host', 'port', 'tls', 'insecure_tls', 'password_authentication',
]);

/** `password_authentication`: PostgreSQL only, as in Vault's plugin. */
function parsePasswordAuthentication(raw: unknown): PasswordAuthentication {
  const value = parseString(raw, 'password_authentication').trim();
  if (value === '' || value === 'password') return 'password';
  if (value === 'scram-sha-256') return value;
  throw badRequest('invalid password_authentication: must be "password" or "scram-sha-256"');
}

/** The stored config after applying `data` to `existing` (absent fields keep their value). */
function mergeConfig(data: Readonly<Record<string, unknown>>, existing: DbConfig | undefined): DbConfig {
  const pick = <T>(field: string, parse: (raw: unknown) => T, fallback: T): T => (has(data, field) ? parse(data[field]) : fallback);
  // 0 is Vault's "the default" (its SQL connection helper turns it into 4).
  const maxOpen = pick('max_open_connections', (r) => parseInteger(r, 'max_open_connections', 0, 1000) || DEFAULT_MAX_OPEN, existing?.maxOpenConnections ?? DEFAULT_MAX_OPEN);
  const config: DbConfig = {
    pluginName: pick('plugin_name', (r) => parseString(r, 'plugin_name').trim(), existing?.pluginName ?? ''),
    connectionUrl: pick('connection_url', (r) => parseString(r, 'connection_url'), existing?.connectionUrl ?? ''),
    username: pick('username', (r) => parseString(r, 'username'), existing?.username ?? ''),
    password: pick('password', (r) => parseString(r, 'password'), existing?.password ?? ''),
    allowedRoles: pick('allowed_roles', (r) => parseCommaList(r, 'allowed_roles'), existing?.allowedRoles ?? []),
    verifyConnection: pick('verify_connection', (r) => parseBool(r, 'verify_connection'), true),
    passwordPolicy: pick('password_policy', (r) => parseString(r, 'password_policy').trim(), existing?.passwordPolicy ?? ''),
    maxOpenConnections: maxOpen,
    // As in Vault, more idle than open connections means "as many as are open".
    maxIdleConnections: Math.min(maxOpen, pick('max_idle_connections', (r) => parseInteger(r, 'max_idle_connections', 0, 1000), existing?.maxIdleConnections ?? 0)),
    maxConnectionLifetime: pick('max_connection_lifetime', (r) => parseDuration(r, 'max_connection_lifetime'), existing?.maxConnectionLifetime ?? 0),
    rootRotationStatements: pick('root_rotation_statements', (r) => parseStatements(r, 'root_rotation_statements'), existing?.rootRotationStatements ?? []),
    usernameTemplate: pick('username_template', (r) => parseString(r, 'username_template').trim(), existing?.usernameTemplate ?? ''),
    connectTimeout: pick('connect_timeout', (r) => parseTimeout(r, 'connect_timeout'), existing?.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_S),
    statementTimeout: pick('statement_timeout', (r) => parseTimeout(r, 'statement_timeout'), existing?.statementTimeout ?? DEFAULT_STATEMENT_TIMEOUT_S),
  };
  const passwordAuthentication = pick('password_authentication', parsePasswordAuthentication, existing?.passwordAuthentication ?? 'password');
  if (config.pluginName === '') throw badRequest('plugin_name is required');
  if (passwordAuthentication !== 'password') {
    if (config.pluginName !== POSTGRES_PLUGIN_NAME) throw badRequest(`password_authentication=${passwordAuthentication} applies to ${POSTGRES_PLUGIN_NAME} only`);
    config.passwordAuthentication = passwordAuthentication;
  }
  // Vault's redis plugin takes host/port/tls fields instead of a URL; keep one form inside.
  if (!has(data, 'connection_url') && has(data, 'host')) {
    config.connectionUrl = redisConnectionUrl({
      host: parseString(data['host'], 'host').trim(),
      port: has(data, 'port') ? parseInteger(data['port'], 'port', 1, 65535) : 6379,
      tls: has(data, 'tls') ? parseBool(data['tls'], 'tls') : false,
      insecureTls: has(data, 'insecure_tls') ? parseBool(data['insecure_tls'], 'insecure_tls') : false,
    });
  }
  parsePasswordPolicy(config.passwordPolicy);
  if (config.usernameTemplate !== '') parseUsernameTemplate(config.usernameTemplate);
  // Checked when written: rotate-root with statements that set no new password (or set a
  // misspelt placeholder as the password) would lock Coffer out of the database.
  if (has(data, 'root_rotation_statements') && config.rootRotationStatements.length > 0 && usesRotationStatements(config.pluginName)) {
    checkRotationStatements(config.rootRotationStatements, 'root_rotation_statements');
  }
  return config;
}

export function configPaths(store: DatabaseStore, connections: Connections, registry: DatabasePluginRegistry): PathSpec[] {
  const read = async (req: EngineRequest): Promise<EngineResponse> => {
    const config = await store.getConfig(req.params['name'] as string);
    if (!config) throw notFound();
    return { data: configView(config) };
  };

  const write = async (req: EngineRequest): Promise<null> => {
    const name = req.params['name'] as string;
    return connections.exclusive(name, async () => {
      const config = mergeConfig(req.data, await store.getConfig(name));
      resolvePlugin(registry, config.pluginName);
      let plugin;
      try {
        plugin = await connections.open(config, config.verifyConnection);
      } catch (err) {
        throw databaseFailure(err, [config.password], 'error verifying connection: ', 'verify');
      }
      try {
        await store.putConfig(name, config);
      } catch (err) {
        await plugin.close().catch(() => undefined);
        throw err;
      }
      await connections.install(name, plugin, config);
      return null;
    });
  };

  const remove = async (req: EngineRequest): Promise<null> => {
    const name = req.params['name'] as string;
    return connections.exclusive(name, async () => {
      await store.deleteConfig(name);
      await connections.retire(name);
      return null;
    });
  };

  const list = async (): Promise<EngineResponse> => {
    const keys = await store.listConfigs();
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  };

  return [
    {
      pattern: `config/(?<name>${NAME_PATTERN})`,
      description: 'Configure a connection to a database.',
      existenceCheck: async (req) => (await store.getConfig(req.params['name'] as string)) !== undefined,
      fields: CONFIG_FIELDS,
      operations: { read, create: write, update: write, delete: remove },
    },
    {
      pattern: 'config/?',
      description: 'List the configured database connections.',
      operations: { list },
    },
  ];
}
