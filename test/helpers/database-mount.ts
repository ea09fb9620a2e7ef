/**
 * Test set-up shared by the dynamic-credential tests: a `database` mount on a Coffer test
 * server, connection `pg` pointing at a scratch PostgreSQL database as its admin, and roles.
 * Must never do anything at import (node:test runs every file under test/).
 */
import assert from 'node:assert/strict';
import type { PgServer, ScratchDatabase } from './pg-cluster.js';
import { api } from './server.js';

export interface PgRoleInput {
  creation_statements: string[];
  default_ttl?: string;
  max_ttl?: string;
  [field: string]: unknown;
}

/** Mounts `mount` (type database), writes `config/pg` for `db`, then one role per entry of `roles`. */
export async function mountPostgres(
  server: { url: string },
  token: string,
  options: { mount: string; cluster: PgServer; db: ScratchDatabase; roles: Record<string, PgRoleInput>; allowedRoles?: string[] },
): Promise<void> {
  const { mount, cluster, db } = options;
  const mounted = await api(server, 'POST', `sys/mounts/${mount}`, { token, body: { type: 'database' } });
  assert.equal(mounted.status, 204, JSON.stringify(mounted.body));
  const config = await api(server, 'POST', `${mount}/config/pg`, {
    token,
    body: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: db.templateUrl,
      username: cluster.adminUser,
      password: cluster.adminPassword,
      allowed_roles: options.allowedRoles ?? ['*'],
    },
  });
  assert.ok(config.status === 204 || config.status === 200, JSON.stringify(config.body));
  for (const [name, role] of Object.entries(options.roles)) {
    const written = await api(server, 'POST', `${mount}/roles/${name}`, { token, body: { db_name: 'pg', ...role } });
    assert.ok(written.status === 204 || written.status === 200, JSON.stringify(written.body));
  }
}
