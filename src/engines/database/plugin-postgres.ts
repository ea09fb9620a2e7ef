/**
 * The PostgreSQL database plugin (`postgresql-database-plugin`), on `pg` with one Pool of
 * `max_open_connections` per config.
 *
 * Owns: the pool, turning statement templates into batches run all-or-nothing (one transaction
 * on one pooled client, retried, one at a time per config when it rewrites table ACLs: see
 * plugin-postgres-transaction.ts), a failed creation's cleanup, and the default renew, revoke
 * and set-password SQL. A new user's transaction commits only after its lease is stored
 * (NewUserRequest.commitAfter).
 *
 * Recommended role statements (see README "Dynamic database credentials"): put the grants on a
 * group role once, and make each credential a member of it:
 *   CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE "app_readers";
 * A per-credential `GRANT ... ON ALL TABLES` adds one ACL entry to every table's catalog row:
 * concurrent grants collide on that row, and at about 2,400 live grantees the row no longer
 * fits in a page and every further GRANT fails.
 *
 * Must never: log a password, or let one reach an error message (the admin password and the
 * credential's password are scrubbed from every database message, detail and parse error).
 */
import type pg from 'pg';
import { loadPg } from './drivers.js';
import type { PoolClient } from 'pg';
import { badRequest, isCofferError } from '../../core/errors.js';
import { CommitWithheld, commitGate } from './commit-gate.js';
import { scrubSecrets } from './plugin-secret-scrub.js';
import { pgConnectTimeout, pgTarget } from './plugin-postgres-connection.js';
import {
  classifyPgError, defaultRenewStatement, defaultSetPasswordStatement, mayCommitOnItsOwn, pgErrorText,
  quoteIdent, renderStatement, touchesObjectAcl,
} from './plugin-postgres-sql.js';
import {
  DatabasePluginError, pluginTimeouts, withUnknownOutcome, type DatabasePlugin, type NewUserRequest, type PluginConnectionConfig,
  type PasswordAuthentication, type RenewUserRequest, type RevokeUserRequest, type SetPasswordRequest,
} from './plugin.js';
import { createBatchRunner, DUPLICATE_OBJECT, pgCode, UNIQUE_VIOLATION } from './plugin-postgres-transaction.js';
import { scramVerifier } from './scram-verifier.js';
import { checkCreationStatements, refuseUnfilled } from './statement-placeholders.js';

export const POSTGRES_PLUGIN_NAME = 'postgresql-database-plugin';

/**
 * SQLSTATE query_canceled (statement_timeout, or an operator's pg_cancel_backend) and
 * lock_not_available (lock_timeout, NOWAIT): the database did not get to it in time. Not the
 * caller's to fix, so reported like an unreachable database (502); the transaction is rolled
 * back and its connection is fine to reuse.
 */
const TIMED_OUT = new Set(['57014', '55P03']);

/**
 * What a failed creation runs when the role has no rollback_statements. The creation's own
 * transaction undoes everything, unless its statements committed part of it themselves
 * (`...; COMMIT; ...`). A role that still owns objects or holds privileges cannot be dropped
 * this way: then the cleanup fails, and the lease's revocation finishes the job.
 */
const defaultCreationCleanup = ['DROP ROLE IF EXISTS "{{name}}"'];

/** How often a lost batch is looked for until it has ended, and how long past the statement timeout. */
const LOST_BATCH_POLL_MS = 10;
const LOST_BATCH_GRACE_MS = 5_000;
/**
 * The server sessions still inside the batch that opened with `$1` (its marker comment): a
 * session's `query` is the text of its current or latest query, so one showing the marker and
 * not idle is still in that batch's transaction. Found by the marker, not by a pid read when the
 * connection opened: behind a transaction pooler (pgbouncer) a client's queries run on whichever
 * server session is free, and a pid would name someone else's.
 */
const LOST_BATCH_SESSIONS = `FROM pg_stat_activity
  WHERE left(query, length($1)) = $1 AND state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid()`;

