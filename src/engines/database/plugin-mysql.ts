/**
 * The MySQL/MariaDB database plugin (`mysql-database-plugin`): creates, renews, revokes and
 * re-keys database users from statement templates, over a small mysql2 connection pool.
 *
 * Owns: the pool for one `config/:name` and the rules for running statements. It must never log
 * a password or put one in an error; it never substitutes a username or password it has not
 * checked against a safe alphabet (values go inside '…' in SQL, so a quote would be injection);
 * and a failed creation never leaves part of a user behind when cleanup can reach the database.
 * A revocation never reports success while an account with the user's name remains at any host,
 * when the admin may read mysql.user to tell. A new user is created only once its lease is
 * stored (NewUserRequest.commitAfter): MySQL commits CREATE USER at once.
 */
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { loadMysql } from './drivers.js';
import { badRequest, isCofferError } from '../../core/errors.js';
import {
  DatabasePluginError, pluginTimeouts, withUnknownOutcome, type DatabaseErrorKind, type DatabasePlugin, type PluginConnectionConfig,
} from './plugin.js';
import { parseMysqlConnectionUrl } from './plugin-mysql-dsn.js';
import { prepareStatements } from './plugin-mysql-statements.js';
import { scrubSecrets } from './plugin-secret-scrub.js';
import { oneCreationPerName } from './same-name-creations.js';
import { checkCreationStatements, refuseUnfilled } from './statement-placeholders.js';

export const MYSQL_PLUGIN_NAME = 'mysql-database-plugin';
const PLUGIN_NAME = MYSQL_PLUGIN_NAME;

/** MySQL 5.7+ allows 32 characters (MariaDB 80); 32 fits both. */
const MAX_USERNAME_LENGTH = 32;

/** Vault's default pool size when `max_open_connections` is 0. */
const DEFAULT_MAX_OPEN = 4;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/**
 * Revocation and rollback have no default statements: without a role's own, the plugin drops the
 * account at every host mysql.user lists for the name (`dropAccounts`), since creation statements
 * may have made it at 'localhost' or an address rather than '%', and a drop at '%' alone would
 * leave that account able to log in. DROP USER also removes the privileges, so Vault's
 * `REVOKE ALL …; DROP USER …` default needs no REVOKE here. An admin who may not read mysql.user
 * gets Vault's host, '%'.
 */
