/**
 * Test helpers for PostgreSQL.
 *
 * - `startPgCluster()`: a throwaway PostgreSQL cluster with `scram-sha-256` authentication on a
 *   free loopback port, so a test can prove that a password works and a wrong one is refused
 *   (the machine's own PostgreSQL trusts every local connection, which proves nothing). It can
 *   be taken down and brought back (`stopServer`/`startServer`) to test retries.
 * - `createScratchDatabase()`: a uniquely named database on any server, dropped with every role
 *   the test made when the test ends.
 *
 * initdb refuses to run as root, so as root (tests and CI) every server command runs as the
 * `postgres` OS user through runuser. Start-up is tuned for speed (no fsync, small buffers).
 * Must never: touch the machine's own cluster beyond creating and dropping scratch databases and
 * roles, or leave a server running when the process exits.
 *
 * Typical use (one cluster per test file; ~1 s to start):
 *   let cluster: PgCluster;
 *   before(async () => { cluster = await startPgCluster(); });
 *   after(() => cluster.stop());
 *   const db = await createScratchDatabase(cluster);   // then db.cleanup(['v-%-myrole-%'])
 */
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface PgServer {
  readonly host: string;
  readonly port: number;
  readonly adminUser: string;
  /** Empty for the machine's trust-authenticated server. */
  readonly adminPassword: string;
}

export interface PgCluster extends PgServer {
  /** Where the cluster lives; removed by stop(). */
  readonly dir: string;
  /** A postgresql:// URL for `user`/`password` on `database` (default: the admin on postgres). */
  url(user?: string, password?: string, database?: string): string;
  /** Shuts the server down (fast mode) but keeps its data, so startServer() can bring it back. */
  stopServer(): Promise<void>;
  /** Starts the server again on the same port. */
  startServer(): Promise<void>;
  /** Stops the server at once and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface PgClusterOptions {
  /** Extra `-c name=value` server settings (for example synchronous_commit: 'off'). */
  settings?: Record<string, string>;
  /** The bootstrap superuser's name; default 'coffer_admin'. */
  adminUser?: string;
}

/** The machine's PostgreSQL (trust authentication on 127.0.0.1). */
export const MACHINE_PG: PgServer = {
  host: process.env.PGHOST_TEST ?? '127.0.0.1',
  port: Number(process.env.PGPORT_TEST ?? 5432),
  adminUser: process.env.PGUSER_TEST ?? 'postgres',
  adminPassword: '',
};

