/**
 * `rotate-root/:name` (a new admin password only Coffer knows) and `reset/:name` (reopen the pool).
 *
 * rotate-root is ordered so that no failure leaves Coffer without a working admin password:
 *   1. store the new password as *pending* beside the current one;
 *   2. change it in the database (through the current pool);
 *   3. store it as the password and drop the pending one; 4. reopen the pool with it.
 * If 2 fails, Coffer logs in with each password to learn which one the database now takes (a
 * reply can be lost after the change was applied): only the new one, and the rotation
 * completes; the old one (or both, when the database checks no password), and the pending
 * password is dropped and the error stands; neither (database down), and both are kept for the
 * next open to settle. If Coffer stops between 2 and 3, the next open finds the pending
 * password and keeps whichever one the database accepts.
 * Must never: return, log or put into an error either password.
 */
import { badRequest } from '../../core/errors.js';
import type { EngineRequest, PathSpec } from '../../core/router/engine.js';
import type { DatabaseStore, DbConfig } from './config-store.js';
import type { Connections } from './connections.js';
import { databaseFailure } from './db-errors.js';
import { checkRotationStatements, usesRotationStatements } from './statement-placeholders.js';
import { generatePassword, parsePasswordPolicy } from './password.js';
import { NAME_PATTERN } from './storage-keys.js';

export function rotatePaths(store: DatabaseStore, connections: Connections): PathSpec[] {
  const requireConfig = async (name: string): Promise<DbConfig> => {
    const config = await store.getConfig(name);
    if (!config) throw badRequest(`database config "${name}" not found`);
    return config;
  };

  /**
   * Which of the two passwords the database accepts now, by logging in with each. A database
   * that takes both (trust authentication, a Redis user with nopass) proves nothing: then the
   * failure stands and the old password stays, as before the attempt.
   */
  const passwordInEffect = async (config: DbConfig, fresh: string): Promise<'old' | 'new' | 'unknown'> => {
    const logsIn = async (password: string): Promise<boolean> => {
      try {
        const plugin = await connections.open({ ...config, password }, true);
        await plugin.close().catch(() => undefined);
        return true;
      } catch {
        return false;
      }
    };
    const [freshWorks, oldWorks] = await Promise.all([logsIn(fresh), logsIn(config.password)]);
    if (oldWorks) return 'old';
    return freshWorks ? 'new' : 'unknown';
  };

  const rotateRoot = async (req: EngineRequest): Promise<null> => {
    const name = req.params['name'] as string;
    return connections.exclusive(name, async () => {
      const config = await requireConfig(name);
      if (config.username === '') throw badRequest('unable to rotate root credentials: no username in configuration');
      // A config stored before root_rotation_statements were checked on write.
      if (config.rootRotationStatements.length > 0 && usesRotationStatements(config.pluginName)) checkRotationStatements(config.rootRotationStatements, 'root_rotation_statements');
      const fresh = generatePassword(parsePasswordPolicy(config.passwordPolicy));
      const secrets = [config.password, fresh];

      await store.putConfig(name, { ...config, pendingPassword: fresh });
      try {
        await connections.use(name, (plugin) => plugin.setPassword({
          username: config.username,
          password: fresh,
          statements: config.rootRotationStatements,
        }));
      } catch (err) {
        // A failure does not prove the change did not happen: a reply lost after the database
        // applied it (connection cut, timeout) fails here too, and so does a later statement of
        // a custom root_rotation_statements list on MySQL, where ALTER USER commits at once.
        // Dropping the new password then would lock Coffer out, so the database itself is
        // asked which password it now takes (two logins, only on this failure path).
        const settled = await passwordInEffect(config, fresh);
        if (settled === 'old') {
          await store.putConfig(name, config);
          throw databaseFailure(err, secrets, 'failed to rotate root credentials: ');
        }
        if (settled === 'unknown') {
          // Neither could log in (the database is unreachable): keep both; the next connection
          // opened for this config uses whichever the database accepts (Connections.openPending).
          await connections.retire(name);
          throw databaseFailure(err, secrets, 'failed to rotate root credentials (whether the database applied the new password is unknown; the next connection keeps whichever one works): ');
        }
        // 'new': it was applied; finish as a successful rotation.
      }
      const rotated: DbConfig = { ...config, password: fresh };
      await store.putConfig(name, rotated);
      // The old pool's sessions stay logged in with the old password; replace them so that
      // every future connection proves the new one.
      let plugin;
      try {
        plugin = await connections.open(rotated, false);
      } catch (err) {
        await connections.retire(name);
        throw databaseFailure(err, secrets, 'rotated root credentials, but reopening the connection failed: ');
      }
      await connections.install(name, plugin, rotated);
      return null;
    });
  };

  const reset = async (req: EngineRequest): Promise<null> => {
    const name = req.params['name'] as string;
    return connections.exclusive(name, async () => {
      const config = await requireConfig(name);
      let plugin;
      try {
        plugin = await connections.open(config, false);
      } catch (err) {
        throw databaseFailure(err, [config.password], 'failed to reset connection: ');
      }
      await connections.install(name, plugin, config);
      return null;
    });
  };

  return [
    {
      pattern: `rotate-root/(?<name>${NAME_PATTERN})`,
      description: 'Rotate the admin password of a database connection; afterwards only Coffer knows it.',
      operations: { update: rotateRoot, create: rotateRoot },
    },
    {
      pattern: `reset/(?<name>${NAME_PATTERN})`,
      description: 'Close and reopen the connection pool of a database connection.',
      operations: { update: reset, create: reset },
    },
  ];
}
