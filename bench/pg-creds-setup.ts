/**
 * Set-up for the dynamic PostgreSQL credential benchmark (issue 3 item 5, performance.md C5):
 * the two statement templates, a scratch database with two tables and a group role, a Coffer
 * database mount configured like test/integration/database-leases.test.ts, and the drivers that
 * run one issue + revoke cycle either through Coffer's HTTP API or as raw `pg` statements.
 *
 * Both sides run the very same SQL text (the raw side renders the templates the way Coffer
 * does). Must never print a password or token: cycle errors carry status codes and the
 * server's (scrubbed) error text only.
 */
import { createScratchDatabase, type ScratchDatabase } from '../test/helpers/pg-cluster.js';
import type { PgCluster } from './bench-pg.js';
import { templateUrl } from './bench-pg.js';
import type { CycleOutcome } from './cycle-loop.js';
import type { LoopbackClient } from './loopback-http.js';
import type { RawStatements } from './pg-raw.js';

export type Template = 'per-table' | 'group';

export const READERS_ROLE = 'bench_readers';
const TABLES = ['items', 'orders'];

/** Vault's default benchmark statements (vault-benchmark, performance.md B.5), and the recommended group-role form. */
export const TEMPLATES: Record<Template, { creation: string[]; revocation: string[] }> = {
  'per-table': {
    creation: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
      'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";',
    ],
    revocation: ['REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{name}}";', 'DROP ROLE IF EXISTS "{{name}}";'],
  },
  group: {
    creation: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "${READERS_ROLE}";`],
    revocation: ['DROP ROLE IF EXISTS "{{name}}";'],
  },
};

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(name|password|expiration)\}\}/g, (whole, key: string) => values[key] ?? whole);
}

/** The templates rendered for the raw driver, exactly as Coffer sends them. */
export function rawStatements(template: Template): RawStatements {
  const t = TEMPLATES[template];
  return {
    create: (name, password, expiration) => t.creation.map((s) => fill(s, { name, password, expiration })),
    revoke: (name) => t.revocation.map((s) => fill(s, { name })),
  };
}

/** A scratch database with two small tables and the group role that holds their grants. */
export async function prepareDatabase(cluster: PgCluster): Promise<ScratchDatabase> {
  const db = await createScratchDatabase(cluster, 'coffer_bench_');
  for (const table of TABLES) {
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text)`);
    await db.query(`INSERT INTO ${table} VALUES (1, 'one')`);
  }
  await db.query(`CREATE ROLE "${READERS_ROLE}" NOLOGIN`);
  await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO "${READERS_ROLE}"`);
  return db;
}

/** Mounts `database/`, configures connection `pg` with a pool of `poolSize`, and one role per template. */
export async function configureCoffer(api: LoopbackClient, cluster: PgCluster, db: ScratchDatabase, poolSize: number): Promise<void> {
  await api.ok('POST', 'sys/mounts/database', { body: { type: 'database' } });
  await api.ok('POST', 'database/config/pg', {
    body: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: templateUrl(cluster, db.name),
      username: cluster.adminUser,
      password: cluster.adminPassword,
      allowed_roles: Object.keys(TEMPLATES),
      max_open_connections: poolSize,
    },
  });
  for (const [name, t] of Object.entries(TEMPLATES)) {
    await api.ok('POST', `database/roles/${name}`, {
      body: { db_name: 'pg', creation_statements: t.creation, revocation_statements: t.revocation, default_ttl: '1h', max_ttl: '2h' },
    });
  }
}

function errorText(status: number, body: any): string {
  const first = Array.isArray(body?.errors) ? String(body.errors[0]) : '';
  return `${status}${first === '' ? '' : `: ${first.slice(0, 200)}`}`;
}

/** One cycle through Coffer: `GET database/creds/<role>`, then `PUT sys/leases/revoke` of its lease. */
export function cofferCycle(api: LoopbackClient, template: Template): () => Promise<CycleOutcome> {
  return async () => {
    const t0 = performance.now();
    const issued = await api.call('GET', `database/creds/${template}`);
    const t1 = performance.now();
    const leaseId: unknown = issued.body?.lease_id;
    if (issued.status !== 200 || typeof leaseId !== 'string') {
      return { ok: false, issueMs: t1 - t0, revokeMs: 0, retriedAttempts: 0, error: `issue ${errorText(issued.status, issued.body)}` };
    }
    const revoked = await api.call('PUT', 'sys/leases/revoke', { body: { lease_id: leaseId } });
    const t2 = performance.now();
    if (revoked.status !== 204 && revoked.status !== 200) {
      return { ok: false, issueMs: t1 - t0, revokeMs: t2 - t1, retriedAttempts: 0, error: `revoke ${errorText(revoked.status, revoked.body)}` };
    }
    return { ok: true, issueMs: t1 - t0, revokeMs: t2 - t1, retriedAttempts: 0 };
  };
}
