/**
 * The database side of a static-role rotation: a new password under the config's
 * password_policy, and setting a user's password through the config's plugin with the role's
 * rotation_statements (each plugin's default when there are none).
 *
 * Must never: let a password reach an error message: failures go through databaseFailure with
 * both the new password and the admin password to scrub, and `failureText` scrubs again.
 */
import { badRequest } from '../../core/errors.js';
import type { DatabaseStore } from './config-store.js';
import type { Connections } from './connections.js';
import { databaseFailure } from './db-errors.js';
import { generatePassword, parsePasswordPolicy } from './password.js';
import { scrubSecrets } from './plugin-secret-scrub.js';
import type { StaticRole } from './static-store.js';

export interface StaticPasswords {
  /** A fresh password for the role's database, per its config's password_policy. */
  generate(role: StaticRole): Promise<string>;
  set(role: StaticRole, username: string, password: string): Promise<void>;
  /**
   * Whether the database takes `password` for `username` now, found by logging in as it (the
   * config's connection_url filled with that user and password). False too when the check
   * proves nothing: a password nobody knows logs in as well (a URL without
   * {{username}}/{{password}}, trust authentication). At most one failed login either way, as
   * failed logins can lock an account (MySQL's FAILED_LOGIN_ATTEMPTS, MariaDB's max_password_errors).
   */
  takes(role: StaticRole, username: string, password: string): Promise<boolean>;
}

export function createStaticPasswords(deps: { configs: Pick<DatabaseStore, 'getConfig'>; connections: Pick<Connections, 'use' | 'open'> }): StaticPasswords {
  return {
    async takes(role, username, password) {
      const config = await deps.configs.getConfig(role.dbName);
      if (!config) return false;
      const logsIn = async (password: string): Promise<boolean> => {
        try {
          const plugin = await deps.connections.open({ ...config, username, password }, true);
          await plugin.close().catch(() => undefined);
          return true;
        } catch {
          return false;
        }
      };
      if (!(await logsIn(password))) return false;
      // A password no one was ever given: if it logs in too, so would anything.
      return !(await logsIn(generatePassword(parsePasswordPolicy(config.passwordPolicy))));
    },
    async generate(role) {
      const config = await deps.configs.getConfig(role.dbName);
      if (!config) throw badRequest(`database config "${role.dbName}" not found`);
      return generatePassword(parsePasswordPolicy(config.passwordPolicy));
    },
    async set(role, username, password) {
      await deps.connections.use(role.dbName, async (plugin, config) => {
        try {
          await plugin.setPassword({ username, password, statements: role.rotationStatements });
        } catch (err) {
          throw databaseFailure(err, [password, config.password], `failed to set the password of "${username}": `);
        }
      });
    },
  };
}

/** The text a rotation record keeps of a failure, with `secrets` scrubbed once more. */
export function failureText(err: unknown, secrets: readonly string[]): string {
  return scrubSecrets(err instanceof Error && err.message !== '' ? err.message : 'database error', secrets);
}
