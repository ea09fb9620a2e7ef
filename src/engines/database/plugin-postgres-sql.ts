/**
 * SQL text for the PostgreSQL plugin: quoting, template filling, default statements, and what a
 * driver error means (retry, bad statement, unreachable database).
 *
 * Owns: the rule that a value is substituted into a template only after it is proven unable to
 * leave its quotes: generated usernames are [a-z0-9-], passwords [A-Za-z0-9-] (or a SCRAM
 * verifier, base64 and `$:`), an admin username (rotate-root) [A-Za-z0-9_.@-]. SQL this file builds itself quotes every identifier
 * and literal (an unquoted name in a revoke statement was CVE-2026-39946).
 * Must never: put a password into an error message; callers scrub with the secrets they hold.
 */
import { badRequest } from '../../core/errors.js';
import { SCRAM_VERIFIER } from './scram-verifier.js';
import { fillPlaceholders } from './statement-placeholders.js';

/** `"name"` with embedded quotes doubled. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw badRequest('invalid identifier');
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * `'value'` with embedded quotes doubled. Backslashes are refused rather than escaped, so the
 * result means the same whatever `standard_conforming_strings` says.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0') || value.includes('\\')) throw badRequest('invalid literal');
  return `'${value.replace(/'/g, "''")}'`;
}

/** `{{expiration}}`: 'YYYY-MM-DD HH:MM:SS+00' in UTC, what VALID UNTIL reads unambiguously. */
export function formatExpiration(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')}+00`;
}

const GENERATED_NAME = /^[a-z0-9-]{1,63}$/;
const ADMIN_NAME = /^[A-Za-z0-9_.@-]{1,63}$/;
const PASSWORD = /^[A-Za-z0-9-]{1,128}$/;

export interface TemplateValues {
  name: string;
  /** 'generated' for Coffer's own usernames, 'admin' for the config's username (rotate-root). */
  nameKind: 'generated' | 'admin';
  password?: string;
  /** `password` is a SCRAM verifier (password_authentication: scram-sha-256), not a password. */
  passwordIsVerifier?: boolean;
  expiration?: Date;
}

/**
 * Fills {{name}} / {{username}}, {{password}} and {{expiration}} (statement-placeholders.ts).
 * Throws before filling anything if a value could break out of its quotes.
 */
export function renderStatement(template: string, values: TemplateValues): string {
  const namePattern = values.nameKind === 'generated' ? GENERATED_NAME : ADMIN_NAME;
  if (!namePattern.test(values.name)) throw badRequest('refusing to substitute an unsafe username into a statement');
  if (values.password !== undefined && !(values.passwordIsVerifier === true ? SCRAM_VERIFIER : PASSWORD).test(values.password)) {
    throw badRequest('refusing to substitute an unsafe password into a statement');
  }
  return fillPlaceholders(template, {
    name: values.name,
    username: values.name,
    ...(values.password === undefined ? {} : { password: values.password }),
    ...(values.expiration === undefined ? {} : { expiration: formatExpiration(values.expiration) }),
  });
}

export const defaultRenewStatement = (name: string, expiration: Date): string =>
  `ALTER ROLE ${quoteIdent(name)} VALID UNTIL ${quoteLiteral(formatExpiration(expiration))}`;

export const defaultSetPasswordStatement = (name: string, password: string): string =>
  `ALTER ROLE ${quoteIdent(name)} WITH PASSWORD ${quoteLiteral(password)}`;

/**
 * Whether statements change the ACL of shared catalog rows (GRANT/REVOKE ... ON an object,
 * default privileges, DROP/REASSIGN OWNED). Two such transactions touching the same table row
 * fail with "tuple concurrently updated", so the plugin runs them one at a time per config.
 * Role membership (CREATE ROLE ... IN ROLE, GRANT group TO user) does not conflict and runs
 * in parallel.
 */
export function touchesObjectAcl(statements: readonly string[]): boolean {
  return statements.some((s) =>
    /\b(?:GRANT|REVOKE)\b[^;]*?\bON\b/i.test(s)
    || /\bALTER\s+DEFAULT\s+PRIVILEGES\b/i.test(s)
    || /\b(?:DROP|REASSIGN)\s+OWNED\b/i.test(s));
}

/**
 * Whether statements may commit work before, or without, the COMMIT that ends their batch:
 * by ending the transaction they run in (COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION),
 * after which what follows commits on its own, or by running it on another connection that
 * commits by itself (dblink, pg_background). Read loosely: a false alarm (the word in a DO
 * block or a name) costs only the overlap of a creation with its lease's write
 * (plugin-postgres.ts), while a miss would let a user commit before its lease did.
 */
export function mayCommitOnItsOwn(statements: readonly string[]): boolean {
  return statements.some((s) =>
    /\b(?:COMMIT|END|ROLLBACK|ABORT)\b|\bPREPARE\s+TRANSACTION\b/i.test(s)
    || /\b(?:dblink\w*|pg_background_\w+)\s*\(/i.test(s));
}

/** What a pg error is, read from its SQLSTATE (or Node's error code for socket failures). */
export type PgFailure = 'retry' | 'connection' | 'statement';

export function classifyPgError(err: unknown): PgFailure {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : '';
  const message = err instanceof Error ? err.message : '';
  if (code === '40001' || code === '40P01') return 'retry';
  // XX000 is PostgreSQL's catch-all internal error; only this one message is a known,
  // harmless race between two catalog updates of the same row, worth retrying.
  if (code === 'XX000' && message === 'tuple concurrently updated') return 'retry';
  if (/^[0-9A-Z]{5}$/.test(code)) {
    // 08 connection, 28 authorization, 3D000 no such database, 53 resources, 57P shutdown.
    if (/^(?:08|28|53|57P)/.test(code) || code === '3D000') return 'connection';
    return 'statement';
  }
  // No SQLSTATE: a socket error (ECONNREFUSED, ...) or the driver's "Connection terminated".
  return 'connection';
}

/** The database's words: message plus detail, for the caller to scrub before use. */
export function pgErrorText(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown database error';
  const detail = (err as { detail?: unknown }).detail;
  const text = err.message === '' ? String((err as { code?: unknown }).code ?? 'database error') : err.message;
  return typeof detail === 'string' && detail !== '' ? `${text} (${detail})` : text;
}