/** The newest installed PostgreSQL server binaries (`PG_BIN` overrides). */
export function findPgBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb'))) return bin;
  }
  throw new Error('no PostgreSQL server binaries found under /usr/lib/postgresql (set PG_BIN)');
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a server binary, as the postgres OS user when we are root. */
function runPg(bin: string, args: string[]): Promise<string> {
  const [file, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin.split('/').pop()} failed: ${stderr || stdout || err.message}`));
      else resolve(stdout);
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const DEFAULT_SETTINGS: Record<string, string> = {
  fsync: 'off',
  full_page_writes: 'off',
  synchronous_commit: 'off',
  shared_buffers: '16MB',
  max_connections: '60',
  listen_addresses: '127.0.0.1',
};

export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = findPgBin();
  const dir = mkdtempSync(join(tmpdir(), 'coffer-pg-'));
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  const logFile = join(dir, 'server.log');
  const pwFile = join(dir, 'pwfile');
  const adminUser = options.adminUser ?? 'coffer_admin';
  const adminPassword = `A${randomBytes(18).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')}1-`;
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  let port = 0;
  let running = false;
  let removed = false;

  // Kill the server even if the test process dies without calling stop().
  const onExit = (): void => {
    if (running) spawnSync(isRoot() ? 'runuser' : join(bin, 'pg_ctl'), isRoot() ? ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', dataDir, 'stop', '-m', 'immediate'] : ['-D', dataDir, 'stop', '-m', 'immediate'], { stdio: 'ignore' });
    if (!removed) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  const pgCtlStart = async (): Promise<void> => {
    const opts = [`-p ${port}`, `-k ${socketDir}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
    await runPg(join(bin, 'pg_ctl'), ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', opts, 'start']);
    running = true;
  };

  try {
    writeFileSync(pwFile, `${adminPassword}\n`, { mode: 0o600 });
    mkdirSync(socketDir);
    if (isRoot()) {
      const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim());
      const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim());
      for (const path of [dir, pwFile, socketDir]) chownSync(path, uid, gid);
      chmodSync(dir, 0o700);
    }
    await runPg(join(bin, 'initdb'), [
      '-D', dataDir, '-U', adminUser, `--pwfile=${pwFile}`, '--auth=scram-sha-256',
      '--no-sync', '--no-instructions', '-E', 'UTF8', '--locale=C',
    ]);
    rmSync(pwFile, { force: true });
    // A free port can be taken between the probe and the bind; try a few.
    for (let attempt = 1; ; attempt += 1) {
      port = await freePort();
      try {
        await pgCtlStart();
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  } catch (err) {
    onExit();
    process.removeListener('exit', onExit);
    throw err;
  }

  const url = (user = adminUser, password = adminPassword, database = 'postgres'): string =>
    `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

  return {
    host: '127.0.0.1',
    get port() { return port; },
    adminUser,
    adminPassword,
    dir,
    url,
    async stopServer() {
      if (!running) return;
      await runPg(join(bin, 'pg_ctl'), ['-D', dataDir, '-w', '-t', '60', 'stop', '-m', 'fast']);
      running = false;
    },
    async startServer() {
      if (running) return;
      await pgCtlStart();
    },
    async stop() {
      if (removed) return;
      if (running) {
        await runPg(join(bin, 'pg_ctl'), ['-D', dataDir, '-w', 'stop', '-m', 'immediate']).catch(() => undefined);
        running = false;
      }
      rmSync(dir, { recursive: true, force: true });
      removed = true;
      process.removeListener('exit', onExit);
    },
  };
}

// ---- scratch databases ----------------------------------------------------------------------

export interface ScratchDatabase {
  readonly name: string;
  readonly server: PgServer;
  /** A URL for `user`/`password` on this database (default: the server's admin). */
  url(user?: string, password?: string): string;
  /** The same URL with {{username}}/{{password}} placeholders, as a Coffer config wants it. */
  readonly templateUrl: string;
  /** Runs one query as the admin on this database. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Names of existing roles matching a LIKE pattern. */
  roles(likePattern: string): Promise<string[]>;
  /** Drops the database (closing its sessions) and every role matching `rolePatterns`. */
  cleanup(rolePatterns?: string[]): Promise<void>;
}

/** A short random suffix usable in database, role and user names ([a-z0-9]). */
export function uniqueSuffix(length = 8): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

function serverUrl(server: PgServer, user: string, password: string, database: string): string {
  const auth = password === '' ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  return `postgresql://${auth}@${server.host}:${server.port}/${encodeURIComponent(database)}`;
}

/** Runs `sql` once as the admin on `database`, on a fresh connection. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(server: PgServer, database: string, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: serverUrl(server, server.adminUser, server.adminPassword, database) });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export async function createScratchDatabase(server: PgServer = MACHINE_PG, prefix = 'coffer_t_'): Promise<ScratchDatabase> {
  const name = `${prefix}${uniqueSuffix()}`;
  await adminQuery(server, 'postgres', `CREATE DATABASE ${quoteIdent(name)}`);
  const pool = new pg.Pool({ connectionString: serverUrl(server, server.adminUser, server.adminPassword, name), max: 2 });
  pool.on('error', () => undefined);
  const templateUrl = `postgresql://{{username}}:{{password}}@${server.host}:${server.port}/${encodeURIComponent(name)}?sslmode=disable`;
  return {
    name,
    server,
    templateUrl,
    url: (user = server.adminUser, password = server.adminPassword) => serverUrl(server, user, password, name),
    query: async (sql, values = []) => (await pool.query(sql, values)).rows,
    roles: async (likePattern) =>
      (await adminQuery<{ rolname: string }>(server, 'postgres', 'SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1', [likePattern])).map((r) => r.rolname),
    async cleanup(rolePatterns = []) {
      await pool.end().catch(() => undefined);
      await adminQuery(server, 'postgres', `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      for (const pattern of rolePatterns) {
        const roles = await adminQuery<{ rolname: string }>(server, 'postgres', 'SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [pattern]);
        for (const { rolname } of roles) await adminQuery(server, 'postgres', `DROP ROLE IF EXISTS ${quoteIdent(rolname)}`);
      }
    },
  };
}

/** Tries to log in; resolves to undefined on success, or the server's error message. */
export async function tryLogin(server: PgServer, database: string, user: string, password: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: serverUrl(server, user, password, database), connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}
