/**
 * The contract between the database secrets engine and one kind of database
 * (PostgreSQL, MySQL/MariaDB, Redis). A plugin owns a small connection pool for one `config/:name`
 * and turns statement templates into real users; the engine owns everything else (roles, TTLs,
 * usernames, passwords, leases).
 *
 * A plugin never logs or puts a password in an error message; errors it throws carry the
 * database's message with any password scrubbed out.
 */

export interface PluginConnectionConfig {
  /** With {{username}} and {{password}} placeholders, filled from `username`/`password`. */
  connectionUrl: string;
  username: string;
  password: string;
  maxOpenConnections: number;
  /** Milliseconds after which an idle pooled connection is closed; 0 = the driver default. */
  maxIdleTimeMs: number;
  /** Seconds after which a pooled connection is replaced; 0 or absent = never. */
  maxConnectionLifetimeSeconds?: number;
  /**
   * How long opening a connection (and, for Redis, any reply) may take, ms; absent =
   * DEFAULT_CONNECT_TIMEOUT_S. A server that accepts the connection and then says nothing must
   * fail a request after this, never hang it.
   */
  connectTimeoutMs?: number;
  /**
   * How long one statement may run, lock waits included, ms; absent = DEFAULT_STATEMENT_TIMEOUT_S.
   * The server is told to give up after this; the client gives up after this plus the connect
   * timeout (a reply that does not come back is the connection's fault, not the statement's).
   */
  statementTimeoutMs?: number;
  /**
   * PostgreSQL only: 'scram-sha-256' puts a SCRAM verifier where statements say {{password}}
   * (and in the default set-password statement), so the password never reaches the server.
   * Absent = 'password' (the password itself, as Vault's default).
   */
  passwordAuthentication?: PasswordAuthentication;
}

export type PasswordAuthentication = 'password' | 'scram-sha-256';

/** Seconds; what `connect_timeout` is when a config does not say. */
export const DEFAULT_CONNECT_TIMEOUT_S = 10;
/** Seconds; what `statement_timeout` is when a config does not say. */
export const DEFAULT_STATEMENT_TIMEOUT_S = 60;

/** The connect and statement timeouts of `config`, ms, defaults applied. */
export function pluginTimeouts(config: PluginConnectionConfig): { connectMs: number; statementMs: number } {
  return {
    connectMs: config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_S * 1000,
    statementMs: config.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_S * 1000,
  };
}

export interface NewUserRequest {
  username: string;
  password: string;
  /** The moment the credential must stop working ({{expiration}}). */
  expiration: Date;
  /** Templates with {{name}}/{{username}}, {{password}}, {{expiration}}; empty = the plugin's default. */
  creationStatements: readonly string[];
  /** Run when creation fails half-way, to leave nothing behind; empty = the plugin's default cleanup. */
  rollbackStatements: readonly string[];
  /**
   * Resolves once the user may exist durably: the lease that will revoke it has been stored.
   * Until then nothing of the user may be committed (work that commits nothing may run: a
   * connection taken, a name checked, statements run in a transaction left open), so a crash
   * in between leaves a lease whose user never existed, never a user without a lease. If it
   * rejects, nothing is made, and newUser rejects (with any error: the caller already has the
   * reason). Absent: no wait.
   */
  commitAfter?: Promise<void>;
}

export interface RenewUserRequest {
  username: string;
  expiration: Date;
  renewStatements: readonly string[];
}

export interface RevokeUserRequest {
  username: string;
  revocationStatements: readonly string[];
}

export interface SetPasswordRequest {
  username: string;
  password: string;
  /** Templates with {{name}}/{{username}} and {{password}}; empty = the plugin's default. */
  statements: readonly string[];
}

export interface DatabasePlugin {
  /** 'postgresql-database-plugin', 'mysql-database-plugin', 'redis-database-plugin'. */
  readonly name: string;
  /** The longest username this database accepts. */
  readonly maxUsernameLength: number;
  /** Opens the pool; with `verify`, also connects once and fails with the database's message. */
  initialize(config: PluginConnectionConfig, verify: boolean): Promise<void>;
  /**
   * All-or-nothing: on a failure nothing of the user remains, and the error says why. When the
   * plugin cannot know that (the connection was lost after the statements were sent, or the
   * cleanup after a failure failed), it throws a DatabasePluginError with `outcomeUnknown`, and
   * the user is revoked as if it had been made.
   */
  newUser(req: NewUserRequest): Promise<void>;
  renewUser(req: RenewUserRequest): Promise<void>;
  /**
   * Removes the user. When it fails, the engine asks `userExists`, and a user that does not
   * exist counts as revoked: a lease may name a user whose creation never committed (a crash
   * before it did), and custom statements (`DROP ROLE "{{name}}"`) fail for such a user.
   */
  revokeUser(req: RevokeUserRequest): Promise<void>;
  /**
   * Whether a user of this name exists, or undefined when the plugin cannot tell (the admin may
   * not read the list of users). Asked only after a revocation failed, never on the happy path.
   */
  userExists(username: string): Promise<boolean | undefined>;
  /** Changes a user's password (static roles, and rotate-root on the admin user itself). */
  setPassword(req: SetPasswordRequest): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds a fresh, unopened plugin. `pluginName` is the name the config asked for, which may be an
 * alias (`mysql-legacy-database-plugin`); factories that serve one name may ignore it.
 */
export type DatabasePluginFactory = (pluginName?: string) => DatabasePlugin;

/**
 * Why a database call failed, so the engine can answer 400 (the caller's statements or
 * settings are wrong) or 502 (the database could not be reached, or did not finish in time: a
 * lock wait or statement timeout says the moment was wrong, not the request). Optional: a plugin
 * may throw a CofferError or a plain Error instead; the engine then answers 500 with the
 * (scrubbed) message.
 */
export type DatabaseErrorKind = 'connection' | 'statement';

/** An error from the database, its message already free of every password. */
export class DatabasePluginError extends Error {
  readonly kind: DatabaseErrorKind;
  /** The database's own error code (SQLSTATE for PostgreSQL), when it sent one. */
  readonly dbCode: string | undefined;
  /** The change may have taken effect despite the error (see DatabasePlugin.newUser). */
  readonly outcomeUnknown: boolean;

  constructor(kind: DatabaseErrorKind, message: string, dbCode?: string, options: { outcomeUnknown?: boolean } = {}) {
    super(message);
    this.name = 'DatabasePluginError';
    this.kind = kind;
    this.dbCode = dbCode;
    this.outcomeUnknown = options.outcomeUnknown === true;
  }
}

/** The same failure, marked as one whose change may have taken effect; `note` says so to the caller. */
export function withUnknownOutcome(err: Error, note: string): DatabasePluginError {
  const kind = err instanceof DatabasePluginError ? err.kind : 'statement';
  const dbCode = err instanceof DatabasePluginError ? err.dbCode : undefined;
  return new DatabasePluginError(kind, `${err.message}; ${note}`, dbCode, { outcomeUnknown: true });
}
