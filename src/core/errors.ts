/**
 * The one error type Coffer throws on purpose.
 *
 * Owns: the closed list of error codes. Each wire API (Vault, later AWS) maps codes to its own
 * status codes in one table. A CofferError's message is shown to the caller, so it must never
 * contain a secret, a token, key material or a database password: build messages only from
 * names and values the caller already sent or may see.
 */

export type ErrorCode =
  | 'bad_request'
  | 'permission_denied'
  | 'not_found'
  | 'unsupported_operation'
  | 'unsupported_path'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'sealed'
  | 'not_initialized'
  | 'already_initialized'
  | 'cas_mismatch'
  | 'cas_required'
  | 'conflict'
  | 'audit_failed'
  | 'upstream'
  | 'rate_limited'
  | 'internal';

export interface CofferErrorOptions {
  /** Data to return beside the error (Vault returns KV v2 metadata with a deleted version's 404). */
  data?: Record<string, unknown> | null;
  /** The underlying error, kept for server logs only; never rendered to a client. */
  cause?: unknown;
  /** See CofferError.outcomeUnknown. */
  outcomeUnknown?: boolean;
}

export class CofferError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown> | null | undefined;
  /**
   * The operation failed, yet may have taken effect (its reply was lost with the connection, or
   * the cleanup after a half-done change failed): whoever tracks its result must assume it did.
   * The lease manager keeps the lease of a secret whose creation failed this way and revokes it.
   */
  readonly outcomeUnknown: boolean;

  constructor(code: ErrorCode, message: string, options: CofferErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CofferError';
    this.code = code;
    this.data = options.data;
    this.outcomeUnknown = options.outcomeUnknown === true;
  }
}

export function isCofferError(err: unknown): err is CofferError {
  return err instanceof CofferError;
}

export const badRequest = (message: string): CofferError => new CofferError('bad_request', message);
export const permissionDenied = (): CofferError => new CofferError('permission_denied', 'permission denied');
export const notFound = (message = ''): CofferError => new CofferError('not_found', message);
