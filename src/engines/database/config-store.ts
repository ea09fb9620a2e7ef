/**
 * Stored database connections (`config/:name`) and dynamic roles (`roles/:name`).
 *
 * Owns: the stored shapes. Values go through the mount's barrier view, so the admin password is
 * encrypted at rest like every other secret.
 * Must never: hand a stored config to a response; `path-config.ts` builds the redacted view.
 */
import { getJson, putJson, type Storage } from '../../core/storage/storage.js';
import { CONFIG_FOLDER, configKey, ROLE_FOLDER, roleKey } from './storage-keys.js';
import type { PasswordAuthentication } from './plugin.js';

export interface DbConfig {
  pluginName: string;
  connectionUrl: string;
  username: string;
  password: string;
  /**
   * Set only while rotate-root runs: the new password, written before the database is told, so
   * a crash between the two can be recovered (see connections.ts).
   */
  pendingPassword?: string;
  allowedRoles: string[];
  verifyConnection: boolean;
  passwordPolicy: string;
  maxOpenConnections: number;
  maxIdleConnections: number;
  /** Seconds; 0 = connections live until closed. */
  maxConnectionLifetime: number;
  rootRotationStatements: string[];
  usernameTemplate: string;
  /** Seconds (`connect_timeout`); absent in configs stored before it existed = the default. */
  connectTimeout?: number;
  /** Seconds (`statement_timeout`); absent in configs stored before it existed = the default. */
  statementTimeout?: number;
  /** PostgreSQL's `password_authentication`; absent = 'password'. */
  passwordAuthentication?: PasswordAuthentication;
}

export interface DbRole {
  dbName: string;
  creationStatements: string[];
  revocationStatements: string[];
  renewStatements: string[];
  rollbackStatements: string[];
  /** Seconds; 0 = the mount's default. */
  defaultTtl: number;
  /** Seconds; 0 = the mount's maximum. */
  maxTtl: number;
}

export interface DatabaseStore {
  getConfig(name: string): Promise<DbConfig | undefined>;
  putConfig(name: string, config: DbConfig): Promise<void>;
  deleteConfig(name: string): Promise<void>;
  listConfigs(): Promise<string[]>;
  getRole(name: string): Promise<DbRole | undefined>;
  putRole(name: string, role: DbRole): Promise<void>;
  deleteRole(name: string): Promise<void>;
  listRoles(): Promise<string[]>;
}

export function createDatabaseStore(storage: Storage): DatabaseStore {
  return {
    getConfig: (name) => getJson<DbConfig>(storage, configKey(name)),
    putConfig: (name, config) => putJson(storage, configKey(name), config),
    deleteConfig: (name) => storage.delete(configKey(name)),
    listConfigs: () => storage.list(CONFIG_FOLDER),
    getRole: (name) => getJson<DbRole>(storage, roleKey(name)),
    putRole: (name, role) => putJson(storage, roleKey(name), role),
    deleteRole: (name) => storage.delete(roleKey(name)),
    listRoles: () => storage.list(ROLE_FOLDER),
  };
}
