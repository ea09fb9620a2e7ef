/**
 * A throwaway PostgreSQL cluster for one-shot scenarios: `startPgCluster()` from the test
 * helpers (scram-sha-256 on a free loopback port, run as the postgres OS user), with a scratch
 * database, registered with the run's cleanup so it is stopped and removed on every exit path.
 *
 * Must never touch the machine's own PostgreSQL, and never print the admin password.
 */
import { findPgBin, startPgCluster, type PgCluster, type PgClusterOptions } from '../test/helpers/pg-cluster.js';
import type { BenchContext } from './scenario.js';

export type { PgCluster };

/** PostgreSQL's own defaults for durability, as in performance.md B.5, rather than the test helper's fast settings. */
export const DURABLE_SETTINGS: Record<string, string> = { fsync: 'on', full_page_writes: 'on', synchronous_commit: 'on' };

/** Why PostgreSQL scenarios cannot run on this machine, or undefined when they can. */
export function pgUnavailable(): string | undefined {
  try {
    findPgBin();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export async function startBenchPg(ctx: BenchContext, label: string, options: PgClusterOptions = {}): Promise<PgCluster> {
  const cluster = await startPgCluster(options);
  ctx.cleanup.add(`PostgreSQL cluster for ${label} (port ${cluster.port})`, () => cluster.stop());
  return cluster;
}

/** A postgresql:// URL on `database` with {{username}}/{{password}} placeholders, as a Coffer config wants it. */
export function templateUrl(cluster: PgCluster, database: string): string {
  return `postgresql://{{username}}:{{password}}@127.0.0.1:${cluster.port}/${encodeURIComponent(database)}?sslmode=disable`;
}
