/**
 * Tests: the plugin catalogue, its aliases, and config fields that only some plugins use.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { acceptedPluginNames, builtinDatabasePlugins, resolvePlugin } from './plugins.js';
import { createDatabaseHarness } from './harness.js';

test('the built-in catalogue serves PostgreSQL, MySQL and Redis, with Vault aliases', () => {
  assert.deepEqual(acceptedPluginNames(builtinDatabasePlugins), [
    'mysql-aurora-database-plugin', 'mysql-database-plugin', 'mysql-legacy-database-plugin', 'mysql-rds-database-plugin',
    'postgresql-database-plugin', 'redis-database-plugin', 'valkey-database-plugin',
  ]);
  assert.equal(resolvePlugin(builtinDatabasePlugins, 'mysql-legacy-database-plugin')().name, 'mysql-database-plugin');
  assert.equal(resolvePlugin(builtinDatabasePlugins, 'postgresql-database-plugin')().maxUsernameLength, 63);
});

test('an alias is only accepted when its target is registered', () => {
  const onlyPostgres = { 'postgresql-database-plugin': builtinDatabasePlugins['postgresql-database-plugin']! };
  assert.deepEqual(acceptedPluginNames(onlyPostgres), ['postgresql-database-plugin']);
  assert.throws(() => resolvePlugin(onlyPostgres, 'mysql-legacy-database-plugin'), /must be one of postgresql-database-plugin$/);
});

test('a redis config may give host, port and tls instead of a connection_url', async () => {
  const h = createDatabaseHarness();
  await h.call('write', 'config/cache', {
    plugin_name: 'redis-database-plugin', host: '127.0.0.1', port: 6390, tls: true,
    username: 'default', password: 'Redis-Pass-1', verify_connection: false, allowed_roles: '*',
  });
  const details = ((await h.call('read', 'config/cache'))?.data as { connection_details: Record<string, unknown> }).connection_details;
  assert.equal(details['connection_url'], 'rediss://{{username}}:{{password}}@127.0.0.1:6390');
  await h.shutdown();
});