const FALLBACK_HOST = '%';
/** A statement that makes an account (after any leading comments). */
const CREATES_USER = /^\s*(?:(?:--[^\n]*\n|#[^\n]*\n|\/\*[\s\S]*?\*\/)\s*)*CREATE\s+USER\b/i;
/**
 * Server errors that say the session lacks a privilege: 1044 database, 1045 access denied,
 * 1142 table, 1143 column, 1227 a global privilege such as CREATE USER, 1370 routine, 1410
 * grant to a user (see `stale`).
 */
const PRIVILEGE_ERRNOS: ReadonlySet<number> = new Set([1044, 1045, 1142, 1143, 1227, 1370, 1410]);
const DEFAULT_SET_PASSWORD = ["ALTER USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'"];

/**
 * Characters that are inert inside a single-quoted MySQL string and a quoted identifier: letters,
 * digits, `_`, `.` and `-` (the engine's `v-<display>-<role>-<random>-<unix>` names, and common
 * existing users such as `app_user` for static roles and rotate-root).
 */
const SAFE_USERNAME = /^[A-Za-z0-9_.-]+$/;
/** The alphabet of Vault's default password policy; anything else could end a quoted string. */
const SAFE_PASSWORD = /^[A-Za-z0-9-]+$/;
/**
 * Host names, IPv4/IPv6 addresses, netmasks (`10.0.0.0/255.0.0.0`) and the `%` `_` wildcards.
 * Hosts come from mysql.user, not from us, and go inside '…' like usernames do: a host outside
 * this alphabet is not dropped but reported, since a quote or backslash (or a multi-byte
 * character under some connection charsets) could end the string.
 */
const SAFE_HOST = /^[A-Za-z0-9_.%:/-]*$/;

/**
 * Server errors a revocation may meet when the user is already gone ("Operation DROP USER
 * failed", "There is no such grant", "Can't revoke all privileges", no such table/routine grant).
 * Revocation goes on past them, which is what makes custom revocation statements idempotent.
 */
const ABSENT_USER_ERRNOS = new Set([1396, 1141, 1269, 1147, 1403]);

/**
 * Server errors that are about reaching the database rather than about the statements: too many
 * connections, shutdown in progress, connection killed, read-only server; and deadlock, lock
 * wait timeout and statement timeout (MariaDB's max_statement_time, MySQL's
 * max_execution_time), which say the moment was wrong and a retry will do. Like SQLSTATE
 * classes 08 (connection) and 28 (login), they are 'connection'.
 */
const CONNECTION_ERRNOS = new Set([1040, 1053, 1927, 1290, 1213, 1205, 1969, 3024]);
/** mysql2's words for its own timeouts are terse ("connect ETIMEDOUT"); these say what timed out. */
const CLIENT_TIMEOUTS: Readonly<Record<string, string>> = {
  ETIMEDOUT: 'timed out connecting to the database (connect_timeout): ',
  PROTOCOL_SEQUENCE_TIMEOUT: 'timed out waiting for the database to reply: ',
};
/** ER_UNKNOWN_SYSTEM_VARIABLE: what MySQL says to `SET max_statement_time`, a MariaDB variable. */
const UNKNOWN_VARIABLE = 1193;

/**
 * No such database (1049) and access denied to a database (1044) are the connection's fault only
 * while connecting (the connection_url names the database). Raised by a statement
 * (`GRANT ... ON db.*` run by an admin without rights on db, `CREATE TABLE nodb.t`), they are the
 * statement's: the role's to fix (400), not an unreachable database (502).
 */
const CONNECTING_ERRNOS = new Set([1049, 1044]);

/**
 * Server errors that say the admin may not read mysql.user: table or column access denied, no
 * access to the `mysql` database, missing global privilege. The plugin then cannot look up hosts
 * or check that a user is gone, and goes on without, as before it looked.
 */
/**
 * Of those, the ones that say the account is missing at the host a statement named (DROP USER,
 * REVOKE ALL … FROM): after one, the other hosts are checked. The rest ("no such grant") say
 * nothing about the account, and a lock-style revocation run twice meets them.
 */
const NO_SUCH_ACCOUNT_ERRNOS = new Set([1396, 1269]);

const NO_USER_TABLE_ERRNOS = new Set([1142, 1143, 1044, 1227]);

interface MysqlServerError {
  message: string;
  code?: string;
  errno?: number;
  sqlState?: string;
}

function asMysqlError(err: unknown): MysqlServerError {
  if (typeof err === 'object' && err !== null && 'message' in err) return err as MysqlServerError;
  return { message: String(err) };
}

function isServerError(e: MysqlServerError): boolean {
  return e.sqlState !== undefined && e.errno !== undefined && e.errno > 0;
}

/** `connecting`: the error came while opening the connection, not from a statement on it. */
function errorKind(e: MysqlServerError, connecting: boolean): DatabaseErrorKind {
  // Only server errors carry an SQL state; socket errors (ECONNREFUSED, lost connection) do not.
  if (!isServerError(e)) return 'connection';
  if (/^(?:08|28)/.test(e.sqlState ?? '') || CONNECTION_ERRNOS.has(e.errno ?? 0)) return 'connection';
  if (connecting && CONNECTING_ERRNOS.has(e.errno ?? 0)) return 'connection';
  return 'statement';
}

export interface MysqlPluginOptions {
  /** Milliseconds since the epoch, for connection lifetimes; tests inject a manual clock. */
  now?: () => number;
}

/** Creates an unopened plugin; `initialize` opens the pool. */
export function createMysqlPlugin(options: MysqlPluginOptions = {}): DatabasePlugin {
  const now = options.now ?? Date.now;
  let pool: Pool | null = null;
  // Every password this plugin knows is scrubbed from every error it throws.
  let adminPassword = '';
  let maxOpen = DEFAULT_MAX_OPEN;
  let maxLifetimeMs = 0;
  // mysql2 has no connection lifetime of its own: birth times are kept here, by connection.
  let born = new WeakMap<object, number>();
  // From the config (see PluginConnectionConfig), set by initialize.
  let connectTimeoutMs = 0;
  let statementTimeoutMs = 0;
  // MariaDB's max_statement_time is the one server-side bound on a CREATE USER or GRANT waiting
  // for the privilege tables (lock_wait_timeout does not apply to that wait). MySQL has no such
  // variable; the first SET that names it finds out, and later sessions leave it out.
  let hasMaxStatementTime = true;
  // Connections that failed without the server's answer. mysql2 keeps waiting for the lost reply
  // and would queue any later query on the connection behind it, so such a connection is
  // destroyed at once and never queried again (see `query`).
  const broken = new WeakSet<PoolConnection>();
  // Sessions refused for lack of a privilege. MySQL and MariaDB read a session's global
  // privileges once, when it logs in: a grant given back to the admin afterwards is not seen by
  // it, so every retry on the same pooled session would be refused again (until the lease is
  // irrevocable). Such a session finishes its work, then is closed instead of given back.
  const stale = new WeakSet<PoolConnection>();

  function requirePool(): Pool {
    if (!pool) throw new DatabasePluginError('connection', 'database connection is not initialized');
    return pool;
  }

  /**
   * The one place database errors become plugin errors, in the Go driver's words
   * ("Error 1064 (42000): You have an error…") with every password scrubbed out. The raw error is
   * not kept as the cause: mysql2 attaches the SQL text, password included.
   */
  function databaseError(err: unknown, secrets: readonly string[] = [], connecting = false): Error {
    if (err instanceof DatabasePluginError || isCofferError(err)) return err;
    const e = asMysqlError(err);
    const text = isServerError(e) ? `Error ${e.errno} (${e.sqlState}): ${e.message}` : `${CLIENT_TIMEOUTS[e.code ?? ''] ?? ''}${e.message}`;
    return new DatabasePluginError(errorKind(e, connecting), scrubSecrets(text, [adminPassword, ...secrets]), e.code);
  }

  /**
   * Takes a pooled connection and turns autocommit off for it. DDL (CREATE USER, GRANT) commits
   * implicitly in MySQL and ends a START TRANSACTION, after which later statements would
   * autocommit; with autocommit off, every stretch of data statements between DDL belongs to a
   * transaction that ROLLBACK undoes. DDL already run is the caller's to clean up.
   *
   * A pooled connection that the server closed meanwhile (restart, wait_timeout, KILL) fails on
   * this first query; nothing has run on it yet, so it is dropped and another taken, a bounded
   * number of times, as Go's database/sql does with a bad connection. A connection past
   * `max_connection_lifetime` is dropped the same way before it is used.
   */
  async function acquire(current: Pool, secrets: readonly string[]): Promise<PoolConnection> {
    let lost: unknown;
    for (let attempt = 0; attempt <= maxOpen; attempt += 1) {
      let conn: PoolConnection;
      try {
        conn = await current.getConnection();
      } catch (err) {
        throw databaseError(err, secrets, true);
      }
      if (expired(conn)) {
        conn.destroy();
        continue;
      }
      try {
        await setUpSession(conn);
        return conn;
      } catch (err) {
        conn.destroy();
        if (isServerError(asMysqlError(err))) throw databaseError(err, secrets);
        lost = err;
      }
    }
    throw databaseError(lost ?? new Error('no usable pooled connection'), secrets);
  }

  /**
   * Bounds every wait a statement of this session may meet on the server to statement_timeout:
   * lock_wait_timeout for metadata locks (MySQL and MariaDB default: a year), which a GRANT or
   * DROP USER behind a long transaction would otherwise sit in; innodb_lock_wait_timeout for row
   * locks; and on MariaDB max_statement_time, for everything else (a CREATE USER or GRANT waiting
   * for a lock on the privilege tables ignores lock_wait_timeout). It answers at once, so the
   * connect timeout bounds its reply: a pooled connection that went silent is found out here.
   */
  async function setUpSession(conn: PoolConnection): Promise<void> {
    const waitSeconds = Math.max(1, Math.ceil(statementTimeoutMs / 1000));
    const settings = `SET autocommit = 0, SESSION lock_wait_timeout = ${waitSeconds}, SESSION innodb_lock_wait_timeout = ${waitSeconds}`;
    if (hasMaxStatementTime) {
      try {
        await query(conn, `${settings}, SESSION max_statement_time = ${statementTimeoutMs / 1000}`, [], connectTimeoutMs);
        return;
      } catch (err) {
        if (asMysqlError(err).errno !== UNKNOWN_VARIABLE) throw err;
        hasMaxStatementTime = false;
      }
    }
    await query(conn, settings, [], connectTimeoutMs);
  }

  /**
   * One query, whose reply the client waits for no longer than `timeoutMs` (by default the
   * statement timeout plus the connect timeout: the server gives up at the first, and a reply
   * that takes longer to come back is the connection's fault). A failure without the server's
   * answer (that timeout, a lost connection) destroys the connection: see `broken`.
   */
  async function query<T extends RowDataPacket[] | ResultSetHeader = ResultSetHeader>(
    conn: PoolConnection, sql: string, values: unknown[] = [], timeoutMs = statementTimeoutMs + connectTimeoutMs,
  ): Promise<T> {
    if (broken.has(conn)) throw new DatabasePluginError('connection', 'the database connection was lost');
    try {
      const [result] = await conn.query<T>({ sql, values, timeout: timeoutMs });
      return result;
    } catch (err) {
      const mysqlError = asMysqlError(err);
      if (!isServerError(mysqlError)) {
        broken.add(conn);
        conn.destroy();
      } else if (PRIVILEGE_ERRNOS.has(mysqlError?.errno ?? 0)) {
        stale.add(conn);
      }
      throw err;
    }
  }

  /** Whether a connection has outlived `max_connection_lifetime` and must not be used again. */
  function expired(conn: PoolConnection): boolean {
    const birth = born.get(conn.connection);
    return maxLifetimeMs > 0 && birth !== undefined && now() - birth >= maxLifetimeMs;
  }

  /**
   * A pooled connection goes back as it came (autocommit on); one that cannot be, or that broke
   * (already destroyed), is not given back.
   */
  async function giveBack(conn: PoolConnection): Promise<void> {
    if (broken.has(conn)) return;
    if (stale.has(conn)) {
      conn.destroy();
      return;
    }
    try {
      await query(conn, 'SET autocommit = 1', [], connectTimeoutMs);
      conn.release();
    } catch {
      conn.destroy();
    }
  }

  /** Runs `run` on a session from the pool; every error comes out as a plugin error. */
  async function withSession<T>(secrets: readonly string[], run: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await acquire(requirePool(), secrets);
    try {
      return await run(conn);
    } catch (err) {
      throw databaseError(err, secrets);
    } finally {
      await giveBack(conn);
    }
  }

  /**
   * Runs statements in order and commits; on failure rolls back what the transaction holds.
   * `tolerate` lists server errnos that do not stop the run.
   */
  /** Runs `statements` and commits; resolves with the errnos in `tolerate` it let pass. */
  async function runStatements(
    conn: PoolConnection, statements: readonly string[], tolerate: ReadonlySet<number> = new Set(), progress?: { succeeded: number },
  ): Promise<number[]> {
    const tolerated: number[] = [];
    try {
      for (const sql of statements) {
        try {
          await query(conn, sql);
          if (progress) progress.succeeded += 1;
        } catch (err) {
          const errno = asMysqlError(err).errno ?? 0;
          if (!tolerate.has(errno)) throw err;
          tolerated.push(errno);
        }
      }
      await query(conn, 'COMMIT');
      return tolerated;
    } catch (err) {
      // A lost connection cannot roll back; the server discards its transaction anyway.
      await query(conn, 'ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * The hosts at which an account named `username` exists, or null when the admin may not read
   * mysql.user. Matching on User is exact: the column has a binary collation.
   */
  async function accountHosts(conn: PoolConnection, username: string): Promise<string[] | null> {
    try {
      const rows = await query<RowDataPacket[]>(conn, 'SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host', [username]);
      return rows.map((row) => {
        const host: unknown = row['Host'];
        return Buffer.isBuffer(host) ? host.toString('utf8') : String(host);
      });
    } catch (err) {
      if (NO_USER_TABLE_ERRNOS.has(asMysqlError(err).errno ?? 0)) return null;
      throw err;
    }
  }

  /**
   * The default revocation and rollback: drops the account at every host it exists at.
   * `username` has passed `checkUsername`; a host outside SAFE_HOST is left for `requireGone` to
   * report. When the hosts cannot be read, it drops the account at '%' as Vault's default does,
   * without IF EXISTS: finding none there says nothing about another host ('localhost', say),
   * where the user may still log in, so that fails (and the lease is kept and shows why)
   * rather than passing for a revocation.
   */
  async function dropAccounts(conn: PoolConnection, username: string): Promise<void> {
    const hosts = await accountHosts(conn, username);
    if (hosts === null) {
      try {
        await query(conn, `DROP USER '${username}'@'${FALLBACK_HOST}'`);
      } catch (err) {
        if (!NO_SUCH_ACCOUNT_ERRNOS.has(asMysqlError(err).errno ?? 0)) throw err;
        throw new DatabasePluginError(
          'statement',
          `user "${username}" does not exist at host '%', and this admin may not read mysql.user to find the host it does exist at: grant the admin SELECT ON mysql.user, or give the role revocation_statements that name the host`,
        );
      }
      return;
    }
    for (const host of hosts) {
      if (SAFE_HOST.test(host)) await query(conn, `DROP USER IF EXISTS '${username}'@'${host}'`);
    }
  }

  /**
   * Ends the sessions a revoked user still has open. DROP USER does not, and an open session
   * keeps the privileges it logged in with (database-level and global ones), so a leaked
   * credential would outlive its lease for as long as its connection lasts. Best effort: an admin
   * without the PROCESS privilege sees only its own sessions (and ending another user's needs
   * CONNECTION ADMIN or SUPER); a session that ended meanwhile is no error.
   */
  async function endSessions(conn: PoolConnection, username: string): Promise<void> {
    let rows: RowDataPacket[];
    try {
      rows = await query<RowDataPacket[]>(conn, 'SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [username]);
    } catch {
      return;
    }
    for (const row of rows) {
      const id = Number(row['ID']);
      if (!Number.isSafeInteger(id) || id <= 0) continue;
      try {
        await query(conn, `KILL CONNECTION ${id}`);
      } catch {
        // Ended on its own meanwhile (1094), or not ours to end (1095).
      }
    }
  }

  /**
   * Fails while an account named `username` remains at any host, so that the lease is kept,
   * retried and shows why: a revocation whose statements name another host than creation did
   * would otherwise succeed and leave a user that can still log in. An admin who may not read
   * mysql.user cannot check, and the revocation stands as the statements left it.
   */
  async function requireGone(conn: PoolConnection, username: string, custom: boolean): Promise<void> {
    const hosts = await accountHosts(conn, username);
    if (hosts === null || hosts.length === 0) return;
    const where = hosts.map((h) => `'${h}'`).join(', ');
    const fix = custom ? 'the revocation statements must drop it there' : 'revocation statements that drop it there are needed';
    throw new DatabasePluginError('statement', `user "${username}" still exists at host(s) ${where} after revocation; ${fix}`);
  }

  return {
    name: PLUGIN_NAME,
    maxUsernameLength: MAX_USERNAME_LENGTH,

    async initialize(config: PluginConnectionConfig, verify: boolean): Promise<void> {
      const options = parseMysqlConnectionUrl(config.connectionUrl, { username: config.username, password: config.password });
      maxOpen = checkCount(config.maxOpenConnections, 'max_open_connections') || DEFAULT_MAX_OPEN;
      const idleMs = checkCount(config.maxIdleTimeMs, 'max_idle_time') || DEFAULT_IDLE_TIMEOUT_MS;
      maxLifetimeMs = checkCount(config.maxConnectionLifetimeSeconds ?? 0, 'max_connection_lifetime') * 1000;
      const timeouts = pluginTimeouts(config);
      // A `timeout` in the DSN (the Go driver's, which Vault's plugin honours) wins: it is what
      // the URL asks for.
      connectTimeoutMs = options.connectTimeoutMs ?? timeouts.connectMs;
      statementTimeoutMs = timeouts.statementMs;
      hasMaxStatementTime = true;
      if (pool) await pool.end().catch(() => undefined);
      adminPassword = options.password;
      born = new WeakMap();
      const { createPool } = await loadMysql();
      const opened = createPool({
        ...(options.socketPath === undefined ? { host: options.host, port: options.port } : { socketPath: options.socketPath }),
        user: options.user,
        password: options.password,
        ...(options.database === undefined ? {} : { database: options.database }),
        ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
        connectTimeout: connectTimeoutMs,
        ...(options.charset === undefined ? {} : { charset: options.charset }),
        connectionLimit: maxOpen,
        maxIdle: maxOpen,
        idleTimeout: idleMs,
        waitForConnections: true,
        queueLimit: 0,
        // Our splitter decides where statements end; the server must never run two at once.
        multipleStatements: false,
        enableKeepAlive: true,
      });
      opened.pool.on('connection', (conn: object) => born.set(conn, now()));
      pool = opened;
      if (!verify) return;
      try {
        // Taking a session runs a query on a new connection: that is the check.
        await withSession([], async () => undefined);
      } catch (err) {
        pool = null;
        await opened.end().catch(() => undefined);
        throw err;
      }
    },

    async newUser(req): Promise<void> {
      return oneCreationPerName(PLUGIN_NAME, req.username, async () => {
        checkUsername(req.username);
        if (req.username.length > MAX_USERNAME_LENGTH) {
          throw badRequest(`username is longer than the ${MAX_USERNAME_LENGTH} characters MySQL allows`);
        }
        checkPassword(req.password);
        const values = { username: req.username, password: req.password, expiration: req.expiration };
        const creation = prepareStatements(req.creationStatements, values);
        if (creation.length === 0) throw badRequest(`${PLUGIN_NAME} needs creation statements`);
        checkCreationStatements(req.creationStatements);
        refuseUnfilled(creation);
        // Custom rollback statements are prepared before anything runs, so a bad one is refused first.
        const rollback = req.rollbackStatements.length > 0 ? prepareStatements(req.rollbackStatements, values) : null;
        const secrets = [req.password];

        let failure: unknown;
        // A name that already exists is refused before anything runs: the cleanup below drops the
        // account at every host, and must never reach an account Coffer did not create (a fixed
        // username_template, or a template whose random part was cut by the length limit).
        let taken = false;
        let started = false;
        // A statement whose connection was lost (or whose reply timed out) may still run to its
        // end on the server, after any cleanup below: whether the user exists stays unknown.
        let lostConnection = false;
        // Without read access to mysql.user, "taken" cannot be checked first; a creation in which
        // no CREATE USER statement succeeded made no account of ours, and its cleanup is skipped:
        // the name may be someone else's account (a CREATE USER refused with 1396), never ours to drop.
        let hostsReadable = true;
        const progress = { succeeded: 0 };
        try {
          await withSession(secrets, async (conn) => {
            const existing = await accountHosts(conn, req.username);
            hostsReadable = existing !== null;
            if (existing !== null && existing.length > 0) {
              taken = true;
              return;
            }
            // CREATE USER commits at once, so creation waits for the lease to be stored
            // (NewUserRequest.commitAfter); the session and the check above overlapped its write.
            await req.commitAfter;
            started = true;
            await runStatements(conn, creation, new Set(), progress).catch((err: unknown) => {
              lostConnection = !isServerError(asMysqlError(err));
              throw err;
            });
          });
          if (!taken) return;
        } catch (err) {
          failure = err;
        }
        if (taken) {
          throw badRequest(`a database user named "${req.username}" already exists; Coffer does not take over or drop accounts it did not create (check the role's username_template)`);
        }
        // Failed before any statement ran (the check itself, or the connection): nothing to undo.
        if (!started) throw databaseError(failure, secrets);
        if (!hostsReadable && !lostConnection && !creation.slice(0, progress.succeeded).some((sql) => CREATES_USER.test(sql))) {
          throw databaseError(failure, secrets);
        }
        // CREATE USER and GRANT have already committed by now; undo them on a fresh session,
        // since the failure may have been the connection itself.
        let cleanupFailed = false;
        try {
          await withSession(secrets, async (conn) => {
            if (rollback === null) await dropAccounts(conn, req.username).catch(() => (cleanupFailed = true));
            else for (const sql of rollback) await query(conn, sql).catch(() => (cleanupFailed = true));
            await query(conn, 'COMMIT');
            // Statements that ran without error may still have named the wrong host; a check that
            // fails (other than for lack of privileges) leaves the user's fate unknown.
            const left = await accountHosts(conn, req.username).catch(() => ['?']);
            if (left !== null && left.length > 0) cleanupFailed = true;
          });
        } catch {
          cleanupFailed = true;
        }
        const error = databaseError(failure, secrets);
        if (cleanupFailed) throw withUnknownOutcome(error, `cleanup failed as well, so user "${req.username}" may remain in the database; it is revoked`);
        if (lostConnection) throw withUnknownOutcome(error, `the connection was lost, so user "${req.username}" may exist; it is revoked`);
        throw error;
      });
    },

    async renewUser(req): Promise<void> {
      // MySQL has no VALID UNTIL; the lease's expiry revokes the user, so renewing needs nothing
      // from the database unless the role says otherwise.
      if (req.renewStatements.length === 0) return;
      checkUsername(req.username);
      const statements = prepareStatements(req.renewStatements, { username: req.username, expiration: req.expiration });
      await withSession([], (conn) => runStatements(conn, statements));
    },

    async revokeUser(req): Promise<void> {
      checkUsername(req.username);
      const custom = req.revocationStatements.length > 0;
      const statements = custom ? prepareStatements(req.revocationStatements, { username: req.username }) : [];
      await withSession([], async (conn) => {
        if (!custom) {
          await dropAccounts(conn, req.username);
          await requireGone(conn, req.username, false);
        } else {
          // Custom statements are the operator's (they may lock the account rather than drop it,
          // as Vault allows), so they are checked only when one was let pass as "no such user":
          // that says nothing about the account at another host, which may still log in.
          const tolerated = await runStatements(conn, statements, ABSENT_USER_ERRNOS);
          if (tolerated.some((errno) => NO_SUCH_ACCOUNT_ERRNOS.has(errno))) await requireGone(conn, req.username, true);
        }
        await endSessions(conn, req.username);
      });
    },

    async userExists(username): Promise<boolean | undefined> {
      const hosts = await withSession([], (conn) => accountHosts(conn, username));
      return hosts === null ? undefined : hosts.length > 0;
    },

    async setPassword(req): Promise<void> {
      checkUsername(req.username);
      checkPassword(req.password);
      const templates = req.statements.length > 0 ? req.statements : DEFAULT_SET_PASSWORD;
      const statements = prepareStatements(templates, { username: req.username, password: req.password });
      await withSession([req.password], (conn) => runStatements(conn, statements));
    },

    async close(): Promise<void> {
      const current = pool;
      pool = null;
      adminPassword = '';
      if (current) await current.end();
    },
  };
}

function checkUsername(username: string): void {
  if (!SAFE_USERNAME.test(username)) {
    throw badRequest(`${PLUGIN_NAME}: a username may contain only letters, digits, "_", "." and "-"`);
  }
}

function checkPassword(password: string): void {
  // The message never includes the password, only what was wrong with it.
  if (!SAFE_PASSWORD.test(password)) {
    throw badRequest(`${PLUGIN_NAME}: a password may contain only letters, digits and "-" (check the password policy)`);
  }
}

function checkCount(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0) throw badRequest(`${field} must be a whole number, 0 or more`);
  return value;
}