export interface PostgresPluginOptions {
  /** Waits between retries; tests may inject a fast one. */
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createPostgresPlugin(options: PostgresPluginOptions = {}): DatabasePlugin {
  const sleep = options.sleep ?? realSleep;
  let pool: pg.Pool | undefined;
  let adminSecrets: string[] = [];
  let maxOpen = 1;
  // Set by initialize from the config (see PluginConnectionConfig).
  let statementTimeoutMs = 0;
  let passwordAuthentication: PasswordAuthentication = 'password';

  /** What statements get for {{password}}: the password, or with scram-sha-256 its verifier. */
  const passwordForStatements = async (password: string): Promise<{ password: string; passwordIsVerifier: boolean }> =>
    passwordAuthentication === 'scram-sha-256'
      ? { password: await scramVerifier(password), passwordIsVerifier: true }
      : { password, passwordIsVerifier: false };

  /** A DatabasePluginError with every known secret removed from the database's words. */
  const failure = (err: unknown, extraSecrets: readonly string[] = []): Error => {
    if (err instanceof DatabasePluginError || isCofferError(err)) return err;
    const kind = classifyPgError(err) === 'connection' || TIMED_OUT.has(pgCode(err) ?? '') ? 'connection' : 'statement';
    return new DatabasePluginError(kind, scrubSecrets(pgErrorText(err), [...adminSecrets, ...extraSecrets]), pgCode(err));
  };

  const requirePool = (): pg.Pool => {
    if (!pool) throw new DatabasePluginError('connection', 'database connection is not initialized');
    return pool;
  };

  const acquire = async (): Promise<PoolClient> => {
    try {
      return await requirePool().connect();
    } catch (err) {
      throw failure(err);
    }
  };

  /**
   * A pooled client on which `opening` (a read) succeeded. A connection the server dropped while
   * it sat idle (restart, idle timeout) fails on its first use: it is discarded and another
   * taken, at most once per pooled connection.
   */
  const openClient = async <R>(opening: (client: PoolClient) => Promise<R>): Promise<{ client: PoolClient; result: R }> => {
    for (let attempt = 0; ; attempt += 1) {
      const client = await acquire();
      try {
        return { client, result: await opening(client) };
      } catch (err) {
        // Discarded either way: after a failed opening its session state is unknown.
        client.release(true);
        if (classifyPgError(err) !== 'connection' || attempt >= maxOpen) throw err;
      }
    }
  };

  /**
   * Ends the server session still running a batch whose connection was lost with COMMIT sent,
   * and waits until none is (BatchRunnerDeps.settleLost). A session is done with the batch once
   * it is idle, runs another query or has left: its transaction has committed or aborted, so
   * the outcome is final. Terminating needs the admin to be a member of the session's role (its
   * own: always so) or pg_signal_backend; where it is refused, this waits for the batch to
   * finish on its own (statement_timeout bounds it). Gives up, and leaves the outcome unknown,
   * when the server cannot be asked, does not track queries (track_activities off), or the
   * batch outlives that wait.
   */
  const settleLost = async (marker: string): Promise<void> => {
    const deadline = Date.now() + statementTimeoutMs + LOST_BATCH_GRACE_MS;
    let terminate = true;
    try {
      const [tracking] = await query<{ on: string }>("SELECT current_setting('track_activities') AS on", []);
      if (tracking?.on !== 'on') return;
    } catch {
      return;
    }
    for (;;) {
      const sql = `SELECT ${terminate ? 'pg_terminate_backend(pid)' : 'pid'} ${LOST_BATCH_SESSIONS}`;
      try {
        if ((await query(sql, [marker])).length === 0) return;
      } catch (err) {
        if (!terminate || (err instanceof DatabasePluginError && err.kind === 'connection')) return;
        terminate = false;
        continue;
      }
      if (Date.now() >= deadline) return;
      await sleep(LOST_BATCH_POLL_MS);
    }
  };

  /** A batch of statements run as one transaction, retried (plugin-postgres-transaction.ts). */
  const runBatch = createBatchRunner({ acquire, maxOpen: () => maxOpen, statementTimeoutMs: () => statementTimeoutMs, sleep, settleLost });

  const query = async <R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<R[]> => {
    try {
      const { client, result } = await openClient((c) => c.query<R>(text, values));
      client.release();
      return result.rows;
    } catch (err) {
      throw failure(err);
    }
  };

  interface RoleFacts { oid: number; canAct: boolean; hasObjects: boolean }

  const roleFacts = async (username: string): Promise<RoleFacts | undefined> => {
    const rows = await query<{ oid: number; can_act: boolean; has_objects: boolean }>(
      `SELECT r.oid, pg_has_role(current_user, r.oid, 'USAGE') AS can_act,
              EXISTS (SELECT 1 FROM pg_shdepend d
                       WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid
                         AND d.deptype IN ('a', 'o')) AS has_objects
         FROM pg_roles r WHERE r.rolname = $1`,
      [username],
    );
    const row = rows[0];
    return row === undefined ? undefined : { oid: row.oid, canAct: row.can_act, hasObjects: row.has_objects };
  };

  /**
   * The default revocation: give away and drop what the role owns and every privilege it holds
   * in this database, then drop it (which also ends its group memberships). When the admin is
   * not allowed to act as the role (a non-superuser CREATEROLE admin), it revokes per schema
   * instead, as Vault does.
   */
  const defaultRevoke = async (username: string): Promise<void> => {
    const facts = await roleFacts(username);
    if (facts === undefined) return;
    const role = quoteIdent(username);
    const statements: string[] = [];
    if (facts.canAct) {
      statements.push(`REASSIGN OWNED BY ${role} TO CURRENT_USER`, `DROP OWNED BY ${role}`);
    } else if (facts.hasObjects) {
      const schemas = await query<{ nspname: string }>(
        `SELECT DISTINCT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                LATERAL aclexplode(c.relacl) a WHERE a.grantee = $1
         UNION SELECT 'public'`,
        [facts.oid],
      );
      for (const { nspname } of schemas) {
        const schema = quoteIdent(nspname);
        statements.push(
          `REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA ${schema} FROM ${role}`,
          `REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA ${schema} FROM ${role}`,
          `REVOKE ALL PRIVILEGES ON ALL FUNCTIONS IN SCHEMA ${schema} FROM ${role}`,
          `REVOKE USAGE ON SCHEMA ${schema} FROM ${role}`,
        );
      }
      const [db] = await query<{ name: string }>('SELECT current_database() AS name', []);
      if (db) statements.push(`REVOKE CONNECT ON DATABASE ${quoteIdent(db.name)} FROM ${role}`);
    }
    statements.push(`DROP ROLE IF EXISTS ${role}`);
    await runBatch(statements, facts.hasObjects);
  };

  return {
    name: POSTGRES_PLUGIN_NAME,
    maxUsernameLength: 63,

    async initialize(config: PluginConnectionConfig, verify: boolean): Promise<void> {
      adminSecrets = [config.password, encodeURIComponent(config.password)].filter((s) => s !== '');
      maxOpen = config.maxOpenConnections;
      passwordAuthentication = config.passwordAuthentication ?? 'password';
      const timeouts = pluginTimeouts(config);
      let target;
      let connectTimeoutMs;
      try {
        target = pgTarget(config.connectionUrl, config.username, config.password);
        const fromUrl = pgConnectTimeout(config.connectionUrl);
        connectTimeoutMs = fromUrl === undefined ? timeouts.connectMs : fromUrl * 1000;
      } catch (err) {
        throw failure(err instanceof DatabasePluginError ? err : new DatabasePluginError('connection', 'invalid connection_url'));
      }
      statementTimeoutMs = timeouts.statementMs;
      const { Pool } = await loadPg();
      const next = new Pool({
        ...target,
        max: config.maxOpenConnections,
        idleTimeoutMillis: config.maxIdleTimeMs > 0 ? config.maxIdleTimeMs : 10_000,
        maxLifetimeSeconds: config.maxConnectionLifetimeSeconds ?? 0,
        // Bounds the handshake of a new connection (a server that accepts and then says nothing
        // fails here) and the wait for a free pooled one.
        connectionTimeoutMillis: connectTimeoutMs,
        // statement_timeout only works while the server answers: a connection that went silent
        // (a frozen proxy, a dropped route) would hold its caller, and a rotation's lane, forever.
        // Past this the client gives up; the error has no SQLSTATE, so the connection is
        // discarded and the work retried on a fresh one.
        query_timeout: statementTimeoutMs + connectTimeoutMs,
        keepAlive: true,
        application_name: 'coffer',
      });
      // An idle client whose server went away emits 'error' on the pool; without a listener
      // Node would crash. The pool already discards that client; the next query reconnects.
      next.on('error', () => undefined);
      // A client that is checked out has no pool listener (pg-pool removes its idle one), so a
      // connection cut mid-statement (backend killed, failover, a proxy reset) would emit an
      // unhandled 'error' and stop the whole server. The statement's own promise rejects with
      // the same error, which the caller handles (connection errors discard the client).
      next.on('connect', (client) => client.on('error', () => undefined));
      if (verify) {
        try {
          const client = await next.connect();
          try {
            await client.query('SELECT 1');
          } finally {
            client.release();
          }
        } catch (err) {
          await next.end().catch(() => undefined);
          throw failure(err);
        }
      }
      const previous = pool;
      pool = next;
      if (previous) await previous.end().catch(() => undefined);
    },

    async newUser(req: NewUserRequest): Promise<void> {
      const stored = await passwordForStatements(req.password);
      const values = { name: req.username, nameKind: 'generated' as const, ...stored, expiration: req.expiration };
      const secrets = [req.password, stored.password];
      // As Vault's plugin: no creation statements is an error, not a default. A role whose
      // statements were left out (a misspelt field) must not hand out logins nobody designed.
      if (!req.creationStatements.some((statement) => statement.trim() !== '')) throw badRequest(`${POSTGRES_PLUGIN_NAME} needs creation statements`);
      const templates = req.creationStatements;
      checkCreationStatements(templates);
      const statements = templates.map((t) => renderStatement(t, values));
      refuseUnfilled(statements);
      const exclusive = touchesObjectAcl(templates);
      const gate = commitGate(req.commitAfter);
      let sent = false;
      let lostConnection = false;
      // Creation must not run twice: after a lost connection, the new role's existence says
      // whether the lost transaction committed (the name is generated, so no one else made it).
      const applied = async (): Promise<boolean> => {
        lostConnection = true;
        return (await roleFacts(req.username)) !== undefined;
      };
      try {
        // COMMIT alone waits for the lease (plugin-postgres-transaction.ts), unless the statements
        // may commit without it (ending the transaction, or through dblink on another
        // connection): then they wait for it before sending anything. (A batch in the ACL lane holds COMMIT back too, only
        // if the lease is not stored yet when its turn comes: a queue in the lane gives the
        // lease time, and without one nothing waits behind it.)
        if (mayCommitOnItsOwn(templates)) await gate.wait();
        await runBatch(statements, exclusive, { applied, onMayCommit: () => { sent = true; }, gate });
      } catch (err) {
        // The lease could not be stored, and nothing was committed; the lease manager says why.
        if (err instanceof CommitWithheld) throw err;
        const error = failure(err, secrets);
        // Nothing that could commit reached the server: nothing to undo.
        if (!sent) throw error;
        // The transaction undid what it did, unless the statements ended it themselves (a
        // COMMIT among them) or it was lost; the cleanup drops what such statements left. A
        // name that was taken is someone else's role, never ours to drop; a duplicate of another
        // object (a later statement's CREATE ROLE of a group that exists, after a COMMIT among
        // the statements kept our user) is no reason to skip the cleanup.
        const code = pgCode(err);
        const taken = !lostConnection && (code === DUPLICATE_OBJECT || code === UNIQUE_VIOLATION) && namesRole(err, req.username);
        const cleanup = req.rollbackStatements.length > 0 ? req.rollbackStatements : defaultCreationCleanup;
        const cleanedUp = taken || (await runBatch(cleanup.map((t) => renderStatement(t, values)), touchesObjectAcl(cleanup)).then(() => true, () => false));
        // A lost run may still commit after any cleanup: PostgreSQL finishes a query string it
        // has received, COMMIT included, before it notices the client is gone.
        if (lostConnection) throw withUnknownOutcome(error, `the connection was lost, so user "${req.username}" may exist; it is revoked`);
        if (!cleanedUp) throw withUnknownOutcome(error, `cleanup failed as well, so user "${req.username}" may remain; it is revoked`);
        throw error;
      }
    },

    async renewUser(req: RenewUserRequest): Promise<void> {
      const statements = req.renewStatements.length > 0
        ? req.renewStatements.map((t) => renderStatement(t, { name: req.username, nameKind: 'generated', expiration: req.expiration }))
        : [defaultRenewStatement(req.username, req.expiration)];
      try {
        await runBatch(statements, touchesObjectAcl(req.renewStatements));
      } catch (err) {
        throw failure(err);
      }
    },

    async revokeUser(req: RevokeUserRequest): Promise<void> {
      try {
        if (req.revocationStatements.length === 0) {
          await defaultRevoke(req.username);
          return;
        }
        // Statements that fail for a role that is gone (REVOKE, DROP ROLE without IF EXISTS) are
        // forgiven by the engine, which asks userExists after a failure (secret-creds.ts).
        const statements = req.revocationStatements.map((t) => renderStatement(t, { name: req.username, nameKind: 'generated' }));
        await runBatch(statements, touchesObjectAcl(req.revocationStatements));
      } catch (err) {
        throw failure(err);
      }
    },

    async userExists(username: string): Promise<boolean> {
      return (await roleFacts(username)) !== undefined;
    },

    async setPassword(req: SetPasswordRequest): Promise<void> {
      const stored = await passwordForStatements(req.password);
      const statements = req.statements.length > 0
        ? req.statements.map((t) => renderStatement(t, { name: req.username, nameKind: 'admin', ...stored }))
        : [defaultSetPasswordStatement(req.username, stored.password)];
      try {
        await runBatch(statements, false);
      } catch (err) {
        throw failure(err, [req.password, stored.password]);
      }
    },

    async close(): Promise<void> {
      const current = pool;
      pool = undefined;
      if (current) await current.end().catch(() => undefined);
    },
  };
}

/**
 * Whether a duplicate-object error is about the role `name`: PostgreSQL says `role "name"
 * already exists` (42710), or, when CREATE ROLE waited on another session's uncommitted insert,
 * `Key (rolname)=(name) already exists.` in the detail (23505).
 */
function namesRole(err: unknown, name: string): boolean {
  const { message, detail } = (err ?? {}) as { message?: unknown; detail?: unknown };
  const text = `${typeof message === 'string' ? message : ''}\n${typeof detail === 'string' ? detail : ''}`;
  return text.includes(`"${name}"`) || text.includes(`(rolname)=(${name})`);
}
